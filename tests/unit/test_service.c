/* The supervision state machine, driven deterministically through a fake
 * service_env: a clock that moves only when the test advances it, a timer
 * that only records what was asked (the test "fires" it by feeding
 * EV_TIMER), a spawn that succeeds or reports a start failure on demand,
 * dependencies the test sets, a random source the test chooses, and a log
 * of every transition. Also the pure policy functions. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "service.h"

/* ---- the fake world ---- */

#define LOG_MAX 512

typedef struct transition {
    svc_state from, to;
    const char *why;
} transition;

typedef struct fake {
    uint64_t now;
    uint32_t random;            /* what random() returns next */
    bool armed;                 /* a timer is pending */
    uint64_t timer_ms;          /* the delay it was asked for */
    unsigned timer_starts, timer_stops;
    unsigned spawns, spawn_failures;
    int fail_spawns;            /* the next N spawns fail; -1: all do */
    unsigned spawn_guard;       /* spawns after this many succeed (0: none) */
    unsigned stops;
    int deps;                   /* what deps() answers */
    int start_deps_calls;       /* how often the step before a start ran */
    transition log[LOG_MAX];
    size_t nlog;
} fake;

typedef struct fixture {
    fake fake;
    service_env env;
    service svc;
} fixture;

static fake *fake_of(service *s)
{
    return s->env->ctx;
}

static uint64_t fake_now(void *ctx)
{
    return ((fake *)ctx)->now;
}

static uint32_t fake_random(void *ctx)
{
    return ((fake *)ctx)->random;
}

static void fake_timer_start(service *s, uint64_t ms)
{
    fake *f = fake_of(s);
    f->armed = true;
    f->timer_ms = ms;
    f->timer_starts++;
}

static void fake_timer_stop(service *s)
{
    fake *f = fake_of(s);
    f->armed = false;
    f->timer_stops++;
}

static int fake_spawn(service *s, run_result *res)
{
    fake *f = fake_of(s);
    f->spawns++;
    bool fail = f->fail_spawns != 0 && !(f->spawn_guard && f->spawns > f->spawn_guard);
    if (!fail) {
        s->pid = 1000 + (pid_t)f->spawns;
        return 0;
    }
    if (f->fail_spawns > 0)
        f->fail_spawns--;
    f->spawn_failures++;
    memset(res, 0, sizeof *res);
    res->reason = RUN_START_FAILED;
    res->exit_code = -1;
    res->failed_stage = SBX_STAGE_EXEC;
    res->failed_errno = ENOENT;
    snprintf(res->error, sizeof res->error, "exec /nonexistent: No such file or directory");
    return -ENOENT;
}

static void fake_stop(service *s)
{
    fake_of(s)->stops++;
}

static void fake_start_deps(service *s)
{
    fake_of(s)->start_deps_calls++;
}

static int fake_deps(service *s)
{
    return fake_of(s)->deps;
}

static void fake_changed(service *s, svc_state from, const char *why)
{
    fake *f = fake_of(s);
    if (f->nlog < LOG_MAX)
        f->log[f->nlog++] = (transition){from, s->state, why};
}

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->fake.deps = 1;
    x->fake.now = 1000000;
    x->env = (service_env){
        .now_ms = fake_now,
        .random = fake_random,
        .timer_start = fake_timer_start,
        .timer_stop = fake_timer_stop,
        .spawn = fake_spawn,
        .stop = fake_stop,
        .start_deps = fake_start_deps,
        .deps = fake_deps,
        .changed = fake_changed,
        .ctx = &x->fake,
    };
    unit_def_init(&x->svc.def, "web");
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    service_free(&x->svc);
    free(x);
    return 0;
}

/* After the test has set s->def's fields. */
static service *begin(fixture *x)
{
    assert_int_equal(service_init(&x->svc, &x->env), 0);
    assert_int_equal(x->svc.state, SVC_INACTIVE);
    return &x->svc;
}

static run_result exited(int code)
{
    run_result r;
    memset(&r, 0, sizeof r);
    r.reason = RUN_EXITED;
    r.exit_code = code;
    return r;
}

static run_result with_reason(run_reason reason)
{
    run_result r;
    memset(&r, 0, sizeof r);
    r.reason = reason;
    r.exit_code = -1;
    if (reason == RUN_SIGNALED || reason == RUN_MEMORY)
        r.signal = SIGKILL;
    return r;
}

static run_result signaled(int sig)
{
    run_result r = with_reason(RUN_SIGNALED);
    r.signal = sig;
    return r;
}

static void expect_state(service *s, svc_state want)
{
    if (s->state != want)
        print_message("    state %s, want %s (why: %s)\n", svc_state_name(s->state),
                      svc_state_name(want), s->why ? s->why : "-");
    assert_int_equal(s->state, want);
}

/* The run ends after lasting ms. */
static void run_ends(fixture *x, uint64_t ms, run_result res)
{
    x->fake.now += ms;
    service_event(&x->svc, EV_EXIT, &res);
}

/* The pending timer fires after its delay. */
static void fire(fixture *x)
{
    assert_true(x->fake.armed);
    x->fake.armed = false;
    x->fake.now += x->fake.timer_ms;
    service_event(&x->svc, EV_TIMER, NULL);
}

