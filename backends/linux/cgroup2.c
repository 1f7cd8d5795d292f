/* The cgroup v2 backend: one cgroup per box below the caller's own cgroup,
 * limits in memory.max / memory.swap.max / cpu.max / cpu.weight / pids.max,
 * spawn with clone3(CLONE_INTO_CGROUP), whole-tree kill with cgroup.kill,
 * OOM from memory.events watched with one inotify instance for every box
 * (cgroup2_events.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../backend.h"
#include "cgroup.h"
#include "cgroup2_events.h"

#define WANTED ((1u << SBX_CTRL_MEMORY) | (1u << SBX_CTRL_CPU) | (1u << SBX_CTRL_PIDS))

struct v2_backend {
    sbx__layout lay;
    char base[PATH_MAX];     /* boxes are made here */
    int base_fd;             /* base's directory (O_PATH) for the brief
                                figures, or -1 */
    unsigned enabled;        /* controllers enabled for children of base */
    bool made_base;          /* base is ours to remove at close */
    sbx__v2_events events;   /* every box's memory.events */
};

struct v2_box {
    int wd;                  /* its memory.events watch in events, or -1:
                                a box keeps no descriptor of its own */
};

static struct v2_backend *priv_of(const sbx_backend *be)
{
    return be->priv;
}

/* Controllers are enabled for children in cgroup.subtree_control, which a
 * cgroup with processes in it may not have (except the root). So if ours
 * has none enabled yet, move ourselves into a leaf below it first. */
static int enable_controllers(const char *dir, unsigned avail, bool is_root,
                              unsigned *enabled, sbx_error *err)
{
    char text[256];
    if (sbx__read_file(dir, "cgroup.subtree_control", text, sizeof text) < 0)
        text[0] = '\0';
    unsigned have = sbx__parse_controllers(text);
    unsigned want = avail & WANTED & ~have;
    *enabled = have;
    if (!want)
        return 0;
    if (!is_root) {
        int r = sbx__mkdir_below(dir, "sbx-supervisor", err);
        if (r < 0)
            return r;
        char leaf[PATH_MAX];
        snprintf(leaf, sizeof leaf, "%s/sbx-supervisor", dir);
        if ((r = sbx__write_file(leaf, "cgroup.procs", "0", err)) < 0)
            return r;
    }
    for (int c = 0; c < SBX_CTRL_COUNT; c++) {
        if (!(want & (1u << c)))
            continue;
        char word[32];
        snprintf(word, sizeof word, "+%s", sbx__ctrl_name((sbx__ctrl)c));
        int r = sbx__write_file(dir, "cgroup.subtree_control", word, err);
        if (r < 0) {
            if (r == -EBUSY)
                sbx_error_prefix(err, "other processes share our cgroup %s; start us in a "
                                 "cgroup of our own (e.g. systemd-run --scope -p Delegate=yes)", dir);
            return r;
        }
        *enabled |= 1u << c;
    }
    return 0;
}

