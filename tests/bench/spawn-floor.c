/* spawn-floor: the floors that sbx's spawn cost is measured against.
 *
 *   spawn-floor [-a] [-q] [-w] [-g MS] MODE N
 *   spawn-floor [-a] [-w] [-g MS] run N -- COMMAND [ARG...]
 *
 * MODE is one of
 *   bare   fork + execve("/bin/true") + waitpid: the floor without cgroups.
 *   v1     exactly the cgroup v1 work around one sandboxed spawn (as the
 *          cgroup1 backend does it, and nothing else): mkdir a fresh
 *          cgroup below our own in each of memory, cpu, cpuacct, pids and
 *          freezer (co-mounted controllers share one directory); write
 *          memory.limit_in_bytes (+ memory.memsw.limit_in_bytes when the
 *          kernel has it), cpu.cfs_period_us/cfs_quota_us and pids.max;
 *          open each cgroup.procs; fork; the child writes itself into each
 *          one and execs /bin/true; wait; rmdir every directory.
 *   v2     the same on cgroup v2: mkdir below our own cgroup, write
 *          memory.max (+ memory.swap.max), cpu.max, pids.max, open the
 *          directory, clone3(CLONE_INTO_CGROUP), exec, wait, rmdir.
 *   auto   v2 when the unified tree has the memory controller, else v1.
 * Limits: memory 64M, swap 0, cpu 50% (50000/100000), pids 32, as
 * `sbx-run -m 64M -c 50% -p 32`.
 *
 * `run` times fork + execvp(COMMAND) + waitpid of a whole command (stdout
 * to /dev/null), N times, and fails if the command does not exit 0.
 *
 * Each iteration is timed with CLOCK_MONOTONIC from before the first mkdir
 * (or fork) to after the last rmdir (or waitpid). Output: one line
 * "MODE n=N median_us=... min_us=... max_us=..." or, with -a, every
 * iteration's microseconds, one per line. -q prints nothing (for running
 * one iteration as a whole process). -g MS sleeps MS milliseconds before
 * each iteration, untimed: on cgroup v1 that makes every join a "lone"
 * migration that waits for an RCU grace period, as a single spawn on an
 * idle host does. -w runs one untimed warm-up iteration first. Exit 0, or
 * 1 with a message.
 *
 * Cgroups are only ever created below the caller's own cgroup in each
 * hierarchy; the caller's cgroup itself is not changed, except that on v2
 * the memory/cpu/pids controllers are enabled in the root's
 * cgroup.subtree_control when we run in the root cgroup (as in the VM) and
 * they are not yet enabled there. */
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

static char *const true_argv[] = {"/bin/true", NULL};

/* The cgroups of the iteration in flight, removed again if we die. */
static char made[8][PATH_MAX + 64];
static int nmade;

static void made_add(const char *dir)
{
    snprintf(made[nmade++], sizeof made[0], "%s", dir);
}

static void made_remove_all(void)
{
    while (nmade > 0)
        rmdir(made[--nmade]);
}

static void floor_cleanup(void)
{
    made_remove_all();
}




static void wait_ok(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s: %s %d", what, WIFEXITED(st) ? "exit status" : "killed by signal",
            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- where our cgroups are ---- */





/* ---- bare ---- */

static void bare_once(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        execve(true_argv[0], true_argv, environ);
        _exit(127);
    }
    wait_ok(pid, "/bin/true");
}

/* ---- cgroup v1 ---- */

struct v1 {
    char base[NV1][PATH_MAX];  /* our own cgroup per controller */
    int owner[NV1];            /* index of the first controller with this dir */
};

static void v1_setup(struct v1 *v)
{
    for (size_t i = 0; i < NV1; i++) {
        if (own_dir(v1_ctrls[i], v->base[i], sizeof v->base[i]) < 0)
            die("no cgroup v1 hierarchy with the %s controller", v1_ctrls[i]);
        v->owner[i] = (int)i;
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->base[j], v->base[i]) == 0) {
                v->owner[i] = (int)j;
                break;
            }
    }
}

