#!/bin/sh
# /init of the VM harness's initramfs (run by busybox sh as PID 1).
#
# Loads the modules that the Debian generic kernel keeps outside the image
# (virtio-pci, 9p, overlay), builds the guest root as an overlay of the
# host's / (9p share "hostroot", read-only) under a tmpfs, and switch_roots
# into it, where /.sbx-vm/guest-init.sh takes over as PID 1.
#
# switch_root, not chroot: the kernel refuses new user namespaces to a
# process whose root is not the root of its mount namespace.
#
# /modules/order (written by vm-run.sh) lists the modules in dependency
# order; /sbx-vm/ holds the per-run files (guest-init.sh, argv, env, cwd).

export PATH=/bin

fail() {
	echo "sbx-vm initramfs: $*"
	poweroff -f
	sleep 10	# poweroff -f does not return; never let PID 1 exit
}

while read -r m; do
	insmod "/modules/$m.ko" || fail "insmod $m failed"
done </modules/order

# cache=loose lets the guest page cache keep host files: much faster under
# TCG, and the host tree does not change while a test runs.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose \
	hostroot /lower || fail "cannot mount the 9p share hostroot"
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount tmpfs on /rw"
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	overlay /newroot || fail "cannot mount the overlay root"

# The initramfs is emptied by switch_root: copy the per-run files over.
mkdir -p /newroot/.sbx-vm || fail "cannot create /.sbx-vm in the new root"
cp -a /sbx-vm/. /newroot/.sbx-vm/ || fail "cannot copy the run files into the new root"

# If this fails, PID 1 exits and the kernel panics: vm-run.sh reports a VM
# that stopped without a result.
exec switch_root /newroot /bin/bash /.sbx-vm/guest-init.sh
