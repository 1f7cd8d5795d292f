/* A unit: one named program and how to supervise it, read from an INI file
 * (conf.d/NAME.ini). Parsing is strict and complete: every problem is
 * reported as "FILE:LINE: [section] key: what is wrong", and a unit with
 * any problem is refused as a whole while others load. */
#ifndef SBX_UNIT_H
#define SBX_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbx.h"
#include "strv.h"

#define UNIT_NAME_MAX 64

typedef enum restart_policy {
    RESTART_NO,
    RESTART_ON_FAILURE,
    RESTART_ON_ABNORMAL,
    RESTART_ALWAYS,
} restart_policy;

typedef struct unit_output {
    enum { OUT_LOG, OUT_NULL, OUT_INHERIT, OUT_FILE } kind;
    char *path;
} unit_output;

/* How a unit tells it is ready ([exec] ready). */
typedef enum ready_kind {
    READY_EXEC,         /* once exec'd (the default) */
    READY_NOTIFY,       /* READY=1 on its NOTIFY_SOCKET (sd_notify) */
    READY_FD,           /* a line written to descriptor fd (s6 style) */
    READY_PORT,         /* something listens on TCP port (127.0.0.1) */
    READY_FILE,         /* path exists */
    READY_COMMAND,      /* argv, run inside the sandbox, exits 0 */
} ready_kind;

typedef struct unit_ready {
    ready_kind kind;
    int fd, port;
    char *path;
    strv argv;
    uint64_t timeout_ms, watchdog_ms;
} unit_ready;

typedef enum unhealthy_action {
    UNHEALTHY_RESTART,  /* the run ends with reason unhealthy; the policy decides */
    UNHEALTHY_STOP,     /* the run ends, the unit fails */
    UNHEALTHY_REPORT,   /* an event only */
} unhealthy_action;

/* [health]: a probe run inside the sandbox, Docker's HEALTHCHECK meaning. */
typedef struct unit_health {
    strv argv;          /* empty: no health checks */
    uint64_t interval_ms, timeout_ms, start_period_ms;
    unsigned retries;
    unhealthy_action on_unhealthy;
} unit_health;

typedef struct unit_def {
    char name[UNIT_NAME_MAX];
    char *file;
    char *source;               /* the text it was parsed from, %i expanded */
    char *description;
    strv requires, after;
    int requires_line, after_line;
    unsigned instances;         /* 0: a single unit; N: NAME@1..NAME@N */
    bool autostart;
    bool critical;              /* its end ends sbxd, with its status */

    strv argv;
    char *cwd;
    strv env;
    bool clear_env;
    char *user, *group;
    char *stdin_path;           /* NULL = /dev/null */
    unit_output out[2];         /* stdout, stderr */

    sbx_limits limits;
    uint64_t runtime_max_ms, start_timeout_ms, stop_timeout_ms;
    int stop_signal;

    restart_policy policy;
    int success_codes[16];
    size_t nsuccess;
    uint64_t delay_ms, delay_max_ms, reset_after_ms, interval_ms;
    unsigned burst;
    bool restart_on_oom;

    uint64_t log_max_size;
    unsigned log_keep;

    strv readonly, allow;       /* [sandbox] */
    bool no_net, private_tmp, no_new_privs;
    sbx_pid_ns pid_ns;
    char *hostname;
    char *seccomp;              /* "default", a profile path, or NULL */
    bool privileged;            /* none of the default containment */
    uint64_t cap_add;           /* capabilities given back, 1 << CAP_* */

    unit_ready ready;
    unit_health health;
} unit_def;

/* The unit's [sandbox] as libsbx wants it (pointing into u). */
void unit_isolation(const unit_def *u, sbx_isolation *iso);

typedef struct unit_errors {
    strv lines;
} unit_errors;

void unit_def_init(unit_def *u, const char *name);
void unit_def_free(unit_def *u);
/* Parses INI text as unit `name` from `file`; when instance > 0, every
 * "%i" in the text is first replaced by the instance number. Returns 0, or
 * -EINVAL with every problem appended to errs. */
int unit_parse(const char *file, const char *name, const char *text,
               unsigned instance, unit_def *u, unit_errors *errs);
void unit_errors_free(unit_errors *e);
/* Splits a command line: whitespace separates, '...' and "..." quote,
 * backslash escapes inside double quotes and outside quotes. */
int unit_split_command(const char *line, strv *argv, const char **why);
/* Two definitions read from the same text (reload leaves the unit alone). */
bool unit_def_equal(const unit_def *a, const unit_def *b);
/* A valid unit name: [A-Za-z0-9_.-]+ (and @N for instances). */
bool unit_name_valid(const char *name);
const char *restart_policy_name(restart_policy p);
const char *unhealthy_action_name(unhealthy_action a);
/* Parses an [exec] ready value into r. Returns 0, or -EINVAL with why. */
int unit_parse_ready(const char *v, unit_ready *r, const char **why);

#endif
