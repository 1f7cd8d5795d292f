/* sbx-test-child: a misbehaving target for the integration tests, in the
 * manner of libuv's test runner re-running itself as a helper.
 *
 *   sbx-test-child VERB [ARG...] [VERB [ARG...]]...
 *
 * Verbs run in order; each takes a fixed number of arguments. A verb that
 * does not return (exit, raise, forkbomb, a double-fork grandchild) ends the
 * chain; after the last verb the program exits 0.
 *
 *   exit N               exit with status N
 *   raise SIG            raise SIG (a name such as TERM, or a number)
 *   bytes N              write N bytes of the pattern byte[i] = i % 251
 *   cat                  copy stdin to stdout
 *   env NAME             print the value of NAME; exit 3 when it is unset
 *   cwd                  print the working directory
 *   cgroup               print /proc/self/cgroup (read before anything else
 *                        when it is the first verb)
 *   alloc MB             allocate MB MiB and touch every page, print "ok MB"
 *   fork-once            fork once; print "ok", or the errno name (EAGAIN)
 *   forkbomb             fork without end, in every process
 *   ignore-term SECONDS  ignore SIGTERM, fork one child (which inherits
 *                        that), print "ready", and sleep SECONDS in both
 *   double-fork PIDFILE  fork, setsid, fork again; the grandchild writes its
 *                        pid to PIDFILE and sleeps forever; the middle one
 *                        exits; this process goes on once PIDFILE is written
 *   spin THREADS SECONDS busy loop on THREADS threads for SECONDS (wall)
 *   fds                  print our open fds, one line each: "FD TARGET"
 *   signals              print the SigBlk and SigIgn lines of our status
 *   limits               print /proc/self/limits
 *   pid                  print our pid
 *   now                  print CLOCK_MONOTONIC in seconds (as Python's
 *                        time.monotonic() on Linux)
 *   touch PATH           create PATH (empty), to show that we ran
 *   sleep SECONDS        sleep (fractions allowed)
 *   sub VERB...          run the rest of the arguments in a child (this
 *                        program again), wait for it and print "exited N"
 *                        or "signaled N"; always the last verb
 *
 * Probes of the sandbox's isolation: each prints "ok" (or what it read) on
 * success, else the errno name (EROFS, EACCES, EPERM...; "other" for one
 * not in the table), and goes on either way.
 *   write PATH           create or truncate PATH and write "sbx\n" to it
 *   read PATH            read PATH whole: "ok N" (N bytes)
 *   show PATH            copy PATH to stdout (exit 1 when it cannot)
 *   ls DIR               DIR's entries, one a line, then "end"
 *   mkdir PATH           mkdir PATH (mode 0755)
 *   connect HOST PORT    a TCP connect to the IPv4 address HOST
 *   mount DIR            mount a small tmpfs on DIR (and detach it at once)
 *   ptrace-sibling       fork two children; the second PTRACE_ATTACHes to
 *                        the first (then detaches); both are ended after
 *   init-module          init_module(NULL, 0, ""): EPERM when refused before
 *                        the kernel looks at it (ENOSYS, EFAULT... otherwise)
 *   reboot-bad-magic     reboot(2) with an invalid magic number, which the
 *                        kernel checks only after CAP_SYS_BOOT: EPERM when
 *                        refused, EINVAL when it would have been allowed
 *   unshare NS           in a child: unshare(CLONE_NEW<NS>), NS one of user,
 *                        mnt, net, cgroup, ipc, uts, pid
 *   clone NS, clone3 NS  a child made by clone (clone3) with CLONE_NEW<NS>,
 *                        which exits at once
 *   zombie               make an orphaned zombie: fork a child that forks a
 *                        grandchild; the grandchild exits, the child waits
 *                        until it is a zombie and exits without reaping it,
 *                        so that it is left to whichever process adopts
 *                        orphans here (the init of a PID namespace);
 *                        prints "zombie PID"
 *   no-zombies SECONDS   wait up to SECONDS until no process in /proc is a
 *                        zombie: "none", or "zombies PID..." at the end
 *   procs                every process in /proc: "PID PPID STATE COMM"
 *   ppid                 print our parent's pid
 *   ids                  "uid U euid U gid G egid G groups G,G..."
 *   hostname             print the node name (uname)
 *
 * Output is flushed after every verb. Exit status 2 means a usage error,
 * 1 that a system call the verb needed failed unexpectedly. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void usage(const char *msg)
{
    fprintf(stderr, "sbx-test-child: %s\n", msg);
    exit(2);
}

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "sbx-test-child: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long number(const char *text)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0)
        usage("expected a non-negative number");
    return v;
}

static double seconds(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || v < 0)
        usage("expected a number of seconds");
    return v;
}

static void sleep_for(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static _Noreturn void sleep_forever(void)
{
    for (;;)
        pause();
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* write() all of buf, through EINTR and short writes. */
static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("write");
        p += n;
        len -= (size_t)n;
    }
}