static const transition *last_transition(fixture *x)
{
    assert_true(x->fake.nlog > 0);
    return &x->fake.log[x->fake.nlog - 1];
}

static void expect_last(fixture *x, svc_state from, svc_state to, const char *why)
{
    const transition *t = last_transition(x);
    assert_int_equal(t->from, from);
    assert_int_equal(t->to, to);
    assert_non_null(t->why);
    assert_string_equal(t->why, why);
}

/* ---- starting and ending ---- */

static void start_runs(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.spawns, 1);
    assert_int_equal(x->fake.nlog, 1);
    expect_last(x, SVC_INACTIVE, SVC_RUNNING, "started");
    assert_int_equal(s->started_ms, x->fake.now);
    assert_false(x->fake.armed);
    assert_false(s->have_last);

    /* A second start of a running service is ignored. */
    service_event(s, EV_START, NULL);
    assert_int_equal(x->fake.spawns, 1);
    assert_int_equal(x->fake.nlog, 1);
    /* So are events that do not apply. */
    service_event(s, EV_TIMER, NULL);
    service_event(s, EV_DEPS_READY, NULL);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.spawns, 1);
}

static void clean_exit_on_failure_exits(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 2000, exited(0));
    expect_state(s, SVC_EXITED);
    expect_last(x, SVC_RUNNING, SVC_EXITED, "exited");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 1);
    assert_int_equal(s->restarts, 0);
    assert_true(s->have_last);
    assert_int_equal(s->last.reason, RUN_EXITED);
    assert_int_equal(s->last.exit_code, 0);
    assert_int_equal(s->nhistory, 1);
    /* Exited stays exited: no timer, no restart. */
    service_event(s, EV_TIMER, NULL);
    expect_state(s, SVC_EXITED);
    assert_int_equal(x->fake.spawns, 1);
}

static void failure_backs_off(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    static const uint32_t randoms[] = {0, 1, 49, 50, 51, 12345, UINT32_MAX};
    for (size_t i = 0; i < sizeof randoms / sizeof randoms[0]; i++) {
        x->fake.random = randoms[i];
        service_event(s, EV_START, NULL);
        expect_state(s, SVC_RUNNING);
        run_ends(x, 1000, exited(1));
        expect_state(s, SVC_BACKOFF);
        expect_last(x, SVC_RUNNING, SVC_BACKOFF, "restarting");
        assert_true(x->fake.armed);
        /* The first failure waits exactly delay, whatever the jitter. */
        assert_int_equal(x->fake.timer_ms, s->def.delay_ms);
        assert_int_equal(s->failures, 1);
        assert_int_equal(s->restarts, i + 1);
        /* Back to a clean slate for the next random value. */
        service_event(s, EV_STOP, NULL);
        expect_state(s, SVC_INACTIVE);
        x->fake.now += 60000;
    }

    /* The timer brings it back. */
    service_event(s, EV_START, NULL);
    run_ends(x, 1000, exited(1));
    unsigned spawns = x->fake.spawns;
    fire(x);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_BACKOFF, SVC_RUNNING, "started");
    assert_int_equal(x->fake.spawns, spawns + 1);
}

/* Each failure doubles the wait up to delay_max; the jitter keeps it in
 * [max(delay, cap/2), cap] where cap = min(delay * 2^(n-1), delay_max). */
static void backoff_grows_bounded(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.delay_ms = 100;
    s->def.delay_max_ms = 1000;
    s->def.burst = 1000;
    begin(x);

    /* With the largest jitter: exactly the cap. */
    static const uint64_t top[] = {100, 200, 400, 800, 1000, 1000, 1000};
    service_event(s, EV_START, NULL);
    for (size_t n = 0; n < sizeof top / sizeof top[0]; n++) {
        uint64_t cap = top[n];
        x->fake.random = (uint32_t)(cap - cap / 2);
        run_ends(x, 500, exited(1));
        expect_state(s, SVC_BACKOFF);
        assert_int_equal(s->failures, n + 1);
        assert_int_equal(x->fake.timer_ms, cap);
        fire(x);
        expect_state(s, SVC_RUNNING);
    }

    /* With no jitter: the lower bound, never below delay. */
    service_event(s, EV_STOP, NULL);
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_INACTIVE);
    x->fake.now += 60000;
    static const uint64_t bottom[] = {100, 100, 200, 400, 500, 500};
    service_event(s, EV_START, NULL);
    x->fake.random = 0;
    for (size_t n = 0; n < sizeof bottom / sizeof bottom[0]; n++) {
        run_ends(x, 500, exited(1));
        assert_int_equal(x->fake.timer_ms, bottom[n]);
        fire(x);
    }

    /* Any jitter: within the bounds. */
    service_event(s, EV_STOP, NULL);
    run_ends(x, 10, signaled(SIGTERM));
    x->fake.now += 60000;
    static const uint32_t randoms[] = {7, 99, 1000, 31337, 65535, 123456789, UINT32_MAX, 3};
    service_event(s, EV_START, NULL);
    for (uint32_t n = 1; n <= 24; n++) {
        x->fake.random = randoms[n % (sizeof randoms / sizeof randoms[0])];
        run_ends(x, 500, exited(1));
        uint64_t cap = n >= 5 ? 1000 : 100ull << (n - 1);
        uint64_t low = cap / 2 > 100 ? cap / 2 : 100;
        assert_in_range(x->fake.timer_ms, low, cap);
        assert_in_range(x->fake.timer_ms, s->def.delay_ms, s->def.delay_max_ms);
        fire(x);
    }
}

