/* The mapping of supervisord's program keys to unit keys, by concern:
 * the environment, [exec], restarts, stopping, output. The state of one
 * process being converted is a proc. */
#ifndef SBX_IMPORT_MAPPING_H
#define SBX_IMPORT_MAPPING_H

#include <stdbool.h>

#include "expand.h"
#include "svconf.h"
#include "unitout.h"

typedef struct proc {
    const sv_section *sec, *supervisord;
    notes *n;
    bool first;         /* the first process of the section: notes are given once */
    bool failed;        /* supervisord would refuse it: no unit */
    expansion ex;
    strlist env_keys, env_values;
    unit_out *u;
} proc;

/* key's value expanded for this process (to free), NULL when not set or
 * not expandable (then an error is noted and p->failed set). */
char *proc_value(proc *p, const char *key, const sv_key **where);
void proc_note(proc *p, const sv_key *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void proc_error(proc *p, const sv_key *k, const char *what);
void proc_put(proc *p, enum unit_part part, const char *key, const char *value, const sv_key *src);
void proc_reset(proc *p);

/* [supervisord] environment= then the program's, merged (the program's
 * win) and made available as %(ENV_X)s. False when supervisord would
 * refuse them. */
bool mapping_environment(proc *p);
void mapping_exec(proc *p);
void mapping_restart(proc *p);
void mapping_stop(proc *p);
void mapping_output(proc *p);
/* Notes, once per section, for the keys that have no sbx equivalent. */
void mapping_note_lost(proc *p);

#endif
