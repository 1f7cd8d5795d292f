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
#include "service.h"

typedef struct manager_settings {
    const char *units_dir;
    const char *log_dir;        /* NULL: keep output in memory only */
    const char *cgroup_root;    /* below sbxd's own cgroup */
    const char *backend;        /* NULL: best available */
    bool json_log;              /* sbxd's own events as JSON lines */
} manager_settings;

typedef struct manager manager;

/* What one service needs from the world, kept beside its state machine. */
typedef struct service_rt {
    manager *m;
    sbx_box *box;
    run run;
    bool run_active;
    uv_timer_t timer;
    uv_poll_t *oom_poll;        /* the box's OOM events; freed when closed */
    int64_t oom_seen;
    pid_t logged_pid;           /* the pid of the last "running" event */
    unit_log log;
    unit_def *pending;          /* reload: the new definition, once stopped */
    bool remove;                /* reload: drop once stopped */
} service_rt;

typedef void (*manager_event_cb)(manager *m, service *s, const char *event,
                                 const char *detail);

struct manager {
    uv_loop_t *loop;
    manager_settings cfg;
    sbx_backend *be;
    service **svcs;             /* sorted by name */
    size_t n;
    service_env env;
    bool shutting_down;
    void (*on_idle)(manager *m);  /* all stopped after manager_shutdown */
    manager_event_cb on_event;    /* for the control server's event stream */
    void *data;
    FILE *events;               /* sbxd's own event log (stderr) */
};

int manager_init(manager *m, uv_loop_t *loop, const manager_settings *cfg,
                 sbx_error *err);
/* Loads the units directory; prints every refused unit's errors to errs.
 * Returns the number of refused units. */
int manager_load(manager *m, FILE *errs);
void manager_start_all(manager *m);
/* Re-reads the units: starts new ones, stops removed ones, restarts
 * changed ones, leaves the rest alone. Writes what changed to out. */
int manager_reload(manager *m, FILE *errs, FILE *out);
void manager_shutdown(manager *m);
service *manager_find(manager *m, const char *name);
void manager_start(manager *m, service *s);
void manager_stop(manager *m, service *s);
void manager_reopen_logs(manager *m);
void manager_free(manager *m);

/* Checks a units directory without starting anything: 0 all good, else
 * the number of broken units (errors printed to errs). */
int manager_check_dir(const char *dir, FILE *errs);

#endif
