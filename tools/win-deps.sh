#!/bin/bash
# Cross-builds the Windows port's dependencies (libuv, inih, cmocka, jansson)
# as static mingw-w64 libraries from Debian's own source packages:
#
#   tools/win-deps.sh PREFIX      e.g. tools/win-deps.sh build-win/deps
#
# PREFIX gets include/, lib/ and lib/pkgconfig/{libuv,inih,cmocka,jansson}.pc;
# the sources and build trees go beside it, in PREFIX-src/. A stamp per
# dependency in PREFIX/.stamps makes a second run a no-op; delete PREFIX to
# rebuild (the downloads in PREFIX-src/ are kept), PREFIX-src/ to re-fetch.
# Needs root (apt-get) the first time only.
set -euo pipefail
shopt -s inherit_errexit # errors inside $(...) stop the script too

# Bump when a build recipe below changes, so old stamps no longer count.
rev=1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
toolchain=$root/cmake/mingw-w64.cmake
jobs=$(nproc 2>/dev/null || echo 2)
host=x86_64-w64-mingw32

die() { echo "win-deps: $*" >&2; exit 1; }

(($# == 1)) || die "usage: $0 PREFIX"
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
src=$prefix-src
stamps=$prefix/.stamps
mkdir -p "$src" "$stamps"
trap '(($? == 0)) || echo "win-deps: FAILED; logs in $src/*/" >&2' EXIT

done_already() { [[ -f $stamps/$1 && $(<"$stamps/$1") == "$rev" ]]; }

need_root() {
	[[ $(id -u) == 0 ]] || die "$1 needs root: run this script as root once"
}

# The cross compiler, wine and the build tools, installed when missing.
ensure_tools() {
	local missing=() p
	for p in gcc-mingw-w64-x86-64 wine wine64 dpkg-dev cmake ninja-build pkg-config; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	need_root "installing ${missing[*]}"
	echo "win-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
		die "could not install ${missing[*]}"
}

# apt-get source needs deb-src entries; a stock Debian image has only binary
# ones. Adds a copy of the Debian entries with the type changed, then updates.
ensure_deb_src() {
	local d=/etc/apt/sources.list.d
	if grep -qsE '^[[:space:]]*Types:.*deb-src' "$d"/*.sources ||
	   grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list "$d"/*.list; then
		return 0
	fi
	need_root "adding deb-src entries to apt"
	if [[ -f $d/debian.sources ]]; then
		sed -E 's/^([[:space:]]*Types:).*/\1 deb-src/' "$d/debian.sources" >"$d/sbx-deb-src.sources"
	elif grep -qsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
		sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list >"$d/sbx-deb-src.list"
	else
		die "no Debian apt sources found to derive deb-src entries from"
	fi
	echo "win-deps: added deb-src entries ($d/sbx-deb-src.*); apt-get update" >&2
	apt-get update -qq || die "apt-get update failed"
}

# fetch NAME SRCPKG: unpacks Debian's source package (Debian's patches
# applied) into $src/NAME/debian/ once; prints the tree's path. Where the
# configured release's source files cannot be downloaded (this workplace's
# mirror lacks libinih_55.orig.tar.gz), takes the package from
# $fallback_suite instead.
fetch() {
	local dir=$src/$1/debian log=$src/$1/apt-get.log
	if ! compgen -G "$dir/*/" >/dev/null; then
		need_root "apt-get source $2"
		ensure_deb_src
		rm -rf "$dir" && mkdir -p "$dir"
		# As root apt warns that the download is unsandboxed; harmless.
		if ! (cd "$dir" && apt-get source -qq "$2" >"$log" 2>&1); then
			rm -rf "$dir" && mkdir -p "$dir"
			fetch_fallback "$2" "$dir" "$log" || die "apt-get source $2 failed: see $log"
		fi
		compgen -G "$dir/*/" >/dev/null || die "apt-get source $2 unpacked nothing in $dir"
	fi
	local trees=("$dir"/*/)
	echo "${trees[0]%/}"
}

fallback_suite=${SBX_WIN_DEPS_FALLBACK_SUITE:-trixie}

# fetch_fallback SRCPKG DIR LOG: apt-get source from $fallback_suite, with a
# private list of sources and indexes so the machine's apt setup is untouched.
fetch_fallback() {
	local apt=$src/.apt d=/etc/apt/sources.list.d list
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	if [[ -f $d/debian.sources ]]; then
		list=$apt/fallback.sources # the first stanza: the main archive
		awk -v s="$fallback_suite" '/^[[:space:]]*$/ {if (n) exit; next} {n++}
			/^Types:/ {print "Types: deb-src"; next}
			/^Suites:/ {print "Suites: " s; next} {print}' "$d/debian.sources" >"$list"
	else
		list=$apt/fallback.list
		sed -nE "0,/^[[:space:]]*deb[[:space:]]/ s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/deb-src \1\2 $fallback_suite main/p" \
			/etc/apt/sources.list >"$list"
	fi
	local opts=(-o "Dir::Etc::sourcelist=$list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
	echo "win-deps: $1: not downloadable from the configured release; trying $fallback_suite" >&2
	apt-get "${opts[@]}" update -qq >>"$3" 2>&1 &&
		(cd "$2" && apt-get "${opts[@]}" source -qq "$1" >>"$3" 2>&1)
}

# Debian's version of the unpacked source TREE.
version() { dpkg-parsechangelog -l "$1/debian/changelog" -S Version; }

# cmake_build NAME TREE [CMAKE ARGS...]: configures TREE with the toolchain
# in $src/NAME/build, quietly; the log is kept for when it fails.
cmake_build() {
	local name=$1 tree=$2 build=$src/$1/build
	shift 2
	rm -rf "$build"
	cmake -S "$tree" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
		-DSBX_WIN_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX="$prefix" "$@" >"$src/$name/build.log" 2>&1 ||
		die "$name: cmake configure failed: see $src/$name/build.log"
}

# run NAME CMD...: runs a build step with its output in NAME's log.
run() {
	local name=$1
	shift
	"$@" >>"$src/$name/build.log" 2>&1 || die "$name: '$*' failed: see $src/$name/build.log"
}

# pc NAME VERSION DESCRIPTION LIBS: writes PREFIX/lib/pkgconfig/NAME.pc. The
# Windows system libraries go in Libs, not Libs.private: the archives are
# static-only, and CMake's IMPORTED_TARGET reads Libs alone.
pc() {
	cat >"$prefix/lib/pkgconfig/$1.pc" <<-EOF
	prefix=$prefix
	libdir=\${prefix}/lib
	includedir=\${prefix}/include

	Name: $1
	Description: $3 (static, mingw-w64)
	Version: $2
	Libs: -L\${libdir} $4
	Cflags: -I\${includedir}
	EOF
}

build_libuv() {
	local tree
	tree=$(fetch libuv libuv1)
	cmake_build libuv "$tree" -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
	run libuv cmake --build "$src/libuv/build" -j "$jobs" --target uv_a
	cp -r "$tree/include/." "$prefix/include/"
	cp "$src/libuv/build/libuv_a.a" "$prefix/lib/libuv.a"
	# uv_libraries for WIN32 in libuv's CMakeLists.txt (1.44).
	pc libuv "${tree##*-}" "multi-platform support library with a focus on asynchronous I/O" \
		"-luv -lpsapi -luser32 -ladvapi32 -liphlpapi -luserenv -lws2_32"
	echo "libuv $(version "$tree")"
}

# inih is built with meson upstream; it is one file, so no build system.
build_inih() {
	local tree build=$src/inih/build
	tree=$(fetch inih libinih)
	rm -rf "$build" && mkdir -p "$build"
	run inih $host-gcc -O2 -g -Wall -c "$tree/ini.c" -o "$build/ini.o"
	run inih $host-ar rcs "$build/libinih.a" "$build/ini.o"
	cp "$tree/ini.h" "$prefix/include/"
	cp "$build/libinih.a" "$prefix/lib/"
	pc inih "${tree##*-}" "simple .INI file parser" "-linih"
	echo "inih $(version "$tree")"
}

build_cmocka() {
	local tree
	tree=$(fetch cmocka cmocka)
	cmake_build cmocka "$tree" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
	run cmocka cmake --build "$src/cmocka/build" -j "$jobs" --target cmocka-static
	cp "$tree/include/cmocka.h" "$tree/include/cmocka_pbc.h" "$prefix/include/"
	cp "$src/cmocka/build/src/libcmocka-static.a" "$prefix/lib/libcmocka.a"
	pc cmocka "${tree##*-}" "The cmocka unit testing library" "-lcmocka"
	echo "cmocka $(version "$tree")"
}

# Jansson builds only a static library by default and installs its own .pc.
build_jansson() {
	local tree
	tree=$(fetch jansson jansson)
	cmake_build jansson "$tree" -DJANSSON_BUILD_DOCS=OFF -DJANSSON_WITHOUT_TESTS=ON \
		-DJANSSON_EXAMPLES=OFF
	run jansson cmake --build "$src/jansson/build" -j "$jobs" --target install
	echo "jansson $(version "$tree")"
}

ensure_tools
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
for dep in libuv inih cmocka jansson; do
	done_already "$dep" && continue
	mkdir -p "$src/$dep"
	start=$SECONDS
	what=$("build_$dep")
	echo "$rev" >"$stamps/$dep"
	echo "win-deps: built $what in $((SECONDS - start))s"
done
