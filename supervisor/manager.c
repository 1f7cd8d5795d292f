/* The set of units: see manager.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "reexec.h"
#include "fdlimit.h"
#include "health.h"
#include "loader.h"
#include "manager.h"
#include "notify.h"
#include "ready.h"
#include "portable.h"
#include "reaper.h"


/* Bulk start: spawns awaiting their exec report at once. Bounds the extra
 * descriptors (one each) whatever the number of units; far more than two
 * CPUs need to keep the cgroup migrations overlapping. */
#define START_WINDOW 256

/* What one service needs from the world, kept beside its state machine. */
typedef struct service_rt {
    manager *m;
    sbx_box *box;
    run run;
    bool run_active;
    uv_timer_t timer;
    int oom_fd;                 /* the box's OOM event fd (maybe shared), or -1 */
    int64_t oom_seen;
    bool oom_stirred;           /* its OOM event fd fired at least once */
    pid_t logged_pid;           /* the pid of the last "running" event */
    bool running_unlogged;      /* that event waits for the program's pid */
    char running_why[40];       /* and its reason */
    unit_log log;
    unit_def *pending;          /* reload: the new definition, once stopped */
    bool remove;                /* reload: drop once stopped */
    bool transient;             /* from `run`: dropped once it has ended */
    uint64_t since_ms;          /* when it entered its state */
    bool restart;               /* manager_restart: start once at rest */
    unsigned mark;              /* start_deps: marked in pass manager.mark */
    /* readiness and health (ready.h, health.h, notify.h) */
    notify_sock *notify;        /* ready = notify: the unit's own socket */
    const char *reveal[2];      /* its directory, seen in the unit's hidden notify tree */
    char status_text[NOTIFY_STATUS_MAX];  /* its last STATUS= */
    ready_watch ready;
    health health;
    sbx_isolation iso;          /* the probes': the unit's, into its def */
    char **env;                 /* the run's environment, for the probes too */
    bool set_ids;
    uid_t uid;
    gid_t gid;
    bool waiting;               /* in manager.waiting */
    bool changing;              /* in manager.changing */
    bool to_stop;               /* in manager.to_stop */
    bool required;              /* some unit requires it (bulk start) */
    bool counted;               /* shutdown: counted in its dependencies */
    unsigned dependents;        /* shutdown: units not at rest that require
                                   or follow it */
    adopt_watch *watch;         /* an adopted run: its main pid's end */
    bool adopted;               /* the current run was taken over */
    bool fifo_read;             /* the output FIFO's read end is in log */
    bool backlogged;            /* in manager.win's backlog */
    bool in_window;             /* its async spawn's report is awaited */
    bool start_failing;         /* retries fail to start: said once */
    bool held;                  /* stopped before a re-exec: not started by
                                   manager_start_all after it */
} service_rt;

/* ---- events: sbxd's own log ---- */

int64_t manager_wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void event(manager *m, service *s, const char *what, const char *detail)
{
    if (m->events) {
        if (m->cfg.json_log) {
            json_t *j = json_pack("{s:I, s:s, s:s, s:s?}", "time_ms",
                                  (json_int_t)manager_wall_ms(), "unit", s->def.name,
                                  "event", what, "detail", detail);
            char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(j);
            if (line)  /* one write: stderr is unbuffered */
                fprintf(m->events, "%s\n", line);
            free(line);
        } else {
            fprintf(m->events, "sbxd: %s: %s%s%s\n", s->def.name, what,
                    detail && *detail ? ": " : "", detail ? detail : "");
        }
        fflush(m->events);
    }
    if (m->on_event)
        m->on_event(m, s, what, detail);
}

static service_rt *rt_of(service *s)
{
    return s->owner;
}

/* ---- the world, as the state machine sees it (service_env) ---- */

static uint64_t env_now(void *ctx)
{
    manager *m = ctx;
    return uv_now(m->loop);
}

static uint32_t env_random(void *ctx)
{
    (void)ctx;
    uint32_t x = 0;
    uv_random(NULL, NULL, &x, sizeof x, 0, NULL);  /* restart jitter: rare */
    return x;
}

static void on_svc_timer(uv_timer_t *t)
{
    service_event(t->data, EV_TIMER, NULL);
}

static void env_timer_start(service *s, uint64_t ms)
{
    uv_timer_start(&rt_of(s)->timer, on_svc_timer, ms, 0);
}

static void env_timer_stop(service *s)
{
    uv_timer_stop(&rt_of(s)->timer);
}

static void on_run_done(run *r, const run_result *res);

/* Reports the OOM kills the box's counter shows beyond those reported. */
static void report_oom(service *s)
{
    service_rt *rt = rt_of(s);
    sbx_stats st;
    if (!rt->box || sbx_box_stats(rt->box, &st, NULL) < 0 || st.oom_kills <= rt->oom_seen)
        return;
    char detail[64];
    snprintf(detail, sizeof detail, "%lld process(es) killed", (long long)(st.oom_kills - rt->oom_seen));
    rt->oom_seen = st.oom_kills;
    event(rt->m, s, "oom", detail);
}

/* On v2 this fires once the kill is counted; on v1 when the OOM starts,
 * before: the run's end then catches up (report_oom in on_run_done). The
 * fd may serve other boxes too (and fires when one is removed): each
 * member compares its own counter. In a shutdown the runs' ends report. */
static void on_oom_event(void *member)
{
    service *s = member;
    rt_of(s)->oom_stirred = true;
    sbx_box_events_drain(rt_of(s)->box);
    if (!rt_of(s)->m->shutting_down)
        report_oom(s);
}

static void on_box_event(sbx_box *box, void *data)
{
    service *s = sbx_box_data(box);
    if (s && !((manager *)data)->shutting_down)
        report_oom(s);
}

/* v2: the events name their boxes (-1 on v1: every member looks). */
static int read_oom_fd(oomwatch *w, int fd)
{
    manager *m = (manager *)((char *)w - offsetof(manager, oom));
    return sbx_backend_events_read(m->be, fd, on_box_event, m);
}

static void watch_oom(service *s)
{
    service_rt *rt = rt_of(s);
    sbx_box_set_data(rt->box, s);
    int fd = sbx_box_event_fd(rt->box);
    if (fd < 0 || rt->oom_fd >= 0 || oomwatch_add(&rt->m->oom, fd, s) < 0)
        return;
    rt->oom_fd = fd;
    sbx_stats st;
    rt->oom_seen = 0;  /* a fresh box counts from zero */
    rt->oom_stirred = false;
    if (!sbx_box_fresh(rt->box) && sbx_box_stats(rt->box, &st, NULL) == 0 && st.oom_kills > 0)
        rt->oom_seen = st.oom_kills;
}

static int ensure_box(service *s, run_result *res)
{
    service_rt *rt = rt_of(s);
    if (rt->box)
        return 0;
    sbx_error e = {0};
    unsigned flags = s->def.pid_ns == SBX_PID_NS_INIT ? SBX_BOX_INIT : 0;  /* its init */
    int r = sbx_box_create(rt->m->be, s->def.name, &s->def.limits, flags, &rt->box, &e);
    if (r < 0) {
        snprintf(res->error, sizeof res->error, "sandbox: %s", e.msg);
        return r;
    }
    watch_oom(s);
    return 0;
}

static void set_output(sbx_stdio *io, const unit_output *o, int log_fd)
{
    switch (o->kind) {
    case OUT_LOG: io->kind = SBX_STDIO_FD; io->fd = log_fd; break;
    case OUT_NULL: io->kind = SBX_STDIO_NULL; break;
    case OUT_INHERIT: io->kind = SBX_STDIO_INHERIT; break;
    case OUT_FILE: io->kind = SBX_STDIO_FILE; io->path = o->path; break;
    }
}

static void start_failed(run_result *res, int code, sbx_stage stage)
{
    res->reason = RUN_START_FAILED;
    res->exit_code = -1;
    res->failed_stage = stage;
    res->failed_errno = -code;
    res->stats = SBX_STATS_UNKNOWN;
}


/* ---- readiness and health: the unit's side of ready.h, health.h, notify.h ---- */

