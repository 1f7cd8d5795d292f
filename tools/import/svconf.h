/* A supervisord configuration as supervisord reads it (Python's
 * ConfigParser rules as supervisor sets them up): sections, keys
 * lower-cased, values stripped, indented lines continuing a value,
 * comments after ';' or '#' at the start of a line or after a blank, and
 * the [include] files= of the main file, globbed and sorted, merged in.
 * Lines are read whole, of any length. Every key keeps FILE:LINE. */
#ifndef SBX_IMPORT_SVCONF_H
#define SBX_IMPORT_SVCONF_H

#include <stddef.h>

#include "notes.h"

typedef struct sv_key {
    char *name, *value;
    const char *file;   /* owned by the conf's file list */
    const char *here;   /* that file's directory, for %(here)s */
    int line;
} sv_key;

typedef struct sv_section {
    char *name;         /* "program:web", as written */
    const char *file;   /* the file that first named it */
    const char *here;   /* that file's directory */
    int line;
    sv_key *keys;
    size_t nkeys, cap;
} sv_section;

typedef struct sv_conf {
    sv_section *secs;
    size_t n, cap;
    char **files;       /* every file read, main first */
    char **dirs;        /* the directory of each, absolute */
    size_t nfiles;
} sv_conf;

/* Reads path and its includes. Problems go to notes (errors for what
 * supervisord itself would refuse). Returns 0, or -1 when path cannot be
 * read at all. */
int sv_read(sv_conf *c, const char *path, notes *n);
void sv_free(sv_conf *c);

const sv_section *sv_find(const sv_conf *c, const char *name);
const sv_key *sv_get(const sv_section *s, const char *key);

#endif
