#!/bin/bash
# PID 1 of the VM before systemd (vm-run.sh --pid1): installs the sbx
# package and the demo units, adds a service that runs the checks once
# the system is up, and becomes systemd. Only that service (and what it
# pulls in) is started: not the host's whole default target.
# usage: systemd-guest.sh DEB UNITS_DIR CHECK_SCRIPT
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
deb=$1 units=$2 check=$3
fail() {
	echo "systemd-guest: $*"
	echo "SBX-VM-RESULT: 1"
	/bin/busybox poweroff -f
	sleep 60
}
dpkg -i "$deb" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i failed"; }
cp "$units"/*.ini /etc/sbx/conf.d/ || fail "cannot copy the demo units"
install -d -m 1777 /var/tmp/sbx-jail	# the demo jail unit's scratch dir
install -m 0755 "$check" /usr/local/sbin/sbx-vm-check
cat >/etc/systemd/system/sbx-vm-check.service <<'UNIT'
[Unit]
Description=sbx VM checks of sbxd.service
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/sbx-vm-check
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
UNIT
# The host's machine-id, if any, is not this machine's.
: >/etc/machine-id
exec /lib/systemd/systemd --unit=sbx-vm-check.service \
	--log-target=console --log-level=warning --show-status=no
