/* One unit's state machine: see service.h for the model. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

const char *svc_state_name(svc_state s)
{
    static const char *const names[SVC__STATES] = {
        "inactive", "starting", "running", "stopping", "backoff", "exited", "failed",
        "starting",  /* readying: dependents wait, as for starting */
    };
    return (unsigned)s < SVC__STATES ? names[s] : "?";
}

const char *svc_event_name(svc_event e)
{
    static const char *const names[SVC__EVENTS] = {
        "start", "stop", "deps-ready", "deps-failed", "exit", "timer",
        "ready", "watchdog", "unhealthy", "adopt",
    };
    return (unsigned)e < SVC__EVENTS ? names[e] : "?";
}

bool result_is_success(const unit_def *u, const run_result *res)
{
    if (res->reason != RUN_EXITED)
        return false;
    for (size_t i = 0; i < u->nsuccess; i++)
        if (u->success_codes[i] == res->exit_code)
            return true;
    return false;
}

bool restart_wanted(const unit_def *u, const run_result *res)
{
    if (res->reason == RUN_MEMORY && !u->restart_on_oom)
        return false;
    switch (u->policy) {
    case RESTART_NO: return false;
    case RESTART_ALWAYS: return true;
    case RESTART_ON_FAILURE: return !result_is_success(u, res);
    case RESTART_ON_ABNORMAL:
        return res->reason == RUN_SIGNALED || res->reason == RUN_TIMEOUT ||
               res->reason == RUN_MEMORY || res->reason == RUN_NOT_READY ||
               res->reason == RUN_WATCHDOG || res->reason == RUN_UNHEALTHY ||
               res->reason == RUN_LOST;
    }
    return false;
}

/* delay * 2^(failures-1), capped at delay_max, with jitter: somewhere in
 * the upper half, never below delay. */
uint64_t backoff_delay(const unit_def *u, uint32_t failures, uint32_t random)
{
    uint64_t d = u->delay_ms;
    for (uint32_t i = 1; i < failures && d < u->delay_max_ms; i++)
        d *= 2;
    if (d > u->delay_max_ms)
        d = u->delay_max_ms;
    uint64_t half = d / 2;
    uint64_t wait = half + (half ? random % (d - half + 1) : 0);
    return wait < u->delay_ms ? u->delay_ms : wait;
}

/* ---- actions: each returns the next state ---- */

typedef svc_state (*action_fn)(service *s, const run_result *res);

static void record_start(service *s)
{
    uint64_t now = s->env->now_ms(s->env->ctx);
    s->started_ms = now;
    if (s->start_times)
        s->start_times[s->nstarts++ % s->def.burst] = now;
}

static void remember(service *s, const run_result *res)
{
    s->last = *res;
    s->have_last = true;
    s->history[s->nhistory++ % SVC_HISTORY] = (run_summary){
        .ended_ms = s->env->now_ms(s->env->ctx), .wall_ms = res->wall_ms,
        .peak_memory = res->stats.memory_peak, .exit_code = res->exit_code,
        .reason = (uint8_t)res->reason, .signal = (uint8_t)res->signal,
    };
}

static svc_state decide(service *s, const run_result *res);

static svc_state do_spawn(service *s)
{
    run_result res;
    s->env->timer_stop(s);
    s->ending = false;
    record_start(s);
    if (s->env->spawn(s, &res) == 0) {
        if (s->def.ready.kind == READY_EXEC) {
            s->why = "started";
            return SVC_RUNNING;
        }
        s->why = "started, not ready yet";
        if (s->def.ready.timeout_ms)
            s->env->timer_start(s, s->def.ready.timeout_ms);
        return SVC_READYING;
    }
    /* A start failure is judged like any other failed run; a restart
     * from here goes through the timer, so a failing start with delay 0
     * cannot recurse. */
    remember(s, &res);
    s->in_spawn = true;
    svc_state next = decide(s, &res);
    s->in_spawn = false;
    return next;
}

