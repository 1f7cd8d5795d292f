/* One run of a program in a box: see run.h for the model. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#endif

#include "reaper.h"
#include "run.h"

const char *run_reason_name(run_reason r)
{
    switch (r) {
    case RUN_EXITED: return "exited";
    case RUN_SIGNALED: return "signaled";
    case RUN_TIMEOUT: return "timeout";
    case RUN_MEMORY: return "memory";
    case RUN_START_FAILED: return "start-failed";
    case RUN_CRASHED: return "crashed";
    case RUN_ESCAPED: return "escaped";
    case RUN_NOT_READY: return "not-ready";
    case RUN_WATCHDOG: return "watchdog";
    case RUN_UNHEALTHY: return "unhealthy";
    case RUN_LOST: return "lost";
    }
    return "?";
}

void run_options_init(run_options *o)
{
    memset(o, 0, sizeof *o);
    o->kill_grace_ms = 1000;
    o->stop_signal = SIGTERM;
}

char **run_inherited_env(void)
{
#ifdef _WIN32
    return sbx_utf8_environ();
#else
    extern char **environ;
    return environ;
#endif
}

char **run_env(char *const *base, char *const *add, size_t nadd)
{
    size_t n = 0;
    while (base && base[n])
        n++;
    char **env = calloc(n + nadd + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(base[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < nadd; j++)
            replaced |= strncmp(add[j], base[i], len + 1) == 0;
        if (!replaced)
            env[k++] = base[i];
    }
    for (size_t j = 0; j < nadd; j++)
        env[k++] = add[j];
    return env;
}

#ifdef _WIN32
int run_resolve_ids(const char *user, const char *group, sbx_command *cmd,
                    char *why, size_t len)
{
    (void)cmd;
    if (!user && !group)
        return 0;
    snprintf(why, len, "%s: switching users is not supported on Windows", user ? "user" : "group");
    return -EOPNOTSUPP;
}
#else
/* A name, else a whole number; false when neither. */
static bool lookup_id(const char *text, bool is_user, uid_t *uid, gid_t *gid)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (is_user) {
        struct passwd *pw = getpwnam(text);
        if (pw || (!*end && *text && n >= 0)) {
            *uid = pw ? pw->pw_uid : (uid_t)n;
            *gid = pw ? pw->pw_gid : (gid_t)n;
            return true;
        }
        return false;
    }
    struct group *gr = getgrnam(text);
    if (!gr && (*end || !*text || n < 0))
        return false;
    *gid = gr ? gr->gr_gid : (gid_t)n;
    return true;
}

int run_resolve_ids(const char *user, const char *group, sbx_command *cmd,
                    char *why, size_t len)
{
    if (!user && !group)
        return 0;
    cmd->set_ids = true;
    cmd->uid = getuid();
    cmd->gid = getgid();
    if (user && !lookup_id(user, true, &cmd->uid, &cmd->gid))
        return snprintf(why, len, "user: no user named '%s'", user), -ENOENT;
    if (group && !lookup_id(group, false, &cmd->uid, &cmd->gid))
        return snprintf(why, len, "group: no group named '%s'", group), -ENOENT;
    return 0;
}
#endif

static void on_exit_status(void *data, pid_t pid, int status, const struct rusage *ru);
static void drain(run *r);

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* An async spawn's report pipe is read as soon as the child has exec'd
 * (or failed), not when it is reaped: a running unit keeps no descriptor
 * for it. read: it is readable now, else given up. */
static void stop_report_watch(run *r, bool read)
{
    if (!r->report_poll)
        return;
    uv_close((uv_handle_t *)r->report_poll, free_handle);
    r->report_poll = NULL;
    if (read)
        sbx_spawn_outcome(&r->proc);  /* kept in proc until the run's end */
    if (r->opt.on_reported)
        r->opt.on_reported(r, read);
}

#ifndef _WIN32
static void on_report(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    stop_report_watch(p->data, true);
}
#endif

