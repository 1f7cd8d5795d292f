/* sbxd's descriptor budget. A running unit keeps a few descriptors (its
 * log pipe, a share of the OOM watch; sbx's init posts its status on one
 * board for all: libsbx's status_board.c), so the number
 * of units one sbxd can hold is bounded by RLIMIT_NOFILE. sbxd raises its
 * limit as far as it may, says once at load when the units will not fit,
 * and names the limit in every start failure that ran out of
 * descriptors, so that the cause is never a silent cascade of failures. */
#ifndef SBX_FDLIMIT_H
#define SBX_FDLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "unit.h"

/* Descriptors of sbxd's own (loop, signals, control socket and clients,
 * HTTP, and what one spawn opens for a moment) that do not grow with the
 * number of units. */
#define FDLIMIT_FIXED 64

/* Soft limit to the hard one; as root with CAP_SYS_RESOURCE, both up to
 * fs.nr_open (as service managers do). Returns the soft limit now in
 * force (UINT64_MAX: none, or not a POSIX system). */
uint64_t fdlimit_raise(void);
/* The soft limit in force (UINT64_MAX: none). */
uint64_t fdlimit_current(void);
/* The descriptors one running unit of d keeps between events, besides its
 * OOM watch. */
unsigned fdlimit_unit_cost(const unit_def *d);
/* The OOM watches of n boxes: one each, or one per SBX_EVENT_FD_SHARE
 * when the backend shares them (cgroup v1). */
uint64_t fdlimit_oom_cost(size_t n, bool shared);
/* When units needing `need` descriptors (FDLIMIT_FIXED included) exceed
 * `limit`, writes one line saying so with the numbers and what to do, and
 * returns true. */
bool fdlimit_warn(FILE *out, size_t nunits, uint64_t need, uint64_t limit);
/* A failure with errno err (positive): when it is EMFILE or ENFILE,
 * appends what the limit is to msg (a NUL-terminated string in a buffer
 * of len bytes). */
void fdlimit_explain(int err, char *msg, size_t len);

#endif