static svc_state do_try_start(service *s, const run_result *res)
{
    (void)res;
    s->env->start_deps(s);
    int ready = s->env->deps(s);
    if (ready < 0) {
        s->why = "a required unit failed";
        return SVC_FAILED;
    }
    if (ready == 0) {
        s->env->timer_stop(s);  /* e.g. a backoff's: only the start timeout applies */
        s->why = "waiting for dependencies";
        if (s->def.start_timeout_ms)
            s->env->timer_start(s, s->def.start_timeout_ms);
        return SVC_STARTING;
    }
    return do_spawn(s);
}

/* The burst has been used up if `burst` starts fall within `interval`. */
static bool burst_exceeded(const service *s)
{
    if (!s->start_times || s->nstarts < s->def.burst)
        return false;
    uint64_t oldest = s->start_times[s->nstarts % s->def.burst];
    return s->env->now_ms(s->env->ctx) - oldest < s->def.interval_ms;
}

static svc_state decide(service *s, const run_result *res)
{
    bool ok = result_is_success(&s->def, res);
    if (!restart_wanted(&s->def, res)) {
        s->why = ok ? "exited" : res->reason == RUN_START_FAILED ? "start failed"
                                                                 : "failed, no restart";
        s->failures = 0;
        return ok ? SVC_EXITED : SVC_FAILED;
    }
    if (burst_exceeded(s)) {
        s->why = "gave up: too many starts within the interval";
        return SVC_FAILED;
    }
    uint64_t ran = s->env->now_ms(s->env->ctx) - s->started_ms;
    if (s->def.reset_after_ms && ran >= s->def.reset_after_ms)
        s->failures = 0;
    s->failures++;
    s->restarts++;
    uint64_t delay = backoff_delay(&s->def, s->failures, s->env->random(s->env->ctx));
    s->why = "restarting";
    if (delay == 0 && !s->in_spawn)
        return do_try_start(s, res);
    s->env->timer_start(s, delay);
    return SVC_BACKOFF;
}

static svc_state on_run_end(service *s, const run_result *res)
{
    s->env->timer_stop(s);  /* a ready timeout's or a watchdog's */
    remember(s, res);
    return decide(s, res);
}

static svc_state on_exit_stopping(service *s, const run_result *res)
{
    if (s->ending) {  /* the machine ended it: judged by why it did */
        run_result judged = *res;
        judged.reason = s->end_reason;
        judged.stopped = false;
        s->ending = false;
        if (s->end_fails) {
            remember(s, &judged);
            s->failures = 0;
            return SVC_FAILED;  /* why: kept from end_run */
        }
        return on_run_end(s, &judged);
    }
    remember(s, res);
    s->why = "stopped";
    return SVC_INACTIVE;
}

/* The machine ends the run (whole box), then judges it by reason. */
static svc_state end_run(service *s, run_reason reason, bool fails, const char *why)
{
    s->env->timer_stop(s);
    s->ending = true;
    s->end_reason = reason;
    s->end_fails = fails;
    s->env->stop(s);
    s->why = why;
    return SVC_STOPPING;
}

static svc_state do_not_ready(service *s, const run_result *res)
{
    (void)res;
    return end_run(s, RUN_NOT_READY, false, "not ready within ready_timeout");
}

static svc_state do_ready(service *s, const run_result *res)
{
    (void)res;
    s->env->timer_stop(s);
    if (s->def.ready.watchdog_ms)
        s->env->timer_start(s, s->def.ready.watchdog_ms);
    s->why = "ready";
    return SVC_RUNNING;
}

/* A keep-alive: the watchdog's deadline moves on. */
static svc_state do_watchdog_ping(service *s, const run_result *res)
{
    (void)res;
    if (s->def.ready.watchdog_ms)
        s->env->timer_start(s, s->def.ready.watchdog_ms);
    return s->state;
}

/* The only timer of a running unit is its watchdog. */
static svc_state do_watchdog_missed(service *s, const run_result *res)
{
    (void)res;
    if (!s->def.ready.watchdog_ms)
        return s->state;
    return end_run(s, RUN_WATCHDOG, false, "watchdog: no WATCHDOG=1 in time");
}