static void always_restarts_clean_exit(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_ALWAYS;
    begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 3000, exited(0));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(x->fake.timer_ms, 100);
    fire(x);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.spawns, 2);
    assert_int_equal(s->restarts, 1);
}

static void policy_no(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_NO;
    begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 3000, exited(1));
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_RUNNING, SVC_FAILED, "failed, no restart");
    assert_false(x->fake.armed);

    service_event(s, EV_START, NULL);
    run_ends(x, 3000, signaled(SIGSEGV));
    expect_state(s, SVC_FAILED);

    service_event(s, EV_START, NULL);
    run_ends(x, 3000, exited(0));
    expect_state(s, SVC_EXITED);
    assert_int_equal(x->fake.spawns, 3);
    assert_int_equal(s->restarts, 0);
}

static void on_abnormal(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_ON_ABNORMAL;
    begin(x);
    service_event(s, EV_START, NULL);

    run_ends(x, 5000, signaled(SIGSEGV));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    expect_state(s, SVC_RUNNING);

    run_ends(x, 5000, with_reason(RUN_TIMEOUT));
    expect_state(s, SVC_BACKOFF);
    fire(x);

    run_ends(x, 5000, with_reason(RUN_MEMORY));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(s->restarts, 3);

    run_ends(x, 5000, exited(1));
    expect_state(s, SVC_FAILED);
    assert_false(x->fake.armed);

    service_event(s, EV_START, NULL);
    run_ends(x, 5000, exited(0));
    expect_state(s, SVC_EXITED);
    assert_int_equal(s->restarts, 3);
}

static void on_oom_stop(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_ALWAYS;
    s->def.restart_on_oom = false;
    begin(x);
    service_event(s, EV_START, NULL);
    /* Other ends still restart... */
    run_ends(x, 5000, signaled(SIGSEGV));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    /* ...an OOM kill does not. */
    run_ends(x, 5000, with_reason(RUN_MEMORY));
    expect_state(s, SVC_FAILED);
    assert_false(x->fake.armed);
    assert_int_equal(s->last.reason, RUN_MEMORY);
    assert_int_equal(x->fake.spawns, 2);
}

/* ---- burst, reset ---- */

static void burst_gives_up(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.burst = 3;
    s->def.interval_ms = 10000;
    begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    /* The third start in well under 10s: no fourth. */
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_RUNNING, SVC_FAILED, "gave up: too many starts within the interval");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 3);

    /* Failed stays so until started by hand. */
    x->fake.now += 3600000;
    service_event(s, EV_TIMER, NULL);
    service_event(s, EV_DEPS_READY, NULL);
    service_event(s, EV_STOP, NULL);
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 3);
}

static void burst_spread_keeps_restarting(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.burst = 3;
    s->def.interval_ms = 10000;
    begin(x);
    service_event(s, EV_START, NULL);
    /* Each run lasts 6s: three starts never fit in 10s. */
    for (int i = 0; i < 12; i++) {
        run_ends(x, 6000, exited(1));
        expect_state(s, SVC_BACKOFF);
        fire(x);
        expect_state(s, SVC_RUNNING);
    }
    assert_int_equal(x->fake.spawns, 13);
    assert_int_equal(s->restarts, 12);
}

/* The burst counts starts, so a start failure counts too. */
static void burst_counts_start_failures(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.burst = 4;
    begin(x);
    x->fake.fail_spawns = -1;
    service_event(s, EV_START, NULL);
    for (int i = 0; i < 3; i++) {
        expect_state(s, SVC_BACKOFF);
        fire(x);
    }
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 4);
}

static void reset_after_long_run(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.delay_ms = 100;
    s->def.delay_max_ms = 10000;
    s->def.reset_after_ms = 60000;
    s->def.burst = 100;
    begin(x);
    x->fake.random = UINT32_MAX;
    service_event(s, EV_START, NULL);
    static const uint64_t caps[] = {100, 200, 400, 800};
    for (size_t n = 0; n < 4; n++) {
        x->fake.random = (uint32_t)(caps[n] - caps[n] / 2);
        run_ends(x, 1000, exited(1));
        assert_int_equal(x->fake.timer_ms, caps[n]);
        fire(x);
    }
    assert_int_equal(s->failures, 4);

    /* A run of reset_after or more: back to the first delay. */
    x->fake.random = 1600 - 800;
    run_ends(x, 60000, exited(1));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(s->failures, 1);
    assert_int_equal(x->fake.timer_ms, 100);
    fire(x);

    /* Just under it: the backoff keeps growing. */
    x->fake.random = 100;
    run_ends(x, 59999, exited(1));
    assert_int_equal(s->failures, 2);
    assert_int_equal(x->fake.timer_ms, 200);
}

/* ---- stopping ---- */

