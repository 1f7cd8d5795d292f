/* The control protocol's framing and requests, as pure functions on
 * buffers (fuzzed, and tested without a socket). See doc/protocol.md. */
#ifndef SBX_PROTOCOL_H
#define SBX_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sbx.h"
#include "unit.h"

#define PROTO_VERSION 1
#define PROTO_MAX_LINE 65536

typedef enum proto_cmd {
    CMD_PING, CMD_STATUS, CMD_START, CMD_STOP, CMD_RESTART, CMD_KILL,
    CMD_FREEZE, CMD_THAW, CMD_RELOAD, CMD_LOGS, CMD_EVENTS, CMD_RUN, CMD_SET,
    CMD_METRICS,
    CMD_WAIT,
    CMD_REEXEC,
    CMD__COUNT,
} proto_cmd;

typedef enum proto_code {
    PROTO_OK,
    PROTO_BAD_REQUEST,
    PROTO_UNSUPPORTED_VERSION,
    PROTO_UNKNOWN_COMMAND,
    PROTO_TOO_LONG,
    PROTO_PERMISSION_DENIED,
    PROTO_NO_SUCH_UNIT,
    PROTO_NOT_RUNNING,
    PROTO_FAILED,
} proto_code;

const char *proto_code_name(proto_code c);
const char *proto_cmd_name(proto_cmd c);
/* Whether a read-only client may use the command. */
bool proto_cmd_reads_only(proto_cmd c);

typedef struct proto_request {
    json_t *root;       /* the whole object (owned) */
    json_t *id;         /* borrowed from root, or NULL */
    proto_cmd cmd;
} proto_request;

/* Parses one line (without its newline). Returns PROTO_OK with req filled
 * (free with proto_request_free), or an error code with a message in why;
 * req->id is still set when the line was an object with an id. */
proto_code proto_parse(const char *line, size_t len, proto_request *req,
                       char *why, size_t why_len);
void proto_request_free(proto_request *req);

/* Field access with type checks: return false (and say why) when the field
 * is present with the wrong type; absent fields give the default. */
bool proto_get_bool(const proto_request *r, const char *key, bool dflt, bool *out,
                    char *why, size_t len);
bool proto_get_int(const proto_request *r, const char *key, long long dflt,
                   long long min, long long max, long long *out, char *why, size_t len);
bool proto_get_string(const proto_request *r, const char *key, bool required,
                      const char **out, char *why, size_t len);
/* A list of strings (e.g. "units"); *out is NULL when absent. */
bool proto_get_strings(const proto_request *r, const char *key, bool required,
                       json_t **out, char *why, size_t len);

/* The "limits" object of a request: strings by the names of libsbx's
 * limit table ({"memory":"64M"}), parsed into l, which keeps the limits
 * not named. live_only: refuse those a running box cannot change. */
bool proto_get_limits(const proto_request *r, bool required, bool live_only,
                      sbx_limits *l, char *why, size_t len);
/* A signal by name ("TERM", "SIGTERM") or number 1..64; dflt when absent. */
bool proto_get_signal(const proto_request *r, const char *key, int dflt, int *sig,
                      char *why, size_t len);
/* A run request as a transient unit's definition: "command", "env",
 * "cwd", "timeout", "limits", and "name" (else run-N, N from ++*seq).
 * d must be zeroed before; free it with unit_def_free either way. */
bool proto_get_run(const proto_request *r, unsigned *seq, unit_def *d, char *why, size_t len);
/* Limits as the protocol sends them, by the table's names and in its
 * order: numbers (bytes, percent, counts), null for "no limit".
 * live_only: those a running box can change. */
json_t *proto_limits_json(const sbx_limits *l, bool live_only);

/* Bytes as a JSON string: invalid UTF-8 becomes U+FFFD (never NULL). */
json_t *proto_text(const char *buf, size_t len);

/* {"v":1,"id":...,"ok":true} to add fields to. */
json_t *proto_ok(const json_t *id);
json_t *proto_error(const json_t *id, proto_code code, const char *msg);
/* The compact one-line form, with its newline; free() it. */
char *proto_dump_line(json_t *msg, size_t *len);

#endif