static void watch_report(run *r)
{
#ifndef _WIN32
    if (r->proc.report_fd < 0 || !(r->report_poll = malloc(sizeof *r->report_poll)))
        return;  /* without a watch it is read when the child is reaped */
    if (uv_poll_init(r->loop, r->report_poll, r->proc.report_fd) < 0) {
        free(r->report_poll);
        r->report_poll = NULL;
        return;
    }
    r->report_poll->data = r;
    uv_poll_start(r->report_poll, UV_READABLE, on_report);
#else
    (void)r;
#endif
}

static void set_error(run *r, const sbx_error *e)
{
    if (!r->res.error[0] && e->code)
        snprintf(r->res.error, sizeof r->res.error, "%s", e->msg);
}

int run_signal(run *r, int sig, sbx_error *err)
{
#ifndef _WIN32
    /* The main process too: until it has written itself into its cgroups
     * (v1, async spawn) the box does not list it. Its pid cannot be reused
     * while we have not reaped it. (A Windows process is in its job before
     * it runs.) */
    if (r->state == RUN_RUNNING || r->state == RUN_STOPPING)
        kill(r->pid, sig);
#endif
    return sbx_box_kill(r->box, sig, err);
}

static void kill_box(run *r, int sig)
{
    sbx_error e = {0};
    if (r->state == RUN_RUNNING || r->state == RUN_STOPPING)
        r->kill_signal = sig;
    if (run_signal(r, sig, &e) < 0)
        set_error(r, &e);
}

static uint64_t elapsed_ms(const run *r)
{
    return (uv_hrtime() - r->started_ns) / 1000000;
}

static void on_timer(uv_timer_t *t)
{
    run *r = t->data;
    switch (r->state) {
    case RUN_RUNNING:
        r->timed_out = true;
        run_stop(r);
        break;
    case RUN_STOPPING:
        r->killed = true;
        kill_box(r, SIGKILL);
        break;
    case RUN_DRAINING:
        /* The timeout also bounds leftovers we were asked to wait for. */
        if (r->opt.timeout_ms && !r->timed_out && elapsed_ms(r) >= r->opt.timeout_ms) {
            r->timed_out = true;
            kill_box(r, SIGKILL);
        }
        drain(r);
        break;
    case RUN_IDLE:
    case RUN_DONE:
        break;
    }
}

pid_t run_program_pid(run *r)
{
    pid_t pid = r->pid > 0 ? sbx_process_program_pid(&r->proc) : 0;
    return pid > 0 ? pid : r->pid;
}

bool run_pid_pending(run *r)
{
    return r->report_poll && r->proc.init && sbx_process_program_pid(&r->proc) <= 0;
}

/* What a run starts from, started here or resumed after a re-exec. */
static void run_init(run *r, uv_loop_t *loop, sbx_box *box, const run_options *opt,
                     run_done_cb on_done)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->box = box;
    r->opt = *opt;
    r->on_done = on_done;
    r->res.exit_code = -1;
}

int run_start(run *r, uv_loop_t *loop, sbx_box *box, const sbx_command *cmd,
              const run_options *opt, run_done_cb on_done, run_result *res)
{
    run_init(r, loop, box, opt, on_done);
    r->proc.report_fd = -1;
    sbx_stats before = {.oom_kills = 0, .pids_limit_hits = 0};
    if (!sbx_box_fresh(box))  /* a kept box (sbxd): this run's counts are deltas */
        sbx_box_stats(box, &before, NULL);

    sbx_process proc;
    sbx_error e = {0};
    sbx_command c = *cmd;
    c.async = opt->async_spawn;
    r->started_ns = uv_hrtime();
    int rc = sbx_spawn(box, &c, &proc, &e);
    if (rc < 0) {
        r->res.reason = RUN_START_FAILED;
        r->res.failed_stage = proc.failed_stage;
        r->res.failed_errno = proc.failed_errno ? proc.failed_errno : -rc;
        r->res.stats = SBX_STATS_UNKNOWN;
        set_error(r, &e);
        *res = r->res;
        return rc;
    }
    r->pid = proc.pid;
    r->proc = proc;
    r->res.stats.oom_kills = before.oom_kills;  /* the baselines, until the end */
    r->res.stats.pids_limit_hits = before.pids_limit_hits;
    r->timer = malloc(sizeof *r->timer);
    if (!r->timer) {
        sbx_box_kill(box, SIGKILL, NULL);  /* reaped by the reaper; nothing to report to */
        sbx_process_release(&proc);
        r->res.reason = RUN_START_FAILED;
        snprintf(r->res.error, sizeof r->res.error, "out of memory");
        *res = r->res;
        return -ENOMEM;
    }
    reaper_watch(proc.pid, on_exit_status, r);
    watch_report(r);
    uv_timer_init(loop, r->timer);
    r->timer->data = r;
    uv_update_time(loop);  /* the timeout counts from now, not the loop's last wake-up */
    r->state = RUN_RUNNING;
    if (opt->timeout_ms)
        uv_timer_start(r->timer, on_timer, opt->timeout_ms, 0);
    return 0;
}

