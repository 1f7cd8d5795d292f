/* Re-adoption: at sbxd's start, before anything is started, the runs an
 * earlier sbxd left behind (it crashed, was killed, or re-executed) are
 * found again from the state directory (state.h) and the cgroup tree.
 *
 * adopt_judge decides, purely, from a unit's record and what the system
 * says about the record's pid: take the run over, or call it lost. An
 * adopted process is not sbxd's child, so SIGCHLD never comes: its end is
 * watched with a pidfd on the loop (adopt_watch), and its exit status
 * cannot be known (the run ends with reason `lost`). */
#ifndef SBX_ADOPT_H
#define SBX_ADOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sbx.h"

#include "state.h"

typedef enum adopt_verdict {
    ADOPT_NOTHING,      /* no record: the unit was not running */
    ADOPT_TAKE,         /* record and pid agree: take the run over */
    ADOPT_TAKE_CHANGED, /* the same, but its definition changed since: take
                           it over, then restart it as a reload would */
    ADOPT_LOST,         /* it ran, but its process is gone (or another
                           now has its pid): ended while sbxd was down */
    ADOPT_BAD_RECORD,   /* the record cannot be read: ignored (the cgroup
                           scan ends what it left) */
} adopt_verdict;

const char *adopt_verdict_name(adopt_verdict v);

/* read_result: what state_read returned. pid_alive: the record's pid runs
 * and started at the record's pid_start. in_box: that pid is inside the
 * unit's box. def_hash: of the definition loaded now. */
adopt_verdict adopt_judge(const state_record *r, int read_result, bool pid_alive,
                          bool in_box, uint64_t def_hash);

typedef struct adopt_watch adopt_watch;
typedef void (*adopt_exit_cb)(adopt_watch *w, void *data);

/* Watches pid (which must have started at pid_start: checked again once
 * the pidfd is held, so a reused pid is never watched) until it ends;
 * then kills what is left in box (NULL: none) and calls cb once, on the
 * loop, when box is empty: as a run's end reaped by sbxd, the box can be
 * removed at once (an adopted init or orphan still exiting would make its
 * rmdir fail with EBUSY). Returns 0, -ESRCH when it is gone already,
 * -ENOSYS without pidfds, or -errno. */
int adopt_watch_start(uv_loop_t *loop, pid_t pid, uint64_t pid_start, sbx_box *box,
                      adopt_exit_cb cb, void *data, adopt_watch **out);
/* Stops watching and frees w (on the loop's next turn). */
void adopt_watch_close(adopt_watch *w);

#endif
