/* Units from INI text, with inih. A reader of our own feeds inih line by
 * line so every message names FILE:LINE, and refuses a line longer than
 * inih's buffer instead of letting it be cut. Keys are described by one
 * table; the handler looks the key up and parses the value by its type. */
#include <errno.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unit.h"

void unit_errors_free(unit_errors *e)
{
    strv_free(&e->lines);
}

const char *unhealthy_action_name(unhealthy_action a)
{
    static const char *const names[] = {"restart", "stop", "report"};
    return (unsigned)a < 3 ? names[a] : "?";
}

const char *restart_policy_name(restart_policy p)
{
    static const char *const names[] = {"no", "on-failure", "on-abnormal", "always"};
    return (unsigned)p < 4 ? names[p] : "?";
}

/* [A-Za-z0-9_.-]+, optionally followed by @N for an instance. */
bool unit_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= UNIT_NAME_MAX || name[0] == '.' || name[0] == '-' || name[0] == '@')
        return false;
    const char *at = strchr(name, '@');
    for (const char *p = name; *p && p != at; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
            return false;
    if (!at)
        return true;
    if (!at[1] || at[1] == '0')
        return false;
    for (const char *p = at + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

void unit_def_init(unit_def *u, const char *name)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->autostart = true;
    sbx_limits_init(&u->limits);
    u->out[0].kind = u->out[1].kind = OUT_LOG;
    u->stop_timeout_ms = 10000;
    u->start_timeout_ms = 0;
    u->stop_signal = SIGTERM;
    u->policy = RESTART_ON_FAILURE;
    u->success_codes[0] = 0;
    u->nsuccess = 1;
    u->delay_ms = 100;
    u->delay_max_ms = 30000;
    u->reset_after_ms = 60000;
    u->burst = 5;
    u->interval_ms = 10000;
    u->restart_on_oom = true;
    u->log_max_size = 10u << 20;
    u->log_keep = 3;
    u->no_new_privs = true;
    u->ready.timeout_ms = 30000;
    u->health.interval_ms = 30000;
    u->health.timeout_ms = 5000;
    u->health.retries = 3;
    /* Contained: sbx's init as PID 1 of a PID namespace, so the program
     * sees, signals and ptraces nothing of the host's (not sbxd either);
     * sbxd shows the program's own pid. A privileged unit has none unless
     * it asks (validate_privileged). Windows has no PID namespaces: the
     * job object is the whole box there. */
#ifdef _WIN32
    u->pid_ns = SBX_PID_NS_NONE;
#else
    u->pid_ns = SBX_PID_NS_INIT;
#endif
}

void unit_isolation(const unit_def *u, sbx_isolation *iso)
{
    memset(iso, 0, sizeof *iso);
    iso->readonly = u->readonly.v;
    iso->allow = u->allow.v;
    iso->no_net = u->no_net;
    iso->private_tmp = u->private_tmp;
    iso->pid_ns = u->pid_ns;
    iso->no_new_privs = u->no_new_privs;
    iso->hostname = u->hostname;
    iso->privileged = u->privileged;
    iso->cap_add = u->cap_add;
    if (u->seccomp) {
        iso->seccomp = strcmp(u->seccomp, "default") == 0 ? SBX_SECCOMP_DEFAULT : SBX_SECCOMP_FILE;
        iso->seccomp_file = u->seccomp;
    }
}

void unit_def_free(unit_def *u)
{
    free(u->file);
    free(u->source);
    free(u->description);
    strv_free(&u->requires);
    strv_free(&u->after);
    strv_free(&u->argv);
    free(u->cwd);
    strv_free(&u->env);
    free(u->user);
    free(u->group);
    free(u->stdin_path);
    free(u->out[0].path);
    free(u->out[1].path);
    strv_free(&u->readonly);
    strv_free(&u->allow);
    free(u->hostname);
    free(u->seccomp);
    free(u->ready.path);
    strv_free(&u->ready.argv);
    strv_free(&u->health.argv);
    memset(u, 0, sizeof *u);
}

int unit_split_command(const char *line, strv *argv, const char **why)
{
    char *word = malloc(strlen(line) + 1);
    if (!word)
        return -ENOMEM;
    const char *p = line;
    int r = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
            if (quote && *p == quote)
                quote = 0;
            else if (!quote && (*p == '\'' || *p == '"'))
                quote = *p;
            else if (*p == '\\' && quote != '\'' && p[1])
                word[n++] = *++p;
            else
                word[n++] = *p;
        }
        if (quote) {
            *why = "unterminated quote";
            r = -EINVAL;
            break;
        }
        word[n] = '\0';
        if ((r = strv_push(argv, word)) < 0)
            break;
    }
    free(word);
    if (r == 0 && argv->n == 0) {
        *why = "empty command";
        r = -EINVAL;
    }
    return r;
}

