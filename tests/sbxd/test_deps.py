"""Dependencies: a unit starts only once the units it requires run (they
are pulled in), is not started when one of them failed, and on SIGTERM
the units stop in reverse order: a required unit is asked to stop only
once every unit that requires it has stopped."""

import os

import sbxdtest
from sbxdtest import child_cmd


class DepsTest(sbxdtest.TestCase):

    def index(self, unit, state):
        evs = self.d.find(unit=unit, state=state)
        self.assertTrue(evs, "no %s event for %s\n%s" % (state, unit, self.d.transcript()))
        return evs[0].index

    def test_start_in_dependency_order_stop_in_reverse(self):
        # web -> cache -> db (requires); names sort against the order.
        self.write_unit("db", {"exec": {"command": child_cmd("sleep", 60)}})
        self.write_unit("cache", {"unit": {"requires": "db"},
                                  "exec": {"command": child_cmd("sleep", 60)}})
        # web holds on to SIGTERM for a while: cache must wait for it.
        self.write_unit("aweb", {"unit": {"requires": "cache", "after": "db"},
                                 "exec": {"command": child_cmd("ignore-term", 60)},
                                 "limits": {"stop_timeout": "400ms"}})
        d = self.start_sbxd()
        for u in ("db", "cache", "aweb"):
            d.wait_running(10, u)
        self.wait_log("aweb", b"ready\n")  # it ignores SIGTERM from now on
        self.assertLess(self.index("db", "running"), self.index("cache", "running"),
                        d.transcript())
        self.assertLess(self.index("cache", "running"), self.index("aweb", "running"),
                        d.transcript())
        pids = {u: d.find(unit=u, state="running")[0].pid() for u in ("db", "cache", "aweb")}
        for u, pid in pids.items():
            self.assertTrue(sbxdtest.alive(pid), "%s: pid %s" % (u, pid))
        self.stop_sbxd()
        # Reverse: aweb stopped before cache is asked to stop, cache before db.
        self.assertLess(self.index("aweb", "inactive"), self.index("cache", "stopping"),
                        d.transcript())
        self.assertLess(self.index("cache", "inactive"), self.index("db", "stopping"),
                        d.transcript())
        gap = d.find(unit="cache", state="stopping")[0].time_ms - \
            d.find(unit="aweb", state="stopping")[0].time_ms
        self.assertGreaterEqual(gap, 400 - 5, "cache did not wait for aweb's stop_timeout\n%s"
                                % d.transcript())
        for u in ("db", "cache", "aweb"):
            self.assertEqual(d.state_of(u), "inactive", d.transcript())

    def check_not_started(self, broken_unit):
        self.write_unit("broken", broken_unit)
        self.write_unit("needy", {"unit": {"requires": "broken"},
                                  "exec": {"command": child_cmd("touch",
                                                                self.tmp + "/needy-ran")}})
        self.write_unit("other", {"exec": {"command": child_cmd("sleep", 60)}})
        d = self.start_sbxd()
        ev = d.wait_event(10, unit="broken", state="failed")[0]
        self.assertRegex(ev.detail, r"^start failed", ev)
        d.wait_running(10, "other")
        d.wait(lambda: d.find(unit="needy", state="failed") or
               d.find(unit="needy", state="exited"), 5)
        self.assertEqual(d.find(unit="needy", state="running"), [],
                         "needy was started although the unit it requires failed to start\n%s"
                         % d.transcript())
        self.assertFalse(os.path.exists(self.tmp + "/needy-ran"))
        ev = d.wait_event(5, unit="needy", state="failed")[0]
        self.assertIn("required unit failed", ev.why, ev)

    def test_not_started_when_a_required_unit_cannot_start_no_user(self):
        # Refused before any fork: no such user.
        self.check_not_started({"exec": {"command": child_cmd("sleep", 60),
                                         "user": "no-such-user-sbxd-test"},
                                "restart": {"policy": "no"}})

    def test_not_started_when_a_required_unit_cannot_start_no_program(self):
        # Fails in the child, at exec: a start failure all the same.
        self.check_not_started({"exec": {"command": "/nonexistent/program"},
                                "restart": {"policy": "no"}})


if __name__ == "__main__":
    sbxdtest.main()
