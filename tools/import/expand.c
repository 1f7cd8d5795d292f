#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expand.h"
#include "notes.h"

void strlist_push(strlist *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 2) * sizeof *l->v);
    l->v[l->n++] = xstrdup(s);
    l->v[l->n] = NULL;
}

void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The value of one name: its text, and whether it is a number. */
static char *lookup(const char *name, const expansion *ex, bool *number)
{
    static char host[256];
    *number = false;
    if (strcmp(name, "here") == 0 && ex->here)
        return xstrdup(ex->here);
    if (strcmp(name, "program_name") == 0 && ex->program_name)
        return xstrdup(ex->program_name);
    if (strcmp(name, "group_name") == 0 && ex->group_name)
        return xstrdup(ex->group_name);
    if (strcmp(name, "host_node_name") == 0) {
        gethostname(host, sizeof host - 1);
        return xstrdup(host);
    }
    if (ex->per_process && (strcmp(name, "process_num") == 0 || strcmp(name, "numprocs") == 0)) {
        *number = true;
        return xasprintf("%ld", name[0] == 'p' ? ex->process_num : ex->numprocs);
    }
    if (strncmp(name, "ENV_", 4) != 0)
        return NULL;
    for (size_t i = 0; ex->env_keys && i < ex->env_keys->n; i++)
        if (strcmp(ex->env_keys->v[i], name + 4) == 0)
            return xstrdup(ex->env_values->v[i]);
    const char *v = getenv(name + 4);  /* as supervisord: its own environment, read now */
    return v ? xstrdup(v) : NULL;
}

/* One conversion after "%(name)": flags, width, then s, d, i or r. */
static char *convert(const char *value, bool number, const char **p, char **why)
{
    const char *s = *p;
    bool left = false, zero = false;
    for (; *s == '-' || *s == '0' || *s == ' ' || *s == '+' || *s == '#'; s++)
        left |= *s == '-', zero |= *s == '0';
    int width = 0;
    for (; isdigit((unsigned char)*s); s++)
        width = width * 10 + (*s - '0');
    char conv = *s;
    if (!conv || !strchr("sdir", conv)) {
        *why = xasprintf("unsupported conversion '%%...%c'", conv ? conv : ' ');
        return NULL;
    }
    if ((conv == 'd' || conv == 'i') && !number) {
        *why = xstrdup("%d needs a number");
        return NULL;
    }
    *p = s + 1;
    if (conv == 'r' && !number)
        return xasprintf("'%s'", value);
    if ((conv == 'd' || conv == 'i') && zero && !left)
        return xasprintf("%0*ld", width, strtol(value, NULL, 10));
    return xasprintf(left ? "%-*s" : "%*s", width, value);
}

static void append(char **out, size_t *len, const char *s, size_t n)
{
    *out = xrealloc(*out, *len + n + 1);
    memcpy(*out + *len, s, n);
    *len += n;
    (*out)[*len] = '\0';
}

char *expand(const char *s, const expansion *ex, char **why)
{
    char *out = xstrdup("");
    size_t len = 0;
    for (const char *p = s; *p;) {
        const char *pct = strchr(p, '%');
        if (!pct) {
            append(&out, &len, p, strlen(p));
            break;
        }
        append(&out, &len, p, (size_t)(pct - p));
        if (pct[1] == '%') {
            append(&out, &len, "%", 1);
            p = pct + 2;
            continue;
        }
        const char *close = pct[1] == '(' ? strchr(pct, ')') : NULL;
        if (!close) {
            *why = xasprintf("'%%' is not followed by (name) nor %%: supervisord refuses it (write %%%%)");
            return free(out), NULL;
        }
        char *name = xasprintf("%.*s", (int)(close - pct - 2), pct + 2);
        bool number;
        char *value = lookup(name, ex, &number), *piece = NULL;
        const char *after = close + 1;
        if (!value)
            *why = xasprintf("%%(%s) cannot be expanded here (supervisord refuses it)", name);
        else if ((piece = convert(value, number, &after, why)))
            append(&out, &len, piece, strlen(piece));
        free(name);
        free(value);
        if (!piece)
            return free(out), NULL;
        free(piece);
        p = after;
    }
    return out;
}

/* shlex.split: whitespace separates; '...' literal; "..." with \ escaping
 * only \ and "; outside quotes \ escapes any character. */
int split_command(const char *s, strlist *argv, char **why)
{
    char *word = xrealloc(NULL, strlen(s) + 1);
    const char *p = s;
    int r = 0;
    while (r == 0) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t n = 0;
        char quote = 0;
        for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
            if (quote == '\'' && *p == '\'')
                quote = 0;
            else if (quote == '"' && *p == '"')
                quote = 0;
            else if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                word[n++] = *++p;
            else if (!quote && (*p == '\'' || *p == '"'))
                quote = *p;
            else if (!quote && *p == '\\' && p[1])
                word[n++] = *++p;
            else
                word[n++] = *p;
        }
        word[n] = '\0';
        if (quote) {
            *why = xstrdup("no closing quotation (supervisord refuses it)");
            r = -1;
        } else {
            strlist_push(argv, word);
        }
    }
    free(word);
    if (r == 0 && argv->n == 0) {
        *why = xstrdup("empty command");
        r = -1;
    }
    return r;
}

/* The tokens of Python's shlex.shlex(s) (non-POSIX) with '/.+-():' added to
 * the word characters: words, quoted strings (quotes kept), '#' comments,
 * any other character alone. */
static void env_tokens(const char *s, strlist *tokens)
{
    const char *p = s;
    while (*p) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '#') {
            p += strcspn(p, "\n");
        } else if (isalnum((unsigned char)*p) || strchr("_/.+-():", *p)) {
            size_t n = 0;
            while (p[n] && (isalnum((unsigned char)p[n]) || strchr("_/.+-():", p[n])))
                n++;
            char *t = xasprintf("%.*s", (int)n, p);
            strlist_push(tokens, t);
            free(t);
            p += n;
        } else if (*p == '\'' || *p == '"') {
            const char *end = strchr(p + 1, *p);
            size_t n = end ? (size_t)(end - p) + 1 : strlen(p);
            char *t = xasprintf("%.*s", (int)n, p);
            strlist_push(tokens, t);
            free(t);
            p += n;
        } else {
            char t[2] = {*p++, '\0'};
            strlist_push(tokens, t);
        }
    }
}

static char *strip_quotes(const char *t)
{
    size_t a = strspn(t, "'\""), n = strlen(t);
    while (n > a && (t[n - 1] == '\'' || t[n - 1] == '"'))
        n--;
    return xasprintf("%.*s", (int)(n - a), t + a);
}

int parse_environment(const char *s, strlist *keys, strlist *values, char **why)
{
    strlist t = {0};
    env_tokens(s, &t);
    int r = 0;
    for (size_t i = 0; i < t.n; i += 4) {
        if (i + 2 >= t.n || strcmp(t.v[i + 1], "=") != 0) {
            *why = xstrdup("not KEY=VALUE pairs separated by commas (supervisord refuses it)");
            r = -1;
            break;
        }
        char *v = strip_quotes(t.v[i + 2]);
        size_t k = 0;
        while (k < keys->n && strcmp(keys->v[k], t.v[i]) != 0)
            k++;
        if (k < keys->n) {  /* a later pair replaces an earlier one */
            free(values->v[k]);
            values->v[k] = v;
            continue;
        }
        strlist_push(keys, t.v[i]);
        strlist_push(values, v);
        free(v);
    }
    strlist_free(&t);
    return r;
}
