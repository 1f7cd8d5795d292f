#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notes.h"

static void oom(void)
{
    fputs("sbx-import-supervisord: out of memory\n", stderr);
    exit(1);
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return s;
}

static void add(notes *n, const char *file, int line, const char *section, const char *key,
                const char *fmt, va_list ap)
{
    char *what, *where;
    if (vasprintf(&what, fmt, ap) < 0)
        oom();
    where = line > 0 ? xasprintf("%s:%d", file, line) : xstrdup(file);
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 16;
        n->lines = xrealloc(n->lines, n->cap * sizeof *n->lines);
        n->order = xrealloc(n->order, n->cap * sizeof *n->order);
    }
    n->order[n->n] = line;
    if (section && key)
        n->lines[n->n++] = xasprintf("%s: [%s] %s: %s", where, section, key, what);
    else if (section)
        n->lines[n->n++] = xasprintf("%s: [%s]: %s", where, section, what);
    else
        n->lines[n->n++] = xasprintf("%s: %s", where, what);
    free(where);
    free(what);
}

void note(notes *n, const char *file, int line, const char *section, const char *key,
          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(n, file, line, section, key, fmt, ap);
    va_end(ap);
}

void note_error(notes *n, const char *file, int line, const char *section, const char *key,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(n, file, line, section, key, fmt, ap);
    va_end(ap);
    n->errors++;
}

void notes_free(notes *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->lines[i]);
    free(n->lines);
    free(n->order);
    memset(n, 0, sizeof *n);
}

/* Insertion sort (stable; a few hundred lines at most) by file rank, then line. */
void notes_sort(notes *n, char *const *files, size_t nfiles)
{
    long *key = xrealloc(NULL, (n->n + 1) * sizeof *key);
    for (size_t i = 0; i < n->n; i++) {
        size_t rank = nfiles;
        for (size_t f = 0; f < nfiles; f++) {
            size_t len = strlen(files[f]);
            if (strncmp(n->lines[i], files[f], len) == 0 && n->lines[i][len] == ':')
                rank = f;
        }
        key[i] = (long)rank * 100000000L + n->order[i];
    }
    for (size_t i = 1; i < n->n; i++) {
        for (size_t j = i; j > 0 && key[j - 1] > key[j]; j--) {
            long k = key[j];
            key[j] = key[j - 1];
            key[j - 1] = k;
            char *l = n->lines[j];
            n->lines[j] = n->lines[j - 1];
            n->lines[j - 1] = l;
        }
    }
    free(key);
}
