/* Re-adoption: see adopt.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "adopt.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

const char *adopt_verdict_name(adopt_verdict v)
{
    static const char *const names[] = {"nothing", "take", "take-changed", "lost", "bad-record"};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

adopt_verdict adopt_judge(const state_record *r, int read_result, bool pid_alive,
                          bool in_box, uint64_t def_hash)
{
    if (read_result == -ENOENT)
        return ADOPT_NOTHING;
    if (read_result < 0)
        return ADOPT_BAD_RECORD;
    if (!pid_alive || !in_box)
        return ADOPT_LOST;
    return r->def_hash == def_hash ? ADOPT_TAKE : ADOPT_TAKE_CHANGED;
}

struct adopt_watch {
    uv_poll_t poll;
    int pidfd;
    adopt_exit_cb cb;
    void *data;
    bool fired;
};

static void on_closed(uv_handle_t *h)
{
    adopt_watch *w = h->data;
    close(w->pidfd);
    free(w);
}

/* A pidfd becomes readable once its process has ended. */
static void on_pidfd(uv_poll_t *p, int status, int events)
{
    adopt_watch *w = p->data;
    (void)status;
    (void)events;
    if (w->fired)
        return;
    w->fired = true;
    uv_poll_stop(&w->poll);
    w->cb(w, w->data);
}

int adopt_watch_start(uv_loop_t *loop, pid_t pid, uint64_t pid_start, adopt_exit_cb cb,
                      void *data, adopt_watch **out)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    /* The pid could have been reused between the check and the open: the
     * process the fd holds is the one that has the start time now. */
    if (!state_pid_matches(pid, pid_start)) {
        close(fd);
        return -ESRCH;
    }
    adopt_watch *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        return -ENOMEM;
    }
    int r = uv_poll_init(loop, &w->poll, fd);
    if (r < 0) {
        close(fd);
        free(w);
        return r;
    }
    w->pidfd = fd;
    w->cb = cb;
    w->data = data;
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
    *out = w;
    return 0;
}

void adopt_watch_close(adopt_watch *w)
{
    if (w)
        uv_close((uv_handle_t *)&w->poll, on_closed);
}
