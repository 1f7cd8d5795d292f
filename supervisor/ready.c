/* Waiting for readiness: see ready.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ready.h"

static void try_now(uv_timer_t *t);

static void on_probe(void *data, bool ok, const char *output)
{
    ready_watch *w = data;
    w->p = NULL;
    if (ok) {
        w->ready(w, w->data);
        return;
    }
    snprintf(w->last, sizeof w->last, "%s", output);
    if (w->retry) {
        uv_timer_start(w->retry, try_now, w->backoff_ms, 0);
        w->backoff_ms = w->backoff_ms * 2 > READY_BACKOFF_MAX_MS ? READY_BACKOFF_MAX_MS
                                                                : w->backoff_ms * 2;
    }
}

static void try_now(uv_timer_t *t)
{
    ready_watch *w = t->data;
    if (probe_start(&w->p, w->loop, &w->target, READY_PROBE_TIMEOUT_MS, on_probe, w) < 0) {
        w->p = NULL;
        on_probe(w, false, "the probe could not be started");
    }
}

int ready_watch_probe(ready_watch *w, uv_loop_t *loop, const probe_target *t, ready_cb cb,
                      void *data)
{
    ready_watch_stop(w);
    w->loop = loop;
    w->target = *t;
    w->ready = cb;
    w->data = data;
    w->backoff_ms = READY_BACKOFF_FIRST_MS;
    w->last[0] = '\0';
    if (!(w->retry = probe_timer_new(loop, w)))
        return -ENOMEM;
    uv_timer_start(w->retry, try_now, 0, 0);  /* first look on the next turn */
    return 0;
}

static void on_fd_data(probe_reader *r, const char *chunk, size_t len, void *data)
{
    ready_watch *w = data;
    (void)r;
    if (memchr(chunk, '\n', len))
        w->ready(w, w->data);
}

int ready_watch_fd(ready_watch *w, uv_loop_t *loop, int fd, ready_cb cb, void *data)
{
    ready_watch_stop(w);
    w->loop = loop;
    w->ready = cb;
    w->data = data;
    w->fd_reader = probe_reader_open(loop, fd, on_fd_data, w);
    return w->fd_reader ? 0 : -ENOMEM;
}

void ready_watch_stop(ready_watch *w)
{
    probe_stop(&w->p, &w->retry);
    probe_reader_close(w->fd_reader);
    w->fd_reader = NULL;
}
