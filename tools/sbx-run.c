/* sbx-run: run one program in a sandbox, in the foreground, and report
 * exactly how it ended. A thin front end of the supervision core's run. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ptrace.h>
#endif

#include "limit_options.h"
#include "reaper.h"
#include "result.h"
#include "run.h"
#include "version.h"


/* Exit statuses, as timeout(1) and env(1). */
enum {
    EXIT_ESCAPED = 123,   /* the program changed its limits or left its box */
    EXIT_TIMEOUT = 124,
    EXIT_SETUP = 125,
    EXIT_NOEXEC = 126,
    EXIT_NOTFOUND = 127,
};

struct options {
    sbx_limits limits;
    run_options run;
    const char *cwd;
    const char *result_path;
    FILE *result;           /* opened before anything runs */
    const char *backend;
    const char *cgroup_root;
    const char *stdio[3];
    char **env_add;
    size_t nenv;
    bool clear_env, best_effort, probe;
    bool pidns_chosen;      /* --pidns, --pidns-init or --no-pidns given */
    pid_t enter_pid;        /* --enter */
    char **argv;
    sbx_isolation iso;
    char **ro, **allow;     /* NULL-terminated, for iso */
    size_t nro, nallow;
    const char *user, *group;
};

static const char usage_text[] =
    "usage: sbx-run [OPTIONS] -- COMMAND [ARG...]\n"
    "  -m, --memory SIZE          memory limit: 512K, 64M, 2G\n"
    "      --memory-swap SIZE     swap allowed on top (default 0)\n"
    "  -c, --cpu PERCENT          CPU quota in percent of one core: 50%, 250%\n"
    "      --cpu-weight N         CPU weight, 1..10000 (default 100)\n"
    "  -p, --pids N               max tasks in the sandbox, the first included\n"
    "      --nofile N             max open files (RLIMIT_NOFILE)\n"
    "      --core SIZE            max core dump size (0 = none)\n"
    "  -t, --timeout DURATION     wall-clock limit: 500ms, 10s, 2m\n"
    "      --kill-grace DURATION  SIGTERM to SIGKILL delay (default 1s)\n"
    "      --wait-leftovers       when COMMAND exits, wait for the rest of its tree\n"
    "                             (default: kill it)\n"
    "  -C, --cwd DIR              working directory\n"
    "  -e, --env NAME=VALUE       set a variable (repeatable)\n"
    "      --clear-env            start from an empty environment\n"
    "      --ro DIR               DIR visible and read-only (repeatable)\n"
    "      --allow DIR            only allowed dirs (rw), --ro dirs and a read-only\n"
    "                             runtime are visible (repeatable)\n"
    "      --no-net               a network namespace with only lo\n"
    "      --private-tmp          an empty tmpfs on /tmp\n"
    "      --pidns                a PID namespace whose PID 1 is the program\n"
    "      --pidns-init           a PID namespace whose PID 1 is sbx's init (it reaps\n"
    "                             every zombie, forwards signals); the program is PID 2\n"
    "                             (the default)\n"
    "      --no-pidns             no PID namespace: a /proc that hides the processes\n"
    "                             the program may not ptrace instead\n"
    "      --privileged           none of the default containment (new session, closed\n"
    "                             fds, namespaces, read-only /sys and cgroups, masked\n"
    "                             /proc, dropped capabilities, seccomp): the program\n"
    "                             can undo its limits, so they need --best-effort\n"
    "      --cap-add CAP[,CAP]    give capabilities back (NET_ADMIN, CAP_SYS_TIME...)\n"
    "      --enter PID            run in the namespaces of PID (a running sandbox's\n"
    "                             process: a probe where it runs), contained as ever\n"
    "      --user USER, --group GROUP   drop to them (supplementary groups cleared)\n"
    "      --no-new-privs         setuid binaries cannot raise privileges (default)\n"
    "      --new-privs            allow them again\n"
    "      --seccomp PROFILE      default | none | FILE (allow or deny list)\n"
    "      --hostname NAME        a UTS namespace with this host name\n"
    "      --stdin FILE|null      (default: inherit)\n"
    "      --stdout FILE|null     append to FILE (default: inherit)\n"
    "      --stderr FILE|null     append to FILE (default: inherit)\n"
    "      --result FILE          write the result as JSON (\"-\" = stderr)\n"
    "      --backend NAME         cgroup2 | cgroup1 | rlimit (default: best available)\n"
    "      --cgroup-root PATH     make sandboxes below this path in our own cgroup\n"
    "      --best-effort          run even if a requested limit cannot be enforced\n"
    "      --probe                print backend, cgroup mode and controllers as JSON\n"
    "  -h, --help                 this text\n"
    "      --version              print sbx-run's version\n"
    "Exit status: the program's; 128+N if killed by signal N; 123 if the program\n"
    "changed its limits or left its box; 124 on timeout; 125 if the sandbox could\n"
    "not be set up; 126 not executable; 127 not found.\n";

