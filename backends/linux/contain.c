/* Containment: what every non-privileged spawn gets (see sbx_isolation in
 * sbx.h), whatever else it asks for. The parent decides (prepare); the
 * child makes the system calls (mounts, bound, caps, fds); seccomp rules
 * are compiled in the parent with the rest of the filter (isolate.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isolate.h"

static int cap_last(void)
{
    static int last = -1;  /* read once per process */
    if (last < 0) {
        char buf[16] = "";
        int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        last = n > 0 ? atoi(buf) : 40;
        if (last > 63)
            last = 63;
    }
    return last;
}

void sbx__contain_prepare(const sbx_isolation *iso, sbx__iso_plan *p)
{
    p->contained = iso && !iso->privileged;
    p->die_with_parent = iso && iso->die_with_parent;
    if (!p->contained)
        return;
    bool root = geteuid() == 0;
    bool ns = root || sbx_namespaces_available();
    if (ns) {
        p->mount_ns = true;
        p->clone_flags |= CLONE_NEWNS | CLONE_NEWIPC;
    }
    /* A proc of our own needs a PID namespace of our own in a user one. */
    p->hide_proc = root && !p->pid_ns;
    p->drop_caps = ns;
    p->caps_keep = sbx_caps_default | iso->cap_add;
    p->cap_last = cap_last();
    p->hide = iso->hide;
    p->reveal = iso->reveal;
}

size_t sbx_isolation_pieces(const sbx_isolation *iso, const char **out, size_t max)
{
    size_t n = 0;
    if (!iso || iso->privileged)
        return 0;
    bool root = geteuid() == 0, ns = root || sbx_namespaces_available();
    const char *all[16];
    all[n++] = "new-session";
    all[n++] = "close-fds";
    if (iso->die_with_parent)
        all[n++] = "die-with-parent";
    if (ns) {
        if (iso->pid_ns)
            all[n++] = "pid-namespace";
        all[n++] = "mount-namespace";
        all[n++] = "ipc-namespace";
        all[n++] = "cgroup-namespace";
        all[n++] = "cgroupfs-readonly";
        all[n++] = "sys-readonly";
        all[n++] = "proc-masked";
        if (!iso->pid_ns && root)
            all[n++] = "proc-hidepid";
        all[n++] = "private-dev-shm";
        all[n++] = "caps-dropped";
    }
    all[n++] = "seccomp";
    size_t w = 0;
    for (size_t i = 0; i < n && w < max; i++)
        out[w++] = all[i];
    return w;
}

/* ---- seccomp: namespace creation and terminal injection ---- */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n,
                struct scmp_arg_cmp cmp, sbx_error *err)
{
    int r = n ? seccomp_rule_add(ctx, action, nr, 1, cmp) : seccomp_rule_add(ctx, action, nr, 0);
    /* EEXIST: a profile refuses the call already; EACCES: it is the
     * default action of an allow list. */
    if (r < 0 && r != -EEXIST && r != -EACCES)
        return sbx_error_set(err, r, "sandbox: seccomp containment rule: %s", strerror(-r));
    return 0;
}

int sbx__contain_rules(void *scmp_ctx, sbx_error *err)
{
    scmp_filter_ctx ctx = scmp_ctx;
    static const unsigned long ns[] = {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                       CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME};
    struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof ns / sizeof ns[0]; i++) {
        r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                 SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]), err);
        if (r == 0 && ns[i] != CLONE_NEWTIME)  /* that bit is CSIGNAL's in clone */
            r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                     SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]), err);
    }
    /* clone3's flags sit in memory a filter cannot read: ENOSYS sends libc
     * back to clone, whose flags it can. */
    if (r == 0)
        r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, none, err);
    if (r == 0)
        r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 0, none, err);
    /* The command is an int: compare its low 32 bits only. */
    if (r == 0)
        r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI), err);
    if (r == 0)
        r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX), err);
    return r;
}

