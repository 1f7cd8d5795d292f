/* The process-wide reaper: it learns of every exited child and hands each
 * status to whoever watches that pid. On POSIX, one uv_signal_t on SIGCHLD
 * whose callback reaps with waitpid(-1, WNOHANG); the process is made a
 * child subreaper, so orphans of sandboxed trees come here too and are
 * reaped (and as PID 1, every orphan of the system). On Windows, the
 * watched process handles, looked at whenever the job backend's thread
 * says something happened. Never mix with uv_spawn. */
#ifndef SBX_REAPER_H
#define SBX_REAPER_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "sbx.h"

#ifdef _WIN32
struct rusage {
    struct timeval ru_utime, ru_stime;
    long ru_maxrss;  /* kB */
};
#else
#include <sys/resource.h>
#endif

typedef void (*reaper_exit_cb)(void *data, pid_t pid, int status,
                               const struct rusage *ru);
/* Called after every batch of reaps: for those waiting for a box to empty. */
typedef void (*reaper_sweep_cb)(void *data);

int reaper_init(uv_loop_t *loop);
/* Lets be's events wake the reaper (Windows; nothing to do elsewhere);
 * NULL detaches, which must come before the backend is closed. */
void reaper_attach(sbx_backend *be);
void reaper_close(void);
int reaper_watch(pid_t pid, reaper_exit_cb cb, void *data);
void reaper_unwatch(pid_t pid);
int reaper_add_sweep(reaper_sweep_cb cb, void *data);
void reaper_remove_sweep(reaper_sweep_cb cb, void *data);
/* POSIX: cb sees every child before it is reaped, a zombie whose /proc
 * entry can still be read (sbx-run checks its program did not leave the
 * box). NULL: none. */
typedef void (*reaper_inspect_cb)(void *data, pid_t pid);
void reaper_set_inspect(reaper_inspect_cb cb, void *data);
/* Reaps now (also called by the signal handler). */
void reaper_reap(void);
/* What a status handed to a reaper_exit_cb says: true and the exit code
 * when the program exited; false and the signal when a signal ended it;
 * false, no signal and the NTSTATUS as code when it crashed (Windows). */
bool reaper_exited(int status, int *code, int *sig);

#endif