static _Noreturn void die_usage(const char *opt, const char *msg)
{
    fprintf(stderr, "sbx-run: %s%s%s\n", opt ? opt : "", opt ? ": " : "", msg);
    fprintf(stderr, "Try 'sbx-run --help'.\n");
    exit(EXIT_SETUP);
}

static void check(int rc, const char *opt, const sbx_error *e)
{
    if (rc < 0)
        die_usage(opt, e->msg);
}

/* The values that are checked with libsbx's parsers: the limits of its
 * table, --core, and the durations. */
static void parse_value(int c, const char *name, const char *arg, struct options *o)
{
    sbx_error e = {0};
    uint64_t v = 0;
    const sbx_limit_info *k = limit_option_row(c);
    if (k) {
        check(sbx_limit_parse(k, &o->limits, arg, &e), name, &e);
        return;
    }
    switch (c) {
    case 'K':
        if (strcmp(arg, "0") != 0)
            check(sbx_parse_size(arg, &v, &e), name, &e);
        o->limits.core = (int64_t)v;
        break;
    case 't': check(sbx_parse_duration(arg, &o->run.timeout_ms, &e), name, &e); break;
    case 'G': check(sbx_parse_duration(arg, &o->run.kill_grace_ms, &e), name, &e); break;
    case 'J':
        check(sbx_parse_count(arg, 1, 4194304, &v, &e), name, &e);
        o->enter_pid = (pid_t)v;
        break;
    case 'A':
        check(sbx_parse_capabilities(arg, &v, &e), name, &e);
        o->iso.cap_add |= v;
        break;
    default: break;
    }
}

/* The options besides the limits (limit_options.c adds those). */
static const struct option base_options[] = {
    {"core", required_argument, NULL, 'K'},
    {"timeout", required_argument, NULL, 't'},
    {"kill-grace", required_argument, NULL, 'G'},
    {"wait-leftovers", no_argument, NULL, 'L'},
    {"cwd", required_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'e'},
    {"clear-env", no_argument, NULL, 'E'},
    {"stdin", required_argument, NULL, '0'},
    {"stdout", required_argument, NULL, '1'},
    {"stderr", required_argument, NULL, '2'},
    {"result", required_argument, NULL, 'R'},
    {"backend", required_argument, NULL, 'B'},
    {"cgroup-root", required_argument, NULL, 'O'},
    {"best-effort", no_argument, NULL, 'b'},
    {"probe", no_argument, NULL, 'P'},
    {"ro", required_argument, NULL, 'r'},
    {"allow", required_argument, NULL, 'a'},
    {"no-net", no_argument, NULL, 'n'},
    {"private-tmp", no_argument, NULL, 'T'},
    {"pidns", no_argument, NULL, 'I'},
    {"pidns-init", no_argument, NULL, 'i'},
    {"user", required_argument, NULL, 'u'},
    {"group", required_argument, NULL, 'g'},
    {"no-new-privs", no_argument, NULL, 'V'},
    {"new-privs", no_argument, NULL, 'v'},
    {"seccomp", required_argument, NULL, 's'},
    {"hostname", required_argument, NULL, 'H'},
    {"no-pidns", no_argument, NULL, 'X'},
    {"privileged", no_argument, NULL, 'W'},
    {"cap-add", required_argument, NULL, 'A'},
    {"enter", required_argument, NULL, 'J'},
    {"version", no_argument, NULL, 'Z'},
    {"help", no_argument, NULL, 'h'},
};
#define NBASE (sizeof base_options / sizeof base_options[0])

