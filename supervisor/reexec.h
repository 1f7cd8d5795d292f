/* Live upgrade: sbxd executes its binary again (the file installed now,
 * maybe a new version) in the same process, so every unit stays its
 * child. What must outlive the exec is kept open and named to the new
 * program in the environment variable SBX_REEXEC, which it removes before
 * it starts anything:
 *
 *   control  the control socket's listening fd: a client connecting during
 *            the exec waits in the kernel's backlog, it is never refused
 *   lock     the state directory's lock fd (closing it would release the
 *            lock: another sbxd could take the tree)
 *
 *   board    the status board (sbx_status_board_fd): where each sbx's init
 *            posts its program's wait status
 *   http     the HTTP listener's fd (--http): a scrape during the exec
 *            waits in the backlog too
 *
 * and in SBX_REEXEC_UNITS, per unit: its state and counters (a unit
 * stopped by hand stays stopped, one in its restart backoff starts at
 * once with its counters) and, behind sbx's init, its run's slot on the
 * board.
 *
 * The rest is found again as after a crash (adopt.h): the records in the
 * state directory, the output FIFOs (the units hold them open, so nothing
 * written is lost), the cgroups; a unit that is our child is resumed as a
 * run of ours (its real exit status is reaped). */
#ifndef SBX_REEXEC_H
#define SBX_REEXEC_H

#include <stdbool.h>
#include <stddef.h>

#define REEXEC_ENV "SBX_REEXEC"

#define REEXEC_UNITS_ENV "SBX_REEXEC_UNITS"

typedef struct reexec_fds {
    int control;    /* -1: none */
    int lock;       /* -1: none */
    int board;      /* -1: none */
    int http;       /* -1: none */
    const char *units;  /* "NAME:SLOT:STATE:RESTARTS:FAILURES:PID:RESTART ..." of
                           every unit (manager_exec_handover): SLOT the
                           status board's slot of a run behind sbx's init,
                           else 0 */
} reexec_fds;

/* At start, before anything else reads the environment: keeps argv (the
 * exec repeats it) and NOTIFY_SOCKET (sbxd's own, which notify.c takes out
 * of the environment the units inherit). */
void reexec_init(int argc, char **argv);
/* The fds an earlier self handed over, CLOEXEC again (the status board
 * adopted by libsbx, the runs' slots on it claimed), and SBX_REEXEC gone
 * from the environment. Returns true when this start is a re-exec. A
 * malformed value is ignored with a message on stderr. */
bool reexec_inherited(reexec_fds *out);
/* Parses SBX_REEXEC's value ("control=N lock=N board=N http=N", each
 * optional); pure, for tests.
 * Returns 0 or -1. */
int reexec_parse(const char *text, reexec_fds *out);
/* Executes the binary again: /proc/self/exe's path as it is now (an
 * upgrade replaced the file), else argv[0], with the same argv. Returns
 * only on failure: -errno, with why filled, every fd CLOEXEC again and the
 * environment as it was. */
int reexec_exec(const reexec_fds *fds, char *why, size_t whylen);
/* What the sbxd before the exec knew of a unit. */
typedef struct reexec_unit {
    int state;                  /* its svc_state */
    unsigned restarts, failures;
    int run_pid;                /* the child its run was (sbx's init or the
                                   program), 0: none */
    bool restart;               /* stopping to start again (a restart by hand) */
} reexec_unit;
/* NAME's, or NULL (not handed over, or not a re-exec). */
const reexec_unit *reexec_unit_find(const char *name);
/* The status slot handed over for unit NAME (claimed on the board; the
 * caller's run owns it now), or 0. */
unsigned reexec_unit_slot(const char *name);
/* Forgets the slots no unit took (units no longer loaded). They stay
 * taken on the board: such a run's init may still post there. */
void reexec_close_unclaimed(void);
/* Frees what reexec_init kept. */
void reexec_free(void);

#endif