static void stop_running(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_ALWAYS;
    begin(x);
    service_event(s, EV_START, NULL);
    x->fake.now += 5000;
    service_event(s, EV_STOP, NULL);
    expect_state(s, SVC_STOPPING);
    expect_last(x, SVC_RUNNING, SVC_STOPPING, "stopping");
    assert_int_equal(x->fake.stops, 1);
    /* A second stop is not sent twice. */
    service_event(s, EV_STOP, NULL);
    assert_int_equal(x->fake.stops, 1);
    /* Nor does a start interrupt it. */
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STOPPING);

    run_result r = signaled(SIGTERM);
    r.stopped = true;
    run_ends(x, 50, r);
    expect_state(s, SVC_INACTIVE);
    expect_last(x, SVC_STOPPING, SVC_INACTIVE, "stopped");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 1);
    assert_int_equal(s->restarts, 0);
    assert_true(s->have_last);
    assert_int_equal(s->last.signal, SIGTERM);

    /* Even a failing end while stopping does not restart. */
    service_event(s, EV_START, NULL);
    service_event(s, EV_STOP, NULL);
    run_ends(x, 10000, exited(1));
    expect_state(s, SVC_INACTIVE);
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 2);
}

static void stop_in_backoff(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 1000, exited(1));
    expect_state(s, SVC_BACKOFF);
    assert_true(x->fake.armed);
    service_event(s, EV_STOP, NULL);
    expect_state(s, SVC_INACTIVE);
    expect_last(x, SVC_BACKOFF, SVC_INACTIVE, "stopped");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.stops, 0);
    /* A late timer (already queued) changes nothing. */
    service_event(s, EV_TIMER, NULL);
    expect_state(s, SVC_INACTIVE);
    assert_int_equal(x->fake.spawns, 1);
}

/* ---- by hand ---- */

static void start_by_hand_from_failed(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.burst = 3;
    begin(x);
    x->fake.random = UINT32_MAX;
    service_event(s, EV_START, NULL);
    for (int i = 0; i < 2; i++) {
        run_ends(x, 10, exited(1));
        fire(x);
    }
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_FAILED);
    assert_int_equal(s->failures, 2);

    service_event(s, EV_START, NULL);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_FAILED, SVC_RUNNING, "started");
    assert_int_equal(s->failures, 0);
    assert_int_equal(s->nstarts, 1);

    /* A fresh backoff and a fresh burst: three more starts. */
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(x->fake.timer_ms, s->def.delay_ms);
    fire(x);
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    run_ends(x, 10, exited(1));
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 6);

    /* From exited too. */
    s->def.policy = RESTART_NO;
    service_event(s, EV_START, NULL);
    run_ends(x, 10, exited(0));
    expect_state(s, SVC_EXITED);
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_EXITED, SVC_RUNNING, "started");
}

/* A start in backoff skips the rest of the wait. */
static void start_in_backoff(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 1000, exited(1));
    expect_state(s, SVC_BACKOFF);
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_RUNNING);
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 2);
}

/* A start in backoff that must wait for dependencies (no start_timeout)
 * must not leave the backoff timer pending: when it fires in starting it
 * is taken for a start timeout and the unit fails. */
static void start_in_backoff_waiting_for_deps(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.start_timeout_ms = 0;
    begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 1000, exited(1));
    expect_state(s, SVC_BACKOFF);
    assert_true(x->fake.armed);
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STARTING);
    assert_int_equal(x->fake.start_deps_calls, 2);  /* the step before each start */
    assert_false(x->fake.armed);
    if (x->fake.armed) /* what the pending backoff timer then does */
        fire(x);
    expect_state(s, SVC_STARTING);
}

/* ---- dependencies ---- */

static void deps_wait_then_ready(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STARTING);
    expect_last(x, SVC_INACTIVE, SVC_STARTING, "waiting for dependencies");
    assert_int_equal(x->fake.spawns, 0);
    assert_false(x->fake.armed); /* no start_timeout: no timer */

    /* Not ready yet when asked again. */
    service_event(s, EV_DEPS_READY, NULL);
    expect_state(s, SVC_STARTING);
    assert_int_equal(x->fake.spawns, 0);

    x->fake.deps = 1;
    service_event(s, EV_DEPS_READY, NULL);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_STARTING, SVC_RUNNING, "started");
    assert_int_equal(x->fake.spawns, 1);
}

static void deps_failed(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.start_timeout_ms = 30000;
    begin(x);
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STARTING);
    assert_true(x->fake.armed);
    service_event(s, EV_DEPS_FAILED, NULL);
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_STARTING, SVC_FAILED, "a required unit failed");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 0);

    /* Started by hand while a required unit is failed: failed at once. */
    x->fake.deps = -1;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_FAILED, SVC_FAILED, "a required unit failed");
    assert_int_equal(x->fake.spawns, 0);

    /* A restart after backoff whose dependency has failed meanwhile. */
    x->fake.deps = 1;
    service_event(s, EV_START, NULL);
    run_ends(x, 1000, exited(1));
    expect_state(s, SVC_BACKOFF);
    x->fake.deps = -1;
    fire(x);
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 1);
}

static void stop_while_starting(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.start_timeout_ms = 30000;
    begin(x);
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STARTING);
    service_event(s, EV_STOP, NULL);
    expect_state(s, SVC_INACTIVE);
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.stops, 0);
    assert_int_equal(x->fake.spawns, 0);
}

