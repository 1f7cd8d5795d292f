/* fleet-floor: the floor for the fleet benchmark (tests/bench/fleet), and
 * the sleeping program every supervisor in it runs.
 *
 *   fleet-floor sleep SOCKET TAG [IGNORED...]
 *   fleet-floor fleet [--plain] N ROOT -- PROGRAM [ARG...]
 *   fleet-floor stats N ROOT
 *
 * `sleep` sends one datagram "TAG PID SEC.NSEC" (CLOCK_MONOTONIC, taken
 * right after exec) to the unix socket SOCKET, then waits for a signal
 * forever (as `sleep 100000`: SIGTERM ends it). If nobody listens it just
 * sleeps. The benchmark learns from it, to the microsecond and without
 * polling, when each supervised program really runs.
 *
 * `fleet` is the minimal C supervisor the issue compares sbxd with: for
 * each of N units, one after another, it makes a fresh cgroup with limits
 * and starts PROGRAM in it (every "%i" in the arguments becomes the unit's
 * number, 1..N), then restarts any child that exits, in its kept cgroup,
 * until SIGTERM or SIGINT, which stops every child (SIGTERM, wait), removes
 * the cgroups and exits. Nothing else: no logs, no OOM watch, no freezer
 * sweep, no timers. Limits as `sbx-run -m 64M -c 50% -p 32` (and as the
 * benchmark's sbxd units): memory 64M, swap 0, cpu 50%, pids 32 (33
 * contained: one more for the init, as sbx gives).
 *
 * By default each unit is contained as sbxd's default units are: a PID
 * namespace whose init forks the program, and the rest of sbx's default
 * containment (floor-contain.h). `--plain` leaves all of that out: the
 * program is the floor's own child, as under `privileged = yes` without
 * `pid_namespace = init`.
 *
 *   cgroup v1 (and hybrid hosts): below the caller's own cgroup in each of
 *     memory, cpu, cpuacct, pids, freezer (as /proc/self/cgroup says), mkdir
 *     ROOT and ROOT/uI, write the limits, keep each cgroup.procs open; fork;
 *     the child writes itself into each and execs. A restart forks again
 *     and writes the kept fds: one v1 migration per start, as sbxd's.
 *   cgroup v2 (the unified tree has the memory controller): mkdir ROOT
 *     below our own cgroup, enable memory cpu pids in its subtree_control,
 *     mkdir ROOT/uI with limits, keep the directory open and start with
 *     clone3(CLONE_INTO_CGROUP): no migration at all.
 *
 * `stats` is the floor of a status table: for the N units of a running
 * `fleet` with that ROOT (started from the same cgroup), it reads what
 * sbxctl's table shows, memory now and peak, CPU time and tasks (v1:
 * memory.usage_in_bytes, memory.max_usage_in_bytes, cpuacct.usage,
 * pids.current; v2: memory.current, memory.peak, cpu.stat, pids.current),
 * each with openat below a kept directory and one read, and prints a line
 * per unit. The benchmark times it as a whole process.
 *
 * The child resets its signal mask, starts a new session (as sbxd's units
 * do), takes /dev/null as stdio, and execs. Prints on stderr
 * "fleet-floor: mode v1|v2, N units forked in X ms" once all are forked.
 * Exit 0, or 1 with a message (cgroups made so far are removed). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"
#include "floor-contain.h"

struct unit {
    pid_t pid;
    char **argv;
    int procs[NV1];            /* v1: kept cgroup.procs fds */
    int nprocs;
    int dirfd;                 /* v2: kept cgroup directory */
    char *dir[NV1];            /* what to rmdir (v2: dir[0] only) */
};

static struct {
    int v2;
    char base[NV1][PATH_MAX];  /* ROOT per controller (v2: base[0]) */
    int owner[NV1];            /* first controller sharing the directory */
    int made_base[NV1];
    struct unit *u;
    unsigned long n, made;
    int devnull;
    int contained;             /* sbx's default containment (floor-contain.h) */
} F;




/* ---- sleep ---- */

