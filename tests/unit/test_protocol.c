/* The control protocol on buffers (supervisor/protocol.c, doc/protocol.md):
 * proto_parse on every error path with its exact code and message, the id
 * echoed in error replies, the field getters' type and range checks, the
 * shape of replies (one line, v 1, ok, the code names the document lists),
 * and which commands a read-only client may use. No socket: the server
 * (control.c) only frames lines and calls these. */
#include <limits.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

#include "protocol.h"

/* Everything a test allocates, freed by the teardown even when an
 * assertion fails, so the suite stays clean under LeakSanitizer. */
typedef struct fixture {
    proto_request req;
    proto_code code;
    char why[300];
    json_t *msg;                /* a reply being checked */
    char *line;                 /* its dumped form */
    size_t len;
    json_t *back;               /* the line parsed back */
    char *big;                  /* a long request line */
} fixture;

static int setup(void **state)
{
    return fixture_new(state, sizeof(fixture));
}

static void drop_reply(fixture *f)
{
    json_decref(f->msg);
    json_decref(f->back);
    free(f->line);
    f->msg = f->back = NULL;
    f->line = NULL;
    f->len = 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    proto_request_free(&f->req);
    drop_reply(f);
    free(f->big);
    free(f);
    return 0;
}

/* Parses len bytes of text as one request line, dropping what an earlier
 * parse of the same test left. */
static proto_code parse_n(fixture *f, const char *text, size_t len)
{
    proto_request_free(&f->req);
    memset(f->why, 0, sizeof f->why);
    f->code = proto_parse(text, len, &f->req, f->why, sizeof f->why);
    return f->code;
}

static proto_code parse(fixture *f, const char *text)
{
    return parse_n(f, text, strlen(text));
}

/* Parses text and checks the code, showing the line and message when the
 * code is not the one wanted. */
static void expect_code(fixture *f, const char *text, proto_code want)
{
    proto_code got = parse(f, text);
    if (got != want)
        print_message("    line: %s\n    got: %s (%s)\n", text, proto_code_name(got), f->why);
    assert_int_equal(got, want);
}

static void expect_error(fixture *f, const char *text, proto_code want, const char *why)
{
    expect_code(f, text, want);
    assert_string_equal(f->why, why);
}

/* Takes msg as the reply under test: dumps it to one line and parses the
 * line back. */
static void take_reply(fixture *f, json_t *msg)
{
    drop_reply(f);
    f->msg = msg;
    assert_non_null(f->msg);
    f->line = proto_dump_line(f->msg, &f->len);
    assert_non_null(f->line);
    assert_int_equal(f->len, strlen(f->line));
    assert_true(f->len >= 2);
    assert_int_equal(f->line[f->len - 1], '\n');
    assert_null(memchr(f->line, '\n', f->len - 1));
    json_error_t jerr;
    f->back = json_loadb(f->line, f->len - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->back)
        print_message("    line: %s    error: %s\n", f->line, jerr.text);
    assert_true(json_is_object(f->back));
}

/* The error reply the server sends for the last parse (control.c's
 * handle_line): proto_error with the request's id and the message. */
static void take_error_reply(fixture *f)
{
    assert_int_not_equal(f->code, PROTO_OK);
    take_reply(f, proto_error(f->req.id, f->code, f->why));
    json_t *v = json_object_get(f->back, "v");
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 1);
    assert_true(json_is_false(json_object_get(f->back, "ok")));
    assert_string_equal(json_string_value(json_object_get(f->back, "code")),
                        proto_code_name(f->code));
    assert_string_equal(json_string_value(json_object_get(f->back, "error")), f->why);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- proto_parse: bad-request ---- */

static void not_json(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "",
        " ",
        "{",
        "ping",
        "{\"v\":1,\"cmd\":\"ping\"",
        "{\"v\":1,\"cmd\":\"ping\"} x",
        "{\"v\":1,\"cmd\":\"ping\"}{}",
        "{\"v\":1,\"cmd\":\"ping\",}",
        "{v:1,cmd:\"ping\"}",
        "{'v':1,'cmd':'ping'}",
        "5",                                    /* a JSON value, but not an object or array */
        "\"ping\"",
        "null",
        "true",
        "{\"v\":1,\"cmd\":\"p\xffng\"}",        /* not UTF-8 */
        "{\"v\":1,\"cmd\":\"ping\",\"n\":99999999999999999999}",  /* beyond 64 bits */
        "{\"v\":1,\"cmd\":\"pi\nng\"}",         /* a raw control character in a string */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect_code(f, lines[i], PROTO_BAD_REQUEST);
        if (!starts_with(f->why, "not JSON: "))
            print_message("    line: %s\n    why: %s\n", lines[i], f->why);
        assert_true(starts_with(f->why, "not JSON: "));
        assert_null(f->req.id);
        assert_null(f->req.root);
    }
}

