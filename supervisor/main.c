/* sbxd: supervise the units of a directory, each in its own sandbox, on
 * one libuv loop. Runs in the foreground; as PID 1 it also reaps every
 * orphan and powers the machine off after a clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#include <grp.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/resource.h>
#endif

#include "control.h"
#include "fdlimit.h"
#include "loader.h"
#include "manager.h"
#include "notify.h"
#include "paths.h"
#include "portable.h"
#include "reaper.h"
#include "reexec.h"
#include "sampler.h"
#include "version.h"
#ifndef _WIN32
#include "http.h"
#include "observe.h"
#include "scope.h"
#endif

#ifdef _WIN32
#define DEFAULT_SOCKET "\\\\.\\pipe\\sbxd"
#define DEFAULT_RUN_DIR ""  /* no notify sockets on Windows */
#define DEFAULT_STATE_BASE "none"
#define SIGNALS_HELP "Console: Ctrl-C, Ctrl-Break or closing it stops every unit, then sbxd exits.\n"
/* Console events as libuv delivers them; every one is a stop. */
static const int handled[] = {SIGINT, SIGBREAK, SIGHUP};
#else
#define DEFAULT_SOCKET "/run/sbx/sbxd.sock"
#define DEFAULT_RUN_DIR "/run/sbx"
#define DEFAULT_STATE_BASE "/run/sbx"
#define SIGNALS_HELP "Signals: TERM/INT stop every unit in reverse dependency order, then exit;\n" \
                     "HUP reloads the units; USR1 reopens the log files;\n" \
                     "USR2 executes sbxd's binary again (live upgrade: units keep running).\n"
static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
#endif
#define NHANDLED (sizeof handled / sizeof handled[0])

struct settings {
    manager_settings m;
    const char *check_dir;
    const char *socket_path;
    const char *control_group, *read_group;
    const char *http_listen, *http_token;  /* the HTTP view: off when NULL */
    const char *sample;       /* --sample INTERVAL: trends always; NULL: when watched */
    const char *state_dir;    /* NULL: the default for our cgroup tree */
    const char *units_scope;  /* NULL, or the systemd scope of the units (scope.h) */
    char scope_base[2048];    /* its cgroup, once found or made */
    char *owned[16];          /* strings read from sbxd.ini */
    int nowned;
};

static const char usage_text[] =
    "usage: sbxd [OPTIONS]\n"
    "  -u, --units DIR         the units directory (default: conf.d)\n"
    "      --check DIR         validate the units of DIR, start nothing (exit 0/1)\n"
    "      --config FILE       read settings from FILE (sbxd.ini)\n"
    "      --log-dir DIR       capture unit output in DIR/NAME.log (default: memory only)\n"
    "      --cgroup-root NAME  make unit cgroups below NAME in our own cgroup (default: sbxd)\n"
    "      --units-scope NAME  under systemd (cgroup v2): put the units' cgroups in the\n"
    "                          delegated scope NAME.scope, which outlives a crash of sbxd\n"
    "      --backend NAME      cgroup2 | cgroup1 | rlimit (default: best available)\n"
    "      --socket PATH       control socket (default: " DEFAULT_SOCKET "; \"none\": no socket)\n"
    "      --run-dir DIR       units' notify sockets in DIR/notify/HASH/NAME/ (default: " DEFAULT_RUN_DIR ")\n"
    "      --control-group G   members of group G may control sbxd (socket mode 0660)\n"
    "      --read-group G      members of group G may query status, logs, events\n"
    "      --log-format FMT    text (default) or json: sbxd's own events on stderr\n"
    "      --http ADDR:PORT    serve the status page, /api/v1/units and /metrics (read-only;\n"
    "                          PORT alone: 127.0.0.1:PORT)\n"
    "      --http-token FILE   every HTTP request needs the token of FILE (mode 0600)\n"
    "      --sample INTERVAL   sample every unit's memory and CPU for trends at INTERVAL\n"
    "                          (default: every 2s, only while the page or top is open)\n"
    "      --state-dir DIR     records for re-adoption after a crash, and the lock\n"
    "                          (default: " DEFAULT_STATE_BASE "/state-HASH, one per cgroup tree;\n"
    "                          \"none\": no adoption, no lock)\n"
    "  -f, --foreground        (sbxd always runs in the foreground)\n"
    "  -h, --help\n"
    "      --version\n"
    SIGNALS_HELP;

