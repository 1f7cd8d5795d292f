"""Shared pieces of the sbxd integration tests (Python 3 stdlib only).

The tests run the real `sbxd` as a black box on a units directory of their
own, with `sbx-test-child` (tests/helper/) as the misbehaving program inside
the units. Paths come from the environment (SBXD, SBX_CHILD; set by CMake).
What we judge comes from sbxd's own event lines (`--log-format json`: one
object a line with time_ms, unit, event, detail), from the kernel (/proc,
the cgroup filesystems) and from the files sbxd writes (LOGDIR/NAME.log).

Each test gets a fresh temporary directory (below $TMPDIR, else /var/tmp),
its own cgroup root `sbxd-test-<pid>-<n>` (so concurrent runs never meet),
and its own control socket path. Every process of the units carries
SBX_TEST_TAG=<unique> in its environment (sbxd passes its environment on),
so that survivors can be found and killed. This process makes itself a
child subreaper, so whatever sbxd leaves behind when it exits (a live
process or an unreaped zombie) is re-parented to us, where we see it.

Skips go through sbxtest.skip (SBX_MUST_WORK=1 turns them into failures).
"""

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import sbxtest  # noqa: E402  (shared with the sbx-run tests; not edited here)

SBXD = os.environ.get("SBXD", "")
SBX_CHILD = os.environ.get("SBX_CHILD", "")
HEAVY = os.environ.get("SBX_HEAVY") == "1"

skip = sbxtest.skip
tmp_base = sbxtest.tmp_base
proc_state = sbxtest.proc_state

PR_SET_CHILD_SUBREAPER = 36
_subreaper = None


def become_subreaper():
    """Orphans of sbxd's tree come to us, not to init: returns success."""
    global _subreaper
    if _subreaper is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            _subreaper = False
    return _subreaper


# --- processes ---------------------------------------------------------------

def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def children_of(parent):
    """(pid, state) of every process whose parent is `parent`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            out.append((pid, fields[0]))
    return out


def alive(pid):
    """Exists and is not a zombie."""
    st = proc_state(pid)
    return st is not None and st != "Z"


def wait_until(pred, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(step)


def cmdline(pid):
    """argv of pid, or None when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


def environ_of(pid):
    """pid's environment as {bytes: bytes}; {} when it is gone."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except OSError:
        return {}


def execed(pid):
    """pid runs a program other than sbxd (it has passed exec)."""
    argv = cmdline(pid)
    return bool(argv) and argv[0] != SBXD


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


# --- cgroups -----------------------------------------------------------------

def own_cgroup_dirs():
    """The directory of our own cgroup in every mounted hierarchy: each v1
    hierarchy with controllers (by /proc/self/cgroup), and the v2 tree."""
    own = sbxtest.own_cgroups()
    dirs = []
    for m in sbxtest.cgroup_mounts():
        if m.fstype == "cgroup2":
            path = own.get("")
        elif m.controllers:
            path = own.get(sorted(m.controllers)[0])
        else:
            continue
        if path is None:
            continue
        rel = os.path.relpath(path, m.root)
        if rel.startswith(".."):
            continue  # our cgroup is not visible in this mount
        dirs.append(os.path.normpath(os.path.join(m.point, rel)))
    return dirs


def cgroup_root_dirs(root):
    """Every existing directory of cgroup root `root` below our cgroups."""
    return [os.path.join(d, root) for d in own_cgroup_dirs()
            if os.path.isdir(os.path.join(d, root))]


def remove_cgroup_tree(path):
    """rmdir bottom-up (cgroup directories hold only kernel files)."""
    for top, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(top, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


# --- units -------------------------------------------------------------------

# The variable that names a unit in its program's environment, for
# TestCase.program_pids (sleeper() sets it).
UNIT_ENV = "SBX_TEST_UNIT"


def sleeper(name, **extra):
    """A unit running sbx-test-child sleep 1000, restarted always, named in
    its environment (UNIT_ENV); extra: more {section: {key: value}}."""
    unit = {"exec": {"command": child_cmd("sleep", 1000), "stdout": "null"},
            "restart": {"policy": "always", "delay": "100ms", "burst": 1000}}
    if name:
        unit["exec"]["env"] = "%s=%s" % (UNIT_ENV, name)
    for section, keys in extra.items():
        unit.setdefault(section, {}).update(keys)
    return unit


def child_cmd(*verbs):
    """A `command =` value running sbx-test-child with verbs."""
    return " ".join([SBX_CHILD] + [str(v) for v in verbs])


def unit_text(sections):
    """INI text from {section: {key: value or [values]}} (in order)."""
    lines = []
    for section, keys in sections.items():
        lines.append("[%s]" % section)
        for k, v in keys.items():
            for one in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("%s = %s" % (k, one))
        lines.append("")
    return "\n".join(lines)


# --- sbxd's event stream --------------------------------------------------------

def program_of(pid, timeout=5):
    """pid, or its child when pid is sbx's init. A fork of sbxd that has
    not exec'd yet is either (an init not yet renamed, or a program about
    to exec): wait until it tells."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
            exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
            if comm == "sbx-init":
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            elif exe != "sbxd":
                return pid
        except OSError:
            return pid
        time.sleep(0.01)
    return pid


