/* The rlimit backend: for systems without usable cgroups (macOS, the BSDs,
 * a Linux without cgroups). The box is a process group; limits are per
 * process rlimits. It says plainly what that cannot do: a tree-wide memory,
 * CPU-rate or task limit, or catching a child that leaves the group with
 * setsid(). Such limits are refused unless the caller asked for best effort. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "../backend.h"

struct rl_box {
    pid_t pgid;
};

static int rl_open(sbx_backend *be, sbx_error *err)
{
    (void)err;
    be->mode = sbx_detect_cgroup_mode();
    return 0;
}

static void rl_close(sbx_backend *be)
{
    (void)be;
}

static void rl_describe(const sbx_backend *be, sbx_backend_info *info)
{
    (void)be;
    (void)info;
}

static int rl_create(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    int r = 0;
    if (l->memory) {
        r = sbx__cannot_enforce(box, "memory", "rlimits bound each process, not the tree", err);
        /* best effort: each process's address space is bounded instead */
        if (r == 0)
            box->enforced[box->nenforced - 1].how = "setrlimit RLIMIT_AS per process (best effort)";
    }
    if (r == 0 && l->cpu_percent)
        r = sbx__cannot_enforce(box, "cpu", "rlimits cannot bound a CPU rate", err);
    if (r == 0 && l->cpu_weight)
        r = sbx__cannot_enforce(box, "cpu_weight", "rlimits have no CPU weight", err);
    if (r == 0 && l->pids)
        r = sbx__cannot_enforce(box, "pids", "RLIMIT_NPROC counts the whole user, not the tree", err);
    if (r < 0)
        return r;
    struct rl_box *b = calloc(1, sizeof *b);
    if (!b)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    box->priv = b;
    snprintf(box->path, sizeof box->path, "process group");
    return 0;
}

static int rl_prepare_join(sbx_box *box, sbx__join *join, sbx_error *err)
{
    (void)err;
    join->own_pgrp = true;
    if (box->limits.memory)
        sbx__add_rlimit(join, RLIMIT_AS, box->limits.memory);
    return 0;
}

static void rl_started(sbx_box *box, pid_t pid)
{
    struct rl_box *b = box->priv;
    if (b->pgid <= 0)
        b->pgid = pid;
}

static int rl_kill(sbx_box *box, int sig, sbx_error *err)
{
    struct rl_box *b = box->priv;
    if (b->pgid > 0 && kill(-b->pgid, sig) < 0 && errno != ESRCH)
        return sbx_error_set(err, -errno, "kill process group %d", (int)b->pgid);
    return 0;
}

static int rl_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    return rl_kill(box, frozen ? SIGSTOP : SIGCONT, err);
}

static int rl_is_empty(sbx_box *box)
{
    struct rl_box *b = box->priv;
    return b->pgid <= 0 || (kill(-b->pgid, 0) < 0 && errno == ESRCH);
}

static int rl_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    (void)box;
    (void)st;
    (void)err;
    return 0;  /* the caller has the main process's rusage from wait4 */
}

static int rl_destroy(sbx_box *box, sbx_error *err)
{
    if (!rl_is_empty(box))
        rl_kill(box, SIGKILL, err);
    return 0;
}

static void rl_free(sbx_box *box)
{
    free(box->priv);
    box->priv = NULL;
}

const sbx__ops sbx__rlimit_ops = {
    .name = "rlimit",
    .open = rl_open,
    .close = rl_close,
    .describe = rl_describe,
    .create = rl_create,
    .prepare_join = rl_prepare_join,
    .started = rl_started,
    .kill = rl_kill,
    .freeze = rl_freeze,
    .is_empty = rl_is_empty,
    .stats = rl_stats,
    .destroy = rl_destroy,
    .free = rl_free,
};
