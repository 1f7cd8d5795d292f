"""Limits of a unit under sbxd: runtime_max ends the run (result timeout)
and kills the whole tree, double-forked grandchildren and SIGTERM-ignoring
children included; a memory hog is seen as out of memory (an oom event,
and the run's result), and on_oom decides whether it comes back."""

import os
import time

import sbxdtest
import sbxtest
from sbxdtest import child_cmd


class RuntimeMaxTest(sbxdtest.TestCase):

    def read_pid(self, path, timeout=5):
        ok = sbxdtest.wait_until(lambda: os.path.exists(path), timeout)
        self.assertTrue(ok, "%s never appeared\n%s" % (path, self.d.transcript()))
        with open(path) as f:
            return int(f.read())

    def test_runtime_max_stops_the_unit_and_kills_grandchildren(self):
        pidfile = os.path.join(self.tmp, "grandchild.pid")
        self.write_unit("slow", {
            "exec": {"command": child_cmd("double-fork", pidfile, "sleep", 60)},
            "limits": {"runtime_max": "700ms", "stop_timeout": "2s"},
            "restart": {"policy": "no"},
            # The grandchild's pid is written from inside: the host's view.
            "sandbox": {"pid_namespace": "no"}})
        d = self.start_sbxd()
        run = d.wait_running(10, "slow")[0]
        grand = self.read_pid(pidfile)
        self.assertTrue(sbxdtest.alive(grand), "the grandchild %d is not running" % grand)
        self.assertIn(grand, sbxtest.tagged_pids(self.tag))
        self.assertTrue(sbxdtest.alive(run.pid()))
        end = d.wait_event(10, unit="slow", state="failed")[0]
        self.assertEqual(end.detail, "runtime_max reached", end)
        took = end.time_ms - run.time_ms
        self.assertGreaterEqual(took, 700 - 5, d.transcript())
        self.assertLess(took, 700 + 1500, d.transcript())
        self.assertTrue(sbxtest.process_gone(grand, 2.0),
                        "grandchild %d survived runtime_max (state %s)"
                        % (grand, sbxtest.proc_state(grand)))
        self.assertTrue(sbxtest.process_gone(run.pid(), 2.0))
        time.sleep(0.2)
        self.assertEqual(len(d.find(unit="slow", state="running")), 1, d.transcript())

    def test_runtime_max_kills_a_tree_ignoring_sigterm(self):
        # Both processes ignore SIGTERM: the kill comes after stop_timeout.
        self.write_unit("stubborn", {
            "exec": {"command": child_cmd("ignore-term", 60)},
            "limits": {"runtime_max": "400ms", "stop_timeout": "400ms"},
            "restart": {"policy": "on-abnormal", "delay": "100ms", "burst": 2,
                        "interval": "1m"}})
        d = self.start_sbxd()
        run = d.wait_running(10, "stubborn")[0]
        ok = sbxdtest.wait_until(lambda: len(sbxdtest.children_of(run.pid())) == 1, 3)
        self.assertTrue(ok, "the child of %d did not appear" % run.pid())
        kid = sbxdtest.children_of(run.pid())[0][0]
        # on-abnormal restarts a timeout: running, backoff, running, failed.
        back = d.wait_event(10, unit="stubborn", state="backoff")[0]
        self.assertEqual(back.detail, "runtime_max reached", back)
        took = back.time_ms - run.time_ms
        self.assertGreaterEqual(took, 400 + 400 - 10, d.transcript())
        self.assertLess(took, 400 + 400 + 1500, d.transcript())
        self.assertTrue(sbxtest.process_gone(kid, 2.0), "child %d survived" % kid)
        self.assertTrue(sbxtest.process_gone(run.pid(), 2.0))
        d.wait_event(10, unit="stubborn", state="running", count=2)
        end = d.wait_event(10, unit="stubborn", state="failed")[0]
        self.assertIn("gave up", end.why, end)


