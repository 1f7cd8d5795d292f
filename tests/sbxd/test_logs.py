"""Logs: a unit's stdout and stderr lines land in LOGDIR/NAME.log; with
max_size and keep the file rotates to NAME.log.1..keep and nothing of the
stream is lost or reordered within what is kept; SIGUSR1 reopens the files
after an external rotation."""

import os
import signal

import sbxdtest
import sbxtest
from sbxdtest import child_cmd


class LogsTest(sbxdtest.TestCase):

    def test_stdout_and_stderr_lines_in_unit_log(self):
        self.write_unit("talk", {
            "exec": {"command": child_cmd("env", "MSG1", "env", "MSG2", "sleep", 60),
                     "env": ["MSG1=hello from talk", "MSG2=second line"]}})
        # sbx-test-child writes its usage errors to stderr.
        self.write_unit("grumble", {"exec": {"command": child_cmd("no-such-verb")},
                                    "restart": {"policy": "no"}})
        # Instances log to files of their own.
        self.write_unit("pool", {"unit": {"instances": 2},
                                 "exec": {"command": child_cmd("env", "ME", "sleep", 60),
                                          "env": "ME=instance %i"}})
        d = self.start_sbxd()
        self.wait_log("talk", b"hello from talk\nsecond line\n")
        self.assertEqual(self.read_log("talk"), b"hello from talk\nsecond line\n")
        d.wait_event(10, unit="grumble", state="failed")
        self.wait_log("grumble", b"unknown verb")
        self.wait_log("pool@1", b"instance 1\n")
        self.wait_log("pool@2", b"instance 2\n")
        self.assertNotIn(b"instance 2", self.read_log("pool@1"))

    def test_rotation_with_max_size_and_keep(self):
        total = 400000
        self.write_unit("chatty", {
            "exec": {"command": child_cmd("bytes", total)},
            "restart": {"policy": "no"},
            "log": {"max_size": "64K", "keep": 2}})
        d = self.start_sbxd()
        d.wait_event(10, unit="chatty", state="exited")
        names = ["chatty.log.2", "chatty.log.1", "chatty.log"]

        last = [None]

        def settled():
            # The exit may be seen before the pipe is drained: wait for the
            # files to stop changing (and for the first rotation).
            now = sorted((n, os.path.getsize(os.path.join(self.logs, n)))
                         for n in os.listdir(self.logs))
            same, last[0] = now == last[0], now
            return same and os.path.exists(self.log_path("chatty", ".1"))
        self.assertTrue(sbxdtest.wait_until(settled, 5, step=0.15),
                        "files: %s" % last[0])
        self.assertTrue(os.path.exists(self.log_path("chatty", ".2")))
        self.assertFalse(os.path.exists(self.log_path("chatty", ".3")),
                         "keep = 2 but there is a .3")
        parts = [self.read_log("chatty", n[len("chatty.log"):]) for n in names]
        for n, p in zip(names, parts[:2]):
            self.assertGreaterEqual(len(p), 64 * 1024, n)
        kept = b"".join(parts)
        self.assertLess(len(kept), total, "nothing was dropped by keep = 2")
        # What is kept is the end of the stream, in order.
        self.assertEqual(kept, sbxtest.pattern(total)[total - len(kept):],
                         "the kept logs are not the tail of what the unit wrote")

    def test_sigusr1_reopens_after_external_rotation(self):
        self.write_unit("rot", {
            "exec": {"command": child_cmd("env", "A", "sleep", 1, "env", "B", "sleep", 60),
                     "env": ["A=before rotation", "B=after rotation"]}})
        d = self.start_sbxd()
        self.wait_log("rot", b"before rotation\n")
        os.rename(self.log_path("rot"), self.log_path("rot", ".old"))
        d.signal(signal.SIGUSR1)
        self.wait_log("rot", b"after rotation\n", timeout=5)
        self.assertEqual(self.read_log("rot"), b"after rotation\n")
        self.assertEqual(self.read_log("rot", ".old"), b"before rotation\n")


if __name__ == "__main__":
    sbxdtest.main()
