#!/bin/bash
# Fuzzes the control protocol's parser, the unit loader and the HTTP
# listener's request path with libFuzzer:
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR [SECONDS]
#
# Configures BUILD_DIR as a separate clang build with SBX_FUZZ=ON (ASan and
# UBSan; never an ordinary build directory), builds the fuzz targets and
# runs each of them for SECONDS (default 60; each target gets the full
# time, so two targets take twice that). Each run starts from a scratch
# copy of the committed seeds, BUILD_DIR/fuzz/TARGET/corpus (kept between
# runs, so later runs go on from what earlier ones found); the committed
# corpus in tests/fuzz/corpus/ is never written. Prints per target the
# executions, executions per second, coverage (libFuzzer's cov: edges,
# ft: features) and corpus size.
#
# Exit status: 0 when no target crashed; 1 when one did (the input is kept
# as BUILD_DIR/fuzz/TARGET/crash-*, printed with the command to replay it);
# 2 on a usage or set-up error. A crash input becomes a regression test by
# copying it to tests/fuzz/corpus/TARGET/ (ctest runs fuzz.corpus.TARGET).
#
# Run as root on Debian: installs clang, libclang-rt-14-dev (libFuzzer and
# the sanitizer runtimes) and the build dependencies when they are missing.
# Environment: FUZZ_TARGETS="fuzz_protocol" to run only some targets.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_protocol fuzz_unit fuzz_http}"

usage() {
	sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
(($# >= 1 && $# <= 2)) || usage
build=$1
seconds=${2:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
case $(cd "$(dirname "$build")" 2>/dev/null && pwd)/$(basename "$build") in
"$root/build" | "$root/build-asan")
	echo "run-fuzz: $build is an ordinary build directory; use another" >&2
	exit 2
	;;
esac

packages=(clang libclang-rt-14-dev cmake make pkg-config libuv1-dev libinih-dev libmicrohttpd-dev
          libseccomp-dev libjansson-dev libcmocka-dev)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "run-fuzz: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 2
	fi
	echo "run-fuzz: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

echo "== building the fuzz targets in $build (clang, ASan+UBSan, libFuzzer) =="
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBX_FUZZ=ON >/dev/null
# Only the targets: the rest of the tree is not built with clang here.
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >/dev/null
build=$(cd "$build" && pwd)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
	work=$build/fuzz/$t
	mkdir -p "$work/corpus"
	rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
	cp "$root/tests/fuzz/corpus/$t"/* "$work/corpus/"
	echo "== $t: ${seconds}s from $(find "$work/corpus" -type f | wc -l) inputs =="
	rc=0
	(cd "$work" && "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -dict="$root/tests/fuzz/$t.dict" \
		-artifact_prefix="$work/" corpus) >"$work/fuzz.log" 2>&1 || rc=$?
	last=$(grep -E '^#[0-9]+.*cov: ' "$work/fuzz.log" | tail -n 1 || true)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
	new=$(sed -n 's/^stat::new_units_added: *//p' "$work/fuzz.log")
	echo "$t: ${runs:-?} runs, ${speed:-?}/s, $(grep -o 'cov: [0-9]*' <<<"$last" || echo 'cov: ?')" \
		"$(grep -o 'ft: [0-9]*' <<<"$last" || echo 'ft: ?')" \
		"$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" || echo 'corp: ?'), ${new:-?} new inputs"
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/fuzz.log" | head -n 1)
	if ((rc != 0)) || [[ -n $crash ]]; then
		status=1
		echo "run-fuzz: $t FAILED (exit $rc); log: $work/fuzz.log" >&2
		grep -E '^==[0-9]+==ERROR|SUMMARY:|check failed' "$work/fuzz.log" | head -n 5 >&2 || true
		if [[ -n $crash ]]; then
			echo "run-fuzz: crashing input: $crash" >&2
			echo "run-fuzz: replay: $build/tests/fuzz/$t $crash" >&2
		fi
	fi
done
exit $status
