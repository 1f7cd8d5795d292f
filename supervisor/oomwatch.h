/* OOM watches on the loop, one uv_poll per distinct descriptor: libsbx
 * hands the same event fd to many boxes (v2: one inotify instance for all;
 * v1: an eventfd per SBX_EVENT_FD_SHARE boxes), and libuv polls a
 * descriptor once. When one fires, `read` is asked first: it calls back
 * the members the events name (v2) and says how many, or -1 when it cannot
 * say (v1), and then every member watching the fd is called back, and
 * each looks at its own counter. */
#ifndef SBX_OOMWATCH_H
#define SBX_OOMWATCH_H

#include <uv.h>

typedef void (*oomwatch_cb)(void *member);
typedef struct oomwatch oomwatch;
typedef int (*oomwatch_read)(oomwatch *w, int fd);

struct oomwatch {
    uv_loop_t *loop;
    oomwatch_cb cb;
    oomwatch_read read;           /* NULL: every member, always */
    struct oomwatch_fd **by_fd;   /* indexed by descriptor; NULL: not polled */
    size_t nfd;
};

void oomwatch_init(oomwatch *w, uv_loop_t *loop, oomwatch_cb cb, oomwatch_read read);
/* member watches fd (polled from now on if it was not). 0 or -errno. */
int oomwatch_add(oomwatch *w, int fd, void *member);
/* member stops watching fd; the poll ends with its last member (before the
 * descriptor may be closed). */
void oomwatch_remove(oomwatch *w, int fd, void *member);
/* After every member has gone. */
void oomwatch_free(oomwatch *w);

#endif
