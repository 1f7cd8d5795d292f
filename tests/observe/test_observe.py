#!/usr/bin/env python3
"""sbxd's views of its real units (supervisor/observe.c): `sbxd --http`
serving /api/v1/units (the same objects as `sbxctl status --json`), a
unit's detail, /metrics with values checked against the units' cgroup
files, `sbxctl metrics` (the same text over the control socket, checked by
`promtool check metrics`), the token (a unit on the shared loopback cannot
read /metrics when one is set) and the refusals of bad token files.

A real sbxd on a units directory of its own (tests/sbxd/sbxdtest.py), with
sbx-test-child as the units' program. Labelled `observe`. SBX_MUST_WORK=1
turns every skip into a failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sbxd"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import sbxdtest  # noqa: E402
import sbxtest  # noqa: E402
from sbxdtest import child_cmd, skip, wait_until  # noqa: E402

SBXCTL = os.environ.get("SBXCTL", "")
TOKEN = "observe-token-0123456789abcdef"
SECRET = "xyzzy-environment-value-4711"


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of a Prometheus exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError("not an exposition line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def sample(metrics, name, unit):
    return metrics.get((name, frozenset({("unit", unit)})))


def cgroup_dirs(pid):
    """{controller: directory} of a process, from /proc/PID/cgroup."""
    dirs = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls == "":
                dirs["unified"] = "/sys/fs/cgroup" + path
            for c in ctrls.split(","):
                if c and os.path.isdir("/sys/fs/cgroup/" + c):
                    dirs[c] = "/sys/fs/cgroup/" + c + path
    return dirs


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


class Base(sbxdtest.TestCase):

    def setUp(self):
        super().setUp()
        if not SBXCTL or not os.access(SBXCTL, os.X_OK):
            raise AssertionError("SBXCTL must name sbxctl (got %r)" % SBXCTL)
        self.sock = os.path.join(self.tmp, "sbxd.sock")

    def start_http(self, *extra):
        d = self.start_sbxd(["--http", "127.0.0.1:0"] + list(extra))
        line = d.wait_line(r"http: listening on port \d+", 10)[0]
        self.assertTrue(line, d.transcript())
        self.port = int(re.search(r"port (\d+)", line).group(1))
        return d

    def get(self, path, token=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def ctl(self, *args):
        p = subprocess.run([SBXCTL, "--socket", self.sock] + list(args), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout


class Views(Base):

    def test_units_json_is_the_status_json(self):
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 100)},
                              "limits": {"memory": "64M", "pids": 20}})
        self.write_unit("b", {"exec": {"command": child_cmd("exit", 3)},
                              "restart": {"policy": "no"}})
        d = self.start_http()
        d.wait_running(10, "a")
        d.wait_event(10, unit="b", state="failed")
        api = json.loads(self.get("/api/v1/units"))["units"]
        ctl = json.loads(self.ctl("--json", "status"))["units"]
        moving = ("uptime_ms", "since_ms", "memory", "memory_peak", "cpu_usage_us")
        strip = lambda units: [{k: v for k, v in u.items() if k not in moving} for u in units]
        self.assertEqual(strip(api), strip(ctl))
        self.assertEqual([u["name"] for u in api], ["a", "b"])
        self.assertEqual(api[1]["last"]["exit_code"], 3)

    def test_unit_detail_has_limits_and_enforcement_never_env_values(self):
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 100),
                                       "env": "TOKENISH=" + SECRET},
                              "limits": {"memory": "48M", "pids": 12}})
        d = self.start_http()
        d.wait_running(10, "a")
        u = json.loads(self.get("/api/v1/units/a"))
        self.assertEqual(u["limits"]["memory"], 48 << 20)
        self.assertEqual(u["limits"]["pids"], 12)
        self.assertIn("memory", [e["limit"] for e in u["enforced"]])
        self.assertIn("log", u)
        self.assertIn("runs", u)
        for path in ("/api/v1/units", "/api/v1/units/a", "/metrics", "/"):
            self.assertNotIn(SECRET, self.get(path), path)
        self.assertNotIn(SECRET, self.ctl("metrics"))
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.get("/api/v1/units/nosuch")
        self.assertEqual(e.exception.code, 404)

    def test_metrics_match_the_cgroup_files(self):
        sbxtest.need_cgroups("memory", "pids")
        self.write_unit("mem", {"exec": {"command": child_cmd("alloc", 24, "sleep", 100)},
                                "limits": {"memory": "96M", "pids": 16}})
        self.write_unit("fleet", {"unit": {"instances": 2},
                                  "exec": {"command": child_cmd("sleep", 100)}})
        d = self.start_http()
        pid = d.wait_running(10, "mem")[0].pid()
        d.wait_running(10, "fleet@2")
        self.assertTrue(wait_until(lambda: "ok 24" in self.read_log("mem").decode(), 10))
        dirs = cgroup_dirs(pid)
        v2 = "memory" not in dirs
        mdir = dirs["unified" if v2 else "memory"]
        pdir = dirs["unified" if v2 else "pids"]
        mem_file = os.path.join(mdir, "memory.current" if v2 else "memory.usage_in_bytes")
        before = read_int(mem_file)
        m = parse_metrics(self.get("/metrics"))
        after = read_int(mem_file)
        got = sample(m, "sbx_unit_memory_bytes", "mem")
        self.assertGreaterEqual(got, min(before, after) - 65536, (before, got, after))
        self.assertLessEqual(got, max(before, after) + 65536, (before, got, after))
        self.assertGreater(got, 24 << 20)
        limit = read_int(os.path.join(mdir, "memory.max" if v2 else "memory.limit_in_bytes"))
        self.assertEqual(sample(m, "sbx_unit_memory_limit_bytes", "mem"), limit)
        # sbx's init (with a PID namespace, the program's parent in the same
        # box) is not counted as the unit's: the kernel's figures less it.
        init = 1 if cgroup_dirs(sbxdtest.ppid_of(pid)).get("unified" if v2 else "pids") == pdir else 0
        self.assertEqual(sample(m, "sbx_unit_tasks", "mem"),
                         read_int(os.path.join(pdir, "pids.current")) - init)
        self.assertEqual(sample(m, "sbx_unit_tasks_limit", "mem"),  # the init's room added
                         read_int(os.path.join(pdir, "pids.max")) - init)
        self.assertEqual(sample(m, "sbx_unit_up", "mem"), 1)
        self.assertEqual(m[("sbx_unit_state", frozenset({("unit", "mem"), ("state", "running")}))], 1)
        self.assertEqual(m[("sbx_unit_up", frozenset({("unit", "fleet@2"), ("instance_of", "fleet")}))], 1)
        start = sample(m, "sbx_unit_start_time_seconds", "mem")
        self.assertLess(abs(start - time.time()), 60)
        self.assertGreater(sample(m, "sbx_unit_log_written_bytes_total", "mem"), 0)
        self.assertGreater(m[("process_open_fds", frozenset())], 0)

    def test_oom_kills_and_peak_match_the_cgroup_files(self):
        # /metrics reads the cheap brief figures until a box's OOM event
        # fires: a unit whose child was OOM-killed (the unit still runs)
        # shows the kernel's count, one never near its limit shows 0.
        sbxtest.need_cgroups("memory")
        hog = "%s; exec %s" % (child_cmd("alloc", 200), child_cmd("sleep", 100))
        self.write_unit("oomy", {"exec": {"command": "/bin/sh -c '%s'" % hog},
                                 "limits": {"memory": "32M"}})
        self.write_unit("calm", {"exec": {"command": child_cmd("alloc", 8, "sleep", 100)},
                                 "limits": {"memory": "64M"}})
        d = self.start_http()
        d.wait_running(10, "oomy")
        pid = d.wait_running(10, "calm")[0].pid()
        self.assertTrue(wait_until(lambda: "ok 8" in self.read_log("calm").decode(), 10))
        dirs = cgroup_dirs(pid)
        v2 = "memory" not in dirs
        oomy_dir = os.path.join(os.path.dirname(dirs["unified" if v2 else "memory"]), "oomy")

        def kernel_kills():
            if v2:
                with open(os.path.join(oomy_dir, "memory.events")) as f:
                    return int(re.search(r"^oom_kill (\d+)$", f.read(), re.M).group(1))
            with open(os.path.join(oomy_dir, "memory.oom_control")) as f:
                return int(re.search(r"^oom_kill (\d+)$", f.read(), re.M).group(1))
        self.assertTrue(wait_until(lambda: kernel_kills() >= 1, 15))
        m = parse_metrics(self.get("/metrics"))
        self.assertEqual(sample(m, "sbx_unit_oom_kills_total", "oomy"), kernel_kills())
        self.assertEqual(sample(m, "sbx_unit_up", "oomy"), 1, d.transcript())
        self.assertEqual(sample(m, "sbx_unit_oom_kills_total", "calm"), 0)
        peak_file = "memory.peak" if v2 else "memory.max_usage_in_bytes"
        peak = os.path.join(dirs["unified" if v2 else "memory"], peak_file)
        if os.path.exists(peak):
            self.assertEqual(sample(m, "sbx_unit_memory_peak_bytes", "calm"), read_int(peak))

    def test_sbxctl_metrics_passes_promtool(self):
        promtool = shutil.which("promtool")
        if not promtool:
            skip("no promtool (Debian's prometheus package)")
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 100)},
                              "limits": {"memory": "32M", "cpu": "50%"}})
        self.write_unit("b", {"exec": {"command": child_cmd("exit", 1)},
                              "restart": {"policy": "no"}})
        d = self.start_http()
        d.wait_running(10, "a")
        d.wait_event(10, unit="b", state="failed")
        text = self.ctl("metrics")
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        over_http = parse_metrics(self.get("/metrics"))
        over_socket = parse_metrics(text)
        self.assertEqual(set(over_http), set(over_socket))
        self.assertEqual(sample(over_socket, "sbx_unit_cpu_limit_cores", "a"), 0.5)
        self.assertEqual(sample(over_socket, "sbx_unit_last_exit_code", "b"), 1)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime


class Trend(Base):

    def trend(self, unit, watch=False):
        units = json.loads(self.get("/api/v1/units") if watch else self.ctl("--json", "status"))
        return {u["name"]: u for u in units["units"]}[unit]["trend"]

    def test_samples_only_while_watched_then_no_timer(self):
        self.write_unit("a", {"exec": {"command": child_cmd("spin", 1, 1000)},
                              "limits": {"cpu": "20%"}})
        d = self.start_http()
        d.wait_running(10, "a")
        time.sleep(2.5)
        self.assertIsNone(self.trend("a"), "sampled before anyone watched")
        self.assertEqual(len(self.trend("a", watch=True)["memory"]), 1)
        self.assertTrue(wait_until(lambda: len(self.trend("a")["memory"]) >= 3, 10))
        t = self.trend("a")
        self.assertEqual(t["interval_ms"], 2000)
        self.assertEqual(len(t["cpu_percent"]), len(t["memory"]) - 1)
        self.assertTrue(all(0 < c <= 40 for c in t["cpu_percent"]), t)  # under its 20% quota
        # Nobody looks for 30 s: the timer stops, and sbxd does nothing.
        time.sleep(32)
        n = len(self.trend("a")["memory"])
        ticks = cpu_ticks(d.pid)
        time.sleep(4.5)
        self.assertEqual(len(self.trend("a")["memory"]), n, "sampled with nobody watching")
        self.assertLessEqual(cpu_ticks(d.pid) - ticks, 2)

    def test_a_fixed_interval_samples_always(self):
        self.write_unit("a", {"exec": {"command": child_cmd("sleep", 100)}})
        d = self.start_http("--sample", "300ms")
        d.wait_running(10, "a")
        self.assertTrue(wait_until(lambda: (self.trend("a") or {}).get("memory", []) and
                                   len(self.trend("a")["memory"]) >= 5, 10))
        self.assertEqual(self.trend("a")["interval_ms"], 300)
        self.assertTrue(wait_until(lambda: len(self.trend("a")["memory"]) == 30, 15),
                        "the ring keeps the last 30")


class Token(Base):

    def token_file(self, mode=0o600, text=TOKEN):
        path = os.path.join(self.tmp, "token")
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, mode)
        return path

    def test_a_unit_cannot_read_metrics_when_a_token_is_set(self):
        sbxtest.need_root()
        token = self.token_file()
        probe = ("import urllib.request,urllib.error,sys\n"
                 "try:\n"
                 "    urllib.request.urlopen('http://127.0.0.1:%s/metrics', timeout=5)\n"
                 "    print('probe: read')\n"
                 "except urllib.error.HTTPError as e:\n"
                 "    print('probe: http', e.code)\n"
                 "except Exception as e:\n"
                 "    print('probe: error', e)\n"
                 "try:\n"
                 "    open(%r).read(); print('probe: token read')\n"
                 "except OSError as e:\n"
                 "    print('probe: token', e.errno)\n")
        self.write_unit("hold", {"exec": {"command": child_cmd("sleep", 100)}})
        d = self.start_http("--http-token", token)
        d.wait_running(10, "hold")
        self.assertIn("sbx_unit_up", self.get("/metrics", TOKEN))
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.get("/metrics")
        self.assertEqual(e.exception.code, 401)
        script = os.path.join(self.tmp, "probe.py")
        with open(script, "w") as f:
            f.write(probe % (self.port, token))
        os.chmod(self.tmp, 0o755)
        os.chmod(script, 0o644)
        python = "/usr/bin/python3"   # one the user nobody may run
        if not os.access(python, os.X_OK):
            skip("no /usr/bin/python3 for the probe unit")
        self.write_unit("probe", {"exec": {"command": "%s %s" % (python, script),
                                           "user": "nobody"},
                                  "restart": {"policy": "no"}})
        self.ctl("reload")
        d.wait_event(20, unit="probe", state="exited")
        log = self.read_log("probe").decode()
        self.assertIn("probe: http 401", log)
        self.assertIn("probe: token 13", log)  # EACCES

    def refused(self, token):
        d = self.start_sbxd(["--http", "127.0.0.1:0", "--http-token", token], wait_loaded=False)
        self.assertTrue(wait_until(lambda: d.proc.poll() is not None, 10), d.transcript())
        self.checked_stop = True
        self.assertNotEqual(d.proc.returncode, 0)
        return "\n".join(d.lines)

    def test_a_token_file_others_may_read_is_refused(self):
        self.assertIn("readable by others or its group (chmod 600)",
                      self.refused(self.token_file(0o640)))

    def test_a_token_file_of_another_user_is_refused(self):
        sbxtest.need_root()
        path = self.token_file()
        os.chown(path, 65534, 65534)
        self.assertIn("not owned by the user sbxd runs as", self.refused(path))

    def test_a_short_token_is_refused(self):
        self.assertIn("shorter than 16", self.refused(self.token_file(text="short")))


if __name__ == "__main__":
    sbxtest.main()