static void copy_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(path);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        write_all(STDOUT_FILENO, buf, (size_t)n);
    close(fd);
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"ABRT", SIGABRT}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},
};

static int signal_number(const char *text)
{
    if (strncmp(text, "SIG", 3) == 0)
        text += 3;
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (strcmp(signals[i].name, text) == 0)
            return signals[i].sig;
    long n = number(text);
    if (n < 1 || n >= NSIG)
        usage("unknown signal");
    return (int)n;
}

static const struct {
    int e;
    const char *name;
} errnos[] = {
    {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EPERM, "EPERM"}, {ENOSYS, "ENOSYS"},
    {EROFS, "EROFS"}, {EACCES, "EACCES"}, {ENOENT, "ENOENT"}, {ENOTDIR, "ENOTDIR"},
    {EEXIST, "EEXIST"}, {EBUSY, "EBUSY"}, {EINVAL, "EINVAL"}, {EFAULT, "EFAULT"},
    {ENOEXEC, "ENOEXEC"}, {ESRCH, "ESRCH"}, {ECONNREFUSED, "ECONNREFUSED"},
    {ENETUNREACH, "ENETUNREACH"}, {EHOSTUNREACH, "EHOSTUNREACH"},
    {ETIMEDOUT, "ETIMEDOUT"}, {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENODEV, "ENODEV"},
    {EOVERFLOW, "EOVERFLOW"},
};

static const char *errno_name(int e)
{
    for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
        if (errnos[i].e == e)
            return errnos[i].name;
    return "other";
}

/* The outcome of a probe: "ok", or the name of errno. */
static void report(int rc)
{
    printf("%s\n", rc < 0 ? errno_name(errno) : "ok");
}

static void do_bytes(long n)
{
    static unsigned char pattern[251 * 64];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i % 251);
    /* Chunks are whole periods of the pattern, so each starts at byte 0. */
    while (n > 0) {
        size_t len = n < (long)sizeof pattern ? (size_t)n : sizeof pattern;
        write_all(STDOUT_FILENO, pattern, len);
        n -= (long)len;
    }
}

static void do_cat(void)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("read stdin");
        write_all(STDOUT_FILENO, buf, (size_t)n);
    }
}

static void do_alloc(long mb)
{
    size_t len = (size_t)mb << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        fail("mmap");
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < len; i += (size_t)page)
        p[i] = (char)(i / (size_t)page + 1);
    printf("ok %ld\n", mb);
}

static void do_fork_once(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s\n", errno_name(errno));
        return;
    }
    if (pid == 0)
        _exit(0);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    printf("ok\n");
}

static _Noreturn void do_forkbomb(void)
{
    for (;;)
        fork();
}

static void do_ignore_term(double s)
{
    if (signal(SIGTERM, SIG_IGN) == SIG_ERR)
        fail("signal");
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        sleep_for(s);
        _exit(0);
    }
    printf("ready\n");
    fflush(stdout);
    sleep_for(s);
}