static void start_timeout(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.start_timeout_ms = 5000;
    begin(x);
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_STARTING);
    assert_true(x->fake.armed);
    assert_int_equal(x->fake.timer_ms, 5000);
    fire(x);
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_STARTING, SVC_FAILED, "start timeout: dependencies not ready");
    assert_int_equal(x->fake.spawns, 0);
    /* Dependencies ready too late: it stays failed. */
    x->fake.deps = 1;
    service_event(s, EV_DEPS_READY, NULL);
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 0);

    /* Ready in time: the start timeout is cancelled. */
    x->fake.deps = 0;
    service_event(s, EV_START, NULL);
    assert_true(x->fake.armed);
    x->fake.deps = 1;
    service_event(s, EV_DEPS_READY, NULL);
    expect_state(s, SVC_RUNNING);
    assert_false(x->fake.armed);
}

/* ---- start failures ---- */

static void start_failure_backs_off(void **state)
{
    fixture *x = *state;
    service *s = begin(x);
    x->fake.fail_spawns = 1;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_BACKOFF);
    assert_true(x->fake.armed);
    assert_int_equal(x->fake.timer_ms, s->def.delay_ms);
    assert_true(s->have_last);
    assert_int_equal(s->last.reason, RUN_START_FAILED);
    assert_int_equal(s->last.failed_errno, ENOENT);
    assert_int_equal(x->fake.spawns, 1);
    fire(x);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.spawns, 2);

    /* Spawned asynchronously, a start failure arrives as the run's end. */
    run_ends(x, 5, with_reason(RUN_START_FAILED));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(s->last.reason, RUN_START_FAILED);
}

static void start_failure_policy_no(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_NO;
    begin(x);
    x->fake.fail_spawns = -1;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_INACTIVE, SVC_FAILED, "start failed");
    assert_false(x->fake.armed);
    assert_int_equal(x->fake.spawns, 1);
    assert_int_equal(s->last.reason, RUN_START_FAILED);

    /* The same failure learnt asynchronously, as the run's end. */
    x->fake.fail_spawns = 0;
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_RUNNING);
    run_ends(x, 5, with_reason(RUN_START_FAILED));
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_RUNNING, SVC_FAILED, "start failed");
}

/* ---- delay 0 ---- */

static void delay_zero_restarts_at_once(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.delay_ms = 0;
    begin(x);
    service_event(s, EV_START, NULL);
    for (int i = 1; i <= 3; i++) {
        run_ends(x, 5000, exited(1));
        expect_state(s, SVC_RUNNING);
        expect_last(x, SVC_RUNNING, SVC_RUNNING, "started");
        assert_false(x->fake.armed);
        assert_int_equal(x->fake.spawns, (unsigned)i + 1);
        assert_int_equal(s->restarts, i);
    }
    /* Quick crashes still give up after the burst. */
    for (int i = 0; i < 5; i++)
        run_ends(x, 1, exited(1));
    expect_state(s, SVC_FAILED);
}

/* delay 0 and a start that fails: each retry goes through a 0 ms timer
 * (never recursion within one event), and the burst still ends it. */
static void delay_zero_start_failures_bounded(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.delay_ms = 0;
    s->def.burst = 5;
    begin(x);
    x->fake.fail_spawns = -1;
    service_event(s, EV_START, NULL);
    assert_int_equal(x->fake.spawns, 1);
    for (int i = 0; i < 10 && s->state == SVC_BACKOFF; i++) {
        assert_true(x->fake.armed);
        assert_int_equal(x->fake.timer_ms, 0);
        service_event(s, EV_TIMER, NULL);
    }
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 5);
}

/* The same with interval = 0 (which the parser accepts): nothing may bound
 * the retries but the burst, yet the machine must not loop (recursing
 * decide -> do_try_start -> do_spawn -> decide) inside one event. The fake
 * spawn lets the start succeed after 200 tries so the test ends. */
static void delay_zero_interval_zero_no_loop(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.delay_ms = 0;
    s->def.interval_ms = 0;
    s->def.burst = 5;
    begin(x);
    x->fake.fail_spawns = -1;
    x->fake.spawn_guard = 200;
    service_event(s, EV_START, NULL);
    assert_in_range(x->fake.spawns, 1, s->def.burst);
}

/* ---- history ---- */

static void history_ring(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.burst = 1000;
    begin(x);
    service_event(s, EV_START, NULL);
    uint64_t ended = 0;
    for (int i = 1; i <= SVC_HISTORY + 3; i++) {
        run_result r = exited(i);
        r.wall_ms = 1000;
        r.stats.memory_peak = 4096 * i;
        run_ends(x, 1000, r);
        ended = x->fake.now;
        fire(x);
    }
    assert_int_equal(s->nhistory, SVC_HISTORY + 3);
    assert_int_equal(s->last.exit_code, SVC_HISTORY + 3);
    const run_summary *h = &s->history[(SVC_HISTORY + 2) % SVC_HISTORY];
    assert_int_equal(h->exit_code, SVC_HISTORY + 3);
    assert_int_equal(h->reason, RUN_EXITED);
    assert_int_equal(h->ended_ms, ended);
    assert_int_equal(h->wall_ms, 1000);
    assert_int_equal(h->peak_memory, 4096 * (SVC_HISTORY + 3));
    /* Slot 3 held run 4's result; run 12 has not happened. */
    assert_int_equal(s->history[3].exit_code, 4);
}