static void on_notify(notify_sock *n, const notify_msg *msg, pid_t pid, void *data)
{
    service *s = data;
    service_rt *rt = rt_of(s);
    char what[300];
    (void)n;
    /* The socket is the unit's; a live sender outside its box is not. */
    if (pid > 0 && rt->box && sbx_box_verify(rt->box, pid, what, sizeof what) == 1) {
        snprintf(what, sizeof what, "pid %d is not in the unit: message ignored", (int)pid);
        event(rt->m, s, "notify-refused", what);
        return;
    }
    if (msg->has_status)
        snprintf(rt->status_text, sizeof rt->status_text, "%s", msg->status);
    if (msg->ready && s->state == SVC_READYING)
        service_event(s, EV_READY, NULL);
    if (msg->watchdog)
        service_event(s, EV_WATCHDOG, NULL);
    /* STOPPING=1, RELOADING=1, MAINPID=: accepted, nothing to do (sbxd
     * stops and signals the whole box, never one pid). */
}

static void on_ready(ready_watch *w, void *data)
{
    service *s = data;
    ready_watch_stop(w);
    if (s->state == SVC_READYING)
        service_event(s, EV_READY, NULL);
}

static void on_health(health *h, health_state from, void *data)
{
    service *s = data;
    char detail[PROBE_OUTPUT_MAX + 64];
    (void)from;
    snprintf(detail, sizeof detail, "%s%s%s", health_state_name(h->state),
             h->output[0] ? ": " : "", h->output);
    event(rt_of(s)->m, s, "health", detail);
    if (h->state == HEALTH_UNHEALTHY)
        service_event(s, EV_UNHEALTHY, NULL);
}

/* Where and as whom the unit's probes run: its box, its main process's
 * namespaces, its user and environment. */
static probe_target probe_target_of(service *s, const unit_ready *r)
{
    service_rt *rt = rt_of(s);
    probe_target t = {.box = rt->box, .enter_pid = s->pid, .iso = &rt->iso, .envp = rt->env,
                      .set_ids = rt->set_ids, .uid = rt->uid, .gid = rt->gid};
    if (r) {
        t.kind = r->kind == READY_PORT ? PROBE_PORT : r->kind == READY_FILE ? PROBE_FILE
                                                                        : PROBE_COMMAND;
        t.port = r->port;
        t.path = r->path;
        t.argv = r->argv.v;
    } else {
        t.kind = PROBE_COMMAND;
        t.argv = s->def.health.argv.v;
    }
    return t;
}

/* What readiness needs of the spawn: the notify socket (named in the
 * environment), or the pipe whose write end becomes the program's fd N. */
static int ready_prepare(service *s, sbx_command *cmd, int ready_pipe[2], char *notify_var,
                         size_t len, run_result *res)
{
    service_rt *rt = rt_of(s);
    const unit_ready *r = &s->def.ready;
    int e;
    notify_var[0] = '\0';
    if (r->kind == READY_NOTIFY) {
        if (!rt->notify &&
            (e = notify_open(&rt->notify, rt->m->loop, rt->m->cfg.notify_dir, s->def.name,
                             cmd->set_ids ? (long)cmd->uid : -1, cmd->set_ids ? (long)cmd->gid : -1,
                             on_notify, s, res->error, sizeof res->error)) < 0)
            return e;
        snprintf(notify_var, len, "NOTIFY_SOCKET=%s", notify_path(rt->notify));
        rt->reveal[0] = notify_dir(rt->notify);
        rt->reveal[1] = NULL;
    }
    if (r->kind == READY_FD) {
#ifdef _WIN32
        (void)ready_pipe;
        snprintf(res->error, sizeof res->error, "ready = fd:N is not supported on Windows");
        return -ENOTSUP;
#else
        if ((e = uv_pipe(ready_pipe, UV_NONBLOCK_PIPE, 0)) < 0) {
            snprintf(res->error, sizeof res->error, "ready pipe: %s", uv_strerror(e));
            return e;
        }
        cmd->pass_fd = ready_pipe[1];
        cmd->pass_fd_as = r->fd;
#endif
    }
    return 0;
}

/* After the spawn: start looking for readiness (notify needs nothing). */
static void ready_begin(service *s, int ready_fd)
{
    service_rt *rt = rt_of(s);
    const unit_ready *r = &s->def.ready;
    if (r->kind == READY_FD)
        ready_watch_fd(&rt->ready, rt->m->loop, ready_fd, on_ready, s);
    else if (r->kind == READY_PORT || r->kind == READY_FILE || r->kind == READY_COMMAND) {
        probe_target t = probe_target_of(s, r);
        ready_watch_probe(&rt->ready, rt->m->loop, &t, on_ready, s);
    }
}

/* After every change of state: look for readiness only while readying,
 * probe health only while running; the socket lives as long as the run. */
static void watch_follow(service *s, svc_state from)
{
    service_rt *rt = rt_of(s);
    if (s->state != SVC_READYING)
        ready_watch_stop(&rt->ready);
    if (s->state != SVC_RUNNING)
        health_stop(&rt->health);
    else if (from != SVC_RUNNING || s->pid != rt->logged_pid) {
        probe_target t = probe_target_of(s, NULL);
        health_start(&rt->health, rt->m->loop, &s->def.health, &t, on_health, s);
    }
}

/* The run is over: nothing of it is watched any more. */
static void watch_end(service *s)
{
    service_rt *rt = rt_of(s);
    ready_watch_stop(&rt->ready);
    health_stop(&rt->health);
    notify_close(rt->notify);
    rt->notify = NULL;
    free(rt->env);
    rt->env = NULL;
}

/* The environment: the unit's, and NOTIFY_SOCKET when it has one. */
static char **unit_env(const unit_def *d, const char *notify_var)
{
    char **add = malloc((d->env.n + 2) * sizeof *add);
    if (!add)
        return NULL;
    for (size_t i = 0; i < d->env.n; i++)
        add[i] = d->env.v[i];
    size_t n = d->env.n;
    if (notify_var[0])
        add[n++] = (char *)notify_var;
    char **env = run_env(d->clear_env ? NULL : run_inherited_env(), add, n);
    free(add);
    return env;
}

/* With a state directory, a unit's output goes through a FIFO there that
 * outlives sbxd (see state_fifo): sbxd's end is attached to the log once
 * for all of the unit's runs (it never sees an end of file, as it holds a
 * write end too); each run gets a new write end. Transient units, which
 * no later sbxd adopts, use a plain pipe. Returns the run's end, or -1 when
 * no FIFO can be had. */
static int output_fifo(service *s)
{
    service_rt *rt = rt_of(s);
    manager *m = rt->m;
    if (!m->state || rt->transient)
        return -1;
    if (!rt->fifo_read) {
        int rfd = state_fifo(m->state, s->def.name, true);
        if (rfd < 0 || log_attach(&rt->log, m->loop, rfd) < 0)
            return -1;
        rt->fifo_read = true;
    }
    int wfd = state_fifo(m->state, s->def.name, false);
    return wfd < 0 ? -1 : wfd;
}

/* The program's pid is known: the deferred "running" event names it. */
static void log_deferred_running(service *s)
{
    service_rt *rt = rt_of(s);
    if (!rt->running_unlogged || s->state != SVC_RUNNING)
        return;
    rt->running_unlogged = false;
    s->pid = run_program_pid(&rt->run);
    rt->logged_pid = s->pid;
    char what[80], detail[40];
    snprintf(what, sizeof what, "%s (%s)", svc_state_name(s->state), rt->running_why);
    snprintf(detail, sizeof detail, "pid %d", (int)s->pid);
    event(rt->m, s, what, detail);
}

/* An async spawn's report was read or given up: its place in the window
 * is free, and once read the program's pid is known. */
static void on_reported(run *r, bool read)
{
    service_rt *rt = (service_rt *)((char *)r - offsetof(service_rt, run));
    if (rt->in_window) {
        rt->in_window = false;
        startwin_leave(&rt->m->win);
    }
    if (read)
        log_deferred_running(r->data);
}

