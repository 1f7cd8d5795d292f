"""Timeouts end the whole tree: setsid and double-forked grandchildren,
processes that ignore SIGTERM (after the grace), fork bombs. Nothing of a
run survives it, and its cgroup is gone."""

import os
import signal
import time

import sbxtest
from sbxtest import EXIT_TIMEOUT, HOST_PIDS, process_gone, sbx, start


class Timeout(sbxtest.TestCase):
    def test_sleep_10_with_1s_timeout(self):
        r = sbx(["-t", "1s"], child=["sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 1.0, 1.5)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_quick_program_is_not_a_timeout(self):
        r = sbx(["-t", "5s"], child=["exit", "7"])
        self.assertStatus(r, 7)
        self.assertResult(r, reason="exited", exit_code=7)
        self.assertWall(r, 0, 2.0)

    def test_timeout_in_ms(self):
        r = sbx(["-t", "300ms"], child=["sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 0.3, 1.0)


class WholeTree(sbxtest.TestCase):
    def pid_from(self, pidfile):
        self.assertTrue(os.path.exists(pidfile), "the grandchild wrote no pid file")
        with open(pidfile) as f:
            return int(f.read())

    def assertGone(self, pid, run):
        self.assertTrue(process_gone(pid), "grandchild %d still there (state %s)\n%s"
                        % (pid, sbxtest.proc_state(pid), run))

    def test_timeout_kills_double_forked_grandchild(self):
        # The main process keeps running; the grandchild is in a session of
        # its own, outside the main process's process group.
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(["-t", "1s", *HOST_PIDS], child=["double-fork", pidfile, "pid", "sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 1.0, 1.5)
        self.assertGone(self.pid_from(pidfile), r)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_timeout_kills_leftovers_waited_for(self):
        # The main process exits at once; --wait-leftovers waits for the
        # orphaned grandchild, which the timeout then ends.
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(["-t", "1s", "--wait-leftovers", *HOST_PIDS], child=["double-fork", pidfile])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertGone(self.pid_from(pidfile), r)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)
        # The run lasted until its timeout, and wall_ms says so (not just
        # how long the main process lived).
        self.assertWall(r, 1.0, 1.5)

    def test_leftovers_killed_when_main_exits(self):
        # Default: when the main process exits, the rest of the tree goes.
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(HOST_PIDS, child=["double-fork", pidfile, "exit", "5"])
        self.assertStatus(r, 5)
        self.assertResult(r, reason="exited", exit_code=5)
        self.assertWall(r, 0, 1.0)
        self.assertGone(self.pid_from(pidfile), r)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_term_ignoring_tree_killed_after_grace(self):
        r = sbx(["-t", "500ms", "--kill-grace", "500ms"], child=["ignore-term", "30"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout", signal=9)
        self.assertEqual(r.text(), "ready\n")
        # Not before timeout + grace, and not long after.
        self.assertWall(r, 1.0, 1.7)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_fork_bomb_contained(self):
        sbxtest.need_cgroups("pids")
        r = sbx(["--pids", "50", "-t", "1s", "--kill-grace", "300ms"],
                child=["forkbomb"], timeout=20)
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        peak = r.result["pids_peak"]
        if peak is not None:
            self.assertLessEqual(peak, 50, r)
            self.assertGreater(peak, 1, r)
        self.assertWall(r, 1.0, 3.0)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)


class StopBySignal(sbxtest.TestCase):
    """SIGTERM/SIGINT to sbx-run itself stops the whole run, as a timeout
    does, and sbx-run still cleans up and reports."""

    def stop(self, sig, opts, child):
        """Runs child (whose output starts with its pid, after which it is
        ready), then sends sig to sbx-run. Returns the run, how long the
        stop took, and the target's pid."""
        p = start(opts, child=child)
        first = p.proc.stdout.readline()
        self.assertTrue(first.strip().isdigit(), "the target did not start: %r" % first)
        if "ignore-term" in child:
            self.assertEqual(p.proc.stdout.readline(), b"ready\n")
        t0 = time.monotonic()
        p.proc.send_signal(sig)
        r = p.finish()
        return r, time.monotonic() - t0, int(first)

    def test_sigterm_stops_the_tree(self):
        pidfile = os.path.join(self.tmp, "pid")
        r, took, main_pid = self.stop(signal.SIGTERM, HOST_PIDS,
                                      ["double-fork", pidfile, "pid", "sleep", "10"])
        self.assertStatus(r, 143)
        self.assertResult(r, reason="signaled", signal=15, stopped=True)
        self.assertLess(took, 1.0, r)
        self.assertTrue(process_gone(main_pid), r)
        with open(pidfile) as f:
            self.assertTrue(process_gone(int(f.read())), r)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_sigint_then_grace_for_term_ignoring_tree(self):
        r, took, _ = self.stop(signal.SIGINT, ["--kill-grace", "400ms"],
                               ["pid", "ignore-term", "30"])
        self.assertStatus(r, 137)
        self.assertResult(r, reason="signaled", signal=9, stopped=True)
        self.assertGreaterEqual(took, 0.4, r)
        self.assertLess(took, 1.2, r)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)


if __name__ == "__main__":
    sbxtest.main()
