/* The set of units sbxd supervises: loading a units directory (each broken
 * unit refused on its own), dependency checks (missing units, cycles),
 * starting in dependency order, stopping in reverse, reload by diff, and the
 * glue between each service's state machine and the real world (libsbx
 * boxes, runs on the loop, logs). */
#ifndef SBX_MANAGER_H
#define SBX_MANAGER_H

#include <stdio.h>
#include <uv.h>

#include "logs.h"
#include "oomwatch.h"
#include "startwin.h"
#include "service.h"
#include "state.h"

typedef struct manager_settings {
    const char *units_dir;
    const char *log_dir;        /* NULL: keep output in memory only */
    const char *cgroup_root;    /* below sbxd's own cgroup, or below cgroup_base */
    const char *cgroup_base;    /* NULL, or the units' cgroup outside sbxd's own
                                   (a systemd scope, scope.h) */
    const char *backend;        /* NULL: best available */
    bool json_log;              /* sbxd's own events as JSON lines */
    const char *run_dir;        /* sbxd's run directory (--run-dir) */
    const char *notify_dir;     /* this sbxd's notify sockets: DIR/NAME/notify
                                   (RUN_DIR/notify/HASH, see main.c) */
    const char *hide[6];        /* NULL-terminated: paths no unit may see
                                   (the control socket, the log dir, the
                                   notify tree, the state dir) */
} manager_settings;

typedef struct manager manager;

/* Services to look at again, in the order they came (a growing array). */
typedef struct svc_queue {
    service **v;
    size_t n, cap;
} svc_queue;

typedef void (*manager_event_cb)(manager *m, service *s, const char *event,
                                 const char *detail);
typedef void (*manager_log_cb)(manager *m, service *s, const char *buf, size_t len);

/* What a reload did. */
typedef struct reload_report {
    strv added, removed, changed, errors;
} reload_report;

void reload_report_free(reload_report *r);

struct manager {
    uv_loop_t *loop;
    manager_settings cfg;
    sbx_backend *be;
    service **svcs;             /* sorted by name */
    size_t n;
    service_env env;
    bool shutting_down;
    bool settling;              /* in settle(): calls from inside are folded */
    unsigned mark;              /* the pass of the last start_deps */
    bool bulk;                  /* starting many at once: spawn without waiting for exec */
    start_window win;           /* bulk start: the backlog and the spawns in flight */
    uv_check_t admit;           /* bulk start: admits from the backlog after each pass */
    bool admit_init;
    void (*on_idle)(manager *m);  /* all stopped after manager_shutdown */
    manager_event_cb on_event;    /* for the control server's event stream */
    manager_log_cb on_log;        /* new output of any unit */
    /* A critical unit ended (failed or exited), not at a shutdown: the
     * caller stops everything and exits with manager_exit_status(s). */
    void (*on_critical)(manager *m, service *s);
    /* A reload begins (done false) and has ended (done true). */
    void (*on_reload)(manager *m, bool done);
    void *data;
    FILE *events;               /* sbxd's own event log (stderr) */
    /* What settle() looks at after a change, so that it never walks every
     * unit (10,000 units, an event each: that would be O(N^2)). */
    svc_queue waiting;          /* starting, waiting for their dependencies */
    svc_queue changing;         /* reload: at rest, to take a new definition or go */
    svc_queue to_stop;          /* shutdown: no running dependents left */
    size_t shutdown_left;       /* shutdown: units counted not at rest */
    oomwatch oom;               /* the boxes' OOM event fds, polled once each */
    state_dir *state;           /* records for re-adoption; NULL: none */
};

int manager_init(manager *m, uv_loop_t *loop, const manager_settings *cfg,
                 sbx_error *err);
/* Loads the units directory; prints every refused unit's errors to errs.
 * Returns the number of refused units. */
int manager_load(manager *m, FILE *errs);
void manager_start_all(manager *m);
/* Before manager_start_all: takes over the runs an earlier sbxd left
 * (by m->state's records, see adopt.h), reports those that ended while
 * it was down as lost (their policy decides), and kills and removes
 * every other cgroup left below the root. Returns how many were adopted. */
int manager_adopt(manager *m);
/* Whether the unit's current run was taken over from an earlier sbxd. */
bool manager_adopted(const service *s);
/* Before a re-exec (reexec.h): every unit's state, counters and status
 * slot as text for reexec_exec (free it), or NULL. */
char *manager_exec_handover(manager *m);
/* After a re-exec, once adopted: the other units' states and counters as
 * the sbxd before had them (reexec.h). */
void manager_restore_kept(manager *m);
/* Re-reads the units: starts new ones, stops removed ones, restarts
 * changed ones, leaves the rest alone. Returns the number refused. */
int manager_reload(manager *m, reload_report *report);
void manager_shutdown(manager *m);
service *manager_find(manager *m, const char *name);
void manager_start(manager *m, service *s);
void manager_stop(manager *m, service *s);
/* Stops s and, once it is at rest, starts it again (at once when it is
 * at rest already). */
void manager_restart(manager *m, service *s);
void manager_reopen_logs(manager *m);
/* Signals every process of a running unit; returns -ESRCH when not running. */
int manager_kill(manager *m, service *s, int sig, sbx_error *err);
int manager_freeze(manager *m, service *s, bool frozen, sbx_error *err);
/* Changes memory/swap/cpu/pids of a unit, live if it runs. */
int manager_set_limits(manager *m, service *s, const sbx_limits *l, sbx_error *err);
/* Adds a transient unit (takes def), dropped once it has ended; start it
 * with manager_start. NULL when the name is taken. */
service *manager_add_transient(manager *m, unit_def *def);
/* Milliseconds since the epoch: the time of events. */
int64_t manager_wall_ms(void);
/* The state a unit entered last, and when (loop time). */
uint64_t manager_since(const service *s);
/* What the manager keeps beside each machine, for the control server and
 * other views: the unit's box (NULL when it has none), how many processes
 * its box holds while a run is active (-1 when none or unknown), and the
 * last bytes of its output (returns how many were copied). */
sbx_box *manager_box(const service *s);
/* Whether the box's OOM kill counter may be above zero: its OOM events are
 * not watched, or one was seen. When not, the views read the cheap brief
 * figures (sbx_box_stats_brief) and know the count is zero. */
bool manager_oom_possible(const service *s);
/* The running program's own pid (behind sbx's init, its child), or 0. */
pid_t manager_pid(service *s);
int manager_box_count(const service *s);
size_t manager_log_tail(const service *s, char *buf, size_t len);
/* Bytes of output captured, and of those lost (the log file refused them). */
void manager_log_counts(const service *s, uint64_t *written, uint64_t *dropped);
/* Readiness and health, for the views: the unit's health ("none",
 * "starting", "healthy", "unhealthy") and its last probe's output; the
 * last STATUS= it sent on its notify socket ("" when none). */
const char *manager_health(const service *s, const char **output);
const char *manager_status_text(const service *s);
/* What a critical unit's end makes sbxd's exit status: its exit code,
 * 128+N when signal N ended it, 1 when it did not run or sbxd ended it. */
int manager_exit_status(const service *s);
void manager_free(manager *m);

#endif