/* ---- the key table ---- */

typedef enum key_type {
    K_TEXT, K_NAMES, K_ENV, K_BOOL, K_SIZE, K_DURATION, K_COUNT,
    K_COMMAND, K_INPUT, K_OUTPUT, K_SIGNAL, K_POLICY, K_CODES, K_ONOOM,
    K_PATHS, K_NETWORK, K_PIDNS, K_SECCOMP, K_CAPS, K_READY, K_UNHEALTHY,
} key_type;

typedef struct key {
    const char *section, *name;
    key_type type;
    size_t offset, size;    /* the field of unit_def: counts are stored by size */
    bool repeatable;
    uint64_t min, max;
} key;

#define AT(field) offsetof(unit_def, field), sizeof(((unit_def *)0)->field)
static const key keys[] = {
    {"unit", "description", K_TEXT, AT(description), false, 0, 0},
    {"unit", "requires", K_NAMES, AT(requires), true, 0, 0},
    {"unit", "after", K_NAMES, AT(after), true, 0, 0},
    {"unit", "instances", K_COUNT, AT(instances), false, 1, 100000},
    {"unit", "autostart", K_BOOL, AT(autostart), false, 0, 0},
    {"unit", "critical", K_BOOL, AT(critical), false, 0, 0},
    {"exec", "command", K_COMMAND, AT(argv), false, 0, 0},
    {"exec", "cwd", K_TEXT, AT(cwd), false, 0, 0},
    {"exec", "env", K_ENV, AT(env), true, 0, 0},
    {"exec", "clear_env", K_BOOL, AT(clear_env), false, 0, 0},
    {"exec", "user", K_TEXT, AT(user), false, 0, 0},
    {"exec", "group", K_TEXT, AT(group), false, 0, 0},
    {"exec", "stdin", K_INPUT, AT(stdin_path), false, 0, 0},
    {"exec", "stdout", K_OUTPUT, AT(out[0]), false, 0, 0},
    {"exec", "stderr", K_OUTPUT, AT(out[1]), false, 0, 0},
    {"exec", "ready", K_READY, AT(ready), false, 0, 0},
    {"exec", "ready_timeout", K_DURATION, AT(ready.timeout_ms), false, 0, 0},
    {"exec", "watchdog", K_DURATION, AT(ready.watchdog_ms), false, 0, 0},
    {"health", "command", K_COMMAND, AT(health.argv), false, 0, 0},
    {"health", "interval", K_DURATION, AT(health.interval_ms), false, 0, 0},
    {"health", "timeout", K_DURATION, AT(health.timeout_ms), false, 0, 0},
    {"health", "retries", K_COUNT, AT(health.retries), false, 1, 1000},
    {"health", "start_period", K_DURATION, AT(health.start_period_ms), false, 0, 0},
    {"health", "on_unhealthy", K_UNHEALTHY, AT(health.on_unhealthy), false, 0, 0},
    {"limits", "runtime_max", K_DURATION, AT(runtime_max_ms), false, 0, 0},
    {"limits", "start_timeout", K_DURATION, AT(start_timeout_ms), false, 0, 0},
    {"limits", "stop_timeout", K_DURATION, AT(stop_timeout_ms), false, 0, 0},
    {"limits", "stop_signal", K_SIGNAL, AT(stop_signal), false, 0, 0},
    {"restart", "policy", K_POLICY, AT(policy), false, 0, 0},
    {"restart", "success_exit_codes", K_CODES, AT(success_codes), false, 0, 0},
    {"restart", "delay", K_DURATION, AT(delay_ms), false, 0, 0},
    {"restart", "delay_max", K_DURATION, AT(delay_max_ms), false, 0, 0},
    {"restart", "reset_after", K_DURATION, AT(reset_after_ms), false, 0, 0},
    {"restart", "burst", K_COUNT, AT(burst), false, 1, 1000},
    {"restart", "interval", K_DURATION, AT(interval_ms), false, 0, 0},
    {"restart", "on_oom", K_ONOOM, AT(restart_on_oom), false, 0, 0},
    {"log", "max_size", K_SIZE, AT(log_max_size), false, 0, 0},
    {"log", "keep", K_COUNT, AT(log_keep), false, 1, 100},
    {"sandbox", "readonly", K_PATHS, AT(readonly), true, 0, 0},
    {"sandbox", "allow", K_PATHS, AT(allow), true, 0, 0},
    {"sandbox", "network", K_NETWORK, AT(no_net), false, 0, 0},
    {"sandbox", "private_tmp", K_BOOL, AT(private_tmp), false, 0, 0},
    {"sandbox", "pid_namespace", K_PIDNS, AT(pid_ns), false, 0, 0},
    {"sandbox", "user", K_TEXT, AT(user), false, 0, 0},
    {"sandbox", "group", K_TEXT, AT(group), false, 0, 0},
    {"sandbox", "no_new_privileges", K_BOOL, AT(no_new_privs), false, 0, 0},
    {"sandbox", "seccomp", K_SECCOMP, AT(seccomp), false, 0, 0},
    {"sandbox", "hostname", K_TEXT, AT(hostname), false, 0, 0},
    {"sandbox", "privileged", K_BOOL, AT(privileged), false, 0, 0},
    {"sandbox", "capabilities", K_CAPS, AT(cap_add), false, 0, 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

struct parse_ctx {
    const char *file;
    unit_def *u;
    unit_errors *errs;
    const char *text, *pos;
    int line;
    /* by key: the table's rows, then libsbx's limits ([limits] too) */
    bool seen[NKEYS + SBX_LIMITS_MAX];
    int key_line[NKEYS + SBX_LIMITS_MAX];
    bool too_long;
    bool section_known;
    const char *section;    /* of the key being read */
};

static void report(struct parse_ctx *c, const char *section, const char *name,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct parse_ctx *c, const char *section, const char *name,
                   const char *fmt, ...)
{
    char what[400], line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char where[300];
    if (c->line > 0)
        snprintf(where, sizeof where, "%s:%d", c->file, c->line);
    else
        snprintf(where, sizeof where, "%s", c->file);
    if (name)
        snprintf(line, sizeof line, "%s: [%s] %s: %s", where, section, name, what);
    else
        snprintf(line, sizeof line, "%s: %s", where, what);
    strv_push(&c->errs->lines, line);
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

static int set_names(strv *list, const char *value, const char **why)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int r = 0;
    for (char *w = strtok_r(copy, " ,\t", &save); w && r == 0; w = strtok_r(NULL, " ,\t", &save)) {
        if (!unit_name_valid(w)) {
            *why = "not a valid unit name";
            r = -EINVAL;
        } else {
            r = strv_push(list, w);
        }
    }
    free(copy);
    return r;
}

static int set_output(unit_output *o, const char *v, const char **why)
{
    free(o->path);
    o->path = NULL;
    if (strcmp(v, "log") == 0)
        o->kind = OUT_LOG;
    else if (strcmp(v, "null") == 0)
        o->kind = OUT_NULL;
    else if (strcmp(v, "inherit") == 0)
        o->kind = OUT_INHERIT;
    else if (strncmp(v, "file:", 5) == 0 && v[5] == '/') {
        o->kind = OUT_FILE;
        o->path = strdup(v + 5);
    } else {
        *why = "expected log, null, inherit or file:/ABSOLUTE/PATH";
        return -EINVAL;
    }
    return 0;
}

static int set_codes(unit_def *u, const char *value, const char **why)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return -ENOMEM;
    u->nsuccess = 0;
    int r = 0;
    for (char *w = strtok_r(copy, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
        char *end;
        long c = strtol(w, &end, 10);
        if (*end || c < 0 || c > 255) {
            *why = "expected exit codes 0..255";
            r = -EINVAL;
            break;
        }
        if (u->nsuccess == sizeof u->success_codes / sizeof u->success_codes[0]) {
            *why = "at most 16 codes";
            r = -EINVAL;
            break;
        }
        u->success_codes[u->nsuccess++] = (int)c;
    }
    free(copy);
    if (r == 0 && u->nsuccess == 0) {
        *why = "expected at least one exit code";
        r = -EINVAL;
    }
    return r;
}

/* The helpers of set_value, which names every type; each switches on
 * its own few (as int: the others are not theirs). */

/* Text, lists and numbers. */
static int set_plain(const key *k, void *field, const char *v, const char **why, sbx_error *e)
{
    uint64_t n;
    int r;
    switch ((int)k->type) {
    case K_TEXT:
        free(*(char **)field);
        return (*(char **)field = strdup(v)) ? 0 : -ENOMEM;
    case K_NAMES: return set_names(field, v, why);
    case K_ENV:
        if (!strchr(v, '=') || v[0] == '=')
            return *why = "expected NAME=VALUE", -EINVAL;
        return strv_push(field, v);
    case K_PATHS:
        if (v[0] != '/')
            return *why = "expected an absolute path", -EINVAL;
        return strv_push(field, v);
    case K_SIZE: return sbx_parse_size(v, field, e);
    case K_DURATION:  /* "0": none, or at once */
        if (strcmp(v, "0") == 0)
            return *(uint64_t *)field = 0, 0;
        return sbx_parse_duration(v, field, e);
    case K_COUNT:
        if ((r = sbx_parse_count(v, k->min, k->max, &n, e)) < 0)
            return r;
        if (k->size == sizeof(uint32_t))
            *(uint32_t *)field = (uint32_t)n;
        else
            *(uint64_t *)field = n;
        return 0;
    default: return -EINVAL;
    }
}

/* Yes/no and the keys that take one of a few words. */
static int set_choice(const key *k, void *field, const char *v, const char **why)
{
    bool b;
    switch ((int)k->type) {
    case K_BOOL:
    case K_NETWORK:  /* network = no: a namespace without it */
        if (!parse_bool(v, &b))
            return *why = "expected yes or no", -EINVAL;
        *(bool *)field = k->type == K_BOOL ? b : !b;
        return 0;
    case K_POLICY:
        for (int p = RESTART_NO; p <= RESTART_ALWAYS; p++)
            if (strcmp(v, restart_policy_name((restart_policy)p)) == 0)
                return *(restart_policy *)field = (restart_policy)p, 0;
        return *why = "expected no, on-failure, on-abnormal or always", -EINVAL;
    case K_ONOOM:
        if (strcmp(v, "restart") == 0 || strcmp(v, "stop") == 0)
            return *(bool *)field = v[0] == 'r', 0;
        return *why = "expected restart or stop", -EINVAL;
    case K_UNHEALTHY:
        for (int a = UNHEALTHY_RESTART; a <= UNHEALTHY_REPORT; a++)
            if (strcmp(v, unhealthy_action_name((unhealthy_action)a)) == 0)
                return *(unhealthy_action *)field = (unhealthy_action)a, 0;
        return *why = "expected restart, stop or report", -EINVAL;
    case K_PIDNS:  /* yes: the program is PID 1; init: sbx's init is */
        if (strcmp(v, "init") == 0)
            return *(sbx_pid_ns *)field = SBX_PID_NS_INIT, 0;
        if (!parse_bool(v, &b))
            return *why = "expected yes, no or init", -EINVAL;
        *(sbx_pid_ns *)field = b ? SBX_PID_NS_PROGRAM : SBX_PID_NS_NONE;
        return 0;
    default: return -EINVAL;
    }
}

/* An optional path (NULL for "null"/"none"), as file:/PATH or a profile. */
static int set_optional_path(const key *k, void *field, const char *v, const char **why)
{
    char **path = field;
    free(*path);
    *path = NULL;
    if (k->type == K_INPUT) {
        if (strcmp(v, "null") == 0)
            return 0;
        if (strncmp(v, "file:", 5) != 0 || v[5] != '/')
            return *why = "expected null or file:/ABSOLUTE/PATH", -EINVAL;
        return (*path = strdup(v + 5)) ? 0 : -ENOMEM;
    }
    if (strcmp(v, "none") == 0)  /* K_SECCOMP */
        return 0;
    if (strcmp(v, "default") != 0 && v[0] != '/')
        return *why = "expected default, none or an absolute profile path", -EINVAL;
    return (*path = strdup(v)) ? 0 : -ENOMEM;
}

/* Parses one value into the field the key describes. Returns 0, or an
 * error with *why set (or an sbx_error message in e). */
static int set_value(const key *k, unit_def *u, const char *v, const char **why, sbx_error *e)
{
    void *field = (char *)u + k->offset;
    int r;
    switch (k->type) {
    case K_COMMAND:
        strv_free(field);
        return unit_split_command(v, field, why);
    case K_OUTPUT: return set_output(field, v, why);
    case K_CODES: return set_codes(u, v, why);
    case K_SIGNAL:
        if ((r = sbx_parse_signal(v)) < 0)
            return *why = "not a signal name or number", -EINVAL;
        *(int *)field = r;
        return 0;
    case K_INPUT:
    case K_SECCOMP: return set_optional_path(k, field, v, why);
    case K_CAPS: return sbx_parse_capabilities(v, field, e);
    case K_READY: return unit_parse_ready(v, field, why);
    case K_TEXT: case K_NAMES: case K_ENV: case K_PATHS: case K_SIZE: case K_DURATION:
    case K_COUNT: return set_plain(k, field, v, why, e);
    case K_BOOL: case K_NETWORK: case K_POLICY: case K_ONOOM: case K_PIDNS:
    case K_UNHEALTHY:
        return set_choice(k, field, v, why);
    }
    return -EINVAL;
}

static bool known_section(const char *s)
{
    static const char *const sections[] = {"unit", "exec", "limits", "restart", "log",
                                           "sandbox", "health"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(s, sections[i]) == 0)
            return true;
    return false;
}

/* Marks key number i (see parse_ctx.seen) as given on this line; false
 * when it was given before and may not be repeated. */
static bool first_time(struct parse_ctx *c, size_t i, bool repeatable)
{
    if (c->seen[i] && !repeatable)
        return false;
    c->seen[i] = true;
    c->key_line[i] = c->line;
    return true;
}

/* [limits] keys of libsbx's table; false when name is none of them. */
static bool on_limit(struct parse_ctx *c, const char *name, const char *value)
{
    const sbx_limit_info *k = strcmp(c->section, "limits") == 0 ? sbx_limit_find(name) : NULL;
    size_t i = 0;
    if (!k)
        return false;
    while (sbx_limit_at(i) != k)
        i++;
    sbx_error e = {0};
    if (!first_time(c, NKEYS + i, false))
        report(c, "limits", name, "given twice (it is not repeatable)");
    else if (sbx_limit_parse(k, &c->u->limits, value, &e) < 0)
        report(c, "limits", name, "%s", e.msg);
    return true;
}

static void on_unit_key(struct parse_ctx *c, size_t i, const char *value)
{
    const key *k = &keys[i];
    if (!first_time(c, i, k->repeatable)) {
        report(c, k->section, k->name, "given twice (it is not repeatable)");
        return;
    }
    if (k->offset == offsetof(unit_def, requires))
        c->u->requires_line = c->line;
    if (k->offset == offsetof(unit_def, after))
        c->u->after_line = c->line;
    const char *why = NULL;
    sbx_error e = {0};
    int r = set_value(k, c->u, value, &why, &e);
    if (r < 0)
        report(c, k->section, k->name, "%s", why ? why : e.code ? e.msg : strerror(-r));
}

static int on_key(void *data, const char *section, const char *name, const char *value)
{
    struct parse_ctx *c = data;
    if (!name)
        return 1;
    if (!*section) {
        report(c, "", name, "key outside of any section");
        return 1;
    }
    if (!c->section_known)
        return 1;  /* reported once, at the section header */
    c->section = section;
    if (on_limit(c, name, value))
        return 1;
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
            on_unit_key(c, i, value);
            return 1;
        }
    }
    report(c, section, name, "unknown key");
    return 1;
}

