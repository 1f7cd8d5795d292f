/* One unit's supervision, as a state machine.
 *
 * A service is always in one state:
 *
 *   inactive  never started, or stopped by hand
 *   starting  asked to start, waiting for the units it requires (and those
 *             it is ordered after) to be running; start_timeout bounds it
 *   readying  its program runs but has not said it is ready yet (shown as
 *             "starting"; units that require it wait); ready_timeout
 *             bounds it
 *   running   its program runs (and is ready)
 *   stopping  asked to stop: stop signal sent, SIGKILL of the whole box
 *             after stop_timeout; waiting for the run to end
 *   backoff   its program ended and the restart policy wants it back:
 *             waiting out the backoff delay
 *   exited    its program ended successfully and the policy does not
 *             restart it
 *   failed    gave up: too many starts within the burst interval, a failed
 *             run or start that the policy does not restart, or a required
 *             unit failed. Stays so until started by hand.
 *
 * Events move it: start, stop, deps-ready, deps-failed, exit (the run ended,
 * with its result), timer (backoff over, start or ready timeout, watchdog
 * missed), ready (the program said so, or a probe saw it), watchdog (a
 * WATCHDOG=1 keep-alive), unhealthy (the health probe failed `retries`
 * times). When the machine itself ends a run (not ready in time, watchdog
 * missed, unhealthy), it stops it and, at its exit, judges the run with
 * that reason (not-ready, watchdog, unhealthy) instead of its signal. adopt:
 * at sbxd's start, a run an earlier sbxd left is taken over (inactive ->
 * running without a spawn; its end comes as exit, reason lost). Each pair
 * (state, event) has one entry in a table: an action and the next state;
 * where the next state depends on the run's result or the restart policy,
 * the action returns it. Pairs without an entry are ignored (a start of a
 * running service, a stop of an inactive one).
 *
 * Everything outside the machine (the clock, timers, spawning, stopping,
 * randomness, what to tell the world) goes through service_env, so tests
 * drive it with a fake clock and a fake backend. */
#ifndef SBX_SERVICE_H
#define SBX_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "run.h"
#include "unit.h"

typedef enum svc_state {
    SVC_INACTIVE,
    SVC_STARTING,
    SVC_RUNNING,
    SVC_STOPPING,
    SVC_BACKOFF,
    SVC_EXITED,
    SVC_FAILED,
    SVC_READYING,
    SVC__STATES,
} svc_state;

typedef enum svc_event {
    EV_START,
    EV_STOP,
    EV_DEPS_READY,
    EV_DEPS_FAILED,
    EV_EXIT,
    EV_TIMER,
    EV_READY,
    EV_WATCHDOG,
    EV_UNHEALTHY,
    EV_ADOPT,       /* a run left by an earlier sbxd was found and taken over */
    SVC__EVENTS,
} svc_event;

const char *svc_state_name(svc_state s);
const char *svc_event_name(svc_event e);

typedef struct service service;

typedef struct service_env {
    uint64_t (*now_ms)(void *ctx);
    uint32_t (*random)(void *ctx);
    void (*timer_start)(service *s, uint64_t ms);
    void (*timer_stop)(service *s);
    /* Starts the program. Returns 0, or fills res with a start failure. */
    int (*spawn)(service *s, run_result *res);
    /* Asks the running program to stop (stop signal, then SIGKILL). */
    void (*stop)(service *s);
    /* The step before a start: starts the units s requires that are
     * inactive (an action: it runs their machines, never s's). */
    void (*start_deps)(service *s);
    /* A question only: whether the units s requires/follows are running
     * (1), still coming (0), or one of the required ones failed (-1). */
    int (*deps)(service *s);
    void (*changed)(service *s, svc_state from, const char *why);
    void *ctx;
} service_env;

#define SVC_HISTORY 8

/* What is kept of past runs: small, since a fleet has thousands of units. */
typedef struct run_summary {
    uint64_t ended_ms, wall_ms;
    int64_t peak_memory;
    int32_t exit_code;
    uint8_t reason, signal;
} run_summary;

struct service {
    unit_def def;
    const service_env *env;
    svc_state state;
    uint32_t restarts;          /* automatic restarts since loaded */
    uint32_t failures;          /* consecutive, for the backoff */
    uint64_t started_ms;        /* of the current/last run */
    uint64_t *start_times;      /* ring of the last `burst` starts */
    uint32_t nstarts;
    run_result last;            /* of the last run */
    bool have_last;
    run_summary history[SVC_HISTORY];
    uint32_t nhistory;
    pid_t pid;
    bool in_spawn;              /* deciding after a failed start */
    bool ending;                /* the machine stops the run: judge it by end_reason */
    bool end_fails;             /* ... and do not restart it */
    run_reason end_reason;
    const char *why;            /* the reason of the last transition */
    bool kept;                  /* EV_ADOPT: a run kept across sbxd's own re-exec
                                   (its child still), not one of a dead sbxd */
    void *owner;                /* the manager's data (box, run, logs) */
    struct sample_ring *samples; /* recent memory/CPU while watched (sampler.h); NULL */
};

/* Inactive, exited or failed: nothing runs and nothing is pending. */
bool svc_at_rest(svc_state st);

int service_init(service *s, const service_env *env);
void service_free(service *s);
/* Feeds one event; res is the run's result for EV_EXIT (and for EV_ADOPT
 * of a run that has ended already), else NULL. */
void service_event(service *s, svc_event ev, const run_result *res);

/* Pure policy functions, tested on their own. */
bool restart_wanted(const unit_def *u, const run_result *res);
bool result_is_success(const unit_def *u, const run_result *res);
uint64_t backoff_delay(const unit_def *u, uint32_t failures, uint32_t random);

#endif
