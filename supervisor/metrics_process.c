/* sbxd's own process_* figures from /proc (Linux): the parser takes the
 * files' texts, so the tests need no /proc of a known state. */
#include "metrics.h"
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields of /proc/PID/stat, counted from 1 as proc(5) does. */
enum { STAT_UTIME = 14, STAT_STIME = 15, STAT_STARTTIME = 22, STAT_VSIZE = 23, STAT_RSS = 24 };

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
    if (ticks_per_second <= 0 || page_size <= 0 || procfs_stat_field(self_stat, STAT_UTIME, &utime) ||
        procfs_stat_field(self_stat, STAT_STIME, &stime) || procfs_stat_field(self_stat, STAT_STARTTIME, &start) ||
        procfs_stat_field(self_stat, STAT_VSIZE, &vsize) || procfs_stat_field(self_stat, STAT_RSS, &rss) ||
        boot_time(proc_stat, &btime))
        return -EINVAL;
    p->cpu_seconds = (double)(utime + stime) / (double)ticks_per_second;
    p->start_time_seconds = (double)btime + (double)start / (double)ticks_per_second;
    p->virtual_bytes = vsize;
    p->resident_bytes = rss * (unsigned long long)page_size;
    return 0;
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
    int err = procfs_read("/proc/self/stat", self_stat, sizeof self_stat);
    if (err >= 0)
        err = procfs_read("/proc/stat", proc_stat, 65536);
    if (err >= 0)
        err = metrics_process_parse(p, self_stat, proc_stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
    free(proc_stat);
    if (err)
        return err;
    p->open_fds = count_fds();
    struct rlimit rl;
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
    return 0;
}