static int v2_open(sbx_backend *be, sbx_error *err)
{
    struct v2_backend *p = calloc(1, sizeof *p);
    if (!p)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    int r = sbx__detect(&p->lay, err);
    if (r < 0)
        goto fail;
    be->mode = p->lay.mode;
    if (!p->lay.v2.mount[0]) {
        r = sbx_error_set(err, -ENODEV, "no cgroup2 hierarchy is mounted");
        goto fail;
    }
    if (!(p->lay.v2_mask & WANTED)) {
        r = sbx_error_set(err, -ENODEV, "the cgroup2 tree at %s has none of the memory, "
                          "cpu, pids controllers (cgroup mode: %s)", p->lay.v2.mount,
                          sbx_cgroup_mode_name(p->lay.mode));
        goto fail;
    }
    char self[PATH_MAX];
    if (be->cgroup_base)
        r = snprintf(self, sizeof self, "%s%s", p->lay.v2.mount, be->cgroup_base) >=
            (int)sizeof self ? -ENAMETOOLONG : 0;
    else
        r = sbx__hier_self_dir(&p->lay.v2, self, sizeof self);
    if (r < 0) {
        sbx_error_set(err, r, "cgroup path too long");
        goto fail;
    }
    /* A base holds no process of ours: nothing to move into a leaf. Its
     * controllers are what its parent gives it, not what ours has. */
    bool is_root = be->cgroup_base || strcmp(self, p->lay.v2.mount) == 0;
    char ctl[512];
    if (be->cgroup_base) {
        if ((r = (int)sbx__read_file(self, "cgroup.controllers", ctl, sizeof ctl)) < 0) {
            sbx_error_set(err, r, "cgroup base %s: cannot read its cgroup.controllers", self);
            goto fail;
        }
        p->lay.v2_mask = sbx__parse_controllers(ctl);
        if (p->lay.v2_mask & (1u << SBX_CTRL_CPU))
            p->lay.v2_mask |= 1u << SBX_CTRL_CPUACCT;  /* as detect.c says */
    }
    if ((r = enable_controllers(self, p->lay.v2_mask, is_root, &p->enabled, err)) < 0)
        goto fail;
    snprintf(p->base, sizeof p->base, "%s", self);
    if (be->cgroup_root) {
        if ((r = sbx__mkdir_below(self, be->cgroup_root, err)) < 0)
            goto fail;
        snprintf(p->base, sizeof p->base, "%s/%s", self, be->cgroup_root);
        p->made_base = true;
        if ((r = enable_controllers(p->base, p->enabled, true, &p->enabled, err)) < 0)
            goto fail;
    }
    sbx__v2_events_init(&p->events);
    p->base_fd = open(p->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    be->priv = p;
    return 0;
fail:
    free(p);
    return r;
}

static void v2_close(sbx_backend *be)
{
    struct v2_backend *p = priv_of(be);
    if (p->made_base)
        rmdir(p->base);  /* fails while other boxes live there: fine */
    sbx__v2_events_close(&p->events);
    if (p->base_fd >= 0)
        close(p->base_fd);
    free(p);
}

static void v2_describe(const sbx_backend *be, sbx_backend_info *info)
{
    const struct v2_backend *p = priv_of(be);
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        if (p->enabled & (1u << c))
            info->controllers[info->ncontrollers++] = sbx__ctrl_name((sbx__ctrl)c);
    snprintf(info->base, sizeof info->base, "%s", p->base);
}

static bool has(const sbx_box *box, sbx__ctrl c)
{
    return priv_of(box->be)->enabled & (1u << c);
}

static int apply_memory(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    char num[32];
    if (!l->memory)
        return 0;
    if (!has(box, SBX_CTRL_MEMORY))
        return sbx__cannot_enforce(box, "memory", "no memory controller in the cgroup2 tree", err);
    snprintf(num, sizeof num, "%" PRIu64, l->memory);
    int r = sbx__write_file(box->path, "memory.max", num, err);
    if (r < 0)
        return r;
    sbx__enforce(box, "memory", "cgroup2 memory.max");
    if (!sbx__file_exists(box->path, "memory.swap.max")) {
        if (sbx__host_has_swap())
            return sbx__cannot_enforce(box, "swap", "the kernel has no swap accounting", err);
        sbx__enforce(box, "swap", "no swap on the host");
        return 0;
    }
    snprintf(num, sizeof num, "%" PRIu64, l->memory_swap);
    if ((r = sbx__write_file(box->path, "memory.swap.max", num, err)) < 0)
        return r;
    sbx__enforce(box, "swap", "cgroup2 memory.swap.max");
    return 0;
}

static int apply_cpu(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    char text[64];
    int r;
    if (!l->cpu_percent && !l->cpu_weight)
        return 0;
    if (!has(box, SBX_CTRL_CPU))
        return sbx__cannot_enforce(box, "cpu", "no cpu controller in the cgroup2 tree", err);
    if (l->cpu_percent) {
        /* percent of one core over a 100 ms period */
        snprintf(text, sizeof text, "%" PRIu64 " 100000", (uint64_t)l->cpu_percent * 1000);
        if ((r = sbx__write_file(box->path, "cpu.max", text, err)) < 0)
            return r;
        sbx__enforce(box, "cpu", "cgroup2 cpu.max");
    }
    if (l->cpu_weight) {
        snprintf(text, sizeof text, "%" PRIu32, l->cpu_weight);
        if ((r = sbx__write_file(box->path, "cpu.weight", text, err)) < 0)
            return r;
        sbx__enforce(box, "cpu_weight", "cgroup2 cpu.weight");
    }
    return 0;
}

static int apply_pids(sbx_box *box, sbx_error *err)
{
    char num[32];
    if (!box->limits.pids)
        return 0;
    if (!has(box, SBX_CTRL_PIDS))
        return sbx__cannot_enforce(box, "pids", "no pids controller in the cgroup2 tree", err);
    snprintf(num, sizeof num, "%" PRIu64, box->limits.pids + sbx__pids_extra(box));
    int r = sbx__write_file(box->path, "pids.max", num, err);
    if (r == 0)
        sbx__enforce(box, "pids", "cgroup2 pids.max");
    return r;
}

static int v2_create(sbx_box *box, sbx_error *err)
{
    struct v2_backend *p = priv_of(box->be);
    struct v2_box *b = calloc(1, sizeof *b);
    if (!b)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    b->wd = -1;
    snprintf(box->path, sizeof box->path, "%s/%s", p->base, box->name);
    /* Adopting: the cgroup a dead supervisor left is taken as it is. */
    if (mkdir(box->path, 0755) < 0 && !(errno == EEXIST && (box->flags & SBX_BOX_ADOPT))) {
        int r = sbx_error_set(err, -errno, "mkdir %s: %s", box->path, strerror(errno));
        free(b);
        return r;
    }
    box->priv = b;
    int r;
    if ((r = apply_memory(box, err)) < 0 || (r = apply_cpu(box, err)) < 0 ||
        (r = apply_pids(box, err)) < 0)
        goto fail;
    return 0;
fail:
    box->be->ops->free(box);
    rmdir(box->path);
    box->priv = NULL;
    return r;
}

/* Limits that are now 0 (none) go back to "max"; the rest are re-applied. */
static int v2_update(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    int r = 0;
    if (!l->memory && has(box, SBX_CTRL_MEMORY))
        r = sbx__write_file(box->path, "memory.max", "max", err);
    if (r == 0 && !l->cpu_percent && has(box, SBX_CTRL_CPU))
        r = sbx__write_file(box->path, "cpu.max", "max 100000", err);
    if (r == 0 && !l->pids && has(box, SBX_CTRL_PIDS))
        r = sbx__write_file(box->path, "pids.max", "max", err);
    if (r == 0 && (r = apply_memory(box, err)) == 0 && (r = apply_cpu(box, err)) == 0)
        r = apply_pids(box, err);
    return r;
}

/* The directory (clone3) and cgroup.procs (the fallback join) are opened
 * for this spawn only, so that a box keeps no descriptor between spawns. */
static int v2_prepare_join(sbx_box *box, sbx__join *join, sbx_error *err)
{
    char procs[PATH_MAX];
    join->owned = true;
    join->clone_cgroup_fd = open(box->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (join->clone_cgroup_fd < 0)
        return sbx_error_set(err, -errno, "open %s: %s", box->path, strerror(errno));
    snprintf(procs, sizeof procs, "%s/cgroup.procs", box->path);
    if ((join->procs_fd[0] = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
        return sbx_error_set(err, -errno, "open %s: %s", procs, strerror(errno));
    join->nprocs = 1;
    return 0;
}

static int v2_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    return sbx__write_file(box->path, "cgroup.freeze", frozen ? "1" : "0", err);
}

static int v2_kill(sbx_box *box, int sig, sbx_error *err)
{
    if (sig != SIGKILL) {
        int n = sbx__signal_procs(box->path, sig);
        return n < 0 ? sbx_error_set(err, n, "signal %s: %s", box->path, strerror(-n)) : 0;
    }
    if (sbx__file_exists(box->path, "cgroup.kill"))
        return sbx__write_file(box->path, "cgroup.kill", "1", err);
    /* Before 5.14: freeze so nothing forks, kill everyone, thaw. SIGKILL
     * reaches frozen tasks on v2. */
    int r = v2_freeze(box, true, err);
    if (r < 0)
        return r;
    sbx__signal_procs(box->path, SIGKILL);
    return v2_freeze(box, false, err);
}

static int v2_count(sbx_box *box)
{
    return sbx__signal_procs(box->path, 0);  /* signal 0: only counts */
}

static int v2_is_empty(sbx_box *box)
{
    uint64_t populated;
    int r = sbx__read_u64(box->path, "cgroup.events", "populated", &populated);
    return r < 0 ? r : populated == 0;
}

static void read_stat(const char *dir, const char *file, const char *key, int64_t *out,
                      int64_t scale)
{
    uint64_t v;
    if (sbx__read_u64(dir, file, key, &v) == 0 && v != UINT64_MAX)
        *out = (int64_t)v / scale;
}

static int v2_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    (void)err;
    char text[1024];
    uint64_t v;
    if (sbx__read_file(box->path, "cpu.stat", text, sizeof text) >= 0) {
        if (sbx__keyed_u64(text, "user_usec", &v) == 0)
            st->user_us = (int64_t)v;
        if (sbx__keyed_u64(text, "system_usec", &v) == 0)
            st->sys_us = (int64_t)v;
    }
    read_stat(box->path, "memory.current", NULL, &st->memory_current, 1);
    read_stat(box->path, "memory.peak", NULL, &st->memory_peak, 1);
    read_stat(box->path, "pids.current", NULL, &st->pids_current, 1);
    read_stat(box->path, "pids.peak", NULL, &st->pids_peak, 1);
    read_stat(box->path, "memory.events", "oom_kill", &st->oom_kills, 1);
    read_stat(box->path, "pids.events", "max", &st->pids_limit_hits, 1);
    return 0;
}

/* One figure of the box through the kept directory fd of its parent:
 * openat and one read, no walk of the path from the root. */
static void read_brief(const sbx_box *box, const char *file, const char *key, int64_t *out,
                       int64_t scale)
{
    const struct v2_backend *p = priv_of(box->be);
    char rel[PATH_MAX];
    uint64_t v;
    if (p->base_fd < 0)
        return;
    snprintf(rel, sizeof rel, "%s/%s", box->name, file);
    int r = key ? sbx__read_keyed_at(p->base_fd, rel, key, &v)
                : sbx__read_u64_at(p->base_fd, rel, &v);
    if (r == 0 && v != UINT64_MAX)
        *out = (int64_t)(v / (uint64_t)scale);
}

/* What a table or /metrics of thousands of units shows: 4 openat + 4
 * reads, against 6 files read to EOF through full paths by v2_stats.
 * CPU time is user and system together (cpu.stat's usage_usec). */
static int v2_brief_stats(sbx_box *box, sbx_stats *st)
{
    read_brief(box, "cpu.stat", "usage_usec", &st->user_us, 1);
    if (st->user_us >= 0)
        st->sys_us = 0;
    read_brief(box, "memory.current", NULL, &st->memory_current, 1);
    read_brief(box, "memory.peak", NULL, &st->memory_peak, 1);
    read_brief(box, "pids.current", NULL, &st->pids_current, 1);
    return 0;
}

/* The backend's one inotify instance, once the box's memory.events is
 * watched in it (absent without the memory controller: -1). */
static int v2_event_fd(sbx_box *box)
{
    struct v2_backend *p = priv_of(box->be);
    struct v2_box *b = box->priv;
    if (b->wd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/memory.events", box->path);
        b->wd = sbx__v2_events_add(&p->events, box, path);
    }
    return b->wd >= 0 ? p->events.fd : -1;
}

static int v2_events_read(sbx_backend *be, int fd, void (*fn)(sbx_box *box, void *data),
                          void *data)
{
    struct v2_backend *p = priv_of(be);
    return fd == p->events.fd ? sbx__v2_events_read(&p->events, fn, data) : 0;
}

static int v2_destroy(sbx_box *box, sbx_error *err)
{
    if (v2_is_empty(box) == 0)
        v2_kill(box, SIGKILL, NULL);
    return sbx__rmdir_retry(box->path, err);
}

static void v2_free(sbx_box *box)
{
    struct v2_box *b = box->priv;
    if (!b)
        return;
    if (b->wd >= 0)
        sbx__v2_events_remove(&priv_of(box->be)->events, b->wd);
    free(b);
    box->priv = NULL;
}

static int v2_sweep(sbx_backend *be, const char *prefix, sbx_stale_fn stale, void *data)
{
    return sbx__sweep_stale(priv_of(be)->base, prefix, stale, data);
}

/* The limits read back (see v1_verify). */
static int v2_verify(sbx_box *box, char *what, size_t len)
{
    const sbx_limits *l = &box->limits;
    uint64_t page = 4096;
    int r = 0;
    if (!r && l->memory && has(box, SBX_CTRL_MEMORY))
        r = sbx__verify_u64(box->path, "memory.max", l->memory / page * page, what, len);
    if (!r && l->memory && sbx__file_exists(box->path, "memory.swap.max"))
        r = sbx__verify_u64(box->path, "memory.swap.max", l->memory_swap / page * page,
                            what, len);
    if (!r && l->cpu_percent && has(box, SBX_CTRL_CPU))
        r = sbx__verify_u64(box->path, "cpu.max", (uint64_t)l->cpu_percent * 1000, what, len);
    if (!r && l->cpu_weight && has(box, SBX_CTRL_CPU))
        r = sbx__verify_u64(box->path, "cpu.weight", l->cpu_weight, what, len);
    if (!r && l->pids && has(box, SBX_CTRL_PIDS))
        r = sbx__verify_u64(box->path, "pids.max", l->pids + sbx__pids_extra(box), what, len);
    return r;
}

const sbx__ops sbx__cgroup2_ops = {
    .name = "cgroup2",
    .open = v2_open,
    .close = v2_close,
    .describe = v2_describe,
    .create = v2_create,
    .prepare_join = v2_prepare_join,
    .kill = v2_kill,
    .freeze = v2_freeze,
    .update = v2_update,
    .verify = v2_verify,
    .sweep = v2_sweep,
    .is_empty = v2_is_empty,
    .count = v2_count,
    .stats = v2_stats,
    .brief_stats = v2_brief_stats,
    .event_fd = v2_event_fd,
    .events_read = v2_events_read,
    .destroy = v2_destroy,
    .free = v2_free,
};