/* A run taken over from the sbxd this process was before execve: its
 * main process is still our child, so its exit comes through the reaper
 * with its real status, as for a run started here. */
int run_resume(run *r, uv_loop_t *loop, sbx_box *box, const sbx_process *proc,
               uint64_t ran_ms, const run_options *opt, run_done_cb on_done)
{
    run_init(r, loop, box, opt, on_done);
    r->proc = *proc;
    r->pid = proc->pid;
    /* Kills counted before the handover are not this run's to report. */
    sbx_stats before = {.oom_kills = 0, .pids_limit_hits = 0};
    sbx_box_stats(box, &before, NULL);
    r->res.stats.oom_kills = before.oom_kills;
    r->res.stats.pids_limit_hits = before.pids_limit_hits;
    if (!(r->timer = malloc(sizeof *r->timer)))
        return -ENOMEM;
    uv_update_time(loop);
    r->started_ns = uv_hrtime() - ran_ms * 1000000;
    reaper_watch(r->pid, on_exit_status, r);
    uv_timer_init(loop, r->timer);
    r->timer->data = r;
    r->state = RUN_RUNNING;
    if (opt->timeout_ms)  /* what is left of runtime_max */
        uv_timer_start(r->timer, on_timer,
                       opt->timeout_ms > ran_ms ? opt->timeout_ms - ran_ms : 1, 0);
    return 0;
}

void run_stop(run *r)
{
    if (r->state != RUN_RUNNING)
        return;
    if (!r->timed_out)
        r->res.stopped = true;
    r->state = RUN_STOPPING;
    kill_box(r, r->opt.stop_signal);
    uv_timer_start(r->timer, on_timer, r->opt.kill_grace_ms, 0);
}

static void on_exit_status(void *data, pid_t pid, int status, const struct rusage *ru)
{
    run *r = data;
    (void)pid;
    r->status = status;
    sbx_spawn_program_status(&r->proc, &r->status);  /* behind sbx's init */
    r->ru = *ru;
    r->res.wall_ms = elapsed_ms(r);
    r->state = RUN_DRAINING;
    uv_timer_stop(r->timer);
    if (!r->opt.wait_leftovers)
        kill_box(r, SIGKILL);
    else if (r->opt.timeout_ms && !r->timed_out) {
        uint64_t left = r->opt.timeout_ms > r->res.wall_ms ? r->opt.timeout_ms - r->res.wall_ms : 1;
        uv_timer_start(r->timer, on_timer, left, 0);
    }
    drain(r);
}

static void on_sweep(void *data)
{
    drain(data);
}

/* A count of a kept box, less what it was when the run began. */
static void less_baseline(int64_t *count, int64_t base)
{
    if (*count >= 0 && base >= 0)
        *count -= base;
}

/* The box's limits read back: a program that changed them (it could
 * write its cgroup files) ended no clean run, whatever its exit. */
static void check_escape(sbx_box *box, run_result *res)
{
    char what[300];
    if (res->reason == RUN_START_FAILED || sbx_box_verify(box, 0, what, sizeof what) != 1)
        return;
    res->reason = RUN_ESCAPED;
    snprintf(res->error, sizeof res->error, "escaped: %s", what);
}

