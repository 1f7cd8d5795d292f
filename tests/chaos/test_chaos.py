"""Chaos: a fleet under sbxd (sleepers with restart = always, some in PID
namespaces, some with limits, and crash-looping units), sbxd killed with
SIGKILL at random moments and started again with the same settings, unit
processes killed while it is down. At the end: every unit that should run
runs exactly once (one process of the program per unit, in its own
cgroup), no process of the fleet runs outside a unit's cgroup, and after a
clean stop no process, zombie or cgroup is left."""

import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sbxd"))
import sbxdtest  # noqa: E402
from sbxdtest import UNIT_ENV, child_cmd, wait_until  # noqa: E402

ROUNDS = int(os.environ.get("SBX_CHAOS_ROUNDS", "12"))


class ChaosTest(sbxdtest.TestCase):

    stop_timeout = 30

    def fleet(self):
        steady = []
        for i in range(6):
            steady.append("sleep%d" % i)
            self.write_unit(steady[-1], {
                "exec": {"command": child_cmd("sleep", 1000), "stdout": "null",
                         "env": UNIT_ENV + "=" + steady[-1]},
                "restart": {"policy": "always", "delay": "50ms", "burst": 1000}})
        for i in range(3):
            steady.append("pidns%d" % i)
            self.write_unit(steady[-1], {
                "exec": {"command": child_cmd("sleep", 1000), "stdout": "null",
                         "env": UNIT_ENV + "=" + steady[-1]},
                "restart": {"policy": "always", "delay": "50ms", "burst": 1000},
                "sandbox": {"pid_namespace": "init"}})
        for i in range(3):
            steady.append("capped%d" % i)
            self.write_unit(steady[-1], {
                "exec": {"command": child_cmd("sleep", 1000), "stdout": "null",
                         "env": UNIT_ENV + "=" + steady[-1]},
                "restart": {"policy": "on-failure", "delay": "50ms", "burst": 1000},
                "limits": {"memory": "64M", "pids": 8}})
        for i in range(3):
            self.write_unit("crash%d" % i, {
                "exec": {"command": child_cmd("sleep", 0.3, "exit", 1), "stdout": "null",
                         "env": "%s=crash%d" % (UNIT_ENV, i)},
                "restart": {"policy": "on-failure", "delay": "50ms", "delay_max": "200ms",
                            "burst": 1000}})
        return steady

    def test_sigkill_at_random_moments(self):
        rng = random.Random(int(os.environ.get("SBX_CHAOS_SEED", "0")) or None)
        steady = self.fleet()
        state = ["--state-dir", os.path.join(self.tmp, "state")]
        adopted = lost = 0
        for _ in range(ROUNDS):
            d = self.start_sbxd(state)
            time.sleep(rng.uniform(0.2, 2.0))
            adopted += len([e for e in d.find(state="running") if e.why == "adopted"])
            lost += len([e for e in d.find() if "lost" in e.detail])
            self.crash()
            if rng.random() < 0.5:  # a unit dies while nobody supervises it
                victims = [p for ps in self.program_pids().values() for p in ps]
                if victims:
                    try:
                        os.kill(rng.choice(victims), signal.SIGKILL)
                    except OSError:
                        pass
            self.reap_adopted()
        d = self.start_sbxd(state)

        def settled():
            self.reap_adopted()
            got = self.program_pids()
            return all(len(got.get(u, [])) == 1 for u in steady) and got
        got = wait_until(settled, 20, step=0.2)
        got = self.program_pids()
        twice = {u: p for u, p in got.items() if len(p) > 1}
        missing = [u for u in steady if not got.get(u)]
        self.assertEqual((twice, missing), ({}, []), d.transcript(200))
        self.assertEqual(self.outside_units(), [], d.transcript(200))
        print("chaos: %d rounds, %d adoptions, %d lost runs seen"
              % (ROUNDS, adopted, lost), file=sys.stderr)
        self.assertGreater(adopted, 0, "nothing was ever adopted")
        self.stop_adopter()


if __name__ == "__main__":
    unittest.main(verbosity=2)
