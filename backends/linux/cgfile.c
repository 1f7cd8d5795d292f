/* Small helpers for cgroup files: whole-buffer reads and writes, flat-keyed
 * values, mkdir below a base, signalling every listed process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

int sbx__path(char *buf, size_t len, const char *dir, const char *file)
{
    int n = snprintf(buf, len, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sbx__write_file(const char *dir, const char *file, const char *text,
                    sbx_error *err)
{
    char path[PATH_MAX];
    if (sbx__path(path, sizeof path, dir, file) < 0)
        return sbx_error_set(err, -ENAMETOOLONG, "%s/%s: path too long", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return sbx_error_set(err, -errno, "open %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    close(fd);
    if (n < 0)
        return sbx_error_set(err, -e, "write '%s' to %s: %s", text, path, strerror(e));
    if ((size_t)n != len)
        return sbx_error_set(err, -EIO, "write '%s' to %s: short write", text, path);
    return 0;
}

ssize_t sbx__read_file(const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATH_MAX];
    if (sbx__path(path, sizeof path, dir, file) < 0)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                got = 0;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

int sbx__keyed_u64(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *p = text; *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p + klen + 1, &end, 10);
            if (errno || end == p + klen + 1)
                return -EINVAL;
            *out = v;
            return 0;
        }
        p += strcspn(p, "\n");
        if (*p == '\n')
            p++;
    }
    return -ENOENT;
}

int sbx__read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char buf[4096];
    ssize_t n = sbx__read_file(dir, file, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    if (key)
        return sbx__keyed_u64(buf, key, out);
    if (strncmp(buf, "max", 3) == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf)
        return -EINVAL;
    *out = v;
    return 0;
}

/* The head of rel below dirfd: one openat, one read (NUL-terminated). */
static int read_head_at(int dirfd, const char *rel, char *buf, size_t len)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = read(fd, buf, len - 1);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EINVAL;
    buf[n] = '\0';
    return 0;
}

int sbx__read_keyed_at(int dirfd, const char *rel, const char *key, uint64_t *out)
{
    char buf[128];
    int r = read_head_at(dirfd, rel, buf, sizeof buf);
    return r < 0 ? r : sbx__keyed_u64(buf, key, out);
}

int sbx__read_u64_at(int dirfd, const char *rel, uint64_t *out)
{
    char buf[64];
    int r = read_head_at(dirfd, rel, buf, sizeof buf);
    if (r < 0)
        return r;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf)
        return -EINVAL;
    *out = v;
    return 0;
}

int sbx__file_exists(const char *dir, const char *file)
{
    char path[PATH_MAX];
    return sbx__path(path, sizeof path, dir, file) == 0 && access(path, F_OK) == 0;
}

int sbx__mkdir_below(const char *base, const char *rel, sbx_error *err)
{
    char path[PATH_MAX];
    if (sbx__path(path, sizeof path, base, rel) < 0)
        return sbx_error_set(err, -ENAMETOOLONG, "%s/%s: path too long", base, rel);
    size_t start = strlen(base) + 1;
    for (char *p = path + start;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return sbx_error_set(err, -errno, "mkdir %s: %s", path, strerror(errno));
        *p = c;
        if (c == '\0')
            return 0;
    }
}

int sbx__signal_procs(const char *dir, int sig)
{
    char path[PATH_MAX];
    if (sbx__path(path, sizeof path, dir, "cgroup.procs") < 0)
        return -ENAMETOOLONG;
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int count = 0;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (pid > 0 && kill((pid_t)pid, sig) == 0)
            count++;
    }
    fclose(f);
    return count;
}

int sbx__rmdir_retry(const char *dir, sbx_error *err)
{
    /* Killed tasks leave the cgroup within microseconds to milliseconds;
     * wait up to ~50 ms here, and let the caller retry after that. */
    for (int i = 0; i < 10; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            break;
        struct timespec ts = {0, (long)(1000000L << (i < 5 ? i : 5)) / 4};
        nanosleep(&ts, NULL);
    }
    return sbx_error_set(err, -errno, "rmdir %s: %s", dir, strerror(errno));
}

bool sbx__host_has_swap(void)
{
    char buf[8192];
    uint64_t kb = 0;
    if (sbx__read_file("/proc", "meminfo", buf, sizeof buf) < 0)
        return true;  /* unknown: assume the worst */
    const char *p = strstr(buf, "SwapTotal:");
    return !p || sscanf(p, "SwapTotal: %" SCNu64, &kb) != 1 || kb > 0;
}

int sbx__verify_u64(const char *dir, const char *file, uint64_t expect, char *what, size_t len)
{
    uint64_t v = 0;
    int r = sbx__read_u64(dir, file, NULL, &v);
    if (r == 0 && v == expect)
        return 0;
    if (r < 0)
        snprintf(what, len, "%s: cannot be read back (%s)", file, strerror(-r));
    else if (v == UINT64_MAX)
        snprintf(what, len, "%s: set to %" PRIu64 ", now max", file, expect);
    else
        snprintf(what, len, "%s: set to %" PRIu64 ", now %" PRIu64, file, expect, v);
    return 1;
}

int sbx__sweep_stale(const char *base, const char *prefix, sbx_stale_fn stale, void *data)
{
    DIR *d = opendir(base);
    if (!d)
        return -errno;
    int removed = 0;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        char dir[PATH_MAX];
        /* Never "." or "..": the base itself, or what holds it. */
        if (e->d_type != DT_DIR || e->d_name[0] == '.' || strncmp(e->d_name, prefix, plen) != 0 ||
            !stale(e->d_name, data) || sbx__path(dir, sizeof dir, base, e->d_name) < 0)
            continue;
        /* Its owner died before it could clean up: end what is left. It
         * may have died between the freeze and the thaw of a kill: thawed
         * first, or the killed could not die (v1 file; v2 kills frozen
         * tasks). */
        sbx__write_file(dir, "freezer.state", "THAWED", NULL);
        sbx__write_file(dir, "cgroup.kill", "1", NULL);  /* v2; absent on v1 */
        for (int i = 0; i < 5 && sbx__signal_procs(dir, SIGKILL) > 0; i++)
            ;
        if (sbx__rmdir_retry(dir, NULL) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
