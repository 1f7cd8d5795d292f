/* Backend selection and the box calls every backend shares: dispatch to the
 * operations table, and the record of what is enforced by what. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#ifdef __linux__
#include <unistd.h>
#endif

/* The best first. */
static const sbx__ops *const all_backends[] = {
#ifdef _WIN32
    &sbx__job_ops,
#else
    &sbx__cgroup2_ops, &sbx__cgroup1_ops, &sbx__rlimit_ops, &sbx__null_ops,
#endif
};
#define NBACKENDS (sizeof all_backends / sizeof all_backends[0])
#ifdef _WIN32
#define BACKEND_NAMES "job"
#else
#define BACKEND_NAMES "cgroup2, cgroup1, rlimit, null"
#endif

static int try_open(const sbx__ops *ops, const sbx_backend_options *opts,
                    sbx_backend **out, sbx_error *err)
{
    sbx_backend *be = calloc(1, sizeof *be);
    if (!be)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    be->ops = ops;
    bool based = opts->cgroup_base && *opts->cgroup_base;
    if (based && strcmp(ops->name, "cgroup2") != 0) {
        free(be);
        return sbx_error_set(err, -EINVAL, "a cgroup base (%s) needs the cgroup2 backend",
                             opts->cgroup_base);
    }
    if ((opts->cgroup_root && *opts->cgroup_root && !(be->cgroup_root = strdup(opts->cgroup_root))) ||
        (based && !(be->cgroup_base = strdup(opts->cgroup_base)))) {
        free(be->cgroup_root);
        free(be);
        return sbx_error_set(err, -ENOMEM, "out of memory");
    }
    int r = ops->open(be, err);
    if (r < 0) {
        free(be->cgroup_root);
        free(be->cgroup_base);
        free(be);
        return r;
    }
    *out = be;
    return 0;
}

int sbx_backend_open(const sbx_backend_options *opts, sbx_backend **out,
                     sbx_error *err)
{
    static const sbx_backend_options defaults;
    if (!opts)
        opts = &defaults;
    if (opts->name) {
        for (size_t i = 0; i < NBACKENDS; i++)
            if (strcmp(all_backends[i]->name, opts->name) == 0) {
                int r = try_open(all_backends[i], opts, out, err);
                if (r < 0)
                    sbx_error_prefix(err, "backend %s", opts->name);
                return r;
            }
        return sbx_error_set(err, -EINVAL,
                             "unknown backend '%s' (%s)", opts->name, BACKEND_NAMES);
    }
    /* The best that works here. */
    sbx_error first = {0};
    for (size_t i = 0; i < NBACKENDS; i++) {
        sbx_error e = {0};
        if (all_backends[i]->only_by_name)
            continue;
        if (try_open(all_backends[i], opts, out, &e) == 0)
            return 0;
        if (!first.code)
            first = e;
    }
    if (err)
        *err = first;
    return first.code ? first.code : -ENOSYS;
}

void sbx_backend_close(sbx_backend *be)
{
    if (!be)
        return;
    be->ops->close(be);
    free(be->cgroup_root);
    free(be->cgroup_base);
    free(be);
}

const char *sbx_backend_name(const sbx_backend *be)
{
    return be->ops->name;
}

void sbx_backend_set_notify(sbx_backend *be, void (*cb)(void *data), void *data)
{
    if (be->ops->set_notify)
        be->ops->set_notify(be, cb, data);
}

void sbx_backend_describe(const sbx_backend *be, sbx_backend_info *info)
{
    memset(info, 0, sizeof *info);
    info->backend = be->ops->name;
    info->mode = be->mode;
    be->ops->describe(be, info);
}

void sbx__enforce(sbx_box *box, const char *what, const char *how)
{
    if (box->nenforced < SBX_MAX_ENFORCED)
        box->enforced[box->nenforced++] = (sbx_enforced){what, how};
}

int sbx__cannot_enforce(sbx_box *box, const char *what, const char *why,
                        sbx_error *err)
{
    if (!(box->flags & SBX_BEST_EFFORT))
        return sbx_error_set(err, -EOPNOTSUPP,
                             "%s limit cannot be enforced by backend %s: %s",
                             what, box->be->ops->name, why);
    sbx__enforce(box, what, NULL);
    return 0;
}

#ifndef _WIN32
void sbx__add_rlimit(sbx__join *join, int resource, rlim_t value)
{
    if (join->nrlimit < SBX__MAX_RLIMITS) {
        join->rlimit[join->nrlimit].resource = resource;
        join->rlimit[join->nrlimit].lim = (struct rlimit){value, value};
        join->nrlimit++;
    }
}

void sbx__common_rlimits(const sbx_box *box, sbx__join *join)
{
    if (box->limits.nofile)
        sbx__add_rlimit(join, RLIMIT_NOFILE, box->limits.nofile);
    if (box->limits.core >= 0)
        sbx__add_rlimit(join, RLIMIT_CORE, (rlim_t)box->limits.core);
}

#endif