/* ---- the pure functions ---- */

static void success(void **state)
{
    (void)state;
    unit_def u;
    unit_def_init(&u, "web");
    run_result r = exited(0);
    assert_true(result_is_success(&u, &r));
    r = exited(1);
    assert_false(result_is_success(&u, &r));

    u.success_codes[0] = 0;
    u.success_codes[1] = 2;
    u.success_codes[2] = 143;
    u.nsuccess = 3;
    static const int yes[] = {0, 2, 143}, no[] = {1, 3, 142, 255};
    for (size_t i = 0; i < 3; i++) {
        r = exited(yes[i]);
        assert_true(result_is_success(&u, &r));
    }
    for (size_t i = 0; i < 4; i++) {
        r = exited(no[i]);
        assert_false(result_is_success(&u, &r));
    }
    /* Only an exit can be a success, whatever the codes say. */
    static const run_reason others[] = {RUN_SIGNALED, RUN_TIMEOUT, RUN_MEMORY, RUN_START_FAILED};
    for (size_t i = 0; i < 4; i++) {
        r = with_reason(others[i]);
        r.exit_code = 0;
        assert_false(result_is_success(&u, &r));
    }
    /* Codes without 0: a clean exit is a failure. */
    u.success_codes[0] = 3;
    u.nsuccess = 1;
    r = exited(0);
    assert_false(result_is_success(&u, &r));
    r = exited(3);
    assert_true(result_is_success(&u, &r));
    unit_def_free(&u);
}

static void restart_policy_table(void **state)
{
    (void)state;
    enum { OK, FAIL, SIG, TIMEOUT, OOM, STARTFAIL, NRES };
    run_result res[NRES] = {
        exited(0), exited(1), signaled(SIGSEGV), with_reason(RUN_TIMEOUT),
        with_reason(RUN_MEMORY), with_reason(RUN_START_FAILED),
    };
    /* [policy][on_oom restart?][result] */
    static const bool want[4][2][NRES] = {
        [RESTART_NO] = {{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}},
        [RESTART_ON_FAILURE] = {{0, 1, 1, 1, 0, 1}, {0, 1, 1, 1, 1, 1}},
        [RESTART_ON_ABNORMAL] = {{0, 0, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 0}},
        [RESTART_ALWAYS] = {{1, 1, 1, 1, 0, 1}, {1, 1, 1, 1, 1, 1}},
    };
    unit_def u;
    unit_def_init(&u, "web");
    for (int p = RESTART_NO; p <= RESTART_ALWAYS; p++) {
        for (int oom = 0; oom < 2; oom++) {
            u.policy = (restart_policy)p;
            u.restart_on_oom = oom;
            for (int r = 0; r < NRES; r++) {
                bool got = restart_wanted(&u, &res[r]);
                if (got != want[p][oom][r])
                    print_message("    policy %s on_oom %s result %d: got %d\n",
                                  restart_policy_name((restart_policy)p),
                                  oom ? "restart" : "stop", r, got);
                assert_int_equal(got, want[p][oom][r]);
            }
        }
    }
    /* on-failure honours success_exit_codes. */
    u.policy = RESTART_ON_FAILURE;
    u.success_codes[1] = 2;
    u.nsuccess = 2;
    run_result two = exited(2);
    assert_false(restart_wanted(&u, &two));
    unit_def_free(&u);
}

