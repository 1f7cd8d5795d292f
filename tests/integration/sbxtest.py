"""Shared pieces of the sbx-run integration tests (Python 3 stdlib only).

The tests run the real `sbx-run` as a black box, with `sbx-test-child` (the
misbehaving target, tests/helper/) as the program inside. Their paths come
from the environment (SBX_RUN, SBX_CHILD; set by CMake). What the machine
offers (root, cgroup mode, controllers) is read here from the kernel's own
files, never from our code, so that the tests judge sbx-run independently.

Skips: a test whose machine lacks a capability skips with the reason; with
SBX_MUST_WORK=1 in the environment every such skip is a failure instead.
Temporary files go below $TMPDIR, else /var/tmp (the VM has its own /tmp).

Each test file ends with `sbxtest.main()`: exit 0 when everything passed,
77 when every test was skipped (ctest's SKIP_RETURN_CODE), 1 on any failure.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

SBX_RUN = os.environ.get("SBX_RUN", "")


def outside_tmp(path):
    """A build tree under /tmp (a checkout there) would vanish behind
    --private-tmp or a new root: the target program is then run from a copy
    in /var/tmp."""
    if not path.startswith("/tmp/"):
        return path
    d = os.path.join("/var/tmp", "sbx-test-bin-%d" % os.getuid())
    os.makedirs(d, mode=0o755, exist_ok=True)
    dst = os.path.join(d, os.path.basename(path))
    tmp = "%s.%d" % (dst, os.getpid())
    shutil.copy2(path, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)  # atomic: test files run in parallel
    return dst


SBX_CHILD = outside_tmp(os.environ.get("SBX_CHILD", ""))
MUST_WORK = os.environ.get("SBX_MUST_WORK") == "1"

MiB = 1 << 20

# Exit statuses of sbx-run (like timeout(1) and env(1)).
EXIT_ESCAPED = 123
EXIT_TIMEOUT = 124
EXIT_SETUP = 125
EXIT_NOEXEC = 126
EXIT_NOTFOUND = 127

RESULT_KEYS = ("reason", "exit_code", "signal", "wall_ms", "user_ms", "sys_ms",
               "peak_memory_bytes", "oom_kills", "pids_peak", "backend",
               "enforced", "error")


# --- skipping ---------------------------------------------------------------

def skip(reason):
    """Skips the current test, or fails it when SBX_MUST_WORK=1. Call it in
    a test or setUp (not setUpClass), so that every test counts."""
    if MUST_WORK:
        raise AssertionError("SBX_MUST_WORK=1 but cannot run: " + reason)
    raise unittest.SkipTest(reason)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (creating cgroups)")


def need_cgroups(*controllers):
    """Skips unless we are root and every named controller is usable."""
    need_root()
    m = machine()
    if m.mode == "none":
        skip("no cgroup filesystem mounted")
    missing = [c for c in controllers if c not in m.controllers]
    if missing:
        skip("no cgroup controller: " + ", ".join(missing))


# --- the machine, from /proc/self/mountinfo ---------------------------------

class Mount:
    def __init__(self, point, root, fstype, controllers):
        self.point = point            # where it is mounted
        self.root = root              # which cgroup is its top
        self.fstype = fstype          # "cgroup" (v1) or "cgroup2"
        self.controllers = controllers  # v1: from the super options

    def __repr__(self):
        return "Mount(%s %s %s)" % (self.point, self.fstype, sorted(self.controllers))


V1_CONTROLLERS = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                  "net_cls", "blkio", "perf_event", "net_prio", "hugetlb",
                  "pids", "rdma", "misc"}


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = "", 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out += chr(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out += field[i]
            i += 1
    return out


def cgroup_mounts():
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            lf, rf = left.split(), right.split()
            fstype, opts = rf[0], rf[2] if len(rf) > 2 else ""
            if fstype not in ("cgroup", "cgroup2"):
                continue
            ctl = set()
            if fstype == "cgroup":
                ctl = {o for o in opts.split(",") if o in V1_CONTROLLERS}
            mounts.append(Mount(_unescape(lf[4]), _unescape(lf[3]), fstype, ctl))
    return mounts


class Machine:
    """The cgroup mode and usable controllers, as the kernel shows them."""

    def __init__(self):
        self.mounts = cgroup_mounts()
        v1 = [m for m in self.mounts if m.fstype == "cgroup" and m.controllers]
        v2 = [m for m in self.mounts if m.fstype == "cgroup2"]
        self.v2_mount = v2[0] if v2 else None
        self.v1_controllers = set().union(*[m.controllers for m in v1]) if v1 else set()
        self.v2_controllers = set()
        if self.v2_mount:
            own = own_cgroups().get("", "/")
            path = os.path.join(self.v2_mount.point,
                                os.path.relpath(own, self.v2_mount.root))
            try:
                with open(os.path.join(path, "cgroup.controllers")) as f:
                    self.v2_controllers = set(f.read().split())
            except OSError:
                pass
        if v1 and v2:
            self.mode = "hybrid"
        elif v1:
            self.mode = "v1"
        elif v2:
            self.mode = "v2"
        else:
            self.mode = "none"
        # Where sbx-run puts its limits: v1 controllers when there are any.
        self.controllers = self.v1_controllers if v1 else self.v2_controllers

    def mount_of(self, path):
        """The cgroup mount holding path (the longest matching mount point)."""
        best = None
        for m in self.mounts:
            if path == m.point or path.startswith(m.point.rstrip("/") + "/"):
                if best is None or len(m.point) > len(best.point):
                    best = m
        return best


_machine = None


def machine():
    global _machine
    if _machine is None:
        _machine = Machine()
    return _machine


def parse_proc_cgroup(text):
    """/proc/PID/cgroup text -> {controller: path}; the v2 line is key ""."""
    out = {}
    for line in text.splitlines():
        if not line:
            continue
        _, ctl, path = line.split(":", 2)
        if ctl == "":
            out[""] = path
        for c in ctl.split(","):
            if c:
                out[c] = path
    return out


def own_cgroups():
    with open("/proc/self/cgroup") as f:
        return parse_proc_cgroup(f.read())


def find_cgroup_dirs(names):
    """Every directory called one of names in any cgroup hierarchy; a name
    ending in "-" stands for every name it starts."""
    names, found = set(names), []
    prefixes = tuple(n for n in names if n.endswith("-"))
    for m in cgroup_mounts():
        for top, dirs, _ in os.walk(m.point):
            found += [os.path.join(top, d) for d in dirs
                      if d in names or (prefixes and d.startswith(prefixes))]
    return found


def box_names(runs):
    """The cgroup names of runs' boxes: the last part of the result's
    `cgroup`, and sbx-run-<pid>-<start time> (how sbx-run names them) for
    runs that reported none."""
    names = set()
    for r in runs:
        path = (r.result or {}).get("cgroup")
        if isinstance(path, str) and path.startswith("/"):
            names.add(os.path.basename(path))
        if r.pid:
            names.add("sbx-run-%d-" % r.pid)
    return names


# --- processes --------------------------------------------------------------

def children(pid):
    """The children of pid, by pid."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def run_children(pid):
    """The children of sbx-run pid that run the program (sbx's init, or
    the program), without the box's watcher (sbx-watch)."""
    return [c for c in children(pid) if comm(c) != "sbx-watch"]


