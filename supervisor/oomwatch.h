/* OOM watches on the loop, one uv_poll per distinct descriptor: libsbx may
 * hand the same event fd to many boxes (SBX_EVENT_FD_SHARE), and libuv
 * polls a descriptor once. When one fires, every member watching it is
 * called back, and each looks at its own counter. */
#ifndef SBX_OOMWATCH_H
#define SBX_OOMWATCH_H

#include <uv.h>

typedef void (*oomwatch_cb)(void *member);

typedef struct oomwatch {
    uv_loop_t *loop;
    oomwatch_cb cb;
    struct oomwatch_fd **by_fd;   /* indexed by descriptor; NULL: not polled */
    size_t nfd;
} oomwatch;

void oomwatch_init(oomwatch *w, uv_loop_t *loop, oomwatch_cb cb);
/* member watches fd (polled from now on if it was not). 0 or -errno. */
int oomwatch_add(oomwatch *w, int fd, void *member);
/* member stops watching fd; the poll ends with its last member (before the
 * descriptor may be closed). */
void oomwatch_remove(oomwatch *w, int fd, void *member);
/* After every member has gone. */
void oomwatch_free(oomwatch *w);

#endif
