/* The units' cgroups in a systemd scope of their own (scope.h). */
#include "scope.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

#define MOUNT "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270
#define MADE_WITHIN_MS 10000

__attribute__((format(printf, 4, 5)))
static int fail(char *why, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return code;
}

static bool name_valid(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n < 200 && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789:_.-") == n;
}

/* The slice sbxd runs in, from its v2 path: the longest prefix whose last
 * part is a slice ("/system.slice/sbxd.service" -> "/system.slice"); ""
 * for the root slice. */
static void own_slice(const char *self, char *slice, size_t len)
{
    slice[0] = '\0';
    for (const char *p = self; (p = strstr(p, ".slice")); p += 6)
        if (p[6] == '/' || p[6] == '\0')
            snprintf(slice, len, "%.*s", (int)(p + 6 - self), self);
}

static int own_cgroup(char *self, size_t len)
{
    char text[4096];
    if (procfs_read("/proc/self/cgroup", text, sizeof text) <= 0)
        return -EIO;
    const char *l = strstr(text, "0::");
    if (!l || (l != text && l[-1] != '\n'))
        return -ENODEV;  /* no unified hierarchy */
    snprintf(self, len, "%.*s", (int)strcspn(l + 3, "\n"), l + 3);
    return 0;
}

/* Whether the cgroup at dir holds processes (cgroup.events). */
static bool populated(const char *dir)
{
    char path[4200], text[256];
    snprintf(path, sizeof path, "%s/cgroup.events", dir);
    return procfs_read(path, text, sizeof text) > 0 && strstr(text, "populated 1");
}

/* Moves every process of dir's own cgroup into its leaf: the holder, made
 * by systemd-run in the scope itself, must leave it before the scope's
 * cgroup can enable controllers for its children. */
static int hold_in_leaf(const char *dir)
{
    char path[4200], leaf[4200], text[4096];
    snprintf(leaf, sizeof leaf, "%s/" SCOPE_HOLD_LEAF, dir);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int r = procfs_read(path, text, sizeof text);
    if (r < 0)
        return r;
    snprintf(path, sizeof path, "%s/cgroup.procs", leaf);
    for (char *pid = strtok(text, "\n"); pid; pid = strtok(NULL, "\n")) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        ssize_t n = write(fd, pid, strlen(pid));
        int e = errno;
        close(fd);
        if (n < 0 && e != ESRCH)
            return -e;
    }
    return 0;
}

/* The holder: systemd-run registers the scope with its own pid, then
 * becomes `sleep infinity`, which lives until sbxd ends it (or the scope
 * is stopped). It must not keep sbxd's blocked or ignored signals. */
static pid_t spawn_holder(const char *name, const char *slice_unit)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
    setsid();  /* a signal to sbxd's process group does not end the scope */
    char unit[256], slice[300];
    snprintf(unit, sizeof unit, "--unit=%s.scope", name);
    snprintf(slice, sizeof slice, "--slice=%s", slice_unit);
    execlp("systemd-run", "systemd-run", "--scope", "--quiet", "--collect", unit, slice,
           "--property=Delegate=yes", "--description=sbx units (sbxd)", "--",
           "sleep", "infinity", (char *)NULL);
    fprintf(stderr, "sbxd: units_scope: cannot run systemd-run: %s\n", strerror(errno));
    _exit(127);
}

static void nap_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts the holder and waits until its scope holds it. */
static int make_scope(const char *name, const char *dir, const char *slice, char *why, size_t len)
{
    const char *slice_unit = *slice ? strrchr(slice, '/') + 1 : "-.slice";
    pid_t pid = spawn_holder(name, slice_unit);
    if (pid < 0)
        return fail(why, len, -errno, "units_scope: fork: %s", strerror(errno));
    char procs[4200], text[4096], mine[32];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    snprintf(mine, sizeof mine, "%d", (int)pid);
    for (long waited = 0; waited < MADE_WITHIN_MS; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return fail(why, len, -ECHILD, "units_scope: systemd-run could not make %s.scope "
                        "(its messages are above)", name);
        if (procfs_read(procs, text, sizeof text) > 0) {
            for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
                if (strcmp(l, mine) == 0)
                    return 0;
        }
        nap_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return fail(why, len, -ETIMEDOUT, "units_scope: %s.scope was not made within 10 s", name);
}

int scope_ensure(const char *name, char *base, size_t len, char *why, size_t whylen)
{
    struct statfs fs;
    if (!name_valid(name))
        return fail(why, whylen, -EINVAL, "units_scope: '%s' is not a unit name (letters, "
                    "digits, ':', '_', '.', '-')", name);
    if (statfs(MOUNT, &fs) < 0 || (unsigned long)fs.f_type != CGROUP2_MAGIC)
        return fail(why, whylen, -ENODEV, "units_scope: needs the unified cgroup v2 "
                    "hierarchy at " MOUNT " (systemd in its unified mode)");
    char self[2048], slice[2048], dir[4200];
    if (own_cgroup(self, sizeof self) < 0)
        return fail(why, whylen, -EIO, "units_scope: cannot read sbxd's v2 cgroup");
    own_slice(self, slice, sizeof slice);
    if (snprintf(base, len, "%s/%s.scope", slice, name) >= (int)len)
        return fail(why, whylen, -ENAMETOOLONG, "units_scope: path too long");
    snprintf(dir, sizeof dir, MOUNT "%s", base);
    int r = 0;
    /* A scope left by a crashed sbxd is taken over; one emptied a moment
     * ago may still be there until systemd collects it: retry. */
    for (int attempt = 0; attempt < 5 && !populated(dir); attempt++) {
        if ((r = make_scope(name, dir, slice, why, whylen)) == 0)
            break;
        nap_ms(200);
    }
    if (r < 0)
        return r;
    if ((r = hold_in_leaf(dir)) < 0)
        return fail(why, whylen, r, "units_scope: cannot move the holder into its leaf: %s",
                    strerror(-r));
    return 0;
}

void scope_release(const char *base)
{
    char path[4200], text[4096];
    snprintf(path, sizeof path, MOUNT "%s/" SCOPE_HOLD_LEAF "/cgroup.procs", base);
    if (procfs_read(path, text, sizeof text) <= 0)
        return;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
        kill((pid_t)atoi(l), SIGTERM);
}