static int spawn_run(service *s, run_result *res)
{
    service_rt *rt = rt_of(s);
    const unit_def *d = &s->def;
    memset(res, 0, sizeof *res);
    int r = ensure_box(s, res);
    if (r < 0)
        return start_failed(res, r, SBX_STAGE_CGROUP), r;
    sbx_isolation iso;
    unit_isolation(d, &iso);
    iso.hide = rt->m->cfg.hide;  /* sbxd's socket and logs: out of every unit's sight */
    sbx_command cmd = {.argv = d->argv.v, .cwd = d->cwd, .new_session = true, .iso = &iso};
    if ((r = run_resolve_ids(d->user, d->group, &cmd, res->error, sizeof res->error)) < 0)
        return start_failed(res, r, SBX_STAGE_USER), r;
    int pipefd[2] = {-1, -1};
    bool logged = d->out[0].kind == OUT_LOG || d->out[1].kind == OUT_LOG;
    if (logged)
        pipefd[1] = output_fifo(s);
    if (logged && pipefd[1] < 0 && (r = uv_pipe(pipefd, UV_NONBLOCK_PIPE, 0)) < 0) {
        snprintf(res->error, sizeof res->error, "log pipe: %s", uv_strerror(r));
        return start_failed(res, r, SBX_STAGE_STDIO), r;
    }
    cmd.stdio[0] = d->stdin_path ? (sbx_stdio){SBX_STDIO_FILE, d->stdin_path, -1}
                                 : (sbx_stdio){SBX_STDIO_NULL, NULL, -1};
    set_output(&cmd.stdio[1], &d->out[0], pipefd[1]);
    set_output(&cmd.stdio[2], &d->out[1], pipefd[1]);
    int ready_pipe[2] = {-1, -1};
    char notify_var[200];
    if ((r = ready_prepare(s, &cmd, ready_pipe, notify_var, sizeof notify_var, res)) < 0) {
        if (pipefd[0] >= 0)
            close(pipefd[0]), close(pipefd[1]);
        return start_failed(res, r, SBX_STAGE_STDIO), r;
    }
    /* The notify tree is hidden (cfg.hide): only the unit's own
     * directory is bound back in its mount namespace. */
    iso.reveal = rt->notify ? rt->reveal : NULL;
    /* The probes need it after the spawn: it is kept with the run (its
     * strings point into the definition and our environment). */
    char **env = unit_env(d, notify_var);
    cmd.envp = env;
    run_options opt;
    run_options_init(&opt);
    opt.timeout_ms = d->runtime_max_ms;
    opt.kill_grace_ms = d->stop_timeout_ms;
    opt.stop_signal = d->stop_signal;
    /* When starting many at once, let their cgroup migrations overlap (the
     * start is confirmed at exec or learnt failed at exit). Otherwise, and
     * for units others require, "running" means the program has exec'd. */
    /* Behind sbx's init, the program's own pid is learnt once the init
     * has forked it (manager_pid); until then the init's pid stands in. */
    opt.async_spawn = rt->m->bulk && !rt->required &&
                      d->ready.kind != READY_COMMAND;  /* it enters the namespaces made at exec */
    opt.on_reported = on_reported;
    r = run_start(&rt->run, rt->m->loop, rt->box, &cmd, &opt, on_run_done, res);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (ready_pipe[1] >= 0)
        close(ready_pipe[1]);
    if (r < 0) {
        free(env);
        if (pipefd[0] >= 0)
            close(pipefd[0]);
        if (ready_pipe[0] >= 0)
            close(ready_pipe[0]);
        return r;
    }
    free(rt->env);
    rt->env = env;
    rt->iso = iso;
    rt->set_ids = cmd.set_ids;
    rt->uid = cmd.uid;
    rt->gid = cmd.gid;
    rt->run.data = s;
    rt->run_active = true;
    if (rt->run.report_poll) {  /* its report is awaited: a place in the window */
        rt->in_window = true;
        startwin_enter(&rt->m->win);
    }
    s->pid = run_program_pid(&rt->run);
    if (pipefd[0] >= 0)
        log_attach(&rt->log, rt->m->loop, pipefd[0]);
    ready_begin(s, ready_pipe[0]);
    return 0;
}

static void adopted_stop(service *s);

/* A start that ran out of descriptors says which limit it met. */
static int env_spawn(service *s, run_result *res)
{
    int r = spawn_run(s, res);
    if (r < 0)
        fdlimit_explain(-r, res->error, sizeof res->error);
    return r;
}

static void env_stop(service *s)
{
    if (rt_of(s)->watch)
        adopted_stop(s);
    else
        run_stop(&rt_of(s)->run);
}

/* The first unit whose name is not below name (the set is sorted). */
static size_t lower_bound(const manager *m, const char *name)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->svcs[mid]->def.name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The next unit dep names ("web": web and every web@N), from *from (0:
 * the first). The names dep matches share it as a prefix, so they are one
 * run of the sorted set, found by bisection. */
static service *find_dep(manager *m, const char *dep, size_t *from)
{
    size_t len = strlen(dep);
    for (size_t i = *from ? *from : lower_bound(m, dep);
         i < m->n && strncmp(m->svcs[i]->def.name, dep, len) == 0; i++)
        if (dep_matches(dep, m->svcs[i]->def.name)) {
            *from = i + 1;
            return m->svcs[i];
        }
    *from = m->n;
    return NULL;
}

static bool queue_push(svc_queue *q, service *s)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        service **v = realloc(q->v, cap * sizeof *v);
        if (!v)
            return false;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = s;
    return true;
}

/* Adds s once (flag says whether it is in q). */
static void queue_add(svc_queue *q, service *s, bool *flag)
{
    if (!*flag)
        *flag = queue_push(q, s);
}

static void queue_remove(svc_queue *q, service *s, bool *flag)
{
    for (size_t i = 0; *flag && i < q->n; i++)
        if (q->v[i] == s) {
            memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof *q->v);
            q->n--;
            *flag = false;
        }
}

/* Takes the queue's contents, leaving it empty. */
static svc_queue queue_take(svc_queue *q)
{
    svc_queue t = *q;
    *q = (svc_queue){0};
    return t;
}

/* Phase one: the inactive units s requires, each after its own
 * requirements and each once, in the order listed; none after a failed
 * one (the question below then says -1). Marks only: nothing starts. */
static void mark_requirements(manager *m, service *s, svc_queue *q)
{
    for (size_t k = 0; k < s->def.requires.n; k++) {
        size_t from = 0;
        for (service *d; (d = find_dep(m, s->def.requires.v[k], &from));) {
            if (d->state == SVC_FAILED)
                return;
            if (d->state != SVC_INACTIVE || rt_of(d)->mark == m->mark)
                continue;
            rt_of(d)->mark = m->mark;
            mark_requirements(m, d, q);
            queue_push(q, d);
        }
    }
}

/* service_env.start_deps, the step before a start: mark, then start what
 * was marked, requirements first (as dinit's two phases). Their own
 * start_deps then finds nothing left to start. */
static void env_start_deps(service *s)
{
    manager *m = rt_of(s)->m;
    svc_queue q = {0};
    if (m->shutting_down || s->def.requires.n == 0)
        return;
    m->mark++;
    mark_requirements(m, s, &q);
    for (size_t i = 0; i < q.n; i++)
        if (q.v[i]->state == SVC_INACTIVE)
            manager_start(m, q.v[i]);
    free(q.v);
}

/* service_env.deps, a question: 1 when everything s requires is running
 * and everything it is ordered after has settled; 0 to wait; -1 failed. */
static int env_deps(service *s)
{
    manager *m = rt_of(s)->m;
    int ready = 1;
    for (size_t k = 0; k < s->def.requires.n; k++) {
        size_t from = 0;
        for (service *d; (d = find_dep(m, s->def.requires.v[k], &from));) {
            if (d->state == SVC_FAILED)
                return -1;
            if (d->state != SVC_RUNNING && d->state != SVC_EXITED)
                ready = 0;
        }
    }
    for (size_t k = 0; k < s->def.after.n; k++) {
        size_t from = 0;
        for (service *d; (d = find_dep(m, s->def.after.v[k], &from));)
            if (d->state == SVC_STARTING || d->state == SVC_BACKOFF ||
                d->state == SVC_READYING)
                ready = 0;
    }
    if (ready == 0)  /* settle() asks again after the next change */
        queue_add(&m->waiting, s, &rt_of(s)->waiting);
    return ready;
}

static void settle(manager *m);

static void release_box(service *s)
{
    service_rt *rt = rt_of(s);
    if (rt->oom_fd >= 0) {  /* before libsbx may close it */
        oomwatch_remove(&rt->m->oom, rt->oom_fd, s);
        rt->oom_fd = -1;
    }
    if (!rt->box)
        return;
    sbx_error e = {0};
    if (sbx_box_destroy(rt->box, &e) < 0)
        event(rt->m, s, "cleanup-failed", e.msg);
    sbx_box_free(rt->box);
    rt->box = NULL;
}

