/* The views over the manager: see observe.h. */
#include "observe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sampler.h"
#include "status.h"

struct observe {
    manager *m;
    void (*on_watch)(void *ctx);
    void *watch_ctx;
    metrics_unit *units;       /* kept between scrapes: no fresh pages each time */
    size_t cap;
    char (*fleet)[UNIT_NAME_MAX]; /* instance_of of each unit, beside units */
    const char *states[SVC__STATES]; /* the machine's names, for sbx_unit_state */
};

observe *observe_new(manager *m, void (*on_watch)(void *ctx), void *watch_ctx)
{
    observe *o = calloc(1, sizeof *o);
    if (o) {
        o->m = m;
        o->on_watch = on_watch;
        o->watch_ctx = watch_ctx;
        for (int i = 0; i < SVC__STATES; i++)
            o->states[i] = svc_state_name((svc_state)i);
    }
    return o;
}

void observe_free(observe *o)
{
    if (o) {
        free(o->units);
        free(o->fleet);
        free(o);
    }
}

http_provider observe_provider(observe *o)
{
    return (http_provider){o, observe_units_json, observe_unit_json, observe_metrics};
}

static void watched(observe *o)
{
    if (o->on_watch)
        o->on_watch(o->watch_ctx);
}

int observe_units_json(void *ctx, outbuf *out)
{
    observe *o = ctx;
    watched(o);
    out_str0(out, "{\"units\":");
    status_write_units(out, o->m, o->m->svcs, o->m->n, false);
    out_raw(out, "}", 1);
    return out->failed ? -ENOMEM : 0;
}

int observe_unit_json(void *ctx, const char *name, outbuf *out)
{
    observe *o = ctx;
    service *s = manager_find(o->m, name);
    if (!s)
        return -ENOENT;
    watched(o);
    status_write_unit(out, o->m, s, true);
    return out->failed ? -ENOMEM : 0;
}

/* A fleet member NAME@N belongs to NAME. */
static const char *fleet_of(const char *name, char *buf)
{
    const char *at = strchr(name, '@');
    if (!at)
        return NULL;
    size_t n = (size_t)(at - name);
    memcpy(buf, name, n);
    buf[n] = '\0';
    return buf;
}

/* The exit code of the last run; 128 + N for signal N, as shells say. */
static bool last_exit(const service *s, int *code)
{
    if (!s->have_last || (s->last.exit_code < 0 && !s->last.signal))
        return false;
    *code = s->last.signal ? 128 + s->last.signal : s->last.exit_code;
    return true;
}

/* What /metrics shows of the box. The brief figures hold all of them
 * but the OOM kill count, which is zero until the box's OOM event fires:
 * until then, a third of the system calls (issue 16: 8 files a unit made
 * 1,000 running units cost 280 ms a scrape). */
static void read_figures(const service *s, sbx_box *box, sbx_stats *st)
{
    if (manager_oom_possible(s)) {
        sbx_box_stats(box, st, NULL);
        return;
    }
    sbx_box_stats_brief(box, st);
    st->oom_kills = 0;
}

static void fill_unit(observe *o, size_t i, uint64_t now, int64_t wall)
{
    service *s = o->m->svcs[i];
    metrics_unit *u = &o->units[i];
    sbx_box *box = manager_box(s);
    sbx_stats st = SBX_STATS_UNKNOWN;
    if (box)
        read_figures(s, box, &st);
    bool up = s->state == SVC_RUNNING || s->state == SVC_STOPPING;
    const sbx_limits *l = &s->def.limits;
    *u = (metrics_unit){
        .name = s->def.name,
        .instance_of = fleet_of(s->def.name, o->fleet[i]),
        .state = svc_state_name(s->state),
        .up = up,
        .memory_bytes = st.memory_current,
        .memory_peak_bytes = st.memory_peak,
        .memory_limit_bytes = l->memory,
        .cpu_usage_us = sampler_cpu_us(&st),
        .cpu_limit_percent = l->cpu_percent,
        .tasks = st.pids_current,
        .tasks_limit = l->pids,
        .restarts = s->restarts,
        .oom_kills = st.oom_kills > 0 ? (uint64_t)st.oom_kills : 0,
        .start_time_ms = up ? wall - (int64_t)(now - s->started_ms) : -1,
    };
    u->last_exit_known = last_exit(s, &u->last_exit_code);
    manager_log_counts(s, &u->log_bytes_written, &u->log_bytes_dropped);
}

static int reserve(observe *o, size_t n)
{
    if (n <= o->cap)
        return 0;
    metrics_unit *u = realloc(o->units, n * sizeof *u);
    if (u)
        o->units = u;
    char (*f)[UNIT_NAME_MAX] = realloc(o->fleet, n * sizeof *f);
    if (f)
        o->fleet = f;
    if (!u || !f)
        return -ENOMEM;
    o->cap = n;
    return 0;
}

int observe_metrics(void *ctx, outbuf *out)
{
    observe *o = ctx;
    manager *m = o->m;
    if (reserve(o, m->n))
        return -ENOMEM;
    uint64_t now = uv_now(m->loop);
    int64_t wall = manager_wall_ms();
    for (size_t i = 0; i < m->n; i++)
        fill_unit(o, i, now, wall);
    metrics_process self;
    bool have_self = metrics_process_read(&self) == 0;
    metrics_input in = {o->units, m->n, o->states, SVC__STATES, have_self ? &self : NULL};
    metrics_write(out, &in);
    return out->failed ? -ENOMEM : 0;
}
