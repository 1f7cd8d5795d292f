/* The floor of sbx's default containment, for fleet-floor.c: what every
 * default unit of sbxd gets, done the shortest way in C, so the fleet
 * benchmark compares like with like (tests/bench/README.md lists it).
 *
 * The unit's process is made by clone with new PID, mount and IPC
 * namespaces; it is PID 1 there (the init). It joins its cgroups (v1),
 * takes a cgroup namespace, makes the mount tree private, mounts a fresh
 * /proc, masks and makes read-only Docker's /proc paths, makes /sys (and
 * the cgroup filesystem in it) read-only in one call, mounts a private
 * /dev/shm and /dev/mqueue, then forks the program. The program starts a
 * new session, drops the capabilities sbx drops (bounding set and the
 * other sets), sets no_new_privs, installs a seccomp filter (one that
 * refuses unshare and setns: sbx's is compiled once per process, so its
 * cost here is the install) and execs. The init keeps only CAP_KILL,
 * forwards SIGTERM and SIGINT to the program, reaps, and exits with the
 * program's status when it ends.
 *
 * Not here (cheap in sbx, or not the floor's business): closing
 * descriptors above 2 (the floor opens them close-on-exec), renaming the
 * init, the status pipe to the supervisor. Header-only; included once. */
#ifndef SBX_BENCH_FLOOR_CONTAIN_H
#define SBX_BENCH_FLOOR_CONTAIN_H

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#define FLOOR_NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC)

/* sbx_caps_default: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID,
 * SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, SETFCAP. */
static const uint64_t floor_caps_keep = (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) |
    (1ull << 5) | (1ull << 6) | (1ull << 7) | (1ull << 8) | (1ull << 10) | (1ull << 18) |
    (1ull << 31);

static const char *const floor_masked_files[] = {
    "/proc/kcore", "/proc/kallsyms", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/interrupts",
};
static const char *const floor_masked_dirs[] = {
    "/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const floor_readonly[] = {
    "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
};
#define FLOOR_N(a) (sizeof a / sizeof a[0])

static int floor_readonly_at(const char *path, int bind)
{
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                        MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
    if (bind && mount(path, path, "none", MS_BIND | MS_REC, NULL) < 0)
        return errno == ENOENT ? 0 : -1;
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &ro, sizeof ro) < 0 &&
        errno != ENOENT)
        return -1;
    return 0;
}

/* In the init, before it forks the program: the mounts. */
static int floor_mounts(void)
{
    if (unshare(CLONE_NEWCGROUP) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -1;
    for (size_t i = 0; i < FLOOR_N(floor_masked_files); i++)
        if (mount("/dev/null", floor_masked_files[i], "none", MS_BIND, NULL) < 0 && errno != ENOENT)
            return -1;
    for (size_t i = 0; i < FLOOR_N(floor_masked_dirs); i++)
        if (mount("tmpfs", floor_masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
                  MS_NOEXEC, "size=0") < 0 && errno != ENOENT)
            return -1;
    for (size_t i = 0; i < FLOOR_N(floor_readonly); i++)
        if (floor_readonly_at(floor_readonly[i], 1) < 0)
            return -1;
    if (floor_readonly_at("/sys", 0) < 0)
        return -1;
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777") < 0 &&
        errno != ENOENT)
        return -1;
    if (mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
        errno != ENOENT)
        return -1;
    return 0;
}

static int floor_caps(uint64_t keep)
{
    for (int cap = 0; cap <= 63; cap++)
        if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -1;
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &hdr, d) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        uint32_t k = (uint32_t)(keep >> (32 * i));
        d[i].effective &= k;
        d[i].permitted &= k;
        d[i].inheritable &= k;
    }
    return (int)syscall(SYS_capset, &hdr, d);
}

/* In the program, last before exec: no_new_privs and the filter. */
static int floor_seccomp(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)FLOOR_N(code), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static pid_t floor_program;

static void floor_forward(int sig)
{
    if (floor_program > 0)
        kill(floor_program, sig);
}

/* PID 1: forwards TERM and INT, reaps, ends with the program. */
static _Noreturn void floor_init_loop(pid_t program)
{
    floor_program = program;
    floor_caps(1ull << 5);  /* CAP_KILL */
    struct sigaction fwd;
    memset(&fwd, 0, sizeof fwd);
    fwd.sa_handler = floor_forward;
    sigaction(SIGTERM, &fwd, NULL);
    sigaction(SIGINT, &fwd, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w == program)
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        if (w < 0 && errno != EINTR)
            _exit(127);
    }
}

#endif