/* The rlimits are set in the child; list them here so the result says so. */
static void enforce_common(sbx_box *box)
{
#ifdef _WIN32
    (void)box;  /* the job backend says for itself */
#else
    if (box->limits.nofile)
        sbx__enforce(box, "nofile", "setrlimit RLIMIT_NOFILE");
    if (box->limits.core >= 0)
        sbx__enforce(box, "core", "setrlimit RLIMIT_CORE");
#endif
}

int sbx_box_create(sbx_backend *be, const char *name, const sbx_limits *limits,
                   unsigned flags, sbx_box **out, sbx_error *err)
{
    if (!name || !*name || strlen(name) >= sizeof((sbx_box *)0)->name ||
        strchr(name, '/') || name[0] == '.')
        return sbx_error_set(err, -EINVAL, "invalid box name '%s'", name ? name : "");
    sbx_box *box = calloc(1, sizeof *box);
    if (!box)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    box->be = be;
    strcpy(box->name, name);
    box->limits = *limits;
    box->flags = flags;
    box->watch_fd = -1;
    int r = be->ops->create(box, err);
    if (r < 0) {
        free(box);
        return r;
    }
    enforce_common(box);
    box->used = (flags & SBX_BOX_ADOPT) != 0;  /* its counters are not ours */
    *out = box;
    return 0;
}

int sbx_box_destroy(sbx_box *box, sbx_error *err)
{
    return box->be->ops->destroy(box, err);
}

void sbx_box_free(sbx_box *box)
{
    if (!box)
        return;
#ifdef __linux__
    if (box->watch_fd >= 0)  /* the watcher sees its end: the box is gone */
        close(box->watch_fd);
#endif
    box->be->ops->free(box);
    free(box);
}

const char *sbx_box_path(const sbx_box *box)
{
    return box->path;
}

bool sbx_box_fresh(const sbx_box *box)
{
    return !box->used;
}

size_t sbx_box_enforced(const sbx_box *box, const sbx_enforced **list)
{
    *list = box->enforced;
    return box->nenforced;
}

int sbx_box_kill(sbx_box *box, int sig, sbx_error *err)
{
    return box->be->ops->kill(box, sig, err);
}

int sbx_box_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    return box->be->ops->freeze(box, frozen, err);
}

int sbx_box_update(sbx_box *box, const sbx_limits *limits, sbx_error *err)
{
    if (!box->be->ops->update)
        return sbx_error_set(err, -EOPNOTSUPP, "backend %s cannot change limits of a "
                             "running sandbox", box->be->ops->name);
    sbx_limits old = box->limits;
    box->limits = *limits;
    box->limits.nofile = old.nofile;  /* rlimits are fixed at exec */
    box->limits.core = old.core;
    box->nenforced = 0;
    int r = box->be->ops->update(box, err);
    enforce_common(box);
    return r;
}

const sbx_limits *sbx_box_limits(const sbx_box *box)
{
    return &box->limits;
}

#ifdef __linux__
/* Whether rel (a path in a cgroup hierarchy) is the box's directory dir
 * there or below it: it has the box's name as a component and, up to it,
 * ends dir. */
static bool below_box(const sbx_box *box, const char *dir, const char *rel)
{
    size_t nlen = strlen(box->name), plen = strlen(dir);
    for (const char *c = strstr(rel, box->name); c; c = strstr(c + 1, box->name)) {
        size_t upto = (size_t)(c - rel) + nlen;
        if (c > rel && c[-1] == '/' && (c[nlen] == '/' || c[nlen] == '\0') && plen >= upto &&
            strncmp(dir + plen - upto, rel, upto) == 0)
            return true;
    }
    return false;
}

/* The box's directory in the hierarchy of one /proc/PID/cgroup line
 * ("4:memory:/a/b"; rel points at "/a/b"), or NULL when it has none. */
static const char *box_dir_for(const sbx_box *box, const char *line, const char *rel, bool v2)
{
    if (v2 || !box->be->ops->dir_for)
        return box->path;
    const char *ctrls = strchr(line, ':') + 1;
    return box->be->ops->dir_for(box, ctrls, (size_t)(rel - 1 - ctrls));
}

/* Reads /proc/PID/cgroup: 1 (and what) when pid is outside the box in a
 * hierarchy where the box has a directory (on v1 one is enough: a program
 * that moved its memory cgroup alone has left its memory limit). A zombie
 * on v1 shows "/" everywhere (the kernel's doing): nothing to say then;
 * v2's line ("0::") stays true to the end. */
static int pid_in_box(const sbx_box *box, pid_t pid, char *what, size_t len)
{
    char path[64], line[1024];
    bool v2 = strcmp(box->be->ops->name, "cgroup2") == 0, left = false, any = false;
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;  /* gone already: nothing to say */
    while (fgets(line, sizeof line, f)) {
        char *rel = strchr(line, ':');
        rel = rel ? strchr(rel + 1, ':') : NULL;
        if (!rel || (v2 != (strncmp(line, "0::", 3) == 0)))
            continue;
        rel++;
        rel[strcspn(rel, "\n")] = '\0';
        any |= v2 || strcmp(rel, "/") != 0;
        const char *dir = box_dir_for(box, line, rel, v2);
        if (dir && !left && !below_box(box, dir, rel)) {
            left = true;
            snprintf(what, len, "pid %d left the box (now in %s)", (int)pid, rel);
        }
    }
    fclose(f);
    return left && any ? 1 : 0;
}
#endif

