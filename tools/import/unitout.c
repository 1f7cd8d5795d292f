#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "unitout.h"

static const char *const headers[NPARTS] = {NULL, "unit", "exec", "limits", "restart", "log"};

unit_out *units_add(units *u, const char *name)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 16;
        u->v = xrealloc(u->v, u->cap * sizeof *u->v);
    }
    unit_out *o = &u->v[u->n++];
    memset(o, 0, sizeof *o);
    o->name = xstrdup(name);
    for (int i = 0; i < NPARTS; i++)
        if (!(o->part[i] = open_memstream(&o->buf[i], &o->len[i]))) {
            fputs("sbx-import-supervisord: out of memory\n", stderr);
            exit(1);
        }
    return o;
}

static void unit_free(unit_out *o)
{
    for (int k = 0; k < NPARTS; k++) {
        if (o->part[k])
            fclose(o->part[k]);
        free(o->buf[k]);
    }
    free(o->name);
}

void units_pop(units *u)
{
    if (u->n)
        unit_free(&u->v[--u->n]);
}

void units_free(units *u)
{
    for (size_t i = 0; i < u->n; i++)
        unit_free(&u->v[i]);
    free(u->v);
    memset(u, 0, sizeof *u);
}

char *unit_text(unit_out *u)
{
    for (int i = 0; i < NPARTS; i++)
        if (u->part[i]) {
            fclose(u->part[i]);
            u->part[i] = NULL;
        }
    size_t total = 1;
    for (int i = 0; i < NPARTS; i++)
        total += u->len[i] + 32;
    char *text = xrealloc(NULL, total), *o = text;
    for (int i = 0; i < NPARTS; i++) {
        if (!u->len[i])
            continue;
        if (headers[i])
            o += sprintf(o, "%s[%s]\n", o == text ? "" : "\n", headers[i]);
        memcpy(o, u->buf[i], u->len[i]);
        o += u->len[i];
    }
    *o = '\0';
    return text;
}

/* What inih would change: a newline, a ';' after a blank (a comment),
 * blanks at the end (stripped). */
static const char *ini_problem(const char *value)
{
    if (strchr(value, '\n'))
        return "a newline, which a unit line cannot hold";
    for (const char *p = value + 1; *p; p++)
        if (*p == ';' && (p[-1] == ' ' || p[-1] == '\t'))
            return "' ;', which starts a comment in a unit";
    size_t n = strlen(value);
    if (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        return "blanks at its end, which a unit drops";
    return NULL;
}

bool unit_put(unit_out *u, enum unit_part part, const char *key, const char *value,
              const char **why)
{
    static char too_long[80];
    *why = ini_problem(value);
    size_t len = strlen(key) + 3 + strlen(value);
    if (!*why && len > UNIT_LINE_MAX) {
        snprintf(too_long, sizeof too_long, "%zu bytes as a unit line (sbxd takes %d)",
                 len, UNIT_LINE_MAX);
        *why = too_long;
    }
    if (*why)
        u->todo = true;
    fprintf(u->part[part], "%s = %s\n", key, value);
    return !*why;
}

void unit_comment(unit_out *u, enum unit_part part, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("; ", u->part[part]);
    vfprintf(u->part[part], fmt, ap);
    fputc('\n', u->part[part]);
    va_end(ap);
}
