#!/usr/bin/env python3
"""The HTTP listener (supervisor/http.c) through http-test-server: routes,
methods, headers, the token, the Host check, keep-alive, and no CPU while
nobody is connected. Labelled `http`."""

import base64
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import httptest
from httptest import Server

TOKEN = "s3cret-token-0123456789"


class Routes(unittest.TestCase):
    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0)

    def test_units_list_has_the_status_shape(self):
        status, headers, body = self.srv.request("/api/v1/units")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["cache-control"], "no-store")
        units = json.loads(body)["units"]
        self.assertIn("worker@2", [u["name"] for u in units])
        for key in ("state", "pid", "uptime_ms", "restarts", "memory", "memory_limit",
                    "cpu_usage_us", "cpu_limit_percent", "tasks", "tasks_limit", "last"):
            self.assertIn(key, units[0])

    def test_unit_detail_and_missing_unit(self):
        status, _, body = self.srv.request("/api/v1/units/web")
        self.assertEqual(status, 200)
        web = json.loads(body)
        self.assertEqual(web["name"], "web")
        self.assertIn("limits", web)
        self.assertIn("enforced", web)
        status, _, body = self.srv.request("/api/v1/units/worker%402")  # as a browser encodes '@'
        self.assertEqual((status, json.loads(body)["name"]), (200, "worker@2"))
        self.assertEqual(self.srv.request("/api/v1/units/nope")[0], 404)
        self.assertEqual(self.srv.request("/api/v1/units/..%2Fetc")[0], 404)
        self.assertEqual(self.srv.request("/nothing/here")[0], 404)

    def test_page_is_served_with_a_strict_policy(self):
        status, headers, body = self.srv.request("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        self.assertIn("connect-src 'self'", headers["content-security-policy"])
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertIn(b"/api/v1/units", body)
        self.assertNotRegex(body, rb"(src|href)=\"https?:")  # no external assets

    def test_metrics_content_type(self):
        status, headers, body = self.srv.request("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn(b'sbx_unit_up{unit="web"} 1\n', body)

    def test_only_get_and_head(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, headers, _ = self.srv.request("/api/v1/units", method=method, body=b"x=1")
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["allow"], "GET, HEAD")
        status, headers, body = self.srv.request("/api/v1/units", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"]), 100)

    def test_foreign_host_name_is_refused_on_loopback(self):
        self.assertEqual(self.srv.request("/", headers={"Host": "evil.example:80"})[0], 421)
        for host in ("localhost", "127.0.0.1:%d" % self.srv.port, "[::1]:1", "LOCALHOST:9"):
            self.assertEqual(self.srv.request("/", headers={"Host": host})[0], 200, host)

    def test_keep_alive(self):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
        for _ in range(3):
            c.request("GET", "/api/v1/units")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.getheader("connection"), "close")
        c.close()

    def test_no_cpu_while_nobody_is_connected(self):
        self.srv.request("/metrics")
        time.sleep(0.3)
        before = self.srv.cpu_ticks()
        time.sleep(2)
        self.assertLessEqual(self.srv.cpu_ticks() - before, 1)  # 10 ms of ticks at most


class Token(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(dir=httptest.sbxtest.tmp_base())
        self.token = os.path.join(self.dir.name, "token")
        with open(self.token, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(self.token, 0o600)

    def tearDown(self):
        self.dir.cleanup()

    def test_required_on_every_route(self):
        srv = Server("--token", self.token)
        try:
            for path in ("/", "/api/v1/units", "/api/v1/units/web", "/metrics", "/nothing"):
                status, headers, _ = srv.request(path)
                self.assertEqual(status, 401, path)
                self.assertIn("Basic", headers["www-authenticate"])
            for bad in ("Bearer wrong", "Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", "Bearer ",
                        "Basic " + base64.b64encode(b"u:wrong").decode(), TOKEN):
                self.assertEqual(srv.request("/metrics", headers={"Authorization": bad})[0], 401, bad)
            ok = srv.request("/metrics", headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(ok[0], 200)
            basic = "Basic " + base64.b64encode(("any:" + TOKEN).encode()).decode()
            self.assertEqual(srv.request("/api/v1/units", headers={"Authorization": basic})[0], 200)
            # the token first, then the method: no verb works without it
            self.assertEqual(srv.request("/", method="POST")[0], 401)
            self.assertEqual(srv.request("/", method="POST",
                                         headers={"Authorization": "Bearer " + TOKEN})[0], 405)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_first_line_without_trailing_blanks(self):
        for text in (TOKEN, TOKEN + " \t\r\nsecond line\n"):
            with open(self.token, "w") as f:
                f.write(text)
            srv = Server("--token", self.token)
            try:
                ok = srv.request("/metrics", headers={"Authorization": "Bearer " + TOKEN})
                self.assertEqual(ok[0], 200, repr(text))
            finally:
                self.assertEqual(srv.stop(), 0)

    def refused(self, *args):
        r = subprocess.run([httptest.SERVER, *args], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        return r.stderr

    def test_token_file_others_can_read_is_refused(self):
        if not httptest.SERVER:
            httptest.skip("HTTP_TEST_SERVER not set (run through ctest)")
        os.chmod(self.token, 0o644)
        self.assertIn("readable by others or its group", self.refused("--token", self.token))
        self.assertIn("No such file", self.refused("--token", self.token + ".missing"))
        with open(self.token, "w") as f:
            f.write("short\n")
        os.chmod(self.token, 0o600)
        self.assertIn("shorter than 16", self.refused("--token", self.token))


class Listen(unittest.TestCase):
    def test_bad_addresses_are_refused(self):
        if not httptest.SERVER:
            httptest.skip("HTTP_TEST_SERVER not set (run through ctest)")
        for bad in ("example.com:80", "127.0.0.1:99999", "127.0.0.1:", ":80", "1.2.3:80", "[::1:80"):
            r = subprocess.run([httptest.SERVER, "--listen", bad], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1, bad)
            self.assertIn("expected ADDRESS:PORT", r.stderr)

    def test_ipv6_loopback(self):
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
        except OSError:
            httptest.skip("no IPv6 loopback here")
        srv = Server("--listen", "[::1]:0")
        try:
            c = http.client.HTTPConnection("::1", srv.port, timeout=5)
            c.request("GET", "/api/v1/units/web")
            self.assertEqual(c.getresponse().status, 200)
            c.close()
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    httptest.main()
