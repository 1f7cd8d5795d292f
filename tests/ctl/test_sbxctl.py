#!/usr/bin/env python3
"""sbxctl against the fake control server (fake_server.py): output, exit
statuses, option checks, and the errors a user meets without a daemon.
The real sbxd is driven through sbxctl by the sbxd integration tests.

SBXCTL names the binary (set by CMake)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_server  # noqa: E402

SBXCTL = os.environ.get("SBXCTL", "")


class Base(unittest.TestCase):
    opts = {}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="sbxctl-test-")
        cls.sock = os.path.join(cls.dir.name, "sbxd.sock")
        cls.state = dict(cls.opts)
        cls.server = fake_server.serve(cls.sock, cls.state)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.dir.cleanup()

    def ctl(self, *args, env=None):
        e = dict(os.environ, SBX_SOCKET=self.sock)
        e.pop("NO_COLOR", None)
        e.update(env or {})
        p = subprocess.run([SBXCTL, *args], capture_output=True, text=True, env=e,
                           timeout=10)
        return p.returncode, p.stdout, p.stderr

    def last_request(self):
        return self.state["requests"][-1]


class Status(Base):
    def test_table_is_aligned(self):
        rc, out, err = self.ctl("status")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len(lines), 5)
        self.assertTrue(lines[0].startswith("NAME "))
        col = lines[0].index("STATE")
        self.assertTrue(all(line[col - 2:col] == "  " and line[col] != " " for line in lines))
        self.assertIn("1.8M/1.9M of 64M", lines[1])
        self.assertIn("120ms max 50%", lines[1])
        self.assertIn("signal KILL", lines[2])
        self.assertNotIn("\033[", out)   # not a terminal

    def on_terminal(self, *args, env=None):
        """stdout of sbxctl on a pseudo-terminal."""
        import pty
        master, slave = pty.openpty()
        e = dict(os.environ, SBX_SOCKET=self.sock, **(env or {}))
        if not env:
            e.pop("NO_COLOR", None)
        p = subprocess.Popen([SBXCTL, *args], stdout=slave, env=e)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        p.wait()
        os.close(master)
        return out.decode()

    def test_colour_only_on_a_terminal(self):
        out = self.on_terminal("status")
        self.assertIn("\033[32mrunning\033[0m", out)
        self.assertIn("\033[31mfailed\033[0m", out)
        self.assertIn("\033[33mbackoff\033[0m", out)
        self.assertNotIn("\033[", self.on_terminal("status", "--no-color"))
        self.assertNotIn("\033[", self.on_terminal("status", env={"NO_COLOR": "1"}))

    def test_one_unit_is_detailed(self):
        rc, out, _ = self.ctl("status", "web")
        self.assertEqual(rc, 0)
        self.assertTrue(self.last_request()["detail"])
        self.assertIn("Limits: memory=64M memory_swap=0 cpu=50% pids=16 stop_timeout=10s "
                      "stop_signal=TERM\n", out)
        for text in ("web - the web front", "pid 1234", "cgroup2 memory.max",
                     "exec: No such file or directory", "GET / 200"):
            self.assertIn(text, out)

    def test_json_is_the_response(self):
        rc, out, _ = self.ctl("--json", "status", "web", "idle")
        self.assertEqual(rc, 0)
        self.assertEqual([u["name"] for u in json.loads(out)["units"]], ["web", "idle"])

    def test_no_such_unit_is_4(self):
        rc, out, err = self.ctl("status", "web", "nope")
        self.assertEqual((rc, out), (4, ""))
        self.assertEqual(err, "sbxctl: no such unit: nope\n")

    def test_json_error_is_on_stdout_too(self):
        rc, out, _ = self.ctl("status", "nope", "--json")
        self.assertEqual((rc, json.loads(out)["code"]), (4, "no-such-unit"))


class Control(Base):
    def test_start_waits_by_default(self):
        rc, out, _ = self.ctl("start", "web", "worker", "--timeout", "5s")
        self.assertEqual((rc, out), (0, "web: running\nworker: running\n"))
        req = self.last_request()
        self.assertEqual((req["wait"], req["timeout_ms"]), (True, 5000))

    def test_failed_start_is_1(self):
        rc, _, err = self.ctl("restart", "batch")
        self.assertEqual(rc, 1)
        self.assertIn("failed", err)

    def test_no_wait(self):
        self.assertEqual(self.ctl("stop", "--no-wait", "web")[0], 0)
        self.assertFalse(self.last_request()["wait"])

    def test_not_running_is_3(self):
        for verb in ("kill", "freeze", "thaw"):
            self.assertEqual(self.ctl(verb, "idle")[0], 3, verb)

    def test_kill_signal_names(self):
        for given, sent in (("sigkill", "KILL"), ("HUP", "HUP"), ("9", 9)):
            rc, out, _ = self.ctl("kill", "-s", given, "web")
            self.assertEqual((rc, out), (0, "web: 3 processes signaled\n"))
            self.assertEqual(self.last_request()["signal"], sent)

    def test_reload_errors_are_1(self):
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "added: new\nchanged: web\n")
        self.assertIn("bad.ini:3", err)

    def test_set_sends_text(self):
        rc, out, _ = self.ctl("set", "web", "memory=128M", "memory-swap=0", "cpu=25%")
        self.assertEqual(rc, 0)
        self.assertEqual(self.last_request()["limits"],
                         {"memory": "128M", "memory_swap": "0", "cpu": "25%"})
        self.assertEqual(out, "memory=128M memory_swap=0 cpu=25% pids=none\n")

    def test_run(self):
        rc, out, _ = self.ctl("run", "-m", "64M", "-c", "150%", "-e", "A=b", "-C", "sub",
                              "--name", "t1", "--", "sleep", "-x", "1")
        self.assertEqual((rc, out), (0, "t1\n"))
        req = self.last_request()
        self.assertEqual(req["command"], ["sleep", "-x", "1"])
        self.assertEqual(req["limits"], {"memory": "64M", "cpu": "150%"})
        self.assertEqual(req["cwd"], os.path.join(os.getcwd(), "sub"))
        self.assertEqual((req["env"], req["wait"]), (["A=b"], False))

    def test_run_takes_every_limit_of_the_table(self):
        # Each row of libsbx's limits table is an option of run, checked here
        # before anything is sent; sbxd gets the text as written.
        rc, _, _ = self.ctl("run", "--memory-swap", "0", "--cpu-weight", "200", "-p", "8",
                            "--nofile", "64", "--", "true")
        self.assertEqual(rc, 0)
        self.assertEqual(self.last_request()["limits"],
                         {"memory_swap": "0", "cpu_weight": "200", "pids": "8", "nofile": "64"})
        rc, _, err = self.ctl("run", "--cpu-weight", "0", "--", "true")
        self.assertEqual(rc, 1)
        self.assertIn("--cpu-weight: '0' must be between 1 and 10000", err)

    def test_run_wait_returns_the_result(self):
        rc, out, _ = self.ctl("run", "--wait", "-t", "2s", "--", "sleep", "10")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "run-1: timed out after 2s, peak memory 3M\n")
        self.assertEqual(self.last_request()["timeout"], "2s")


class Streams(Base):
    def follow(self, *args, lines):
        e = dict(os.environ, SBX_SOCKET=self.sock)
        p = subprocess.Popen([SBXCTL, *args], stdout=subprocess.PIPE, text=True, env=e)
        try:
            return [p.stdout.readline() for _ in range(lines)]
        finally:
            p.terminate()
            p.wait()
            p.stdout.close()

    def test_logs_follow_prints_each_chunk(self):
        got = self.follow("logs", "-f", "-n", "5", "web", lines=5)
        self.assertEqual(got, ["line 1\n", "line 2\n", "new 0\n", "new 1\n", "new 2\n"])
        self.assertEqual(self.last_request()["lines"], 5)

    def test_events_follow(self):
        got = self.follow("events", "-f", lines=3)
        self.assertRegex(got[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} web exited: status 1\n")
        # a monotonic time_ms is shown as the wall-clock time of now
        self.assertTrue(got[0].startswith(time.strftime("%Y-%m-%d %H:%M")[:13]), got[0])
        self.assertTrue(got[1].endswith('web backoff: {"delay_ms":200}\n'))

    def test_events_follow_json(self):
        got = self.follow("events", "-f", "--json", lines=2)
        self.assertEqual(json.loads(got[1])["event"]["event"], "exited")


class Dribble(Base):
    opts = {"dribble": True}

    def test_partial_reads(self):
        rc, out, _ = self.ctl("status", "--json")
        self.assertEqual((rc, len(json.loads(out)["units"])), (0, 4))


class Refused(Base):
    opts = {"deny": True}

    def test_denied(self):
        rc, out, err = self.ctl("status")
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, r"^sbxctl: permission denied: uid \d+ may not use sbxd\n$")


class OtherProtocol(Base):
    opts = {"protocol": [2]}

    def test_version_checked(self):
        rc, _, err = self.ctl("status")
        self.assertEqual(rc, 1)
        self.assertIn("does not speak protocol version 1 (it offers [2])", err)


class WithoutServer(Base):
    def test_missing_daemon_is_one_line(self):
        path = os.path.join(self.dir.name, "none.sock")
        rc, out, err = self.ctl("--socket", path, "status")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "sbxctl: cannot reach sbxd at %s: no such socket "
                              "(is sbxd running?)\n" % path)

    def test_dead_daemon(self):
        import socket
        path = os.path.join(self.dir.name, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
        rc, _, err = self.ctl("status", env={"SBX_SOCKET": path})
        self.assertEqual(rc, 1)
        self.assertIn("connection refused (is sbxd running?)", err)

    def test_bad_values_fail_before_connecting(self):
        nowhere = {"SBX_SOCKET": "/nonexistent/sbxd.sock"}
        for args, text in ((["run", "-m", "12Q", "--", "true"], "--memory: size '12Q'"),
                           (["run", "-c", "0", "--", "true"], "--cpu:"),
                           (["run", "-t", "soon", "--", "true"], "--timeout:"),
                           (["set", "web", "memory=lots"], "memory: size 'lots'"),
                           (["set", "web", "nofile=5"], "expected KEY=VALUE"),
                           (["logs", "-s", "9", "web"], "--signal: not an option of logs"),
                           (["-f", "events"], "--follow: goes after the command"),
                           (["freeze"], "freeze: expects one UNIT"),
                           (["run"], "run: no command given"),
                           (["frobnicate"], "frobnicate: unknown command")):
            rc, out, err = self.ctl(*args, env=nowhere)
            self.assertEqual((rc, out), (1, ""), args)
            self.assertIn(text, err, args)
            self.assertNotIn("cannot reach", err, args)

    def test_help(self):
        rc, out, _ = self.ctl("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: sbxctl", out)

    def test_version(self):
        rc, out, _ = self.ctl("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^sbxctl \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    if not SBXCTL or not os.access(SBXCTL, os.X_OK):
        print("skipped: SBXCTL does not name the sbxctl binary")
        sys.exit(77)
    unittest.main()
