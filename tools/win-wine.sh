#!/bin/bash
# Runs a Windows program under wine, headless, in a wine prefix of its own:
#
#   tools/win-wine.sh [--prefix WINEPREFIX] PROGRAM.exe [ARGS...]
#
# The prefix comes from --prefix, else $SBX_WINEPREFIX, else $WINEPREFIX; it
# is created (wineboot --init) on first use. The toolchain file
# cmake/mingw-w64.cmake sets this script as CMAKE_CROSSCOMPILING_EMULATOR,
# so ctest runs the .exe tests through it. The exit status is the program's
# (wine passes on the low 8 bits of the Windows exit code).
set -euo pipefail

die() { echo "win-wine: $*" >&2; exit 127; }

prefix=${SBX_WINEPREFIX:-${WINEPREFIX:-}}
if [[ ${1:-} == --prefix ]]; then
	(($# >= 2)) || die "--prefix needs a directory"
	prefix=$2
	shift 2
fi
(($# >= 1)) || die "usage: $0 [--prefix WINEPREFIX] PROGRAM [ARGS...]"
[[ -n $prefix ]] || die "no wine prefix: pass --prefix DIR or set SBX_WINEPREFIX"
command -v wine >/dev/null || die "wine not found: apt-get install wine wine64"

mkdir -p "$prefix"
export WINEPREFIX
WINEPREFIX=$(cd "$prefix" && pwd)
export WINEARCH=win64
# No debug chatter (it also hides Debian's "wine32 is missing" hint), and no
# dialogs offering to download Mono and Gecko, which nothing here needs.
export WINEDEBUG=${SBX_WINEDEBUG:--all}
export WINEDLLOVERRIDES="mscoree,mshtml=${WINEDLLOVERRIDES:+;$WINEDLLOVERRIDES}"
# Wine turns our UTF-8 arguments and environment into Windows' UTF-16 by
# the Unix locale: make it UTF-8 whatever the caller has.
export LC_ALL=C.UTF-8
# Console programs need no X server; without DISPLAY wine does not try one.
unset DISPLAY WAYLAND_DISPLAY

# Under a lock, since ctest -j starts several of us at once:
# - first use: populate the prefix (the stamp, since wineboot takes seconds
#   even when done);
# - a wineserver kept alive between runs cuts wine's start from ~0.5 s to
#   ~0.05 s. It lingers SBX_WINESERVER_LINGER seconds (default 300) after the
#   last program exits; stop it sooner with `WINEPREFIX=DIR wineserver -k`
#   (killing the wineserver process instead orphans wine's services). The
#   first program of a server session starts wine's services (services.exe,
#   winedevice.exe, rpcss.exe...), which keep that program's stderr open as
#   long as the server lives: a caller reading our output through a pipe
#   (ctest, $(...)) would wait out the linger. So a throwaway program with
#   its output on /dev/null starts them.
# Nothing started here may inherit the lock's descriptor (9>&-).
exec 9>"$WINEPREFIX/.sbx-lock"
flock 9
if [[ ! -f $WINEPREFIX/.sbx-ready ]]; then
	wineboot --init </dev/null >/dev/null 2>&1 9>&- || die "wineboot --init failed in $WINEPREFIX"
	wineserver -w 9>&-
	touch "$WINEPREFIX/.sbx-ready"
fi
# Exit status 2: a server is already running.
if wineserver -p"${SBX_WINESERVER_LINGER:-300}" </dev/null >/dev/null 2>&1 9>&-; then
	wine cmd /c exit </dev/null >/dev/null 2>&1 9>&- || true
fi
exec 9>&-

exec wine "$@"
