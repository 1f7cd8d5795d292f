"""Restart policies and backoff, as sbxd's events show them: a crash loop
backs off exponentially (the gaps between starts grow), is capped by
delay_max, and ends `failed` after `burst` starts; on-failure leaves a
clean exit alone (state exited) and restarts an exit 1."""

import time

import sbxdtest
from sbxdtest import child_cmd


class RestartTest(sbxdtest.TestCase):

    def starts(self, unit):
        return self.d.find(unit=unit, state="running")

    def gaps(self, unit):
        t = [e.time_ms for e in self.starts(unit)]
        return [b - a for a, b in zip(t, t[1:])]

    def waits(self, unit):
        """ms from each backoff event to the start that ends it."""
        evs = [e for e in self.d.find(unit=unit) if e.state in ("backoff", "running")]
        return [b.time_ms - a.time_ms for a, b in zip(evs, evs[1:])
                if a.state == "backoff" and b.state == "running"]

    def test_crash_loop_backs_off_exponentially_then_fails(self):
        # Starts at t0, then after ~delay*2^(k-1) each (jittered, never
        # below delay): 5 starts, then the 5th failure gives up.
        self.write_unit("crash", {
            "exec": {"command": child_cmd("exit", 1)},
            "restart": {"policy": "on-failure", "delay": "100ms", "delay_max": "5s",
                        "burst": 5, "interval": "30s"}})
        # The same loop with a low cap: every gap stays near delay_max.
        self.write_unit("capped", {
            "exec": {"command": child_cmd("exit", 2)},
            "restart": {"policy": "on-failure", "delay": "60ms", "delay_max": "120ms",
                        "burst": 5, "interval": "30s"}})
        d = self.start_sbxd()
        for unit in ("crash", "capped"):
            ev = d.wait_event(15, unit=unit, state="failed")[0]
            self.assertIn("gave up", ev.why, ev)
            self.assertEqual(ev.detail, "exit code %d" % (1 if unit == "crash" else 2), ev)
        time.sleep(0.4)  # longer than any delay: a start now would be a bug
        self.assertEqual(len(self.starts("crash")), 5, d.transcript())
        self.assertEqual(len(self.starts("capped")), 5, d.transcript())
        self.assertEqual(d.state_of("crash"), "failed")
        self.assertEqual(len(d.find(unit="crash", state="backoff")), 4, d.transcript())

        # The waits: from each failure (backoff event) to the next start.
        # (Start-to-start gaps also hold each run's own time; and the very
        # first start is stamped with the loop's time before it ran.)
        w = self.waits("crash")
        g = self.gaps("crash")[1:]
        msg = "crash: waits %s ms, gaps between starts 2..5 %s ms\n%s" % (w, g, d.transcript())
        self.assertEqual(len(w), 4, msg)
        for x in w:
            self.assertGreaterEqual(x, 100 - 2, msg)      # never below delay
        for a, b in zip(w, w[1:]):
            self.assertGreaterEqual(b, a - 15, msg)       # they do not shrink
        self.assertGreaterEqual(w[3], 3 * w[0], msg)      # and they grow fast
        self.assertGreater(w[2] + w[3], 1.8 * (w[0] + w[1]), msg)
        self.assertLess(w[3], 800 + 300, msg)             # delay * 2^3, plus slack
        for a, b in zip(g, g[1:]):
            self.assertGreaterEqual(b, a - 15, msg)       # the starts spread out
        self.assertGreater(g[2], 1.5 * g[0], msg)

        c = self.waits("capped")
        msg = "capped: waits %s ms\n%s" % (c, d.transcript())
        self.assertEqual(len(c), 4, msg)
        for x in c:
            self.assertGreaterEqual(x, 60 - 2, msg)
            self.assertLess(x, 120 + 150, msg)            # delay_max holds

    def test_on_failure_restarts_exit_1_not_exit_0(self):
        self.write_unit("clean", {
            "exec": {"command": child_cmd("exit", 0)},
            "restart": {"policy": "on-failure", "delay": "50ms"}})
        self.write_unit("dirty", {
            "exec": {"command": child_cmd("sleep", 0.1, "exit", 1)},
            "restart": {"policy": "on-failure", "delay": "50ms", "delay_max": "50ms",
                        "burst": 3, "interval": "30s"}})
        d = self.start_sbxd()
        ev = d.wait_event(10, unit="clean", state="exited")[0]
        self.assertEqual(ev.detail, "exit code 0", ev)
        # dirty: exit 1 -> backoff -> running again, until its burst is spent.
        back = d.wait_event(10, unit="dirty", state="backoff")[0]
        self.assertEqual(back.detail, "exit code 1", back)
        d.wait_event(10, unit="dirty", state="running", count=2)
        d.wait_event(10, unit="dirty", state="failed")
        time.sleep(0.3)  # six times clean's delay: no restart may come
        self.assertEqual(len(d.find(unit="clean", state="running")), 1, d.transcript())
        self.assertEqual(d.find(unit="clean", state="backoff"), [], d.transcript())
        self.assertEqual(d.state_of("clean"), "exited")
        self.assertEqual(len(d.find(unit="dirty", state="running")), 3, d.transcript())

    def test_every_restart_is_logged_even_without_delay(self):
        # delay = 0: the restart follows the exit at once. Each run must
        # still show up in sbxd's events (its start, and how it ended).
        self.write_unit("eager", {
            "exec": {"command": child_cmd("sleep", 0.05, "exit", 1)},
            "restart": {"policy": "on-failure", "delay": "0", "delay_max": "0",
                        "burst": 3, "interval": "30s"}})
        d = self.start_sbxd()
        end = d.wait_event(10, unit="eager", state="failed")[0]
        self.assertIn("gave up", end.why, end)
        pids = [e.pid() for e in d.find(unit="eager", state="running")]
        self.assertEqual(len(pids), 3, "3 starts, but the events show %d\n%s"
                         % (len(pids), d.transcript()))
        self.assertEqual(len(set(pids)), 3)


if __name__ == "__main__":
    sbxdtest.main()