static void do_double_fork(const char *pidfile)
{
    int p[2];
    if (pipe(p) < 0)
        fail("pipe");
    pid_t mid = fork();
    if (mid < 0)
        fail("fork");
    if (mid == 0) {
        close(p[0]);
        if (setsid() < 0)
            fail("setsid");
        pid_t grand = fork();
        if (grand < 0)
            fail("fork");
        if (grand > 0)
            _exit(0);
        /* Written whole under another name, then renamed into place. */
        char tmp[4096], text[32];
        snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            fail(tmp);
        int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
        write_all(fd, text, (size_t)len);
        close(fd);
        if (rename(tmp, pidfile) < 0)
            fail("rename");
        write_all(p[1], "x", 1);
        close(p[1]);
        sleep_forever();
    }
    close(p[1]);
    while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
        ;
    char c;
    ssize_t n;
    while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
        ;
    close(p[0]);
    if (n != 1)
        usage("the grandchild did not write its pid file");
}

static double spin_until;

static void *spin_thread(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (now() < spin_until)
        for (int i = 0; i < 10000; i++)
            x++;
    return NULL;
}

static void do_spin(long threads, double s)
{
    if (threads < 1 || threads > 64)
        usage("spin: 1..64 threads");
    pthread_t t[64];
    spin_until = now() + s;
    for (long i = 1; i < threads; i++) {
        int e = pthread_create(&t[i], NULL, spin_thread, NULL);
        if (e) {
            errno = e;
            fail("pthread_create");
        }
    }
    spin_thread(NULL);
    for (long i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
}

static void do_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        fail("/proc/self/fd");
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd == dirfd(d))
            continue;
        char path[64], target[4096];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        printf("%d %s\n", fd, target);
    }
    closedir(d);
}

static void do_signals(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        fail("/proc/self/status");
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
            fputs(line, stdout);
    fclose(f);
}

static void do_sub(char **args)
{
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        args[-1] = "sbx-test-child";  /* argv[0] of the child */
        execv("/proc/self/exe", args - 1);
        fail("execv /proc/self/exe");
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid");
    if (WIFEXITED(status))
        printf("exited %d\n", WEXITSTATUS(status));
    else
        printf("signaled %d\n", WTERMSIG(status));
}

/* ---- probes of the isolation ---- */

static void do_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report(-1);
        return;
    }
    ssize_t n = write(fd, "sbx\n", 4);
    int e = errno;
    close(fd);
    errno = e;
    report(n == 4 ? 0 : -1);
}

static void do_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report(-1);
        return;
    }
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        total += n;
    }
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        report(-1);
    } else {
        printf("ok %ld\n", total);
    }
}

static void do_ls(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        report(-1);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            printf("%s\n", de->d_name);
    closedir(d);
    printf("end\n");
}

static void do_connect(const char *host, long port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port < 1 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        usage("connect: expected an IPv4 address and a port");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        report(-1);
        return;
    }
    int rc;
    while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno == EINTR)
        ;
    int e = errno;
    close(fd);
    errno = e;
    report(rc);
}

