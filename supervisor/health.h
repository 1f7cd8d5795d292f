/* A unit's health ([health]): its probe, run every interval while the unit
 * is running, and the verdict, with Docker's HEALTHCHECK meaning:
 *
 *   starting   no verdict yet (and failures within start_period of the
 *              start do not count)
 *   healthy    the last probe succeeded
 *   unhealthy  `retries` probes in a row failed
 *
 * The next probe is armed when one ends (never two at once, no timer
 * between probes but the interval's). health_judge is the rule, pure. */
#ifndef SBX_HEALTH_H
#define SBX_HEALTH_H

#include "probe.h"
#include "unit.h"

typedef enum health_state {
    HEALTH_NONE,        /* no [health] command, or not running */
    HEALTH_STARTING,
    HEALTH_HEALTHY,
    HEALTH_UNHEALTHY,
} health_state;

const char *health_state_name(health_state h);

/* The verdict after one probe; *streak counts failures in a row. */
health_state health_judge(health_state cur, unsigned *streak, bool ok, bool in_start_period,
                          unsigned retries);

typedef struct health health;
typedef void (*health_changed_cb)(health *h, health_state from, void *data);

struct health {
    uv_loop_t *loop;
    const unit_health *cfg;
    probe_target target;
    uv_timer_t *timer;
    probe *p;
    health_state state;
    unsigned streak;
    uint64_t started_ms;
    uint64_t probes;                    /* run since started */
    char output[PROBE_OUTPUT_MAX];      /* the last probe's tail */
    health_changed_cb changed;
    void *data;
};

/* Starts probing (the first after one interval). t's pointers must stay
 * valid until health_stop. */
int health_start(health *h, uv_loop_t *loop, const unit_health *cfg, const probe_target *t,
                 health_changed_cb changed, void *data);
/* Stops probing (a probe under way is killed); the state goes to none. */
void health_stop(health *h);

#endif
