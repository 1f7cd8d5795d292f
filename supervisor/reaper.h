/* The process-wide reaper: one uv_signal_t on SIGCHLD whose callback reaps
 * every exited child with waitpid(-1, WNOHANG) and hands each status to
 * whoever watches that pid. The process is made a child subreaper, so
 * orphans of sandboxed trees come here too and are reaped (and as PID 1,
 * every orphan of the system). Never mix with uv_spawn. */
#ifndef SBX_REAPER_H
#define SBX_REAPER_H

#include <sys/resource.h>
#include <sys/types.h>
#include <uv.h>

typedef void (*reaper_exit_cb)(void *data, pid_t pid, int status,
                               const struct rusage *ru);
/* Called after every batch of reaps: for those waiting for a box to empty. */
typedef void (*reaper_sweep_cb)(void *data);

int reaper_init(uv_loop_t *loop);
void reaper_close(void);
int reaper_watch(pid_t pid, reaper_exit_cb cb, void *data);
void reaper_unwatch(pid_t pid);
int reaper_add_sweep(reaper_sweep_cb cb, void *data);
void reaper_remove_sweep(reaper_sweep_cb cb, void *data);
/* Reaps now (also called by the signal handler). */
void reaper_reap(void);

#endif