/* Checks a line before inih sees it: section headers (known or not, so an
 * unknown one is reported at its line even when empty), and lines that are
 * neither a header, a key, a comment nor blank (so every syntax error is
 * reported, not just inih's first). Returns false to hide the line. */
static bool check_line(struct parse_ctx *c, const char *s)
{
    if (*s == '\0' || *s == ';' || *s == '#')
        return true;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end) {
            report(c, "", NULL, "syntax error: section header without ']'");
            return false;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - s - 1), s + 1);
        c->section_known = known_section(name);
        if (!c->section_known)
            report(c, "", NULL, "unknown section [%s]", name);
        return true;
    }
    if (!strchr(s, '=') && !strchr(s, ':')) {
        report(c, "", NULL, "syntax error (expected [section] or key = value)");
        return false;
    }
    return true;
}

/* inih's reader: one line per call, counted; leading blanks dropped (inih
 * would take an indented line as the continuation of the previous value);
 * a line longer than inih's buffer is refused (inih would silently cut it). */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_ctx *c = stream;
    if (!*c->pos)
        return NULL;
    size_t len = strcspn(c->pos, "\n");
    const char *line = c->pos;
    c->pos += len + (c->pos[len] == '\n');
    c->line++;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len && line[len - 1] == '\r')
        len--;
    if (len + 2 > (size_t)num) {
        report(c, "", NULL, "line longer than %d bytes", num - 2);
        c->too_long = true;
        return NULL;
    }
    memcpy(str, line, len);
    str[len] = '\0';
    if (!check_line(c, str))
        str[0] = '\0';  /* reported here: inih sees a blank line */
    size_t n = strlen(str);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static char *expand_instance(const char *text, unsigned instance)
{
    char num[16];
    int nlen = snprintf(num, sizeof num, "%u", instance);
    size_t count = 0;
    for (const char *p = text; (p = strstr(p, "%i")); p += 2)
        count++;
    char *out = malloc(strlen(text) + count * (size_t)nlen + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        if (p[0] == '%' && p[1] == 'i') {
            memcpy(o, num, (size_t)nlen);
            o += nlen;
            p += 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int line_of(const struct parse_ctx *c, const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return c->key_line[i];
    return 0;
}

/* Privileged (or a capability given back that undoes the sandbox): no
 * limit it could undo (a unit has no best effort: a limit that cannot hold
 * is an error). */
static void validate_privileged(struct parse_ctx *c)
{
    unit_def *u = c->u;
    if (u->privileged && !line_of(c, "sandbox", "pid_namespace"))
        u->pid_ns = SBX_PID_NS_NONE;  /* the opt-out keeps the host's view */
    const sbx_limits *l = &u->limits;
    sbx_isolation iso;
    unit_isolation(u, &iso);
    const char *why = l->memory || l->cpu_percent || l->cpu_weight || l->pids
                          ? sbx_isolation_undoes_limits(&iso, false) : NULL;
    if (!why && (l->nofile || l->core >= 0))
        why = sbx_isolation_undoes_limits(&iso, true);
    if (!why)
        return;
    bool caps = !u->privileged;
    c->line = line_of(c, "sandbox", caps ? "capabilities" : "privileged");
    report(c, "sandbox", caps ? "capabilities" : "privileged",
           "the unit's limits would not hold (%s): drop the limits or this key", why);
}

/* Readiness and health keys that only make sense together. */
static void validate_ready(struct parse_ctx *c)
{
    unit_def *u = c->u;
    if (u->ready.watchdog_ms && u->ready.kind != READY_NOTIFY) {
        c->line = line_of(c, "exec", "watchdog");
        report(c, "exec", "watchdog", "needs ready = notify (WATCHDOG=1 comes on its socket)");
    }
#ifdef _WIN32  /* no datagram sockets, no descriptors passed by number */
    if (u->ready.kind == READY_NOTIFY || u->ready.kind == READY_FD) {
        c->line = line_of(c, "exec", "ready");
        report(c, "exec", "ready", "%s is not supported on Windows (use exec, port:, file: or "
               "command:)", u->ready.kind == READY_NOTIFY ? "notify" : "fd:N");
    }
#endif
    if (u->ready.kind == READY_PORT && u->no_net) {
        c->line = line_of(c, "exec", "ready");
        report(c, "exec", "ready", "port: cannot be reached in a unit with network = no");
    }
    if (u->health.argv.n && (u->health.interval_ms == 0 || u->health.timeout_ms == 0)) {
        bool iv = u->health.interval_ms == 0;
        c->line = line_of(c, "health", iv ? "interval" : "timeout");
        report(c, "health", iv ? "interval" : "timeout", "must be more than 0");
    }
}

static void validate(struct parse_ctx *c)
{
    validate_privileged(c);
    validate_ready(c);
    unit_def *u = c->u;
    if (u->argv.n == 0) {
        c->line = 0;
        report(c, "exec", "command", "missing (every unit needs a command)");
    }
    if (u->delay_max_ms < u->delay_ms) {
        int max_line = line_of(c, "restart", "delay_max");
        c->line = max_line ? max_line : line_of(c, "restart", "delay");
        if (max_line)
            report(c, "restart", "delay_max", "smaller than delay");
        else
            report(c, "restart", "delay", "larger than delay_max");
    }
}

int unit_parse(const char *file, const char *name, const char *text,
               unsigned instance, unit_def *u, unit_errors *errs)
{
    unit_def_init(u, name);
    size_t before = errs->lines.n;
    char *expanded = instance ? expand_instance(text, instance) : strdup(text);
    if (!expanded || !(u->file = strdup(file)))
        return free(expanded), -ENOMEM;
    u->source = expanded;
    struct parse_ctx c = {.file = file, .u = u, .errs = errs, .text = expanded, .pos = expanded};
    int r = ini_parse_stream(read_line, &c, on_key, &c);
    if (r > 0 && !c.too_long) {
        c.line = r;
        report(&c, "", NULL, "syntax error (expected [section] or key = value)");
    }
    if (!c.too_long)
        validate(&c);
    return errs->lines.n > before ? -EINVAL : 0;
}

/* The decimal number that is all of s, within [min, max]; else -1. */
static long number_in(const char *s, long min, long max)
{
    char *end;
    long n = strtol(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && n >= min && n <= max ? n : -1;
}

/* exec, notify, fd:N, port:N, file:/PATH, command:CMD */
int unit_parse_ready(const char *v, unit_ready *r, const char **why)
{
    free(r->path);
    r->path = NULL;
    strv_free(&r->argv);
    r->fd = r->port = 0;
    if (strcmp(v, "exec") == 0)
        return r->kind = READY_EXEC, 0;
    if (strcmp(v, "notify") == 0)
        return r->kind = READY_NOTIFY, 0;
    if (strncmp(v, "fd:", 3) == 0) {
        if ((r->fd = (int)number_in(v + 3, 3, 1023)) < 0)
            return *why = "fd:N needs a descriptor number from 3 to 1023", -EINVAL;
        return r->kind = READY_FD, 0;
    }
    if (strncmp(v, "port:", 5) == 0) {
        if ((r->port = (int)number_in(v + 5, 1, 65535)) < 0)
            return *why = "port:N needs a TCP port from 1 to 65535", -EINVAL;
        return r->kind = READY_PORT, 0;
    }
    if (strncmp(v, "file:", 5) == 0) {
        if (v[5] != '/')
            return *why = "file: needs an absolute path", -EINVAL;
        r->kind = READY_FILE;
        return (r->path = strdup(v + 5)) ? 0 : -ENOMEM;
    }
    if (strncmp(v, "command:", 8) == 0) {
        r->kind = READY_COMMAND;
        return unit_split_command(v + 8, &r->argv, why);
    }
    return *why = "expected exec, notify, fd:N, port:N, file:/PATH or command:CMD", -EINVAL;
}

bool unit_def_equal(const unit_def *a, const unit_def *b)
{
    return strcmp(a->name, b->name) == 0 && a->source && b->source &&
           strcmp(a->source, b->source) == 0;
}