static void stop_dependencies(manager *m, service *s);

/* A unit at rest: a reload may now change or drop it, and in a shutdown
 * what it depends on may stop once no other dependent runs. */
static void came_to_rest(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    if ((rt->pending || rt->remove) && !rt->run_active)
        queue_add(&m->changing, s, &rt->changing);
    if (rt->counted) {
        rt->counted = false;
        m->shutdown_left--;
        stop_dependencies(m, s);
    }
}

static void describe_result(const run_result *r, char *buf, size_t len)
{
    switch (r->reason) {
    case RUN_EXITED: snprintf(buf, len, "exit code %d", r->exit_code); break;
    case RUN_SIGNALED: snprintf(buf, len, "killed by signal %d", r->signal); break;
    case RUN_TIMEOUT: snprintf(buf, len, "runtime_max reached"); break;
    case RUN_MEMORY: snprintf(buf, len, "out of memory (oom_kills %lld)",
                              (long long)r->stats.oom_kills); break;
    case RUN_START_FAILED: snprintf(buf, len, "start failed: %s", r->error); break;
    case RUN_CRASHED: snprintf(buf, len, "crashed (NTSTATUS 0x%08X)", (unsigned)r->exit_code); break;
    case RUN_ESCAPED: snprintf(buf, len, "escaped its sandbox: %s", r->error); break;
    case RUN_NOT_READY: snprintf(buf, len, "not ready within ready_timeout"); break;
    case RUN_WATCHDOG: snprintf(buf, len, "watchdog: no WATCHDOG=1 in time"); break;
    case RUN_UNHEALTHY: snprintf(buf, len, "unhealthy: health probe failed"); break;
    case RUN_LOST: snprintf(buf, len, "lost: %s", r->error[0] ? r->error : "exit status unknown"); break;
    }
}

/* The unit's record in the state directory follows its run: written at
 * each start (and adoption), removed once no run is left. Transient units
 * have none: no later sbxd could claim them. */
static void keep_record(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    if (!m->state || rt->transient)
        return;
    if (s->state == SVC_STOPPING)
        return;
    if (s->state != SVC_RUNNING || s->pid <= 0 || !rt->box) {
        state_remove(m->state, s->def.name);
        return;
    }
    state_record r = {.pid = s->pid, .def_hash = state_hash(s->def.source),
                      .restarts = s->restarts, .failures = s->failures};
    r.started_ms = manager_wall_ms() - (int64_t)(uv_now(m->loop) - s->started_ms);
    snprintf(r.cgroup, sizeof r.cgroup, "%s", sbx_box_path(rt->box));
    int e = state_pid_start(s->pid, &r.pid_start);
    if (e == 0)
        e = state_write(m->state, s->def.name, &r);
    if (e < 0 && e != -ESRCH)  /* -ESRCH: it has ended already; its exit comes next */
        event(m, s, "state-write-failed", strerror(-e));
}

/* A retry that failed to start leaves the unit in backoff, a state it was
 * in already: said once per series (out of descriptors, a binary gone),
 * not per retry and never not at all; a run that starts ends the series. */
static void note_quiet_start_failure(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    if (!s->have_last || s->last.reason != RUN_START_FAILED || rt->start_failing)
        return;
    rt->start_failing = true;
    char detail[600];
    describe_result(&s->last, detail, sizeof detail);
    event(m, s, "start-failing", detail);
}

static void env_changed(service *s, svc_state from, const char *why)
{
    manager *m = rt_of(s)->m;
    char detail[600];
    watch_follow(s, from);
    bool restarted = s->state == SVC_RUNNING && from == SVC_RUNNING && s->pid &&
                     s->pid != rt_of(s)->logged_pid;  /* delay 0: exit and start at once */
    if (s->state == from && !restarted) {
        note_quiet_start_failure(m, s);
        if (svc_at_rest(s->state))
            release_box(s);  /* a start by hand that failed again at once */
        return;
    }
    if (restarted && s->have_last) {  /* how the last run ended, then the start */
        describe_result(&s->last, detail, sizeof detail);
        event(m, s, "restarting", detail);
    }
    if (s->state == SVC_RUNNING && rt_of(s)->run_active && run_pid_pending(&rt_of(s)->run)) {
        /* Behind sbx's init, started without waiting for exec: the event
         * names the program, so it waits for its pid (on_reported). */
        rt_of(s)->running_unlogged = true;
        snprintf(rt_of(s)->running_why, sizeof rt_of(s)->running_why, "%s", why ? why : "");
        rt_of(s)->since_ms = uv_now(m->loop);
        keep_record(m, s);
        settle(m);
        return;
    }
    rt_of(s)->running_unlogged = false;
    if (s->state == SVC_RUNNING) {
        if (rt_of(s)->run_active)  /* behind sbx's init, its report read: the program */
            s->pid = run_program_pid(&rt_of(s)->run);
        rt_of(s)->logged_pid = s->pid;
        rt_of(s)->start_failing = false;
        snprintf(detail, sizeof detail, "pid %d", (int)s->pid);
    }
    else if (s->have_last && s->state != SVC_STOPPING &&
             (from == SVC_RUNNING || from == SVC_STOPPING || s->state == SVC_FAILED ||
              s->last.reason == RUN_LOST))
        describe_result(&s->last, detail, sizeof detail);
    else
        detail[0] = '\0';
    char what[80];
    snprintf(what, sizeof what, "%s (%s)", svc_state_name(s->state), why ? why : "");
    rt_of(s)->since_ms = uv_now(m->loop);
    keep_record(m, s);  /* first: whoever sees "running" may count on it */
    event(m, s, what, detail);
    if (s->def.critical && (s->state == SVC_FAILED || s->state == SVC_EXITED) &&
        !m->shutting_down && m->on_critical)
        m->on_critical(m, s);
    if (svc_at_rest(s->state) && rt_of(s)->restart) {
        rt_of(s)->restart = false;
        manager_start(m, s);  /* the new run goes in the box it has */
    }
    if (svc_at_rest(s->state)) {
        release_box(s);
        if (rt_of(s)->transient)
            rt_of(s)->remove = true;
        came_to_rest(m, s);
    }
    settle(m);
}

static void on_run_done(run *r, const run_result *res)
{
    service *s = r->data;
    service_rt *rt = rt_of(s);
    run_result copy = *res;
    if (copy.reason == RUN_START_FAILED)  /* async: failed in the child */
        fdlimit_explain(copy.failed_errno, copy.error, sizeof copy.error);
    report_oom(s);
    rt->run_active = false;
    run_close(r);
    watch_end(s);
    s->pid = 0;
    bool was_at_rest = svc_at_rest(s->state);
    service_event(s, EV_EXIT, &copy);
    if (was_at_rest) {  /* no change to hear of (nor a settle that dropped s) */
        came_to_rest(rt->m, s);
        settle(rt->m);
    }
}

/* ---- the set ---- */

static void on_log_data(unit_log *log, const char *buf, size_t len);
static void on_log_drop(unit_log *log, int err);
static void open_log(manager *m, service *s);

static service *service_new(manager *m, unit_def *def)
{
    service *s = calloc(1, sizeof *s);
    service_rt *rt = calloc(1, sizeof *rt);
    if (!s || !rt) {
        free(s);
        free(rt);
        return NULL;
    }
    s->def = *def;
    s->owner = rt;
    rt->m = m;
    rt->oom_fd = -1;
    if (service_init(s, &m->env) < 0) {
        free(s);
        free(rt);
        return NULL;
    }
    uv_timer_init(m->loop, &rt->timer);
    rt->timer.data = s;
    open_log(m, s);
    return s;
}

/* The unit's output log, as its definition says, feeding on_log. */
static void open_log(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    log_init(&rt->log, m->cfg.log_dir, s->def.name, s->def.log_max_size, s->def.log_keep);
    rt->log.on_data = on_log_data;
    rt->log.on_drop = on_log_drop;
    rt->log.data = s;
}

/* One event when the unit's log file starts refusing output (a full disk),
 * one when it takes it again: the bytes lost are in status and /metrics. */
