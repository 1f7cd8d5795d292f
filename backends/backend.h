/* The operations table every backend fills, and what spawn needs from it.
 * Internal to libsbx: names start with sbx__. */
#ifndef SBX_BACKEND_H
#define SBX_BACKEND_H

#ifndef _WIN32
#include <sys/resource.h>
#endif

#include "sbx.h"

#define SBX__MAX_JOIN 8     /* cgroup.procs fds the child writes itself into */
#define SBX__MAX_RLIMITS 6

/* What the child must do, prepared by the backend before fork: the child
 * only runs async-signal-safe calls on these. */
typedef struct sbx__join {
    int clone_cgroup_fd;            /* v2: clone3(CLONE_INTO_CGROUP), else -1 */
    int procs_fd[SBX__MAX_JOIN];    /* write "0" into each (joins the cgroup) */
    int nprocs;
    bool owned;                     /* the fds above were opened for this spawn:
                                       spawn closes them once the child is forked
                                       (a box keeps no descriptor between spawns) */
    bool own_pgrp;                  /* rlimit backend: the box is a process group */
#ifndef _WIN32
    struct { int resource; struct rlimit lim; } rlimit[SBX__MAX_RLIMITS];
    int nrlimit;
#endif
} sbx__join;

typedef struct sbx__ops {
    const char *name;
    bool only_by_name;  /* never picked as the best that works (null) */
    /* Is this backend usable here? Sets up be->priv. */
    int (*open)(sbx_backend *be, sbx_error *err);
    void (*close)(sbx_backend *be);
    void (*describe)(const sbx_backend *be, sbx_backend_info *info);
    /* Backends with an event thread of their own: see sbx_backend_set_notify. */
    void (*set_notify)(sbx_backend *be, void (*cb)(void *data), void *data);
    /* Makes the box, applies the limits, records what is enforced. */
    int (*create)(sbx_box *box, sbx_error *err);
    /* Fills what the child needs to enter the box. */
    int (*prepare_join)(sbx_box *box, sbx__join *join, sbx_error *err);
    /* The first process of the box has been started. */
    void (*started)(sbx_box *box, pid_t pid);
    int (*kill)(sbx_box *box, int sig, sbx_error *err);
    int (*freeze)(sbx_box *box, bool frozen, sbx_error *err);
    /* Re-applies box->limits to a live box (NULL: cannot). */
    int (*update)(sbx_box *box, sbx_error *err);
    /* See sbx_backend_sweep (NULL: no boxes that outlive us). */
    int (*sweep)(sbx_backend *be, const char *prefix, sbx_stale_fn stale, void *data);
    /* Reads box->limits back: 1 (what says which changed), 0, or -errno
     * (NULL: nothing the program could change). */
    int (*verify)(sbx_box *box, char *what, size_t len);
    /* cgroup v1: the box's directory in the hierarchy of these controllers
     * ("cpu,cpuacct", a line of /proc/PID/cgroup), or NULL when the box has
     * none there (NULL op: one hierarchy, box->path). */
    const char *(*dir_for)(const sbx_box *box, const char *controllers, size_t len);
    int (*is_empty)(sbx_box *box);
    int (*count)(sbx_box *box);   /* NULL: cannot say */
    int (*stats)(sbx_box *box, sbx_stats *st, sbx_error *err);
    int (*brief_stats)(sbx_box *box, sbx_stats *st);  /* NULL: stats */
    int (*event_fd)(sbx_box *box);
    void (*events_drain)(sbx_box *box);
    /* See sbx_backend_events_read (NULL: cannot say which box: -1). */
    int (*events_read)(sbx_backend *be, int fd, void (*fn)(sbx_box *box, void *data),
                       void *data);
    int (*destroy)(sbx_box *box, sbx_error *err);
    void (*free)(sbx_box *box);
} sbx__ops;

struct sbx_backend {
    const sbx__ops *ops;
    sbx_cgroup_mode mode;
    char *cgroup_root;
    char *cgroup_base;  /* cgroup2 only: sbx_backend_options.cgroup_base */
    void *priv;
    int watch_fd;       /* die_with_parent: the watcher's pipe (watch.c), or -1 */
};

struct sbx_box {
    sbx_backend *be;
    char name[64];
    char path[512];     /* the box's main cgroup dir, or a description */
    sbx_limits limits;
    unsigned flags;
    bool used;          /* something was spawned in it */
    sbx_enforced enforced[SBX_MAX_ENFORCED];
    size_t nenforced;
    void *priv;
    int watch_fd;       /* die_with_parent: the watcher's pipe (watch.c), or -1 */
    void *data;         /* the caller's (sbx_box_set_data) */
};

extern const sbx__ops sbx__cgroup2_ops;
extern const sbx__ops sbx__cgroup1_ops;
extern const sbx__ops sbx__rlimit_ops;
extern const sbx__ops sbx__null_ops;
extern const sbx__ops sbx__job_ops;

/* Records that limit `what` is enforced by `how` (a string literal). */
void sbx__enforce(sbx_box *box, const char *what, const char *how);
/* A limit the backend cannot enforce: an error unless SBX_BEST_EFFORT,
 * in which case it is listed with how = NULL. */
int sbx__cannot_enforce(sbx_box *box, const char *what, const char *why,
                        sbx_error *err);
/* Tasks of sbx's own in the box, beyond what its pids limit is for. */
static inline uint64_t sbx__pids_extra(const sbx_box *box)
{
    return (box->flags & SBX_BOX_INIT) ? 1 : 0;
}
#ifdef __linux__
/* Starts the box's watcher once (sbx_isolation.die_with_parent): a
 * process outside the box that kills and removes it when this process
 * ends, however it ends. */
int sbx__box_watch(sbx_box *box, sbx_error *err);
#endif
#ifndef _WIN32
/* The rlimits every backend applies in the child (nofile, core). */
void sbx__common_rlimits(const sbx_box *box, sbx__join *join);
void sbx__add_rlimit(sbx__join *join, int resource, rlim_t value);
#endif

#endif
