#!/bin/bash
# The project's two set-up commands, for a fresh Debian 12 machine as root:
#
#   tools/sbx.sh run    install what is missing, build, start sbxd in the
#                       foreground on the demo units in conf.d/
#   tools/sbx.sh test   install, build (plain, ASan+UBSan, and Windows with
#                       mingw-w64), run the whole suite: unit, host
#                       integration, cgroup v2 VM, Windows under wine
#
# and, for developers and CI:
#   tools/sbx.sh fuzz [SECONDS]  build the libFuzzer targets with clang in
#                       build-fuzz/ and run each for SECONDS (default 60)
#
# Both are idempotent and quick when everything is already there.
# Environment: SBX_MUST_WORK=1 turns every "skipped: machine lacks X" into a
# failure (CI sets it); SBX_NO_ASAN=1 skips the sanitizer pass, SBX_NO_WIN=1
# the Windows one; SBX_FUZZ_SECONDS=N makes `test` fuzz each target for N
# seconds first.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

build_packages=(gcc make cmake pkg-config libuv1-dev libinih-dev libcmocka-dev
                libseccomp-dev libjansson-dev libmicrohttpd-dev)
test_packages=(python3 valgrind qemu-system-x86 busybox-static cpio xz-utils iproute2 procps
               lintian groff-base prometheus chromium tmux)

# Installs the packages that are not installed yet (one apt-get call).
install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		echo "sbx: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "sbx: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
}

# build DIR [CMAKE ARGS...]
build() {
	local dir=$1
	shift
	cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
}

cmd_run() {
	install_missing "${build_packages[@]}"
	build "$root/build"
	# The scratch dir the demo unit conf.d/jail.ini is allowed to write.
	install -d -m 1777 /var/tmp/sbx-jail
	exec "$root/build/supervisor/sbxd" --foreground --units "$root/conf.d" \
		--socket "${SBX_SOCKET:-/run/sbx/sbxd.sock}" "$@"
}

cmd_test() {
	install_missing "${build_packages[@]}" "${test_packages[@]}"
	local status=0
	if [[ ${SBX_FUZZ_SECONDS:-0} != 0 ]]; then
		echo "== fuzzing each target for ${SBX_FUZZ_SECONDS}s =="
		"$root/tests/fuzz/run-fuzz.sh" "$root/build-fuzz" "$SBX_FUZZ_SECONDS" || status=1
	fi
	if [[ ${SBX_NO_ASAN:-0} != 1 ]]; then
		# The host suite; the VM pass runs the plain build (an ASan pass
		# there doubles the slowest part of the run under TCG).
		echo "== unit and host integration tests under ASan+UBSan =="
		build "$root/build-asan" -DSBX_SANITIZE="address;undefined" -DSBX_VM_CACHE="$root/build/vm-cache"
		(cd "$root/build-asan" && SBX_CHAOS_ROUNDS=10 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --output-on-failure -LE vm) || status=1
	fi
	if [[ ${SBX_NO_WIN:-0} != 1 ]]; then
		echo "== the Windows port: cross-built with mingw-w64, tested under wine =="
		if "$root/tools/win-deps.sh" "$root/build-win/deps"; then
			# A build that fails fails this pass, not the passes after it.
			if build "$root/build-win" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64.cmake" \
				-DSBX_WIN_PREFIX="$root/build-win/deps"; then
				(cd "$root/build-win" && ctest --output-on-failure) || status=1
			else
				status=1
			fi
			# The lingering wineserver and wine's services: gone with the run.
			WINEPREFIX="$root/build-win/wine" wineserver -k 2>/dev/null || true
		else
			status=1
		fi
	fi
	echo "== the whole suite =="
	build "$root/build"
	(cd "$root/build" && ctest --output-on-failure) || status=1
	return $status
}

case ${1:-} in
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
fuzz) shift; exec "$root/tests/fuzz/run-fuzz.sh" "$root/build-fuzz" "${1:-60}" ;;
*) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