/* ioctl but TIOCSTI (0x5412) and TIOCLINUX (0x541C): below, above, and the
 * commands between them (one comparison per rule). The comparisons see all
 * 64 bits, so high garbage gets past them; setsid and the dropped
 * CAP_SYS_ADMIN still refuse TIOCSTI then. */
static int allow_ioctl(scmp_filter_ctx ctx)
{
    static const struct { enum scmp_compare op; uint64_t a, b; } ok[] = {
        {SCMP_CMP_LT, TIOCSTI, 0}, {SCMP_CMP_GT, TIOCLINUX, 0},
        {SCMP_CMP_MASKED_EQ, ~0ull, 0x5413}, {SCMP_CMP_MASKED_EQ, ~3ull, 0x5414},
        {SCMP_CMP_MASKED_EQ, ~3ull, 0x5418},
    };
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof ok / sizeof ok[0]; i++) {
        struct scmp_arg_cmp c = {1, ok[i].op, ok[i].a, ok[i].b};
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, c);
    }
    return r;
}

int sbx__contain_allow_list(void *scmp_ctx, char **names, sbx_error *err)
{
    scmp_filter_ctx ctx = scmp_ctx;
    const uint64_t all_ns = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                            CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
    size_t w = 0;
    int r = 0;
    for (size_t i = 0; names && names[i]; i++) {
        const char *n = names[i];
        if (strcmp(n, "clone") == 0 || strcmp(n, "unshare") == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(n), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, all_ns | CLONE_NEWTIME * (n[0] == 'u'),
                                         0));
        else if (strcmp(n, "ioctl") == 0)
            r = allow_ioctl(ctx);
        else if (strcmp(n, "setns") != 0 && strcmp(n, "clone3") != 0) {
            names[w++] = names[i];  /* the rest as listed */
            continue;
        }
        if (r < 0)
            r = sbx_error_set(err, r, "sandbox: seccomp allow list: contained %s: %s", n,
                              strerror(-r));
        free(names[i]);  /* handled here (setns and clone3 stay refused) */
        names[i] = NULL;
        if (r < 0) {
            for (size_t j = i + 1; names[j]; j++)  /* the rest is ours to free too */
                names[w++] = names[j];
            names[w] = NULL;
            return r;
        }
    }
    if (names)
        names[w] = NULL;
    return 0;
}

/* ---- in the child: system calls only ---- */

static int fail(sbx__iso_failure *f, const char *step, const char *path)
{
    f->step = step;
    f->path = path;
    return -errno;
}

/* Read-only in place: a bind of the path on itself, then the attribute
 * (an absent path is skipped: kernels differ in what /proc holds). */
static int readonly_in_place(const char *path, bool bind, sbx__iso_failure *f)
{
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                        MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
    if (bind && mount(path, path, "none", MS_BIND | MS_REC, NULL) < 0)
        return errno == ENOENT ? 0 : fail(f, "bind read-only", path);
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &ro, sizeof ro) == 0)
        return 0;
    if (errno == ENOENT)
        return 0;
    if (errno != ENOSYS)  /* before 5.12 (or under valgrind): this mount alone */
        return fail(f, "make read-only", path);
    if (mount("none", path, "none", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
              MS_NOEXEC, NULL) < 0)
        return fail(f, "make read-only", path);
    return 0;
}

/* Docker's (moby oci/defaults.go) masked and read-only paths. */
static const char *const masked_files[] = {
    "/proc/kcore", "/proc/kallsyms", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/interrupts",
};
static const char *const masked_dirs[] = {
    "/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly_proc[] = {
    "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
};
#define N(a) (sizeof a / sizeof a[0])