static void raw_nul_byte(void **state)
{
    fixture *f = *state;
    static const char line[] = "{\"v\":1,\"cmd\":\"ping\"}\0";
    assert_int_equal(parse_n(f, line, sizeof line - 1), PROTO_BAD_REQUEST);
    assert_true(starts_with(f->why, "not JSON: "));
    static const char inside[] = "{\"v\":1,\"cmd\":\"pi\0ng\"}";
    assert_int_equal(parse_n(f, inside, sizeof inside - 1), PROTO_BAD_REQUEST);
}

static void not_an_object(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {"[]", "[{\"v\":1,\"cmd\":\"ping\"}]", "[1,\"ping\"]"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect_error(f, lines[i], PROTO_BAD_REQUEST, "a request is a JSON object");
        assert_null(f->req.id);
    }
}

static void missing_version(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "{}", "{\"cmd\":\"ping\"}", "{\"id\":1,\"cmd\":\"ping\"}", "{\"V\":1,\"cmd\":\"ping\"}",
        "{\"cmd\":\"no-such-verb\"}",           /* v is checked before cmd */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_error(f, lines[i], PROTO_BAD_REQUEST, "missing \"v\" (the protocol version)");
}

static void missing_or_ill_typed_cmd(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "{\"v\":1}",
        "{\"v\":1,\"id\":\"ping\"}",
        "{\"v\":1,\"Cmd\":\"ping\"}",
        "{\"v\":1,\"cmd\":null}",
        "{\"v\":1,\"cmd\":1}",
        "{\"v\":1,\"cmd\":true}",
        "{\"v\":1,\"cmd\":[\"ping\"]}",
        "{\"v\":1,\"cmd\":{\"name\":\"ping\"}}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_error(f, lines[i], PROTO_BAD_REQUEST, "missing \"cmd\" (a string)");
}

static void duplicate_keys(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "{\"v\":1,\"cmd\":\"ping\",\"cmd\":\"ping\"}",
        "{\"v\":1,\"cmd\":\"stop\",\"cmd\":\"ping\"}",
        "{\"v\":1,\"v\":1,\"cmd\":\"ping\"}",
        "{\"v\":1,\"id\":1,\"id\":2,\"cmd\":\"ping\"}",
        "{\"v\":1,\"cmd\":\"status\",\"units\":[\"web\"],\"units\":[\"db\"]}",
        /* at any depth */
        "{\"v\":1,\"cmd\":\"set\",\"unit\":\"web\",\"limits\":{\"memory\":\"1M\",\"memory\":\"2M\"}}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect_code(f, lines[i], PROTO_BAD_REQUEST);
        assert_true(starts_with(f->why, "not JSON: duplicate object key"));
        assert_null(f->req.id);
    }
}

/* jansson refuses \u0000 by default, so no string reaching a handler has a
 * NUL inside (which would cut a unit name or command short). */
static void nul_escapes_refused(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "{\"v\":1,\"cmd\":\"ping\\u0000\"}",
        "{\"v\":1,\"cmd\":\"\\u0000ping\"}",
        "{\"v\":1,\"cmd\":\"start\",\"units\":[\"web\\u0000x\"]}",
        "{\"v\":1,\"cmd\":\"kill\",\"unit\":\"web\\u0000\"}",
        "{\"v\":1,\"cmd\":\"ping\",\"a\\u0000b\":1}",
        "{\"v\":1,\"cmd\":\"run\",\"command\":[\"/bin/sh\",\"-c\",\"\\u0000\"]}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect_code(f, lines[i], PROTO_BAD_REQUEST);
        assert_true(starts_with(f->why, "not JSON: "));
    }
    /* Other escaped control characters are ordinary string content. */
    expect_code(f, "{\"v\":1,\"cmd\":\"status\",\"units\":[\"a\\u0001\\n\"]}", PROTO_OK);
}

/* ---- proto_parse: unsupported-version, unknown-command, too-long ---- */

static void unsupported_version(void **state)
{
    fixture *f = *state;
    static const char *const versions[] = {
        "2", "0", "-1", "\"1\"", "1.0", "1e0", "0.999", "true", "null", "[1]",
        "{\"major\":1}", "9223372036854775807", "-9223372036854775808",
    };
    char line[128];
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        snprintf(line, sizeof line, "{\"v\":%s,\"cmd\":\"ping\"}", versions[i]);
        expect_error(f, line, PROTO_UNSUPPORTED_VERSION,
                     "unsupported protocol version (this sbxd speaks 1)");
    }
    /* The version is checked before the command is looked at. */
    expect_code(f, "{\"v\":2}", PROTO_UNSUPPORTED_VERSION);
    expect_code(f, "{\"v\":2,\"cmd\":7}", PROTO_UNSUPPORTED_VERSION);
    expect_code(f, "{\"v\":\"1\",\"cmd\":\"no-such-verb\"}", PROTO_UNSUPPORTED_VERSION);
}

