#!/usr/bin/env python3
"""Slow and hostile clients of the HTTP listener (supervisor/http.c) are
refused or cut off, and none of them stalls an honest client: slowloris
(headers a byte at a time), a silent connection, a reader that never
reads, oversized headers, garbage, too many connections from one address.
The server runs with short limits (a 2 s request deadline) so the test is
quick. Labelled `http`."""

import socket
import threading
import time
import unittest

import httptest
from httptest import Server

DEADLINE_S = 2.0


def closed_by_peer(sock, within):
    """True if the server ends the connection within `within` seconds
    (whatever it sends first is read and dropped)."""
    sock.settimeout(0.2)
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


class Hostile(unittest.TestCase):
    def setUp(self):
        self.srv = Server("--deadline-ms", str(int(DEADLINE_S * 1000)), "--idle-s", "5",
                          "--max-conn", "32", "--per-address", "8", "--units", "3000")
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.assertEqual(self.srv.stop(), 0)

    def connect(self, source="127.0.0.1", rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.srv.port))
        self.socks.append(s)
        return s

    def assert_honest_client_served(self, times=3):
        for _ in range(times):
            status, body, t = self.srv.timed("/api/v1/units/u-00001")
            self.assertEqual(status, 200)
            self.assertLess(t, 1.0, "an honest client waited %.2f s" % t)

    def test_slowloris_is_cut_at_the_deadline(self):
        s = self.connect()
        s.sendall(b"GET /api/v1/units HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        stop = threading.Event()

        def drip():
            try:
                while not stop.wait(0.25):
                    s.send(b"X")
            except OSError:
                pass
        t0 = time.monotonic()
        t = threading.Thread(target=drip)
        t.start()
        try:
            self.assert_honest_client_served()
            self.assertTrue(closed_by_peer(s, DEADLINE_S + 3))
            self.assertGreater(time.monotonic() - t0, DEADLINE_S - 0.5)
        finally:
            stop.set()
            t.join()

    def test_silent_connection_is_cut(self):
        s = self.connect()
        self.assert_honest_client_served()
        self.assertTrue(closed_by_peer(s, DEADLINE_S + 3))

    def test_reader_that_never_reads_is_cut(self):
        s = self.connect(rcvbuf=4096)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)
        self.assert_honest_client_served()
        time.sleep(DEADLINE_S + 0.5)
        got = 0
        s.settimeout(2)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got += len(b)
        except (ConnectionResetError, socket.timeout):
            pass
        full = len(self.srv.request("/metrics")[2])
        self.assertLess(got, full, "the stalled reader got the whole body: it was not cut")

    def test_oversized_headers_are_refused(self):
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        s.settimeout(3)
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            reply = b""
        self.assertTrue(reply == b"" or reply.split()[1] in (b"431", b"413", b"400"), reply[:80])
        self.assert_honest_client_served()

    def test_garbage_is_refused(self):
        for junk in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n\r\n"):
            s = self.connect()
            s.sendall(junk)
            self.assertTrue(closed_by_peer(s, DEADLINE_S + 2), junk[:20])
        self.assert_honest_client_served()

    def test_many_connections_from_one_address(self):
        try:
            probe = socket.socket()
            probe.bind(("127.0.0.2", 0))
            probe.close()
        except OSError:
            httptest.skip("cannot use 127.0.0.2 as a source address here")
        flood = [self.connect("127.0.0.2") for _ in range(20)]
        refused = sum(closed_by_peer(s, 0.3) for s in flood)
        self.assertGreaterEqual(refused, 20 - 8, "the per-address limit (8) was not applied")
        self.assert_honest_client_served()


if __name__ == "__main__":
    httptest.main()