/* base_options and the limits, ended by a zero entry. */
static struct option longs[NBASE + SBX_LIMITS_MAX + 1];

/* "--memory" for -m too: messages name the long form. */
static const char *option_name(int c, char *buf, size_t len)
{
    const struct option *lo = NULL;
    for (const struct option *l = longs; l->name; l++)
        if (l->val == c)
            lo = l;
    snprintf(buf, len, "--%s", lo ? lo->name : "?");
    return buf;
}

static void options_init(struct options *o, int argc)
{
    sbx_limits_init(&o->limits);
    run_options_init(&o->run);
    o->env_add = calloc((size_t)argc + 1, sizeof *o->env_add);
    o->ro = calloc((size_t)argc + 1, sizeof *o->ro);
    o->allow = calloc((size_t)argc + 1, sizeof *o->allow);
    o->iso.no_new_privs = true;
}

static void set_seccomp(const char *arg, sbx_isolation *iso)
{
    if (strcmp(arg, "default") == 0)
        iso->seccomp = SBX_SECCOMP_DEFAULT;
    else if (strcmp(arg, "none") == 0)
        iso->seccomp = SBX_SECCOMP_NONE;
    else {
        iso->seccomp = SBX_SECCOMP_FILE;
        iso->seccomp_file = arg;
    }
}

/* The isolation options; false when c is none of them. */
static bool set_isolation(int c, char *arg, struct options *o)
{
    switch (c) {
    case 'r': o->ro[o->nro++] = arg; break;
    case 'a': o->allow[o->nallow++] = arg; break;
    case 'n': o->iso.no_net = true; break;
    case 'T': o->iso.private_tmp = true; break;
    case 'I': o->iso.pid_ns = SBX_PID_NS_PROGRAM; o->pidns_chosen = true; break;
    case 'i': o->iso.pid_ns = SBX_PID_NS_INIT; o->pidns_chosen = true; break;
    case 'X': o->iso.pid_ns = SBX_PID_NS_NONE; o->pidns_chosen = true; break;
    case 'W': o->iso.privileged = true; break;
    case 'u': o->user = arg; break;
    case 'g': o->group = arg; break;
    case 'V': o->iso.no_new_privs = true; break;
    case 'v': o->iso.no_new_privs = false; break;
    case 'H':
        if (!*arg || strlen(arg) > 64)
            die_usage("--hostname", "expected a name of 1 to 64 characters");
        o->iso.hostname = arg;
        break;
    case 's': set_seccomp(arg, &o->iso); break;
    default: return false;
    }
    return true;
}

/* How the program runs: its environment, files and sbx-run's own
 * settings; false when c is none of them. */
static bool set_run_option(int c, char *arg, struct options *o)
{
    switch (c) {
    case 'L': o->run.wait_leftovers = true; break;
    case 'C': o->cwd = arg; break;
    case 'e':
        if (!strchr(arg, '=') || arg[0] == '=')
            die_usage("--env", "expected NAME=VALUE");
        o->env_add[o->nenv++] = arg;
        break;
    case 'E': o->clear_env = true; break;
    case '0': case '1': case '2': o->stdio[c - '0'] = arg; break;
    case 'R': o->result_path = arg; break;
    case 'B': o->backend = arg; break;
    case 'O': o->cgroup_root = arg; break;
    case 'b': o->best_effort = true; break;
    case 'P': o->probe = true; break;
    default: return false;
    }
    return true;
}