static _Noreturn void sleep_main(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (argc >= 4) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[2]);
        char msg[256];
        int len = snprintf(msg, sizeof msg, "%s %ld %lld.%09ld", argv[3], (long)getpid(),
                           (long long)ts.tv_sec, ts.tv_nsec);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            while (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&sa, sizeof sa) < 0 &&
                   errno == EINTR)
                ;
            close(fd);
        }
    }
    for (;;)
        pause();
}

/* ---- where our cgroups are ---- */








static void rmdir_retry(const char *dir)
{
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno != EBUSY)
            return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "fleet-floor: rmdir %s: %s\n", dir, strerror(errno));
}

static void floor_cleanup(void)
{
    for (unsigned long i = F.made; i-- > 0;) {
        struct unit *u = &F.u[i];
        for (size_t c = NV1; c-- > 0;)
            if (u->dir[c]) {
                rmdir_retry(u->dir[c]);
                free(u->dir[c]);
                u->dir[c] = NULL;
            }
    }
    F.made = 0;
    for (size_t c = NV1; c-- > 0;)
        if (F.made_base[c]) {
            rmdir_retry(F.base[c]);
            F.made_base[c] = 0;
        }
}

static void setup(const char *root)
{
    if (strchr(root, '/') || !*root || root[0] == '.')
        die("ROOT must be a plain name");
    F.v2 = v2_has_memory();
    if (F.v2) {
        char own[PATH_MAX], mnt[PATH_MAX], avail[256], on[256];
        if (own_dir(NULL, own, sizeof own) < 0 || find_mount(NULL, mnt, sizeof mnt) < 0)
            die("no cgroup2 hierarchy");
        read_line(own, "cgroup.controllers", avail, sizeof avail);
        read_line(own, "cgroup.subtree_control", on, sizeof on);
        const char *want[] = {"memory", "cpu", "pids"};
        for (size_t i = 0; i < 3; i++) {
            if (!has_word(avail, want[i]))
                die("the cgroup2 tree has no %s controller in %s", want[i], own);
            if (has_word(on, want[i]))
                continue;
            if (strcmp(own, mnt) != 0)
                die("%s is not enabled in %s/cgroup.subtree_control, which is our own "
                    "cgroup (not the root): not changing it", want[i], own);
            char word[16];
            snprintf(word, sizeof word, "+%s", want[i]);
            write_file(own, "cgroup.subtree_control", word, 0);
        }
        snprintf(F.base[0], sizeof F.base[0], "%s/%s", own, root);
        if (mkdir(F.base[0], 0755) < 0)
            die("mkdir %s: %s", F.base[0], strerror(errno));
        F.made_base[0] = 1;
        write_file(F.base[0], "cgroup.subtree_control", "+memory +cpu +pids", 0);
        return;
    }
    for (size_t c = 0; c < NV1; c++) {
        char own[PATH_MAX];
        if (own_dir(v1_ctrls[c], own, sizeof own) < 0)
            die("no cgroup v1 hierarchy with the %s controller", v1_ctrls[c]);
        snprintf(F.base[c], sizeof F.base[c], "%s/%s", own, root);
        F.owner[c] = (int)c;
        for (size_t d = 0; d < c; d++)
            if (strcmp(F.base[d], F.base[c]) == 0) {
                F.owner[c] = (int)d;
                break;
            }
        if (F.owner[c] != (int)c)
            continue;
        if (mkdir(F.base[c], 0755) < 0)
            die("mkdir %s: %s", F.base[c], strerror(errno));
        F.made_base[c] = 1;
    }
}

