/* The units' cgroups in a systemd scope of their own (cgroup v2 under
 * systemd): `units_scope = NAME` in sbxd.ini.
 *
 * Why: systemd attaches a service's main process to the service's own
 * cgroup. When sbxd's units live below it, that cgroup has controllers
 * enabled for its children, and cgroup v2 refuses a process in it, so a
 * crashed sbxd whose units were left running (to be re-adopted) cannot be
 * started again (status 219/CGROUP; systemd 254's DelegateSubgroup= is the
 * other way out). A delegated scope beside the service holds the units
 * instead: systemd kills what is left in sbxd.service when sbxd dies, not
 * the scope, and the next sbxd finds the scope and re-adopts its units.
 *
 * The scope is made with systemd-run --scope -p Delegate=yes around a
 * holder process (`sleep infinity`, moved into the leaf sbx-hold so that
 * the scope's own cgroup can enable controllers); it lives as long as the
 * holder. sbxd ends the holder after a clean stop, and systemd then
 * removes the scope. */
#ifndef SBX_SCOPE_H
#define SBX_SCOPE_H

#include <stddef.h>

#define SCOPE_HOLD_LEAF "sbx-hold"

/* Finds NAME.scope in the slice sbxd runs in, or makes it; writes its
 * cgroup path relative to the v2 mount ("/system.slice/NAME.scope") into
 * base. Returns 0, or -errno with the reason in why: -ENODEV when the
 * hierarchy is not unified cgroup v2 (where no scope is needed). */
int scope_ensure(const char *name, char *base, size_t len, char *why, size_t whylen);

/* After a clean stop: ends the holder, so that systemd removes the scope. */
void scope_release(const char *base);

#endif
