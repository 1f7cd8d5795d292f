#!/bin/sh
# The integration, escape and chaos suites inside the pure cgroup v2 VM, as
# one ctest test (the chaos test with 10 rounds of SIGKILL there, not 30:
# TCG is 20-50x slower).
# usage: run-suite.sh BUILD_DIR
build=$1
if [ "$(id -u)" != 0 ] || [ ! -r /dev/null ]; then
	echo "skipped: the VM run needs root"
	[ "${SBX_MUST_WORK:-0}" = 1 ] && exit 1
	exit 77
fi
# The escape suite adds several minutes under TCG to the integration suite.
exec "$(dirname "$0")/vm-run.sh" --cache "${SBX_VM_CACHE:-$build/vm-cache}" --cwd "$build" \
	--timeout 2400 \
	--env SBX_MUST_WORK="${SBX_MUST_WORK:-0}" --env SBX_IN_VM=1 \
	--env SBX_CHAOS_ROUNDS="${SBX_CHAOS_ROUNDS:-10}" \
	--env ASAN_OPTIONS="${ASAN_OPTIONS:-}" --env UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
	-- ctest -L '^(integration|escape|chaos)$' --output-on-failure
