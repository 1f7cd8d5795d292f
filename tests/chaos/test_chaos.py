"""Chaos: a fleet of 200 units under sbxd (sleepers with restart = always,
half of them behind sbx's init and half in the host's PID namespace, some
with limits; units that kill themselves with a signal in a loop; units
that crash-loop; units writing output fast), and rounds of: sbxd started
again, then killed with SIGKILL at a random moment (in the middle of its
start and adoption, after a reload with changed, removed and added units,
in the middle of a stop, or while all runs), unit programs killed while
nobody supervises them. At the start of each round every sleeper that
should run runs exactly once (one process of the program, in its own
cgroup), none that should not, and no process of the fleet runs outside
a unit's cgroup; after a last clean stop no process, zombie or cgroup is
left, and every writer's log holds its numbered lines without a gap or a
repeat within a run (a run stopped by an sbxd killed half-way through its
stop may lose its unread tail: a known limit).

SBX_CHAOS_ROUNDS (default 30) and SBX_CHAOS_SEED (default: random,
printed) change the run."""

import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sbxd"))
import sbxdtest  # noqa: E402
from sbxdtest import child_cmd, sleeper  # noqa: E402

ROUNDS = int(os.environ.get("SBX_CHAOS_ROUNDS", "30"))
SLEEPERS = 160

WRITER = "i=0\nwhile :; do i=$((i+1)); echo \"line $i\"; done\n"