static void on_log_drop(unit_log *log, int err)
{
    service *s = log->data;
    char detail[512];
    if (err)
        snprintf(detail, sizeof detail, "%s: %s: output is dropped (and counted) until it "
                 "can be written again", log->path, strerror(err));
    else
        snprintf(detail, sizeof detail, "%s: written again, %llu bytes dropped in all",
                 log->path, (unsigned long long)log->dropped);
    event(rt_of(s)->m, s, err ? "log-dropping" : "log-resumed", detail);
}

static void on_log_data(unit_log *log, const char *buf, size_t len)
{
    service *s = log->data;
    manager *m = rt_of(s)->m;
    if (m->on_log)
        m->on_log(m, s, buf, len);
}

static void on_service_closed(uv_handle_t *h)
{
    service *s = h->data;
    free(s->owner);
    service_free(s);
    free(s);
}

static void service_delete(service *s)
{
    service_rt *rt = rt_of(s);
    watch_end(s);
    adopt_watch_close(rt->watch);
    rt->watch = NULL;
    release_box(s);
    log_close(&rt->log);
    if (rt->pending) {
        unit_def_free(rt->pending);
        free(rt->pending);
    }
    uv_close((uv_handle_t *)&rt->timer, on_service_closed);
}

static int svc_cmp(const void *a, const void *b)
{
    return strcmp((*(service *const *)a)->def.name, (*(service *const *)b)->def.name);
}

service *manager_find(manager *m, const char *name)
{
    service key_svc;
    snprintf(key_svc.def.name, sizeof key_svc.def.name, "%s", name);
    service *key = &key_svc;
    service **hit = m->svcs ? bsearch(&key, m->svcs, m->n, sizeof *m->svcs, svc_cmp) : NULL;
    return hit ? *hit : NULL;
}

int manager_init(manager *m, uv_loop_t *loop, const manager_settings *cfg, sbx_error *err)
{
    memset(m, 0, sizeof *m);
    m->loop = loop;
    m->cfg = *cfg;
    m->events = stderr;
    m->env = (service_env){
        .now_ms = env_now, .random = env_random, .timer_start = env_timer_start,
        .timer_stop = env_timer_stop, .spawn = env_spawn, .stop = env_stop,
        .start_deps = env_start_deps, .deps = env_deps, .changed = env_changed, .ctx = m,
    };
    oomwatch_init(&m->oom, loop, on_oom_event, read_oom_fd);
    startwin_init(&m->win, START_WINDOW);
    sbx_backend_options bo = {.name = cfg->backend, .cgroup_root = cfg->cgroup_root,
                              .cgroup_base = cfg->cgroup_base};
    return sbx_backend_open(&bo, &m->be, err);
}

static int add_services(manager *m, def_list *defs)
{
    service **v = realloc(m->svcs, (m->n + defs->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    m->svcs = v;
    for (size_t i = 0; i < defs->n; i++) {
        service *s = service_new(m, &defs->v[i]);
        if (!s) {
            unit_def_free(&defs->v[i]);
            continue;
        }
        m->svcs[m->n++] = s;
    }
    defs->n = 0;
    if (m->n)
        qsort(m->svcs, m->n, sizeof *m->svcs, svc_cmp);
    return 0;
}

int manager_load(manager *m, FILE *errs)
{
    def_list defs = {0};
    unit_errors e = {0};
    int refused = load_dir(m->cfg.units_dir, &defs, &e);
    print_errors(&e, errs);
    unit_errors_free(&e);
    add_services(m, &defs);
    def_list_free(&defs);
    return refused;
}

void manager_start(manager *m, service *s)
{
    if (!m->shutting_down)
        service_event(s, EV_START, NULL);
}

void manager_stop(manager *m, service *s)
{
    (void)m;
    service_event(s, EV_STOP, NULL);
}

void manager_restart(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    rt->restart = true;
    manager_stop(m, s);  /* once at rest, env_changed starts it */
    if (rt->restart && svc_at_rest(s->state)) {
        rt->restart = false;
        manager_start(m, s);
    }
}

/* Marks every unit some unit requires: those start synchronously (their
 * "running" means exec'd), the rest with their migrations overlapping. */
static void mark_required(manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        rt_of(m->svcs[i])->required = false;
    for (size_t i = 0; i < m->n; i++) {
        const strv *req = &m->svcs[i]->def.requires;
        for (size_t k = 0; k < req->n; k++) {
            size_t from = 0;
            for (service *d; (d = find_dep(m, req->v[k], &from));)
                rt_of(d)->required = true;
        }
    }
}

/* Starts backlogged units while the window has room. Each is looked at
 * again: a command or a reload may have started or changed it since. */
static void admit(manager *m)
{
    m->bulk = true;
    for (service *s; !m->shutting_down && (s = startwin_next(&m->win));) {
        rt_of(s)->backlogged = false;
        if (s->def.autostart && s->state == SVC_INACTIVE && !rt_of(s)->remove)
            manager_start(m, s);
    }
    m->bulk = false;
    if (m->shutting_down)
        startwin_clear(&m->win);
    if (!startwin_pending(&m->win))
        uv_check_stop(&m->admit);
}

/* After each loop pass, in which reports were read and places freed. */
static void on_admit(uv_check_t *h)
{
    admit(h->data);
}

/* Every unit is queued, then admitted by the window: at most
 * START_WINDOW spawns await their exec reports at once (see startwin.h). */
void manager_start_all(manager *m)
{
    mark_required(m);
    if (!m->admit_init) {
        uv_check_init(m->loop, &m->admit);
        m->admit.data = m;
        m->admit_init = true;
    }
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        if (s->def.autostart && s->state == SVC_INACTIVE && !rt_of(s)->backlogged &&
            !rt_of(s)->held)
            rt_of(s)->backlogged = startwin_push(&m->win, s);
    }
    for (size_t i = 0; i < m->n; i++)
        rt_of(m->svcs[i])->held = false;
    uv_check_start(&m->admit, on_admit);
    admit(m);
}

/* ---- shutdown: dependents first, every independent unit at once ----
 *
 * At the start each unit not at rest is counted in every unit it requires
 * or follows (its dependencies' `dependents`). Every unit with no counted
 * dependent is stopped at once; when a counted unit comes to rest, each of
 * its dependencies loses one, and stops when none is left. O(N + edges):
 * no unit waits for another that does not depend on it. */

/* Calls fn on every unit s requires or is ordered after. */
static void each_dependency(manager *m, service *s, void (*fn)(manager *, service *))
{
    const strv *lists[2] = {&s->def.requires, &s->def.after};
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < lists[l]->n; k++) {
            size_t from = 0;
            for (service *d; (d = find_dep(m, lists[l]->v[k], &from));)
                if (d != s)
                    fn(m, d);
        }
}

static void add_dependent(manager *m, service *d)
{
    (void)m;
    rt_of(d)->dependents++;
}

static void lose_dependent(manager *m, service *d)
{
    service_rt *rt = rt_of(d);
    if (rt->dependents && --rt->dependents == 0)
        queue_add(&m->to_stop, d, &rt->to_stop);
}

static void stop_dependencies(manager *m, service *s)
{
    if (m->shutting_down)
        each_dependency(m, s, lose_dependent);
}

/* Counts every unit not at rest in its dependencies; queues the units
 * that nothing running depends on. */
static void count_dependents(manager *m)
{
    m->shutdown_left = 0;
    for (size_t i = 0; i < m->n; i++) {
        service_rt *rt = rt_of(m->svcs[i]);
        rt->dependents = 0;
        rt->counted = false;
    }
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        if (svc_at_rest(s->state))
            continue;
        rt_of(s)->counted = true;
        m->shutdown_left++;
        each_dependency(m, s, add_dependent);
    }
    for (size_t i = 0; i < m->n; i++)
        if (rt_of(m->svcs[i])->dependents == 0)
            queue_add(&m->to_stop, m->svcs[i], &rt_of(m->svcs[i])->to_stop);
}

static bool all_at_rest(const manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (!svc_at_rest(m->svcs[i]->state))
            return false;
    return true;
}

/* Stops what is queued (a stop that ends at once queues more), then, once
 * every counted unit is at rest, checks the whole set (a unit may have
 * started again meanwhile: then count again). */
