/* sbxd's state directory: see state.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "procfs.h"

int state_format(const state_record *r, char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     "sbx-state %d\npid %d\npid_start %" PRIu64 "\ncgroup %s\n"
                     "def_hash %016" PRIx64 "\nstarted_ms %" PRId64 "\nrestarts %" PRIu32
                     "\nfailures %" PRIu32 "\nend\n",
                     STATE_VERSION, (int)r->pid, r->pid_start, r->cgroup, r->def_hash,
                     r->started_ms, r->restarts, r->failures);
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static int bad(char *why, size_t len, int line, const char *what)
{
    if (line > 0)
        snprintf(why, len, "line %d: %s", line, what);
    else
        snprintf(why, len, "%s", what);
    return -EINVAL;
}

/* One "key value" line into r; returns the bit of the key it set, 0 when
 * the value is bad, -1 for an unknown key (ignored: a newer field). */
static int parse_line(const char *key, const char *val, state_record *r)
{
    char *end;
    errno = 0;
    if (strcmp(key, "cgroup") == 0) {
        if (!*val || strlen(val) >= sizeof r->cgroup)
            return 0;
        snprintf(r->cgroup, sizeof r->cgroup, "%s", val);
        return 1 << 0;
    }
    if (strcmp(key, "def_hash") == 0) {
        r->def_hash = strtoull(val, &end, 16);
        return *val && !*end && !errno ? 1 << 1 : 0;
    }
    if (strcmp(key, "started_ms") == 0) {
        r->started_ms = strtoll(val, &end, 10);
        return *val && !*end && !errno ? 1 << 2 : 0;
    }
    unsigned long long v = strtoull(val, &end, 10);
    if (!*val || *end || errno || *val == '-')
        return strcmp(key, "pid") && strcmp(key, "pid_start") && strcmp(key, "restarts") &&
               strcmp(key, "failures") ? -1 : 0;
    if (strcmp(key, "pid") == 0) {
        r->pid = (pid_t)v;
        return v > 1 && v < (1u << 22) ? 1 << 3 : 0;
    }
    if (strcmp(key, "pid_start") == 0) {
        r->pid_start = v;
        return 1 << 4;
    }
    if (strcmp(key, "restarts") == 0 || strcmp(key, "failures") == 0) {
        if (v > UINT32_MAX)
            return 0;
        *(key[0] == 'r' ? &r->restarts : &r->failures) = (uint32_t)v;
        return key[0] == 'r' ? 1 << 5 : 1 << 6;
    }
    return -1;
}

#define ALL_KEYS 0x7f

int state_parse(const char *text, size_t len, state_record *r, char *why, size_t whylen)
{
    memset(r, 0, sizeof *r);
    char line[640];
    unsigned seen = 0;
    bool ended = false;
    int lineno = 0;
    for (size_t at = 0; at < len && !ended;) {
        const char *nl = memchr(text + at, '\n', len - at);
        if (!nl)
            return bad(why, whylen, 0, "truncated: the last line is cut");
        size_t n = (size_t)(nl - (text + at));
        lineno++;
        if (n >= sizeof line || memchr(text + at, '\0', n))
            return bad(why, whylen, lineno, "not a state record line");
        memcpy(line, text + at, n);
        line[n] = '\0';
        at += n + 1;
        if (lineno == 1) {
            int v = 0;
            char tail;
            if (sscanf(line, "sbx-state %d%c", &v, &tail) != 1)
                return bad(why, whylen, 1, "not an sbx state record");
            if (v != STATE_VERSION) {
                snprintf(why, whylen, "version %d, not %d", v, STATE_VERSION);
                return -EINVAL;
            }
            continue;
        }
        if (strcmp(line, "end") == 0) {
            ended = true;
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp)
            return bad(why, whylen, lineno, "expected 'key value'");
        *sp = '\0';
        int bit = parse_line(line, sp + 1, r);
        if (bit == 0) {
            char what[96];
            snprintf(what, sizeof what, "bad %.40s", line);
            return bad(why, whylen, lineno, what);
        }
        if (bit > 0)
            seen |= (unsigned)bit;
    }
    if (lineno == 0)
        return bad(why, whylen, 0, "empty");
    if (!ended || seen != ALL_KEYS)
        return bad(why, whylen, 0, "truncated: fields missing");
    return 0;
}

