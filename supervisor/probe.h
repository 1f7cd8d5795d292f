/* Probes: one look at whether a unit is ready or healthy, on the loop.
 *
 *   port     a TCP connection to 127.0.0.1:PORT is accepted
 *   file     PATH exists
 *   command  ARGV, run inside the unit's sandbox (its box, so its cgroups
 *            and limits, and the namespaces of its main process, entered
 *            by libsbx's sbx_command.enter_pid), exits 0
 *
 * Each probe ends once, with ok and the tail of what it printed (or why
 * it failed), or is cancelled without a call. A probe that outlives its
 * timeout fails; a command is then killed (its session). Nothing here
 * repeats: readiness and health decide when to look again.
 *
 * The read helper (probe_reader) is the one way the probes and fd:N
 * readiness read a descriptor: the last bytes are kept, and the callback
 * hears of every new piece. */
#ifndef SBX_PROBE_H
#define SBX_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sbx.h"

#define PROBE_OUTPUT_MAX 512

typedef enum probe_kind { PROBE_PORT, PROBE_FILE, PROBE_COMMAND } probe_kind;

typedef struct probe_target {
    probe_kind kind;
    int port;
    const char *path;
    char *const *argv;
    /* command: where and as whom it runs */
    sbx_box *box;
    pid_t enter_pid;
    const sbx_isolation *iso;
    char *const *envp;
    bool set_ids;
    uid_t uid;
    gid_t gid;
} probe_target;

typedef void (*probe_cb)(void *data, bool ok, const char *output);
typedef struct probe probe;

/* Starts a probe; cb is called later, never from inside this call.
 * Returns 0, or -errno (nothing started, no call). */
int probe_start(probe **out, uv_loop_t *loop, const probe_target *t, uint64_t timeout_ms,
                probe_cb cb, void *data);
/* Ends the probe without calling back (a command is killed). NULL: nothing. */
void probe_cancel(probe *p);

/* The timer that starts the next probe, as readiness and health keep one
 * (its data is `data`); NULL when out of memory. */
uv_timer_t *probe_timer_new(uv_loop_t *loop, void *data);
/* Lets go of both: the probe cancelled, the timer closed and freed; both
 * pointers set to NULL. */
void probe_stop(probe **p, uv_timer_t **timer);

typedef struct probe_reader probe_reader;
typedef void (*probe_read_cb)(probe_reader *r, const char *chunk, size_t len, void *data);

/* Reads fd (taken over: closed with the reader) on the loop. */
probe_reader *probe_reader_open(uv_loop_t *loop, int fd, probe_read_cb cb, void *data);
/* Reads what is there now without waiting (before a last look). */
void probe_reader_drain(probe_reader *r);
/* The last bytes read, NUL-terminated. */
const char *probe_reader_tail(const probe_reader *r);
void probe_reader_close(probe_reader *r);

#endif
