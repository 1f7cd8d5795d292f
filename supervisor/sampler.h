/* A short history of each unit's memory and CPU, for the trends the
 * status page and `sbxctl top` draw: a small ring of samples per unit,
 * taken on one timer only while someone watches (a poll of the page, a
 * running `top`: each marks the units watched for SAMPLER_WATCH_MS) or
 * when sbxd was given a fixed interval (--sample). When nobody watches,
 * no timer runs: an idle sbxd does no work for it.
 *
 * The status JSON carries the ring as "trend" (status.c calls
 * sampler_write_trend). */
#ifndef SBX_SAMPLER_H
#define SBX_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "jsonout.h"
#include "manager.h"

#define SAMPLER_RING 30              /* samples kept per unit */
#define SAMPLER_INTERVAL_MS 2000     /* while watched, without --sample */
#define SAMPLER_WATCH_MS 30000       /* how long one look keeps it going */

/* One unit's ring (service.samples). */
typedef struct sample_ring {
    uint32_t n;                      /* samples taken (the ring holds the last SAMPLER_RING) */
    uint32_t interval_ms;
    int64_t memory[SAMPLER_RING];    /* bytes; -1 unknown */
    int64_t cpu_us[SAMPLER_RING];    /* cumulative user + system; -1 unknown */
} sample_ring;

typedef struct sampler {
    manager *m;
    uv_timer_t timer;
    uint64_t fixed_ms;               /* --sample: always, at this interval; 0: only when watched */
    uint64_t watched_until;          /* loop time */
    bool ticking;
} sampler;

/* User + system CPU of st in microseconds; -1 when not known. */
static inline int64_t sampler_cpu_us(const sbx_stats *st)
{
    return st->user_us >= 0 ? st->user_us + (st->sys_us > 0 ? st->sys_us : 0) : -1;
}

void sampler_init(sampler *sp, manager *m, uint64_t fixed_ms);
/* Someone looks at the units: sample for the next SAMPLER_WATCH_MS. */
void sampler_watch(sampler *sp);
/* Takes one sample of every unit now (the timer's work). */
void sampler_take(sampler *sp);
void sampler_close(sampler *sp);

/* ,"trend":{"interval_ms":N,"memory":[...],"cpu_percent":[...]} oldest
 * first (cpu_percent: of one core, between two samples, so one fewer),
 * or ,"trend":null when the unit has no samples. */
void sampler_write_trend(json_out *b, const service *s);

#endif
