/* supervisord's configuration reader: ConfigParser's line rules, with a
 * line reader of our own (getline: no length limit, no cut lines). */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expand.h"
#include "svconf.h"

struct reader {
    sv_conf *c;
    notes *n;
    const char *file, *here;
    int line;
    sv_section *sec;    /* the current section, NULL before the first */
    sv_key *last;       /* the key an indented line continues */
};

static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* ';' or '#' after a blank starts a comment (inline_comment_prefixes). */
static void cut_inline_comment(char *s)
{
    for (char *p = s + 1; *p; p++)
        if ((*p == ';' || *p == '#') && isspace((unsigned char)p[-1])) {
            *p = '\0';
            return;
        }
}

static sv_section *section_named(sv_conf *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->secs[i].name, name) == 0)
            return &c->secs[i];
    return NULL;
}

static void begin_section(struct reader *r, const char *name)
{
    sv_conf *c = r->c;
    r->last = NULL;
    if ((r->sec = section_named(c, name)))
        return;  /* a repeated section adds to the first, as supervisord's parser does */
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->secs = xrealloc(c->secs, c->cap * sizeof *c->secs);
    }
    r->sec = &c->secs[c->n++];
    memset(r->sec, 0, sizeof *r->sec);
    r->sec->name = xstrdup(name);
    r->sec->file = r->file;
    r->sec->here = r->here;
    r->sec->line = r->line;
}

static void set_key(struct reader *r, const char *name, const char *value)
{
    sv_section *s = r->sec;
    sv_key *k = (sv_key *)sv_get(s, name);
    if (!k) {
        if (s->nkeys == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 8;
            s->keys = xrealloc(s->keys, s->cap * sizeof *s->keys);
        }
        k = &s->keys[s->nkeys++];
        k->name = xstrdup(name);
    } else {
        free(k->value);  /* the last one wins */
    }
    k->value = xstrdup(value);
    k->file = r->file;
    k->here = r->here;
    k->line = r->line;
    r->last = k;
}

static void continue_value(struct reader *r, const char *more)
{
    char *v = xasprintf("%s\n%s", r->last->value, more);
    free(r->last->value);
    r->last->value = v;
}

static void key_line(struct reader *r, char *s)
{
    char *delim = strpbrk(s, "=:");
    if (!delim) {
        note_error(r->n, r->file, r->line, NULL, NULL,
                   "not a key = value line (supervisord refuses the file)");
        return;
    }
    *delim = '\0';
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    set_key(r, strip(s), strip(delim + 1));
}

static void one_line(struct reader *r, char *raw)
{
    raw[strcspn(raw, "\r\n")] = '\0';
    char *s = strip(raw);
    if (!*s) {
        r->last = NULL;
        return;
    }
    if (*s == ';' || *s == '#')
        return;
    bool indented = isspace((unsigned char)raw[0]);
    cut_inline_comment(s);
    s = strip(s);
    if (indented && r->last) {
        continue_value(r, s);
        return;
    }
    char *close = strrchr(s, ']');
    if (*s == '[' && close && close > s + 1) {
        *close = '\0';
        if (strcmp(s + 1, "include") == 0 && r->c->files[0] != r->file)
            note(r->n, r->file, r->line, "include", NULL,
                 "an [include] in an included file is ignored by supervisord: not followed");
        begin_section(r, s + 1);
        return;
    }
    if (!r->sec) {
        note_error(r->n, r->file, r->line, NULL, NULL,
                   "a key before any [section] (supervisord refuses the file)");
        return;
    }
    key_line(r, s);
}

/* os.path.abspath(os.path.dirname(path)), without normalising. */
static char *absolute_dir(const char *path)
{
    char *copy = xstrdup(path), *dir = dirname(copy), cwd[PATH_MAX], *abs;
    if (dir[0] == '/')
        abs = xstrdup(dir);
    else if (!getcwd(cwd, sizeof cwd))
        abs = xstrdup(dir);
    else if (strcmp(dir, ".") == 0)
        abs = xstrdup(cwd);
    else
        abs = xasprintf("%s/%s", cwd, strncmp(dir, "./", 2) == 0 ? dir + 2 : dir);
    free(copy);
    return abs;
}