static void finish_options(struct options *o, char **argv)
{
    o->argv = argv;
    o->iso.readonly = o->ro;
    o->iso.allow = o->allow;
    o->iso.pid_ns_wait_all = o->run.wait_leftovers;
    /* Nothing of the run outlives sbx-run, however it ends. */
    o->iso.die_with_parent = true;
    /* Contained: sbx's init as PID 1 unless asked otherwise (most programs
     * are not written to be PID 1); privileged: as before, none. */
#ifndef _WIN32  /* (no PID namespaces there) */
    if (!o->pidns_chosen && !o->iso.privileged)
        o->iso.pid_ns = SBX_PID_NS_INIT;
#endif
    if (!o->probe && !o->argv[0])
        die_usage(NULL, "no command given");
}

static void parse_args(int argc, char **argv, struct options *o)
{
    int c, idx;
    limit_options_build(longs, base_options, NBASE);
    options_init(o, argc);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+m:c:p:t:C:e:h", longs, &idx)) != -1) {
        char name[40];
        if (c == 'h')
            fputs(usage_text, stdout), exit(0);
        if (c == 'Z')
            puts("sbx-run " SBX_VERSION), exit(0);
        if (c == '?')
            die_usage(argv[optind - 1], "unknown option or missing value");
        if (!set_run_option(c, optarg, o) && !set_isolation(c, optarg, o))
            parse_value(c, option_name(c, name, sizeof name), optarg, o);
    }
    finish_options(o, argv + optind);
}

static bool resolve_ids(const struct options *o, sbx_command *cmd)
{
    char why[200];
    if (run_resolve_ids(o->user, o->group, cmd, why, sizeof why) < 0) {
        fprintf(stderr, "sbx-run: --%s\n", why);
        return false;
    }
#ifndef _WIN32  /* (no users to switch to there: resolving failed) */
    /* Already that user: nothing to drop (and no root needed). */
    if (cmd->set_ids)
        cmd->set_ids = cmd->uid != geteuid() || cmd->gid != getegid();
#endif
    return true;
}

static void stdio_spec(const char *arg, sbx_stdio *s)
{
    if (!arg)
        s->kind = SBX_STDIO_INHERIT;
    else if (strcmp(arg, "null") == 0)
        s->kind = SBX_STDIO_NULL;
    else {
        s->kind = SBX_STDIO_FILE;
        s->path = arg;
    }
}

static int probe(const struct options *o)
{
    sbx_backend *be = NULL;
    sbx_error e = {0};
    sbx_backend_options bo = {.name = o->backend, .cgroup_root = o->cgroup_root};
    json_t *out = json_object();
    int rc = sbx_backend_open(&bo, &be, &e);
    if (rc == 0) {
        sbx_backend_info info;
        sbx_backend_describe(be, &info);
        json_t *ctl = json_array();
        for (size_t i = 0; i < info.ncontrollers; i++)
            json_array_append_new(ctl, json_string(info.controllers[i]));
        json_object_set_new(out, "backend", json_string(info.backend));
        json_object_set_new(out, "cgroup_mode", json_string(sbx_cgroup_mode_name(info.mode)));
        json_object_set_new(out, "controllers", ctl);
        json_object_set_new(out, "cgroup_base", json_string(info.base));
    } else {
        json_object_set_new(out, "backend", json_null());
        json_object_set_new(out, "cgroup_mode",
                            json_string(sbx_cgroup_mode_name(sbx_detect_cgroup_mode())));
        json_object_set_new(out, "error", json_string(e.msg));
    }
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(out);
    sbx_backend_close(be);
    return rc == 0 ? 0 : EXIT_SETUP;
}

/* Signals sbx-run handles: the first three stop the run, the others (not
 * on Windows) are passed on to the program, so a program that signals its
 * process group (a privileged one shares ours) cannot end sbx-run. */