static void do_mount(const char *dir)
{
    int rc = mount("sbx-test", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k");
    int e = errno;
    if (rc == 0)
        umount2(dir, MNT_DETACH);
    errno = e;
    report(rc);
}

static void reap(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid");
}

static void do_ptrace_sibling(void)
{
    pid_t target = fork();
    if (target < 0)
        fail("fork");
    if (target == 0)
        sleep_forever();
    pid_t tracer = fork();
    if (tracer < 0)
        fail("fork");
    if (tracer == 0) {
        /* The result comes back as the exit status: 0, or errno. */
        if (ptrace(PTRACE_ATTACH, target, NULL, NULL) < 0)
            _exit(errno & 0xff);
        int st;
        waitpid(target, &st, __WALL);
        ptrace(PTRACE_DETACH, target, NULL, NULL);
        _exit(0);
    }
    int status;
    reap(tracer, &status);
    kill(target, SIGKILL);
    reap(target, NULL);
    if (!WIFEXITED(status))
        usage("ptrace-sibling: the tracer died");
    errno = WEXITSTATUS(status);
    report(errno ? -1 : 0);
}

static void do_init_module(void)
{
    long rc = syscall(SYS_init_module, NULL, 0UL, "");
    report(rc < 0 ? -1 : 0);
}

static void do_reboot_bad_magic(void)
{
    report((int)syscall(SYS_reboot, 0, 0, 0, NULL));
}

static int namespace_flag(const char *name)
{
    static const struct {
        const char *name;
        int flag;
    } ns[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"net", CLONE_NEWNET},
        {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
        {"pid", CLONE_NEWPID},
    };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        if (strcmp(ns[i].name, name) == 0)
            return ns[i].flag;
    usage("expected a namespace: user, mnt, net, cgroup, ipc, uts or pid");
}

/* The outcome of a child that exits 0 on success, else with errno. */
static void report_child(pid_t pid)
{
    if (pid < 0) {
        report(-1);
        return;
    }
    int status;
    reap(pid, &status);
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
    report(errno ? -1 : 0);
}

static void do_unshare(const char *name)
{
    int flag = namespace_flag(name);
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(flag) < 0 ? errno & 0xff : 0);
    report_child(pid);
}

/* Raw clone and clone3 without CLONE_VM: the child runs on a copy of our
 * stack, like fork, and exits at once. */
static void do_clone(const char *name, bool three)
{
    int flag = namespace_flag(name);
    long rc;
    if (three) {
        struct clone_args args = {.flags = (uint64_t)flag, .exit_signal = SIGCHLD};
        rc = syscall(SYS_clone3, &args, sizeof args);
    } else {
        rc = syscall(SYS_clone, (unsigned long)flag | SIGCHLD, 0UL, 0UL, 0UL, 0UL);
    }
    if (rc == 0)
        _exit(0);
    report_child((pid_t)rc);
}

static char proc_state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static void do_zombie(void)
{
    int p[2];
    if (pipe(p) < 0)
        fail("pipe");
    pid_t mid = fork();
    if (mid < 0)
        fail("fork");
    if (mid == 0) {
        close(p[0]);
        pid_t z = fork();
        if (z < 0)
            fail("fork");
        if (z == 0)
            _exit(0);
        while (proc_state_of(z) != 'Z')
            sleep_for(0.005);
        long pid = (long)z;
        write_all(p[1], &pid, sizeof pid);
        _exit(0);   /* without reaping z */
    }
    close(p[1]);
    long zpid = 0;
    ssize_t n;
    while ((n = read(p[0], &zpid, sizeof zpid)) < 0 && errno == EINTR)
        ;
    close(p[0]);
    reap(mid, NULL);
    if (n != sizeof zpid)
        usage("zombie: no zombie was made");
    printf("zombie %ld\n", zpid);
}

/* The pids of /proc, each once; *n of them. */
static long *proc_pids(size_t *n)
{
    DIR *d = opendir("/proc");
    if (!d)
        fail("/proc");
    size_t cap = 64;
    long *pids = malloc(cap * sizeof *pids);
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name)
            continue;
        if (*n == cap)
            pids = realloc(pids, (cap *= 2) * sizeof *pids);
        pids[(*n)++] = pid;
    }
    closedir(d);
    return pids;
}

static void do_no_zombies(double s)
{
    double until = now() + s;
    for (;;) {
        size_t n, nz = 0;
        long *pids = proc_pids(&n);
        for (size_t i = 0; i < n; i++)
            if (proc_state_of((pid_t)pids[i]) == 'Z')
                pids[nz++] = pids[i];
        if (nz == 0 || now() >= until) {
            if (nz == 0)
                printf("none\n");
            else {
                printf("zombies");
                for (size_t i = 0; i < nz; i++)
                    printf(" %ld", pids[i]);
                printf("\n");
            }
            free(pids);
            return;
        }
        free(pids);
        sleep_for(0.02);
    }
}

