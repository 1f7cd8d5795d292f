#!/bin/bash
# Run one command as root in a VM with a pure cgroup v2 kernel.
#
#   vm-run.sh --cache DIR [--cwd DIR] [--env NAME=VALUE]... [--timeout SECONDS]
#             [--mem MB] [--pid1] -- COMMAND [ARG...]
#
# Boots Debian's generic kernel under qemu (TCG) with the host's / shared
# read-only over 9p, under a tmpfs overlay: the guest sees every installed
# program and the build tree at their host paths and may write anywhere;
# its writes are lost. The guest mounts cgroup2 (nsdelegate) alone at
# /sys/fs/cgroup, runs COMMAND in --cwd (default: the current directory)
# with stdin from /dev/null and output on the console, which is streamed
# here to stdout.
#
# The guest has its own fresh /proc, /sys, /dev, /tmp and /run: host files
# under /tmp or /run are not visible there (except /tmp when --cwd is below
# it: then /tmp is the host's, through the overlay). --env values are set on top of
# PATH, HOME=/root and TERM=dumb.
#
# With --pid1, COMMAND replaces the guest's init as PID 1 (after the mounts)
# and must power the machine off itself; the exit status is then 0 when it
# did so within --timeout, with COMMAND's output for the caller to judge.
#
# Exit status: COMMAND's exit status in the guest; 124 if no result arrived
# within --timeout seconds (default 900); 125 if the VM could not be set up
# or stopped without a result; 2 on a usage error.
#
# DIR caches the kernel .deb, the unpacked kernel, its vmlinux and the
# initramfs; the first run downloads and builds them (and installs
# qemu-system-x86, busybox-static, cpio and xz-utils when run as root),
# later runs reuse them. The initramfs is rebuilt when initramfs-init.sh
# changes; delete DIR to move to a newer kernel.
#
# Files: initramfs-init.sh (the initramfs's /init), guest-init.sh (PID 1
# after switch_root), both next to this script.

set -euo pipefail
shopt -s extglob

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Modules that the generic kernel has outside the image and that the
# initramfs needs; their dependencies are added in order automatically.
modules=(virtio_pci 9pnet_virtio 9p overlay)

usage() {
	sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
	exit 2
}

die() {
	echo "vm-run: $*" >&2
	exit 125
}

# --- arguments ---------------------------------------------------------------

cache='' cwd=$PWD timeout=900 mem=1536 envs=() pid1=0
while (($#)); do
	case $1 in
	--cache) cache=${2:?}; shift 2 ;;
	--cwd) cwd=${2:?}; shift 2 ;;
	--env) envs+=("${2:?}"); shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--pid1) pid1=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
