/* What the two C floors share (spawn-floor.c, fleet-floor.c): finding our
 * own cgroups from /proc text, small file helpers, clone3 into a cgroup.
 * Header-only, so each floor stays one program built on its own; each
 * defines floor_cleanup(), which die() calls before exiting. */
#ifndef SBX_BENCH_FLOOR_H
#define SBX_BENCH_FLOOR_H

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

extern char **environ;

/* The v1 hierarchies the floors make their cgroups in. */
static const char *const v1_ctrls[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};
#define NV1 (sizeof v1_ctrls / sizeof v1_ctrls[0])

static void floor_cleanup(void);
static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    floor_cleanup();
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The mount point of the v1 hierarchy holding ctrl, or of cgroup2 (NULL). */
static int find_mount(const char *ctrl, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    int found = 0;
    if (!f)
        die("/proc/self/mountinfo: %s", strerror(errno));
    while (!found && fgets(line, sizeof line, f)) {
        char mnt[PATH_MAX], fstype[64], opts[1024];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
            sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
            continue;
        if (!ctrl) {
            found = strcmp(fstype, "cgroup2") == 0;
        } else if (strcmp(fstype, "cgroup") == 0) {
            for (char *tok = strtok(opts, ","); tok && !found; tok = strtok(NULL, ","))
                found = strcmp(tok, ctrl) == 0;
        }
        if (found)
            snprintf(out, len, "%s", mnt);
    }
    fclose(f);
    return found ? 0 : -1;
}

/* Our own cgroup path in the hierarchy listing ctrl (v1), or "0::" (v2). */
static int own_path(const char *ctrl, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096];
    int found = 0;
    if (!f)
        die("/proc/self/cgroup: %s", strerror(errno));
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        const char *list = c1 + 1, *path = c2 + 1;
        if (!ctrl) {
            found = strcmp(line, "0") == 0 && *list == '\0';
        } else {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", list);
            for (char *tok = strtok(buf, ","); tok && !found; tok = strtok(NULL, ","))
                found = strcmp(tok, ctrl) == 0;
        }
        if (found)
            snprintf(out, len, "%s", path);
    }
    fclose(f);
    return found ? 0 : -1;
}

static int own_dir(const char *ctrl, char *out, size_t len)
{
    char mnt[PATH_MAX], rel[PATH_MAX];
    if (find_mount(ctrl, mnt, sizeof mnt) < 0 || own_path(ctrl, rel, sizeof rel) < 0)
        return -1;
    snprintf(out, len, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
    return 0;
}

static void read_line(const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    buf[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static int v2_has_memory(void)
{
    char mnt[PATH_MAX], buf[256];
    if (find_mount(NULL, mnt, sizeof mnt) < 0)
        return 0;
    read_line(mnt, "cgroup.controllers", buf, sizeof buf);
    return has_word(buf, "memory");
}

static void write_file(const char *dir, const char *file, const char *text, int optional)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (optional && errno == ENOENT)
            return;
        die("open %s: %s", path, strerror(errno));
    }
    ssize_t n = write(fd, text, strlen(text));
    if (n != (ssize_t)strlen(text))
        die("write '%s' to %s: %s", text, path, n < 0 ? strerror(errno) : "short write");
    close(fd);
}

/* clone3 with ns_flags, into the cgroup cgroup_fd (v2; -1: none), else
 * clone where clone3 is missing and no cgroup was asked for. */
static pid_t floor_clone(int cgroup_fd, uint64_t ns_flags)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = ns_flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.exit_signal = SIGCHLD;
    args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && errno == ENOSYS && cgroup_fd < 0)
        pid = (pid_t)syscall(SYS_clone, (unsigned long)ns_flags | SIGCHLD, 0, 0, 0, 0);
    return pid;
}

#endif