static void unknown_command(void **state)
{
    fixture *f = *state;
    static const char *const cmds[] = {
        "PING", "Ping", " ping", "ping ", "", "pingx", "stat", "help", "status-all", "sbxd",
    };
    char line[128], why[128];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"%s\"}", cmds[i]);
        snprintf(why, sizeof why, "unknown command '%s'", cmds[i]);
        expect_error(f, line, PROTO_UNKNOWN_COMMAND, why);
    }
}

/* The name is quoted in the message cut to 64 bytes. */
static void unknown_command_name_cut(void **state)
{
    fixture *f = *state;
    char name[201], line[300], why[100];
    memset(name, 'x', 200);
    name[200] = '\0';
    snprintf(line, sizeof line, "{\"v\":1,\"id\":3,\"cmd\":\"%s\"}", name);
    snprintf(why, sizeof why, "unknown command '%.64s'", name);
    expect_error(f, line, PROTO_UNKNOWN_COMMAND, why);
    assert_int_equal(strlen(f->why), strlen("unknown command ''") + 64);
    take_error_reply(f);
}

/* A line of len bytes: a valid request padded with blanks (JSON whitespace)
 * up to the length. */
static const char *padded_request(fixture *f, const char *request, size_t len)
{
    free(f->big);
    f->big = malloc(len + 1);
    assert_non_null(f->big);
    size_t n = strlen(request);
    assert_true(n <= len);
    memcpy(f->big, request, n);
    memset(f->big + n, ' ', len - n);
    f->big[len] = '\0';
    return f->big;
}

static void too_long(void **state)
{
    fixture *f = *state;
    const char *req = "{\"v\":1,\"id\":5,\"cmd\":\"ping\"}";

    /* Exactly the limit is fine. */
    const char *line = padded_request(f, req, PROTO_MAX_LINE);
    assert_int_equal(parse_n(f, line, PROTO_MAX_LINE), PROTO_OK);
    assert_int_equal(f->req.cmd, CMD_PING);

    /* One byte more is too long, whatever it holds: the line is not parsed,
     * so there is no id to echo. */
    line = padded_request(f, req, PROTO_MAX_LINE + 1);
    assert_int_equal(parse_n(f, line, PROTO_MAX_LINE + 1), PROTO_TOO_LONG);
    assert_string_equal(f->why, "request line too long");
    assert_null(f->req.id);
    assert_null(f->req.root);
    take_error_reply(f);
    assert_null(json_object_get(f->back, "id"));

    memset(f->big, 0xff, PROTO_MAX_LINE + 1);   /* not even UTF-8 */
    assert_int_equal(parse_n(f, f->big, PROTO_MAX_LINE + 1), PROTO_TOO_LONG);
    line = padded_request(f, req, 4 * PROTO_MAX_LINE);
    assert_int_equal(parse_n(f, line, 4 * PROTO_MAX_LINE), PROTO_TOO_LONG);
}

/* ---- good requests ---- */

static void every_command(void **state)
{
    fixture *f = *state;
    /* The verbs of doc/protocol.md, in the enum's order. */
    static const char *const names[CMD__COUNT] = {
        "ping", "status", "start", "stop", "restart", "kill", "freeze", "thaw",
        "reload", "logs", "events", "run", "set", "metrics", "wait", "reexec",
    };
    char line[128];
    for (int c = 0; c < CMD__COUNT; c++) {
        assert_string_equal(proto_cmd_name((proto_cmd)c), names[c]);
        snprintf(line, sizeof line, "{\"v\":1,\"cmd\":\"%s\"}", names[c]);
        expect_code(f, line, PROTO_OK);
        assert_int_equal(f->req.cmd, c);
        assert_null(f->req.id);
        assert_true(json_is_object(f->req.root));
    }
    assert_string_equal(proto_cmd_name(CMD__COUNT), "?");
    assert_string_equal(proto_cmd_name((proto_cmd)-1), "?");
}

static void key_order_blanks_and_unknown_fields(void **state)
{
    fixture *f = *state;
    expect_code(f, "{\"cmd\":\"status\",\"v\":1}", PROTO_OK);
    assert_int_equal(f->req.cmd, CMD_STATUS);
    expect_code(f, " \t{ \"v\" : 1 , \"cmd\" : \"stop\" }\r\n ", PROTO_OK);
    assert_int_equal(f->req.cmd, CMD_STOP);
    /* Fields a verb does not know are ignored (a newer client may send them). */
    expect_code(f, "{\"v\":1,\"cmd\":\"ping\",\"future\":{\"x\":[1,null]}}", PROTO_OK);
    assert_int_equal(f->req.cmd, CMD_PING);
}

/* ---- the id ---- */

