/* Health probes: see health.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

const char *health_state_name(health_state h)
{
    static const char *const names[] = {"none", "starting", "healthy", "unhealthy"};
    return (unsigned)h < 4 ? names[h] : "?";
}

health_state health_judge(health_state cur, unsigned *streak, bool ok, bool in_start_period,
                          unsigned retries)
{
    if (ok) {
        *streak = 0;
        return HEALTH_HEALTHY;
    }
    if (in_start_period && cur != HEALTH_HEALTHY)
        return cur;  /* Docker: failures while starting up do not count */
    if (++*streak >= retries)
        return HEALTH_UNHEALTHY;
    return cur;
}

static void arm(health *h);

static void on_probe_done(void *data, bool ok, const char *output)
{
    health *h = data;
    h->p = NULL;
    h->probes++;
    snprintf(h->output, sizeof h->output, "%s", output);
    size_t n = strlen(h->output);
    while (n && (h->output[n - 1] == '\n' || h->output[n - 1] == ' ' || h->output[n - 1] == '\r'))
        h->output[--n] = '\0';  /* "ok\n": the line, not its end */
    bool early = uv_now(h->loop) - h->started_ms < h->cfg->start_period_ms;
    health_state from = h->state;
    h->state = health_judge(h->state, &h->streak, ok, early, h->cfg->retries);
    arm(h);  /* before telling: the callback may stop us */
    if (h->state != from && h->changed)
        h->changed(h, from, h->data);
}

static void on_interval(uv_timer_t *t)
{
    health *h = t->data;
    if (probe_start(&h->p, h->loop, &h->target, h->cfg->timeout_ms, on_probe_done, h) < 0) {
        /* Could not even start it: a failed probe, judged the same way. */
        h->p = NULL;
        on_probe_done(h, false, "the probe could not be started");
    }
}

static void arm(health *h)
{
    if (h->timer)
        uv_timer_start(h->timer, on_interval, h->cfg->interval_ms, 0);
}

int health_start(health *h, uv_loop_t *loop, const unit_health *cfg, const probe_target *t,
                 health_changed_cb changed, void *data)
{
    health_stop(h);
    if (!cfg->argv.n)
        return 0;
    h->loop = loop;
    h->cfg = cfg;
    h->target = *t;
    h->changed = changed;
    h->data = data;
    h->streak = 0;
    h->probes = 0;
    h->output[0] = '\0';
    h->started_ms = uv_now(loop);
    if (!(h->timer = probe_timer_new(loop, h)))
        return -ENOMEM;
    h->state = HEALTH_STARTING;
    arm(h);
    return 0;
}

void health_stop(health *h)
{
    probe_stop(&h->p, &h->timer);
    h->state = HEALTH_NONE;
}