static void shutdown_step(manager *m)
{
    for (;;) {
        while (m->to_stop.n) {
            svc_queue q = queue_take(&m->to_stop);
            for (size_t i = 0; i < q.n; i++) {
                service *s = q.v[i];
                rt_of(s)->to_stop = false;
                if (!svc_at_rest(s->state) && s->state != SVC_STOPPING)
                    service_event(s, EV_STOP, NULL);
            }
            free(q.v);
        }
        if (m->shutdown_left > 0)
            return;
        if (all_at_rest(m))
            break;
        count_dependents(m);
    }
    for (size_t i = 0; i < m->n; i++)
        if (rt_of(m->svcs[i])->fifo_read) {  /* they never end by themselves */
            log_detach(&rt_of(m->svcs[i])->log);
            rt_of(m->svcs[i])->fifo_read = false;
        }
    if (m->on_idle) {
        void (*cb)(manager *) = m->on_idle;
        m->on_idle = NULL;
        cb(m);
    }
}

/* Reload: a removed unit, once at rest, leaves the set. */
static void drop_service(manager *m, size_t i)
{
    service *s = m->svcs[i];
    service_rt *rt = rt_of(s);
    queue_remove(&m->waiting, s, &rt->waiting);
    queue_remove(&m->changing, s, &rt->changing);
    queue_remove(&m->to_stop, s, &rt->to_stop);
    if (rt->backlogged)
        startwin_forget(&m->win, s);
    event(m, s, "removed", NULL);
    if (m->state && !rt_of(s)->transient)
        state_fifo_remove(m->state, s->def.name);
    service_delete(s);
    memmove(&m->svcs[i], &m->svcs[i + 1], (m->n - i - 1) * sizeof *m->svcs);
    m->n--;
}

/* Reload: a changed unit, once at rest, takes its new definition (a fresh
 * machine and log); started again if it starts by itself. */
static void swap_definition(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    unit_def_free(&s->def);
    s->def = *rt->pending;
    free(rt->pending);
    rt->pending = NULL;
    free(s->start_times);
    log_close(&rt->log);
    rt->fifo_read = false;
    open_log(m, s);
    if (service_init(s, &m->env) < 0) {
        event(m, s, "reload-failed", "out of memory");
        return;
    }
    if (s->def.autostart)
        manager_start(m, s);
}

/* Wakes the units waiting for dependencies: each asks again (and queues
 * itself again while it must wait). Returns whether one moved on. */
static bool wake_waiting(manager *m)
{
    bool moved = false;
    svc_queue q = queue_take(&m->waiting);
    for (size_t i = 0; i < q.n; i++) {
        service *s = q.v[i];
        rt_of(s)->waiting = false;
        if (s->state != SVC_STARTING)
            continue;
        env_start_deps(s);
        int r = env_deps(s);
        if (r != 0) {
            service_event(s, r > 0 ? EV_DEPS_READY : EV_DEPS_FAILED, NULL);
            moved = true;
        }
    }
    free(q.v);
    return moved;
}

/* Reload: units at rest take their new definition or leave the set.
 * Returns whether one did. */
static bool apply_changes(manager *m)
{
    bool changed = false;
    svc_queue q = queue_take(&m->changing);
    for (size_t i = 0; i < q.n; i++) {
        service *s = q.v[i];
        service_rt *rt = rt_of(s);
        rt->changing = false;
        if (!svc_at_rest(s->state) || rt->run_active || !(rt->pending || rt->remove))
            continue;  /* queued again when it next comes to rest */
        size_t at = lower_bound(m, s->def.name);
        if (rt->remove && at < m->n && m->svcs[at] == s)
            drop_service(m, at);
        else if (!rt->remove)
            swap_definition(m, s);
        changed = true;
    }
    free(q.v);
    return changed;
}

/* After any change: wake units waiting for dependencies, apply reloads,
 * drive a shutdown. Only the queues are walked, never every unit.
 * Re-entrant calls are folded into the pass under way. */
static void settle(manager *m)
{
    if (m->settling)
        return;  /* the pass under way sees the change */
    m->settling = true;
    for (bool again = true; again;) {
        again = wake_waiting(m);
        again |= apply_changes(m);
    }
    if (m->shutting_down)
        shutdown_step(m);
    m->settling = false;
}

void reload_report_free(reload_report *r)
{
    strv_free(&r->added);
    strv_free(&r->removed);
    strv_free(&r->changed);
    strv_free(&r->errors);
}

int manager_reload(manager *m, reload_report *report)
{
    def_list defs = {0};
    unit_errors e = {0};
    if (m->on_reload)
        m->on_reload(m, false);
    int refused = load_dir(m->cfg.units_dir, &defs, &e);
    report->errors = e.lines;
    /* Units gone from the directory (or now broken) are stopped and removed. */
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        unit_def key = {0};
        snprintf(key.name, sizeof key.name, "%s", s->def.name);
        if (!rt_of(s)->transient &&
            !(defs.n && bsearch(&key, defs.v, defs.n, sizeof *defs.v, def_cmp))) {
            rt_of(s)->remove = true;
            strv_push(&report->removed, s->def.name);
            service_event(s, EV_STOP, NULL);
            if (svc_at_rest(s->state))
                came_to_rest(m, s);  /* nothing to stop: goes at the settle below */
        }
    }
    def_list added = {0};
    for (size_t i = 0; i < defs.n; i++) {
        service *s = manager_find(m, defs.v[i].name);
        if (!s) {
            unit_def *slot = def_push(&added);
            if (!slot) {
                strv_push(&report->errors, "out of memory: a new unit was not added");
                unit_def_free(&defs.v[i]);
                continue;
            }
            strv_push(&report->added, defs.v[i].name);
            *slot = defs.v[i];
        } else if (unit_def_equal(&s->def, &defs.v[i])) {
            unit_def_free(&defs.v[i]);
        } else {
            service_rt *rt = rt_of(s);
            strv_push(&report->changed, defs.v[i].name);
            if (rt->pending) {
                unit_def_free(rt->pending);
                free(rt->pending);
            }
            if (!(rt->pending = malloc(sizeof *rt->pending))) {
                strv_push(&report->errors, "out of memory: a changed unit was not reloaded");
                unit_def_free(&defs.v[i]);
                continue;
            }
            *rt->pending = defs.v[i];
            rt->transient = false;
            service_event(s, EV_STOP, NULL);
            if (svc_at_rest(s->state))
                came_to_rest(m, s);
        }
    }
    free(defs.v);
    add_services(m, &added);
    def_list_free(&added);
    for (size_t i = 0; i < m->n; i++)
        if (m->svcs[i]->state == SVC_INACTIVE && m->svcs[i]->def.autostart &&
            !m->svcs[i]->have_last && !rt_of(m->svcs[i])->remove)
            manager_start(m, m->svcs[i]);
    settle(m);
    if (m->on_reload)
        m->on_reload(m, true);
    return refused;
}

void manager_shutdown(manager *m)
{
    if (!m->shutting_down)
        count_dependents(m);
    m->shutting_down = true;
    settle(m);
}

int manager_kill(manager *m, service *s, int sig, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (rt->box && rt->watch)
        return sbx_box_kill(rt->box, sig, err);
    if (!rt->box || !rt->run_active)
        return sbx_error_set(err, -ESRCH, "unit %s is not running", s->def.name);
    return run_signal(&rt->run, sig, err);
}

int manager_freeze(manager *m, service *s, bool frozen, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (!rt->box || !(rt->run_active || rt->watch))
        return sbx_error_set(err, -ESRCH, "unit %s is not running", s->def.name);
    return sbx_box_freeze(rt->box, frozen, err);
}

int manager_set_limits(manager *m, service *s, const sbx_limits *l, sbx_error *err)
{
    service_rt *rt = rt_of(s);
    (void)m;
    if (rt->box) {
        int r = sbx_box_update(rt->box, l, err);
        if (r < 0)
            return r;
    }
    /* The next run gets them too (until a reload brings back the file's). */
    s->def.limits.memory = l->memory;
    s->def.limits.memory_swap = l->memory_swap;
    s->def.limits.cpu_percent = l->cpu_percent;
    s->def.limits.pids = l->pids;
    return 0;
}

uint64_t manager_since(const service *s)
{
    return ((const service_rt *)s->owner)->since_ms;
}

sbx_box *manager_box(const service *s)
{
    return ((const service_rt *)s->owner)->box;
}

