#!/usr/bin/env python3
"""The status page against a real sbxd (`sbxd --http`), in Debian's
headless Chromium driven over DevTools (tests/http/cdp.py): the DOM shows
every unit of the units directory with its real state, then a state change
sbxd makes by itself (a unit that fails after a few seconds), the trends
sbxd samples because the page polls, and a unit's detail with its limits
and what enforces them. A screenshot is kept in the build tree
(tests/observe/sbx-status-page.png; doc/sbx-status-page.png is a copy).
Labelled `observe` and `browser`. SBX_MUST_WORK=1 turns skips into failures.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sbxd"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import cdp  # noqa: E402
import sbxdtest  # noqa: E402
import sbxtest  # noqa: E402
from sbxdtest import child_cmd, skip  # noqa: E402

SBXCTL = os.environ.get("SBXCTL", "")
ARTIFACTS = os.environ.get("SBX_ARTIFACTS") or sbxtest.tmp_base()
SCREENSHOT = os.path.join(ARTIFACTS, "sbx-status-page.png")
ROWS = """Array.from(document.querySelectorAll('#units tr')).map(
    (r) => [r.dataset.unit, r.querySelector('[data-state]').dataset.state])"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    skip("no Chromium (apt-get install chromium)")


class Page(sbxdtest.TestCase):

    def test_real_units_a_state_change_trends_and_detail(self):
        binary = chromium()
        self.write_unit("web", {"unit": {"description": "serves the demo site"},
                                "exec": {"command": child_cmd("alloc", 12, "sleep", 1000)},
                                "limits": {"memory": "64M", "cpu": "50%", "pids": 16}})
        self.write_unit("worker", {"unit": {"instances": 2, "description": "a worker pool"},
                                   "exec": {"command": child_cmd("spin", 1, 1000)},
                                   "limits": {"cpu": "25%", "memory": "32M"}})
        # started once the page shows the others, so the page sees it change
        self.write_unit("migrate", {"unit": {"description": "fails after 4 s", "autostart": "no"},
                                    "exec": {"command": child_cmd("sleep", 4, "exit", 2)},
                                    "restart": {"policy": "no"}})
        d = self.start_sbxd(["--http", "127.0.0.1:0"])
        port = int(re.search(r"port (\d+)", d.wait_line(r"http: listening on port", 10)[0]).group(1))
        for u in ("web", "worker@1", "worker@2"):
            d.wait_running(10, u)
        profile = tempfile.TemporaryDirectory(dir=sbxtest.tmp_base())
        self.addCleanup(profile.cleanup)
        page = cdp.Chromium(binary, profile.name, "http://127.0.0.1:%d/" % port, width=1600)
        self.addCleanup(page.close)
        first = page.wait_for("(%s).length ? %s : null" % (ROWS, ROWS), 20)
        self.assertEqual(dict(first), {"migrate": "inactive", "web": "running",
                                       "worker@1": "running", "worker@2": "running"})
        p = subprocess.run([SBXCTL, "--socket", os.path.join(self.tmp, "sbxd.sock"), "start",
                            "migrate"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        changed = page.wait_for("document.getElementById('events').textContent"
                                ".includes('migrate: running → failed')", 15)
        self.assertTrue(changed, "the page did not show migrate failing")
        self.assertEqual(dict(page.eval(ROWS))["migrate"], "failed")
        self.assertIn("migrate: exited 2", page.eval("document.getElementById('events').textContent"))
        # The page polls, so sbxd samples: the trends are drawn.
        spark = page.wait_for("(() => { const s = document.querySelector("
                              "'#units tr[data-unit=\"worker@1\"] svg.spark.cpu');"
                              " return s && +s.dataset.points >= 2 ? +s.dataset.points : 0 })()", 20)
        self.assertGreaterEqual(spark, 2, "no CPU trend drawn")
        page.eval("document.querySelector('#units tr[data-unit=\"web\"]').click()")
        detail = page.wait_for("document.getElementById('detail-title').textContent === 'web' &&"
                               " document.getElementById('detail-body').textContent", 10)
        self.assertIn("Limits", detail)
        self.assertRegex(detail, r"cgroup[12] (memory\.limit_in_bytes|memory\.max)")
        self.assertIn("ok 12", detail)  # the log tail
        png = page.screenshot(SCREENSHOT)
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20000)
        print("screenshot: " + SCREENSHOT)


if __name__ == "__main__":
    sbxtest.main()