class Event:
    """One JSON event line. `event` is "STATE (why)" for transitions, or a
    bare word (oom, removed, cleanup-failed)."""

    def __init__(self, obj, index):
        self.obj = obj
        self.index = index            # position among all stderr lines
        self.time_ms = obj.get("time_ms")
        self.unit = obj.get("unit")
        self.event = obj.get("event", "")
        self.detail = obj.get("detail") or ""
        m = re.match(r"^(\S+) \((.*)\)$", self.event)
        self.state = m.group(1) if m else None
        self.why = m.group(2) if m else None

    def pid(self):
        """The program's pid. A unit started with others at sbxd's start
        is named by its box's first process, which behind sbx's init is
        the init (its only child is the program, forked a moment later)."""
        raw = self.raw_pid()
        return program_of(raw) if raw else None

    def raw_pid(self):
        """The pid the event names (sbx's init, for some)."""
        m = re.match(r"^pid (\d+)$", self.detail)
        return int(m.group(1)) if m else None

    def __repr__(self):
        return json.dumps(self.obj)


class Sbxd:
    """A running sbxd whose stderr is read by a thread into lines/events."""

    def __init__(self, args, env, cwd=None, popen=None):
        """popen: more subprocess.Popen arguments (a terminal as stdin, a
        process group, descriptors to pass)."""
        self.argv = [SBXD] + list(args)
        kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, env=env, cwd=cwd)
        kw.update(popen or {})
        self.proc = subprocess.Popen(self.argv, **kw)
        self.pid = self.proc.pid
        self.lines = []       # every stderr line, decoded
        self.events = []      # the JSON ones, parsed
        self.stdout = b""
        self.cond = threading.Condition()
        self.eof = False
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err.start()
        self.t_out.start()

    def _read_err(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                index = len(self.lines)
                self.lines.append(line)
                if line.startswith("{"):
                    try:
                        self.events.append(Event(json.loads(line), index))
                    except ValueError:
                        pass
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _read_out(self):
        data = self.proc.stdout.read()
        with self.cond:
            self.stdout = data

    def wait(self, pred, timeout):
        """Waits until pred() (called under the lock) is true; returns its
        value, or the last (false) one at the timeout or at sbxd's exit."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v or self.eof:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return v
                self.cond.wait(left)

    def find(self, unit=None, state=None, event=None, since=0):
        """Events (from index `since` in self.events) that match."""
        with self.cond:
            evs = self.events[since:]
        return [e for e in evs
                if (unit is None or e.unit == unit)
                and (state is None or e.state == state)
                and (event is None or e.event == event)]

    def wait_event(self, timeout, unit=None, state=None, event=None, since=0, count=1):
        """Waits for `count` matching events; returns them (or fails)."""
        got = self.wait(lambda: len(self.find(unit, state, event, since)) >= count, timeout)
        evs = self.find(unit, state, event, since)
        if not got:
            raise AssertionError("timed out after %ss waiting for %d event(s) unit=%s "
                                 "state=%s event=%s (got %d)\n%s"
                                 % (timeout, count, unit, state, event, len(evs),
                                    self.transcript()))
        return evs[:count]

    def wait_running(self, timeout, unit, since=0, count=1):
        """Waits for `count` running events of unit and for each of their
        processes to have passed exec (sbxd may report a start as soon as
        it has forked); returns the events."""
        evs = self.wait_event(timeout, unit=unit, state="running", since=since, count=count)
        for e in evs:
            pid = e.pid()
            ok = wait_until(lambda: execed(pid) or not alive(pid), timeout)
            if not ok:
                raise AssertionError("%s: pid %s never passed exec (cmdline %s)\n%s"
                                     % (unit, pid, cmdline(pid), self.transcript()))
        return evs

    def wait_line(self, regex, timeout):
        r = re.compile(regex)
        hit = self.wait(lambda: [l for l in self.lines if r.search(l)], timeout)
        if not hit:
            raise AssertionError("timed out after %ss waiting for a line /%s/\n%s"
                                 % (timeout, regex, self.transcript()))
        return hit

    def state_of(self, unit):
        """The unit's last state by its events, or None."""
        for e in reversed(self.find(unit)):
            if e.state:
                return e.state
        return None

    def mark(self):
        with self.cond:
            return len(self.events)

    def transcript(self, last=80):
        with self.cond:
            lines = self.lines[-last:]
        return "  sbxd stderr (last %d lines):\n    " % len(lines) + "\n    ".join(lines)

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL after timeout. Returns (status, killed)."""
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait()
        self.t_err.join(5)
        self.t_out.join(5)
        return self.proc.returncode, killed


# --- the test base ---------------------------------------------------------------

_serial = [0]


class TestCase(unittest.TestCase):
    """Each test: self.tmp, self.units (the units dir), self.logs (the log
    dir), self.root (the cgroup root name), self.tag. start_sbxd() starts
    the daemon; tearDown stops it (SIGTERM, SIGKILL after a timeout),
    checks that it exited 0 and left neither processes nor cgroups."""

    maxDiff = 6000
    needs_root = True
    stop_timeout = 20

    @classmethod
    def setUpClass(cls):
        if not SBXD or not os.access(SBXD, os.X_OK):
            raise AssertionError("SBXD must name the sbxd binary (got %r)" % SBXD)
        if not SBX_CHILD or not os.access(SBX_CHILD, os.X_OK):
            raise AssertionError("SBX_CHILD must name sbx-test-child (got %r)" % SBX_CHILD)

    def setUp(self):
        if self.needs_root:
            sbxtest.need_root()
            if sbxtest.machine().mode == "none":
                skip("no cgroup filesystem mounted")
        self.tmp = tempfile.mkdtemp(prefix="sbxd-test-", dir=tmp_base())
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.units = os.path.join(self.tmp, "units")
        self.logs = os.path.join(self.tmp, "logs")
        os.mkdir(self.units)
        _serial[0] += 1
        self.root = "sbxd-test-%d-%d" % (os.getpid(), _serial[0])
        self.tag = uuid.uuid4().hex
        self.d = None
        self.checked_stop = False

    def tearDown(self):
        if self.d is None:
            return
        status, killed = self.d.stop(self.stop_timeout)
        leftovers = self._cleanup()
        if not self.checked_stop:
            self.assertFalse(killed, "sbxd did not exit within %ss of SIGTERM\n%s"
                             % (self.stop_timeout, self.d.transcript()))
            self.assertEqual(status, 0, "sbxd exited %s\n%s" % (status, self.d.transcript()))
            self.assertEqual(leftovers, {}, "sbxd left things behind\n%s"
                             % self.d.transcript())

    def _cleanup(self):
        """Kills what our sbxd left (tagged processes only), reaps adopted
        zombies, removes our cgroup root. Returns what was found."""
        found = {}
        procs = [p for p in sbxtest.tagged_pids(self.tag) if p != self.d.pid]
        if procs:
            found["processes"] = [(p, proc_state(p)) for p in procs]
            for p in procs:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            wait_until(lambda: not any(alive(p) for p in procs), 5)
        zombies = self.reap_adopted()
        if zombies:
            found["zombies"] = zombies
        dirs = cgroup_root_dirs(self.root)
        if dirs:
            found["cgroups"] = dirs
            for _ in range(20):
                for d in dirs:
                    remove_cgroup_tree(d)
                if not cgroup_root_dirs(self.root):
                    break
                time.sleep(0.05)
        return found

    def reap_adopted(self):
        """Reaps processes re-parented to us (we are a subreaper) that are
        not our own subprocesses; returns their (pid, state) as found."""
        if not _subreaper:
            return []
        ours = {self.d.pid} if self.d else set()
        got = []
        for pid, st in children_of(os.getpid()):
            if pid in ours:
                continue
            if st == "Z":
                got.append((pid, st))
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        return got

    # --- helpers for the tests ---

    def write_unit(self, name, sections=None, text=None):
        path = os.path.join(self.units, name + ".ini")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text if text is not None else unit_text(sections))
        os.rename(tmp, path)
        return path

    def log_path(self, unit, suffix=""):
        return os.path.join(self.logs, unit + ".log" + suffix)

    def read_log(self, unit, suffix=""):
        try:
            with open(self.log_path(unit, suffix), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def wait_log(self, unit, text, timeout=10):
        """Waits until LOGDIR/UNIT.log holds text (bytes)."""
        ok = wait_until(lambda: text in self.read_log(unit), timeout)
        if not ok:
            self.fail("%r never appeared in %s (holds %r)\n%s"
                      % (text, self.log_path(unit), self.read_log(unit)[-300:],
                         self.d.transcript()))

    def remove_unit(self, name):
        os.unlink(os.path.join(self.units, name + ".ini"))

    def start_sbxd(self, extra=(), wait_loaded=True, popen=None):
        become_subreaper()
        env = dict(os.environ)
        env["SBX_TEST_TAG"] = self.tag
        args = ["--units", self.units, "--log-dir", self.logs,
                "--cgroup-root", self.root, "--log-format", "json",
                "--socket", os.path.join(self.tmp, "sbxd.sock")] + list(extra)
        self.d = Sbxd(args, env, popen=popen)
        if wait_loaded:
            line = self.d.wait_line(r"unit\(s\) loaded from", 10)
            self.assertTrue(line)
        return self.d

    def stop_sbxd(self, timeout=None):
        """Stops sbxd here, checking exit 0 and that nothing is left (the
        tearDown then only tidies up)."""
        status, killed = self.d.stop(timeout or self.stop_timeout)
        self.checked_stop = True
        self.assertFalse(killed, "sbxd did not exit within %ss of SIGTERM\n%s"
                         % (timeout or self.stop_timeout, self.d.transcript()))
        self.assertEqual(status, 0, "sbxd exited %s\n%s" % (status, self.d.transcript()))
        self.assertLeftNothing()
        return status

    def assertLeftNothing(self):
        """After sbxd exited: no tagged process alive, no zombie handed to
        us, no directory of our cgroup root in any hierarchy."""
        wait_until(lambda: [p for p in sbxtest.tagged_pids(self.tag)
                            if p != self.d.pid and alive(p)] == [], 2.0)
        left = [(p, proc_state(p)) for p in sbxtest.tagged_pids(self.tag)
                if p != self.d.pid and alive(p)]
        zombies = self.reap_adopted()
        dirs = cgroup_root_dirs(self.root)
        self.assertEqual({"processes": left, "zombies": zombies, "cgroups": dirs},
                         {"processes": [], "zombies": [], "cgroups": []},
                         "sbxd left things behind\n%s" % self.d.transcript())

    # --- sbxd killed and started again (adoption, faults, chaos) ---

    def crash(self):
        """SIGKILL sbxd (reaped here); its units keep running."""
        self.d.proc.kill()
        self.d.proc.wait()
        self.d.t_err.join(5)
        self.d.t_out.join(5)
        self.d.proc.stderr.close()
        self.d.proc.stdout.close()

    def program_pids(self):
        """unit -> live pids of sbx-test-child carrying UNIT_ENV=unit (see
        unit_env): the programs themselves, not sbx's inits, not forks of
        sbxd that have not exec'd yet."""
        out = {}
        key = UNIT_ENV.encode()
        for pid in sbxtest.tagged_pids(self.tag):
            if self.d and pid == self.d.pid or not alive(pid):
                continue
            unit = environ_of(pid).get(key)
            argv = cmdline(pid) or [""]
            if unit and argv[0] == SBX_CHILD:
                out.setdefault(unit.decode(), []).append(pid)
        return out

    def settled(self, names, timeout):
        """Waits until each unit of names runs exactly once (by
        program_pids) and no other does; returns (twice, missing, extra)
        at that moment or at the timeout."""
        def check():
            self.reap_adopted()
            got = self.program_pids()
            twice = {u: p for u, p in got.items() if len(p) > 1}
            missing = [u for u in names if u not in got]
            extra = sorted(set(got) - set(names))
            return (twice, missing, extra)
        wait_until(lambda: check() == ({}, [], []), timeout, step=0.2)
        return check()

    def outside_units(self, again=True):
        """Tagged live processes (but sbxd) outside the cgroup root. One
        found is looked at again a moment later: a process in the middle
        of its exit has left its cgroups already."""
        bad = []
        for pid in sbxtest.tagged_pids(self.tag):
            if self.d and pid == self.d.pid or not alive(pid):
                continue
            try:
                with open("/proc/%d/cgroup" % pid) as f:
                    text = f.read()
            except OSError:
                continue
            if "/%s/" % self.root not in text:
                bad.append((pid, cmdline(pid)))
        if bad and again:
            time.sleep(0.5)
            return self.outside_units(again=False)
        return bad

    def assertRunOnce(self, names, timeout=60):
        """Each unit of names runs exactly once, no other, nothing outside
        the units' cgroups."""
        got = self.settled(names, timeout)
        named = set(got[0]) | set(got[1]) | set(got[2])
        lines = [l for l in self.d.lines if not l.startswith("{") or
                 any('"%s"' % u in l for u in named)]
        self.assertEqual(got, ({}, [], []), "(twice, missing, extra)\n  their lines:\n    "
                         + "\n    ".join(lines[-200:]) + "\n" + self.d.transcript(40))
        self.assertEqual(self.outside_units(), [], self.d.transcript(100))

    def stop_adopter(self):
        """Stops sbxd, whose adopted units' zombies come to us (the
        subreaper): reaps them, then checks that nothing is left."""
        status, killed = self.d.stop(self.stop_timeout)
        self.checked_stop = True
        self.assertEqual((status, killed), (0, False), self.d.transcript())
        wait_until(lambda: not [p for p in sbxtest.tagged_pids(self.tag)
                                if p != self.d.pid and alive(p)], 5)
        self.reap_adopted()
        self.assertLeftNothing()

    def assertNoZombieChildren(self, within=2.0):
        """sbxd has no zombie child for longer than `within` seconds."""
        zs = wait_until(lambda: [c for c in children_of(self.d.pid) if c[1] == "Z"] == [],
                        within)
        if not zs:
            left = [c for c in children_of(self.d.pid) if c[1] == "Z"]
            self.fail("zombie children of sbxd: %s\n%s" % (left, self.d.transcript()))


def main():
    sbxtest.main()