static void backoff(void **state)
{
    (void)state;
    unit_def u;
    unit_def_init(&u, "web");
    u.delay_ms = 100;
    u.delay_max_ms = 1000;
    /* Upper end of the jitter: the cap itself. */
    assert_int_equal(backoff_delay(&u, 1, 50), 100);
    assert_int_equal(backoff_delay(&u, 2, 100), 200);
    assert_int_equal(backoff_delay(&u, 3, 200), 400);
    assert_int_equal(backoff_delay(&u, 4, 400), 800);
    assert_int_equal(backoff_delay(&u, 5, 500), 1000);
    assert_int_equal(backoff_delay(&u, 40, 500), 1000);
    assert_int_equal(backoff_delay(&u, UINT32_MAX, 500), 1000);
    /* Lower end: half the cap, never under delay. */
    assert_int_equal(backoff_delay(&u, 1, 0), 100);
    assert_int_equal(backoff_delay(&u, 2, 0), 100);
    assert_int_equal(backoff_delay(&u, 3, 0), 200);
    assert_int_equal(backoff_delay(&u, 5, 0), 500);
    /* failures 0 is treated as the first. */
    assert_int_equal(backoff_delay(&u, 0, 12345), 100);

    /* Every jitter within [delay, delay_max] and [cap/2, cap]. */
    for (uint32_t n = 1; n <= 12; n++) {
        uint64_t cap = n >= 5 ? 1000 : 100ull << (n - 1);
        for (uint32_t r = 0; r < 3000; r += 7) {
            uint64_t d = backoff_delay(&u, n, r * 2654435761u);
            assert_in_range(d, u.delay_ms, u.delay_max_ms);
            assert_in_range(d, cap / 2 > 100 ? cap / 2 : 100, cap);
        }
    }

    /* delay == delay_max: no jitter at all. */
    u.delay_ms = u.delay_max_ms = 700;
    for (uint32_t r = 0; r < 100; r++)
        assert_int_equal(backoff_delay(&u, 1 + r % 9, r * 40503u), 700);

    /* delay 0: at once, always. */
    u.delay_ms = 0;
    u.delay_max_ms = 30000;
    assert_int_equal(backoff_delay(&u, 1, 999), 0);
    assert_int_equal(backoff_delay(&u, 20, UINT32_MAX), 0);

    /* A delay_max that is not a power-of-two multiple of delay. */
    u.delay_ms = 300;
    u.delay_max_ms = 1000;
    for (uint32_t n = 1; n <= 10; n++)
        for (uint32_t r = 0; r < 2000; r += 13)
            assert_in_range(backoff_delay(&u, n, r), 300, 1000);
    assert_int_equal(backoff_delay(&u, 3, 500), 1000);
    unit_def_free(&u);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(svc_state_name(SVC_INACTIVE), "inactive");
    assert_string_equal(svc_state_name(SVC_BACKOFF), "backoff");
    assert_string_equal(svc_state_name(SVC_FAILED), "failed");
    assert_string_equal(svc_state_name(SVC__STATES), "?");
    assert_string_equal(svc_event_name(EV_DEPS_READY), "deps-ready");
    assert_string_equal(svc_event_name(EV_TIMER), "timer");
    assert_string_equal(svc_event_name(EV_READY), "ready");
    assert_string_equal(svc_event_name(EV_UNHEALTHY), "unhealthy");
    assert_string_equal(svc_state_name(SVC_READYING), "starting");
    assert_string_equal(run_reason_name(RUN_NOT_READY), "not-ready");
    assert_string_equal(run_reason_name(RUN_WATCHDOG), "watchdog");
    assert_string_equal(svc_event_name(SVC__EVENTS), "?");
}

/* ---- readiness, watchdog, health ---- */

static void ready_notify_waits_then_runs(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.ready.kind = READY_NOTIFY;
    s->def.ready.timeout_ms = 5000;
    begin(x);
    service_event(s, EV_START, NULL);
    expect_state(s, SVC_READYING);
    assert_string_equal(svc_state_name(s->state), "starting");
    expect_last(x, SVC_INACTIVE, SVC_READYING, "started, not ready yet");
    assert_true(x->fake.armed);
    assert_int_equal(x->fake.timer_ms, 5000);
    /* Keep-alives before ready change nothing. */
    service_event(s, EV_WATCHDOG, NULL);
    service_event(s, EV_UNHEALTHY, NULL);
    expect_state(s, SVC_READYING);
    service_event(s, EV_READY, NULL);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_READYING, SVC_RUNNING, "ready");
    assert_false(x->fake.armed);  /* no watchdog asked */
    /* A second ready is ignored; a stray timer too. */
    size_t n = x->fake.nlog;
    service_event(s, EV_READY, NULL);
    assert_int_equal(x->fake.nlog, n);
    service_event(s, EV_TIMER, NULL);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.stops, 0);
}

static void ready_timeout_restarts_by_policy(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.ready.kind = READY_PORT;
    s->def.ready.timeout_ms = 2000;
    begin(x);
    service_event(s, EV_START, NULL);
    fire(x);
    expect_state(s, SVC_STOPPING);
    expect_last(x, SVC_READYING, SVC_STOPPING, "not ready within ready_timeout");
    assert_int_equal(x->fake.stops, 1);
    /* Killed by the stop signal, judged as not-ready. */
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(s->last.reason, RUN_NOT_READY);
    assert_false(s->last.stopped);
    assert_int_equal(s->restarts, 1);
    fire(x);
    expect_state(s, SVC_READYING);
    assert_int_equal(x->fake.spawns, 2);

    /* With policy no it fails. */
    s->def.policy = RESTART_NO;
    fire(x);
    run_ends(x, 10, signaled(SIGKILL));
    expect_state(s, SVC_FAILED);
    assert_int_equal(s->last.reason, RUN_NOT_READY);
}

static void ready_program_exits_first(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.ready.kind = READY_NOTIFY;
    s->def.policy = RESTART_NO;
    begin(x);
    service_event(s, EV_START, NULL);
    run_ends(x, 100, exited(3));
    expect_state(s, SVC_FAILED);
    assert_int_equal(s->last.reason, RUN_EXITED);
    assert_false(x->fake.armed);
}

static void stop_while_readying(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.ready.kind = READY_FILE;
    begin(x);
    service_event(s, EV_START, NULL);
    service_event(s, EV_STOP, NULL);
    expect_state(s, SVC_STOPPING);
    assert_false(x->fake.armed);  /* the ready timeout is off */
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_INACTIVE);
}

