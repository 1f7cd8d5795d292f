#!/usr/bin/env python3
"""GET /metrics (supervisor/metrics.c through http.c) judged by Prometheus'
own checker, `promtool check metrics` (Debian's `prometheus` package),
on the demo fleet and on 1,000 generated units; and the time of /metrics
and /api/v1/units for 1,000 and 10,000 units (printed; the best of a few
scrapes bounded, the machine being shared). Labelled `http`."""

import json
import os
import shutil
import subprocess
import unittest

import httptest
from httptest import Server


def promtool():
    path = shutil.which("promtool")
    if not path:
        httptest.skip("promtool not installed (apt-get install prometheus)")
    return path


class Promtool(unittest.TestCase):
    def check(self, *args):
        tool = promtool()
        srv = Server(*args)
        try:
            status, headers, body = srv.request("/metrics")
            self.assertEqual(status, 200)
        finally:
            self.assertEqual(srv.stop(), 0)
        r = subprocess.run([tool, "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertEqual(r.stdout + r.stderr, b"", "promtool's lint found problems")
        return body.decode()

    def test_demo_fleet(self):
        text = self.check()
        self.assertIn('sbx_unit_state{unit="batch",state="running"} 1', text)
        self.assertIn('sbx_unit_memory_limit_bytes{unit="web"} 67108864', text)
        self.assertIn('sbx_unit_cpu_limit_cores{unit="web"} 0.5', text)
        self.assertIn('sbx_unit_restarts_total{unit="worker@2",instance_of="worker"} 1', text)
        self.assertIn("process_open_fds ", text)
        self.assertNotIn('sbx_unit_memory_limit_bytes{unit="flaky"}', text)  # no limit: no sample

    def test_generated_fleet(self):
        text = self.check("--units", "1000")
        self.assertEqual(text.count("sbx_unit_up{"), 1000)


class Timing(unittest.TestCase):
    def best(self, srv, path, runs=4):
        times = []
        for _ in range(runs):
            status, body, t = srv.timed(path, timeout=30)
            self.assertEqual(status, 200)
            times.append(t * 1000)
        return min(times), times[0], len(body)

    def test_scrape_times(self):
        for n in (1000, 10000):
            srv = Server("--units", str(n))
            try:
                m_best, m_first, m_len = self.best(srv, "/metrics")
                u_best, u_first, u_len = self.best(srv, "/api/v1/units")
                units = json.loads(srv.request("/api/v1/units", timeout=30)[2])["units"]
                self.assertEqual(len(units), n)
            finally:
                self.assertEqual(srv.stop(), 0)
            print("%5d units: /metrics %.1f ms (first %.1f ms, %d bytes); /api/v1/units %.1f ms "
                  "(first %.1f ms, %d bytes)" % (n, m_best, m_first, m_len, u_best, u_first, u_len))
            if n == 10000:
                # warm: the buffer of the last scrape is reused
                self.assertLess(m_best, 1000 if httptest.SANITIZED else 100)


if __name__ == "__main__":
    httptest.main()