def watchers(pid):
    """The box watchers of sbx-run pid (die_with_parent)."""
    return [c for c in children(pid) if comm(c) == "sbx-watch"]


def tagged_pids(tag):
    """Live (not zombie) processes whose environment holds SBX_TEST_TAG=tag."""
    needle = ("SBX_TEST_TAG=%s" % tag).encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env:
            pids.append(int(name))
    return pids


def process_gone(pid, within=2.0):
    """True once /proc/pid is gone (reaped), waiting up to within seconds."""
    deadline = time.monotonic() + within
    while True:
        if not os.path.exists("/proc/%d" % pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


# --- running sbx-run ----------------------------------------------------------

def tmp_base():
    return os.environ.get("TMPDIR") or "/var/tmp"


def pattern(n):
    """The bytes `sbx-test-child bytes N` writes: byte i is i % 251."""
    period = bytes(range(251))
    return (period * (n // 251 + 1))[:n]


class Run:
    """One finished sbx-run: status, output, wall time and parsed result."""

    def __init__(self, argv, status, stdout, stderr, wall, result, tag, pid):
        self.argv = argv
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.wall = wall        # seconds, as we saw it
        self.result = result    # the --result JSON, or None
        self.tag = tag
        self.pid = pid          # sbx-run's pid: its box is sbx-run-<pid>-<start>

    def text(self):
        return self.stdout.decode(errors="replace")

    def __str__(self):
        return ("%s\n  status %s, %.3f s\n  stdout %r\n  stderr %r\n  result %s"
                % (" ".join(self.argv), self.status, self.wall,
                   self.stdout[:300], self.stderr[:600], self.result))


# The runs started by the current test, for clean_up().
_runs = []


class Pending:
    """A started sbx-run; finish() waits for it."""

    def __init__(self, argv, proc, result_path, tag, stdin_data, timeout):
        self.argv, self.proc, self.result_path = argv, proc, result_path
        self.tag, self.stdin_data, self.timeout = tag, stdin_data, timeout
        self.pid, self.result = proc.pid, None
        self.started = time.monotonic()
        _runs.append(self)

    def abandon(self):
        """Stops sbx-run if it still runs (clean_up, after a failure)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        if self.result_path and os.path.exists(self.result_path):
            os.unlink(self.result_path)

    def finish(self):
        try:
            out, err = self.proc.communicate(self.stdin_data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # Ask sbx-run to stop its tree, then make sure it is gone.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
            raise AssertionError("sbx-run did not finish within %ss: %s"
                                 % (self.timeout, " ".join(self.argv)))
        wall = time.monotonic() - self.started
        result = None
        if self.result_path:
            try:
                with open(self.result_path) as f:
                    text = f.read()
                result = json.loads(text) if text.strip() else None
            except FileNotFoundError:
                pass
            finally:
                try:
                    os.unlink(self.result_path)
                except OSError:
                    pass
        self.result = result
        return Run(self.argv, self.proc.returncode, out or b"", err or b"", wall, result,
                   self.tag, self.proc.pid)


def start(opts=(), child=None, cmd=None, input=None, stdin=None, env=None,
          result=True, tag=True, timeout=30):
    """Starts `sbx-run OPTS -- CMD`, where CMD is `sbx-test-child CHILD...`
    when child is given. tag adds -e SBX_TEST_TAG=<unique> so that anything
    the run leaves alive can be found (tagged_pids)."""
    if cmd is None:
        cmd = [SBX_CHILD] + list(child or [])
    argv = [SBX_RUN]
    result_path = None
    if result:
        fd, result_path = tempfile.mkstemp(prefix="sbx-result-", suffix=".json",
                                           dir=tmp_base())
        os.close(fd)
        argv += ["--result", result_path]
    run_tag = None
    if tag:
        run_tag = uuid.uuid4().hex
        argv += ["-e", "SBX_TEST_TAG=" + run_tag]
    argv += list(opts) + ["--"] + list(cmd)
    penv = dict(os.environ)
    penv.update(env or {})
    if input is not None:
        stdin = subprocess.PIPE
    elif stdin is None:
        stdin = subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=penv)
    return Pending(argv, proc, result_path, run_tag, input, timeout)


# The program's own pids as the host sees them: without the default PID
# namespace (a test that checks from outside that a pid it was told is gone).
HOST_PIDS = ("--no-pidns",)
# Where the program's /proc/self/cgroup names its real box: no cgroup
# namespace, so none of the containment (limits then need --best-effort).
PRIVILEGED = ("--privileged", "--best-effort")


def sbx(opts=(), child=None, **kw):
    return start(opts, child, **kw).finish()



def clean_up():
    """After a test, whatever its outcome: kill what its runs left alive
    (found by their tags: only processes we started) and remove the boxes
    they left, so that one failure does not leak into the machine or the
    next test. The test's own assertions have already reported them."""
    runs, _runs[:] = list(_runs), []
    for r in runs:
        if isinstance(r, Pending):
            r.abandon()
    for r in runs:
        for pid in tagged_pids(r.tag) if r.tag else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    left = sorted(find_cgroup_dirs(box_names(runs)), key=len, reverse=True)
    deadline = time.monotonic() + 2
    while left and time.monotonic() < deadline:
        for d in list(left):
            try:
                os.rmdir(d)
                left.remove(d)
            except FileNotFoundError:
                left.remove(d)
            except OSError:
                pass
        if left:
            time.sleep(0.05)


def sbx_plain(args, timeout=30):
    """sbx-run ARGS exactly as given (no --result, no tag)."""
    t0 = time.monotonic()
    p = subprocess.run([SBX_RUN] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return Run([SBX_RUN] + list(args), p.returncode, p.stdout, p.stderr,
               time.monotonic() - t0, None, None, None)


# --- test base ----------------------------------------------------------------

class TestCase(unittest.TestCase):
    """Base of the tests: checks SBX_RUN/SBX_CHILD, gives each test a fresh
    temporary directory (self.tmp), and skips when not root unless the
    class sets needs_root = False: sbx-run's default backend creates
    cgroups, which needs root (or a delegated cgroup)."""

    maxDiff = 4000
    needs_root = True

    @classmethod
    def setUpClass(cls):
        if not SBX_RUN or not os.access(SBX_RUN, os.X_OK):
            raise AssertionError("SBX_RUN must name the sbx-run binary (got %r)" % SBX_RUN)
        if not SBX_CHILD or not os.access(SBX_CHILD, os.X_OK):
            raise AssertionError("SBX_CHILD must name sbx-test-child (got %r)" % SBX_CHILD)

    def setUp(self):
        if self.needs_root:
            need_root()
        self.tmp = tempfile.mkdtemp(prefix="sbx-test-", dir=tmp_base())
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        _runs.clear()
        self.addCleanup(clean_up)

    # Assertions that print the whole run when they fail.
    def assertStatus(self, run, status):
        self.assertEqual(run.status, status, "wrong exit status\n%s" % run)

    def assertResult(self, run, **expect):
        self.assertIsNotNone(run.result, "no result JSON\n%s" % run)
        got = {k: run.result.get(k) for k in expect}
        self.assertEqual(got, expect, "result differs\n%s" % run)

    def overhead(self):
        """What starting and ending a trivial run costs here and now (tens of
        ms on the host, more under an emulated VM): the allowance on top of
        the upper bound of a run's duration as we time it from outside."""
        if getattr(self, "_overhead", None) is None:
            r = sbx(child=["exit", "0"])
            self.assertStatus(r, 0)
            self._overhead = r.wall
        return self._overhead

    def assertWall(self, run, low, high):
        """run took low..high seconds: from outside (plus overhead() at the
        top), and by its own wall_ms when it reported one."""
        self.assertGreaterEqual(run.wall, low, run)
        self.assertLessEqual(run.wall, high + self.overhead(),
                             "longer than %.2f s + %.3f s overhead\n%s"
                             % (high, self.overhead(), run))
        if run.result and run.result.get("wall_ms") is not None:
            # Whole milliseconds, from timers of millisecond resolution.
            ms = run.result["wall_ms"]
            self.assertTrue(low * 1000 - 1 <= ms <= high * 1000,
                            "wall_ms %d not in %.2f..%.2f s\n%s" % (ms, low, high, run))

    def assertNoSurvivors(self, run):
        left = tagged_pids(run.tag)
        self.assertEqual(left, [], "processes of the run still alive: %s\n%s"
                         % ([(p, proc_state(p)) for p in left], run))

    def assertNoBoxLeft(self, *runs):
        left = find_cgroup_dirs(box_names(runs))
        self.assertEqual(left, [], "cgroup directories left behind")


def main():
    prog = unittest.TestProgram(module="__main__", exit=False,
                                testRunner=unittest.TextTestRunner(verbosity=2))
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    if res.testsRun and len(res.skipped) == res.testsRun:
        sys.exit(77)
    sys.exit(0)