static void v1_once(const struct v1 *v, unsigned long iter)
{
    char dir[NV1][PATH_MAX + 64];
    int procs[NV1], nprocs = 0;
    for (size_t i = 0; i < NV1; i++) {
        snprintf(dir[i], sizeof dir[i], "%s/spawn-floor-%ld-%lu", v->base[i], (long)getpid(), iter);
        if (v->owner[i] != (int)i)
            continue;
        if (mkdir(dir[i], 0755) < 0)
            die("mkdir %s: %s", dir[i], strerror(errno));
        made_add(dir[i]);
    }
    write_file(dir[0], "memory.limit_in_bytes", "67108864", 0);
    write_file(dir[0], "memory.memsw.limit_in_bytes", "67108864", 1);
    write_file(dir[1], "cpu.cfs_period_us", "100000", 0);
    write_file(dir[1], "cpu.cfs_quota_us", "50000", 0);
    write_file(dir[3], "pids.max", "32", 0);
    for (size_t i = 0; i < NV1; i++) {
        if (v->owner[i] != (int)i)
            continue;
        char path[PATH_MAX + 96];
        snprintf(path, sizeof path, "%s/cgroup.procs", dir[i]);
        if ((procs[nprocs++] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            die("open %s: %s", path, strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < nprocs; i++)
            if (write(procs[i], "0", 1) != 1)
                _exit(126);
        execve(true_argv[0], true_argv, environ);
        _exit(127);
    }
    for (int i = 0; i < nprocs; i++)
        close(procs[i]);
    wait_ok(pid, "v1 child");
    for (size_t i = NV1; i-- > 0;)
        if (v->owner[i] == (int)i && rmdir(dir[i]) < 0)
            die("rmdir %s: %s", dir[i], strerror(errno));
    nmade = 0;
}

/* ---- cgroup v2 ---- */



static void v2_setup(char *base, size_t len)
{
    char mnt[PATH_MAX], text[256] = "";
    if (own_dir(NULL, base, len) < 0 || find_mount(NULL, mnt, sizeof mnt) < 0)
        die("no cgroup2 hierarchy");
    char avail[256] = "";
    read_line(base, "cgroup.controllers", avail, sizeof avail);
    read_line(base, "cgroup.subtree_control", text, sizeof text);
    const char *want[] = {"memory", "cpu", "pids"};
    for (size_t i = 0; i < 3; i++) {
        if (!has_word(avail, want[i]))
            die("the cgroup2 tree has no %s controller in %s", want[i], base);
        if (has_word(text, want[i]))
            continue;
        if (strcmp(base, mnt) != 0)
            die("the controllers memory, cpu, pids are not enabled in %s/cgroup.subtree_control "
                "and that is our own cgroup (not the root): not changing it", base);
        char word[16];
        snprintf(word, sizeof word, "+%s", want[i]);
        write_file(base, "cgroup.subtree_control", word, 0);
    }
}


static void v2_once(const char *base, unsigned long iter)
{
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/spawn-floor-%ld-%lu", base, (long)getpid(), iter);
    if (mkdir(dir, 0755) < 0)
        die("mkdir %s: %s", dir, strerror(errno));
    made_add(dir);
    write_file(dir, "memory.max", "67108864", 0);
    write_file(dir, "memory.swap.max", "0", 1);
    write_file(dir, "cpu.max", "50000 100000", 0);
    write_file(dir, "pids.max", "32", 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        die("open %s: %s", dir, strerror(errno));
    pid_t pid = floor_clone(dfd, 0);
    if (pid < 0)
        die("clone3(CLONE_INTO_CGROUP): %s", strerror(errno));
    if (pid == 0) {
        execve(true_argv[0], true_argv, environ);
        _exit(127);
    }
    close(dfd);
    wait_ok(pid, "v2 child");
    if (rmdir(dir) < 0)
        die("rmdir %s: %s", dir, strerror(errno));
    nmade = 0;
}

/* ---- run a command ---- */

static void run_once(char **argv, int devnull)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(devnull, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    wait_ok(pid, argv[0]);
}

/* ---- main ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fputs("usage: spawn-floor [-a] [-q] [-w] [-g MS] bare|v1|v2|auto N\n"
          "       spawn-floor [-a] [-w] [-g MS] run N -- COMMAND [ARG...]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int all = 0, quiet = 0, warm = 0, i = 1;
    long gap_ms = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "-a") == 0)
            all = 1;
        else if (strcmp(argv[i], "-q") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "-w") == 0)
            warm = 1;
        else if (strcmp(argv[i], "-g") == 0 && i + 1 < argc)
            gap_ms = atol(argv[++i]);
        else
            usage();
    }
    if (argc - i < 2)
        usage();
    const char *mode = argv[i];
    char *end;
    unsigned long n = strtoul(argv[i + 1], &end, 10);
    if (*end || n == 0 || n > 10000000)
        usage();
    char **cmd = NULL;
    if (strcmp(mode, "run") == 0) {
        if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0)
            usage();
        cmd = argv + i + 3;
    } else if (argc - i != 2) {
        usage();
    }
    if (strcmp(mode, "auto") == 0)
        mode = v2_has_memory() ? "v2" : "v1";

    struct v1 v1;
    char v2base[PATH_MAX];
    int devnull = -1;
    if (strcmp(mode, "v1") == 0)
        v1_setup(&v1);
    else if (strcmp(mode, "v2") == 0)
        v2_setup(v2base, sizeof v2base);
    else if (cmd)
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    else if (strcmp(mode, "bare") != 0)
        usage();

    int64_t *us = calloc(n, sizeof *us);
    if (!us)
        die("out of memory");
    /* With -w, iteration 0 is an untimed warm-up (page faults, caches). */
    for (unsigned long k = warm ? 0 : 1; k <= n; k++) {
        if (gap_ms > 0) {
            struct timespec ts = {gap_ms / 1000, (gap_ms % 1000) * 1000000};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        }
        int64_t t0 = now_ns();
        if (cmd)
            run_once(cmd, devnull);
        else if (mode[0] == 'b')
            bare_once();
        else if (strcmp(mode, "v1") == 0)
            v1_once(&v1, k);
        else
            v2_once(v2base, k);
        if (k > 0)
            us[k - 1] = (now_ns() - t0 + 500) / 1000;
    }
    if (all) {
        for (unsigned long k = 0; k < n; k++)
            printf("%lld\n", (long long)us[k]);
    } else if (!quiet) {
        int64_t *s = malloc(n * sizeof *s);
        if (!s)
            die("out of memory");
        memcpy(s, us, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_i64);
        int64_t med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        printf("%s n=%lu median_us=%lld min_us=%lld max_us=%lld\n", mode, n, (long long)med,
               (long long)s[0], (long long)s[n - 1]);
        free(s);
    }
    free(us);
    return 0;
}
