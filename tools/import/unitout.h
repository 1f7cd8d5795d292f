/* The units the importer writes: each one's text by section, the
 * comments at its top, and whether it can be used as written (a unit
 * that cannot, e.g. a line longer than sbxd's parser takes, is written as
 * NAME.ini.todo, which sbxd does not read, with the reason noted). */
#ifndef SBX_IMPORT_UNITOUT_H
#define SBX_IMPORT_UNITOUT_H

#include <stdbool.h>
#include <stdio.h>

#include "notes.h"

/* sbxd's unit parser (inih as Debian builds it) takes lines of at most
 * this many bytes and refuses longer ones. */
#define UNIT_LINE_MAX 198
#define UNIT_NAME_MAX 63

enum unit_part { PART_HEAD, PART_UNIT, PART_EXEC, PART_LIMITS, PART_RESTART, PART_LOG, NPARTS };

typedef struct unit_out {
    char *name;
    int priority;
    bool todo;
    const char *src_file;   /* the [program:x] it came from */
    int src_line;
    FILE *part[NPARTS];
    char *buf[NPARTS];
    size_t len[NPARTS];
} unit_out;

typedef struct units {
    unit_out *v;
    size_t n, cap;
} units;

unit_out *units_add(units *u, const char *name);
/* Drops the unit added last (one that could not be converted). */
void units_pop(units *u);
void units_free(units *u);
/* Closes the parts and joins them into one text (to free). */
char *unit_text(unit_out *u);
/* Adds "key = value"; false (the unit marked todo, why in *why) when the
 * line cannot be written as sbxd reads it. */
bool unit_put(unit_out *u, enum unit_part part, const char *key, const char *value,
              const char **why);
void unit_comment(unit_out *u, enum unit_part part, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
