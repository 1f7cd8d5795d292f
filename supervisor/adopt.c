/* Re-adoption: see adopt.h. */
#include <errno.h>
#include <signal.h>
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

/* After the main process has ended, the box is polled on a short backoff
 * until it is empty: no cgroup event says so on v1, and the processes just
 * killed (sbx's init among them, when the watched pid is its program) are
 * not ours to reap. Never while idle: only between an end and its report. */
#define DRAIN_FIRST_MS 5
#define DRAIN_MAX_MS 100
#define DRAIN_REKILL_MS 1000

struct adopt_watch {
    uv_poll_t poll;
    uv_timer_t drain;
    int pidfd;
    int handles;                /* open libuv handles: freed at 0 */
    sbx_box *box;
    uint64_t wait_ms, waited_ms;
    adopt_exit_cb cb;
    void *data;
    bool fired;
};

static void on_closed(uv_handle_t *h)
{
    adopt_watch *w = h->data;
    if (--w->handles > 0)
        return;
    close(w->pidfd);
    free(w);
}

static void report_end(adopt_watch *w)
{
    uv_timer_stop(&w->drain);
    w->cb(w, w->data);
}

static void on_drain(uv_timer_t *t)
{
    adopt_watch *w = t->data;
    if (sbx_box_is_empty(w->box) != 0) {  /* empty, or cannot tell: go on */
        report_end(w);
        return;
    }
    w->waited_ms += w->wait_ms;
    if (w->waited_ms >= DRAIN_REKILL_MS) {  /* one that forked as it was killed */
        w->waited_ms = 0;
        sbx_box_kill(w->box, SIGKILL, NULL);
    }
    w->wait_ms = w->wait_ms * 2 < DRAIN_MAX_MS ? w->wait_ms * 2 : DRAIN_MAX_MS;
    uv_timer_start(&w->drain, on_drain, w->wait_ms, 0);
}

/* A pidfd becomes readable once its process has ended. What is left in the
 * box is killed, as at the end of any run; the end is reported once the
 * box is empty, so the box can be removed at once. */
static void on_pidfd(uv_poll_t *p, int status, int events)
{
    adopt_watch *w = p->data;
    (void)status;
    (void)events;
    if (w->fired)
        return;
    w->fired = true;
    uv_poll_stop(&w->poll);
    if (!w->box) {
        report_end(w);
        return;
    }
    sbx_box_kill(w->box, SIGKILL, NULL);
    w->wait_ms = DRAIN_FIRST_MS;
    on_drain(&w->drain);
}

int adopt_watch_start(uv_loop_t *loop, pid_t pid, uint64_t pid_start, sbx_box *box,
                      adopt_exit_cb cb, void *data, adopt_watch **out)
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
    uv_timer_init(loop, &w->drain);
    w->handles = 2;
    w->pidfd = fd;
    w->box = box;
    w->cb = cb;
    w->data = data;
    w->poll.data = w;
    w->drain.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
    *out = w;
    return 0;
}

void adopt_watch_close(adopt_watch *w)
{
    if (!w)
        return;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    uv_close((uv_handle_t *)&w->drain, on_closed);
}
