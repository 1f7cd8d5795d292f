/* The string list: see strv.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

int strv_push(strv *s, const char *str)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str)))
        return -ENOMEM;
    s->v[++s->n] = NULL;
    return 0;
}

void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}
