"""SIGTERM (and SIGINT) stop every unit and sbxd exits 0, leaving no
process of the units (double-forked and SIGTERM-ignoring ones included),
no zombie, and no directory of its cgroup root in any hierarchy."""

import os
import signal
import time

import sbxdtest
import sbxtest
from sbxdtest import child_cmd


class ShutdownTest(sbxdtest.TestCase):

    def test_sigterm_stops_everything_and_leaves_nothing(self):
        pidfile = os.path.join(self.tmp, "grand.pid")
        self.write_unit("plain", {"exec": {"command": child_cmd("sleep", 60)}})
        have = sbxtest.machine().controllers
        limits = {k: v for k, v in (("memory", "64M"), ("pids", 16)) if k in have}
        self.write_unit("limited", {"exec": {"command": child_cmd("sleep", 60)},
                                    "limits": limits or {"stop_timeout": "5s"}})
        # The grandchild's pid is written from inside: the host's view.
        self.write_unit("forker", {"exec": {"command": child_cmd("double-fork", pidfile,
                                                                 "sleep", 60)},
                                   "sandbox": {"pid_namespace": "no"}})
        self.write_unit("stubborn", {"exec": {"command": child_cmd("ignore-term", 60)},
                                     "limits": {"stop_timeout": "500ms"}})
        self.write_unit("done", {"exec": {"command": child_cmd("exit", 0)}})
        d = self.start_sbxd()
        units = ("plain", "limited", "forker", "stubborn")
        pids = {u: d.wait_running(10, u)[0].pid() for u in units}
        d.wait_event(10, unit="done", state="exited")
        self.wait_log("stubborn", b"ready\n")
        self.assertTrue(sbxdtest.wait_until(lambda: os.path.exists(pidfile), 5))
        with open(pidfile) as f:
            grand = int(f.read())
        self.assertTrue(sbxdtest.alive(grand))
        tagged = set(sbxtest.tagged_pids(self.tag)) - {d.pid}
        self.assertGreaterEqual(len(tagged), 6, tagged)  # 4 mains, 1 child, 1 grandchild
        # The check below means something: the root and unit cgroups exist.
        roots = sbxdtest.cgroup_root_dirs(self.root)
        self.assertTrue(roots, "no cgroup root %s below our cgroups %s"
                        % (self.root, sbxdtest.own_cgroup_dirs()))
        for r in roots:
            self.assertTrue(os.path.isdir(os.path.join(r, "plain")), r)
        t0 = time.monotonic()
        self.stop_sbxd()  # exit 0; no process, zombie or cgroup left
        took = time.monotonic() - t0
        self.assertLess(took, 5.0, d.transcript())
        self.assertTrue(sbxtest.process_gone(grand, 0.5))
        for u in units:
            self.assertEqual(d.state_of(u), "inactive", d.transcript())
            self.assertFalse(sbxdtest.alive(pids[u]))
        self.assertEqual(d.find(unit="done", state="stopping"), [])
        self.assertRegex(d.find(unit="stubborn", state="inactive")[0].detail, r"signal 9",
                         d.transcript())
        self.assertEqual(d.find(unit="plain", state="inactive")[0].detail,
                         "killed by signal 15", d.transcript())
        self.assertIn("sbxd: stopped", d.lines)

    def test_sigint_is_a_clean_stop_too(self):
        self.write_unit("plain", {"exec": {"command": child_cmd("sleep", 60)}})
        d = self.start_sbxd()
        d.wait_running(10, "plain")
        d.signal(signal.SIGINT)
        d.wait_event(5, unit="plain", state="inactive")
        self.stop_sbxd(timeout=5)

    def test_a_storm_of_signals_during_shutdown_never_kills_sbxd(self):
        # Every TERM/INT after the first is a no-op, including those that
        # land while sbxd closes its signal handlers on the way out.
        for i in range(3):
            self.write_unit("u%d" % i, {"exec": {"command": child_cmd("sleep", 60)}})
        for _ in range(5):
            d = self.start_sbxd()
            for i in range(3):
                d.wait_running(10, "u%d" % i)
            d.signal(signal.SIGINT)
            while d.proc.poll() is None:
                try:
                    d.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    break
                time.sleep(0.0002)
            self.stop_sbxd(timeout=5)

    def test_stop_signal_reaches_units_stopped_right_after_start(self):
        # SIGTERM as soon as sbxd says the unit runs: it must end by its
        # stop signal (SIGTERM), not by the SIGKILL after stop_timeout. The
        # window is short: try a few times, each with a fresh sbxd.
        self.write_unit("quick", {"exec": {"command": child_cmd("sleep", 60)},
                                  "limits": {"stop_timeout": "1s"}})
        endings = []
        for _ in range(4):
            d = self.start_sbxd(wait_loaded=False)
            d.wait_event(10, unit="quick", state="running")
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            self.stop_sbxd(timeout=10)  # exit 0, nothing left
            took = time.monotonic() - t0
            end = d.find(unit="quick", state="inactive")
            endings.append((end[0].detail if end else None, round(took, 2)))
        self.assertEqual([e[0] for e in endings], ["killed by signal 15"] * 4,
                         "how each stop ended (and took, s): %s" % endings)


if __name__ == "__main__":
    sbxdtest.main()
