/* Fuzz target: the control protocol's requests (supervisor/protocol.c) on
 * arbitrary bytes, as a client would send them. The input is cut into
 * lines the way the server's reader does (control.c on_read: at '\n', one
 * '\r' before it dropped, empty lines skipped); each line goes through
 * proto_parse, the reply the server would send is built and checked, and on
 * a good request every field getter is tried on the fields a handler reads
 * and on every key the request has.
 *
 * Beyond what ASan and UBSan catch, it checks what doc/protocol.md
 * promises: a reply is one line of ASCII JSON with "v":1 and a boolean
 * "ok"; the request's id comes back unchanged; an error reply has one of
 * the documented codes and an "error" text; a getter that accepts a field
 * hands out a value of the right type and range. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "protocol.h"

#define WHY_LEN 300     /* as the server's buffer (control.c handle_line) */

static bool terminated(const char *why)
{
    return memchr(why, '\0', WHY_LEN) != NULL;
}

/* Dumps the reply, checks it is one line, parses it back and checks the
 * fields every reply has. Consumes msg. */
static void check_reply(json_t *msg, const json_t *id, proto_code code, const char *why)
{
    FUZZ_CHECK(msg);
    size_t len = 0;
    char *line = proto_dump_line(msg, &len);
    json_decref(msg);
    FUZZ_CHECK(line);
    FUZZ_CHECK(len >= 2 && len == strlen(line) && line[len - 1] == '\n');
    FUZZ_CHECK(!memchr(line, '\n', len - 1));
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)line[i] < 0x80);

    json_error_t jerr;
    json_t *back = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, &jerr);
    free(line);
    FUZZ_CHECK(json_is_object(back));
    json_t *v = json_object_get(back, "v");
    FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == PROTO_VERSION);
    json_t *ok = json_object_get(back, "ok");
    FUZZ_CHECK(json_is_boolean(ok) && json_is_true(ok) == (code == PROTO_OK));
    json_t *echoed = json_object_get(back, "id");
    FUZZ_CHECK(id ? json_equal(echoed, id) : !echoed);
    if (code != PROTO_OK) {
        json_t *c = json_object_get(back, "code");
        FUZZ_CHECK(json_is_string(c));
        FUZZ_CHECK(strcmp(json_string_value(c), proto_code_name(code)) == 0);
        json_t *error = json_object_get(back, "error");
        FUZZ_CHECK(json_is_string(error) && json_string_length(error) > 0);
        /* the text itself, unless it was cut inside a UTF-8 character
         * (then its bad bytes are U+FFFD) */
        json_t *valid = json_string(why);
        FUZZ_CHECK(!valid || strcmp(json_string_value(error), why) == 0);
        json_decref(valid);
    }
    json_decref(back);
}

static bool good_string(const json_t *s)
{
    return json_is_string(s) && json_string_length(s) > 0 &&
           strlen(json_string_value(s)) == json_string_length(s);
}

/* Every getter on one key, with the defaults and bounds the handlers use
 * and the extremes. */
static void try_getters(const proto_request *r, const char *key)
{
    json_t *v = json_object_get(r->root, key);
    char why[WHY_LEN];

    for (int dflt = 0; dflt < 2; dflt++) {
        bool b = !dflt;
        why[0] = '\0';
        if (proto_get_bool(r, key, dflt, &b, why, sizeof why))
            FUZZ_CHECK(v ? json_is_boolean(v) && b == json_is_true(v) : b == (bool)dflt);
        else
            FUZZ_CHECK(v && !json_is_boolean(v) && why[0] && terminated(why));
    }

    static const long long bounds[][3] = {
        {30000, 1, 86400000}, {50, 0, 1000000}, {0, LLONG_MIN, LLONG_MAX}, {-1, -1, -1},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        long long n = 0;
        why[0] = '\0';
        if (proto_get_int(r, key, bounds[i][0], bounds[i][1], bounds[i][2], &n, why, sizeof why)) {
            FUZZ_CHECK(n >= bounds[i][1] && n <= bounds[i][2]);
            FUZZ_CHECK(v ? json_is_integer(v) && n == json_integer_value(v) : n == bounds[i][0]);
        } else {
            FUZZ_CHECK(v && why[0] && terminated(why));
        }
    }

    for (int required = 0; required < 2; required++) {
        const char *s = "unset";
        why[0] = '\0';
        if (proto_get_string(r, key, required, &s, why, sizeof why)) {
            FUZZ_CHECK(v ? good_string(v) && s == json_string_value(v) : !s && !required);
            FUZZ_CHECK(!s || strlen(s) > 0);
        } else {
            FUZZ_CHECK(!s && why[0] && terminated(why));
            FUZZ_CHECK(!v || !good_string(v));
        }

        json_t *list = json_true();
        why[0] = '\0';
        if (proto_get_strings(r, key, required, &list, why, sizeof why)) {
            FUZZ_CHECK(list == v);
            FUZZ_CHECK(list ? json_is_array(list) : !required);
            FUZZ_CHECK(!required || json_array_size(list) > 0);
            size_t i;
            json_t *e;
            json_array_foreach(list, i, e)
                FUZZ_CHECK(good_string(e));
        } else {
            FUZZ_CHECK(!list && why[0] && terminated(why));
        }
    }
}