static void id_echoed_in_errors(void **state)
{
    fixture *f = *state;
    static const struct { const char *line; proto_code code; } cases[] = {
        {"{\"id\":7,\"cmd\":\"ping\"}", PROTO_BAD_REQUEST},
        {"{\"v\":1,\"id\":7}", PROTO_BAD_REQUEST},
        {"{\"v\":1,\"id\":7,\"cmd\":5}", PROTO_BAD_REQUEST},
        {"{\"v\":2,\"id\":7,\"cmd\":\"ping\"}", PROTO_UNSUPPORTED_VERSION},
        {"{\"v\":1,\"id\":7,\"cmd\":\"nope\"}", PROTO_UNKNOWN_COMMAND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_code(f, cases[i].line, cases[i].code);
        assert_true(json_is_integer(f->req.id));
        assert_int_equal(json_integer_value(f->req.id), 7);
        take_error_reply(f);
        json_t *id = json_object_get(f->back, "id");
        assert_true(json_is_integer(id));
        assert_int_equal(json_integer_value(id), 7);
    }
}

/* The id may be any JSON value and comes back as it was sent. */
static void id_any_value(void **state)
{
    fixture *f = *state;
    static const char *const ids[] = {
        "0", "-3", "1.5", "\"abc\"", "\"\"", "\"caf\\u00e9\"", "null", "true", "false", "[]",
        "[1,\"two\",{\"three\":3}]", "{}", "{\"client\":\"ctl\",\"seq\":[1,2]}",
        "9223372036854775807",
    };
    char line[256];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_error_t jerr;
        json_t *want = json_loads(ids[i], JSON_DECODE_ANY, &jerr);
        assert_non_null(want);

        snprintf(line, sizeof line, "{\"v\":1,\"id\":%s,\"cmd\":\"ping\"}", ids[i]);
        proto_code got = parse(f, line);
        bool ok_equal = got == PROTO_OK && json_equal(f->req.id, want);
        if (ok_equal) {
            take_reply(f, proto_ok(f->req.id));
            ok_equal = json_equal(json_object_get(f->back, "id"), want);
        }
        if (ok_equal) {
            snprintf(line, sizeof line, "{\"v\":1,\"id\":%s,\"cmd\":\"nope\"}", ids[i]);
            ok_equal = parse(f, line) == PROTO_UNKNOWN_COMMAND;
        }
        if (ok_equal) {
            take_reply(f, proto_error(f->req.id, f->code, f->why));
            ok_equal = json_equal(json_object_get(f->back, "id"), want);
        }
        json_decref(want);
        if (!ok_equal)
            print_message("    id: %s\n", ids[i]);
        assert_true(ok_equal);
    }
}

/* A reply holds its own reference to the id: the request may be freed
 * before the reply is written. */
static void id_outlives_request(void **state)
{
    fixture *f = *state;
    expect_code(f, "{\"v\":1,\"id\":{\"seq\":[1,2,3]},\"cmd\":\"nope\"}", PROTO_UNKNOWN_COMMAND);
    json_t *msg = proto_error(f->req.id, f->code, f->why);
    proto_request_free(&f->req);
    assert_null(f->req.root);
    assert_null(f->req.id);
    take_reply(f, msg);
    assert_string_equal(f->line, "{\"v\":1,\"id\":{\"seq\":[1,2,3]},\"ok\":false,"
                                 "\"code\":\"unknown-command\",\"error\":\"unknown command 'nope'\"}\n");
}

static void no_id_when_not_parsed(void **state)
{
    fixture *f = *state;
    static const char *const lines[] = {
        "{\"v\":1,\"id\":7,\"cmd\":\"ping\"",           /* not JSON */
        "{\"v\":1,\"id\":7,\"id\":8,\"cmd\":\"ping\"}",  /* duplicate key: not JSON */
        "[{\"v\":1,\"id\":7,\"cmd\":\"ping\"}]",         /* not an object */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        expect_code(f, lines[i], PROTO_BAD_REQUEST);
        assert_null(f->req.id);
        take_error_reply(f);
        assert_null(json_object_get(f->back, "id"));
    }
    /* An id that is present but null is echoed as null. */
    expect_code(f, "{\"v\":3,\"id\":null,\"cmd\":\"ping\"}", PROTO_UNSUPPORTED_VERSION);
    take_error_reply(f);
    assert_true(json_is_null(json_object_get(f->back, "id")));
}

/* ---- field getters ---- */

static const char fields[] =
    "{\"v\":1,\"cmd\":\"status\","
    "\"yes\":true,\"no\":false,\"one\":1,\"zero\":0,\"real\":1.0,\"str\":\"web\",\"strtrue\":\"true\","
    "\"empty\":\"\",\"nul\":null,\"list\":[\"web\",\"db\"],\"nolist\":[],\"obj\":{\"a\":1},"
    "\"neg\":-5,\"max\":9223372036854775807,\"min\":-9223372036854775808,\"million\":1000000,"
    "\"mixed\":[\"web\",1],\"blank\":[\"web\",\"\"],\"nested\":[[\"web\"]],\"nuls\":[null]}";

