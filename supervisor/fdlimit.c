/* sbxd's descriptor budget: see fdlimit.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"

static uint64_t as_u64(rlim_t v)
{
    return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v;
}

/* fs.nr_open: the most a process may be allowed (0: unknown). */
static rlim_t nr_open(void)
{
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");
    unsigned long long v = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return (rlim_t)v;
}

uint64_t fdlimit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return UINT64_MAX;
    rlim_t top = nr_open();
    if (top > rl.rlim_max && rl.rlim_max != RLIM_INFINITY) {
        /* Only with CAP_SYS_RESOURCE: refused (EPERM) without it. */
        struct rlimit up = {top, top};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return as_u64(top);
    }
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return fdlimit_current();
}

uint64_t fdlimit_current(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) < 0 ? UINT64_MAX : as_u64(rl.rlim_cur);
}

unsigned fdlimit_unit_cost(const unit_def *d)
{
    unsigned n = 0;
    if (d->out[0].kind == OUT_LOG || d->out[1].kind == OUT_LOG)
        n++;         /* one pipe for stdout and stderr */
    return n;        /* sbx's init posts its status on the board: no fd */
}

uint64_t fdlimit_oom_cost(size_t n, bool shared)
{
    return shared ? (n + SBX_EVENT_FD_SHARE - 1) / SBX_EVENT_FD_SHARE : n;
}

bool fdlimit_warn(FILE *out, size_t nunits, uint64_t need, uint64_t limit)
{
    if (need <= limit)
        return false;
    fprintf(out, "sbxd: %zu units need about %" PRIu64 " descriptors, the limit is %" PRIu64
            " (RLIMIT_NOFILE): units beyond it will fail to start; raise the hard limit "
            "(ulimit -Hn, LimitNOFILE=) or run fewer units\n", nunits, need, limit);
    fflush(out);
    return true;
}

void fdlimit_explain(int err, char *msg, size_t len)
{
    if (err != EMFILE && err != ENFILE)
        return;
    size_t used = strlen(msg);
    if (used + 1 >= len)
        return;
    if (err == EMFILE)
        snprintf(msg + used, len - used, " (sbxd's descriptor limit RLIMIT_NOFILE is %" PRIu64
                 ": too many units for it)", fdlimit_current());
    else
        snprintf(msg + used, len - used, " (the system's file table is full: fs.file-max)");
}
