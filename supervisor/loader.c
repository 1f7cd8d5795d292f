/* The units directory: see loader.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "portable.h"

/* ---- loading a directory of units ---- */

unit_def *def_push(def_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        unit_def *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    return &l->v[l->n++];
}

void def_list_free(def_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        unit_def_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static char *read_whole(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *why = strerror(errno);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (st.st_size > (1 << 20)) {
        close(fd);
        *why = "larger than 1 MiB";
        return NULL;
    }
    char *text = malloc((size_t)st.st_size + 1);
    ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
        *why = strerror(errno);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (memchr(text, '\0', (size_t)n)) {
        *why = "not a text file (NUL byte)";
        free(text);
        return NULL;
    }
    return text;
}

static bool is_unit_file(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".ini") == 0 && name[0] != '.';
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The unit files of dir, sorted (a fixed order for loading and errors). */
static int unit_files(const char *dir, strv *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_unit_file(de->d_name) && strv_push(out, de->d_name) < 0) {
            closedir(d);
            return -ENOMEM;
        }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

/* Parses one file into defs (one, or one per instance). */
static int load_file(const char *dir, const char *fname, def_list *defs, unit_errors *errs)
{
    char path[4096], name[UNIT_NAME_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, fname);
    snprintf(name, sizeof name, "%.*s", (int)(strlen(fname) - 4), fname);
    if (!unit_name_valid(name) || strchr(name, '@')) {
        char line[4200];
        snprintf(line, sizeof line, "%s: invalid unit name '%s' (letters, digits, _ . - only)",
                 path, name);
        strv_push(&errs->lines, line);
        return -EINVAL;
    }
    const char *why = NULL;
    char *text = read_whole(path, &why);
    if (!text) {
        char line[4200];
        snprintf(line, sizeof line, "%s: cannot read: %s", path, why);
        strv_push(&errs->lines, line);
        return -EINVAL;
    }
    unit_def probe;
    int r = unit_parse(path, name, text, 0, &probe, errs);
    unsigned instances = probe.instances;
    if (r == 0 && instances == 0) {
        unit_def *d = def_push(defs);
        if (d)
            *d = probe;
        else
            unit_def_free(&probe);
        free(text);
        return d ? 0 : -ENOMEM;
    }
    unit_def_free(&probe);
    for (unsigned i = 1; r == 0 && i <= instances; i++) {
        char iname[UNIT_NAME_MAX + 16];
        snprintf(iname, sizeof iname, "%s@%u", name, i);
        unit_def *d = def_push(defs);
        if (!d || unit_parse(path, iname, text, i, d, errs) < 0) {
            if (d)
                unit_def_free(d), defs->n--;
            r = -EINVAL;
        }
    }
    free(text);
    return r;
}

int def_cmp(const void *a, const void *b)
{
    return strcmp(((const unit_def *)a)->name, ((const unit_def *)b)->name);
}

/* A dependency name matches a unit, or every instance of a fleet. */
bool dep_matches(const char *dep, const char *name)
{
    size_t n = strlen(dep);
    return strcmp(dep, name) == 0 || (strncmp(dep, name, n) == 0 && name[n] == '@');
}

static bool has_unit(const def_list *defs, const bool *bad, const char *dep)
{
    for (size_t i = 0; i < defs->n; i++)
        if (!bad[i] && dep_matches(dep, defs->v[i].name))
            return true;
    return false;
}

static void dep_error(unit_errors *errs, const unit_def *d, const char *key, int line,
                      const char *what)
{
    char text[1024];
    snprintf(text, sizeof text, "%s:%d: [unit] %s: %s", d->file, line, key, what);
    strv_push(&errs->lines, text);
}

/* DFS over requires+after; marks units on a cycle. Colors: 0 new, 1 on
 * the stack, 2 done. */
static bool on_cycle(const def_list *defs, const bool *bad, int *color, size_t i)
{
    color[i] = 1;
    const unit_def *d = &defs->v[i];
    const strv *lists[2] = {&d->requires, &d->after};
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < lists[l]->n; k++)
            for (size_t j = 0; j < defs->n; j++) {
                if (bad[j] || !dep_matches(lists[l]->v[k], defs->v[j].name))
                    continue;
                if (color[j] == 1 || (color[j] == 0 && on_cycle(defs, bad, color, j)))
                    return true;
            }
    color[i] = 2;
    return false;
}