static void get_bool(void **state)
{
    fixture *f = *state;
    expect_code(f, fields, PROTO_OK);
    bool b = false;
    char why[100];

    assert_true(proto_get_bool(&f->req, "yes", false, &b, why, sizeof why));
    assert_true(b);
    assert_true(proto_get_bool(&f->req, "no", true, &b, why, sizeof why));
    assert_false(b);
    /* Absent: the default. */
    assert_true(proto_get_bool(&f->req, "absent", true, &b, why, sizeof why));
    assert_true(b);
    assert_true(proto_get_bool(&f->req, "absent", false, &b, why, sizeof why));
    assert_false(b);

    static const char *const wrong[] = {"one", "zero", "real", "str", "strtrue", "empty", "nul",
                                        "list", "obj"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char want[100];
        snprintf(want, sizeof want, "\"%s\" must be true or false", wrong[i]);
        b = true;
        assert_false(proto_get_bool(&f->req, wrong[i], true, &b, why, sizeof why));
        assert_string_equal(why, want);
        assert_true(b);                 /* left alone */
    }
}

static void get_int(void **state)
{
    fixture *f = *state;
    expect_code(f, fields, PROTO_OK);
    long long n = 42;
    char why[100];

    assert_true(proto_get_int(&f->req, "one", 7, 0, 10, &n, why, sizeof why));
    assert_int_equal(n, 1);
    assert_true(proto_get_int(&f->req, "absent", 7, 0, 10, &n, why, sizeof why));
    assert_int_equal(n, 7);
    /* The bounds are inclusive. */
    assert_true(proto_get_int(&f->req, "million", 50, 0, 1000000, &n, why, sizeof why));
    assert_int_equal(n, 1000000);
    assert_true(proto_get_int(&f->req, "zero", 50, 0, 1000000, &n, why, sizeof why));
    assert_int_equal(n, 0);
    assert_true(proto_get_int(&f->req, "neg", 0, -5, -5, &n, why, sizeof why));
    assert_int_equal(n, -5);
    assert_true(proto_get_int(&f->req, "max", 0, LLONG_MIN, LLONG_MAX, &n, why, sizeof why));
    assert_true(n == LLONG_MAX);
    assert_true(proto_get_int(&f->req, "min", 0, LLONG_MIN, LLONG_MAX, &n, why, sizeof why));
    assert_true(n == LLONG_MIN);

    /* Out of range. */
    n = 42;
    assert_false(proto_get_int(&f->req, "million", 50, 0, 999999, &n, why, sizeof why));
    assert_string_equal(why, "\"million\" must be a whole number from 0 to 999999");
    assert_false(proto_get_int(&f->req, "zero", 30000, 1, 86400000, &n, why, sizeof why));
    assert_string_equal(why, "\"zero\" must be a whole number from 1 to 86400000");
    assert_false(proto_get_int(&f->req, "neg", 50, 0, 1000000, &n, why, sizeof why));
    assert_false(proto_get_int(&f->req, "max", 50, 0, LLONG_MAX - 1, &n, why, sizeof why));
    assert_false(proto_get_int(&f->req, "min", 50, LLONG_MIN + 1, 0, &n, why, sizeof why));
    assert_int_equal(n, 42);            /* left alone */

    /* Not a whole number: 1.0 is a real, "1" a string. */
    static const char *const wrong[] = {"real", "str", "yes", "no", "nul", "list", "obj", "empty"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char want[100];
        snprintf(want, sizeof want, "\"%s\" must be a whole number from 0 to 1000000", wrong[i]);
        assert_false(proto_get_int(&f->req, wrong[i], 50, 0, 1000000, &n, why, sizeof why));
        assert_string_equal(why, want);
    }
    assert_int_equal(n, 42);
}

static void get_string(void **state)
{
    fixture *f = *state;
    expect_code(f, fields, PROTO_OK);
    const char *s = "unset";
    char why[100];

    assert_true(proto_get_string(&f->req, "str", true, &s, why, sizeof why));
    assert_string_equal(s, "web");
    assert_true(proto_get_string(&f->req, "str", false, &s, why, sizeof why));
    assert_string_equal(s, "web");
    /* Absent: NULL when optional, an error when required. */
    assert_true(proto_get_string(&f->req, "absent", false, &s, why, sizeof why));
    assert_null(s);
    s = "unset";
    assert_false(proto_get_string(&f->req, "absent", true, &s, why, sizeof why));
    assert_string_equal(why, "\"absent\" must be a non-empty string");
    assert_null(s);

    /* Empty and non-strings are refused, required or not. */
    static const char *const wrong[] = {"empty", "nul", "one", "yes", "real", "list", "obj"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char want[100];
        snprintf(want, sizeof want, "\"%s\" must be a non-empty string", wrong[i]);
        for (int required = 0; required < 2; required++) {
            s = "unset";
            assert_false(proto_get_string(&f->req, wrong[i], required, &s, why, sizeof why));
            assert_string_equal(why, want);
            assert_null(s);
        }
    }
}