#ifdef _WIN32
#define N_SIGNALS 3
static const int handled_signals[N_SIGNALS] = {SIGINT, SIGTERM, SIGHUP};
#else
#define N_SIGNALS 5
static const int handled_signals[N_SIGNALS] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
#endif

struct ctx {
    uv_loop_t *loop;
    run run;
    uv_signal_t sig[N_SIGNALS];
    run_result res;
    bool done;
    char left[300];         /* how the program left its box, or "" */
};

#ifndef _WIN32
/* The program, a zombie about to be reaped: was it still in the box? */
static void inspect_exit(void *data, pid_t pid)
{
    struct ctx *c = data;
    if (pid == c->run.pid && !c->left[0] &&
        sbx_box_verify(c->run.box, pid, c->left, sizeof c->left) != 1)
        c->left[0] = '\0';
}
#endif

#ifdef __linux__
/* A privileged program on cgroup v1 may move itself out of its box, and
 * its zombie shows "/" in every v1 hierarchy: traced to its exit (nothing
 * else), it is inspected at the last moment it still shows where it is
 * (reaper_posix.c resumes it). Contained programs cannot move at all. */
static void trace_exit(const struct options *o, sbx_backend *be, pid_t pid)
{
    if (o->iso.privileged && o->iso.pid_ns == SBX_PID_NS_NONE &&
        strcmp(sbx_backend_name(be), "cgroup1") == 0)
        ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT);  /* else the zombie's word */
}
#else
static void trace_exit(const struct options *o, sbx_backend *be, pid_t pid)
{
    (void)o, (void)be, (void)pid;
}
#endif

/* A box left or changed is never a clean run (run.c reads the limits
 * back; the main process's whereabouts are ours to check). */
static void mark_escaped(struct ctx *c)
{
    if (!c->left[0] || c->res.reason == RUN_ESCAPED || c->res.reason == RUN_START_FAILED)
        return;
    c->res.reason = RUN_ESCAPED;
    snprintf(c->res.error, sizeof c->res.error, "escaped: %s", c->left);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct ctx *c = h->data;
#ifndef _WIN32
    if (signum == SIGUSR1 || signum == SIGUSR2) {
        if (c->run.pid > 0)  /* sbx's init passes these on to the program */
            kill(c->run.pid, signum);
        return;
    }
#endif
    (void)signum;
    run_stop(&c->run);
}

static void on_done(run *r, const run_result *res)
{
    struct ctx *c = r->data;
    c->res = *res;
    c->done = true;
    for (int i = 0; i < N_SIGNALS; i++)
        uv_close((uv_handle_t *)&c->sig[i], NULL);
    run_close(r);
}

static int exit_status(const run_result *res)
{
    switch (res->reason) {
    case RUN_EXITED: return res->exit_code;
    case RUN_SIGNALED:
    case RUN_MEMORY: return 128 + res->signal;
    case RUN_TIMEOUT: return EXIT_TIMEOUT;
    case RUN_CRASHED: return res->exit_code;  /* the NTSTATUS, as Windows reports it */
    case RUN_ESCAPED: return EXIT_ESCAPED;
    case RUN_NOT_READY:     /* sbx-run has no readiness: never its result */
    case RUN_WATCHDOG:
    case RUN_UNHEALTHY:
    case RUN_LOST: return EXIT_SETUP;  /* nor sbxd's adopted runs' */
    case RUN_START_FAILED:
        if (res->failed_stage != SBX_STAGE_EXEC)
            return EXIT_SETUP;
        return res->failed_errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
    }
    return EXIT_SETUP;
}

static const sbx_isolation *result_iso;  /* what the result lists as applied */
static const char *result_user, *result_group;

