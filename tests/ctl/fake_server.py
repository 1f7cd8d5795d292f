#!/usr/bin/env python3
"""A stand-in for sbxd's control socket (doc/protocol.md, version 1) with
canned units, so that sbxctl can be tried and tested without a daemon.

    python3 tests/ctl/fake_server.py SOCKET [--deny] [--protocol N] [--dribble]

Units: web (running), worker (backoff), batch (failed), idle (inactive, its
figures unknown). Anything else is no-such-unit. --deny refuses every
client as sbxd refuses an unknown uid; --protocol offers another version;
--dribble writes every reply a few bytes at a time (partial reads).
"""

import json
import os
import socket
import sys
import threading
import time

UNITS = {
    "web": {"name": "web", "description": "the web front", "state": "running",
            "pid": 1234, "uptime_ms": 5230, "restarts": 0, "memory": 1843200,
            "memory_peak": 2002944, "memory_limit": 67108864,
            "cpu_usage_us": 120000, "cpu_limit_percent": 50, "tasks": 1,
            "tasks_limit": 16,
            "last": {"reason": "exited", "exit_code": 0, "signal": None,
                     "wall_ms": 1000}},
    "worker": {"name": "worker", "description": "", "state": "backoff",
               "pid": None, "uptime_ms": None, "restarts": 3, "memory": None,
               "memory_peak": None, "memory_limit": None, "cpu_usage_us": 2500000,
               "cpu_limit_percent": None, "tasks": None, "tasks_limit": None,
               "last": {"reason": "signaled", "exit_code": None, "signal": 9,
                        "wall_ms": 200}},
    "batch": {"name": "batch", "description": "nightly batch", "state": "failed",
              "pid": None, "uptime_ms": None, "restarts": 5, "memory": None,
              "memory_peak": 536870912, "memory_limit": 536870912,
              "cpu_usage_us": 3723000000, "cpu_limit_percent": 250, "tasks": None,
              "tasks_limit": 64,
              "last": {"reason": "memory", "exit_code": None, "signal": 9,
                       "wall_ms": 7384000}},
    "idle": {"name": "idle", "description": None, "state": "inactive", "pid": None,
             "uptime_ms": None, "restarts": 0, "memory": None, "memory_peak": None,
             "memory_limit": None, "cpu_usage_us": None, "cpu_limit_percent": None,
             "tasks": None, "tasks_limit": None, "last": None},
}

DETAIL = {
    # as sbxd sends them: numbers, null when unset, 0 ms when unset
    "limits": {"memory": 67108864, "memory_swap": 0, "cpu": 50, "cpu_weight": None,
               "pids": 16, "nofile": None, "runtime_max_ms": 0, "stop_timeout_ms": 10000,
               "start_timeout_ms": 0, "stop_signal": 15},
    "policy": "on-failure",
    "enforced": [{"limit": "memory", "by": "cgroup2 memory.max"},
                 {"limit": "cpu", "by": "cgroup2 cpu.max"},
                 {"limit": "nofile"}],
    "cgroup": "/sys/fs/cgroup/sbxd/web",
    "runs": [{"reason": "exited", "exit_code": 1, "signal": None, "wall_ms": 300,
              "error": None},
             {"reason": "start-failed", "exit_code": None, "signal": None,
              "wall_ms": 2, "error": "exec: No such file or directory"}],
    "log": "listening on :8080\nGET / 200\n",
}


