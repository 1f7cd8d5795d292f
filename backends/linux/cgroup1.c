/* The cgroup v1 backend (v1-only and hybrid hosts): one cgroup per box in
 * each of the memory, cpu, cpuacct, pids and freezer hierarchies, below the
 * caller's own cgroup in each. The child writes itself into every one
 * before execve. Whole-tree kill freezes the box, kills every task, thaws.
 * OOM kills are counted by memory.oom_control and signalled through
 * cgroup.event_control with an eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../backend.h"
#include "cgroup.h"

struct v1_backend {
    sbx__layout lay;
    char base[SBX_CTRL_COUNT][PATH_MAX];  /* per controller; "" when absent */
    int base_fd[SBX_CTRL_COUNT];          /* base's directory (O_PATH), or -1:
                                             status reads go through it */
    unsigned avail;
    /* OOM eventfds, each registered for up to SBX_EVENT_FD_SHARE boxes'
     * memory.oom_control: a box costs no descriptor of its own. */
    struct oom_group {
        int efd;                          /* -1: a free slot */
        unsigned members;
    } *groups;
    size_t ngroups;
};

struct v1_box {
    char *dir[SBX_CTRL_COUNT];            /* made by us; NULL when not */
    long group;                           /* its OOM group, or -1 */
};

static struct v1_backend *priv_of(const sbx_backend *be)
{
    return be->priv;
}