static int on_config(void *data, const char *section, const char *name, const char *value)
{
    struct settings *s = data;
    if (strcmp(section, "sbxd") != 0 || s->nowned == 16) {
        fprintf(stderr, "sbxd: config: unknown section [%s]\n", section);
        return 0;
    }
    char *v = strdup(value);
    s->owned[s->nowned++] = v;
    if (strcmp(name, "units") == 0)
        s->m.units_dir = v;
    else if (strcmp(name, "log_dir") == 0)
        s->m.log_dir = v;
    else if (strcmp(name, "cgroup_root") == 0)
        s->m.cgroup_root = v;
    else if (strcmp(name, "backend") == 0)
        s->m.backend = v;
    else if (strcmp(name, "socket") == 0)
        s->socket_path = v;
    else if (strcmp(name, "run_dir") == 0)
        s->m.run_dir = v;
    else if (strcmp(name, "control_group") == 0)
        s->control_group = v;
    else if (strcmp(name, "read_group") == 0)
        s->read_group = v;
    else if (strcmp(name, "http") == 0)
        s->http_listen = v;
    else if (strcmp(name, "http_token") == 0)
        s->http_token = v;
    else if (strcmp(name, "sample") == 0)
        s->sample = v;
    else if (strcmp(name, "state_dir") == 0)
        s->state_dir = v;
    else if (strcmp(name, "units_scope") == 0)
        s->units_scope = v;
    else if (strcmp(name, "log_format") == 0)
        s->m.json_log = strcmp(v, "json") == 0;
    else {
        fprintf(stderr, "sbxd: config: [sbxd] %s: unknown key\n", name);
        return 0;
    }
    return 1;
}