static void do_procs(void)
{
    size_t n;
    long *pids = proc_pids(&n);
    for (size_t i = 0; i < n; i++) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pids[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;   /* gone meanwhile */
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        char state;
        long ppid;
        if (!open_paren || !close_paren ||
            sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        *close_paren = '\0';
        printf("%ld %ld %c %s\n", pids[i], ppid, state, open_paren + 1);
    }
    free(pids);
}

static void do_ids(void)
{
    gid_t groups[256];
    int n = getgroups(256, groups);
    if (n < 0)
        fail("getgroups");
    printf("uid %ld euid %ld gid %ld egid %ld groups ", (long)getuid(), (long)geteuid(),
           (long)getgid(), (long)getegid());
    for (int i = 0; i < n; i++)
        printf("%s%ld", i ? "," : "", (long)groups[i]);
    printf("\n");
}

static void do_hostname(void)
{
    struct utsname u;
    if (uname(&u) < 0)
        fail("uname");
    printf("%s\n", u.nodename);
}

/* ---- the verbs: each gets its arguments, already counted ---- */

static void v_exit(char **a) { fflush(stdout); exit((int)number(a[0])); }

static void v_raise(char **a)
{
    fflush(stdout);
    raise(signal_number(a[0]));
    fprintf(stderr, "sbx-test-child: still alive after raise %s\n", a[0]);
    exit(1);
}

static void v_bytes(char **a) { do_bytes(number(a[0])); }
static void v_cat(char **a) { (void)a; do_cat(); }

static void v_env(char **a)
{
    const char *v = getenv(a[0]);
    if (!v)
        exit(3);
    printf("%s\n", v);
}

static void v_cwd(char **a)
{
    char buf[4096];
    (void)a;
    if (!getcwd(buf, sizeof buf))
        fail("getcwd");
    printf("%s\n", buf);
}

static void v_cgroup(char **a) { (void)a; copy_file("/proc/self/cgroup"); }
static void v_alloc(char **a) { do_alloc(number(a[0])); }
static void v_fork_once(char **a) { (void)a; do_fork_once(); }
static void v_forkbomb(char **a) { (void)a; fflush(stdout); do_forkbomb(); }
static void v_ignore_term(char **a) { do_ignore_term(seconds(a[0])); }
static void v_double_fork(char **a) { fflush(stdout); do_double_fork(a[0]); }
static void v_spin(char **a) { do_spin(number(a[0]), seconds(a[1])); }
static void v_fds(char **a) { (void)a; do_fds(); }
static void v_signals(char **a) { (void)a; do_signals(); }
static void v_limits(char **a) { (void)a; copy_file("/proc/self/limits"); }
static void v_pid(char **a) { (void)a; printf("%ld\n", (long)getpid()); }
static void v_now(char **a) { (void)a; printf("%.6f\n", now()); }

static void v_touch(char **a)
{
    int fd = open(a[0], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(a[0]);
    close(fd);
}

static void v_sleep(char **a) { fflush(stdout); sleep_for(seconds(a[0])); }
static void v_sub(char **a) { fflush(stdout); do_sub(a); }
static void v_write(char **a) { do_write(a[0]); }
static void v_read(char **a) { do_read(a[0]); }
static void v_show(char **a) { copy_file(a[0]); }
static void v_ls(char **a) { do_ls(a[0]); }
static void v_mkdir(char **a) { report(mkdir(a[0], 0755)); }
static void v_connect(char **a) { do_connect(a[0], number(a[1])); }
static void v_mount(char **a) { do_mount(a[0]); }
static void v_ptrace_sibling(char **a) { (void)a; do_ptrace_sibling(); }
static void v_init_module(char **a) { (void)a; do_init_module(); }
static void v_reboot_bad_magic(char **a) { (void)a; do_reboot_bad_magic(); }
static void v_unshare(char **a) { do_unshare(a[0]); }
static void v_clone(char **a) { do_clone(a[0], false); }
static void v_clone3(char **a) { do_clone(a[0], true); }
static void v_zombie(char **a) { (void)a; fflush(stdout); do_zombie(); }
static void v_no_zombies(char **a) { do_no_zombies(seconds(a[0])); }
static void v_procs(char **a) { (void)a; do_procs(); }
static void v_ppid(char **a) { (void)a; printf("%ld\n", (long)getppid()); }
static void v_ids(char **a) { (void)a; do_ids(); }
static void v_hostname(char **a) { (void)a; do_hostname(); }

#define REST (-1)  /* the verb takes every argument left */

static const struct verb {
    const char *name;
    int nargs;
    void (*run)(char **args);
} verbs[] = {
    {"exit", 1, v_exit},          {"raise", 1, v_raise},
    {"bytes", 1, v_bytes},        {"cat", 0, v_cat},
    {"env", 1, v_env},            {"cwd", 0, v_cwd},
    {"cgroup", 0, v_cgroup},      {"alloc", 1, v_alloc},
    {"fork-once", 0, v_fork_once}, {"forkbomb", 0, v_forkbomb},
    {"ignore-term", 1, v_ignore_term}, {"double-fork", 1, v_double_fork},
    {"spin", 2, v_spin},          {"fds", 0, v_fds},
    {"signals", 0, v_signals},    {"limits", 0, v_limits},
    {"pid", 0, v_pid},            {"now", 0, v_now},
    {"touch", 1, v_touch},        {"sleep", 1, v_sleep},
    {"sub", REST, v_sub},
    {"write", 1, v_write},        {"read", 1, v_read},
    {"show", 1, v_show},          {"ls", 1, v_ls},
    {"mkdir", 1, v_mkdir},        {"connect", 2, v_connect},
    {"mount", 1, v_mount},        {"ptrace-sibling", 0, v_ptrace_sibling},
    {"init-module", 0, v_init_module}, {"zombie", 0, v_zombie},
    {"no-zombies", 1, v_no_zombies}, {"procs", 0, v_procs},
    {"ppid", 0, v_ppid},          {"ids", 0, v_ids},
    {"hostname", 0, v_hostname},
    {"reboot-bad-magic", 0, v_reboot_bad_magic}, {"unshare", 1, v_unshare},
    {"clone", 1, v_clone},        {"clone3", 1, v_clone3},
};

int main(int argc, char **argv)
{
    /* Before anything else, so it shows where the first instruction ran. */
    bool cgroup_first = argc > 1 && strcmp(argv[1], "cgroup") == 0;
    if (cgroup_first) {
        copy_file("/proc/self/cgroup");
        fflush(stdout);
    }
    if (argc < 2)
        usage("usage: sbx-test-child VERB [ARG...]... (see the source)");

    for (int i = 1; i < argc;) {
        const struct verb *v = NULL;
        for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
            if (strcmp(verbs[k].name, argv[i]) == 0)
                v = &verbs[k];
        if (!v) {
            fprintf(stderr, "sbx-test-child: unknown verb '%s'\n", argv[i]);
            exit(2);
        }
        int n = v->nargs == REST ? argc - i - 1 : v->nargs;
        if (n < 1 && v->nargs == REST) {
            fprintf(stderr, "sbx-test-child: %s needs a verb after it\n", v->name);
            exit(2);
        }
        if (i + n >= argc) {
            fprintf(stderr, "sbx-test-child: %s needs %d argument(s)\n", v->name, n);
            exit(2);
        }
        if (!(i == 1 && cgroup_first))
            v->run(argv + i + 1);
        fflush(stdout);
        i += 1 + n;
    }
    return 0;
}
