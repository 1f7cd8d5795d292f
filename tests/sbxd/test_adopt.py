"""Re-adoption: sbxd killed with SIGKILL while its units run, then started
again with the same settings. Units that still run are adopted (same pid,
state running, why adopted, never started twice), a unit that ended while
sbxd was down is reported lost and restarted by its policy, cgroups no
unit claims are ended and removed, a changed definition is restarted, and
a second sbxd on the same tree is refused naming the first."""

import os
import shutil
import signal
import subprocess
import time
import unittest

import sbxdtest
from sbxdtest import alive, wait_until


def sleeper(**extra):
    return sbxdtest.sleeper(None, **extra)


class AdoptTest(sbxdtest.TestCase):

    def start(self):
        return self.start_sbxd(["--state-dir", os.path.join(self.tmp, "state")])

    def pids(self, d, units):
        return {u: d.wait_running(15, u)[-1].pid() for u in units}

    def test_running_units_are_adopted_not_started_again(self):
        units = ("plain", "pidns", "capped")
        self.write_unit("plain", sleeper())
        self.write_unit("pidns", sleeper(sandbox={"pid_namespace": "init"}))
        self.write_unit("capped", sleeper(limits={"memory": "64M", "pids": 16}))
        first = self.start()
        before = self.pids(first, units)
        self.crash()
        for u, pid in before.items():
            self.assertTrue(alive(pid), "%s (pid %d) died with sbxd" % (u, pid))
        # sbx's init (a fork of sbxd) does not answer to `pidof sbxd`.
        init = before["pidns"]
        if sbxdtest.cmdline(init)[0] != "sbx-init":  # the program's pid: its parent
            init = sbxdtest.ppid_of(init)
        self.assertEqual(sbxdtest.cmdline(init)[0], "sbx-init")
        if shutil.which("pidof"):
            r = subprocess.run(["pidof", os.path.basename(sbxdtest.SBXD)],
                               capture_output=True, text=True)
            self.assertNotIn(str(init), r.stdout.split())
        d = self.start()
        for u in units:
            ev = d.wait_event(10, unit=u, state="running")[0]
            self.assertEqual(ev.why, "adopted", d.transcript())
            self.assertEqual(ev.pid(), before[u], d.transcript())
        time.sleep(0.5)
        self.assertEqual([e for e in d.find(state="running") if e.why != "adopted"], [],
                         "a unit was started again\n" + d.transcript())
        # The adopted run's end: lost, then restarted by its policy.
        mark = d.mark()
        os.kill(before["plain"], signal.SIGKILL)
        ev = d.wait_event(10, unit="plain", state="backoff", since=mark)[0]
        self.assertIn("lost", ev.detail, d.transcript())
        new = d.wait_running(10, "plain", since=mark)[0].pid()
        self.assertNotEqual(new, before["plain"])
        # A stop of an adopted unit ends it (whole box, init included).
        self.stop_adopter()
        for u, pid in before.items():
            self.assertFalse(alive(pid), "%s (pid %d) survived the stop" % (u, pid))

    def test_unit_that_ended_while_down_is_lost_and_restarted(self):
        self.write_unit("gone", sleeper())
        self.write_unit("stays", sleeper())
        first = self.start()
        pids = self.pids(first, ("gone", "stays"))
        self.crash()
        os.kill(pids["gone"], signal.SIGKILL)
        wait_until(lambda: not alive(pids["gone"]), 5)
        d = self.start()
        ev = d.wait_event(10, unit="gone", state="backoff")[0]
        self.assertIn("lost", ev.detail, d.transcript())
        self.assertIn("ended while sbxd was down", ev.detail, d.transcript())
        d.wait_running(10, "gone")
        ev = d.wait_event(10, unit="stays", state="running")[0]
        self.assertEqual((ev.why, ev.pid()), ("adopted", pids["stays"]), d.transcript())
        self.stop_adopter()

    def test_unclaimed_cgroups_are_ended_and_removed(self):
        self.write_unit("kept", sleeper())
        self.write_unit("dropped", sleeper())
        first = self.start()
        pids = self.pids(first, ("kept", "dropped"))
        self.crash()
        self.remove_unit("dropped")
        # An empty leftover too: never "File exists" at the next start.
        for top in sbxdtest.cgroup_root_dirs(self.root):
            os.mkdir(os.path.join(top, "empty"))
        self.write_unit("empty", sleeper())
        d = self.start()
        line = d.wait_line(r'"event":"leftovers"', 10)[0]
        self.assertIn("dropped", line)
        self.assertTrue(wait_until(lambda: not alive(pids["dropped"]), 5),
                        "the unclaimed unit still runs")
        d.wait_running(10, "empty")
        for top in sbxdtest.cgroup_root_dirs(self.root):
            self.assertFalse(os.path.exists(os.path.join(top, "dropped")), top)
        self.assertEqual(d.find(unit="empty", state="failed"), [], d.transcript())
        self.stop_adopter()

    def test_changed_definition_is_restarted(self):
        self.write_unit("web", sleeper())
        first = self.start()
        pid = self.pids(first, ("web",))["web"]
        named = first.find(unit="web", state="running")[0].raw_pid()
        self.crash()
        self.write_unit("web", sleeper(exec={"env": "CHANGED=1"}))
        d = self.start()
        ev = d.wait_event(10, unit="web", state="running")[0]
        # The same run (named as when it started: its init, or itself).
        self.assertEqual((ev.why, ev.raw_pid()), ("adopted", named), d.transcript())
        d.wait_event(10, unit="web", event="changed")
        new = d.wait_running(15, "web", count=2)[1].pid()
        self.assertNotEqual(new, pid)
        self.assertTrue(wait_until(lambda: not alive(pid), 5))
        self.stop_adopter()

    def test_second_sbxd_on_the_tree_is_refused(self):
        self.write_unit("one", sleeper())
        first = self.start()
        first.wait_running(10, "one")
        args = ["--units", self.units, "--cgroup-root", self.root,
                "--socket", os.path.join(self.tmp, "other.sock")]
        # The same explicit state directory, and the default one of the tree.
        for extra in (["--state-dir", os.path.join(self.tmp, "state")], []):
            if not extra:
                self.d.stop()
                self.d = self.start_sbxd([])
                self.d.wait_running(10, "one")
            r = subprocess.run([sbxdtest.SBXD] + args + extra, capture_output=True,
                               timeout=20, env=dict(os.environ, SBX_TEST_TAG=self.tag))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("another sbxd (pid %d)" % self.d.pid, r.stderr.decode())
        self.assertTrue(self.d.running())


    def test_output_written_while_down_reaches_the_log(self):
        """The unit's output goes through a FIFO in the state directory that
        it holds open for reading too: no SIGPIPE while sbxd is down, and
        what it wrote then reaches the log once sbxd is back."""
        script = os.path.join(self.tmp, "talk.sh")
        with open(script, "w") as f:
            f.write("i=0\nwhile true\ndo\n  echo \"line $i\"\n  i=$((i+1))\n"
                    "  sleep 0.02\ndone\n")
        self.write_unit("talk", {"exec": {"command": "/bin/sh " + script},
                                 "restart": {"policy": "always"}})
        first = self.start()
        pid = self.pids(first, ("talk",))["talk"]
        self.wait_log("talk", b"line 5\n")
        self.crash()
        time.sleep(1.0)  # ~50 lines with nobody reading
        self.assertTrue(alive(pid), "the unit died while sbxd was down")
        d = self.start()
        ev = d.wait_event(10, unit="talk", state="running")[0]
        self.assertEqual((ev.why, ev.pid()), ("adopted", pid),
                         "before the crash:\n%s\nafter:\n%s" % (first.transcript(), d.transcript()))
        self.assertTrue(wait_until(lambda: self.read_log("talk").count(b"\n") > 80, 10))
        lines = self.read_log("talk").decode().splitlines()
        numbers = [int(l.split()[1]) for l in lines]
        self.assertEqual(numbers, list(range(len(numbers))), "lines lost or doubled")
        self.stop_adopter()

    def test_container_pid1_exits_0_on_sigterm(self):
        """PID 1 of a PID namespace that is not the first (a container)
        exits 0 on SIGTERM instead of calling reboot() (status 130)."""
        if not shutil.which("unshare"):
            sbxdtest.skip("unshare(1) is not installed")
        self.write_unit("one", sleeper())
        p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sbxdtest.SBXD,
                              "--units", self.units, "--cgroup-root", self.root,
                              "--socket", "none", "--state-dir", "none"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=dict(os.environ, SBX_TEST_TAG=self.tag))
        inner = wait_until(lambda: [c for c, _ in sbxdtest.children_of(p.pid)], 10)
        self.assertTrue(inner, "unshare started nothing")
        time.sleep(1.0)
        os.kill(inner[0], signal.SIGTERM)
        try:
            err = p.communicate(timeout=30)[1].decode()
        except subprocess.TimeoutExpired:
            p.kill()
            raise
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("running (started)", err)
        self.assertIn("sbxd: stopped", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