static void get_strings(void **state)
{
    fixture *f = *state;
    expect_code(f, fields, PROTO_OK);
    json_t *list = NULL;
    char why[100];

    assert_true(proto_get_strings(&f->req, "list", true, &list, why, sizeof why));
    assert_ptr_equal(list, json_object_get(f->req.root, "list"));   /* borrowed */
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_array_get(list, 1)), "db");
    /* Absent: NULL when optional; an empty list only when optional. */
    assert_true(proto_get_strings(&f->req, "absent", false, &list, why, sizeof why));
    assert_null(list);
    assert_true(proto_get_strings(&f->req, "nolist", false, &list, why, sizeof why));
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 0);
    static const char *const not_a_list[][2] = {
        {"absent", "1"}, {"nolist", "1"}, {"str", "0"}, {"str", "1"}, {"nul", "0"},
        {"obj", "0"}, {"one", "1"}, {"empty", "0"},
    };
    for (size_t i = 0; i < sizeof not_a_list / sizeof not_a_list[0]; i++) {
        char want[100];
        snprintf(want, sizeof want, "\"%s\" must be a non-empty list of strings", not_a_list[i][0]);
        list = json_true();
        assert_false(proto_get_strings(&f->req, not_a_list[i][0], not_a_list[i][1][0] == '1',
                                       &list, why, sizeof why));
        assert_string_equal(why, want);
        assert_null(list);
    }
    /* Every element must be a non-empty string. */
    static const char *const bad_elements[] = {"mixed", "blank", "nested", "nuls"};
    for (size_t i = 0; i < sizeof bad_elements / sizeof bad_elements[0]; i++) {
        char want[100];
        snprintf(want, sizeof want, "\"%s\" must be a list of non-empty strings", bad_elements[i]);
        for (int required = 0; required < 2; required++) {
            list = json_true();
            assert_false(proto_get_strings(&f->req, bad_elements[i], required, &list, why, sizeof why));
            assert_string_equal(why, want);
            assert_null(list);
        }
    }
}

/* proto_parse lets no NUL inside a string through (see
 * nul_escapes_refused); the getters refuse one anyway, for a request built
 * some other way. */
static void getters_refuse_embedded_nul(void **state)
{
    fixture *f = *state;
    f->req.root = json_object();
    f->req.cmd = CMD_RUN;
    assert_non_null(f->req.root);
    assert_int_equal(json_object_set_new(f->req.root, "name", json_stringn("web\0x", 5)), 0);
    assert_int_equal(json_object_set_new(f->req.root, "lead", json_stringn("\0web", 4)), 0);
    json_t *argv = json_array();
    assert_non_null(argv);
    assert_int_equal(json_object_set_new(f->req.root, "command", argv), 0);
    assert_int_equal(json_array_append_new(argv, json_string("/bin/echo")), 0);
    assert_int_equal(json_array_append_new(argv, json_stringn("a\0b", 3)), 0);

    const char *s = "unset";
    json_t *list = json_true();
    char why[100];
    assert_false(proto_get_string(&f->req, "name", false, &s, why, sizeof why));
    assert_string_equal(why, "\"name\" must be a non-empty string");
    assert_null(s);
    assert_false(proto_get_string(&f->req, "lead", true, &s, why, sizeof why));
    assert_false(proto_get_strings(&f->req, "command", true, &list, why, sizeof why));
    assert_string_equal(why, "\"command\" must be a list of non-empty strings");
    assert_null(list);
}

/* "limits" by libsbx's table: parsed into the given limits, errors named
 * by key, and set's live check after every value is parsed. */
static void get_limits(void **state)
{
    fixture *f = *state;
    sbx_limits l;
    char why[200];
    sbx_limits_init(&l);
    expect_code(f, "{\"v\":1,\"cmd\":\"run\",\"limits\":{\"memory\":\"64M\",\"cpu_weight\":\"5\"}}", PROTO_OK);
    assert_true(proto_get_limits(&f->req, false, false, &l, why, sizeof why));
    assert_int_equal(l.memory, 64ull << 20);
    assert_int_equal(l.cpu_weight, 5);
    assert_false(proto_get_limits(&f->req, false, true, &l, why, sizeof why));
    assert_string_equal(why, "only memory, memory_swap, cpu and pids can be changed live");

    expect_code(f, "{\"v\":1,\"cmd\":\"set\",\"limits\":{\"nofile\":\"5\",\"pids\":\"0\"}}", PROTO_OK);
    assert_false(proto_get_limits(&f->req, true, true, &l, why, sizeof why));
    assert_string_equal(why, "pids: '0' must be between 1 and 4194304");
    expect_code(f, "{\"v\":1,\"cmd\":\"set\",\"limits\":{\"swap\":\"5\"}}", PROTO_OK);
    assert_false(proto_get_limits(&f->req, true, true, &l, why, sizeof why));
    assert_string_equal(why, "unknown limit \"swap\"");
    expect_code(f, "{\"v\":1,\"cmd\":\"set\",\"limits\":{\"pids\":5}}", PROTO_OK);
    assert_false(proto_get_limits(&f->req, true, true, &l, why, sizeof why));
    assert_string_equal(why, "limit \"pids\" must be a string");
    expect_code(f, "{\"v\":1,\"cmd\":\"set\",\"limits\":[]}", PROTO_OK);
    assert_false(proto_get_limits(&f->req, true, true, &l, why, sizeof why));
    assert_string_equal(why, "\"limits\" must be an object");
    expect_code(f, "{\"v\":1,\"cmd\":\"set\"}", PROTO_OK);
    assert_false(proto_get_limits(&f->req, true, true, &l, why, sizeof why));
    assert_string_equal(why, "missing \"limits\"");
    assert_true(proto_get_limits(&f->req, false, false, &l, why, sizeof why));

    json_t *o = proto_limits_json(&l, true);
    assert_true(json_is_integer(json_object_get(o, "memory")));
    assert_true(json_is_integer(json_object_get(o, "memory_swap")));   /* 0: no swap */
    assert_true(json_is_null(json_object_get(o, "pids")));
    assert_null(json_object_get(o, "nofile"));
    json_decref(o);
}

