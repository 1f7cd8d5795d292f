/* A growable NULL-terminated list of strings (argv, env, names, error
 * lines): the one list type of the supervisor. */
#ifndef SBX_STRV_H
#define SBX_STRV_H

#include <stddef.h>

typedef struct strv {
    char **v;       /* v[n] is NULL */
    size_t n, cap;
} strv;

/* Appends a copy of str; -ENOMEM. */
int strv_push(strv *s, const char *str);
void strv_free(strv *s);

#endif