static int v1_open(sbx_backend *be, sbx_error *err)
{
    struct v1_backend *p = calloc(1, sizeof *p);
    if (!p)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        p->base_fd[c] = -1;
    int r = sbx__detect(&p->lay, err);
    if (r < 0)
        goto fail;
    be->mode = p->lay.mode;
    if (p->lay.mode != SBX_CGROUP_V1 && p->lay.mode != SBX_CGROUP_HYBRID) {
        r = sbx_error_set(err, -ENODEV, "no cgroup v1 controllers mounted (cgroup mode: %s)",
                          sbx_cgroup_mode_name(p->lay.mode));
        goto fail;
    }
    for (int c = 0; c < SBX_CTRL_COUNT; c++) {
        if (!(p->lay.v1_mask & (1u << c)))
            continue;
        char self[PATH_MAX];
        if (sbx__hier_self_dir(&p->lay.v1[c], self, sizeof self) < 0)
            continue;
        if (be->cgroup_root && sbx__mkdir_below(self, be->cgroup_root, err) < 0) {
            r = err ? err->code : -EIO;
            goto fail;
        }
        snprintf(p->base[c], sizeof p->base[c], "%s%s%s", self,
                 be->cgroup_root ? "/" : "", be->cgroup_root ? be->cgroup_root : "");
        p->avail |= 1u << c;
        p->base_fd[c] = open(p->base[c], O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    be->priv = p;
    return 0;
fail:
    free(p);
    return r;
}

static void v1_close(sbx_backend *be)
{
    struct v1_backend *p = priv_of(be);
    if (be->cgroup_root)
        for (int c = 0; c < SBX_CTRL_COUNT; c++)
            if (p->base[c][0])
                sbx__rmdir_retry(p->base[c], NULL);  /* fails while other boxes live there */
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        if (p->base_fd[c] >= 0)
            close(p->base_fd[c]);
    for (size_t g = 0; g < p->ngroups; g++)
        if (p->groups[g].efd >= 0)
            close(p->groups[g].efd);
    free(p->groups);
    free(p);
}

static void v1_describe(const sbx_backend *be, sbx_backend_info *info)
{
    const struct v1_backend *p = priv_of(be);
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        if (p->avail & (1u << c))
            info->controllers[info->ncontrollers++] = sbx__ctrl_name((sbx__ctrl)c);
    snprintf(info->base, sizeof info->base, "%s", p->base[SBX_CTRL_MEMORY]);
}

static const char *dir_of(const sbx_box *box, sbx__ctrl c)
{
    const struct v1_box *b = box->priv;
    return b->dir[c];
}

/* Co-mounted controllers share a directory: only its first owner counts. */
static bool own_dir(const struct v1_box *b, int c)
{
    if (!b->dir[c])
        return false;
    for (int d = 0; d < c; d++)
        if (b->dir[d] && strcmp(b->dir[d], b->dir[c]) == 0)
            return false;
    return true;
}

static int apply_memory(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    const char *dir = dir_of(box, SBX_CTRL_MEMORY);
    char num[32];
    if (!l->memory)
        return 0;
    if (!dir)
        return sbx__cannot_enforce(box, "memory", "no v1 memory controller", err);
    snprintf(num, sizeof num, "%" PRIu64, l->memory);
    int r = sbx__write_file(dir, "memory.limit_in_bytes", num, err);
    if (r < 0)
        return r;
    sbx__enforce(box, "memory", "cgroup1 memory.limit_in_bytes");
    if (!sbx__file_exists(dir, "memory.memsw.limit_in_bytes")) {
        if (sbx__host_has_swap())
            return sbx__cannot_enforce(box, "swap", "the kernel has no swap accounting", err);
        sbx__enforce(box, "swap", "no swap on the host");
        return 0;
    }
    if (l->memory_swap > UINT64_MAX - l->memory)
        return sbx_error_set(err, -ERANGE, "memory + swap is too large");
    snprintf(num, sizeof num, "%" PRIu64, l->memory + l->memory_swap);
    if ((r = sbx__write_file(dir, "memory.memsw.limit_in_bytes", num, err)) < 0)
        return r;
    sbx__enforce(box, "swap", "cgroup1 memory.memsw.limit_in_bytes");
    return 0;
}

static int apply_cpu(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    const char *dir = dir_of(box, SBX_CTRL_CPU);
    char num[32];
    int r;
    if (!l->cpu_percent && !l->cpu_weight)
        return 0;
    if (!dir)
        return sbx__cannot_enforce(box, "cpu", "no v1 cpu controller", err);
    if (l->cpu_percent) {
        if ((r = sbx__write_file(dir, "cpu.cfs_period_us", "100000", err)) < 0)
            return r;
        snprintf(num, sizeof num, "%" PRIu64, (uint64_t)l->cpu_percent * 1000);
        if ((r = sbx__write_file(dir, "cpu.cfs_quota_us", num, err)) < 0)
            return r;
        sbx__enforce(box, "cpu", "cgroup1 cpu.cfs_quota_us");
    }
    if (l->cpu_weight) {
        /* v2's weight 1..10000 (default 100) on v1's shares (default 1024) */
        uint64_t shares = (uint64_t)l->cpu_weight * 1024 / 100;
        snprintf(num, sizeof num, "%" PRIu64, shares < 2 ? 2 : shares);
        if ((r = sbx__write_file(dir, "cpu.shares", num, err)) < 0)
            return r;
        sbx__enforce(box, "cpu_weight", "cgroup1 cpu.shares");
    }
    return 0;
}

static int apply_pids(sbx_box *box, sbx_error *err)
{
    const char *dir = dir_of(box, SBX_CTRL_PIDS);
    char num[32];
    if (!box->limits.pids)
        return 0;
    if (!dir)
        return sbx__cannot_enforce(box, "pids", "no v1 pids controller", err);
    snprintf(num, sizeof num, "%" PRIu64, box->limits.pids + sbx__pids_extra(box));
    int r = sbx__write_file(dir, "pids.max", num, err);
    if (r == 0)
        sbx__enforce(box, "pids", "cgroup1 pids.max");
    return r;
}

/* Makes the box's cgroup in every controller we have; co-mounted
 * controllers (cpu,cpuacct) share one directory. */
static int make_dirs(sbx_box *box, sbx_error *err)
{
    struct v1_backend *p = priv_of(box->be);
    struct v1_box *b = box->priv;
    for (int c = 0; c < SBX_CTRL_COUNT; c++) {
        if (!(p->avail & (1u << c)))
            continue;
        size_t len = strlen(p->base[c]) + strlen(box->name) + 2;
        if (!(b->dir[c] = malloc(len)))
            return sbx_error_set(err, -ENOMEM, "out of memory");
        snprintf(b->dir[c], len, "%s/%s", p->base[c], box->name);
        if (!own_dir(b, c))
            continue;
        /* Adopting: the cgroup a dead supervisor left is taken as it is. */
        if (mkdir(b->dir[c], 0755) < 0 && !(errno == EEXIST && (box->flags & SBX_BOX_ADOPT))) {
            int e = errno;
            free(b->dir[c]);
            b->dir[c] = NULL;
            return sbx_error_set(err, -e, "mkdir %s/%s: %s", p->base[c], box->name, strerror(e));
        }
    }
    return 0;
}

/* The directory whose cgroup.procs lists the box's processes. */
static const char *any_dir(const sbx_box *box)
{
    const struct v1_box *b = box->priv;
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        if (b->dir[c])
            return b->dir[c];
    return NULL;
}

static void remove_dirs(sbx_box *box)
{
    struct v1_box *b = box->priv;
    for (int c = SBX_CTRL_COUNT - 1; c >= 0; c--)
        if (own_dir(b, c))
            rmdir(b->dir[c]);
}

static void v1_free(sbx_box *box)
{
    struct v1_box *b = box->priv;
    if (!b)
        return;
    for (int c = 0; c < SBX_CTRL_COUNT; c++)
        free(b->dir[c]);
    if (b->group >= 0) {
        struct oom_group *g = &priv_of(box->be)->groups[b->group];
        if (--g->members == 0) {
            close(g->efd);
            g->efd = -1;
        }
    }
    free(b);
    box->priv = NULL;
}

static int v1_create(sbx_box *box, sbx_error *err)
{
    struct v1_box *b = calloc(1, sizeof *b);
    if (!b)
        return sbx_error_set(err, -ENOMEM, "out of memory");
    b->group = -1;
    box->priv = b;
    int r;
    if ((r = make_dirs(box, err)) < 0 || (r = apply_memory(box, err)) < 0 ||
        (r = apply_cpu(box, err)) < 0 || (r = apply_pids(box, err)) < 0)
        goto fail;
    snprintf(box->path, sizeof box->path, "%s", any_dir(box));
    /* A supervisor killed between the freeze and the thaw of a kill left
     * the cgroup frozen: what runs there, and a process joining it before
     * its exec, would wait for ever. */
    if ((box->flags & SBX_BOX_ADOPT) && dir_of(box, SBX_CTRL_FREEZER))
        sbx__write_file(dir_of(box, SBX_CTRL_FREEZER), "freezer.state", "THAWED", NULL);
    return 0;
fail:
    remove_dirs(box);
    v1_free(box);
    return r;
}

/* Limits that are now 0 (none) go back to unlimited (-1). memsw must stay
 * at or above memory at every step, so it is lifted first and set last. */
static int v1_update(sbx_box *box, sbx_error *err)
{
    const sbx_limits *l = &box->limits;
    const char *mem = dir_of(box, SBX_CTRL_MEMORY), *cpu = dir_of(box, SBX_CTRL_CPU);
    const char *pids = dir_of(box, SBX_CTRL_PIDS);
    int r = 0;
    if (mem && sbx__file_exists(mem, "memory.memsw.limit_in_bytes"))
        r = sbx__write_file(mem, "memory.memsw.limit_in_bytes", "-1", err);
    if (r == 0 && mem && !l->memory)
        r = sbx__write_file(mem, "memory.limit_in_bytes", "-1", err);
    if (r == 0 && cpu && !l->cpu_percent)
        r = sbx__write_file(cpu, "cpu.cfs_quota_us", "-1", err);
    if (r == 0 && pids && !l->pids)
        r = sbx__write_file(pids, "pids.max", "max", err);
    if (r == 0 && (r = apply_memory(box, err)) == 0 && (r = apply_cpu(box, err)) == 0)
        r = apply_pids(box, err);
    return r;
}

/* Each cgroup.procs is opened for this spawn only: kept for the box's
 * life they cost 4 descriptors a unit, and 10,000 units would not fit in
 * a usual RLIMIT_NOFILE. An open costs a few microseconds against the
 * migration's milliseconds. */
static int v1_prepare_join(sbx_box *box, sbx__join *join, sbx_error *err)
{
    struct v1_box *b = box->priv;
    join->owned = true;
    for (int c = 0; c < SBX_CTRL_COUNT; c++) {
        if (!own_dir(b, c))
            continue;
        char procs[PATH_MAX];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", b->dir[c]);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return sbx_error_set(err, -errno, "open %s: %s", procs, strerror(errno));
        join->procs_fd[join->nprocs++] = fd;
    }
    return 0;
}

static int wait_frozen(const char *dir)
{
    char state[32];
    for (int i = 0; i < 200; i++) {
        if (sbx__read_file(dir, "freezer.state", state, sizeof state) < 0)
            return -EIO;
        if (strncmp(state, "FROZEN", 6) == 0)
            return 0;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}

static int v1_is_empty(sbx_box *box);

static int v1_freeze(sbx_box *box, bool frozen, sbx_error *err)
{
    const char *dir = dir_of(box, SBX_CTRL_FREEZER);
    if (!dir)
        return sbx_error_set(err, -EOPNOTSUPP, "no v1 freezer controller");
    int r = sbx__write_file(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
    if (r == 0 && frozen && (r = wait_frozen(dir)) < 0)
        sbx_error_set(err, r, "freeze %s: did not settle", dir);
    return r;
}

static int v1_kill(sbx_box *box, int sig, sbx_error *err)
{
    const char *dir = any_dir(box);
    if (sig != SIGKILL) {
        int n = sbx__signal_procs(dir, sig);
        return n < 0 ? sbx_error_set(err, n, "signal %s: %s", dir, strerror(-n)) : 0;
    }
    if (v1_is_empty(box) == 1)
        return 0;  /* an empty box gains no process: spare the freezer (it
                      patches kernel code and interrupts every CPU) */
    if (dir_of(box, SBX_CTRL_FREEZER)) {
        /* Frozen tasks cannot fork; the kill lands when they thaw. */
        int r = v1_freeze(box, true, err);
        sbx__signal_procs(dir, SIGKILL);
        int t = v1_freeze(box, false, r < 0 ? NULL : err);
        return r < 0 ? r : t;
    }
    /* No freezer: kill until nothing is listed (a fork may race one pass). */
    for (int i = 0; i < 100; i++)
        if (sbx__signal_procs(dir, SIGKILL) <= 0)
            return 0;
    return sbx_error_set(err, -EAGAIN, "kill %s: processes keep appearing", dir);
}

static int v1_count(sbx_box *box)
{
    return sbx__signal_procs(any_dir(box), 0);  /* signal 0: only counts */
}

static int v1_is_empty(sbx_box *box)
{
    char buf[64];
    ssize_t n = sbx__read_file(any_dir(box), "cgroup.procs", buf, sizeof buf);
    return n < 0 ? (int)n : n == 0;
}

static void read_stat(const char *dir, const char *file, const char *key, int64_t *out,
                      int64_t div)
{
    uint64_t v;
    if (dir && sbx__read_u64(dir, file, key, &v) == 0)
        *out = (int64_t)(v / (uint64_t)div);
}

static int v1_stats(sbx_box *box, sbx_stats *st, sbx_error *err)
{
    const char *mem = dir_of(box, SBX_CTRL_MEMORY);
    const char *acct = dir_of(box, SBX_CTRL_CPUACCT);
    const char *pids = dir_of(box, SBX_CTRL_PIDS);
    (void)err;
    read_stat(acct, "cpuacct.usage_user", NULL, &st->user_us, 1000);
    read_stat(acct, "cpuacct.usage_sys", NULL, &st->sys_us, 1000);
    read_stat(mem, "memory.usage_in_bytes", NULL, &st->memory_current, 1);
    read_stat(mem, "memory.max_usage_in_bytes", NULL, &st->memory_peak, 1);
    read_stat(mem, "memory.oom_control", "oom_kill", &st->oom_kills, 1);
    read_stat(pids, "pids.current", NULL, &st->pids_current, 1);
    read_stat(pids, "pids.peak", NULL, &st->pids_peak, 1);
    read_stat(pids, "pids.events", "max", &st->pids_limit_hits, 1);
    return 0;
}

/* One counter of the box, through its hierarchy's kept directory fd. */
static void read_brief(const sbx_box *box, sbx__ctrl c, const char *file, int64_t *out,
                       uint64_t div)
{
    const struct v1_backend *p = priv_of(box->be);
    char rel[PATH_MAX];
    uint64_t v;
    if (p->base_fd[c] < 0 || !dir_of(box, c))
        return;
    snprintf(rel, sizeof rel, "%s/%s", box->name, file);
    if (sbx__read_u64_at(p->base_fd[c], rel, &v) == 0)
        *out = (int64_t)(v / div);
}

/* 4 openat + 4 reads + 4 closes, against 8 files read to EOF through full
 * paths: what a status table of thousands of units costs. */
static int v1_brief_stats(sbx_box *box, sbx_stats *st)
{
    read_brief(box, SBX_CTRL_CPUACCT, "cpuacct.usage", &st->user_us, 1000);
    if (st->user_us >= 0)
        st->sys_us = 0;
    read_brief(box, SBX_CTRL_MEMORY, "memory.usage_in_bytes", &st->memory_current, 1);
    read_brief(box, SBX_CTRL_MEMORY, "memory.max_usage_in_bytes", &st->memory_peak, 1);
    read_brief(box, SBX_CTRL_PIDS, "pids.current", &st->pids_current, 1);
    return 0;
}

/* A group with room, made when none has (its eventfd opened): its index,
 * or -1. Groups are few (one per SBX_EVENT_FD_SHARE boxes): a scan. */
static long oom_group_with_room(struct v1_backend *p)
{
    size_t free_slot = p->ngroups;
    for (size_t g = 0; g < p->ngroups; g++) {
        if (p->groups[g].efd >= 0 && p->groups[g].members < SBX_EVENT_FD_SHARE)
            return (long)g;
        if (p->groups[g].efd < 0 && free_slot == p->ngroups)
            free_slot = g;
    }
    if (free_slot == p->ngroups) {
        struct oom_group *v = realloc(p->groups, (p->ngroups + 1) * sizeof *v);
        if (!v)
            return -1;
        p->groups = v;
        p->ngroups++;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        p->groups[free_slot] = (struct oom_group){-1, 0};
        return -1;
    }
    p->groups[free_slot] = (struct oom_group){efd, 0};
    return (long)free_slot;
}

/* Registers the box's memory.oom_control with a shared eventfd (the
 * kernel keeps its own reference to the control file). */
static int v1_event_fd(sbx_box *box)
{
    struct v1_backend *p = priv_of(box->be);
    struct v1_box *b = box->priv;
    const char *mem = dir_of(box, SBX_CTRL_MEMORY);
    if (b->group >= 0 || !mem)
        return b->group >= 0 ? p->groups[b->group].efd : -1;
    long g = oom_group_with_room(p);
    if (g < 0)
        return -1;
    char path[PATH_MAX], line[64];
    snprintf(path, sizeof path, "%s/memory.oom_control", mem);
    int ofd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(line, sizeof line, "%d %d", p->groups[g].efd, ofd);
    int r = ofd < 0 ? -1 : sbx__write_file(mem, "cgroup.event_control", line, NULL);
    if (ofd >= 0)
        close(ofd);
    if (r < 0) {
        if (p->groups[g].members == 0) {
            close(p->groups[g].efd);
            p->groups[g].efd = -1;
        }
        return -1;
    }
    p->groups[g].members++;
    b->group = g;
    return p->groups[g].efd;
}

static void v1_events_drain(sbx_box *box)
{
    struct v1_box *b = box->priv;
    uint64_t v;
    if (b->group >= 0 && read(priv_of(box->be)->groups[b->group].efd, &v, sizeof v) < 0)
        return;
}

static int v1_destroy(sbx_box *box, sbx_error *err)
{
    struct v1_box *b = box->priv;
    if (v1_is_empty(box) == 0)
        v1_kill(box, SIGKILL, NULL);
    /* Every hierarchy is tried: one still busy leaves one directory, not
     * all of them; the first failure is the one reported. */
    int first = 0;
    for (int c = SBX_CTRL_COUNT - 1; c >= 0; c--) {
        if (!own_dir(b, c))
            continue;
        int r = sbx__rmdir_retry(b->dir[c], first < 0 ? NULL : err);
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

/* Each hierarchy's leftovers (co-mounted ones are one dir: swept once),
 * the freezer's first: a leftover left frozen is thawed there, so that its
 * killed processes can die and leave the other hierarchies' dirs. */
static int v1_sweep(sbx_backend *be, const char *prefix, sbx_stale_fn stale, void *data)
{
    const struct v1_backend *p = priv_of(be);
    int removed = 0;
    for (int c = SBX_CTRL_COUNT - 1; c >= 0; c--) {
        bool seen = false;
        for (int d = c + 1; d < SBX_CTRL_COUNT; d++)
            seen |= (p->avail & (1u << d)) && strcmp(p->base[d], p->base[c]) == 0;
        int r = (p->avail & (1u << c)) && !seen ? sbx__sweep_stale(p->base[c], prefix, stale, data) : 0;
        if (r > removed)
            removed = r;
    }
    return removed;
}

/* The limits read back: a program that could write its cgroup files
 * (privileged) may have raised them. Page-sized limits read back rounded. */
static int v1_verify(sbx_box *box, char *what, size_t len)
{
    const sbx_limits *l = &box->limits;
    const char *mem = dir_of(box, SBX_CTRL_MEMORY), *cpu = dir_of(box, SBX_CTRL_CPU);
    const char *pids = dir_of(box, SBX_CTRL_PIDS);
    uint64_t page = 4096;
    int r = 0;
    if (!r && l->memory && mem)
        r = sbx__verify_u64(mem, "memory.limit_in_bytes", l->memory / page * page, what, len);
    if (!r && l->memory && mem && sbx__file_exists(mem, "memory.memsw.limit_in_bytes"))
        r = sbx__verify_u64(mem, "memory.memsw.limit_in_bytes",
                            (l->memory + l->memory_swap) / page * page, what, len);
    if (!r && l->cpu_percent && cpu)
        r = sbx__verify_u64(cpu, "cpu.cfs_quota_us", (uint64_t)l->cpu_percent * 1000, what, len);
    if (!r && l->cpu_percent && cpu)
        r = sbx__verify_u64(cpu, "cpu.cfs_period_us", 100000, what, len);
    if (!r && l->cpu_weight && cpu) {
        uint64_t shares = (uint64_t)l->cpu_weight * 1024 / 100;
        r = sbx__verify_u64(cpu, "cpu.shares", shares < 2 ? 2 : shares, what, len);
    }
    if (!r && l->pids && pids)
        r = sbx__verify_u64(pids, "pids.max", l->pids + sbx__pids_extra(box), what, len);
    return r;
}

static const char *v1_dir_for(const sbx_box *box, const char *controllers, size_t len)
{
    const struct v1_box *b = box->priv;
    for (const char *c = controllers; c < controllers + len; ) {
        size_t n = strcspn(c, ",");
        if (n > len - (size_t)(c - controllers))
            n = len - (size_t)(c - controllers);
        for (int k = 0; k < SBX_CTRL_COUNT; k++) {
            const char *name = sbx__ctrl_name((sbx__ctrl)k);
            if (b->dir[k] && strlen(name) == n && strncmp(c, name, n) == 0)
                return b->dir[k];
        }
        c += n + 1;
    }
    return NULL;
}

const sbx__ops sbx__cgroup1_ops = {
    .name = "cgroup1",
    .open = v1_open,
    .close = v1_close,
    .describe = v1_describe,
    .create = v1_create,
    .prepare_join = v1_prepare_join,
    .kill = v1_kill,
    .freeze = v1_freeze,
    .update = v1_update,
    .verify = v1_verify,
    .dir_for = v1_dir_for,
    .sweep = v1_sweep,
    .is_empty = v1_is_empty,
    .count = v1_count,
    .stats = v1_stats,
    .brief_stats = v1_brief_stats,
    .event_fd = v1_event_fd,
    .events_drain = v1_events_drain,
    .destroy = v1_destroy,
    .free = v1_free,
};
