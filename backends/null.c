/* The do-nothing backend, for tests of the layers above: it spawns plainly,
 * enforces nothing (so every limit needs best effort) and signals only the
 * processes it started. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

#define NULL_MAX_PIDS 64

struct null_box {
    pid_t pid[NULL_MAX_PIDS];
    int npid;
};

static int null_open(sbx_backend *be, sbx_error *err)
{
    (void)be;
    (void)err;
    return 0;
}

static void null_close(sbx_backend *be)
{
    (void)be;
}

static void null_describe(const sbx_backend *be, sbx_backend_info *info)
{
    (void)be;
    (void)info;
}

static int null_create(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    static const char why[] = "the null backend enforces nothing";
    int r = 0;
    if (l->memory)
        r = sbx__cannot_enforce(box, "memory", why, err);
    if (r == 0 && (l->cpu_percent || l->cpu_weight))
        r = sbx__cannot_enforce(box, "cpu", why, err);
    if (r == 0 && l->pids)
        r = sbx__cannot_enforce(box, "pids", why, err);
    if (r < 0)
        return r;
    if (!(box->priv = calloc(1, sizeof(struct null_box))))
        return sbx_error_set(err, -ENOMEM, "out of memory");
    snprintf(box->path, sizeof box->path, "none");
    return 0;
}

static int null_prepare_join(sbx_box *box, sbx__join *join, sbx_error *err)
{
    (void)box;
    (void)join;
    (void)err;
    return 0;
}

static void null_started(sbx_box *box, pid_t pid)
{
    struct null_box *b = box->priv;
    if (b->npid < NULL_MAX_PIDS)
        b->pid[b->npid++] = pid;
}

static int null_kill(sbx_box *box, int sig, sbx_error *err)
{
    struct null_box *b = box->priv;
    (void)err;
    for (int i = 0; i < b->npid; i++)
        kill(b->pid[i], sig);
    return 0;
}

static int null_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    return null_kill(box, frozen ? SIGSTOP : SIGCONT, err);
}

static int null_is_empty(sbx_box *box)
{
    (void)box;
    return 1;  /* it cannot know: the caller's reaper decides */
}

static int null_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    (void)box;
    (void)st;
    (void)err;
    return 0;
}

static int null_destroy(sbx_box *box, sbx_error *err)
{
    (void)box;
    (void)err;
    return 0;
}

static void null_free(sbx_box *box)
{
    free(box->priv);
    box->priv = NULL;
}

const sbx__ops sbx__null_ops = {
    .name = "null",
    .only_by_name = true,
    .open = null_open,
    .close = null_close,
    .describe = null_describe,
    .create = null_create,
    .prepare_join = null_prepare_join,
    .started = null_started,
    .kill = null_kill,
    .freeze = null_freeze,
    .is_empty = null_is_empty,
    .stats = null_stats,
    .destroy = null_destroy,
    .free = null_free,
};