static void classify(run *r)
{
    run_result *res = &r->res;
    int64_t base = res->stats.oom_kills, pids_base = res->stats.pids_limit_hits;
    res->wall_ms = elapsed_ms(r);  /* until the whole tree ended */
    sbx_box_stats(r->box, &res->stats, NULL);
    less_baseline(&res->stats.oom_kills, base);
    less_baseline(&res->stats.pids_limit_hits, pids_base);
    if (res->stats.user_us < 0) {  /* no cgroup accounting: the main process's */
        res->stats.user_us = r->ru.ru_utime.tv_sec * 1000000 + r->ru.ru_utime.tv_usec;
        res->stats.sys_us = r->ru.ru_stime.tv_sec * 1000000 + r->ru.ru_stime.tv_usec;
    }
    if (res->stats.memory_peak < 0 && r->ru.ru_maxrss > 0)  /* else unknown */
        res->stats.memory_peak = (int64_t)r->ru.ru_maxrss * 1024;
    stop_report_watch(r, false);
    if (sbx_spawn_outcome(&r->proc) < 0) {  /* async: it never reached exec */
        res->reason = RUN_START_FAILED;
        res->failed_stage = r->proc.failed_stage;
        res->failed_errno = r->proc.failed_errno;
        if (res->failed_stage == SBX_STAGE_SANDBOX)
            snprintf(res->error, sizeof res->error, "sandbox: %s: %s", r->proc.failed_step,
                     strerror(res->failed_errno));
        else
            snprintf(res->error, sizeof res->error, "%s: %s", sbx_stage_name(res->failed_stage),
                     strerror(res->failed_errno));
    } else if (reaper_exited(r->status, &res->exit_code, &res->signal)) {
        res->reason = RUN_EXITED;
    } else if (res->signal) {
        res->reason = RUN_SIGNALED;
        /* A SIGKILL is "memory" only if the kernel's OOM counter moved. */
        if (res->signal == SIGKILL && res->stats.oom_kills > 0)
            res->reason = RUN_MEMORY;
    } else {
        res->reason = RUN_CRASHED;
    }
#ifdef _WIN32
    /* A job that kill_box ended exits 128 + the signal: as on POSIX, a
     * death by that signal. */
    if (r->kill_signal && res->reason == RUN_EXITED && res->exit_code == 128 + r->kill_signal) {
        res->reason = RUN_SIGNALED;
        res->signal = r->kill_signal;
    }
    /* A job's memory limit fails allocations instead of killing: any end
     * but a clean exit after the limit was hit is the limit's doing. */
    if (res->stats.oom_kills > 0 && !(res->reason == RUN_EXITED && res->exit_code == 0))
        res->reason = RUN_MEMORY;
#endif
    if (r->timed_out && res->reason != RUN_START_FAILED)
        res->reason = RUN_TIMEOUT;
    check_escape(r->box, res);
}

static void drain(run *r)
{
    if (r->state != RUN_DRAINING)
        return;
    if (sbx_box_is_empty(r->box) == 0) {
        if (!r->sweeping) {
            r->sweeping = true;
            reaper_add_sweep(on_sweep, r);
        }
        /* Belt and braces for trees whose last exit we would not hear of. */
        if (!uv_is_active((uv_handle_t *)r->timer))
            uv_timer_start(r->timer, on_timer, 100, 0);
        return;
    }
    if (r->sweeping)
        reaper_remove_sweep(on_sweep, r);
    r->sweeping = false;
    uv_timer_stop(r->timer);
    classify(r);
    r->state = RUN_DONE;
    r->on_done(r, &r->res);
}

void run_close(run *r)
{
    if (r->state == RUN_IDLE)
        return;
    if (r->sweeping)
        reaper_remove_sweep(on_sweep, r);
    if (r->state != RUN_DONE)
        reaper_unwatch(r->pid);
    stop_report_watch(r, false);
    sbx_process_release(&r->proc);
    uv_close((uv_handle_t *)r->timer, free_handle);
    r->timer = NULL;
    r->state = RUN_IDLE;
}