static void get_signal(void **state)
{
    fixture *f = *state;
    int sig = 0;
    char why[100];
    expect_code(f, "{\"v\":1,\"cmd\":\"kill\",\"a\":\"SIGHUP\",\"b\":9,\"c\":65,\"d\":\"NOPE\",\"e\":true}", PROTO_OK);
    assert_true(proto_get_signal(&f->req, "a", SIGTERM, &sig, why, sizeof why));
    assert_int_equal(sig, SIGHUP);
    assert_true(proto_get_signal(&f->req, "b", SIGTERM, &sig, why, sizeof why));
    assert_int_equal(sig, 9);
    assert_true(proto_get_signal(&f->req, "none", SIGTERM, &sig, why, sizeof why));
    assert_int_equal(sig, SIGTERM);
    for (const char *k = "cde"; *k; k++) {
        char key[2] = {*k, 0};
        assert_false(proto_get_signal(&f->req, key, SIGTERM, &sig, why, sizeof why));
        assert_string_equal(why + 4, "must be a signal name or number");
    }
}

/* A run request as a transient unit: named run-N when unnamed, limits by
 * the table, errors for a bad name, env entry or timeout. */
static void get_run(void **state)
{
    fixture *f = *state;
    unit_def d;
    unsigned seq = 6;
    char why[200];
    memset(&d, 0, sizeof d);
    expect_code(f, "{\"v\":1,\"cmd\":\"run\",\"command\":[\"/bin/true\",\"x\"],\"timeout\":\"2s\","
                   "\"env\":[\"A=1\"],\"limits\":{\"pids\":\"8\"}}", PROTO_OK);
    assert_true(proto_get_run(&f->req, &seq, &d, why, sizeof why));
    assert_string_equal(d.name, "run-7");
    assert_int_equal(d.argv.n, 2);
    assert_int_equal(d.runtime_max_ms, 2000);
    assert_int_equal(d.limits.pids, 8);
    assert_int_equal(d.env.n, 1);
    assert_false(d.autostart);
    unit_def_free(&d);
    const char *const bad[][2] = {
        {"{\"v\":1,\"cmd\":\"run\",\"command\":[\"x\"],\"name\":\"a@1\"}", "invalid unit name 'a@1'"},
        {"{\"v\":1,\"cmd\":\"run\",\"command\":[\"x\"],\"env\":[\"A\"]}", "env entries are NAME=VALUE"},
        {"{\"v\":1,\"cmd\":\"run\",\"command\":[\"x\"],\"timeout\":\"0\"}",
         "timeout: duration '0' must be at least 1ms"},
        {"{\"v\":1,\"cmd\":\"run\",\"command\":[\"x\"],\"limits\":{\"cpu\":\"0%\"}}",
         "cpu: CPU '0%' must be between 1% and 102400%"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0, sizeof d);
        expect_code(f, bad[i][0], PROTO_OK);
        assert_false(proto_get_run(&f->req, &seq, &d, why, sizeof why));
        assert_string_equal(why, bad[i][1]);
        unit_def_free(&d);
    }
}

/* A small message buffer gets a cut, terminated message and nothing past it. */
static void why_buffer_respected(void **state)
{
    fixture *f = *state;
    char why[16];
    memset(why, '#', sizeof why);
    const char *line = "{\"v\":2,\"cmd\":\"ping\"}";
    proto_request_free(&f->req);
    assert_int_equal(proto_parse(line, strlen(line), &f->req, why, 8), PROTO_UNSUPPORTED_VERSION);
    assert_string_equal(why, "unsuppo");
    for (size_t i = 8; i < sizeof why; i++)
        assert_int_equal(why[i], '#');

    expect_code(f, fields, PROTO_OK);
    memset(why, '#', sizeof why);
    bool b;
    assert_false(proto_get_bool(&f->req, "one", false, &b, why, 8));
    assert_string_equal(why, "\"one\" m");
    for (size_t i = 8; i < sizeof why; i++)
        assert_int_equal(why[i], '#');
}

/* ---- replies ---- */

