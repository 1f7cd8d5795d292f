#!/bin/bash
# Run by systemd in the VM (sbx-vm-check.service, see systemd-guest.sh):
# sbxd.service started, inspected, reloaded and stopped as an
# administrator would, each step checked. Prints "SBX-VM-RESULT: N" (N
# failed checks) and powers off.
set -u
failed=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
	echo "SBX-VM-RESULT: $failed"
	systemctl --force --force poweroff
	/bin/busybox poweroff -f
}
trap finish EXIT
export SYSTEMD_PAGER= SYSTEMD_COLORS=0

# What systemd and sbxd said, when a step failed.
diagnose() {
	systemctl status sbxd --no-pager -n 0 2>&1 | sed 's/^/  status| /'
	journalctl -u sbxd --no-pager -n 40 -o short-monotonic 2>&1 | sed 's/^/  journal| /'
	local cg=/sys/fs/cgroup$(systemctl show -p ControlGroup --value sbxd)
	[[ -d $cg ]] && echo "  $cg: subtree_control '$(<"$cg/cgroup.subtree_control")'," \
		"procs '$(tr '\n' ' ' <"$cg/cgroup.procs")'"
}
unit_pid() {
	sbxctl --json status "$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["units"][0].get("pid") or "")' 2>/dev/null
}

echo "== systemd-analyze verify"
if v=$(systemd-analyze verify /lib/systemd/system/sbxd.service 2>&1) && [[ -z $v ]]; then
	ok "sbxd.service verifies clean"
else
	bad "systemd-analyze verify: $v"
fi

echo "== systemctl start sbxd (Type=notify: returns on READY=1)"
if timeout 120 systemctl start sbxd; then ok "started"; else
	bad "systemctl start sbxd failed"; diagnose; exit; fi
[[ $(systemctl show -p ActiveState --value sbxd) == active ]] && ok "active" || bad "not active"
st=$(systemctl show -p StatusText --value sbxd)
[[ $st == *running* ]] && ok "STATUS= reached systemd: $st" || bad "StatusText '$st'"
systemctl status sbxd --no-pager -n 0 | sed 's/^/  | /'
systemctl status sbxd --no-pager -n 0 | grep -q "Status: \"$st\"" &&
	ok "systemctl status shows the STATUS text" || bad "systemctl status lacks the STATUS text"

echo "== the demo units, in the delegated scope sbx-units.scope beside sbxd.service"
sbxctl status | sed 's/^/  | /'
svc=/sys/fs/cgroup$(systemctl show -p ControlGroup --value sbx-units.scope)
[[ $(systemctl show -p Delegate --value sbx-units.scope) == yes ]] && ok "sbx-units.scope is delegated" ||
	bad "sbx-units.scope: Delegate '$(systemctl show -p Delegate --value sbx-units.scope)'"
[[ $svc != /sys/fs/cgroup && -d $svc ]] || bad "no cgroup $svc"
own=$(sed -n 's/^0:://p' "/proc/$(systemctl show -p MainPID --value sbxd)/cgroup")
[[ $own == "$(systemctl show -p ControlGroup --value sbxd)"* ]] && ok "sbxd itself in $own" ||
	bad "sbxd's cgroup $own"
