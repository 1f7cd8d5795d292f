"""Reload on SIGHUP, by diff: a changed file restarts only its unit (the
others keep their pid, even one whose file was rewritten unchanged), a
removed file stops its unit (process and cgroup gone), a new file starts."""

import os
import signal

import sbxdtest
import sbxtest
from sbxdtest import child_cmd


class ReloadTest(sbxdtest.TestCase):

    def sleeper(self, seconds=60):
        return {"exec": {"command": child_cmd("sleep", seconds)}}

    def test_sighup_restarts_changed_stops_removed_starts_new(self):
        for u in ("keep", "same", "change", "gone"):
            self.write_unit(u, self.sleeper())
        d = self.start_sbxd()
        pid = {}
        for u in ("keep", "same", "change", "gone"):
            pid[u] = d.wait_running(10, u)[0].pid()
            self.assertTrue(sbxdtest.alive(pid[u]))
        mark = d.mark()

        self.write_unit("same", self.sleeper())          # same text, new file
        self.write_unit("change", self.sleeper(61))      # changed command
        self.remove_unit("gone")
        self.write_unit("fresh", self.sleeper())
        d.signal(signal.SIGHUP)

        new = d.wait_running(10, "change", since=mark)[0]
        fresh = d.wait_running(10, "fresh", since=mark)[0]
        d.wait_event(10, unit="gone", event="removed", since=mark)
        self.assertNotEqual(new.pid(), pid["change"])
        self.assertTrue(sbxdtest.alive(new.pid()))
        self.assertTrue(sbxdtest.alive(fresh.pid()))
        with open("/proc/%d/cmdline" % new.pid(), "rb") as f:
            self.assertEqual(f.read().split(b"\0")[-2], b"61")
        self.assertTrue(sbxtest.process_gone(pid["change"], 2.0), "old run of change alive")
        self.assertTrue(sbxtest.process_gone(pid["gone"], 2.0), "removed unit still runs")
        # change went through stopping -> inactive -> running.
        states = [e.state for e in d.find(unit="change", since=mark) if e.state]
        self.assertEqual(states[:2], ["stopping", "inactive"], d.transcript())
        # The untouched ones: no event at all, same live pid.
        for u in ("keep", "same"):
            self.assertEqual(d.find(unit=u, since=mark), [], d.transcript())
            self.assertTrue(sbxdtest.alive(pid[u]), "%s lost its process" % u)
        # The removed unit's cgroup is gone from every hierarchy.
        left = [os.path.join(r, "gone") for r in sbxdtest.cgroup_root_dirs(self.root)
                if os.path.exists(os.path.join(r, "gone"))]
        self.assertEqual(left, [], "cgroup of the removed unit left behind")
        # A second reload with nothing changed touches nothing.
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_line(r"reloading", 5)
        d.wait(lambda: len([l for l in d.lines if "reloading" in l]) >= 2, 5)
        d.wait(lambda: False, 0.3)
        self.assertEqual(d.find(since=mark), [], d.transcript())
        self.stop_sbxd()


if __name__ == "__main__":
    sbxdtest.main()
