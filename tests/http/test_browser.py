#!/usr/bin/env python3
"""The status page (supervisor/web/index.html) in a real browser: Debian's
headless Chromium loads it from http-test-server, whose fake fleet changes
state one second after the page first asks for the units; driven over the
DevTools protocol (tests/http/cdp.py) in real time, the DOM must show every
unit, then the new states and the change in the page's own list of
changes (so the page polled and redrew by itself); filtering and a unit's
detail are exercised too. A screenshot with a
unit's detail open is kept as an artifact in the build tree
(tests/http/sbx-status-page.png). Labelled `http` and `browser`."""

import os
import shutil
import tempfile
import time
import unittest

import cdp
import httptest
from httptest import Server

DEMO_UNITS = {"batch", "cache", "deploy", "flaky", "jail", "web", "worker@1", "worker@2", "worker@3"}
SCREENSHOT = os.path.join(httptest.ARTIFACTS, "sbx-status-page.png")


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    httptest.skip("no Chromium (apt-get install chromium)")


ROWS = """Array.from(document.querySelectorAll('#units tr')).map(
    (r) => [r.dataset.unit, r.querySelector('[data-state]').dataset.state])"""


class Browser(unittest.TestCase):
    """One browser and one server for the class (Chromium takes seconds to
    start on a busy machine); the tests run in their numbered order."""
    page = srv = profile = None

    def setUp(self):
        binary = chromium()
        cls = type(self)
        if cls.page:
            return
        cls.profile = tempfile.TemporaryDirectory(dir=httptest.sbxtest.tmp_base())
        cls.srv = Server()
        cls.page = cdp.Chromium(binary, cls.profile.name, "http://127.0.0.1:%d/" % cls.srv.port, width=1600)

    @classmethod
    def tearDownClass(cls):
        if cls.page:
            cls.page.close()
        if cls.srv:
            status = cls.srv.stop()
            if status != 0:
                raise AssertionError("http-test-server exited %s" % status)
        if cls.profile:
            cls.profile.cleanup()

    def test_1_page_shows_units_and_a_live_state_change(self):
        first = self.page.wait_for("(%s).length ? %s : null" % (ROWS, ROWS), 15)
        self.assertEqual({name for name, _ in first}, DEMO_UNITS)
        self.assertEqual(dict(first)["deploy"], "starting")
        self.assertEqual(dict(first)["web"], "running")
        # One second after the first poll the fleet changes; the page polls
        # every 2 s by itself.
        changed = self.page.wait_for(
            "document.getElementById('events').textContent.includes('deploy: starting → running')", 8)
        self.assertTrue(changed, "the page did not show the state change")
        rows = dict(self.page.eval(ROWS))
        self.assertEqual(rows["deploy"], "running")
        self.assertEqual(rows["batch"], "failed")
        events = self.page.eval("document.getElementById('events').textContent")
        self.assertIn("batch: running → failed", events)
        self.assertIn("batch: exited 2", events)
        text = self.page.eval("document.body.innerText")
        self.assertIn("healthy", text)  # health where the unit reports one
        self.assertIn("11M / 64M", text)  # web's memory against its limit
        self.assertTrue(self.page.eval("document.getElementById('conn').textContent.startsWith('live')"))

    def test_2_filters_and_detail(self):
        self.page.wait_for("document.querySelectorAll('#units tr').length", 15)
        self.page.eval("const f = document.getElementById('filter'); f.value = 'work';"
                       "f.dispatchEvent(new Event('input'))")
        self.assertEqual(sorted(n for n, _ in self.page.eval(ROWS)), ["worker@1", "worker@2", "worker@3"])
        self.page.eval("document.getElementById('filter').value = '';"
                       "Array.from(document.querySelectorAll('#summary .chip'))"
                       ".find((c) => c.textContent.startsWith('backoff')).click()")
        self.assertEqual(self.page.eval(ROWS), [["flaky", "backoff"]])
        self.page.eval("document.querySelector('#units tr').click()")
        detail = self.page.wait_for("document.getElementById('detail-body').textContent", 5)
        self.assertIn("Limits", detail)
        self.assertIn("open files1024rlimit RLIMIT_NOFILE", detail)  # the limit, what enforces it
        # the log is text, never markup
        self.assertIn("<b>not bold</b>", detail)
        self.assertEqual(self.page.eval("document.querySelectorAll('#detail b').length"), 0)

    def test_3_screenshot_of_a_unit_detail(self):
        # all units again, web's detail open, the changes of test 1 listed
        self.page.eval("document.querySelector('#summary .chip').click();"
                       "document.querySelector('#units tr[data-unit=\"web\"]').click()")
        self.assertTrue(self.page.wait_for(
            "document.getElementById('detail-title').textContent === 'web' &&"
            " document.getElementById('detail-body').textContent.includes('cgroup1 cpu.cfs_quota_us')", 10))
        self.assertEqual(self.page.eval("location.hash"), "#unit=web")  # a link to this view
        # web uses 30% of a core in the fake fleet, against its 50% quota
        cpu = self.page.eval("document.querySelector('#units tr[data-unit=\"web\"]').children[6].textContent")
        self.assertRegex(cpu, r"^(2[5-9]|3[0-5])\.\d% / 50%$")
        time.sleep(0.5)
        png = self.page.screenshot(SCREENSHOT)
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20000)  # a drawn page, not a blank one
        print("screenshot: " + SCREENSHOT)


if __name__ == "__main__":
    httptest.main()