# web is ready once its port answers: under TCG that may come after READY=1
sbxctl wait --timeout 60s cache web jail worker@1 >/dev/null || bad "units not ready within 60 s"
for u in cache web jail worker@1; do
	pid=$(sbxctl --json status "$u" | python3 -c 'import json,sys; print(json.load(sys.stdin)["units"][0].get("pid") or "")')
	if [[ -z $pid ]]; then bad "$u has no pid"; continue; fi
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	[[ /sys/fs/cgroup$cg == "$svc"/* ]] && ok "$u (pid $pid) in $cg" || bad "$u's cgroup $cg is not below $svc"
done
# The limits, as the kernel holds them (web: memory 64M, cpu 50%, pids 16).
webcg=$(find "$svc" -type d -name web | head -n1)
if [[ -n $webcg ]]; then
	[[ $(<"$webcg/memory.max") == 67108864 ]] && ok "web memory.max 64M" || bad "web memory.max $(<"$webcg/memory.max")"
	# 16, and one for sbx's init (PID 1 of the unit's namespace)
	[[ $(<"$webcg/pids.max") == 17 ]] && ok "web pids.max 16 (+1 for sbx's init)" || bad "web pids.max $(<"$webcg/pids.max")"
	[[ $(<"$webcg/cpu.max") == "50000 100000" ]] && ok "web cpu.max 50%" || bad "web cpu.max $(<"$webcg/cpu.max")"
else
	bad "no cgroup for web below $svc"
fi
# Enforced: a unit that allocates past its memory limit is OOM-killed.
cat >/etc/sbx/conf.d/hog.ini <<'UNIT'
[exec]
command = python3 -c "b = bytearray(200 << 20)"
[limits]
memory = 30M
[restart]
policy = no
UNIT

echo "== systemctl reload sbxd (a new unit appears)"
if timeout 60 systemctl reload sbxd; then ok "reloaded"; else bad "reload failed"; fi
for _ in $(seq 60); do
	r=$(sbxctl --json status hog | python3 -c 'import json,sys; u=json.load(sys.stdin)["units"][0]; print(u["state"], (u.get("last") or {}).get("reason", ""))')
	[[ $r == "exited memory" || $r == "failed memory" ]] && break
	sleep 1
done
[[ $r == *" memory" ]] && ok "hog: $r (OOM-killed under its 30M limit)" || bad "hog: '$r'"
[[ $(systemctl show -p ActiveState --value sbxd) == active ]] && ok "active after reload" || bad "not active after reload"

echo "== sbxd killed (SIGKILL): systemd starts it again, the units outlive it"
old=$(systemctl show -p MainPID --value sbxd)
web=$(unit_pid web)
before=$(sbxctl --json status | python3 -c 'import json,sys; print(" ".join(sorted("%s=%s" % (u["name"], u.get("pid")) for u in json.load(sys.stdin)["units"] if u.get("pid"))))')
kill -KILL "$old"
new=
for _ in $(seq 60); do
	new=$(systemctl show -p MainPID --value sbxd)
	[[ $new != 0 && $new != "$old" ]] && systemctl -q is-active sbxd && break
	sleep 1
done
if [[ $new != 0 && $new != "$old" ]] && systemctl -q is-active sbxd; then
	ok "sbxd restarted by systemd (pid $old -> $new)"
else
	bad "sbxd not active again within 60 s (MainPID '$new')"
	diagnose
fi
for _ in $(seq 30); do
	now=$(unit_pid web)
	[[ -n $now ]] && break
	sleep 1
done
[[ -n $web && $now == "$web" ]] && ok "web's program (pid $web) outlived sbxd and was re-adopted" ||
	{ bad "web: pid '$web' before, '$now' after"; diagnose; }
# Those running before the kill, each with its pid (a unit that had failed,
# like flaky, is started afresh by the new sbxd: not compared).
after=$(sbxctl --json status | python3 -c 'import json,sys; print(" ".join(sorted("%s=%s" % (u["name"], u.get("pid")) for u in json.load(sys.stdin)["units"] if u.get("pid"))))')
kept=$(for kv in $before; do [[ " $after " == *" $kv "* ]] && echo -n "$kv "; done)
[[ ${kept% } == "$before" ]] && ok "every running unit kept its pid: $before" ||
	bad "pids before: '$before', after: '$after'"
journalctl -u sbxd --no-pager -o cat 2>/dev/null | grep -q "web: running (adopted)" && ok "the journal says web was adopted" ||
	bad "no adoption in the journal"
sbxctl status | sed 's/^/  | /'

echo "== systemctl stop sbxd"
pids=$(cat "$svc"/*/*/cgroup.procs "$svc"/*/cgroup.procs 2>/dev/null | sort -u | tr '\n' ' ')
if timeout 120 systemctl stop sbxd; then ok "stopped"; else bad "stop failed"; diagnose; fi
[[ $(systemctl show -p ActiveState --value sbxd) == inactive ]] && ok "inactive" || bad "not inactive"
left=0
for p in $pids; do [[ -d /proc/$p ]] && left=$((left + 1)); done
((left == 0)) && ok "no process of the units is left" || bad "$left processes left"
for _ in $(seq 20); do [[ -d $svc ]] || break; sleep 0.5; done
[[ ! -d $svc ]] && ok "sbx-units.scope's cgroup is gone" || bad "$svc still exists"
systemctl -q is-active sbx-units.scope && bad "sbx-units.scope still active" || ok "sbx-units.scope ended"
exit