if (($# == 0)) || [[ -z $cache ]]; then usage; fi
[[ $timeout =~ ^[1-9][0-9]*$ && $mem =~ ^[1-9][0-9]*$ ]] || usage
[[ $cwd == /* ]] || cwd=$PWD/$cwd
for kv in ${envs[@]+"${envs[@]}"}; do
	[[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "vm-run: bad --env '$kv'" >&2; usage; }
done

# --- host packages -----------------------------------------------------------

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
# Only the static busybox can run inside an initramfs without libraries.
[[ $(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) == *" installed" ]] ||
	need+=(busybox-static)
if ((${#need[@]})); then
	((EUID == 0)) || die "missing packages: ${need[*]} (install them, or run as root)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" ||
		{ apt-get update && apt-get install -y --no-install-recommends "${need[@]}"; } ||
		die "cannot install ${need[*]}"
fi

# --- kernel and initramfs, cached in DIR ---------------------------------------

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# Parallel runs (ctest -j) share the cache: one prepares it, the others wait.
exec {lock}>"$cache/.lock"
flock "$lock"

# The unpacked kernel package, in $cache/kernel once complete. Debian's
# package has no modules.dep, hence the dependency walk further down.
if [[ ! -e $cache/kernel/.complete ]]; then
	pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && !n++ { print $2 }'; }
	kpkg=$(pkg)
	if [[ -z $kpkg ]]; then
		apt-get update >&2 || die "apt-get update failed"
		kpkg=$(pkg)
	fi
	[[ -n $kpkg ]] || die "cannot resolve the package linux-image-amd64 depends on"
	if ! compgen -G "$cache/${kpkg}_*.deb" >/dev/null; then
		echo "vm-run: downloading $kpkg" >&2
		(cd "$cache" && apt-get download "$kpkg" >&2) || die "cannot download $kpkg"
	fi
	debs=("$cache/${kpkg}"_*.deb)
	rm -rf "$cache/kernel" "$cache/kernel.tmp"
	dpkg-deb -x "${debs[-1]}" "$cache/kernel.tmp" || die "cannot unpack ${debs[-1]}"
	echo "$kpkg" >"$cache/kernel.tmp/.complete"
	mv "$cache/kernel.tmp" "$cache/kernel"
fi
kernel=$(compgen -G "$cache/kernel/boot/vmlinuz-*" | head -n1) || die "no vmlinuz in $cache/kernel"
kver=${kernel##*/vmlinuz-}

# qemu boots an uncompressed ELF vmlinux through its PVH entry point, which
# skips the BIOS real-mode setup and the in-guest decompression of the
# bzImage: about 3 s of a boot under TCG. The bzImage header (boot protocol
# 2.08+) says where the compressed payload is; on any surprise, boot the
# bzImage itself.
vmlinux=$cache/vmlinux-$kver
if [[ ! -e $vmlinux ]] && grep -qx 'CONFIG_PVH=y' "$cache/kernel/boot/config-$kver"; then
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$kernel")
	payload_offset=$(od -An -tu4 -j $((0x248)) -N4 "$kernel")
	payload_length=$(od -An -tu4 -j $((0x24c)) -N4 "$kernel")
	if dd if="$kernel" iflag=skip_bytes,count_bytes bs=1M status=none \
		skip=$(((setup_sects + 1) * 512 + payload_offset)) count=$((payload_length)) |
		xz -dc --single-stream >"$vmlinux.tmp" 2>/dev/null; then
		mv "$vmlinux.tmp" "$vmlinux"
	else
		rm -f "$vmlinux.tmp"
		echo "vm-run: cannot extract vmlinux from $kernel; booting the bzImage (slower)" >&2
	fi
fi
[[ ! -e $vmlinux ]] || kernel=$vmlinux
moddir=$(compgen -G "$cache/kernel/*lib/modules/$kver" | head -n1) || die "no modules for $kver"

# The initramfs: busybox, the modules (decompressed: busybox insmod may not
# handle .ko.xz), their load order and /init. Named after a hash of what
# goes in, so editing initramfs-init.sh yields a new one.
key=$( { cat "$here/initramfs-init.sh" /bin/busybox; echo "$kver ${modules[*]}"; } |
	sha256sum | cut -c1-16)
initramfs=$cache/initramfs-$key.cpio

# Print the .ko file of module $1 (names may use '-' where modinfo uses '_').
module_file() {
	local f name
	while IFS= read -r -d '' f; do
		name=${f##*/}; name=${name%%.ko*}
		[[ ${name//-/_} == "$1" ]] && { echo "$f"; return 0; }
	done < <(find "$moddir/kernel" -name "$1.ko*" -print0 -o -name "${1//_/-}.ko*" -print0)
	return 1
}

# Copy module $1, decompressed, and its dependencies into $stage/modules,
# appending them to the load order after what they depend on.
declare -A added=()
add_module() {
	local name=$1 file deps dep
	[[ -n ${added[$name]-} ]] && return 0
	added[$name]=1
	file=$(module_file "$name") || die "module $name not found in $moddir"
	case $file in
	*.ko) cat "$file" ;;
	*.ko.xz) xz -dc "$file" ;;
	*.ko.zst) zstd -dc "$file" ;;
	*.ko.gz) gzip -dc "$file" ;;
	*) die "unknown module format: $file" ;;
	esac >"$stage/modules/$name.ko"
	# The .modinfo section holds NUL-terminated "key=value" strings.
	deps=$(tr '\0' '\n' <"$stage/modules/$name.ko" | grep -a -m1 '^depends=' || true)
	deps=${deps#depends=}
	for dep in ${deps//,/ }; do add_module "$dep"; done
	echo "$name" >>"$stage/modules/order"
}

if [[ ! -e $initramfs ]]; then
	echo "vm-run: building $initramfs" >&2
	stage=$(mktemp -d "$cache/initramfs.XXXXXX")
	mkdir -p "$stage"/{bin,modules,lower,rw,newroot,sbx-vm}
	cp /bin/busybox "$stage/bin/busybox"
	for applet in sh cat cp echo insmod mkdir mount poweroff sleep switch_root; do
		ln -s busybox "$stage/bin/$applet"
	done
	for m in "${modules[@]}"; do add_module "$m"; done
	install -m 0755 "$here/initramfs-init.sh" "$stage/init"
	(cd "$stage" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$stage.cpio"
	rm -rf "$stage" "$cache"/initramfs-*.cpio
	mv "$stage.cpio" "$initramfs"
fi

# --- this run's files ----------------------------------------------------------

# A second cpio archive, appended to the cached one (the kernel unpacks
# concatenated archives in turn), carries guest-init.sh and the command as
# NUL-separated lists, so any quoting or spacing survives.
tmp=$(mktemp -d)
qemu_pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/run/sbx-vm"
install -m 0755 "$here/guest-init.sh" "$tmp/run/sbx-vm/guest-init.sh"
printf '%s\0' "$@" >"$tmp/run/sbx-vm/argv"
: >"$tmp/run/sbx-vm/env"
((${#envs[@]} == 0)) || printf '%s\0' "${envs[@]}" >"$tmp/run/sbx-vm/env"
printf '%s\0' "$cwd" >"$tmp/run/sbx-vm/cwd"
((pid1 == 0)) || : >"$tmp/run/sbx-vm/pid1"
(cd "$tmp/run" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$tmp/run.cpio"
cat "$initramfs" "$tmp/run.cpio" >"$tmp/initrd"
exec {lock}>&-

# --- boot, stream the console, wait for the marker ----------------------------

# -cpu max: every CPU feature TCG emulates (AVX2, RDRAND...), so host
# binaries built for newer CPUs run and the guest's RNG is seeded at once.
mkfifo "$tmp/console"
qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp 2 -nographic -no-reboot \
	-nic none -kernel "$kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 panic=-1 quiet mitigations=off" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	</dev/null >"$tmp/console" 2>&1 &
qemu_pid=$!
exec {con}<"$tmp/console"

deadline=$((SECONDS + timeout)) result='' why=''
while :; do
	left=$((deadline - SECONDS))
	if ((left <= 0)); then why=timeout; break; fi
	line=
	if IFS= read -r -t "$left" -u "$con" line; then :
	elif (($? > 128)); then why=timeout
	else why=eof
	fi
	# Drop the CRs of the serial line and the terminal resets that the
	# firmware sends (they would disable line wrapping in a terminal).
	line=${line//$'\r'/}
	line=${line//$'\e'c/}
	line=${line//$'\e'\[*([0-9;?])[A-Za-z]/}
	[[ -z $line && -n $why ]] || printf '%s\n' "$line"
	if [[ $line =~ ^SBX-VM-RESULT:\ ([0-9]+)$ ]]; then
		result=${BASH_REMATCH[1]}
		# Only the power-off is left: do not wait long for it.
		((deadline - SECONDS < 30)) || deadline=$((SECONDS + 30))
	fi
	[[ -z $why ]] || break
done

if [[ -n $result ]]; then
	exit "$result"
elif [[ $why == timeout ]]; then
	echo "vm-run: no result from the guest within ${timeout}s; killing qemu (pid $qemu_pid)" >&2
	exit 124
else
	status=0
	wait "$qemu_pid" || status=$?
	qemu_pid=
	if ((pid1 && status == 0)); then
		echo "vm-run: the guest's PID 1 powered the VM off" >&2
		exit 0
	fi
	echo "vm-run: the VM stopped (qemu exit status $status) before the guest reported a result" >&2
	exit 125
fi
