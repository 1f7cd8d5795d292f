"""Shared pieces of the HTTP tests (Python 3 stdlib only): start
http-test-server (HTTP_TEST_SERVER, set by CMake) on a free loopback
port, talk to it, and stop it. Skips go through sbxtest.skip
(SBX_MUST_WORK=1 turns them into failures)."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import sbxtest  # noqa: E402  (shared with the other suites)

SERVER = os.environ.get("HTTP_TEST_SERVER", "")
ARTIFACTS = os.environ.get("SBX_ARTIFACTS") or sbxtest.tmp_base()
SANITIZED = os.environ.get("SBX_SANITIZED") == "1"  # ASan/UBSan build: loose time bounds
skip = sbxtest.skip
main = sbxtest.main


class Server:
    """http-test-server with the given options, until stop()."""

    def __init__(self, *args):
        if not SERVER or not os.access(SERVER, os.X_OK):
            skip("HTTP_TEST_SERVER not set (run through ctest)")
        self.proc = subprocess.Popen([SERVER, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.wait(5)
            raise AssertionError("server did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line.split()[1])

    def stop(self):
        """Stops it with TERM; returns its exit status (0: clean)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()

    def cpu_ticks(self):
        """utime + stime of the server, in clock ticks."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def request(self, path, method="GET", headers=None, body=None, timeout=5):
        """(status, headers dict with lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def timed(self, path, timeout=30):
        """(status, body, seconds) of one GET over a raw socket (so the
        time is the server's and the wire's, not http.client's parsing)."""
        t = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
            chunks = []
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                chunks.append(b)
        elapsed = time.monotonic() - t
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        return int(head.split()[1]), body, elapsed
