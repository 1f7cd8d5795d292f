/* supervisord program keys -> unit keys. What sbx does differently in
 * general (restarts, logs) is in sbx-import-supervisord(1); what a given
 * file loses is noted at its line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapping.h"

void proc_reset(proc *p)
{
    strlist_free(&p->env_keys);
    strlist_free(&p->env_values);
    p->ex.env_keys = p->ex.env_values = NULL;
    p->failed = false;
    p->u = NULL;
}

/* supervisor's boolean(): yes/true/on/1 and no/false/off/0. */
static bool boolean(proc *p, const char *key, bool dflt)
{
    const sv_key *k;
    char *v = proc_value(p, key, &k);
    bool b = dflt;
    if (!v)
        return dflt;
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        b = true;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        b = false;
    else
        proc_error(p, k, "not a boolean (supervisord refuses it)");
    free(v);
    return b;
}

static bool whole(const char *v, long min, long max, long *out)
{
    char *end;
    *out = strtol(v, &end, 10);
    return *v && !*end && *out >= min && *out <= max;
}

static void merge_env(proc *p, const char *text, const sv_key *k)
{
    strlist keys = {0}, values = {0};
    char *why = NULL;
    if (parse_environment(text, &keys, &values, &why) < 0) {
        proc_error(p, k, why);
        free(why);
    }
    for (size_t i = 0; i < keys.n; i++) {
        size_t j = 0;
        while (j < p->env_keys.n && strcmp(p->env_keys.v[j], keys.v[i]) != 0)
            j++;
        if (j < p->env_keys.n) {
            free(p->env_values.v[j]);
            p->env_values.v[j] = xstrdup(values.v[i]);
        } else {
            strlist_push(&p->env_keys, keys.v[i]);
            strlist_push(&p->env_values, values.v[i]);
        }
    }
    strlist_free(&keys);
    strlist_free(&values);
}

bool mapping_environment(proc *p)
{
    const sv_key *k = p->supervisord ? sv_get(p->supervisord, "environment") : NULL;
    if (k) {  /* expanded with %(here)s and our environment only */
        expansion ex = {.here = k->here};
        char *why = NULL, *v = expand(k->value, &ex, &why);
        if (!v) {
            proc_error(p, k, why);
            free(why);
            return false;
        }
        merge_env(p, v, k);
        free(v);
    }
    p->ex.env_keys = &p->env_keys;
    p->ex.env_values = &p->env_values;
    char *v = proc_value(p, "environment", &k);
    if (v)
        merge_env(p, v, k);
    free(v);
    return !p->failed;
}

/* One argument as sbx's command line reads it: bare when plain, else in
 * double quotes with \ before ", \ and ; (a ';' after a blank would start
 * a comment in the unit file). */
static char *quote_arg(const char *arg)
{
    bool plain = *arg != '\0';
    for (const char *c = arg; *c && plain; c++)
        plain = isalnum((unsigned char)*c) || strchr("_@%+=:,./-", *c);
    if (plain)
        return xstrdup(arg);
    char *q = xrealloc(NULL, 2 * strlen(arg) + 3), *o = q;
    *o++ = '"';
    for (const char *c = arg; *c; c++) {
        if (*c == '"' || *c == '\\' || *c == ';')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

static void map_command(proc *p)
{
    const sv_key *k;
    char *v = proc_value(p, "command", &k), *why = NULL;
    strlist argv = {0};
    if (v && split_command(v, &argv, &why) == 0) {
        char *line = xstrdup("");
        for (size_t i = 0; i < argv.n; i++) {
            char *q = quote_arg(argv.v[i]), *more = xasprintf("%s%s%s", line, i ? " " : "", q);
            free(q);
            free(line);
            line = more;
        }
        proc_put(p, PART_EXEC, "command", line, k);
        free(line);
    } else if (v) {
        proc_error(p, k, why);
        free(why);
    }
    strlist_free(&argv);
    free(v);
}

void mapping_exec(proc *p)
{
    map_command(p);
    const sv_key *k;
    char *v;
    if ((v = proc_value(p, "directory", &k)))
        proc_put(p, PART_EXEC, "cwd", v, k);
    free(v);
    if ((v = proc_value(p, "user", &k)))
        proc_put(p, PART_EXEC, "user", v, k);
    free(v);
    k = sv_get(p->sec, "environment");
    if (!k && p->supervisord)
        k = sv_get(p->supervisord, "environment");
    for (size_t i = 0; i < p->env_keys.n; i++) {
        char *kv = xasprintf("%s=%s", p->env_keys.v[i], p->env_values.v[i]);
        proc_put(p, PART_EXEC, "env", kv, k);
        free(kv);
    }
}

static void map_exitcodes(proc *p)
{
    const sv_key *k;
    char *v = proc_value(p, "exitcodes", &k), *save = NULL;
    if (!v)
        return;
    int count = 0;
    bool ok = true;
    for (char *w = strtok_r(v, ", \t", &save); w && ok; w = strtok_r(NULL, ", \t", &save)) {
        long code;
        ok = whole(w, 0, 255, &code);
        count++;
    }
    if (!ok || count == 0)
        proc_error(p, k, "not a list of exit codes 0..255 (supervisord refuses it)");
    else if (count > 16)
        proc_error(p, k, "more than 16 exit codes: sbx takes 16; list the ones that matter");
    free(v);
    if (ok && count && count <= 16 && (v = proc_value(p, "exitcodes", NULL)))
        proc_put(p, PART_RESTART, "success_exit_codes", v, k);
    free(v);
}

void mapping_restart(proc *p)
{
    if (!boolean(p, "autostart", true))
        proc_put(p, PART_UNIT, "autostart", "no", sv_get(p->sec, "autostart"));
    const sv_key *k;
    char *v = proc_value(p, "autorestart", &k);
    const char *policy = "on-failure";
    if (v && !strcasecmp(v, "unexpected"))
        policy = "on-failure";
    else if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1")))
        policy = "always";
    else if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0")))
        policy = "no";
    else if (v)
        proc_error(p, k, "expected true, false or unexpected (supervisord refuses it)");
    free(v);
    proc_put(p, PART_RESTART, "policy", policy, k);
    map_exitcodes(p);
    long retries;
    if ((v = proc_value(p, "startretries", &k))) {
        if (!whole(v, 0, 999, &retries)) {
            proc_error(p, k, "not a number 0..999");
        } else {
            char *burst = xasprintf("%ld", retries + 1);
            unit_comment(p->u, PART_RESTART, "startretries = %ld: the first start and %ld more", retries, retries);
            proc_put(p, PART_RESTART, "burst", burst, k);
            free(burst);
        }
    }
    free(v);
}

void mapping_stop(proc *p)
{
    const sv_key *k;
    char *v;
    long secs;
    if ((v = proc_value(p, "stopsignal", &k))) {
        for (char *c = v; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        proc_put(p, PART_LIMITS, "stop_signal", strncmp(v, "SIG", 3) == 0 ? v + 3 : v, k);
    }
    free(v);
    if ((v = proc_value(p, "stopwaitsecs", &k))) {
        if (!whole(v, 0, 1000000, &secs)) {
            proc_error(p, k, "not a whole number of seconds (supervisord refuses it)");
        } else {
            char *d = secs ? xasprintf("%lds", secs) : xstrdup("0");
            proc_put(p, PART_LIMITS, "stop_timeout", d, k);
            free(d);
        }
    }
    free(v);
}
