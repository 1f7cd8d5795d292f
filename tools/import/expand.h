/* supervisord's value syntax: Python %-format expansions (%(here)s,
 * %(program_name)s, %(process_num)02d, %(ENV_X)s, %%), the command line
 * split as shlex.split does it, and environment= KEY="v",KEY2=v2 pairs. */
#ifndef SBX_IMPORT_EXPAND_H
#define SBX_IMPORT_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strlist {
    char **v;
    size_t n;
} strlist;

void strlist_push(strlist *l, const char *s);
void strlist_free(strlist *l);

typedef struct expansion {
    const char *here;            /* always */
    const char *program_name;    /* in [program:x] */
    const char *group_name;
    bool per_process;            /* process_num and numprocs are known */
    long process_num, numprocs;
    const strlist *env_keys, *env_values;  /* the program's environment= */
} expansion;

/* Expands s; returns a fresh string, or NULL with *why (to free) set. */
char *expand(const char *s, const expansion *ex, char **why);

/* shlex.split(s): POSIX quoting, backslash escapes. Returns 0 or -1 with *why. */
int split_command(const char *s, strlist *argv, char **why);

/* supervisor's dict_of_key_value_pairs (a non-POSIX shlex over KEY=VALUE
 * separated by one token, quotes stripped). Returns 0 or -1 with *why. */
int parse_environment(const char *s, strlist *keys, strlist *values, char **why);

#endif