/* The fields the handlers read (control.c), whether present or not. */
static const char *const handler_keys[] = {
    "units", "detail", "wait", "timeout_ms", "unit", "signal", "lines", "follow",
    "command", "name", "limits", "timeout", "env", "cwd",
};

/* The parsers of whole fields: limits (as run and set read them, by
 * libsbx's table), a run's unit definition and the kill signal. */
static void try_request_parsers(const proto_request *r)
{
    char why[WHY_LEN];
    for (int live = 0; live < 2; live++) {
        sbx_limits l;
        sbx_limits_init(&l);
        why[0] = '\0';
        if (proto_get_limits(r, live, live, &l, why, sizeof why)) {
            json_t *back = proto_limits_json(&l, live);
            FUZZ_CHECK(json_is_object(back));
            json_decref(back);
        } else {
            FUZZ_CHECK(why[0] && terminated(why));
        }
    }
    unit_def d;
    unsigned seq = 0;
    memset(&d, 0, sizeof d);
    why[0] = '\0';
    if (proto_get_run(r, &seq, &d, why, sizeof why))
        FUZZ_CHECK(d.argv.n > 0 && unit_name_valid(d.name));
    else
        FUZZ_CHECK(why[0] && terminated(why));
    unit_def_free(&d);
    int sig = 0;
    why[0] = '\0';
    if (proto_get_signal(r, "signal", 15, &sig, why, sizeof why))
        FUZZ_CHECK(sig > 0 && sig < 65);
    else
        FUZZ_CHECK(why[0] && terminated(why));
}

static void one_line(const char *line, size_t len)
{
    proto_request r;
    char why[WHY_LEN];
    memset(why, 0, sizeof why);
    proto_code code = proto_parse(line, len, &r, why, sizeof why);
    FUZZ_CHECK(code == PROTO_OK || code == PROTO_BAD_REQUEST ||
               code == PROTO_UNSUPPORTED_VERSION || code == PROTO_UNKNOWN_COMMAND ||
               code == PROTO_TOO_LONG);
    FUZZ_CHECK(terminated(why));
    FUZZ_CHECK(!r.id || json_object_get(r.root, "id") == r.id);

    if (code != PROTO_OK) {
        FUZZ_CHECK(why[0]);
        check_reply(proto_error(r.id, code, why), r.id, code, why);
        proto_request_free(&r);
        return;
    }
    FUZZ_CHECK(json_is_object(r.root));
    FUZZ_CHECK((unsigned)r.cmd < CMD__COUNT);
    json_t *cmd = json_object_get(r.root, "cmd");
    FUZZ_CHECK(json_is_string(cmd) && strcmp(json_string_value(cmd), proto_cmd_name(r.cmd)) == 0);
    json_t *v = json_object_get(r.root, "v");
    FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == PROTO_VERSION);
    (void)proto_cmd_reads_only(r.cmd);
    check_reply(proto_ok(r.id), r.id, PROTO_OK, NULL);

    for (size_t i = 0; i < sizeof handler_keys / sizeof handler_keys[0]; i++)
        try_getters(&r, handler_keys[i]);
    try_request_parsers(&r);
    const char *key;
    json_t *value;
    json_object_foreach(r.root, key, value)
        try_getters(&r, key);
    proto_request_free(&r);
    FUZZ_CHECK(!r.root && !r.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    /* A last line without its newline is one a client has not finished
     * (the server waits for the rest); it is parsed too, as it may be. */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (len)
            one_line(p, len);
        p = nl ? nl + 1 : end;
    }
    return 0;
}
