/* The control protocol's requests: see protocol.h and doc/protocol.md. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

static const char *const cmd_names[CMD__COUNT] = {
    "ping", "status", "start", "stop", "restart", "kill", "freeze", "thaw",
    "reload", "logs", "events", "run", "set", "metrics", "wait", "reexec",
};

const char *proto_cmd_name(proto_cmd c)
{
    return (unsigned)c < CMD__COUNT ? cmd_names[c] : "?";
}

bool proto_cmd_reads_only(proto_cmd c)
{
    return c == CMD_PING || c == CMD_STATUS || c == CMD_LOGS || c == CMD_EVENTS ||
           c == CMD_METRICS || c == CMD_WAIT;
}

const char *proto_code_name(proto_code c)
{
    switch (c) {
    case PROTO_OK: return "ok";
    case PROTO_BAD_REQUEST: return "bad-request";
    case PROTO_UNSUPPORTED_VERSION: return "unsupported-version";
    case PROTO_UNKNOWN_COMMAND: return "unknown-command";
    case PROTO_TOO_LONG: return "too-long";
    case PROTO_PERMISSION_DENIED: return "permission-denied";
    case PROTO_NO_SUCH_UNIT: return "no-such-unit";
    case PROTO_NOT_RUNNING: return "not-running";
    case PROTO_FAILED: return "failed";
    }
    return "?";
}

static proto_code fail(proto_code c, char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return c;
}

proto_code proto_parse(const char *line, size_t len, proto_request *req,
                       char *why, size_t why_len)
{
    memset(req, 0, sizeof *req);
    if (len > PROTO_MAX_LINE)
        return fail(PROTO_TOO_LONG, why, why_len, "request line too long");
    json_error_t jerr;
    req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req->root) {
        snprintf(why, why_len, "not JSON: %s", jerr.text);
        return PROTO_BAD_REQUEST;
    }
    if (!json_is_object(req->root))
        return fail(PROTO_BAD_REQUEST, why, why_len, "a request is a JSON object");
    req->id = json_object_get(req->root, "id");
    json_t *v = json_object_get(req->root, "v");
    if (!v)
        return fail(PROTO_BAD_REQUEST, why, why_len, "missing \"v\" (the protocol version)");
    if (!json_is_integer(v) || json_integer_value(v) != PROTO_VERSION)
        return fail(PROTO_UNSUPPORTED_VERSION, why, why_len,
                    "unsupported protocol version (this sbxd speaks 1)");
    json_t *cmd = json_object_get(req->root, "cmd");
    if (!json_is_string(cmd))
        return fail(PROTO_BAD_REQUEST, why, why_len, "missing \"cmd\" (a string)");
    for (int c = 0; c < CMD__COUNT; c++)
        if (strcmp(json_string_value(cmd), cmd_names[c]) == 0) {
            req->cmd = (proto_cmd)c;
            return PROTO_OK;
        }
    snprintf(why, why_len, "unknown command '%.64s'", json_string_value(cmd));
    return PROTO_UNKNOWN_COMMAND;
}

void proto_request_free(proto_request *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}

static bool wrong_type(const char *key, const char *type, char *why, size_t len)
{
    snprintf(why, len, "\"%s\" must be %s", key, type);
    return false;
}

bool proto_get_bool(const proto_request *r, const char *key, bool dflt, bool *out,
                    char *why, size_t len)
{
    json_t *v = json_object_get(r->root, key);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (!json_is_boolean(v))
        return wrong_type(key, "true or false", why, len);
    *out = json_is_true(v);
    return true;
}

bool proto_get_int(const proto_request *r, const char *key, long long dflt,
                   long long min, long long max, long long *out, char *why, size_t len)
{
    json_t *v = json_object_get(r->root, key);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(why, len, "\"%s\" must be a whole number from %lld to %lld", key, min, max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

bool proto_get_string(const proto_request *r, const char *key, bool required,
                      const char **out, char *why, size_t len)
{
    json_t *v = json_object_get(r->root, key);
    *out = NULL;
    if (!v && !required)
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return wrong_type(key, "a non-empty string", why, len);
    *out = json_string_value(v);
    return true;
}

bool proto_get_strings(const proto_request *r, const char *key, bool required,
                       json_t **out, char *why, size_t len)
{
    json_t *v = json_object_get(r->root, key);
    *out = NULL;
    if (!v && !required)
        return true;
    if (!json_is_array(v) || (required && json_array_size(v) == 0))
        return wrong_type(key, "a non-empty list of strings", why, len);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e))
            return wrong_type(key, "a list of non-empty strings", why, len);
    }
    *out = v;
    return true;
}

/* "memory, memory_swap, cpu and pids": the limits a running box can change. */
static void live_names(char *out, size_t len)
{
    const sbx_limit_info *k;
    size_t n = 0, at = 0;
    for (size_t i = 0; (k = sbx_limit_at(i)); i++)
        n += k->live;
    out[0] = '\0';
    for (size_t i = 0, seen = 0; (k = sbx_limit_at(i)) && at < len; i++) {
        if (!k->live)
            continue;
        seen++;
        at += (size_t)snprintf(out + at, len - at, "%s%s", seen == 1 ? "" : seen == n ? " and " : ", ",
                               k->name);
    }
}