static void write_result(FILE *f, const run_result *res, const sbx_backend *be,
                         const sbx_box *box)
{
    if (!f)
        return;
    json_t *j = result_to_json(res, be, box);
    json_t *iso = isolation_to_json(res->reason == RUN_START_FAILED ? NULL : result_iso);
    if (res->reason != RUN_START_FAILED && (result_user || result_group)) {
        char item[300];
        if (result_user) {
            snprintf(item, sizeof item, "user %s", result_user);
            json_array_append_new(iso, json_string(item));
        }
        if (result_group) {
            snprintf(item, sizeof item, "group %s", result_group);
            json_array_append_new(iso, json_string(item));
        }
        json_array_append_new(iso, json_string("supplementary groups cleared"));
    }
    json_object_set_new(j, "isolation", iso);
    json_object_set_new(j, "privileged", json_boolean(result_iso && result_iso->privileged));
    enforced_mark_undoable(json_object_get(j, "enforced"), result_iso);
    json_dumpf(j, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    fflush(f);
    json_decref(j);
}

/* The result file is opened first, so a bad path stops us before the
 * program runs, not after (when its result would be lost). */
static void open_result(struct options *o)
{
    if (!o->result_path)
        return;
    o->result = strcmp(o->result_path, "-") == 0 ? stderr : fopen(o->result_path, "we");
    if (!o->result) {
        fprintf(stderr, "sbx-run: --result %s: %s\n", o->result_path, strerror(errno));
        exit(EXIT_SETUP);
    }
}

/* libsbx says what failed; what would help is sbx-run's to say, in its
 * options' words. Appended to msg. */
static void add_hint(const struct options *o, int code, char *msg, size_t len)
{
    const char *hint = NULL;
    size_t n = strlen(msg);
    if (code == -EOPNOTSUPP && !o->best_effort)
        hint = "use --best-effort to run without it";
    else if (code == -EPERM && !o->best_effort && sbx_isolation_by_landlock(&o->iso))
        hint = "use --best-effort to run without the rest";
    else if (code == -EINVAL && o->iso.pid_ns == SBX_PID_NS_PROGRAM && o->run.wait_leftovers)
        hint = "use --pidns-init";
    if (hint && n < len)
        snprintf(msg + n, len - n, " (%s)", hint);
}

/* Reports a failure to set up the sandbox: status 125. */
static int setup_failed(const struct options *o, const sbx_backend *be, const sbx_error *e)
{
    run_result res = {.reason = RUN_START_FAILED, .exit_code = -1,
                      .failed_stage = SBX_STAGE_CGROUP, .failed_errno = -e->code,
                      .stats = SBX_STATS_UNKNOWN};
    snprintf(res.error, sizeof res.error, "%s", e->msg);
    add_hint(o, e->code, res.error, sizeof res.error);
    fprintf(stderr, "sbx-run: %s\n", res.error);
    write_result(o->result, &res, be, NULL);
    return EXIT_SETUP;
}

static int run_command(const struct options *o, sbx_backend *be, sbx_box *box)
{
    char **env = run_env(o->clear_env ? NULL : run_inherited_env(), o->env_add, o->nenv);
    sbx_command cmd = {.argv = o->argv, .envp = env, .cwd = o->cwd, .iso = &o->iso,
                       .enter_pid = o->enter_pid};
    if (!resolve_ids(o, &cmd)) {
        free(env);
        return EXIT_SETUP;
    }
    for (int i = 0; i < 3; i++)
        stdio_spec(o->stdio[i], &cmd.stdio[i]);

    struct ctx c = {.loop = uv_default_loop()};
    reaper_init(c.loop);
    reaper_attach(be);
    for (int i = 0; i < N_SIGNALS; i++) {
        uv_signal_init(c.loop, &c.sig[i]);
        c.sig[i].data = &c;
        uv_signal_start(&c.sig[i], on_stop_signal, handled_signals[i]);
    }
    c.run.data = &c;
#ifndef _WIN32
    reaper_set_inspect(inspect_exit, &c);
#endif
    int r = run_start(&c.run, c.loop, box, &cmd, &o->run, on_done, &c.res);
    if (r == 0)
        trace_exit(o, be, c.run.pid);
    if (r < 0) {
        add_hint(o, r, c.res.error, sizeof c.res.error);
        fprintf(stderr, "sbx-run: %s\n", c.res.error);
        for (int i = 0; i < N_SIGNALS; i++)
            uv_close((uv_handle_t *)&c.sig[i], NULL);
    }
    c.run.data = &c;
    uv_run(c.loop, UV_RUN_DEFAULT);
#ifndef _WIN32
    reaper_set_inspect(NULL, NULL);
#endif
    mark_escaped(&c);

    sbx_error e = {0};
    if (sbx_box_destroy(box, &e) < 0) {
        fprintf(stderr, "sbx-run: cleanup: %s\n", e.msg);
        if (!c.res.error[0])
            snprintf(c.res.error, sizeof c.res.error, "cleanup: %s", e.msg);
    }
    write_result(o->result, &c.res, be, box);
    reaper_close();
    uv_run(c.loop, UV_RUN_DEFAULT);
    uv_loop_close(c.loop);
    free(env);
    return exit_status(&c.res);
}

/* sbx-run-PID, or sbx-run-PID.N when a run killed before it could clean
 * up left a cgroup of that name behind (pids wrap around). */
static int create_box(sbx_backend *be, const char *name, const sbx_limits *l,
                      unsigned flags, sbx_box **box, sbx_error *e)
{
    int r = sbx_box_create(be, name, l, flags, box, e);
    for (int i = 1; r == -EEXIST && i < 100; i++) {
        char alt[64];
        snprintf(alt, sizeof alt, "%s.%d", name, i);
        r = sbx_box_create(be, alt, l, flags, box, e);
    }
    return r;
}

/* Limits a program spawned with o's isolation could undo (privileged, or
 * a capability given back) hold only with --best-effort: NULL, or why not. */
static const char *undoable_limits(const struct options *o)
{
    const sbx_limits *l = &o->limits;
    bool cgroup = l->memory || l->cpu_percent || l->cpu_weight || l->pids;
    bool rlimit = l->nofile || l->core >= 0;
    const char *why = cgroup ? sbx_isolation_undoes_limits(&o->iso, false) : NULL;
    if (!why && rlimit)
        why = sbx_isolation_undoes_limits(&o->iso, true);
    return o->best_effort ? NULL : why;
}

#ifndef _WIN32
/* A process's start time (clock ticks since boot), or 0 when it is gone. */
static unsigned long long start_time(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long t = 0;
    /* After the name: state, then 18 fields, then starttime (field 22). */
    if (p && sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                           "%*s %*s %*s %*s %llu", &t) != 1)
        t = 0;
    return t;
}

