/* One run of a program in a box, to its end, on the libuv loop: the piece
 * sbx-run and sbxd share. It starts the program, enforces the wall-clock
 * timeout, stops the whole tree (stop signal, grace, then SIGKILL of the
 * box), waits until the box is empty, attributes OOM kills, and reports one
 * result.
 *
 *   running --exit--> draining --empty--> done
 *      |                  ^
 *      +--timeout/stop--> stopping --grace--> (SIGKILL box) --exit--+
 */
#ifndef SBX_RUN_H
#define SBX_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "reaper.h"
#include "sbx.h"

typedef enum run_reason {
    RUN_EXITED,
    RUN_SIGNALED,
    RUN_TIMEOUT,
    RUN_MEMORY,
    RUN_START_FAILED,
    RUN_CRASHED,            /* Windows: ended by an exception (NTSTATUS) */
    RUN_ESCAPED,            /* the program changed its limits or left its box */
    RUN_NOT_READY,          /* ended by the supervisor: not ready in time */
    RUN_WATCHDOG,           /* ended by the supervisor: no WATCHDOG=1 in time */
    RUN_UNHEALTHY,          /* ended by the supervisor: its health probe failed */
    RUN_LOST,               /* adopted: it ended while not our child, so how
                               is unknown (exit_code -1, shown as null) */
} run_reason;

const char *run_reason_name(run_reason r);

typedef struct run_result {
    run_reason reason;
    int exit_code;          /* when exited (Windows: or crashed, the
                               NTSTATUS), else -1 */
    int signal;             /* when killed by a signal, else 0 */
    bool stopped;           /* ended because it was asked to stop */
    uint64_t wall_ms;
    sbx_stats stats;        /* user/sys/peak memory/pids/oom for this run */
    sbx_stage failed_stage; /* start-failed only */
    int failed_errno;
    char error[480];        /* start-failed or cleanup trouble, else "" */
} run_result;

typedef struct run run;

typedef struct run_options {
    uint64_t timeout_ms;    /* 0 = none */
    uint64_t kill_grace_ms; /* stop signal to SIGKILL */
    int stop_signal;        /* SIGTERM by default */
    bool wait_leftovers;    /* when the main process exits, wait for the rest
                               of the tree instead of killing it */
    bool async_spawn;       /* do not wait for exec: a failure before it is
                               learnt when the child is reaped */
    /* An async spawn's exec report has been read (read: the child exec'd
     * or failed, and behind sbx's init the program's pid is known), or
     * given up (the run ended or was closed first): called once, never
     * from run_start; may be NULL. */
    void (*on_reported)(struct run *r, bool read);
} run_options;

typedef void (*run_done_cb)(run *r, const run_result *res);

typedef enum run_state {
    RUN_IDLE,
    RUN_RUNNING,
    RUN_STOPPING,
    RUN_DRAINING,
    RUN_DONE,
} run_state;

struct run {
    uv_loop_t *loop;
    sbx_box *box;
    run_options opt;
    run_done_cb on_done;
    void *data;
    run_state state;
    pid_t pid;
    sbx_process proc;
    uint64_t started_ns;
    bool timed_out, killed, sweeping;
    int kill_signal;        /* the last signal sent while the program ran */
    int destroy_tries;
    int status;
    struct rusage ru;
    run_result res;
    uv_timer_t *timer;      /* its own allocation: closing outlives the run */
    uv_poll_t *report_poll; /* async spawn: the exec report, until it came */
};

void run_options_init(run_options *o);
/* The environment a child inherits: ours (in UTF-8 on Windows too). */
char **run_inherited_env(void);
/* A child's environment: base (NULL: empty) with add (NAME=VALUE) on top,
 * as one NULL-terminated array pointing into both (free() only it). */
char **run_env(char *const *base, char *const *add, size_t nadd);
/* Sets cmd's uid/gid (and set_ids) from a user and a group given by name
 * or number (NULL: unchanged). Returns 0, or -ENOENT with why filled. */
int run_resolve_ids(const char *user, const char *group, sbx_command *cmd,
                    char *why, size_t len);
/* Starts cmd in box. Returns 0 and later calls on_done exactly once, or
 * returns a negative errno when the start failed, with res filled (no
 * callback). The box is the caller's, and stays so: run only empties it. */
int run_start(run *r, uv_loop_t *loop, sbx_box *box, const sbx_command *cmd,
              const run_options *opt, run_done_cb on_done, run_result *res);
/* Takes over proc->pid, a child of this process started (ran_ms ago) by
 * the sbxd it was before a re-exec, as a run in box: its end is reported
 * as run_start's would be. proc: the pid, and behind sbx's init its
 * program's pid and its slot on the status board kept across the exec
 * (0: the init's own exit status stands in); report_fd -1. Returns 0 or
 * -ENOMEM. */
int run_resume(run *r, uv_loop_t *loop, sbx_box *box, const sbx_process *proc,
               uint64_t ran_ms, const run_options *opt, run_done_cb on_done);
/* Stops the run: stop signal to every process, SIGKILL after the grace. */
void run_stop(run *r);
/* The program's own pid (not sbx's init's, with a PID namespace); the
 * spawned pid while the init has not forked it yet. */
pid_t run_program_pid(run *r);
/* True while an async spawn behind sbx's init has not reported yet and the
 * program's pid is not known (run_program_pid gives the init's). */
bool run_pid_pending(run *r);
/* Sends sig to every process of the run: its box, and its main process,
 * which an async spawn may not have put in the box yet. */
int run_signal(run *r, int sig, sbx_error *err);
/* Closes the run's handles; call after on_done. The run struct may be
 * reused at once. */
void run_close(run *r);

#endif