class ChaosTest(sbxdtest.TestCase):

    stop_timeout = 60

    def sleeper_def(self, i, version=0):
        name = "s%03d" % i
        extra = {}
        if i % 2:
            extra["sandbox"] = {"pid_namespace": "no"}
        if i % 10 == 0:
            extra["limits"] = {"memory": "64M", "pids": 8}
        if version:
            extra["exec"] = {"env": ["%s=%s" % (sbxdtest.UNIT_ENV, name), "V=%d" % version]}
        return name, sleeper(name, **extra)

    def fleet(self):
        """160 sleepers (the units counted), 15 that kill themselves, 15
        that crash-loop, 10 writers."""
        for i in range(SLEEPERS):
            self.write_unit(*self.sleeper_def(i))
        for i in range(15):
            self.write_unit("kill%02d" % i, {
                "exec": {"command": child_cmd("sleep", 0.5 + i / 10, "raise", "KILL"),
                         "stdout": "null"},
                "restart": {"policy": "always", "delay": "100ms", "burst": 1000}})
            self.write_unit("crash%02d" % i, {
                "exec": {"command": child_cmd("sleep", 0.3, "exit", 1), "stdout": "null"},
                "restart": {"policy": "on-failure", "delay": "50ms", "delay_max": "500ms",
                            "burst": 1000}})
        script = os.path.join(self.tmp, "writer.sh")
        with open(script, "w") as f:
            f.write(WRITER)
        for i in range(10):
            self.write_unit("write%d" % i, {"exec": {"command": "/bin/sh " + script},
                                            "restart": {"policy": "always"},
                                            "log": {"max_size": "1G"}})  # one file to read
        return {"s%03d" % i for i in range(SLEEPERS)}

    def reload(self, rng, should, rnd):
        """Five sleepers changed, three removed, those removed before back;
        SIGHUP. Returns the sleepers that should run afterwards."""
        gone = sorted({"s%03d" % i for i in range(SLEEPERS)} - should)
        for name in gone:
            self.write_unit(*self.sleeper_def(int(name[1:])))
        present = sorted({"s%03d" % i for i in range(SLEEPERS)})
        for name in rng.sample(present, 5):
            self.write_unit(*self.sleeper_def(int(name[1:]), version=rnd + 1))
        removed = rng.sample(present, 3)
        for name in removed:
            self.remove_unit(name)
        self.d.signal(signal.SIGHUP)
        return set(present) - set(removed)

    def kill_some_units(self, rng):
        victims = [p for ps in self.program_pids().values() for p in ps]
        for pid in rng.sample(victims, min(5, len(victims))):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def test_sigkill_at_random_moments_200_units(self):
        seed = int(os.environ.get("SBX_CHAOS_SEED", "0")) or random.randrange(1, 1 << 30)
        rng = random.Random(seed)
        should = self.fleet()
        state = ["--state-dir", os.path.join(self.tmp, "state")]
        seen = {"adopted": 0, "lost": 0, "leftovers": 0}
        moments = []
        t0 = time.monotonic()
        for rnd in range(ROUNDS):
            d = self.start_sbxd(state, wait_loaded=False)
            moment = rng.choice(["start", "reload", "stop", "steady"]) if rnd else "start"
            if moment == "start":  # once loaded: in its adoption and its starts
                d.wait_line(r"unit\(s\) loaded from", 60)
                time.sleep(rng.uniform(0.0, 0.5))
            else:
                self.assertRunOnce(sorted(should), 90)
                if moment == "reload":
                    should = self.reload(rng, should, rnd)
                    d.wait_line(r"sbxd: reloading", 10)
                    time.sleep(rng.uniform(0.0, 0.3))
                elif moment == "stop":
                    d.signal(signal.SIGTERM)
                    d.wait_line(r"sbxd: stopping every unit", 10)
                    time.sleep(rng.uniform(0.0, 0.1))
                else:
                    time.sleep(rng.uniform(0.0, 1.0))
            moments.append(moment)
            seen["adopted"] += len([e for e in d.find(state="running") if e.why == "adopted"])
            seen["lost"] += len([e for e in d.find() if "lost" in e.detail])
            seen["leftovers"] += len(d.find(event="leftovers"))
            self.crash()
            if rng.random() < 0.5:  # units die while nobody supervises them
                self.kill_some_units(rng)
            self.reap_adopted()
        d = self.start_sbxd(state)
        self.assertRunOnce(sorted(should), 90)
        seen["adopted"] += len([e for e in d.find(state="running") if e.why == "adopted"])
        took = time.monotonic() - t0
        print("\n  chaos: seed %d, %d rounds (%s) in %.1fs, %d adoptions, %d lost runs, "
              "%d leftover lines" % (seed, ROUNDS, " ".join(moments), took, seen["adopted"],
                                     seen["lost"], seen["leftovers"]), file=sys.stderr)
        self.assertGreater(seen["adopted"], 0, "nothing was ever adopted")
        self.stop_adopter()
        self.cut_runs = 0
        lines = self.assertWritersLostNothing()
        print("  writers: %d lines in their logs, no gap and no repeat within a run; %d runs "
              "cut at a stop killed half-way" % (lines, self.cut_runs), file=sys.stderr)

    def assertWritersLostNothing(self):
        """Each writer's log: runs of "line 1", "line 2", ... each without a
        gap or a repeat (a run begins again at 1 when the writer is started
        again). A writer blocks on its full FIFO while no sbxd reads it, so
        nothing it wrote may be missing. Returns how many lines there were."""
        total = 0
        for i in range(10):
            text = self.read_log("write%d" % i).decode(errors="replace")
            if text and not text.endswith("\n"):  # cut by the last stop: only a whole line counts
                text = text[:text.rfind("\n") + 1]
            expect = 1
            for n, line in enumerate(text.splitlines()):
                want = "line %d" % expect
                if line == "line 1":
                    expect = 1
                elif line != want and line.endswith("line 1") and want.startswith(line[:-6]):
                    # A run stopped while sbxd was killed in the middle of the
                    # stop: what it wrote last, still unread in its FIFO, went
                    # with its last holder (a known limit, see the README).
                    # Its start is there, then the next run begins.
                    self.cut_runs += 1
                    expect = 1
                else:
                    self.assertEqual(line, want, "write%d.log, line %d" % (i, n + 1))
                expect += 1
                total += 1
        return total


if __name__ == "__main__":
    unittest.main(verbosity=2)
