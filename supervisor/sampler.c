/* The sampler of units' memory and CPU: see sampler.h. */
#include "sampler.h"

#include <stdlib.h>

static void push(service *s, const sbx_stats *st, uint32_t interval_ms)
{
    sample_ring *r = s->samples;
    if (!r && !(r = s->samples = calloc(1, sizeof *r)))
        return;
    if (r->interval_ms != interval_ms)
        r->n = 0;  /* a new pace: the old samples would draw a wrong slope */
    r->interval_ms = interval_ms;
    uint32_t i = r->n++ % SAMPLER_RING;
    r->memory[i] = st->memory_current;
    r->cpu_us[i] = sampler_cpu_us(st);
}

static uint64_t interval(const sampler *sp)
{
    return sp->fixed_ms ? sp->fixed_ms : SAMPLER_INTERVAL_MS;
}

void sampler_take(sampler *sp)
{
    manager *m = sp->m;
    for (size_t i = 0; i < m->n; i++) {
        service *s = m->svcs[i];
        sbx_box *box = manager_box(s);
        sbx_stats st = SBX_STATS_UNKNOWN;
        bool up = s->state == SVC_RUNNING || s->state == SVC_STOPPING;
        if (up && box)  /* memory and CPU time: the brief figures have both */
            sbx_box_stats_brief(box, &st);
        if (up || s->samples)  /* a unit that never ran costs nothing */
            push(s, &st, (uint32_t)interval(sp));
    }
}

static void on_tick(uv_timer_t *t)
{
    sampler *sp = t->data;
    if (!sp->fixed_ms && uv_now(sp->m->loop) >= sp->watched_until) {
        uv_timer_stop(&sp->timer);  /* nobody looks any more: no work */
        sp->ticking = false;
        return;
    }
    sampler_take(sp);
}

static void start(sampler *sp)
{
    if (sp->ticking)
        return;
    sp->ticking = true;
    sampler_take(sp);
    uv_timer_start(&sp->timer, on_tick, interval(sp), interval(sp));
}

void sampler_init(sampler *sp, manager *m, uint64_t fixed_ms)
{
    *sp = (sampler){.m = m, .fixed_ms = fixed_ms};
    uv_timer_init(m->loop, &sp->timer);
    sp->timer.data = sp;
    uv_unref((uv_handle_t *)&sp->timer);  /* never keeps sbxd alive */
    if (fixed_ms)
        start(sp);
}

void sampler_watch(sampler *sp)
{
    sp->watched_until = uv_now(sp->m->loop) + SAMPLER_WATCH_MS;
    start(sp);
}

void sampler_close(sampler *sp)
{
    uv_close((uv_handle_t *)&sp->timer, NULL);
}

/* The samples of r, oldest first: index k of n kept. */
static uint32_t at(const sample_ring *r, uint32_t kept, uint32_t k)
{
    return (r->n - kept + k) % SAMPLER_RING;
}

static void write_cpu(json_out *b, const sample_ring *r, uint32_t kept)
{
    out_raw(b, "[", 1);
    for (uint32_t k = 1; k < kept; k++) {
        int64_t a = r->cpu_us[at(r, kept, k - 1)], c = r->cpu_us[at(r, kept, k)];
        if (k > 1)
            out_raw(b, ",", 1);
        if (a < 0 || c < a)
            out_raw(b, "null", 4);  /* unknown, or a new run began */
        else  /* tenths of a percent of one core: us / ms */
            out_fixed(b, (c - a) / (int64_t)r->interval_ms, 1);
    }
    out_raw(b, "]", 1);
}

void sampler_write_trend(json_out *b, const service *s)
{
    const sample_ring *r = s->samples;
    json_out_key(b, "trend");
    if (!r || !r->n) {
        out_raw(b, "null", 4);
        return;
    }
    uint32_t kept = r->n < SAMPLER_RING ? r->n : SAMPLER_RING;
    out_str0(b, "{\"interval_ms\":");
    out_u64(b, r->interval_ms);
    out_str0(b, ",\"memory\":[");
    for (uint32_t k = 0; k < kept; k++) {
        int64_t v = r->memory[at(r, kept, k)];
        if (k)
            out_raw(b, ",", 1);
        if (v < 0)
            out_raw(b, "null", 4);
        else
            out_i64(b, v);
    }
    out_str0(b, "],\"cpu_percent\":");
    write_cpu(b, r, kept);
    out_raw(b, "}", 1);
}
