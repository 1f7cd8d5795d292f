#!/bin/bash
# PID 1 of the VM guest, in the overlay of the host's / (see
# initramfs-init.sh). Mounts the API filesystems with a pure cgroup v2
# hierarchy, runs the command that vm-run.sh put in /.sbx-vm/, reports its
# exit status as one console line "SBX-VM-RESULT: <code>" and powers off.
#
# As PID 1, bash also reaps orphans: it waits for any child while it waits
# for the command, and stray processes left afterwards die with the VM.

set -u
run=/.sbx-vm

# External commands are busybox applets: one static binary, read over 9p
# once, where util-linux and coreutils would load a dozen libraries.
bb=/bin/busybox

halt() {
	$bb poweroff -f
	echo o >/proc/sysrq-trigger	# fallback; returning from PID 1 panics
	$bb sleep 60
}

fail() {
	echo "sbx-vm guest: $*" >&2
	halt
}

$bb mount -t proc proc /proc || fail "cannot mount /proc"
$bb mount -t sysfs sysfs /sys || fail "cannot mount /sys"
$bb mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o mode=0620,gid=5,ptmxmode=0666 devpts /dev/pts
$bb mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# devtmpfs does not provide these; bash and many scripts expect them.
$bb ln -sfn /proc/self/fd /dev/fd
$bb ln -sfn /proc/self/fd/0 /dev/stdin
$bb ln -sfn /proc/self/fd/1 /dev/stdout
$bb ln -sfn /proc/self/fd/2 /dev/stderr
$bb mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
$bb mount -t tmpfs -o mode=0755 tmpfs /run
$bb ip link set lo up
echo sbx-vm >/proc/sys/kernel/hostname

# argv and env are NUL-separated lists, cwd is NUL-terminated: no quoting.
mapfile -d '' -t argv <"$run/argv"
mapfile -d '' -t envs <"$run/env"
IFS= read -r -d '' cwd <"$run/cwd"
# A fresh /tmp, unless the build tree lives there (a checkout under /tmp):
# then the host's, through the overlay (writes still stay in the guest).
case $cwd in
/tmp | /tmp/*) ;;
*) $bb mount -t tmpfs -o mode=1777 tmpfs /tmp ;;
esac
as_init=0
[[ -e $run/pid1 ]] && as_init=1
$bb rm -rf "$run"	# bash keeps this script open; the guest sees a clean /

# One header line: the console may still be in the middle of the
# firmware's "Booting from ROM.." line.
read -r uptime _ </proc/uptime
read -r release </proc/sys/kernel/osrelease
printf '\nsbx-vm: guest up after %ss, kernel %s\n' "$uptime" "$release"

if ((as_init)); then	# vm-run --pid1: the command becomes PID 1
	cd -- "$cwd" || fail "cannot cd to $cwd"
	for kv in ${envs[@]+"${envs[@]}"}; do export "$kv"; done
	exec "${argv[@]}" </dev/null
fi

(
	# A clean, predictable environment, then the caller's --env values.
	for name in $(compgen -e); do unset "$name"; done
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root TERM=dumb
	# shellcheck disable=SC2163 # kv is NAME=VALUE
	for kv in ${envs[@]+"${envs[@]}"}; do export "$kv"; done
	cd -- "$cwd" || exit 125
	exec "${argv[@]}"
) </dev/null
rc=$?

# The leading newline puts the marker at the start of a line even when the
# command's output did not end with one.
printf '\nSBX-VM-RESULT: %d\n' "$rc"
halt
