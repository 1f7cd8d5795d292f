/* What the importer tells its user, one line each, in the form the rest
 * of sbx uses: "FILE:LINE: [section] key: what to do". Errors are what
 * supervisord itself would refuse; notes are settings not carried over. */
#ifndef SBX_IMPORT_NOTES_H
#define SBX_IMPORT_NOTES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct notes {
    char **lines;
    int *order;         /* file rank * 1e6 + line, to print them in file order */
    size_t n, cap;
    unsigned errors;
} notes;

void note(notes *n, const char *file, int line, const char *section, const char *key,
          const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void note_error(notes *n, const char *file, int line, const char *section, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void notes_free(notes *n);
/* Sorts the lines by file (in the order the files were read) and line. */
void notes_sort(notes *n, char *const *files, size_t nfiles);

/* Formats into a fresh string; exits on out-of-memory (a short-lived tool). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xrealloc(void *p, size_t size);

#endif