static bool check_limit(const char *key, const json_t *v, sbx_limits *l,
                        char *why, size_t len)
{
    const sbx_limit_info *k = sbx_limit_find(key);
    const char *text = json_string_value(v);
    sbx_error e = {0};
    if (!text)
        return snprintf(why, len, "limit \"%s\" must be a string", key), false;
    if (!k)
        return snprintf(why, len, "unknown limit \"%s\"", key), false;
    if (sbx_limit_parse(k, l, text, &e) < 0)
        return snprintf(why, len, "%s: %s", key, e.msg), false;
    return true;
}

bool proto_get_limits(const proto_request *r, bool required, bool live_only,
                      sbx_limits *l, char *why, size_t len)
{
    json_t *obj = json_object_get(r->root, "limits"), *v;
    const char *key;
    if (!obj && required)
        return snprintf(why, len, "missing \"limits\""), false;
    if (!obj)
        return true;
    if (!json_is_object(obj))
        return snprintf(why, len, "\"limits\" must be an object"), false;
    json_object_foreach(obj, key, v)
        if (!check_limit(key, v, l, why, len))
            return false;
    /* after every value is checked, as the parse errors come first */
    json_object_foreach(obj, key, v) {
        if (live_only && !sbx_limit_find(key)->live) {
            char names[200];
            live_names(names, sizeof names);
            return snprintf(why, len, "only %s can be changed live", names), false;
        }
    }
    return true;
}

bool proto_get_signal(const proto_request *r, const char *key, int dflt, int *sig,
                      char *why, size_t len)
{
    json_t *v = json_object_get(r->root, key);
    int n = v ? -1 : dflt;
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < NSIG)
        n = (int)json_integer_value(v);
    else if (json_is_string(v))
        n = sbx_parse_signal(json_string_value(v));
    if (n <= 0)
        return snprintf(why, len, "\"%s\" must be a signal name or number", key), false;
    *sig = n;
    return true;
}

json_t *proto_limits_json(const sbx_limits *l, bool live_only)
{
    json_t *o = json_object();
    const sbx_limit_info *k;
    for (size_t i = 0; (k = sbx_limit_at(i)); i++) {
        uint64_t v = sbx_limit_get(k, l);
        if (!live_only || k->live)
            json_object_set_new(o, k->name, v == 0 && k->zero_is_none ? json_null()
                                                                      : json_integer((json_int_t)v));
    }
    return o;
}

bool proto_get_run(const proto_request *r, unsigned *seq, unit_def *d, char *why, size_t len)
{
    const char *name, *cwd, *timeout;
    json_t *argv, *env;
    if (!proto_get_string(r, "name", false, &name, why, len) ||
        !proto_get_string(r, "cwd", false, &cwd, why, len) ||
        !proto_get_string(r, "timeout", false, &timeout, why, len) ||
        !proto_get_strings(r, "command", true, &argv, why, len) ||
        !proto_get_strings(r, "env", false, &env, why, len))
        return false;
    char auto_name[32];
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "run-%u", ++*seq);
        name = auto_name;
    }
    if (!unit_name_valid(name) || strchr(name, '@'))
        return snprintf(why, len, "invalid unit name '%s'", name), false;
    unit_def_init(d, name);
    d->file = strdup("(sbxctl run)");
    d->source = strdup("");
    d->policy = RESTART_NO;
    d->autostart = false;
    size_t i;
    json_t *e;
    json_array_foreach(argv, i, e)
        strv_push(&d->argv, json_string_value(e));
    json_array_foreach(env, i, e) {
        if (!strchr(json_string_value(e), '='))
            return snprintf(why, len, "env entries are NAME=VALUE"), false;
        strv_push(&d->env, json_string_value(e));
    }
    if (cwd)
        d->cwd = strdup(cwd);
    sbx_error err = {0};
    if (timeout && sbx_parse_duration(timeout, &d->runtime_max_ms, &err) < 0)
        return snprintf(why, len, "timeout: %s", err.msg), false;
    return proto_get_limits(r, false, false, &d->limits, why, len);
}

/* The length of the valid UTF-8 sequence at p (no overlong forms, no
 * surrogates, nothing past U+10FFFF, no NUL), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3
             : (p[0] >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > left || p[0] == 0)
        return 0;
    uint32_t cp = n == 1 ? p[0] : p[0] & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] >> 6) != 2)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

json_t *proto_text(const char *buf, size_t len)
{
    char *out = malloc(len * 3 + 1);
    size_t o = 0;
    if (!out)
        return json_string("");
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len((const unsigned char *)buf + i, len - i);
        if (n) {
            memcpy(out + o, buf + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j ? j : json_string("");
}

static json_t *reply(const json_t *id, bool ok)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(PROTO_VERSION));
    if (id)
        json_object_set(o, "id", (json_t *)id);
    json_object_set_new(o, "ok", json_boolean(ok));
    return o;
}

json_t *proto_ok(const json_t *id)
{
    return reply(id, true);
}

json_t *proto_error(const json_t *id, proto_code code, const char *msg)
{
    json_t *o = reply(id, false);
    json_object_set_new(o, "code", json_string(proto_code_name(code)));
    json_object_set_new(o, "error", proto_text(msg, strlen(msg)));  /* a cut may split a character */
    return o;
}

char *proto_dump_line(json_t *msg, size_t *len)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}