static void reply_shapes(void **state)
{
    fixture *f = *state;
    take_reply(f, proto_ok(NULL));
    assert_string_equal(f->line, "{\"v\":1,\"ok\":true}\n");
    assert_int_equal(f->len, strlen("{\"v\":1,\"ok\":true}\n"));

    json_t *id = json_integer(7);
    assert_non_null(id);
    take_reply(f, proto_ok(id));
    json_decref(id);
    assert_string_equal(f->line, "{\"v\":1,\"id\":7,\"ok\":true}\n");

    /* Fields a handler adds come after ok, in the order added. */
    json_t *msg = proto_ok(NULL);
    assert_non_null(msg);
    json_object_set_new(msg, "units", json_array());
    json_object_set_new(msg, "added", json_pack("[s]", "web"));
    take_reply(f, msg);
    assert_string_equal(f->line, "{\"v\":1,\"ok\":true,\"units\":[],\"added\":[\"web\"]}\n");

    id = json_string("x");
    assert_non_null(id);
    take_reply(f, proto_error(id, PROTO_NO_SUCH_UNIT, "no unit named 'x'"));
    json_decref(id);
    assert_string_equal(f->line, "{\"v\":1,\"id\":\"x\",\"ok\":false,\"code\":\"no-such-unit\","
                                 "\"error\":\"no unit named 'x'\"}\n");

    take_reply(f, proto_error(NULL, PROTO_TOO_LONG, "request line longer than 65536 bytes"));
    assert_string_equal(f->line, "{\"v\":1,\"ok\":false,\"code\":\"too-long\","
                                 "\"error\":\"request line longer than 65536 bytes\"}\n");
}

/* Whatever a message holds, the reply is one line of ASCII. */
static void reply_is_one_ascii_line(void **state)
{
    fixture *f = *state;
    static const char *const texts[] = {
        "two\nlines", "cr\rlf\r\n", "tab\there", "quote \" and backslash \\",
        "caf\xc3\xa9", "line\xe2\x80\xa8separator", "\x01\x1f\x7f", "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        take_reply(f, proto_error(NULL, PROTO_FAILED, texts[i]));
        for (size_t k = 0; k < f->len; k++)
            assert_true((unsigned char)f->line[k] < 0x80);
        assert_string_equal(json_string_value(json_object_get(f->back, "error")), texts[i]);
    }
}

static void code_names(void **state)
{
    fixture *f = *state;
    /* The table of doc/protocol.md. */
    static const struct { proto_code code; const char *name; } codes[] = {
        {PROTO_BAD_REQUEST, "bad-request"},
        {PROTO_UNSUPPORTED_VERSION, "unsupported-version"},
        {PROTO_UNKNOWN_COMMAND, "unknown-command"},
        {PROTO_TOO_LONG, "too-long"},
        {PROTO_PERMISSION_DENIED, "permission-denied"},
        {PROTO_NO_SUCH_UNIT, "no-such-unit"},
        {PROTO_NOT_RUNNING, "not-running"},
        {PROTO_FAILED, "failed"},
    };
    assert_string_equal(proto_code_name(PROTO_OK), "ok");
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_string_equal(proto_code_name(codes[i].code), codes[i].name);
        take_reply(f, proto_error(NULL, codes[i].code, "why"));
        char want[200];
        snprintf(want, sizeof want, "{\"v\":1,\"ok\":false,\"code\":\"%s\",\"error\":\"why\"}\n",
                 codes[i].name);
        assert_string_equal(f->line, want);
    }
    assert_string_equal(proto_code_name((proto_code)(PROTO_FAILED + 1)), "?");
}

static void read_only_commands(void **state)
{
    (void)state;
    for (int c = 0; c < CMD__COUNT; c++) {
        bool want = c == CMD_PING || c == CMD_STATUS || c == CMD_LOGS || c == CMD_EVENTS ||
                    c == CMD_METRICS || c == CMD_WAIT;  /* waiting is watching */
        if (proto_cmd_reads_only((proto_cmd)c) != want)
            print_message("    cmd: %s\n", proto_cmd_name((proto_cmd)c));
        assert_int_equal(proto_cmd_reads_only((proto_cmd)c), want);
    }
    assert_false(proto_cmd_reads_only(CMD__COUNT));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(not_json),
        T(raw_nul_byte),
        T(not_an_object),
        T(missing_version),
        T(missing_or_ill_typed_cmd),
        T(duplicate_keys),
        T(nul_escapes_refused),
        T(unsupported_version),
        T(unknown_command),
        T(unknown_command_name_cut),
        T(too_long),
        T(every_command),
        T(key_order_blanks_and_unknown_fields),
        T(id_echoed_in_errors),
        T(id_any_value),
        T(id_outlives_request),
        T(no_id_when_not_parsed),
        T(get_bool),
        T(get_int),
        T(get_string),
        T(get_strings),
        T(getters_refuse_embedded_nul),
        T(why_buffer_respected),
        T(get_limits),
        T(get_signal),
        T(get_run),
        T(reply_shapes),
        T(reply_is_one_ascii_line),
        T(code_names),
        T(read_only_commands),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
