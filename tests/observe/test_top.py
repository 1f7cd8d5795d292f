#!/usr/bin/env python3
"""`sbxctl top` against a real sbxd, in a real terminal: tmux runs it in a
detached session of a known size; send-keys presses the keys, capture-pane
reads the screen. Checks the totals line, one line per unit, the sort by
CPU and by memory (keys c and m), the trend column filling while top runs
(top's status requests mark the units watched), q restoring the shell's
screen, and the plain status table when stdout is not a terminal.

Labelled `observe`; needs tmux (tools/sbx.sh installs it). SBX_MUST_WORK=1
turns every skip into a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sbxd"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import sbxdtest  # noqa: E402
import sbxtest  # noqa: E402
from sbxdtest import child_cmd, skip, wait_until  # noqa: E402

SBXCTL = os.environ.get("SBXCTL", "")


class Top(sbxdtest.TestCase):

    def setUp(self):
        super().setUp()
        self.tmux = shutil.which("tmux")
        if not self.tmux:
            skip("no tmux")
        self.sock = os.path.join(self.tmp, "sbxd.sock")
        # A server of our own: never the user's tmux.
        self.tmux_sock = os.path.join(self.tmp, "tmux.sock")

    def tearDown(self):
        # tmux's server daemonizes and comes back to us (a subreaper): end
        # it and reap it before the base class looks for zombies.
        self.tmux_cmd("kill-server")
        ours = {self.d.pid} if self.d else set()
        wait_until(lambda: all(st == "Z" for pid, st in sbxdtest.children_of(os.getpid())
                               if pid not in ours), 5)
        self.reap_adopted()
        super().tearDown()

    def tmux_cmd(self, *args):
        return subprocess.run([self.tmux, "-S", self.tmux_sock] + list(args),
                              capture_output=True, text=True, timeout=10)

    def screen(self):
        return self.tmux_cmd("capture-pane", "-p", "-t", "top").stdout

    def wait_screen(self, pred, timeout=10):
        got = []
        ok = wait_until(lambda: got.append(self.screen()) or pred(got[-1]), timeout, step=0.1)
        self.assertTrue(ok, "screen never matched:\n%s" % got[-1])
        return got[-1]

    def unit_order(self, text):
        return [m.group(1) for m in re.finditer(r"^(spinner|big|idle)\s+running", text, re.M)]

    def test_live_table_sorted_by_cpu_then_memory(self):
        self.write_unit("spinner", {"exec": {"command": child_cmd("spin", 1, 1000)},
                                    "limits": {"cpu": "40%"}})
        self.write_unit("big", {"exec": {"command": child_cmd("alloc", 48, "sleep", 1000)}})
        self.write_unit("idle", {"exec": {"command": child_cmd("sleep", 1000)}})
        d = self.start_sbxd()
        for u in ("spinner", "big", "idle"):
            d.wait_running(10, u)
        self.assertTrue(wait_until(lambda: b"ok 48" in self.read_log("big"), 10))
        r = self.tmux_cmd("new-session", "-d", "-s", "top", "-x", "120", "-y", "20",
                          "%s --socket %s top; echo top-ended-$?; sleep 30" % (SBXCTL, self.sock))
        self.assertEqual(r.returncode, 0, r.stderr)
        # The second frame has CPU rates: the spinner leads.
        text = self.wait_screen(lambda t: self.unit_order(t)[:1] == ["spinner"] and
                                re.search(r"spinner\s+running\s+\d+\.\d%/40%", t))
        self.assertRegex(text, r"units 3: 3 running, 0 failed\s+CPU \d+\.\d%\s+memory \S+\s+tasks 3")
        self.assertIn("sorted by CPU", text)
        self.assertEqual(len(self.unit_order(text)), 3)
        self.tmux_cmd("send-keys", "-t", "top", "m")
        text = self.wait_screen(lambda t: "sorted by memory" in t)
        self.assertEqual(self.unit_order(text)[0], "big")
        # While top runs, sbxd samples: the trend column fills.
        self.wait_screen(lambda t: re.search(r"^big .*[▁▂▃▄▅▆▇█]{2,}", t, re.M), 15)
        self.tmux_cmd("send-keys", "-t", "top", "c")
        text = self.wait_screen(lambda t: "sorted by CPU" in t)
        self.assertEqual(self.unit_order(text)[0], "spinner")
        self.tmux_cmd("send-keys", "-t", "top", "q")
        text = self.wait_screen(lambda t: "top-ended-0" in t)
        self.assertNotIn("sorted by", text, "the alternate screen was not left")

    def test_not_a_terminal_prints_the_status_table(self):
        self.write_unit("idle", {"exec": {"command": child_cmd("sleep", 1000)}})
        d = self.start_sbxd()
        d.wait_running(10, "idle")
        p = subprocess.run([SBXCTL, "--socket", self.sock, "top"], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^NAME\s+STATE\s+HEALTH\s+PID")
        self.assertRegex(p.stdout, r"\nidle\s+running")
        self.assertNotIn("\033", p.stdout)


if __name__ == "__main__":
    sbxtest.main()
