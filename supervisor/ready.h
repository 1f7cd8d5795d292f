/* Waiting for a unit to be ready, for the kinds that sbxd must look for
 * ([exec] ready = fd:N, port:N, file:PATH, command:CMD; notify comes by
 * itself on the unit's socket, see notify.h).
 *
 * fd:N reads the pipe whose write end the program has as descriptor N,
 * and is ready at the first newline. The others probe on a short backoff
 * (25 ms, doubling to 1 s) until one succeeds, then stop: nothing is
 * looked at once the unit is ready. */
#ifndef SBX_READY_H
#define SBX_READY_H

#include "probe.h"

typedef struct ready_watch ready_watch;
typedef void (*ready_cb)(ready_watch *w, void *data);

struct ready_watch {
    uv_loop_t *loop;
    probe_target target;
    probe *p;
    uv_timer_t *retry;
    uint64_t backoff_ms;
    probe_reader *fd_reader;
    ready_cb ready;
    void *data;
    char last[PROBE_OUTPUT_MAX];        /* why the last look said no */
};

#define READY_BACKOFF_FIRST_MS 25
#define READY_BACKOFF_MAX_MS 1000
#define READY_PROBE_TIMEOUT_MS 5000

/* Probes t until it succeeds (t's pointers valid until ready_watch_stop). */
int ready_watch_probe(ready_watch *w, uv_loop_t *loop, const probe_target *t, ready_cb cb,
                      void *data);
/* Reads fd (taken over) until a line ends. */
int ready_watch_fd(ready_watch *w, uv_loop_t *loop, int fd, ready_cb cb, void *data);
/* Stops looking; safe from inside cb and when nothing was started. */
void ready_watch_stop(ready_watch *w);

#endif
