"""Live upgrade: `sbxctl reexec` and SIGUSR2 make sbxd execute its binary
again in the same process. Under load (20 units: sleepers, units restarting
in a loop, one writing numbered lines fast while `sbxctl logs -f` streams
it, clients connecting in a loop), sbxd is upgraded to a copy of itself
whose version string differs: the units keep their pids, none is started
again, counters are kept, a unit ending after the re-exec is reported with
its real exit code (not `lost`), no numbered line is missing from the log,
no client is ever refused. An exec that fails leaves sbxd running."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import sbxdtest
from sbxdtest import alive, child_cmd, wait_until

SBXCTL = os.environ.get("SBXCTL", "")

WRITER = """i=0
while :; do
  j=0
  while [ $j -lt 40 ]; do i=$((i+1)); j=$((j+1)); echo "seq $i"; done
  sleep 0.01
done
"""


def patched_version(data, old):
    """The binary with its version string changed (same length): every
    NUL-terminated occurrence of `old`, as the hello and --version print
    it. Returns (new bytes, new version)."""
    new = old[:-1] + ("9" if old[-1] != "9" else "8")
    needle = old.encode() + b"\0"
    if needle not in data:
        raise AssertionError("version %r not found in the binary" % old)
    return data.replace(needle, new.encode() + b"\0"), new


def run_from_copy(test):
    """sbxd runs from a copy in test.tmp that the test replaces, as a
    package upgrade replaces the installed file. Returns (the copy, the
    binary built)."""
    bindir = os.path.join(test.tmp, "bin")
    os.mkdir(bindir)
    exe = os.path.join(bindir, "sbxd")
    shutil.copy2(sbxdtest.SBXD, exe)
    real = sbxdtest.SBXD
    sbxdtest.SBXD = exe
    test.addCleanup(setattr, sbxdtest, "SBXD", real)
    return exe, real


class ReexecTest(sbxdtest.TestCase):

    def setUp(self):
        super().setUp()
        if not SBXCTL or not os.access(SBXCTL, os.X_OK):
            raise AssertionError("SBXCTL must name sbxctl (got %r)" % SBXCTL)
        self.exe, self.orig_sbxd = run_from_copy(self)
        out = subprocess.run([self.exe, "--version"], capture_output=True, text=True).stdout
        self.version = out.split()[-1]
        self.sock = os.path.join(self.tmp, "sbxd.sock")

    def start(self):
        return self.start_sbxd(["--state-dir", os.path.join(self.tmp, "state")])

    def ctl(self, *args, check=True):
        r = subprocess.run([SBXCTL, "--socket", self.sock] + list(args),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            self.fail("sbxctl %s: exit %d: %s\n%s" % (" ".join(args), r.returncode,
                                                      r.stderr, self.d.transcript()))
        return r

    def status(self):
        units = json.loads(self.ctl("status", "--json").stdout)["units"]
        return {u["name"]: u for u in units}

    def install(self, data):
        """Replaces the binary as a package manager does: a new file
        renamed over the old one (the running one keeps its inode)."""
        tmp = self.exe + ".new"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755)
        os.rename(tmp, self.exe)

    def script(self, name, text):
        path = os.path.join(self.tmp, name + ".sh")
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_fleet(self):
        """20 units: 15 sleepers, 3 restarting in a loop, a fast writer and
        one that exits 7 once told to."""
        self.flag = os.path.join(self.tmp, "flag")
        sleepers = ["s%02d" % i for i in range(15)]
        for u in sleepers:
            self.write_unit(u, {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null"},
                                "restart": {"policy": "always"}})
        loopers = ["loop%d" % i for i in range(3)]
        for u in loopers:
            self.write_unit(u, {"exec": {"command": child_cmd("sleep", "0.2", "exit", 1),
                                         "stdout": "null"},
                                "restart": {"policy": "always", "delay": "50ms",
                                            "burst": 1000, "interval": "1s"}})
        self.write_unit("writer", {"exec": {"command": "/bin/sh " + self.script("w", WRITER)},
                                   "restart": {"policy": "always"}})
        exiter = "while [ ! -e %s ]; do sleep 0.05; done; exit 7\n" % self.flag
        self.write_unit("exiter", {"exec": {"command": "/bin/sh " + self.script("x", exiter)},
                                   "restart": {"policy": "no"}})
        # Killed by a signal behind sbx's init: only the status the init
        # posts tells it from an exit with code 128+10.
        killer = "while [ ! -e %s ]; do sleep 0.05; done; kill -USR1 $$\n" % self.flag
        self.write_unit("killer", {"exec": {"command": "/bin/sh " + self.script("k", killer)},
                                   "restart": {"policy": "no"}})
        return sleepers, loopers

    def knock(self, stop, refused, greeted):
        """A client connecting in a loop: each connection is answered (at
        worst closed); a refusal is counted."""
        while not stop.is_set():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            try:
                s.connect(self.sock)
                if s.recv(4096):
                    greeted[0] += 1
            except (ConnectionRefusedError, FileNotFoundError) as e:
                refused.append(repr(e))
            except OSError:
                pass  # closed by the exec: allowed
            finally:
                s.close()

    def seqs(self):
        nums = [int(m.group(1)) for m in re.finditer(rb"^seq (\d+)$", self.read_log("writer"),
                                                     re.M)]
        return nums

    def assertNoGap(self, nums):
        self.assertTrue(nums, "the writer logged nothing")
        self.assertEqual(nums, list(range(nums[0], nums[0] + len(nums))),
                         "numbered lines missing or repeated around %s"
                         % [a for a, b in zip(nums, nums[1:]) if b != a + 1][:5])

    def test_upgrade_under_load_keeps_units(self):
        sleepers, loopers = self.write_fleet()
        d = self.start()
        kept = sleepers + ["writer", "exiter", "killer"]
        for u in kept:
            d.wait_running(20, u)
        before = {u: v["pid"] for u, v in self.status().items() if u in kept}
        for u in loopers:
            d.wait_running(20, u, count=3)
        self.wait_log("writer", b"seq 2000", 60)  # (slow under TCG in the v2 VM)
        counts = {u: v["restarts"] for u, v in self.status().items()}
        self.assertTrue(all(counts[u] >= 2 for u in loopers), counts)

        follow = subprocess.Popen([SBXCTL, "--socket", self.sock, "logs", "-f", "writer"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stop, refused, greeted = threading.Event(), [], [0]
        knockers = [threading.Thread(target=self.knock, args=(stop, refused, greeted))
                    for _ in range(2)]
        for t in knockers:
            t.start()
        time.sleep(0.3)

        data, new = patched_version(open(self.exe, "rb").read(), self.version)
        self.install(data)
        mark = d.mark()
        r = self.ctl("reexec")
        self.assertIn("%s -> %s" % (self.version, new), r.stdout)
        d.wait_line(r"re-executed, version %s" % re.escape(new), 20)
        time.sleep(1.0)
        stop.set()
        for t in knockers:
            t.join(30)
        self.assertEqual(refused, [], "clients refused during the re-exec")
        self.assertGreater(greeted[0], 0)
        self.assertEqual(d.proc.poll(), None, d.transcript())
        self.assertEqual(self.ctl("version").stdout.strip(), "sbxd " + new)

        # The stream was closed by the exec (at worst), never hung.
        try:
            out, err = follow.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            follow.kill()
            out, err = follow.communicate()
            self.fail("logs -f still streams across the exec?")
        self.assertIn(b"seq ", out)

        # Same pids, nothing started again but the loopers' own restarts.
        for u in kept:
            self.assertTrue(alive(before[u]), "%s (pid %d) died" % (u, before[u]))
            evs = d.find(unit=u, state="running", since=mark)
            self.assertEqual([(e.why, e.raw_pid()) for e in evs], [("kept", before[u])],
                             "%s after the re-exec\n%s" % (u, d.transcript()))
        # (a looper caught between two runs has an empty cgroup, removed)
        for e in d.find(event="leftovers", since=mark):
            self.assertTrue(set(e.detail.split(", ")) <= set(loopers), d.transcript())
        st = self.status()
        for u in kept:
            self.assertEqual(st[u]["state"], "running", st[u])
            self.assertEqual(st[u]["pid"], before[u], st[u])
            self.assertFalse(st[u].get("adopted"), st[u])  # its status is known
        for u in loopers:
            self.assertGreaterEqual(st[u]["restarts"], counts[u], st[u])
        # The loopers go on restarting, with real exit codes.
        since = d.mark()
        for u in loopers:
            d.wait_running(20, u, since=since, count=2)
        for e in d.find(since=mark):
            self.assertNotIn("lost", e.detail, d.transcript())

        # A unit ending after the re-exec: its real exit code.
        open(self.flag, "w").close()
        ev = d.wait_event(20, unit="exiter", state="failed", since=mark)[0]
        self.assertIn("exit code 7", ev.detail, d.transcript())
        ev = d.wait_event(20, unit="killer", state="failed", since=mark)[0]
        self.assertIn("killed by signal %d" % signal.SIGUSR1, ev.detail, d.transcript())

        # Every numbered line reached the log, none twice.
        self.wait_log("writer", b"seq %d\n" % (self.seqs()[-1] + 2000), 60)
        self.assertNoGap(self.seqs())
        self.stop_sbxd()

    def scrape(self, port, stop, tally):
        """GET /metrics in a loop: each answered 200, or (a request in
        flight at the exec) its connection closed; a refusal is counted."""
        while not stop.is_set():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                c.request("GET", "/metrics")
                r = c.getresponse()
                body = r.read()
                tally["ok" if r.status == 200 and b"sbx_" in body else "bad"] += 1
            except ConnectionRefusedError as e:
                tally["refused"] += 1
                tally["why"] = repr(e)
            except (http.client.HTTPException, ConnectionError, OSError):
                tally["closed"] += 1
            finally:
                c.close()

    def test_http_listener_kept_across_reexec(self):
        """A client scraping /metrics in a loop across three re-execs is
        never refused: the listening socket is handed over, not bound
        again (the port stays)."""
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null"}})
        d = self.start_sbxd(["--state-dir", os.path.join(self.tmp, "state"),
                             "--http", "127.0.0.1:0"])
        line = d.wait_line(r"http: listening on port \d+", 10)[0]
        port = int(re.search(r"port (\d+)", line).group(1))
        d.wait_running(20, "a")
        stop = threading.Event()
        tally = {"ok": 0, "bad": 0, "refused": 0, "closed": 0}
        scrapers = [threading.Thread(target=self.scrape, args=(port, stop, tally))
                    for _ in range(2)]
        for t in scrapers:
            t.start()
        try:
            for i in range(3):
                time.sleep(0.3)
                before = tally["ok"]
                self.ctl("reexec")
                d.wait_line(r"re-executed, version", 20)
                kept = d.wait(lambda: [l for l in d.lines
                                       if "kept across the re-exec" in l and "http" in l], 10)
                self.assertEqual(len(kept), i + 1, d.transcript())
                self.assertIn("port %d " % port, kept[-1])
                self.assertTrue(wait_until(lambda: tally["ok"] > before, 10), tally)
        finally:
            stop.set()
            for t in scrapers:
                t.join(30)
        print("\n  scrapes across 3 re-execs: %s" % tally)
        self.assertEqual((tally["refused"], tally["bad"]), (0, 0), tally)
        self.assertGreater(tally["ok"], 0)
        self.stop_sbxd()

    def test_units_caught_stopping_or_starting(self):
        """Units caught half-way by the re-exec end up where they were
        heading, once: one being stopped by hand is stopped (its stop
        signal again, the grace from then on) and not started again; one
        being restarted by hand runs once more with a new pid; one started
        but not ready yet is started again by the new program and runs
        once when ready."""
        slow = {"exec": {"command": child_cmd("ignore-term", 1000), "stdout": "null"},
                "limits": {"stop_timeout": "2s"},
                "restart": {"policy": "always"}}
        self.write_unit("stopped", slow)
        self.write_unit("restarted", slow)
        ready = os.path.join(self.tmp, "ready")
        self.write_unit("late", {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null",
                                          "ready": "file:" + ready, "ready_timeout": "60s",
                                          "env": "%s=late" % sbxdtest.UNIT_ENV},
                                 "restart": {"policy": "always"}})
        d = self.start()
        pids = {u: d.wait_running(20, u)[-1].pid() for u in ("stopped", "restarted")}
        d.wait(lambda: self.status()["late"]["state"] == "starting", 10)
        mark = d.mark()
        self.ctl("stop", "--no-wait", "stopped")
        self.ctl("restart", "--no-wait", "restarted")
        d.wait_event(10, unit="stopped", state="stopping", since=mark)
        d.wait_event(10, unit="restarted", state="stopping", since=mark)
        self.ctl("reexec")
        d.wait_line(r"re-executed, version", 20)
        d.wait_event(10, unit="stopped", state="inactive", since=mark)
        def started(unit):
            return [e for e in d.find(unit=unit, state="running", since=mark)
                    if e.why != "kept"]
        self.assertTrue(d.wait(lambda: started("restarted"), 10), d.transcript())
        self.assertNotEqual(started("restarted")[0].pid(), pids["restarted"])
        open(ready, "w").close()
        self.assertTrue(d.wait(lambda: started("late"), 20), d.transcript())
        time.sleep(1.0)
        st = self.status()
        self.assertEqual((st["stopped"]["state"], st["restarted"]["state"],
                          st["late"]["state"]), ("inactive", "running", "running"), st)
        self.assertFalse(alive(pids["stopped"]) or alive(pids["restarted"]), d.transcript())
        started = [(e.unit, e.why) for e in d.find(since=mark)
                   if e.state == "running" and e.why != "kept"]
        self.assertEqual(sorted(started), [("late", "ready"), ("restarted", "started")],
                         d.transcript())
        self.assertEqual(list(self.program_pids()), ["late"])
        self.assertEqual(len(self.program_pids()["late"]), 1)
        self.stop_sbxd()

    def test_failed_exec_leaves_sbxd_running(self):
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null"}})
        self.write_unit("b", {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null"}})
        d = self.start()
        d.wait_running(20, "a")
        d.wait_running(20, "b")
        self.ctl("stop", "b")  # stopped by hand: stays stopped across the re-exec
        pid = self.status()["a"]["pid"]
        good = open(self.exe, "rb").read()
        self.install(b"not a program\n")  # ENOEXEC
        r = self.ctl("reexec", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("exec", r.stderr)
        self.assertIn("Exec format error", r.stderr)
        self.assertTrue(d.running(), d.transcript())
        d.wait_line(r"re-exec failed, running on", 5)
        os.unlink(self.exe)  # gone: /proc/self/exe's path, then argv[0]
        d.signal(signal.SIGUSR2)
        d.wait_line(r"re-exec failed, running on: exec %s: No such file" % re.escape(self.exe),
                    10)
        self.assertTrue(d.running(), d.transcript())
        self.assertEqual(self.status()["a"]["pid"], pid)
        self.assertEqual(self.ctl("version").stdout.strip(), "sbxd " + self.version)

        # Back in place: SIGUSR2 re-executes, the unit carries on.
        self.install(good)
        mark = d.mark()
        d.signal(signal.SIGUSR2)
        d.wait_line(r"re-executed, version", 20)
        self.assertEqual(self.status()["a"]["pid"], pid)
        self.assertEqual([e.why for e in d.find(unit="a", state="running", since=mark)],
                         ["kept"], d.transcript())
        self.assertTrue(alive(pid))
        self.assertEqual(self.status()["b"]["state"], "inactive")
        self.assertEqual(d.find(unit="b", state="running", since=mark), [])
        # The lock went across: a second sbxd on the tree is still refused.
        other = subprocess.run([self.exe, "--units", self.units, "--cgroup-root", self.root,
                                "--socket", os.path.join(self.tmp, "b.sock"),
                                "--state-dir", os.path.join(self.tmp, "state")],
                               capture_output=True, text=True, timeout=20)
        self.assertNotEqual(other.returncode, 0)
        self.assertIn("(pid %d)" % d.pid, other.stderr)
        self.stop_sbxd()


class ReexecCrashTest(sbxdtest.TestCase):
    """sbxd killed with SIGKILL in the middle of its re-exec, or after one
    that failed: the next sbxd (started as after any crash) adopts every
    unit once; nothing runs twice, nothing is left."""

    stop_timeout = 40

    def setUp(self):
        super().setUp()
        self.exe, self.real = run_from_copy(self)

    def start(self):
        return self.start_sbxd(["--state-dir", os.path.join(self.tmp, "state")])

    def fleet(self):
        """12 sleepers (half behind sbx's init, half in the host's PID
        namespace) and 2 units restarting in a loop (no UNIT_ENV: they
        come and go)."""
        names = []
        for i in range(12):
            names.append("s%02d" % i)
            extra = {"sandbox": {"pid_namespace": "no"}} if i % 2 else {}
            self.write_unit(names[-1], sbxdtest.sleeper(names[-1], **extra))
        for i in range(2):
            self.write_unit("loop%d" % i, {
                "exec": {"command": child_cmd("sleep", "0.1", "exit", 1), "stdout": "null"},
                "restart": {"policy": "always", "delay": "20ms", "burst": 1000,
                            "interval": "1s"}})
        return names

    def running_pids(self, d, names):
        return {u: d.wait_running(20, u)[-1].pid() for u in names}

    def adopted_once(self, names, before):
        """The next sbxd: each unit of names adopted with the pid it had,
        none started again, then a clean stop leaves nothing."""
        d = self.start()
        self.assertRunOnce(names, 60)
        for u in names:
            d.wait_running(20, u)  # the old runs count as once before they are adopted
            evs = d.find(unit=u, state="running")
            self.assertEqual([(e.why, e.pid()) for e in evs], [("adopted", before[u])],
                             "%s\n%s" % (u, d.transcript(100)))
        self.stop_adopter()

    def test_sigkill_between_exec_and_first_loop_pass(self):
        """The new image is held before its main (a wrapper that waits on
        a FIFO, then would exec sbxd): every unit is still a child of the
        process, which is killed there."""
        names = self.fleet()
        d = self.start()
        before = self.running_pids(d, names)
        d.wait_running(20, "loop0", count=2)
        fifo = os.path.join(self.tmp, "hold")
        os.mkfifo(fifo)
        wrapper = ("#!/bin/sh\necho 'wrapper: holding' >&2\n"
                   "exec 3<>%s\nread x <&3\nexec %s \"$@\"\n" % (fifo, self.real))
        tmp = self.exe + ".new"
        with open(tmp, "w") as f:
            f.write(wrapper)
        os.chmod(tmp, 0o755)
        os.rename(tmp, self.exe)
        d.signal(signal.SIGUSR2)
        d.wait_line(r"^wrapper: holding$", 20)
        self.assertEqual(os.path.basename(os.readlink("/proc/%d/exe" % d.pid)), "dash"
                         if os.path.realpath("/bin/sh").endswith("dash")
                         else os.path.basename(os.path.realpath("/bin/sh")))
        self.crash()
        shutil.copy2(self.real, self.exe)
        self.adopted_once(names, before)

    def test_sigkill_right_after_the_exec(self):
        """Killed a moment after the exec (0 to 500 ms: in the new image's
        start, its adoption, or its first loop passes), five times: each
        time the next sbxd adopts every unit once."""
        names = self.fleet()
        phases = []
        for delay in (0.0, 0.01, 0.04, 0.15, 0.5):
            d = self.start()
            if d.find(state="running", unit=names[0]):  # adopted from the round before
                before = {u: d.wait_event(20, unit=u, state="running")[0].pid() for u in names}
            else:
                before = self.running_pids(d, names)
            self.assertRunOnce(names, 30)
            d.signal(signal.SIGUSR2)
            d.wait_line(r"re-executing", 20)
            time.sleep(delay)
            self.crash()
            phases.append("%dms: %s" % (delay * 1000, "after its first pass"
                                        if [l for l in d.lines if "re-executed" in l]
                                        else "before its first pass"))
            self.reap_adopted()
            for u in names:
                self.assertTrue(alive(before[u]), "%s (pid %d) died with sbxd" % (u, before[u]))
        print("\n  killed " + ", ".join(phases))
        self.adopted_once(names, before)

    def test_sigkill_after_a_failed_exec(self):
        """An exec that failed (not a program) leaves sbxd running as it
        was; killed then, the next sbxd adopts every unit once."""
        names = self.fleet()
        d = self.start()
        before = self.running_pids(d, names)
        good = open(self.exe, "rb").read()
        with open(self.exe + ".new", "wb") as f:
            f.write(b"not a program\n")
        os.chmod(self.exe + ".new", 0o755)
        os.rename(self.exe + ".new", self.exe)
        d.signal(signal.SIGUSR2)
        d.wait_line(r"re-exec failed, running on", 20)
        # What the failed exec handed over is closed at exec again: the
        # next runs of the loopers inherit none of it.
        mark = d.mark()
        d.wait_running(20, "loop0", since=mark)
        self.crash()
        with open(self.exe, "wb") as f:
            f.write(good)
        self.adopted_once(names, before)


if __name__ == "__main__":
    sbxdtest.main()