class OomTest(sbxdtest.TestCase):

    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("memory")

    def test_memory_hog_is_out_of_memory_and_on_oom_stop_keeps_it_down(self):
        self.write_unit("hog", {
            "exec": {"command": child_cmd("alloc", 200, "sleep", 30)},
            "limits": {"memory": "32M"},
            "restart": {"policy": "always", "delay": "50ms", "on_oom": "stop"}})
        # The same hog with on_oom = restart comes back.
        self.write_unit("hog2", {
            "exec": {"command": child_cmd("alloc", 200, "sleep", 30)},
            "limits": {"memory": "32M"},
            "restart": {"policy": "on-failure", "delay": "50ms", "on_oom": "restart",
                        "burst": 2, "interval": "1m"}})
        d = self.start_sbxd()
        end = d.wait_event(15, unit="hog", state="failed")[0]
        self.assertRegex(end.detail, r"^out of memory", end)
        # hog2: out of memory, restarted, out of memory again, gives up.
        back = d.wait_event(15, unit="hog2", state="backoff")[0]
        self.assertRegex(back.detail, r"^out of memory", back)
        d.wait_event(15, unit="hog2", state="running", count=2)
        end2 = d.wait_event(15, unit="hog2", state="failed")[0]
        self.assertRegex(end2.detail, r"^out of memory", end2)
        time.sleep(0.3)  # six times the delay: hog must not come back
        self.assertEqual(len(d.find(unit="hog", state="running")), 1, d.transcript())
        self.assertEqual(d.find(unit="hog", state="backoff"), [], d.transcript())
        self.assertEqual(d.state_of("hog"), "failed")

    def test_every_oom_kill_is_reported_as_an_oom_event(self):
        # Three runs, each OOM-killed: each run gets its own "oom" event
        # (between its start and the next start), whatever on_oom says.
        self.write_unit("hog", {
            "exec": {"command": child_cmd("alloc", 200, "sleep", 30)},
            "limits": {"memory": "32M"},
            "restart": {"policy": "on-failure", "delay": "100ms", "on_oom": "restart",
                        "burst": 3, "interval": "1m"}})
        self.write_unit("hogstop", {
            "exec": {"command": child_cmd("alloc", 200, "sleep", 30)},
            "limits": {"memory": "32M"},
            "restart": {"on_oom": "stop"}})
        d = self.start_sbxd()
        d.wait_event(15, unit="hog", state="failed")
        d.wait_event(15, unit="hogstop", state="failed")
        time.sleep(0.3)  # a late notification still has time to arrive
        for unit, runs in (("hog", 3), ("hogstop", 1)):
            evs = d.find(unit=unit)
            starts = [i for i, e in enumerate(evs) if e.state == "running"]
            self.assertEqual(len(starts), runs, d.transcript())
            bounds = starts + [len(evs)]
            missing = []
            for k in range(runs):
                run = evs[bounds[k]:bounds[k + 1]]
                ooms = [e for e in run if e.event == "oom"]
                if len(ooms) != 1:
                    missing.append(k + 1)
                for e in ooms:
                    self.assertRegex(e.detail, r"^1 process\(es\) killed$")
            self.assertEqual(missing, [], "%s: runs without exactly one oom event "
                             "(every one ended out of memory)\n%s" % (unit, d.transcript()))


class UserTest(sbxdtest.TestCase):
    """[exec] user and group, by name or by number: the program runs with
    those ids and no supplementary group."""

    def run_as(self, name, user, group):
        out = os.path.join(self.tmp, name + ".out")
        self.write_unit(name, {"exec": {"command": child_cmd("ids"), "user": user,
                                        "group": group, "stdout": "file:" + out},
                               "restart": {"policy": "no"}})
        return out

    def test_user_and_group_by_name_and_by_number(self):
        if os.geteuid() != 0:
            sbxtest.skip("needs root to change ids")
        outs = [self.run_as("byname", "nobody", "nogroup"), self.run_as("bynum", "65534", "65534")]
        d = self.start_sbxd()
        for unit in ("byname", "bynum"):
            d.wait_event(10, unit=unit, state="exited")
        for out in outs:
            with open(out) as f:
                self.assertEqual(f.read(), "uid 65534 euid 65534 gid 65534 egid 65534 groups \n")


if __name__ == "__main__":
    sbxdtest.main()