int state_parse_stat(const char *text, uint64_t *start)
{
    unsigned long long v;
    if (procfs_stat_field(text, 22, &v) < 0)  /* starttime */
        return -EINVAL;
    *start = v;
    return 0;
}

/* Reads /proc/PID/stat into buf; returns 0, -ESRCH or -errno. */
static int read_stat(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int n = procfs_read(path, buf, len);
    return n == -ENOENT || n == 0 ? -ESRCH : n < 0 ? n : 0;
}

int state_pid_start(pid_t pid, uint64_t *start)
{
    char buf[1024];
    int r = read_stat(pid, buf, sizeof buf);
    return r < 0 ? r : state_parse_stat(buf, start);
}

bool state_pid_matches(pid_t pid, uint64_t start)
{
    char buf[1024];
    uint64_t now;
    if (pid <= 1 || read_stat(pid, buf, sizeof buf) < 0 || state_parse_stat(buf, &now) < 0)
        return false;
    const char *p = strrchr(buf, ')');
    return now == start && !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* The parent's pid from /proc/PID/stat text (") S PPID ..."), or -1. */
static pid_t stat_ppid(const char *buf)
{
    const char *p = strrchr(buf, ')');
    if (!p || !p[1] || !p[2] || !p[3])
        return -1;
    return (pid_t)strtol(p + 4, NULL, 10);
}

pid_t state_pid_parent(pid_t pid)
{
    char buf[1024];
    return pid <= 0 || read_stat(pid, buf, sizeof buf) < 0 ? -1 : stat_ppid(buf);
}

bool state_pid_is_child(pid_t pid, uint64_t start)
{
    char buf[1024];
    uint64_t now;
    if (pid <= 1 || read_stat(pid, buf, sizeof buf) < 0 || state_parse_stat(buf, &now) < 0)
        return false;
    return now == start && stat_ppid(buf) == getpid();
}

uint64_t state_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* mkdir -p of an absolute or relative path. */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* The lock: a POSIX record lock (fcntl F_SETLK), which goes with the
 * process however it dies and, unlike flock, is not inherited by fork:
 * units forked just before a crash, not yet past exec, do not hold it for
 * the dead sbxd. F_GETLK names the holder; the pid written in the file is
 * for people only. */
static int kept_lock_fd = -1;

void state_keep_lock(int fd)
{
    kept_lock_fd = fd;
}

static int take_lock(state_dir *sd, char *why, size_t whylen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", sd->path);
    /* Across a re-exec the lock is ours already, on the fd kept open: a
     * second fd on the file, once closed, would release it. */
    sd->lock_fd = kept_lock_fd >= 0 ? kept_lock_fd : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    kept_lock_fd = -1;
    if (sd->lock_fd < 0) {
        int e = errno;
        snprintf(why, whylen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(sd->lock_fd, F_SETLK, &fl) < 0) {
        int e = errno;
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        long pid = fcntl(sd->lock_fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? who.l_pid : 0;
        if (e == EAGAIN || e == EACCES)
            snprintf(why, whylen, "another sbxd (pid %ld) owns %s (lock %s)", pid, sd->path, path);
        else
            snprintf(why, whylen, "lock %s: %s", path, strerror(e));
        return e == EACCES ? -EWOULDBLOCK : -e;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(sd->lock_fd, 0) < 0 || pwrite(sd->lock_fd, pid, (size_t)n, 0) != n) {
        /* only what people read in the file suffers */
    }
    return 0;
}

int state_open(state_dir *sd, const char *path, char *why, size_t whylen)
{
    memset(sd, 0, sizeof *sd);
    sd->units_fd = sd->lock_fd = sd->output_fd = -1;
    if (!(sd->path = strdup(path)))
        return -ENOMEM;
    char units[4200];
    snprintf(units, sizeof units, "%s/units", path);
    int r = make_dirs(units);
    if (r < 0) {
        snprintf(why, whylen, "mkdir %s: %s", units, strerror(-r));
        state_close(sd);
        return r;
    }
    if ((r = take_lock(sd, why, whylen)) < 0) {
        state_close(sd);
        return r;
    }
    sd->units_fd = open(units, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char output[4200];
    snprintf(output, sizeof output, "%s/output", path);
    if (sd->units_fd >= 0 && (mkdir(output, 0700) == 0 || errno == EEXIST))
        sd->output_fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sd->units_fd < 0 || sd->output_fd < 0) {
        r = -errno;
        snprintf(why, whylen, "open %s: %s", sd->units_fd < 0 ? units : output, strerror(errno));
        state_close(sd);
    }
    return r;
}

void state_close(state_dir *sd)
{
    if (sd->units_fd >= 0)
        close(sd->units_fd);
    if (sd->output_fd >= 0)
        close(sd->output_fd);
    if (sd->lock_fd >= 0)
        close(sd->lock_fd);  /* releases the lock */
    free(sd->path);
    memset(sd, 0, sizeof *sd);
    sd->units_fd = sd->lock_fd = sd->output_fd = -1;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}


/* A stream over the directory dirfd holds, on a copy of it (closedir
 * closes its fd); NULL when there is none. */
static DIR *walk_dir(int dirfd)
{
    int fd = dirfd >= 0 ? dup(dirfd) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    return d;
}

/* No fsync: the directory lives in /run (memory) and what it records,
 * running processes, does not outlive the machine either. */
int state_write(state_dir *sd, const char *name, const state_record *r)
{
    char text[1024], tmp[UINT8_MAX + 8];
    int n = state_format(r, text, sizeof text);
    if (n < 0)
        return n;
    if (sd->units_fd < 0)
        return -EBADF;
    snprintf(tmp, sizeof tmp, ".%s.tmp", name);
    int fd = openat(sd->units_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int e = write_all(fd, text, (size_t)n);
    if (close(fd) < 0 && !e)
        e = -errno;
    if (!e && renameat(sd->units_fd, tmp, sd->units_fd, name) < 0)
        e = -errno;
    if (e)
        unlinkat(sd->units_fd, tmp, 0);
    return e;
}

int state_read(state_dir *sd, const char *name, state_record *r, char *why, size_t whylen)
{
    char text[2048];
    if (sd->units_fd < 0)
        return -EBADF;
    int fd = openat(sd->units_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, text, sizeof text);
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(why, whylen, "read: %s", strerror(e));
        return -e;
    }
    if ((size_t)n == sizeof text)
        return bad(why, whylen, 0, "too long");
    return state_parse(text, (size_t)n, r, why, whylen);
}

void state_remove(state_dir *sd, const char *name)
{
    if (sd->units_fd >= 0)
        unlinkat(sd->units_fd, name, 0);
}

void state_prune(state_dir *sd, bool (*keep)(const char *name, void *data), void *data)
{
    DIR *d = walk_dir(sd->units_fd);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_type == DT_REG && (e->d_name[0] == '.' || !keep(e->d_name, data)))
            unlinkat(sd->units_fd, e->d_name, 0);
    closedir(d);
}

/* The lock file goes last, while still held: a second sbxd that opened it
 * just before would lock a removed file (a narrow window, at exit only). */
int state_fifo(state_dir *sd, const char *name, bool nonblock)
{
    int flags = nonblock ? O_NONBLOCK : 0;
    if (sd->output_fd < 0)
        return -EBADF;
    if (mkfifoat(sd->output_fd, name, 0600) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(sd->output_fd, name, flags | O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

void state_fifo_remove(state_dir *sd, const char *name)
{
    if (sd->output_fd >= 0)
        unlinkat(sd->output_fd, name, 0);
}

/* Every FIFO: at a clean exit every unit has stopped. */
static void remove_fifos(state_dir *sd)
{
    DIR *d = walk_dir(sd->output_fd);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            unlinkat(sd->output_fd, e->d_name, 0);
    closedir(d);
}

void state_close_clean(state_dir *sd)
{
    char path[4200];
    remove_fifos(sd);
    snprintf(path, sizeof path, "%s/output", sd->path);
    rmdir(path);
    snprintf(path, sizeof path, "%s/units", sd->path);
    if (rmdir(path) == 0) {
        snprintf(path, sizeof path, "%s/lock", sd->path);
        unlink(path);
        rmdir(sd->path);
    }
    state_close(sd);
}