static int mask_paths(sbx__iso_failure *f)
{
    for (size_t i = 0; i < N(masked_files); i++)
        if (mount("/dev/null", masked_files[i], "none", MS_BIND, NULL) < 0 && errno != ENOENT)
            return fail(f, "mask", masked_files[i]);
    for (size_t i = 0; i < N(masked_dirs); i++)
        if (mount("tmpfs", masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0") < 0 && errno != ENOENT)
            return fail(f, "mask", masked_dirs[i]);
    for (size_t i = 0; i < N(readonly_proc); i++)
        if (readonly_in_place(readonly_proc[i], true, f) < 0)
            return -1;
    return 0;
}

/* The part of path below dir ("a/b" for "/x" and "/x/a/b"), or NULL. */
static const char *below(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (strncmp(dir, path, n) != 0 || path[n] != '/' || !path[n + 1])
        return NULL;
    return path + n + 1;
}

/* "/proc/self/fd/N" without stdio (we are between fork and exec). */
static void fd_path(int fd, char out[32])
{
    static const char head[] = "/proc/self/fd/";
    char digits[12];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0);
    memcpy(out, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++)
        out[sizeof head - 1 + i] = digits[n - 1 - i];
    out[sizeof head - 1 + n] = '\0';
}

/* Binds what fd (O_PATH, opened before the hiding) names back at dir/rel:
 * the directories on the way are made in the fresh tmpfs over dir. */
static int reveal_one(const char *dir, const char *rel, const char *full, int fd,
                      sbx__iso_failure *f)
{
    char path[4096], src[32];
    size_t dl = strlen(dir), rl = strlen(rel);
    struct stat st;
    if (dl + 1 + rl >= sizeof path || fstat(fd, &st) < 0) {
        errno = dl + 1 + rl >= sizeof path ? ENAMETOOLONG : errno;
        return fail(f, "reveal", full);
    }
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, rel, rl + 1);
    for (char *c = path + dl + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return fail(f, "reveal", full);
        *c = '/';
    }
    int made = S_ISDIR(st.st_mode) ? mkdir(path, 0755)
                                   : open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (made < 0 && errno != EEXIST)
        return fail(f, "reveal", full);
    if (made > 0 && !S_ISDIR(st.st_mode))
        close(made);
    fd_path(fd, src);
    if (mount(src, path, "none", MS_BIND, NULL) < 0)
        return fail(f, "reveal", full);
    return 0;
}

/* An empty read-only tmpfs over dir, with the revealed paths below it
 * bound back in place (opened first: the tmpfs covers them). */
static int hide_dir(const char *dir, const char *const *reveal, sbx__iso_failure *f)
{
    enum { MAX_REVEAL = 8 };
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const char *rel[MAX_REVEAL], *full[MAX_REVEAL];
    int fds[MAX_REVEAL];
    size_t n = 0;
    for (; reveal && *reveal && n < MAX_REVEAL; reveal++)
        if ((rel[n] = below(dir, *reveal)) &&
            (fds[n] = open(*reveal, O_PATH | O_CLOEXEC)) >= 0)
            full[n++] = *reveal;
    int r = mount("tmpfs", dir, "tmpfs", n ? ro & ~(unsigned long)MS_RDONLY : ro,
                  "size=0,mode=0555");
    bool gone = r < 0 && errno == ENOENT;  /* nothing to hide, nothing to bind back */
    if (r < 0 && !gone)
        r = fail(f, "hide", dir);
    for (size_t i = 0; i < n; i++) {
        if (r == 0 && !gone)
            r = reveal_one(dir, rel[i], full[i], fds[i], f);
        close(fds[i]);
    }
    if (gone)
        return 0;
    if (r == 0 && n && mount("none", dir, "none", MS_REMOUNT | MS_BIND | ro, NULL) < 0)
        r = fail(f, "make read-only", dir);
    return r;
}

/* What the caller hides from the program (a supervisor's control socket,
 * its state): /dev/null over a file, an empty read-only tmpfs over a
 * directory, with what the caller reveals below it bound back in. A path
 * absent here (another root) has nothing to hide. */