/* Refuses units with missing dependencies or on a cycle, and then those
 * that require a refused one, until nothing changes. */
static void check_deps(def_list *defs, bool *bad, unit_errors *errs)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < defs->n; i++) {
            const unit_def *d = &defs->v[i];
            char what[200];
            for (size_t k = 0; !bad[i] && k < d->requires.n; k++)
                if (!has_unit(defs, bad, d->requires.v[k])) {
                    snprintf(what, sizeof what, "no (working) unit named '%s'", d->requires.v[k]);
                    dep_error(errs, d, "requires", d->requires_line, what);
                    bad[i] = changed = true;
                }
            for (size_t k = 0; !bad[i] && k < d->after.n; k++)
                if (!has_unit(defs, bad, d->after.v[k])) {
                    snprintf(what, sizeof what, "no (working) unit named '%s'", d->after.v[k]);
                    dep_error(errs, d, "after", d->after_line, what);
                    bad[i] = changed = true;
                }
        }
        int *color = calloc(defs->n ? defs->n : 1, sizeof *color);
        for (size_t i = 0; color && i < defs->n; i++) {
            if (bad[i])
                continue;
            memset(color, 0, defs->n * sizeof *color);
            if (on_cycle(defs, bad, color, i)) {
                const unit_def *d = &defs->v[i];
                dep_error(errs, d, d->requires.n ? "requires" : "after",
                          d->requires.n ? d->requires_line : d->after_line,
                          "dependency cycle");
                bad[i] = changed = true;
            }
        }
        free(color);
    }
}

int load_dir(const char *dir, def_list *defs, unit_errors *errs)
{
    strv names = {0};
    int r = unit_files(dir, &names);
    if (r < 0) {
        char line[4200];
        snprintf(line, sizeof line, "%s: cannot read the units directory: %s", dir, strerror(-r));
        strv_push(&errs->lines, line);
        strv_free(&names);
        return 1;
    }
    int refused = 0;
    for (size_t i = 0; i < names.n; i++)
        if (load_file(dir, names.v[i], defs, errs) < 0)
            refused++;
    strv_free(&names);
    bool *bad = calloc(defs->n ? defs->n : 1, sizeof *bad);
    if (!bad)
        return refused + 1;
    check_deps(defs, bad, errs);
    size_t k = 0;
    for (size_t i = 0; i < defs->n; i++) {
        if (bad[i]) {
            unit_def_free(&defs->v[i]);
            refused++;
        } else {
            defs->v[k++] = defs->v[i];
        }
    }
    defs->n = k;
    free(bad);
    if (defs->n)
        qsort(defs->v, defs->n, sizeof *defs->v, def_cmp);
    return refused;
}

void print_errors(const unit_errors *errs, FILE *out)
{
    for (size_t i = 0; out && i < errs->lines.n; i++)
        fprintf(out, "%s\n", errs->lines.v[i]);
}

/* What --check says of valid units that are not contained (on stdout:
 * not an error, but in words). */
static void print_privileged(const def_list *defs)
{
    for (size_t i = 0; i < defs->n; i++) {
        sbx_isolation iso;
        unit_isolation(&defs->v[i], &iso);
        if (iso.privileged)
            printf("%s: [sandbox] privileged: can undo its own limits (it has none)\n",
                   defs->v[i].file);
    }
}

int loader_check_dir(const char *dir, FILE *errs)
{
    def_list defs = {0};
    unit_errors e = {0};
    int refused = load_dir(dir, &defs, &e);
    print_privileged(&defs);
    print_errors(&e, errs);
    unit_errors_free(&e);
    def_list_free(&defs);
    return refused;
}