pid_t manager_pid(service *s)
{
    service_rt *rt = s->owner;
    if (rt->run_active && s->pid > 0)
        s->pid = run_program_pid(&rt->run);  /* known once the init has forked */
    return s->pid;
}

int manager_box_count(const service *s)
{
    const service_rt *rt = s->owner;
    return rt->box && (rt->run_active || rt->watch) ? sbx_box_count(rt->box) : -1;
}

size_t manager_log_tail(const service *s, char *buf, size_t len)
{
    return log_tail(&((const service_rt *)s->owner)->log, buf, len);
}

void manager_log_counts(const service *s, uint64_t *written, uint64_t *dropped)
{
    const unit_log *log = &((const service_rt *)s->owner)->log;
    *written = log->written;
    *dropped = log->dropped;
}

const char *manager_health(const service *s, const char **output)
{
    const service_rt *rt = s->owner;
    *output = rt->health.output;
    return health_state_name(rt->health.state);
}

int manager_exit_status(const service *s)
{
    if (!s->have_last)
        return 1;
    switch (s->last.reason) {
    case RUN_EXITED: return s->last.exit_code & 0xff;
    case RUN_SIGNALED:
    case RUN_MEMORY: return s->last.signal ? 128 + s->last.signal : 1;
    case RUN_TIMEOUT: case RUN_START_FAILED: case RUN_CRASHED: case RUN_ESCAPED:
    case RUN_NOT_READY: case RUN_WATCHDOG: case RUN_UNHEALTHY: case RUN_LOST: break;
    }
    return 1;
}

const char *manager_status_text(const service *s)
{
    return ((const service_rt *)s->owner)->status_text;
}

service *manager_add_transient(manager *m, unit_def *def)
{
    if (manager_find(m, def->name) || m->shutting_down) {
        unit_def_free(def);
        return NULL;
    }
    char name[UNIT_NAME_MAX];
    snprintf(name, sizeof name, "%s", def->name);
    def_list one = {0};
    unit_def *slot = def_push(&one);
    if (!slot) {
        unit_def_free(def);
        return NULL;
    }
    *slot = *def;
    add_services(m, &one);  /* takes the definition */
    free(one.v);
    service *s = manager_find(m, name);
    if (s)
        rt_of(s)->transient = true;
    return s;
}

void manager_reopen_logs(manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        log_reopen(&rt_of(m->svcs[i])->log);
}

void manager_free(manager *m)
{
    for (size_t i = 0; i < m->n; i++)
        service_delete(m->svcs[i]);
    free(m->svcs);
    free(m->waiting.v);
    free(m->changing.v);
    free(m->to_stop.v);
    m->waiting = m->changing = m->to_stop = (svc_queue){0};
    oomwatch_free(&m->oom);
    startwin_free(&m->win);
    if (m->admit_init)
        uv_close((uv_handle_t *)&m->admit, NULL);
    m->admit_init = false;
    m->svcs = NULL;
    m->n = 0;
    sbx_backend_close(m->be);
    m->be = NULL;
}

/* ---- re-adoption (see adopt.h) ---- */

bool manager_oom_possible(const service *s)
{
    const service_rt *rt = s->owner;
    return rt->oom_fd < 0 || rt->oom_seen > 0 || rt->oom_stirred;
}

bool manager_adopted(const service *s)
{
    const service_rt *rt = s->owner;
    return rt->adopted && (s->state == SVC_RUNNING || s->state == SVC_STOPPING);
}

static void lost_result(service *s, const char *why, run_result *res)
{
    service_rt *rt = rt_of(s);
    memset(res, 0, sizeof *res);
    res->reason = RUN_LOST;
    res->exit_code = -1;
    res->stopped = s->state == SVC_STOPPING;
    res->stats = SBX_STATS_UNKNOWN;
    if (rt->box)
        sbx_box_stats(rt->box, &res->stats, NULL);
    res->wall_ms = uv_now(rt->m->loop) - s->started_ms;
    snprintf(res->error, sizeof res->error, "%s", why);
}

/* The adopted main process has ended, and what was left of the unit has
 * been killed and is gone (adopt.h); how it ended cannot be known. */
static void on_adopted_exit(adopt_watch *w, void *data)
{
    service *s = data;
    service_rt *rt = rt_of(s);
    (void)w;
    adopt_watch_close(rt->watch);
    rt->watch = NULL;
    uv_timer_stop(&rt->timer);  /* a stop's grace */
    report_oom(s);
    run_result res;
    lost_result(s, "exit status unknown (not sbxd's child)", &res);
    rt->adopted = false;
    s->pid = 0;
    service_event(s, EV_EXIT, &res);
}

static void on_adopted_grace(uv_timer_t *t)
{
    service *s = t->data;
    service_rt *rt = rt_of(s);
    if (rt->box)
        sbx_box_kill(rt->box, SIGKILL, NULL);
}

/* A stop of an adopted run: the stop signal to the whole box, SIGKILL
 * after stop_timeout; the pidfd reports the end as for any end. */
static void adopted_stop(service *s)
{
    service_rt *rt = rt_of(s);
    int sig = s->def.stop_signal > 0 ? s->def.stop_signal : SIGTERM;
    if (rt->box)
        sbx_box_kill(rt->box, sig, NULL);
    uv_timer_start(&rt->timer, on_adopted_grace, s->def.stop_timeout_ms, 0);
}

/* The run's counters and start time, as the record kept them. */
static void restore_counters(manager *m, service *s, const state_record *r)
{
    uint64_t now = uv_now(m->loop);
    int64_t ago = manager_wall_ms() - r->started_ms;
    s->restarts = r->restarts;
    s->failures = r->failures;
    s->started_ms = ago > 0 && (uint64_t)ago < now ? now - (uint64_t)ago : 0;
}

/* The run of a unit whose main process is still our child: the sbxd we
 * were before a re-exec started it. It goes on as a run of ours (the
 * reaper reports its real exit status), with its runtime_max counted from
 * its start. */
static int resume_child(manager *m, service *s, const state_record *r, pid_t via)
{
    service_rt *rt = rt_of(s);
    sbx_process proc = {.pid = via, .report_fd = -1, .stdio_fd = {-1, -1, -1}};
    if (s->def.pid_ns == SBX_PID_NS_INIT) {  /* behind sbx's init: its status slot */
        proc.init = true;
        proc.program_pid = via != r->pid ? r->pid : 0;  /* 0: learnt from /proc */
        proc.status_slot = reexec_unit_slot(s->def.name);
    }
    run_options opt;
    run_options_init(&opt);
    opt.timeout_ms = s->def.runtime_max_ms;
    opt.kill_grace_ms = s->def.stop_timeout_ms;
    opt.stop_signal = s->def.stop_signal;
    int64_t ran = manager_wall_ms() - r->started_ms;
    int e = run_resume(&rt->run, m->loop, rt->box, &proc, ran > 0 ? (uint64_t)ran : 0, &opt,
                       on_run_done);
    if (e < 0)
        return e;
    rt->run.data = s;
    rt->run_active = true;
    return 0;
}

/* The pid an adopted run is shown by: behind sbx's init, the program
 * (the init's child), as when it started. */
static pid_t adopted_program(const service *s, pid_t main_pid)
{
    if (s->def.pid_ns != SBX_PID_NS_INIT)
        return main_pid;
    sbx_process p = {.pid = main_pid, .init = true, .report_fd = -1, .stdio_fd = {-1, -1, -1}};
    pid_t program = sbx_process_program_pid(&p);
    return program > 0 ? program : main_pid;
}

/* Takes the run over: running, its end watched (by the reaper when it is
 * our child after a re-exec, else by pidfd), OOM events on. */
static int take_over(manager *m, service *s, const state_record *r, pid_t child)
{
    service_rt *rt = rt_of(s);
    int e = child ? resume_child(m, s, r, child)
                  : adopt_watch_start(m->loop, r->pid, r->pid_start, rt->box, on_adopted_exit,
                                      s, &rt->watch);
    if (e < 0)
        return e;
    restore_counters(m, s, r);
    rt->adopted = !child;  /* a re-exec's unit is no stranger: its status is known */
    s->pid = child ? run_program_pid(&rt->run) : adopted_program(s, r->pid);
    s->kept = child != 0;
    watch_oom(s);
    if (s->def.out[0].kind == OUT_LOG || s->def.out[1].kind == OUT_LOG) {
        int wfd = output_fifo(s);  /* reads what it wrote while sbxd was down */
        if (wfd >= 0)
            close(wfd);
    }
    service_event(s, EV_ADOPT, NULL);
    return 0;
}

