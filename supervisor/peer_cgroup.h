/* Whether a control peer runs inside one of sbxd's units. A unit that
 * reached the control socket (its path hidden from units, but a unit
 * outliving an sbxd restart sees the new socket, and a privileged unit
 * sees the host's files) must not raise its own limits or start others,
 * whatever its uid: such a peer is refused. Decided from the peer's
 * /proc/PID/cgroup: inside when, in any hierarchy, its cgroup is the units'
 * root (sbxd's cgroup_root, made below sbxd's own cgroup) or below it. */
#ifndef SBX_PEER_CGROUP_H
#define SBX_PEER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* peer and own: the text of /proc/PID/cgroup of the peer and of sbxd;
 * root: the units' cgroup root, relative to sbxd's own cgroup ("sbxd").
 * On cgroup v2 sbxd may sit in a leaf "sbx-supervisor" of the cgroup it
 * was started in: the root is then that cgroup's child. */
bool peer_cgroup_in_units(const char *peer, const char *own, const char *root);

/* The same for a live process: 1 inside (or its cgroup unreadable: a peer
 * gone or hidden is refused), 0 outside. base: NULL, or the v2 cgroup the
 * root is below instead of sbxd's own (a systemd scope, scope.h). */
int peer_cgroup_check(pid_t pid, const char *base, const char *root);

#endif
