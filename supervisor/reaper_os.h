/* Between the reaper's table (reaper.c) and the platform file that learns
 * of exits (reaper_posix.c, reaper_win.c). Internal to the reaper. */
#ifndef SBX_REAPER_OS_H
#define SBX_REAPER_OS_H

#include "reaper.h"

struct watch {
    pid_t pid;            /* 0 = free, -1 = deleted */
    reaper_exit_cb cb;
    void *data;
    void *handle;         /* Windows: the process handle waited on */
};

/* The platform's part of watching and unwatching one process. */
int reaper__open(struct watch *w);
void reaper__release(struct watch *w);
/* The table's part: a watched process ended (unwatches it, calls its
 * callback); every sweeper; every live watch; freeing it all. */
void reaper__exited(pid_t pid, int status, const struct rusage *ru);
void reaper__sweep(void);
void reaper__each(void (*fn)(struct watch *w));
void reaper__free(void);

#endif