static int hide_paths(const char *const *paths, const char *const *reveal, sbx__iso_failure *f)
{
    for (; paths && *paths; paths++) {
        struct stat st;
        if (stat(*paths, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (hide_dir(*paths, reveal, f) < 0)
                return -1;
        } else if (mount("/dev/null", *paths, "none", MS_BIND, NULL) < 0 && errno != ENOENT) {
            return fail(f, "hide", *paths);
        }
    }
    return 0;
}

int sbx__contain_mounts(const sbx__iso_plan *p, sbx__iso_failure *f)
{
    if (!p->contained || !p->mount_ns)
        return 0;
    if (p->hide_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              "hidepid=invisible") < 0)
        return fail(f, "mount a hidepid", "/proc");
    if (mask_paths(f) < 0 || hide_paths(p->hide, p->reveal, f) < 0)
        return -1;
    /* The whole of /sys, the cgroup filesystem with it, in one call. Where
     * that call is missing the remount holds /sys alone: the cgroup
     * filesystem is then hidden under an empty read-only tmpfs. */
    if (readonly_in_place("/sys", false, f) < 0)
        return -1;
    struct mount_attr probe = {0};
    if (syscall(SYS_mount_setattr, -1, "", 0, &probe, sizeof probe) < 0 && errno == ENOSYS &&
        mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=0") < 0 && errno != ENOENT)
        return fail(f, "hide", "/sys/fs/cgroup");
    if (!p->nallow) {  /* a new root has a /dev of its own already */
        if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=1777") < 0 && errno != ENOENT)
            return fail(f, "mount a private", "/dev/shm");
        if (mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
            errno != ENOENT)
            return fail(f, "mount the IPC namespace's", "/dev/mqueue");
    }
    return 0;
}

static int drop_bound(int last, uint64_t keep, sbx__iso_failure *f)
{
    for (int cap = 0; cap <= last; cap++)
        if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
            errno != EINVAL)
            return fail(f, "drop from the capability bounding set", "");
    return 0;
}

static int cut_caps(uint64_t keep64, sbx__iso_failure *f)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return fail(f, "clear the ambient capabilities", "");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &hdr, d) < 0)
        return fail(f, "read the capabilities", "");
    for (int i = 0; i < 2; i++) {
        uint32_t keep = (uint32_t)(keep64 >> (32 * i));
        d[i].effective &= keep;
        d[i].permitted &= keep;
        d[i].inheritable &= keep;
    }
    if (syscall(SYS_capset, &hdr, d) < 0)
        return fail(f, "cut the capability sets", "");
    return 0;
}

int sbx__contain_bound(const sbx__iso_plan *p, sbx__iso_failure *f)
{
    return p->drop_caps ? drop_bound(p->cap_last, p->caps_keep, f) : 0;
}

int sbx__contain_caps(const sbx__iso_plan *p, sbx__iso_failure *f)
{
    return p->drop_caps ? cut_caps(p->caps_keep, f) : 0;
}

void sbx__contain_init(const sbx__iso_plan *p)
{
    sbx__iso_failure f;
    uint64_t kill_only = 1ull << 5;  /* CAP_KILL: to signal a program that changed uid */
    if (p->drop_caps && drop_bound(p->cap_last, kill_only, &f) == 0)
        cut_caps(kill_only, &f);
}

int sbx__contain_fds(const sbx_command *cmd, sbx__iso_failure *f)
{
    /* Close-on-exec rather than closed: the report pipe must live until
     * exec. The kept ones are then made inheritable again. */
    if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
        return fail(f, "close the descriptors above 2", "");
    for (size_t i = 0; i < cmd->nkeep_fds; i++)
        if (cmd->keep_fds[i] > 2 && fcntl(cmd->keep_fds[i], F_SETFD, 0) < 0)
            return fail(f, "pass on a descriptor", "");
    return 0;
}