static void parse_args(int argc, char **argv, struct settings *s)
{
    static const struct option longs[] = {
        {"units", required_argument, NULL, 'u'},
        {"check", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"log-dir", required_argument, NULL, 'l'},
        {"cgroup-root", required_argument, NULL, 'r'},
        {"backend", required_argument, NULL, 'b'},
        {"socket", required_argument, NULL, 's'},
        {"run-dir", required_argument, NULL, 'D'},
        {"log-format", required_argument, NULL, 'F'},
        {"control-group", required_argument, NULL, 'G'},
        {"read-group", required_argument, NULL, 'R'},
        {"http", required_argument, NULL, 'H'},
        {"http-token", required_argument, NULL, 'T'},
        {"sample", required_argument, NULL, 'P'},
        {"state-dir", required_argument, NULL, 'S'},
        {"units-scope", required_argument, NULL, 'U'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    s->m.units_dir = paths_default_units();
    s->m.log_dir = paths_default_log_dir();
    s->m.cgroup_root = "sbxd";
    s->socket_path = DEFAULT_SOCKET;
    s->m.run_dir = DEFAULT_RUN_DIR;
    int c;
    while ((c = getopt_long(argc, argv, "u:fh", longs, NULL)) != -1) {
        switch (c) {
        case 'u': s->m.units_dir = optarg; break;
        case 'k': s->check_dir = optarg; break;
        case 'c': {
            int line = ini_parse(optarg, on_config, s);
            if (line != 0) {
                fprintf(stderr, "sbxd: %s:%d: bad setting (or cannot read the file)\n",
                        optarg, line < 0 ? 0 : line);
                exit(2);
            }
            break;
        }
        case 'l': s->m.log_dir = optarg; break;
        case 'r': s->m.cgroup_root = optarg; break;
        case 'b': s->m.backend = optarg; break;
        case 's': s->socket_path = optarg; break;
        case 'D': s->m.run_dir = optarg; break;
        case 'F':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr, "sbxd: --log-format: expected text or json\n");
                exit(2);
            }
            s->m.json_log = optarg[0] == 'j';
            break;
        case 'G': s->control_group = optarg; break;
        case 'R': s->read_group = optarg; break;
        case 'H': s->http_listen = optarg; break;
        case 'T': s->http_token = optarg; break;
        case 'P': s->sample = optarg; break;
        case 'S': s->state_dir = optarg; break;
        case 'U': s->units_scope = optarg; break;
        case 'f': break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': printf("sbxd %s\n", SBX_VERSION); exit(0);  /* one string: see reexec.h */
        default: fputs(usage_text, stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sbxd: unexpected argument '%s'\n", argv[optind]);
        exit(2);
    }
}

static struct {
    uv_loop_t *loop;
    manager m;
    control *ctl;
    sampler sampler;
#ifndef _WIN32
    observe *view;
    http_server *http;
#endif
    uv_signal_t sig[NHANDLED];
    bool stopping;
    int exit_status;            /* a critical unit's, else 0 */
    uv_timer_t critical;        /* the stop after a critical unit's end */
    state_dir *sd;              /* NULL: no state directory */
} D;

static void on_idle(manager *m)
{
    (void)m;
    control_close(D.ctl);
    D.ctl = NULL;
    sampler_close(&D.sampler);
#ifndef _WIN32
    if (D.http)
        http_stop(D.http);
    D.http = NULL;
#endif
    uv_close((uv_handle_t *)&D.critical, NULL);
#ifndef _WIN32
    /* Closing a signal handle puts back SIG_DFL: a second TERM arriving
     * during the last clean-up would kill us. Hold the signals while the
     * handles go and ignore them before letting them through again. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old);
#endif
    for (size_t i = 0; i < NHANDLED; i++)
        uv_close((uv_handle_t *)&D.sig[i], NULL);
#ifndef _WIN32
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigprocmask(SIG_SETMASK, &old, NULL);
#endif
}

#ifndef _WIN32  /* reload by SIGHUP; on Windows by sbxctl reload only */
static void print_list(const char *what, const strv *names)
{
    for (size_t i = 0; i < names->n; i++)
        fprintf(stderr, "%s%s\n", what, names->v[i]);
}

static void print_reload(manager *m)
{
    reload_report rep = {0};
    manager_reload(m, &rep);
    print_list("", &rep.errors);
    print_list("sbxd: reload: added ", &rep.added);
    print_list("sbxd: reload: removed ", &rep.removed);
    print_list("sbxd: reload: changed ", &rep.changed);
    reload_report_free(&rep);
}
#endif

/* To systemd (Type=notify): how many units are where. */
static void notify_counts(const char *first)
{
    size_t running = 0, starting = 0, failed = 0;
    for (size_t i = 0; i < D.m.n; i++) {
        svc_state st = D.m.svcs[i]->state;
        running += st == SVC_RUNNING;
        starting += st == SVC_STARTING || st == SVC_READYING || st == SVC_BACKOFF;
        failed += st == SVC_FAILED;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "%sSTATUS=%zu units: %zu running, %zu starting, %zu failed",
             first, D.m.n, running, starting, failed);
    notify_self(msg);
}

static void on_reload(manager *m, bool done)
{
    (void)m;
    if (done)
        notify_counts("READY=1\n");
    else
        notify_self("RELOADING=1");
}

static void stop_all(void)
{
    if (D.stopping)
        return;
    D.stopping = true;
    notify_self("STOPPING=1");
    fprintf(stderr, "sbxd: stopping every unit\n");
    D.m.on_idle = on_idle;
    manager_shutdown(&D.m);
}

static void on_critical_stop(uv_timer_t *t)
{
    (void)t;
    stop_all();
}

/* A critical unit ended: everything stops, and sbxd exits with its status.
 * The stop comes on the next turn of the loop, not from inside the
 * machine that reported the end. */
static void on_critical(manager *m, service *s)
{
    (void)m;
    if (D.stopping || uv_is_active((uv_handle_t *)&D.critical))
        return;
    D.exit_status = manager_exit_status(s);
    fprintf(stderr, "sbxd: critical unit %s ended (exit status %d): stopping\n", s->def.name,
            D.exit_status);
    uv_timer_start(&D.critical, on_critical_stop, 0, 0);
}

#ifndef _WIN32
/* Live upgrade (reexec.h): returns only when the exec failed, and then
 * sbxd goes on as it was. */
static void do_reexec(void *ctx, char *why, size_t len)
{
    (void)ctx;
    if (D.stopping) {
        snprintf(why, len, "sbxd is stopping");
        return;
    }
    char *units = manager_exec_handover(&D.m);
    reexec_fds fds = {.control = control_listen_fd(D.ctl),
                      .lock = D.m.state ? D.m.state->lock_fd : -1,
                      .board = sbx_status_board_fd(),
                      .http = D.http ? http_listen_fd(D.http) : -1, .units = units};
    fprintf(stderr, "sbxd: re-executing (version %s)\n", SBX_VERSION);
    notify_self("RELOADING=1");
    reexec_exec(&fds, why, len);
    free(units);
    fprintf(stderr, "sbxd: re-exec failed, running on: %s\n", why);
    notify_counts("READY=1\n");
}
#endif

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
#ifdef _WIN32
    (void)signum;
    stop_all();
#else
    switch (signum) {
    case SIGTERM:
    case SIGINT:
        stop_all();
        break;
    case SIGHUP:
        fprintf(stderr, "sbxd: reloading %s\n", D.m.cfg.units_dir);
        print_reload(&D.m);
        break;
    case SIGUSR1:
        manager_reopen_logs(&D.m);
        break;
    case SIGUSR2: {
        char why[600];
        do_reexec(NULL, why, sizeof why);
        break;
    }
    default:
        break;
    }
#endif
}

static bool group_id(const char *name, gid_t *gid)
{
#ifdef _WIN32
    (void)gid;
    fprintf(stderr, "sbxd: group '%s': groups are POSIX only (the pipe admits SYSTEM, "
            "Administrators and sbxd's own account)\n", name);
    return false;
#else
    struct group *g = getgrnam(name);
    if (!g) {
        fprintf(stderr, "sbxd: no group named '%s'\n", name);
        return false;
    }
    *gid = g->gr_gid;
    return true;
#endif
}

#ifndef _WIN32
/* The HTTP view, when asked for: a bad address or token file is a clear
 * refusal to start, not a silent listener-less sbxd. */
static int start_http(const struct settings *s, int kept_fd)
{
    if (!s->http_listen) {
        if (kept_fd >= 0)  /* --http dropped since: nobody is served there now */
            close(kept_fd);
        return 0;
    }
    http_config cfg = {.listen = s->http_listen, .token_file = s->http_token,
                       .inherited_fd = kept_fd};
    http_provider p = observe_provider(D.view);
    char err[512];
    if (http_start(D.loop, &cfg, &p, &D.http, err, sizeof err) < 0) {
        fprintf(stderr, "sbxd: http: %s\n", err);
        return -1;
    }
    fprintf(stderr, "sbxd: http: listening on port %u%s%s\n", (unsigned)http_port(D.http),
            s->http_token ? " (token required)" : "",
            http_inherited(D.http) ? " (kept across the re-exec)" : "");
    return 0;
}
#else
static int start_http(const struct settings *s, int kept_fd)
{
    (void)kept_fd;  /* no re-exec there */
    if (!s->http_listen)
        return 0;
    fprintf(stderr, "sbxd: http: not available on Windows\n");
    return -1;
}
#endif

static void on_watched(void *ctx)
{
    sampler_watch(ctx);
}

/* The sampler of trends: --sample INTERVAL runs it always. */
static int start_sampler(const struct settings *s)
{
    uint64_t ms = 0;
    sbx_error err = {0};
    if (s->sample && (sbx_parse_duration(s->sample, &ms, &err) < 0 || ms < 100)) {
        fprintf(stderr, "sbxd: --sample %s: %s\n", s->sample,
                err.msg[0] ? err.msg : "at least 100ms");
        return -1;
    }
    sampler_init(&D.sampler, &D.m, ms);
    return 0;
}

static int start_control(const struct settings *s, int kept_fd)
{
    control_settings cs = {.path = s->socket_path, .units_cgroup_root = s->m.cgroup_root,
                           .units_cgroup_base = s->m.cgroup_base,
                           .watched = on_watched, .watch_ctx = &D.sampler};
#ifndef _WIN32
    cs.metrics = observe_metrics;
    cs.views = D.view;
    cs.reexec = do_reexec;
    cs.has_listen_fd = kept_fd >= 0;
    cs.listen_fd = kept_fd;
#else
    (void)kept_fd;
#endif
    if (strcmp(s->socket_path, "none") == 0)
        return 0;
    if ((s->control_group && !(cs.has_control_gid = group_id(s->control_group, &cs.control_gid))) ||
        (s->read_group && !(cs.has_read_gid = group_id(s->read_group, &cs.read_gid))))
        return -1;
    sbx_error err = {0};
    if (control_start(&D.ctl, D.loop, &D.m, &cs, &err) < 0) {
        fprintf(stderr, "sbxd: control socket: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* The state directory, and with it the lock: one sbxd per tree. The
 * default is named after the cgroup tree the units live in, so two sbxd
 * on different trees never meet and two on the same one do. */
/* One more path out of every unit's sight (see hide_from_units). */
static void hide_also(const char *path)
{
    size_t n = 0;
    while (n + 2 < sizeof D.m.cfg.hide / sizeof D.m.cfg.hide[0] && D.m.cfg.hide[n])
        n++;
    if (!D.m.cfg.hide[n]) {
        D.m.cfg.hide[n] = path;
        D.m.cfg.hide[n + 1] = NULL;
    }
}

static int open_state(const struct settings *s, state_dir *sd)
{
    char path[4200];
    const char *dir = s->state_dir;
    if (!dir) {
        sbx_backend_info info;
        sbx_backend_describe(D.m.be, &info);
        char key[1100];
        snprintf(key, sizeof key, "%s\n%s", info.base, s->m.cgroup_root ? s->m.cgroup_root : "");
        if (strcmp(DEFAULT_STATE_BASE, "none") == 0)
            return 0;
        snprintf(path, sizeof path, "%s/state-%016llx", DEFAULT_STATE_BASE,
                 (unsigned long long)state_hash(key));
        dir = path;
    }
    if (strcmp(dir, "none") == 0)
        return 0;
    char why[600];
    int r = state_open(sd, dir, why, sizeof why);
    if (r < 0) {
        fprintf(stderr, "sbxd: state directory: %s\n", why);
        return r;
    }
    D.m.state = sd;
    hide_also(sd->path);  /* records and every unit's output */
    return 0;
}

/* This sbxd's notify sockets: RUNDIR/notify/HASH/NAME/notify, HASH from
 * its cgroup tree and state directory, so two sbxd sharing a run
 * directory never share a socket directory. All of RUNDIR/notify is
 * hidden from the units; each sees its own directory only (manager.c). */
static void place_notify(const struct settings *s)
{
    static char root[1100], dir[1200];
    if (!s->m.run_dir || !s->m.run_dir[0])
        return;
    sbx_backend_info info;
    sbx_backend_describe(D.m.be, &info);
    char key[3300];
    snprintf(key, sizeof key, "%s\n%s\n%s", info.base, s->m.cgroup_root ? s->m.cgroup_root : "",
             D.m.state ? D.m.state->path : "none");
    snprintf(root, sizeof root, "%s/notify", s->m.run_dir);
    snprintf(dir, sizeof dir, "%s/%016llx", root, (unsigned long long)state_hash(key));
    D.m.cfg.notify_dir = dir;
    /* Made now: a unit started before the first socket must find the
     * tree there to hide. */
    notify_make_dir(dir);
    hide_also(root);
}

/* PID 1 of the machine powers it off; PID 1 of a container (a PID
 * namespace that is not the first) just exits, as tini does: reboot()
 * there would end it by SIGINT (status 130 to the runtime). */
#ifndef _WIN32
static bool machine_init(void)
{
    struct stat st;
    return getpid() == 1 && stat("/proc/self/ns/pid", &st) == 0 &&
           st.st_ino == 0xEFFFFFFCu;  /* PROC_PID_INIT_INO: the first namespace */
}
#endif

/* What no unit may see in its mount namespace: the control socket (a
 * unit that reached it could raise its own limits; control.c refuses such
 * a peer as well) and every unit's logs. */
static void hide_from_units(struct settings *s)
{
    size_t n = 0;
    if (strcmp(s->socket_path, "none") != 0)
        s->m.hide[n++] = s->socket_path;
    if (s->m.log_dir)
        s->m.hide[n++] = s->m.log_dir;
    s->m.hide[n] = NULL;
}

/* --units-scope: the units' cgroups in a systemd scope beside sbxd's
 * service, found again after a crash (scope.h). */
static int place_in_scope(struct settings *s)
{
    if (!s->units_scope)
        return 0;
#ifndef _WIN32
    char why[512];
    int r = scope_ensure(s->units_scope, s->scope_base, sizeof s->scope_base, why, sizeof why);
    if (r == -ENODEV) {  /* the scope answers a cgroup v2 rule only */
        fprintf(stderr, "sbxd: %s: the units stay below sbxd's own cgroup\n", why);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "sbxd: %s\n", why);
        return -1;
    }
    s->m.cgroup_base = s->scope_base;
    fprintf(stderr, "sbxd: units in %s\n", s->scope_base);
    return 0;
#else
    fprintf(stderr, "sbxd: units_scope: not available on Windows\n");
    return -1;
#endif
}

/* Says once, at load, when the units will not fit in the descriptor
 * limit (see fdlimit.h). */
static void check_fd_budget(const manager *m, uint64_t limit)
{
    bool shared = strcmp(sbx_backend_name(m->be), "cgroup1") == 0;
    uint64_t need = FDLIMIT_FIXED + fdlimit_oom_cost(m->n, shared);
    for (size_t i = 0; i < m->n; i++)
        need += fdlimit_unit_cost(&m->svcs[i]->def);
    fdlimit_warn(stderr, m->n, need, limit);
}

int main(int argc, char **argv)
{
#ifdef _WIN32
    argv = sbx_utf8_argv(&argc);  /* UTF-8, not the ANSI code page */
#endif
    struct settings s = {0};
#ifndef _WIN32
    reexec_init(argc, argv);  /* before getopt reorders argv */
#endif
    parse_args(argc, argv, &s);
    if (s.check_dir) {
        int bad = loader_check_dir(s.check_dir, stderr);
        if (bad == 0)
            printf("%s: all units are valid\n", s.check_dir);
        for (int i = 0; i < s.nowned; i++)  /* the --config strings */
            free(s.owned[i]);
#ifndef _WIN32
        reexec_free();
#endif
        return bad ? 1 : 0;
    }
    reexec_fds kept = {.control = -1, .lock = -1, .board = -1, .http = -1};
    bool again = false;
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN);
    again = reexec_inherited(&kept);  /* before any unit could inherit it */
    state_keep_lock(kept.lock);
#endif
    notify_self_init();  /* before any unit can inherit NOTIFY_SOCKET */
    uint64_t fd_limit = fdlimit_raise();
    if (s.m.log_dir)
        mkdir(s.m.log_dir, 0750);
    hide_from_units(&s);
    D.loop = uv_default_loop();
    reaper_init(D.loop);
    if (place_in_scope(&s) < 0)
        return 1;
    sbx_error err = {0};
    if (manager_init(&D.m, D.loop, &s.m, &err) < 0) {
        fprintf(stderr, "sbxd: sandbox: %s\n", err.msg);
        return 1;
    }
    reaper_attach(D.m.be);
    state_dir sd = {.units_fd = -1, .lock_fd = -1, .output_fd = -1};
    if (open_state(&s, &sd) < 0) {
        manager_free(&D.m);
        return 1;
    }
    place_notify(&s);
    D.m.on_critical = on_critical;
    D.m.on_reload = on_reload;
    uv_timer_init(D.loop, &D.critical);
    for (size_t i = 0; i < NHANDLED; i++) {
        uv_signal_init(D.loop, &D.sig[i]);
        uv_signal_start(&D.sig[i], on_signal, handled[i]);
    }
#ifndef _WIN32
    if (s.http_token && !s.http_listen) {
        fprintf(stderr, "sbxd: --http-token without --http\n");
        return 2;
    }
    if (!(D.view = observe_new(&D.m, on_watched, &D.sampler))) {
        fprintf(stderr, "sbxd: out of memory\n");
        return 1;
    }
#endif
    if (start_sampler(&s) < 0 || start_control(&s, kept.control) < 0 ||
        start_http(&s, kept.http) < 0) {
        control_close(D.ctl);
        manager_free(&D.m);
        state_close(&sd);
        return 1;
    }
    int refused = manager_load(&D.m, stderr);
    fprintf(stderr, "sbxd: %zu unit(s) loaded from %s, %d refused, backend %s\n", D.m.n,
            s.m.units_dir, refused, sbx_backend_name(D.m.be));
    check_fd_budget(&D.m, fd_limit);
    if (D.m.state) {
        int adopted = manager_adopt(&D.m);
        fprintf(stderr, "sbxd: state in %s: %d unit(s) %s\n", sd.path, adopted,
                again ? "kept across the re-exec" : "adopted");
    }
#ifndef _WIN32
    manager_restore_kept(&D.m);
    reexec_close_unclaimed();
    reaper_reap();  /* units that ended during a re-exec: no SIGCHLD comes for them */
#endif
    if (again)
        fprintf(stderr, "sbxd: re-executed, version %s\n", SBX_VERSION);
    manager_start_all(&D.m);
    notify_counts("READY=1\n");
    uv_run(D.loop, UV_RUN_DEFAULT);

    reaper_attach(NULL);  /* before manager_free closes the backend */
    manager_free(&D.m);
    reaper_close();
    uv_run(D.loop, UV_RUN_DEFAULT);
    uv_loop_close(D.loop);
#ifndef _WIN32
    observe_free(D.view);
#endif
    for (int i = 0; i < s.nowned; i++)
        free(s.owned[i]);
#ifndef _WIN32
    reexec_free();
#endif
    if (D.m.state)
        state_close_clean(&sd);
#ifndef _WIN32
    if (s.m.cgroup_base)
        scope_release(s.m.cgroup_base);  /* every unit is stopped: the scope may go */
#endif
    fprintf(stderr, "sbxd: stopped\n");
#ifndef _WIN32
    if (machine_init()) {
        sync();
        reboot(RB_POWER_OFF);
    }
#endif
    return D.exit_status;
}
