/* sbxd's own process_* figures from /proc (Linux): the parser takes the
 * files' texts, so the tests need no /proc of a known state. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields of /proc/PID/stat, counted from 1 as proc(5) does. */
enum { STAT_UTIME = 14, STAT_STIME = 15, STAT_STARTTIME = 22, STAT_VSIZE = 23, STAT_RSS = 24 };

/* Field `want` of a stat line; the command name (field 2) may hold
 * spaces and parentheses, so counting starts after its last ')'. */
static int stat_field(const char *stat, int want, unsigned long long *v)
{
    const char *p = strrchr(stat, ')');
    if (!p)
        return -EINVAL;
    p++;
    for (int field = 3; field <= want; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -EINVAL;
        if (field == want) {
            char *end;
            errno = 0;
            *v = strtoull(p, &end, 10);
            return end == p || errno ? -EINVAL : 0;
        }
        p += strcspn(p, " ");
    }
    return -EINVAL;
}

static int boot_time(const char *proc_stat, unsigned long long *btime)
{
    for (const char *line = proc_stat; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "btime ", 6) == 0) {
            char *end;
            *btime = strtoull(line + 6, &end, 10);
            return end == line + 6 ? -EINVAL : 0;
        }
    }
    return -EINVAL;
}

int metrics_process_parse(metrics_process *p, const char *self_stat, const char *proc_stat,
                          long ticks_per_second, long page_size)
{
    unsigned long long utime, stime, start, vsize, rss, btime;
    if (ticks_per_second <= 0 || page_size <= 0 || stat_field(self_stat, STAT_UTIME, &utime) ||
        stat_field(self_stat, STAT_STIME, &stime) || stat_field(self_stat, STAT_STARTTIME, &start) ||
        stat_field(self_stat, STAT_VSIZE, &vsize) || stat_field(self_stat, STAT_RSS, &rss) ||
        boot_time(proc_stat, &btime))
        return -EINVAL;
    p->cpu_seconds = (double)(utime + stime) / (double)ticks_per_second;
    p->start_time_seconds = (double)btime + (double)start / (double)ticks_per_second;
    p->virtual_bytes = vsize;
    p->resident_bytes = rss * (unsigned long long)page_size;
    return 0;
}

/* The whole of a small /proc file, NUL-terminated, into buf. */
static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    int err = n < 0 ? -errno : 0;
    close(fd);
    buf[len] = '\0';
    return err;
}

static uint64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    uint64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n ? n - 1 : 0;  /* not the directory's own fd */
}

int metrics_process_read(metrics_process *p)
{
    char self_stat[1024];
    char *proc_stat = malloc(65536);  /* many CPUs make /proc/stat long; btime comes late */
    if (!proc_stat)
        return -ENOMEM;
    int err = read_small("/proc/self/stat", self_stat, sizeof self_stat);
    if (!err)
        err = read_small("/proc/stat", proc_stat, 65536);
    if (!err)
        err = metrics_process_parse(p, self_stat, proc_stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
    free(proc_stat);
    if (err)
        return err;
    p->open_fds = count_fds();
    struct rlimit rl;
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
    return 0;
}