static int read_file(sv_conf *c, const char *path, notes *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        note_error(n, path, 0, NULL, NULL, "cannot read: %s", strerror(errno));
        return -1;
    }
    c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof *c->files);
    c->dirs = xrealloc(c->dirs, (c->nfiles + 1) * sizeof *c->dirs);
    c->files[c->nfiles] = xstrdup(path);
    c->dirs[c->nfiles] = absolute_dir(path);
    struct reader r = {.c = c, .n = n, .file = c->files[c->nfiles],
                       .here = c->dirs[c->nfiles]};
    c->nfiles++;
    char *buf = NULL;
    size_t cap = 0;
    while (getline(&buf, &cap, f) != -1) {
        r.line++;
        one_line(&r, buf);
    }
    free(buf);
    fclose(f);
    return 0;
}

/* [include] files=: globs relative to the main file's directory, each
 * sorted; %(here)s, %(host_node_name)s and %(ENV_X)s expanded first. */
static void read_includes(sv_conf *c, notes *n, size_t main_sections)
{
    sv_section *inc = NULL;
    for (size_t i = 0; i < main_sections; i++)
        if (strcmp(c->secs[i].name, "include") == 0)
            inc = &c->secs[i];
    if (!inc)
        return;
    const sv_key *files = sv_get(inc, "files");
    if (!files) {
        note_error(n, inc->file, inc->line, "include", NULL,
                   "no files = setting (supervisord refuses the file)");
        return;
    }
    expansion ex = {.here = inc->here};
    char *why = NULL, *list = expand(files->value, &ex, &why);
    if (!list) {
        note_error(n, files->file, files->line, "include", "files", "%s", why);
        free(why);
        return;
    }
    /* Reading the included files moves the section array: keep copies. */
    const char *ffile = files->file;
    int fline = files->line;
    /* Globbed from the including file's directory as named (supervisord
     * makes it absolute; named as given, the notes stay readable). */
    char *copy = xstrdup(inc->file), *save = NULL, *here = xstrdup(dirname(copy));
    free(copy);
    for (char *pat = strtok_r(list, " \t\n", &save); pat; pat = strtok_r(NULL, " \t\n", &save)) {
        char *full = pat[0] == '/' ? xstrdup(pat) : xasprintf("%s/%s", here, pat);
        glob_t g;
        if (glob(full, 0, NULL, &g) != 0) {
            note(n, ffile, fline, "include", "files",
                 "no file matches '%s' (supervisord only warns)", full);
        } else {
            for (size_t k = 0; k < g.gl_pathc; k++)
                read_file(c, g.gl_pathv[k], n);
            globfree(&g);
        }
        free(full);
    }
    free(here);
    free(list);
}

int sv_read(sv_conf *c, const char *path, notes *n)
{
    if (read_file(c, path, n) < 0)
        return -1;
    size_t main_sections = c->n;
    read_includes(c, n, main_sections);
    return 0;
}

const sv_section *sv_find(const sv_conf *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->secs[i].name, name) == 0)
            return &c->secs[i];
    return NULL;
}

const sv_key *sv_get(const sv_section *s, const char *key)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].name, key) == 0)
            return &s->keys[i];
    return NULL;
}

void sv_free(sv_conf *c)
{
    for (size_t i = 0; i < c->n; i++) {
        sv_section *s = &c->secs[i];
        for (size_t k = 0; k < s->nkeys; k++) {
            free(s->keys[k].name);
            free(s->keys[k].value);
        }
        free(s->keys);
        free(s->name);
    }
    free(c->secs);
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i]);
        free(c->dirs[i]);
    }
    free(c->files);
    free(c->dirs);
    memset(c, 0, sizeof *c);
}
