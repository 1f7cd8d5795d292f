#!/bin/bash
# sbxd under systemd, for real: the cgroup v2 VM boots Debian's systemd as
# PID 1, the sbx .deb is installed in it, and systemd-check.sh (run there as
# a service) starts, reloads, inspects and stops sbxd.service with the demo
# units. See systemd-guest.sh for what happens before systemd runs.
# usage: systemd-test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
skip() {
	echo "skipped: $*"
	[[ ${SBX_MUST_WORK:-0} == 1 ]] && exit 1
	exit 77
}
[[ $(id -u) == 0 ]] || skip "the VM run needs root"
[[ -x /lib/systemd/systemd ]] || skip "systemd is not installed on this host"

# The package, built as install.package builds it (prefix /usr, no tests).
pkg=$build/pkg
out=$(mktemp -d "$build/systemd-vm.XXXXXX")
trap 'rm -rf "$out"' EXIT
cmake -S "$src" -B "$pkg" -DCMAKE_INSTALL_PREFIX=/usr -DSBX_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBX_VERSION_OVERRIDE= >/dev/null
cmake --build "$pkg" -j "$(nproc)" >/dev/null
(cd "$pkg" && cpack -G DEB -B "$out" >/dev/null)
deb=$(compgen -G "$out/*.deb")
cp -r "$src/conf.d" "$out/units"

status=0
"$here/vm-run.sh" --cache "${SBX_VM_CACHE:-$build/vm-cache}" --cwd "$out" --pid1 \
	--timeout 1200 -- "$here/systemd-guest.sh" "$deb" "$out/units" "$here/systemd-check.sh" \
	>"$out/console" 2>&1 || status=$?
cat "$out/console"
# --pid1: the exit status is the marker's when one came, else 0 for a
# clean power-off: demand the marker.
grep -q '^SBX-VM-RESULT: 0$' "$out/console" || { echo "FAIL: systemd-check.sh did not pass (vm-run: $status)"; exit 1; }
echo "PASS: sbxd.service under systemd"