static void watchdog_missed_restarts(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.ready.kind = READY_NOTIFY;
    s->def.ready.watchdog_ms = 1000;
    begin(x);
    service_event(s, EV_START, NULL);
    service_event(s, EV_READY, NULL);
    assert_true(x->fake.armed);
    assert_int_equal(x->fake.timer_ms, 1000);
    unsigned starts = x->fake.timer_starts;
    size_t n = x->fake.nlog;
    service_event(s, EV_WATCHDOG, NULL);
    assert_int_equal(x->fake.timer_starts, starts + 1);  /* moved on */
    expect_state(s, SVC_RUNNING);
    (void)n;
    fire(x);
    expect_state(s, SVC_STOPPING);
    expect_last(x, SVC_RUNNING, SVC_STOPPING, "watchdog: no WATCHDOG=1 in time");
    assert_int_equal(x->fake.stops, 1);
    run_ends(x, 10, signaled(SIGKILL));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(s->last.reason, RUN_WATCHDOG);
    assert_int_equal(s->restarts, 1);
}

static void unhealthy_actions(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    begin(x);
    /* restart (default): ended, judged unhealthy, restarted; counted. */
    service_event(s, EV_START, NULL);
    service_event(s, EV_UNHEALTHY, NULL);
    expect_state(s, SVC_STOPPING);
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_BACKOFF);
    assert_int_equal(s->last.reason, RUN_UNHEALTHY);
    assert_int_equal(s->restarts, 1);
    fire(x);
    expect_state(s, SVC_RUNNING);

    /* report: an event only. */
    s->def.health.on_unhealthy = UNHEALTHY_REPORT;
    service_event(s, EV_UNHEALTHY, NULL);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.stops, 1);

    /* stop: ended, failed, no restart. */
    s->def.health.on_unhealthy = UNHEALTHY_STOP;
    service_event(s, EV_UNHEALTHY, NULL);
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_FAILED);
    expect_last(x, SVC_STOPPING, SVC_FAILED, "unhealthy");
    assert_int_equal(s->last.reason, RUN_UNHEALTHY);
    assert_false(x->fake.armed);
}

/* A stop by hand while the machine ends a run wins: no restart. */
static void stop_by_hand_while_ending(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    begin(x);
    service_event(s, EV_START, NULL);
    service_event(s, EV_UNHEALTHY, NULL);
    service_event(s, EV_STOP, NULL);
    run_ends(x, 10, signaled(SIGTERM));
    expect_state(s, SVC_INACTIVE);
    assert_int_equal(s->restarts, 0);
}

/* ---- adoption (a run an earlier sbxd left) ---- */

static void adopt_runs_without_spawn(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    s->def.policy = RESTART_ALWAYS;
    begin(x);
    service_event(s, EV_ADOPT, NULL);
    expect_state(s, SVC_RUNNING);
    expect_last(x, SVC_INACTIVE, SVC_RUNNING, "adopted");
    assert_int_equal(x->fake.spawns, 0);
    service_event(s, EV_ADOPT, NULL);  /* once only: ignored when running */
    assert_int_equal(x->fake.spawns, 0);
    /* Its end is lost, a failure for the policy: restarted. */
    run_ends(x, 3000, with_reason(RUN_LOST));
    expect_state(s, SVC_BACKOFF);
    fire(x);
    expect_state(s, SVC_RUNNING);
    assert_int_equal(x->fake.spawns, 1);
}

static void adopt_lost_is_judged_by_policy(void **state)
{
    fixture *x = *state;
    service *s = &x->svc;
    run_result lost = with_reason(RUN_LOST);
    s->def.policy = RESTART_NO;
    begin(x);
    service_event(s, EV_ADOPT, &lost);
    expect_state(s, SVC_FAILED);
    assert_int_equal(x->fake.spawns, 0);
    assert_true(s->have_last);
    assert_int_equal(s->last.reason, RUN_LOST);
    assert_false(result_is_success(&s->def, &lost));
    s->def.policy = RESTART_ON_ABNORMAL;
    assert_true(restart_wanted(&s->def, &lost));
    s->def.policy = RESTART_ON_FAILURE;
    assert_true(restart_wanted(&s->def, &lost));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(start_runs),
        T(clean_exit_on_failure_exits),
        T(failure_backs_off),
        T(backoff_grows_bounded),
        T(always_restarts_clean_exit),
        T(policy_no),
        T(on_abnormal),
        T(on_oom_stop),
        T(burst_gives_up),
        T(burst_spread_keeps_restarting),
        T(burst_counts_start_failures),
        T(reset_after_long_run),
        T(stop_running),
        T(stop_in_backoff),
        T(start_by_hand_from_failed),
        T(start_in_backoff),
        T(start_in_backoff_waiting_for_deps),
        T(deps_wait_then_ready),
        T(deps_failed),
        T(adopt_runs_without_spawn),
        T(adopt_lost_is_judged_by_policy),
        T(stop_while_starting),
        T(start_timeout),
        T(start_failure_backs_off),
        T(start_failure_policy_no),
        T(delay_zero_restarts_at_once),
        T(delay_zero_start_failures_bounded),
        T(delay_zero_interval_zero_no_loop),
        T(history_ring),
        T(ready_notify_waits_then_runs),
        T(ready_timeout_restarts_by_policy),
        T(ready_program_exits_first),
        T(stop_while_readying),
        T(watchdog_missed_restarts),
        T(unhealthy_actions),
        T(stop_by_hand_while_ending),
        cmocka_unit_test(success),
        cmocka_unit_test(restart_policy_table),
        cmocka_unit_test(backoff),
        cmocka_unit_test(names),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