/* sbx-run-PID-START: stale when no process PID started at START (it died,
 * and its pid may have been reused). Names without a start time (older
 * runs) only when PID is gone. */
static bool box_stale(const char *name, void *data)
{
    long pid = 0;
    unsigned long long started = 0;
    (void)data;
    int n = sscanf(name, "sbx-run-%ld-%llu", &pid, &started);
    if (n < 1 || pid <= 0 || pid == (long)getpid())
        return false;
    unsigned long long now = start_time(pid);
    return now == 0 || (n == 2 && now != started);
}
#endif

/* The box's name records its owner: the next run removes the boxes of an
 * sbx-run that died before it could (killed by SIGKILL). */
static void box_name(char *name, size_t len)
{
#ifdef _WIN32
    snprintf(name, len, "sbx-run-%ld", (long)getpid());
#else
    snprintf(name, len, "sbx-run-%ld-%llu", (long)getpid(), start_time((long)getpid()));
#endif
}

static bool fall_back_to_rlimit(const struct options *o, int err)
{
    const sbx_limits *l = &o->limits;
    return !o->backend && (err == -EACCES || err == -EPERM || err == -EROFS) &&
           !l->memory && !l->cpu_percent && !l->cpu_weight && !l->pids;
}

/* The backend and the box: the best backend, or rlimits when no cgroup of
 * our own can be made and nothing asked for needs one. */