class Client:
    def __init__(self, conn, opts):
        self.conn, self.opts = conn, opts

    def send(self, obj):
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        if not self.opts.get("dribble"):
            self.conn.sendall(data)
            return
        for i in range(0, len(data), 7):
            self.conn.sendall(data[i:i + 7])
            time.sleep(0.001)

    def error(self, req, code, text):
        self.send({"v": 1, "id": req.get("id"), "ok": False, "code": code, "error": text})

    def reply(self, req, **fields):
        self.send(dict({"v": 1, "id": req.get("id"), "ok": True}, **fields))

    def unit(self, req, name):
        if name not in UNITS:
            self.error(req, "no-such-unit", "no such unit: %s" % name)
            return None
        return UNITS[name]

    def serve(self):
        if self.opts.get("deny"):
            self.send({"v": 1, "ok": False, "code": "permission-denied",
                       "error": "permission denied: uid %d may not use sbxd" % os.getuid()})
            return
        self.send({"v": 1, "sbxd": "0.1.0-fake", "protocol": self.opts.get("protocol", [1]),
                   "access": "control"})
        buf = b""
        while True:
            chunk = self.conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    self.error({}, "bad-request", "not JSON")
                    continue
                self.opts.setdefault("requests", []).append(req)
                getattr(self, "do_" + req.get("cmd", "").replace("-", "_"),
                        self.unknown)(req)

    def unknown(self, req):
        self.error(req, "unknown-command", "unknown command: %s" % req.get("cmd"))

    def do_status(self, req):
        names = req.get("units") or list(UNITS)
        units = []
        for n in names:
            u = self.unit(req, n)
            if u is None:
                return
            units.append(dict(u, **DETAIL) if req.get("detail") else u)
        if req.get("table") and not req.get("detail"):  # rows of the table's columns
            cols = ["name", "state", "adopted", "health", "pid", "uptime_ms", "restarts",
                    "memory", "memory_peak", "memory_limit", "cpu_usage_us",
                    "cpu_limit_percent", "tasks", "tasks_limit", "last"]
            self.reply(req, columns=cols, rows=[[u.get(c) for c in cols] for u in units])
            return
        self.reply(req, units=units)

    def do_start(self, req, goal="running"):
        out = []
        for n in req.get("units", []):
            if self.unit(req, n) is None:
                return
            if n == "batch" and goal != "inactive":
                self.error(req, "failed", "batch: failed (exited 1)")
                return
            out.append({"name": n, "state": goal})
        self.reply(req, units=out)

    def do_stop(self, req):
        self.do_start(req, "inactive")

    do_restart = do_start

    def running(self, req):
        u = self.unit(req, req.get("unit"))
        if u is not None and u["state"] != "running":
            self.error(req, "not-running", "%s is not running" % u["name"])
            return None
        return u

    def do_kill(self, req):
        if self.running(req):
            self.reply(req, signaled=3)

    def do_freeze(self, req):
        if self.running(req):
            self.reply(req)

    do_thaw = do_freeze

    def do_set(self, req):
        if self.running(req):
            limits = {"memory": 134217728, "memory_swap": 0, "cpu": 25, "pids": None}
            self.reply(req, limits={k: v for k, v in limits.items() if k in req["limits"]
                                    or k == "pids"})

    def do_reload(self, req):
        self.reply(req, added=["new"], removed=[], changed=["web"],
                   errors=["conf.d/bad.ini:3: [exec] command: missing"])

    def do_logs(self, req):
        if self.unit(req, req.get("unit")) is None:
            return
        self.reply(req, data="line 1\nline 2\n")
        if req.get("follow"):
            for i in range(3):
                time.sleep(0.02)
                self.send({"log": "new %d\n" % i})

    def do_events(self, req):
        self.reply(req)
        if req.get("follow", True):
            for ev, detail in (("exited", "status 1"), ("backoff", {"delay_ms": 200}),
                               ("running", None)):
                time.sleep(0.02)
                # sbxd's loop clock (CLOCK_MONOTONIC), as sbxd sends it
                self.send({"event": {"time_ms": int(time.monotonic() * 1000), "unit": "web",
                                     "event": ev, "detail": detail}})

    def do_run(self, req):
        fields = {"unit": req.get("name") or "run-1"}
        if req.get("wait"):
            fields["result"] = {"reason": "timeout", "exit_code": None, "signal": 15,
                                "wall_ms": 2000, "peak_memory_bytes": 3145728,
                                "error": None}
        self.reply(req, **fields)


def serve(path, opts):
    """Listens on path in a daemon thread; returns the listening socket."""
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)

    def accept_loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    def handle(conn):
        with conn:
            try:
                Client(conn, opts).serve()
            except (BrokenPipeError, ConnectionResetError):
                pass

    threading.Thread(target=accept_loop, daemon=True).start()
    return srv


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    opts = {"deny": "--deny" in argv, "dribble": "--dribble" in argv}
    if "--protocol" in argv:
        opts["protocol"] = [int(argv[argv.index("--protocol") + 1])]
    serve(argv[1], opts)
    print("fake sbxd on %s (Ctrl-C to stop)" % argv[1])
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv)
