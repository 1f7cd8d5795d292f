"""Readiness, health checks, the watchdog and critical units.

A unit is `starting` until it is ready and the units that require it wait
for that: with Debian's `systemd-notify --ready` run from a shell script
(the notifier exits at once), a Python sd_notify sender, fd:3, a port that
opens late, a file. Not ready in time, a missed watchdog, or a health
probe that starts failing end the run (the whole box) and the restart
policy brings it back; a hanging probe is killed at its timeout; a
critical unit's end ends sbxd with its status; a notify message from a
process outside the unit is ignored."""

import glob
import json
import os
import shutil
import signal
import socket
import time

import sbxdtest
from sbxdtest import child_cmd, skip, wait_until

SYSTEMD_NOTIFY = shutil.which("systemd-notify")

# The spy unit of test_a_unit_reaches_only_its_own_notify_socket.
SPY = r"""
import errno, json, os, socket, sys, time
root, told = sys.argv[1], sys.argv[2]
def send(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(b"READY=1", path)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
def send_and_exit(path):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if send(path) == "ok" else 1)
    return "ok" if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else "ENOENT"
while not os.path.exists(told):
    time.sleep(0.05)
victim = open(told).read()
tree = []
for dirpath, dirs, files in os.walk(root):
    tree += [os.path.join(dirpath, n) for n in dirs + files]
seen = {"tree": sorted(tree), "victim": send(victim),
        "victim, sender gone": send_and_exit(victim)}
send(os.environ["NOTIFY_SOCKET"])
print(json.dumps(seen, indent=1), flush=True)
time.sleep(60)
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ReadyTest(sbxdtest.TestCase):

    def start(self):
        self.run_dir = os.path.join(self.tmp, "run")
        return self.start_sbxd(["--run-dir", self.run_dir])

    def notify_path(self, unit, run_dir=None):
        """UNIT's socket, RUNDIR/notify/HASH/UNIT/notify, or None."""
        found = glob.glob(os.path.join(run_dir or self.run_dir, "notify", "*", unit, "notify"))
        return found[0] if len(found) == 1 else None

    def status(self, unit):
        """The unit object of `status` over the control socket."""
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        c.connect(os.path.join(self.tmp, "sbxd.sock"))
        f = c.makefile("rwb")
        f.readline()  # hello
        f.write(json.dumps({"v": 1, "cmd": "status", "units": [unit]}).encode() + b"\n")
        f.flush()
        reply = json.loads(f.readline())
        c.close()
        return reply["units"][0]

    def first(self, unit, state, why=None):
        evs = [e for e in self.d.find(unit=unit, state=state) if why is None or e.why == why]
        self.assertTrue(evs, "no %s (%s) event for %s\n%s"
                        % (state, why, unit, self.d.transcript()))
        return evs[0]

    def need_systemd_notify(self):
        if not SYSTEMD_NOTIFY:
            skip("systemd-notify is not installed (Debian package systemd)")

    def test_dependents_wait_for_systemd_notify_ready(self):
        # 100 pairs: db@i tells it is ready with systemd-notify, which exits
        # at once; app@i requires db@i. Every app starts after its db said so.
        self.need_systemd_notify()
        n = 100
        self.write_unit("db", {"unit": {"instances": n},
                               "exec": {"command": 'sh -c "sleep 0.2; %s --ready; exec sleep 60"'
                                        % SYSTEMD_NOTIFY,
                                        "ready": "notify", "ready_timeout": "60s"}})
        for i in range(1, n + 1):
            self.write_unit("app%d" % i, {"unit": {"requires": "db@%d" % i},
                                          "exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        d.wait_event(90, state="running", count=2 * n)
        for i in range(1, n + 1):
            db_started = self.first("db@%d" % i, "starting", "started, not ready yet")
            db_ready = self.first("db@%d" % i, "running", "ready")
            app = self.first("app%d" % i, "running")
            self.assertLess(db_started.index, db_ready.index)
            self.assertLess(db_ready.index, app.index,
                            "app%d ran before db@%d was ready\n%s" % (i, i, d.transcript()))
            self.assertGreaterEqual(db_ready.time_ms - db_started.time_ms, 150)
        self.assertEqual(d.find(state="failed"), [], d.transcript())
        self.assertEqual(d.find(event="notify-refused"), [], d.transcript())
        # Its socket is its own, in sbxd's directory of the run directory.
        path = self.notify_path("db@1")
        self.assertTrue(path and os.path.exists(path))
        self.stop_sbxd()
        self.assertFalse(os.path.exists(os.path.dirname(path)))

    def test_python_sd_notify_status_text(self):
        script = ("import os, socket, time\n"
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                  "s.sendto(b'STATUS=warming up', os.environ['NOTIFY_SOCKET'])\n"
                  "time.sleep(0.3)\n"
                  "s.sendto(b'READY=1\\nSTATUS=serving 3 clients', os.environ['NOTIFY_SOCKET'])\n"
                  "time.sleep(60)\n")
        path = os.path.join(self.tmp, "notifier.py")
        with open(path, "w") as f:
            f.write(script)
        self.write_unit("py", {"exec": {"command": "python3 " + path, "ready": "notify"}})
        d = self.start()
        d.wait_event(20, unit="py", state="running")
        st = self.status("py")
        self.assertEqual(st["state"], "running")
        self.assertTrue(st["ready"])
        self.assertEqual(st["status_text"], "serving 3 clients")
        self.assertIsNone(st["health"])

    def test_fd_readiness(self):
        self.write_unit("fdu", {"exec": {"command": 'sh -c "sleep 0.3; echo up >&3; exec sleep 60"',
                                         "ready": "fd:3"}})
        self.write_unit("after", {"unit": {"requires": "fdu"},
                                  "exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        d.wait_running(10, "after")
        started = self.first("fdu", "starting", "started, not ready yet")
        ready = self.first("fdu", "running", "ready")
        self.assertGreaterEqual(ready.time_ms - started.time_ms, 250)
        self.assertLess(ready.index, self.first("after", "running").index)

    def test_port_readiness_listener_binds_late(self):
        port = free_port()
        listener = ("import socket, time; time.sleep(2); s = socket.socket(); "
                    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                    "s.bind(('127.0.0.1', %d)); s.listen(8); time.sleep(60)" % port)
        self.write_unit("web", {"exec": {"command": 'python3 -c "%s"' % listener,
                                         "ready": "port:%d" % port}})
        self.write_unit("front", {"unit": {"requires": "web"},
                                  "exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        d.wait_running(20, "front")
        started = self.first("web", "starting", "started, not ready yet")
        ready = self.first("web", "running", "ready")
        self.assertGreaterEqual(ready.time_ms - started.time_ms, 2000)
        self.assertLess(ready.index, self.first("front", "running").index)

    def test_ready_timeout_restarts_by_policy(self):
        self.write_unit("slow", {"exec": {"command": child_cmd("sleep", 60),
                                          "ready": "file:" + os.path.join(self.tmp, "never"),
                                          "ready_timeout": "400ms"},
                                 "restart": {"delay": "100ms"}})
        d = self.start()
        ev = d.wait_event(10, unit="slow", state="stopping")[0]
        self.assertEqual(ev.why, "not ready within ready_timeout", d.transcript())
        back = d.wait_event(10, unit="slow", state="backoff")[0]
        self.assertEqual(back.detail, "not ready within ready_timeout")
        d.wait_event(10, unit="slow", state="starting", count=2)
        self.assertEqual(d.find(unit="slow", state="running"), [])

    def test_file_readiness(self):
        flag = os.path.join(self.tmp, "flag")
        self.write_unit("f", {"exec": {"command": 'sh -c "sleep 0.5; touch %s; exec sleep 60"' % flag,
                                       "ready": "file:" + flag}})
        d = self.start()
        d.wait_event(10, unit="f", state="running")
        self.assertTrue(os.path.exists(flag))

    def test_watchdog_miss_kills_the_tree_and_restarts(self):
        self.need_systemd_notify()
        # A background process: found by its command line (the unit has a
        # PID namespace of its own, so $! is not our pid for it).
        bg_args = ["sleep", "%d" % (4000 + os.getpid() % 1000)]
        cmd = ('sh -c "%s --ready; %s & for i in 1 2 3; do %s WATCHDOG=1; '
               'sleep 0.2; done; exec sleep 100"' % (SYSTEMD_NOTIFY, " ".join(bg_args),
                                                      SYSTEMD_NOTIFY))
        self.write_unit("dog", {"exec": {"command": cmd, "ready": "notify", "watchdog": "1s"},
                                "restart": {"delay": "100ms"}})
        d = self.start()
        first = d.wait_event(10, unit="dog", state="running")[0]
        bg = wait_until(lambda: [int(p) for p in os.listdir("/proc") if p.isdigit()
                                 and sbxdtest.cmdline(int(p)) == bg_args], 5)
        self.assertEqual(len(bg), 1, bg)
        bg = bg[0]
        ev = d.wait_event(10, unit="dog", state="stopping")[0]
        self.assertEqual(ev.why, "watchdog: no WATCHDOG=1 in time")
        # The keep-alives held it for 0.6 s, then 1 s of silence.
        self.assertGreaterEqual(ev.time_ms - first.time_ms, 1400)  # loop times: a few ms early
        back = d.wait_event(10, unit="dog", state="backoff")[0]
        self.assertIn("watchdog", back.detail)
        self.assertTrue(wait_until(lambda: not sbxdtest.alive(bg), 5),
                        "the background process of the unit survived")
        d.wait_event(10, unit="dog", state="running", count=2)

    def test_failing_health_probe_restarts_after_retries(self):
        flag = os.path.join(self.tmp, "sick")
        self.write_unit("svc", {"exec": {"command": child_cmd("sleep", 60)},
                                "health": {"command": 'sh -c "echo checked; test ! -e %s"' % flag,
                                           "interval": "200ms", "retries": 3, "timeout": "5s"},
                                "restart": {"delay": "100ms"}})
        d = self.start()
        d.wait_running(10, "svc")
        ev = d.wait_event(10, unit="svc", event="health")[0]
        self.assertEqual(ev.detail, "healthy: checked")
        self.assertEqual(self.status("svc")["health"], "healthy")
        mark = d.mark()
        open(flag, "w").close()
        bad = d.wait_event(10, unit="svc", event="health", since=mark)[0]
        self.assertEqual(bad.detail, "unhealthy: checked")
        # Three failures at 200 ms: at least ~0.4 s after the flag.
        stop = d.wait_event(10, unit="svc", state="stopping", since=mark)[0]
        self.assertEqual(stop.why, "unhealthy")
        back = d.wait_event(10, unit="svc", state="backoff", since=mark)[0]
        self.assertIn("unhealthy", back.detail)
        os.unlink(flag)
        d.wait_event(10, unit="svc", state="running", since=mark)
        st = self.status("svc")
        self.assertEqual(st["restarts"], 1)
        self.assertEqual(st["last"]["reason"], "unhealthy")

    def test_hanging_probe_is_killed_at_its_timeout(self):
        self.write_unit("hang", {"exec": {"command": child_cmd("sleep", 60)},
                                 "health": {"command": "sleep 4242", "interval": "100ms",
                                            "timeout": "300ms", "retries": 1,
                                            "on_unhealthy": "report"}})
        d = self.start()
        d.wait_running(10, "hang")
        ev = d.wait_event(10, unit="hang", event="health")[0]
        self.assertEqual(ev.detail, "unhealthy: timed out after 300 ms")

        def probes():
            return [p for p in os.listdir("/proc") if p.isdigit() and
                    sbxdtest.cmdline(int(p)) == ["sleep", "4242"]]
        # Each probe is killed at its timeout: never more than one around.
        for _ in range(10):
            self.assertLessEqual(len(probes()), 1)
            time.sleep(0.05)
        self.assertEqual(d.state_of("hang"), "running")
        self.stop_sbxd()
        self.assertEqual(probes(), [])

    def test_critical_unit_exit_code_ends_sbxd(self):
        self.write_unit("main", {"unit": {"critical": "yes"},
                                 "exec": {"command": 'sh -c "sleep 0.5; exit 7"'},
                                 "restart": {"policy": "no"}})
        self.write_unit("side", {"exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        d.wait_running(10, "side")
        status = d.proc.wait(20)
        self.checked_stop = True
        self.assertEqual(status, 7, d.transcript())
        self.assertEqual(d.state_of("side"), "inactive")
        self.assertLeftNothing()

    def test_critical_unit_exit_0_ends_sbxd_with_0(self):
        self.write_unit("main", {"unit": {"critical": "yes"},
                                 "exec": {"command": 'sh -c "sleep 0.3; exit 0"'},
                                 "restart": {"policy": "no"}})
        self.write_unit("side", {"exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        status = d.proc.wait(20)
        self.checked_stop = True
        self.assertEqual(status, 0, d.transcript())
        self.assertEqual(d.state_of("main"), "exited")
        self.assertLeftNothing()

    def test_notify_from_outside_the_unit_is_ignored(self):
        self.write_unit("quiet", {"exec": {"command": child_cmd("sleep", 60), "ready": "notify",
                                           "ready_timeout": "0"}})
        d = self.start()
        d.wait_event(10, unit="quiet", state="starting", event="starting (started, not ready yet)")
        self.assertTrue(wait_until(lambda: self.notify_path("quiet"), 5))
        path = self.notify_path("quiet")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1\nSTATUS=forged", path)
        s.close()
        ev = d.wait_event(10, unit="quiet", event="notify-refused")[0]
        self.assertIn("pid %d is not in the unit" % os.getpid(), ev.detail)
        time.sleep(0.3)
        self.assertEqual(d.find(unit="quiet", state="running"), [])
        st = self.status("quiet")
        self.assertEqual(st["state"], "starting")
        self.assertFalse(st["ready"])
        self.assertIsNone(st["status_text"])

    def test_a_unit_reaches_only_its_own_notify_socket(self):
        # spy lists sbxd's notify tree, sends READY=1 to victim's socket
        # (the path the host sees, told through a file), from a sender
        # that exits at once too, then says it is ready itself. Only its
        # own socket is there; the victim stays starting.
        told = os.path.join(self.tmp, "victim.path")
        script = os.path.join(self.tmp, "spy.py")
        with open(script, "w") as f:
            f.write(SPY)
        self.write_unit("victim", {"exec": {"command": child_cmd("sleep", 60),
                                            "ready": "notify", "ready_timeout": "0"}})
        self.write_unit("spy", {"exec": {"command": "python3 %s %s %s" % (
            script, os.path.join(self.tmp, "run", "notify"), told), "ready": "notify"}})
        d = self.start()
        self.assertTrue(wait_until(lambda: self.notify_path("victim"), 10), d.transcript())
        with open(told + ".tmp", "w") as f:
            f.write(self.notify_path("victim"))
        os.rename(told + ".tmp", told)
        d.wait_event(20, unit="spy", state="running")
        self.wait_log("spy", b"\n}")
        seen = json.loads(self.read_log("spy"))
        own = os.path.dirname(self.notify_path("spy"))
        self.assertEqual(seen["tree"], [os.path.dirname(own), own, os.path.join(own, "notify")],
                         seen)
        self.assertEqual(seen["victim"], "ENOENT", seen)
        self.assertEqual(seen["victim, sender gone"], "ENOENT", seen)
        time.sleep(0.3)
        self.assertEqual(d.find(unit="victim", state="running"), [], d.transcript())
        self.assertEqual(self.status("victim")["state"], "starting")

    def test_two_sbxd_share_a_run_dir(self):
        # Two sbxd (other cgroup roots and state dirs) with one run
        # directory and a unit of the same name each: two sockets, both
        # units ready.
        self.run_dir = os.path.join(self.tmp, "run")
        sender = os.path.join(self.tmp, "sender.py")
        with open(sender, "w") as f:
            f.write("import os, socket, time\n"
                    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                    "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
                    "time.sleep(60)\n")
        text = "[exec]\ncommand = python3 %s\nready = notify\nready_timeout = 30s\n" % sender
        units2 = os.path.join(self.tmp, "units2")
        os.mkdir(units2)
        for units in (self.units, units2):
            with open(os.path.join(units, "svc.ini"), "w") as f:
                f.write(text)
        root2 = self.root + "-2"
        env = dict(os.environ, SBX_TEST_TAG=self.tag)
        other = sbxdtest.Sbxd(["--units", units2, "--cgroup-root", root2, "--log-format", "json",
                               "--socket", os.path.join(self.tmp, "sbxd2.sock"),
                               "--state-dir", os.path.join(self.tmp, "state2"),
                               "--run-dir", self.run_dir], env)
        try:
            d = self.start()
            d.wait_event(20, unit="svc", state="running")
            other.wait_event(20, unit="svc", state="running")
            socks = glob.glob(os.path.join(self.run_dir, "notify", "*", "svc", "notify"))
            self.assertEqual(len(socks), 2, socks)
            self.assertEqual(d.find(event="notify-refused") + other.find(event="notify-refused"),
                             [])
        finally:
            status, killed = other.stop(20)
            for path in sbxdtest.cgroup_root_dirs(root2):
                sbxdtest.remove_cgroup_tree(path)
        self.assertEqual((status, killed), (0, False), other.transcript())

    def test_running_event_names_the_program_behind_the_init(self):
        # Units started together at sbxd's start (without waiting for exec)
        # behind sbx's init (pid_namespace = init, the default): each
        # "running" event names the program's pid, as status does, never
        # the init's.
        names = ["w%d" % i for i in range(8)]
        for n in names:
            self.write_unit(n, {"exec": {"command": child_cmd("sleep", 60)}})
        d = self.start()
        for n in names:
            d.wait_event(20, unit=n, state="running")
        for n in names:
            ev = self.first(n, "running")
            pid = self.status(n)["pid"]
            self.assertEqual(ev.detail, "pid %d" % pid, d.transcript())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                self.assertNotIn(b"sbx-init", f.read().split(b"\0")[0])

    def test_sbxd_tells_its_own_manager(self):
        # sbxd as a Type=notify service: READY=1 with the counts once the
        # autostart units were started, RELOADING=1 then READY=1 around a
        # reload, STOPPING=1 at the end; the units do not see its socket.
        path = os.path.join(self.tmp, "systemd.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        rx.settimeout(20)
        self.addCleanup(rx.close)
        self.write_unit("a", {"exec": {"command": 'sh -c "echo ns=${NOTIFY_SOCKET:-none}; '
                                                  'exec sleep 60"'}})
        self.write_unit("b", {"exec": {"command": child_cmd("sleep", 60)}})
        os.environ["NOTIFY_SOCKET"] = path
        try:
            d = self.start()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        msg = rx.recv(4096).decode()
        self.assertEqual(msg.split("\n")[0], "READY=1")
        self.assertRegex(msg, r"STATUS=2 units: \d running, \d starting, 0 failed")
        self.wait_log("a", b"ns=none\n")
        d.signal(signal.SIGHUP)
        self.assertEqual(rx.recv(4096), b"RELOADING=1")
        self.assertRegex(rx.recv(4096).decode(), r"^READY=1\nSTATUS=2 units: 2 running")
        d.signal(signal.SIGTERM)
        self.assertEqual(rx.recv(4096), b"STOPPING=1")


if __name__ == "__main__":
    sbxdtest.main()