int sbx_backend_sweep(sbx_backend *be, const char *prefix, sbx_stale_fn stale, void *data)
{
    return be->ops->sweep ? be->ops->sweep(be, prefix, stale, data) : 0;
}

int sbx_box_verify(sbx_box *box, pid_t pid, char *what, size_t len)
{
    if (!box->be->ops->verify)
        return 0;  /* no cgroup files: nothing to read back */
    int r = box->be->ops->verify(box, what, len);
#ifdef __linux__
    if (r == 0 && pid > 0)
        r = pid_in_box(box, pid, what, len);
#else
    (void)pid;
#endif
    return r;
}

int sbx_box_count(sbx_box *box)
{
    if (!box->be->ops->count)
        return -ENOTSUP;
    int n = box->be->ops->count(box), extra = (int)sbx__pids_extra(box);
    return n > extra ? n - extra : (n < 0 ? n : 0);  /* sbx's init is not the program's */
}

int sbx_box_is_empty(sbx_box *box)
{
    return box->be->ops->is_empty(box);
}

/* sbx's init is not the program's. */
static void less_init(const sbx_box *box, sbx_stats *st)
{
    int64_t extra = (int64_t)sbx__pids_extra(box);
    if (st->pids_current > 0)
        st->pids_current -= st->pids_current >= extra ? extra : st->pids_current;
    if (st->pids_peak > 0)
        st->pids_peak -= st->pids_peak >= extra ? extra : st->pids_peak;
}

int sbx_box_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    *st = SBX_STATS_UNKNOWN;
    int r = box->be->ops->stats(box, st, err);
    less_init(box, st);
    return r;
}

int sbx_box_stats_brief(sbx_box *box, sbx_stats *st)
{
    if (!box->be->ops->brief_stats) {
        int r = sbx_box_stats(box, st, NULL);
        if (st->user_us >= 0 && st->sys_us >= 0) {
            st->user_us += st->sys_us;
            st->sys_us = 0;
        }
        st->pids_peak = st->oom_kills = st->pids_limit_hits = -1;
        return r;
    }
    *st = SBX_STATS_UNKNOWN;
    int r = box->be->ops->brief_stats(box, st);
    less_init(box, st);
    return r;
}

int sbx_box_event_fd(sbx_box *box)
{
    return box->be->ops->event_fd ? box->be->ops->event_fd(box) : -1;
}

void sbx_box_events_drain(sbx_box *box)
{
    if (box->be->ops->events_drain)
        box->be->ops->events_drain(box);
}

int sbx_backend_events_read(sbx_backend *be, int fd, void (*fn)(sbx_box *box, void *data),
                            void *data)
{
    return be->ops->events_read ? be->ops->events_read(be, fd, fn, data) : -1;
}

void sbx_box_set_data(sbx_box *box, void *data)
{
    box->data = data;
}

void *sbx_box_data(const sbx_box *box)
{
    return box->data;
}

const char *sbx_stage_name(sbx_stage stage)
{
    switch (stage) {
    case SBX_STAGE_NONE: return "none";
    case SBX_STAGE_CGROUP: return "cgroup";
    case SBX_STAGE_SESSION: return "session";
    case SBX_STAGE_STDIO: return "stdio";
    case SBX_STAGE_RLIMIT: return "rlimit";
    case SBX_STAGE_CWD: return "cwd";
    case SBX_STAGE_EXEC: return "exec";
    case SBX_STAGE_USER: return "user";
    case SBX_STAGE_SANDBOX: return "sandbox";
    }
    return "?";
}

bool sbx_isolation_wanted(const sbx_isolation *iso)
{
    return iso && ((iso->readonly && iso->readonly[0]) || (iso->allow && iso->allow[0]) ||
                   iso->no_net || iso->private_tmp || iso->pid_ns || iso->hostname ||
                   iso->seccomp != SBX_SECCOMP_NONE);
}

bool sbx_isolation_needs_namespaces(const sbx_isolation *iso)
{
    return iso && ((iso->readonly && iso->readonly[0]) || (iso->allow && iso->allow[0]) ||
                   iso->no_net || iso->private_tmp || iso->pid_ns || iso->hostname);
}

const char *sbx_cgroup_mode_name(sbx_cgroup_mode mode)
{
    switch (mode) {
    case SBX_CGROUP_NONE: return "none";
    case SBX_CGROUP_V1: return "v1";
    case SBX_CGROUP_HYBRID: return "hybrid";
    case SBX_CGROUP_V2: return "v2";
    }
    return "?";
}