/* mkdir + limits + kept fds for unit i (0-based). */
static void make_cgroup(struct unit *u, unsigned long i)
{
    char dir[PATH_MAX + 32];
    u->nprocs = 0;
    u->dirfd = -1;
    if (F.v2) {
        snprintf(dir, sizeof dir, "%s/u%lu", F.base[0], i + 1);
        if (mkdir(dir, 0755) < 0)
            die("mkdir %s: %s", dir, strerror(errno));
        u->dir[0] = strdup(dir);
        write_file(dir, "memory.max", "67108864", 0);
        write_file(dir, "memory.swap.max", "0", 1);
        write_file(dir, "cpu.max", "50000 100000", 0);
        write_file(dir, "pids.max", F.contained ? "33" : "32", 0);
        if ((u->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            die("open %s: %s", dir, strerror(errno));
        return;
    }
    char cdir[NV1][PATH_MAX + 32];
    for (size_t c = 0; c < NV1; c++) {
        snprintf(cdir[c], sizeof cdir[c], "%s/u%lu", F.base[c], i + 1);
        if (F.owner[c] != (int)c)
            continue;
        if (mkdir(cdir[c], 0755) < 0)
            die("mkdir %s: %s", cdir[c], strerror(errno));
        u->dir[c] = strdup(cdir[c]);
    }
    write_file(cdir[0], "memory.limit_in_bytes", "67108864", 0);
    write_file(cdir[0], "memory.memsw.limit_in_bytes", "67108864", 1);
    write_file(cdir[1], "cpu.cfs_period_us", "100000", 0);
    write_file(cdir[1], "cpu.cfs_quota_us", "50000", 0);
    write_file(cdir[3], "pids.max", F.contained ? "33" : "32", 0);
    for (size_t c = 0; c < NV1; c++) {
        if (F.owner[c] != (int)c)
            continue;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/cgroup.procs", cdir[c]);
        if ((u->procs[u->nprocs++] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            die("open %s: %s", path, strerror(errno));
    }
}


/* The program's side of the child: session, stdio, exec. Contained, the
 * capabilities and the filter first (floor-contain.h). */
static _Noreturn void exec_program(struct unit *u)
{
    setsid();
    dup2(F.devnull, 0);
    dup2(F.devnull, 1);
    dup2(F.devnull, 2);
    if (F.contained && (floor_caps(floor_caps_keep) < 0 || floor_seccomp() < 0))
        _exit(125);
    execve(u->argv[0], u->argv, environ);
    _exit(127);
}

/* The unit's child: into its cgroups (v1), then the program; contained,
 * it is the PID namespace's init and forks the program. */
static _Noreturn void child(struct unit *u)
{
    sigset_t none;
    sigemptyset(&none);
    if (!F.contained)
        sigprocmask(SIG_SETMASK, &none, NULL);
    for (int k = 0; k < u->nprocs; k++)
        if (write(u->procs[k], "0", 1) != 1)
            _exit(126);
    if (!F.contained)
        exec_program(u);
    if (floor_mounts() < 0)
        _exit(124);
    pid_t pid = fork();
    if (pid < 0)
        _exit(124);
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        exec_program(u);
    }
    floor_init_loop(pid);
}

static void start(struct unit *u)
{
    uint64_t ns = F.contained ? FLOOR_NS_FLAGS : 0;
    pid_t pid = F.v2 || ns ? floor_clone(F.v2 ? u->dirfd : -1, ns) : fork();
    if (pid < 0) {
        fprintf(stderr, "fleet-floor: %s: %s\n", F.v2 || ns ? "clone3" : "fork", strerror(errno));
        u->pid = 0;
        return;
    }
    if (pid == 0)
        child(u);
    u->pid = pid;
}

static char **unit_argv(char **prog, unsigned long i)
{
    size_t n = 0;
    while (prog[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        die("out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *p = strstr(prog[k], "%i");
        if (!p) {
            v[k] = prog[k];
            continue;
        }
        size_t len = strlen(prog[k]) + 24;
        if (!(v[k] = malloc(len)))
            die("out of memory");
        snprintf(v[k], len, "%.*s%lu%s", (int)(p - prog[k]), prog[k], i + 1, p + 2);
    }
    return v;
}

static int fleet_main(int argc, char **argv)
{
    char *end;
    F.contained = 1;
    if (argc >= 3 && strcmp(argv[2], "--plain") == 0) {
        F.contained = 0;
        argv++;
        argc--;
    }
    if (argc < 6 || strcmp(argv[4], "--") != 0)
        return fputs("usage: fleet-floor fleet [--plain] N ROOT -- PROGRAM [ARG...]\n", stderr), 2;
    F.n = strtoul(argv[2], &end, 10);
    if (*end || F.n == 0 || F.n > 100000)
        die("bad N '%s'", argv[2]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((F.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        die("/dev/null: %s", strerror(errno));
    if (!(F.u = calloc(F.n, sizeof *F.u)))
        die("out of memory");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    setup(argv[3]);

    int64_t t0 = now_ns();
    for (unsigned long i = 0; i < F.n; i++) {
        struct unit *u = &F.u[i];
        u->argv = unit_argv(argv + 5, i);
        make_cgroup(u, i);
        F.made = i + 1;
        start(u);
    }
    fprintf(stderr, "fleet-floor: mode %s, %lu units forked in %.1f ms\n", F.v2 ? "v2" : "v1",
            F.n, (double)(now_ns() - t0) / 1e6);

    int stopping = 0;
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig < 0)
            continue;
        if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
            stopping = 1;
            for (unsigned long i = 0; i < F.n; i++)
                if (F.u[i].pid > 0)
                    kill(F.u[i].pid, SIGTERM);
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (unsigned long i = 0; i < F.n; i++) {
                if (F.u[i].pid != pid)
                    continue;
                F.u[i].pid = 0;
                if (!stopping)
                    start(&F.u[i]);
                break;
            }
        }
        if (stopping) {
            unsigned long live = 0;
            for (unsigned long i = 0; i < F.n; i++)
                live += F.u[i].pid > 0;
            if (live == 0 || (pid < 0 && errno == ECHILD))
                break;
        }
    }
    floor_cleanup();
    return 0;
}

/* One short file below dir, openat and one read: the number it starts
 * with, or the one after "key " (cpu.stat), or -1. */
static long long read_at(int dir, const char *rel, const char *key)
{
    char buf[512];
    int fd = openat(dir, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = key ? strstr(buf, key) : buf;
    return p ? strtoll(p + (key ? strlen(key) + 1 : 0), NULL, 10) : -1;
}

static int stats_main(int argc, char **argv)
{
    if (argc != 4)
        return fputs("usage: fleet-floor stats N ROOT\n", stderr), 2;
    unsigned long n = strtoul(argv[2], NULL, 10);
    /* memory, cpu time, tasks: the hierarchy (v1) and the files */
    static const char *const v1[4][2] = {{"memory", "memory.usage_in_bytes"},
        {"memory", "memory.max_usage_in_bytes"}, {"cpuacct", "cpuacct.usage"},
        {"pids", "pids.current"}};
    static const char *const v2[4][2] = {{"memory.current", NULL}, {"memory.peak", NULL},
        {"cpu.stat", "usage_usec"}, {"pids.current", NULL}};
    int v2_mode = v2_has_memory(), dir[4];
    for (int k = 0; k < 4; k++) {
        char own[PATH_MAX], base[PATH_MAX + 256];
        if (own_dir(v2_mode ? NULL : v1[k][0], own, sizeof own) < 0)
            die("no cgroup hierarchy for %s", v2_mode ? "v2" : v1[k][0]);
        snprintf(base, sizeof base, "%s/%s", own, argv[3]);
        if ((dir[k] = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
            die("%s: %s", base, strerror(errno));
    }
    for (unsigned long i = 1; i <= n; i++) {
        long long v[4];
        for (int k = 0; k < 4; k++) {
            char rel[64];
            snprintf(rel, sizeof rel, "u%lu/%s", i, v2_mode ? v2[k][0] : v1[k][1]);
            v[k] = read_at(dir[k], rel, v2_mode ? v2[k][1] : NULL);
        }
        printf("u%lu %lld %lld %lld %lld\n", i, v[0], v[1], v[2], v[3]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sleep") == 0)
        sleep_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "fleet") == 0)
        return fleet_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "stats") == 0)
        return stats_main(argc, argv);
    fputs("usage: fleet-floor sleep SOCKET TAG [IGNORED...]\n"
          "       fleet-floor fleet [--plain] N ROOT -- PROGRAM [ARG...]\n"
          "       fleet-floor stats N ROOT\n", stderr);
    return 2;
}
