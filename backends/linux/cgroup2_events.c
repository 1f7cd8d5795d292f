/* One inotify instance for every v2 box's memory.events (see
 * cgroup2_events.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroup2_events.h"

void sbx__v2_events_init(sbx__v2_events *e)
{
    *e = (sbx__v2_events){.fd = -1};
}

/* The index of the first watch not below wd. */
static size_t lower_bound(const sbx__v2_events *e, int wd)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->v[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Drops removed watches once they are half the table: removal stays O(1)
 * amortized when 10,000 boxes go at a shutdown. */
static void compact(sbx__v2_events *e)
{
    if (e->dead * 2 < e->n)
        return;
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->v[i].box)
            e->v[k++] = e->v[i];
    e->n = k;
    e->dead = 0;
}

static int insert(sbx__v2_events *e, int wd, sbx_box *box)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        struct sbx__v2_watch *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    size_t i = lower_bound(e, wd);  /* the end, but for a reused number */
    if (i < e->n && e->v[i].wd == wd) {  /* the same file watched again */
        if (!e->v[i].box)
            e->dead--;
        e->v[i].box = box;
        return 0;
    }
    for (size_t k = e->n; k > i; k--)
        e->v[k] = e->v[k - 1];
    e->v[i] = (struct sbx__v2_watch){wd, box};
    e->n++;
    return 0;
}

int sbx__v2_events_add(sbx__v2_events *e, sbx_box *box, const char *path)
{
    if (e->fd < 0 && (e->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
        return -1;
    int wd = inotify_add_watch(e->fd, path, IN_MODIFY);
    if (wd < 0)
        return -1;  /* no memory controller: no OOM events to watch */
    if (insert(e, wd, box) < 0) {
        inotify_rm_watch(e->fd, wd);
        return -1;
    }
    return wd;
}

void sbx__v2_events_remove(sbx__v2_events *e, int wd)
{
    size_t i = lower_bound(e, wd);
    if (i == e->n || e->v[i].wd != wd || !e->v[i].box)
        return;
    inotify_rm_watch(e->fd, wd);  /* EINVAL once the cgroup is gone: fine */
    e->v[i].box = NULL;
    e->dead++;
    compact(e);
}

int sbx__v2_events_read(sbx__v2_events *e, void (*fn)(sbx_box *box, void *data), void *data)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int named = 0;
    ssize_t len;
    while (e->fd >= 0 && (len = read(e->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof *ev + ev->len;
            size_t i = lower_bound(e, ev->wd);
            /* IN_IGNORED (the cgroup went) and removed boxes: nothing */
            if ((ev->mask & IN_MODIFY) && i < e->n && e->v[i].wd == ev->wd && e->v[i].box) {
                fn(e->v[i].box, data);
                named++;
            }
        }
    }
    return named;
}

void sbx__v2_events_close(sbx__v2_events *e)
{
    if (e->fd >= 0)
        close(e->fd);
    free(e->v);
    sbx__v2_events_init(e);
}