static svc_state do_unhealthy(service *s, const run_result *res)
{
    (void)res;
    switch (s->def.health.on_unhealthy) {
    case UNHEALTHY_RESTART: return end_run(s, RUN_UNHEALTHY, false, "unhealthy");
    case UNHEALTHY_STOP: return end_run(s, RUN_UNHEALTHY, true, "unhealthy");
    case UNHEALTHY_REPORT: break;
    }
    return s->state;
}

/* A stop by hand while the machine ends a run: it stays stopped. */
static svc_state do_stop_ending(service *s, const run_result *res)
{
    (void)res;
    s->ending = false;
    s->why = "stopping";
    return SVC_STOPPING;
}

static svc_state do_stop(service *s, const run_result *res)
{
    (void)res;
    s->env->timer_stop(s);  /* a ready timeout's or a watchdog's */
    s->env->stop(s);
    s->why = "stopping";
    return SVC_STOPPING;
}

static svc_state do_cancel(service *s, const run_result *res)
{
    (void)res;
    s->env->timer_stop(s);
    s->why = "stopped";
    return SVC_INACTIVE;
}

static svc_state do_start_by_hand(service *s, const run_result *res)
{
    s->failures = 0;
    s->nstarts = 0;
    return do_try_start(s, res);
}

static svc_state do_start_timeout(service *s, const run_result *res)
{
    (void)res;
    s->why = "start timeout: dependencies not ready";
    return SVC_FAILED;
}

static svc_state do_deps_failed(service *s, const run_result *res)
{
    (void)res;
    s->env->timer_stop(s);
    s->why = "a required unit failed";
    return SVC_FAILED;
}

/* A run an earlier sbxd started: the caller has set s->pid, started_ms
 * and the counters from the record; nothing is spawned. With a result,
 * the run has ended while no sbxd watched (reason lost): judged as any
 * end of a run. */
static svc_state do_adopt(service *s, const run_result *res)
{
    s->env->timer_stop(s);
    if (res)
        return on_run_end(s, res);
    s->why = s->kept ? "kept" : "adopted";
    return SVC_RUNNING;
}

/* The table: what each event does in each state. NULL: ignored. */
static const action_fn table[SVC__STATES][SVC__EVENTS] = {
    [SVC_INACTIVE] = {[EV_START] = do_start_by_hand, [EV_ADOPT] = do_adopt},
    [SVC_STARTING] = {[EV_STOP] = do_cancel, [EV_DEPS_READY] = do_try_start,
                      [EV_DEPS_FAILED] = do_deps_failed, [EV_TIMER] = do_start_timeout},
    [SVC_RUNNING] = {[EV_STOP] = do_stop, [EV_EXIT] = on_run_end,
                     [EV_TIMER] = do_watchdog_missed, [EV_WATCHDOG] = do_watchdog_ping,
                     [EV_UNHEALTHY] = do_unhealthy},
    [SVC_STOPPING] = {[EV_EXIT] = on_exit_stopping, [EV_STOP] = do_stop_ending},
    [SVC_BACKOFF] = {[EV_STOP] = do_cancel, [EV_TIMER] = do_try_start,
                     [EV_START] = do_try_start},
    [SVC_EXITED] = {[EV_START] = do_start_by_hand},
    [SVC_FAILED] = {[EV_START] = do_start_by_hand},
    [SVC_READYING] = {[EV_STOP] = do_stop, [EV_EXIT] = on_run_end, [EV_READY] = do_ready,
                      [EV_TIMER] = do_not_ready},
};

void service_event(service *s, svc_event ev, const run_result *res)
{
    action_fn fn = table[s->state][ev];
    if (!fn)
        return;
    svc_state from = s->state;
    s->state = fn(s, res);
    s->env->changed(s, from, s->why);
}

bool svc_at_rest(svc_state st)
{
    return st == SVC_INACTIVE || st == SVC_EXITED || st == SVC_FAILED;
}

int service_init(service *s, const service_env *env)
{
    s->env = env;
    s->state = SVC_INACTIVE;
    if (s->def.burst == 0)
        s->def.burst = 1;
    s->start_times = calloc(s->def.burst, sizeof *s->start_times);
    return s->start_times ? 0 : -ENOMEM;
}

void service_free(service *s)
{
    free(s->start_times);
    free(s->samples);
    unit_def_free(&s->def);
}