static int open_box(const struct options *o, sbx_backend **be, sbx_box **box, sbx_error *e)
{
    sbx_backend_options bo = {.name = o->backend, .cgroup_root = o->cgroup_root};
    char name[64];
    box_name(name, sizeof name);
    unsigned flags = (o->best_effort ? SBX_BEST_EFFORT : 0) |
                     (o->iso.pid_ns == SBX_PID_NS_INIT ? SBX_BOX_INIT : 0);
    const char *undoable = undoable_limits(o);
    int r = sbx_backend_open(&bo, be, e);
    if (r == 0 && undoable)
        r = sbx_error_set(e, -EPERM, "the limits would not hold: %s (--best-effort to run "
                          "anyway, or drop --privileged / the capability)", undoable);
#ifndef _WIN32
    if (r == 0)
        sbx_backend_sweep(*be, "sbx-run-", box_stale, NULL);
#endif
    if (r == 0)
        r = create_box(*be, name, &o->limits, flags, box, e);
    if (r < 0 && *be && fall_back_to_rlimit(o, r)) {
        sbx_backend_close(*be);
        bo.name = "rlimit";
        *be = NULL;
        if ((r = sbx_backend_open(&bo, be, e)) == 0)
            r = create_box(*be, name, &o->limits, flags, box, e);
    }
    return r;
}

static void free_options(struct options *o)
{
    free(o->env_add);
    free(o->ro);
    free(o->allow);
    if (o->result && o->result != stderr)
        fclose(o->result);
}

/* What isolation the run gets, and the result says: with --best-effort
 * and neither root nor user namespaces, what can be had without them. */
static void settle_isolation(struct options *o)
{
#ifdef _WIN32
    /* Namespaces and the like are refused (or skipped with --best-effort):
     * the result names only what the job gives (isolation_to_json). */
    static sbx_isolation job_iso;
    job_iso.privileged = o->iso.privileged;
    result_iso = &job_iso;
#else
    /* No namespaces can be made here (not root, user namespaces refused):
     * the default PID namespace goes, the rest of the containment that
     * needs none stays (the result lists what was applied). */
    if (!o->pidns_chosen && !sbx_namespaces_available())
        o->iso.pid_ns = SBX_PID_NS_NONE;
    if (o->best_effort && sbx_isolation_needs_namespaces(&o->iso) && !sbx_namespaces_available()) {
        /* Neither root nor user namespaces: run without the namespaces (the
         * result's isolation list says what is left), as asked. */
        fprintf(stderr, "sbx-run: warning: no namespaces here (not root, user namespaces "
                        "refused); running without them%s\n",
                o->nallow ? " (--allow and --ro held by Landlock)" : "");
        sbx_isolation left = {.no_new_privs = o->iso.no_new_privs, .seccomp = o->iso.seccomp,
                              .seccomp_file = o->iso.seccomp_file,
                              .privileged = o->iso.privileged, .cap_add = o->iso.cap_add};
        if (o->nallow) {  /* what Landlock can give */
            left.allow = o->iso.allow;
            left.readonly = o->iso.readonly;
        }
        o->iso = left;
    }
    result_iso = &o->iso;
#endif
}

int main(int argc, char **argv)
{
#ifdef _WIN32
    argv = sbx_utf8_argv(&argc);  /* UTF-8, not the ANSI code page */
#endif
    struct options o = {0};
    parse_args(argc, argv, &o);
    if (o.probe) {
        int rc = probe(&o);
        free_options(&o);
        return rc;
    }
    open_result(&o);
    settle_isolation(&o);
    result_user = o.user;
    result_group = o.group;
    sbx_backend *be = NULL;
    sbx_box *box = NULL;
    sbx_error e = {0};
    int r = open_box(&o, &be, &box, &e);
    int status = r < 0 ? setup_failed(&o, be, &e) : run_command(&o, be, box);
    sbx_box_free(box);
    sbx_backend_close(be);
    free_options(&o);
    return status;
}
