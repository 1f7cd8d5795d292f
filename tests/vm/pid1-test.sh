#!/bin/bash
# sbxd as PID 1 of the cgroup v2 VM: it must reap an orphan that a unit
# double-forked, stop its units on SIGTERM and power the machine off.
# usage: pid1-test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) != 0 ]]; then
	echo "skipped: the VM run needs root"
	[[ ${SBX_MUST_WORK:-0} == 1 ]] && exit 1
	exit 77
fi
units=$(mktemp -d "$build/pid1-units.XXXXXX")
trap 'rm -rf "$units"' EXIT
# The orphan: a shell starts a short sleep in the background and exits; the
# sleep is reparented to PID 1 and becomes a zombie there when it ends.
# Both units share the VM's PID namespace (no sbx's init of their own):
# the orphan must be reparented to sbxd; the checker, privileged, must see
# every process and signal the real PID 1.
cat >"$units/orphan.ini" <<'UNIT'
[exec]
command = sh -c "sh -c 'sleep 1 &'; exec sleep 1000"
[sandbox]
pid_namespace = no
UNIT
# The checker: after the orphan has died, no zombie may be left; then it
# asks PID 1 to shut down.
cat >"$units/check.ini" <<'UNIT'
[exec]
command = sh -c "sleep 4; z=$(grep -l '^[0-9]* ([^)]*) Z' /proc/[0-9]*/stat 2>/dev/null | wc -l); echo SBX-PID1-CHECK zombies=$z; kill -TERM 1; exec sleep 1000"
stdout = inherit
[restart]
policy = no
[sandbox]
privileged = yes
UNIT
out=$("$here/vm-run.sh" --cache "${SBX_VM_CACHE:-$build/vm-cache}" --cwd "$build" --pid1 \
	--timeout 300 -- "$build/supervisor/sbxd" --units "$units" 2>&1) || {
	echo "$out"; echo "FAIL: the VM did not power off cleanly"; exit 1; }
echo "$out"
grep -q '^SBX-PID1-CHECK zombies=0' <<<"$out" || { echo "FAIL: zombies left"; exit 1; }
grep -q 'sbxd: stopped' <<<"$out" || { echo "FAIL: sbxd did not stop cleanly"; exit 1; }
grep -q 'orphan: inactive (stopped)' <<<"$out" || { echo "FAIL: orphan unit not stopped"; exit 1; }
echo "PASS: sbxd as PID 1 reaped the orphan and powered off"
