/* OOM watches shared per descriptor: see oomwatch.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oomwatch.h"

typedef struct oomwatch_fd {
    uv_poll_t poll;
    oomwatch *w;
    int fd;
    void **members;
    size_t n, cap;
} oomwatch_fd;

void oomwatch_init(oomwatch *w, uv_loop_t *loop, oomwatch_cb cb, oomwatch_read read)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->cb = cb;
    w->read = read;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    oomwatch_fd *f = p->data;
    (void)status;
    (void)events;
    /* Named members only, when the events name them: 10,000 boxes share
     * v2's fd, and a walk of all on each event would be O(N^2). */
    if (f->w->read && f->w->read(f->w, f->fd) >= 0)
        return;
    /* A member's callback drains the fd; none of them leaves the set. */
    for (size_t i = 0; i < f->n; i++)
        f->w->cb(f->members[i]);
}

static int grow_index(oomwatch *w, int fd)
{
    if ((size_t)fd < w->nfd)
        return 0;
    size_t n = w->nfd ? w->nfd : 64;
    while (n <= (size_t)fd)
        n *= 2;
    oomwatch_fd **v = realloc(w->by_fd, n * sizeof *v);
    if (!v)
        return -ENOMEM;
    memset(v + w->nfd, 0, (n - w->nfd) * sizeof *v);
    w->by_fd = v;
    w->nfd = n;
    return 0;
}

static oomwatch_fd *open_watch(oomwatch *w, int fd)
{
    oomwatch_fd *f = calloc(1, sizeof *f);
    if (!f || uv_poll_init(w->loop, &f->poll, fd) < 0) {
        free(f);
        return NULL;
    }
    f->w = w;
    f->fd = fd;
    f->poll.data = f;
    uv_poll_start(&f->poll, UV_READABLE, on_readable);
    return w->by_fd[fd] = f;
}

int oomwatch_add(oomwatch *w, int fd, void *member)
{
    if (fd < 0 || grow_index(w, fd) < 0)
        return -ENOMEM;
    oomwatch_fd *f = w->by_fd[fd] ? w->by_fd[fd] : open_watch(w, fd);
    if (!f)
        return -ENOMEM;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        void **v = realloc(f->members, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        f->members = v;
        f->cap = cap;
    }
    f->members[f->n++] = member;
    return 0;
}

static void free_watch(uv_handle_t *h)
{
    oomwatch_fd *f = h->data;
    free(f->members);
    free(f);
}

void oomwatch_remove(oomwatch *w, int fd, void *member)
{
    oomwatch_fd *f = fd >= 0 && (size_t)fd < w->nfd ? w->by_fd[fd] : NULL;
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        if (f->members[i] == member) {
            f->members[i] = f->members[--f->n];
            break;
        }
    if (f->n)
        return;
    /* Stops polling now (epoll forgets the fd): the caller may close it. */
    w->by_fd[fd] = NULL;
    uv_close((uv_handle_t *)&f->poll, free_watch);
}

void oomwatch_free(oomwatch *w)
{
    free(w->by_fd);
    w->by_fd = NULL;
    w->nfd = 0;
}