/* It ran when the last sbxd died and has ended since: reported as a run
 * that ended with reason lost, so its policy decides what comes next. */
static void report_lost(manager *m, service *s, const state_record *r, const char *why)
{
    service_rt *rt = rt_of(s);
    restore_counters(m, s, r);
    if (rt->box)
        sbx_box_kill(rt->box, SIGKILL, NULL);  /* what its main process left */
    run_result res;
    lost_result(s, why, &res);
    s->pid = 0;
    service_event(s, EV_ADOPT, &res);
}

/* Before a re-exec: every unit's state and counters, and the status
 * board's slot of each run behind sbx's init, in the returned text
 * ("NAME:SLOT:STATE:RESTARTS:FAILURES:PID ...", malloc'd; NULL when none
 * or out of memory) for reexec_exec. */
char *manager_exec_handover(manager *m)
{
#ifdef _WIN32
    (void)m;
    return NULL;  /* no re-exec there */
#else
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < m->n; i++)
        cap += strlen(m->svcs[i]->def.name) + 64;
    char *text = malloc(cap);
    if (text)
        text[0] = '\0';
    for (size_t i = 0; text && i < m->n; i++) {
        service *s = m->svcs[i];
        service_rt *rt = rt_of(s);
        unsigned slot = rt->run_active ? rt->run.proc.status_slot : 0;
        if (!rt->transient)
            len += (size_t)snprintf(text + len, cap - len, "%s%s:%u:%d:%u:%u:%d:%d", len ? " " : "",
                                    s->def.name, slot, (int)s->state, (unsigned)s->restarts,
                                    (unsigned)s->failures, rt->run_active ? (int)rt->run.pid : 0,
                                    rt->restart ? 1 : 0);
    }
    if (text && !len) {
        free(text);
        text = NULL;
    }
    return text;
#endif
}

/* After a re-exec, the units that were not running: their counters as
 * they were, and one at rest (stopped by hand, failed, exited) is not
 * started by manager_start_all. One in its restart backoff starts now. */
void manager_restore_kept(manager *m)
{
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        const reexec_unit *u = reexec_unit_find(s->def.name);
        if (!u || s->state != SVC_INACTIVE)
            continue;
        s->restarts = u->restarts;
        s->failures = u->failures;
        if (u->state == SVC_INACTIVE || u->state == SVC_FAILED || u->state == SVC_EXITED) {
            s->state = (svc_state)u->state;
            s->why = "kept";
            rt_of(s)->held = true;
        }
    }
}

/* After a re-exec the units are still our children: the pid of ours that
 * holds the run (the record's, a zombie too: it ended during the exec and
 * its status waits for the reaper; or sbx's init, its parent), else 0. */
static pid_t own_child(const service *s, const state_record *r)
{
    if (state_pid_is_child(r->pid, r->pid_start))
        return r->pid;
    /* The run's own child, as the sbxd before named it: behind sbx's init
     * the program may have ended (reaped by the init) during the exec,
     * while the init waits, unreaped, with the program's status. */
    const reexec_unit *u = reexec_unit_find(s->def.name);
    if (u && u->run_pid > 1 && state_pid_parent(u->run_pid) == getpid())
        return u->run_pid;
    if (s->def.pid_ns != SBX_PID_NS_INIT || !state_pid_matches(r->pid, r->pid_start))
        return 0;
    pid_t init = state_pid_parent(r->pid);
    return init > 1 && state_pid_parent(init) == getpid() ? init : 0;
}

/* A unit caught stopping by a re-exec goes where it was heading: the
 * kept run is stopped again (its stop signal again, stop_timeout from
 * now), then it rests, or starts again when it was being restarted. */
static void finish_stop(manager *m, service *s)
{
    const reexec_unit *u = reexec_unit_find(s->def.name);
    if (!u || u->state != SVC_STOPPING)
        return;
    if (u->restart)
        manager_restart(m, s);
    else
        manager_stop(m, s);
}

/* One loaded unit against its record and its cgroup. */
static bool adopt_one(manager *m, service *s)
{
    service_rt *rt = rt_of(s);
    state_record r;
    char why[200] = "";
    int rr = state_read(m->state, s->def.name, &r, why, sizeof why);
    if (rr == -ENOENT)
        return false;
    pid_t child = rr == 0 ? own_child(s, &r) : 0;
    bool alive = rr == 0 && (child || state_pid_matches(r.pid, r.pid_start)), in_box = false;
    if (rr == 0) {
        sbx_error e = {0};
        unsigned flags = SBX_BOX_ADOPT | (s->def.pid_ns == SBX_PID_NS_INIT ? SBX_BOX_INIT : 0);
        /* The current definition's limits, applied to the cgroup as found. */
        if (sbx_box_create(m->be, s->def.name, &s->def.limits, flags, &rt->box, &e) < 0) {
            event(m, s, "adopt-failed", e.msg);
            rt->box = NULL;
            alive = false;
        }
        char what[200];
        /* (a zombie on cgroup v1 shows no cgroup: our child is trusted) */
        in_box = alive && (child || sbx_box_verify(rt->box, r.pid, what, sizeof what) == 0);
    }
    adopt_verdict v = adopt_judge(&r, rr, alive, in_box, state_hash(s->def.source));
    switch (v) {
    case ADOPT_NOTHING:
        return false;
    case ADOPT_BAD_RECORD:
        event(m, s, "state-ignored", why);
        state_remove(m->state, s->def.name);
        return false;
    case ADOPT_LOST:
        report_lost(m, s, &r, alive ? "it left its cgroup" : "it ended while sbxd was down");
        return false;
    case ADOPT_TAKE:
    case ADOPT_TAKE_CHANGED:
        if (take_over(m, s, &r, alive ? child : 0) < 0) {
            report_lost(m, s, &r, "it ended while sbxd was down");
            return false;
        }
        if (v == ADOPT_TAKE_CHANGED) {
            event(m, s, "changed", "its definition changed while sbxd was down: restarting");
            manager_restart(m, s);
        } else if (child) {
            finish_stop(m, s);
        }
        return true;
    }
    return false;
}

/* sbxd's own lines that name no unit. */
static void note(manager *m, const char *what, const char *detail)
{
    if (!m->events)
        return;
    if (m->cfg.json_log) {
        json_t *j = json_pack("{s:I, s:s, s:s}", "time_ms", (json_int_t)manager_wall_ms(),
                              "event", what, "detail", detail);
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (line)
            fprintf(m->events, "%s\n", line);
        free(line);
    } else {
        fprintf(m->events, "sbxd: %s: %s\n", what, detail);
    }
    fflush(m->events);
}

typedef struct sweep_ctx {
    manager *m;
    strv named;     /* populated or not, each once */
} sweep_ctx;

/* Every cgroup below the root that no unit holds now is a leftover. */
static bool unclaimed(const char *name, void *data)
{
    sweep_ctx *c = data;
    service *s = manager_find(c->m, name);
    if (name[0] == '.' || strcmp(name, "sbx-supervisor") == 0 || (s && rt_of(s)->box))
        return false;
    for (size_t i = 0; i < c->named.n; i++)
        if (strcmp(c->named.v[i], name) == 0)
            return true;
    strv_push(&c->named, name);
    return true;
}

static bool loaded(const char *name, void *data)
{
    return manager_find(data, name) != NULL;
}

int manager_adopt(manager *m)
{
    if (!m->state)
        return 0;
    int adopted = 0;
    for (size_t i = 0; i < m->n; i++)
        adopted += adopt_one(m, m->svcs[i]);
    sweep_ctx c = {.m = m};
    if (m->cfg.cgroup_root && *m->cfg.cgroup_root)
        sbx_backend_sweep(m->be, "", unclaimed, &c);
    if (c.named.n) {
        char list[1024] = "";
        for (size_t i = 0; i < c.named.n; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     c.named.v[i]);
        note(m, "leftovers", list);
    }
    strv_free(&c.named);
    state_prune(m->state, loaded, m);  /* units gone from the directory */
    return adopted;
}
