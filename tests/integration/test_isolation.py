"""Isolation (issue 6): read-only and allowed directories, no network, a
private /tmp, a PID namespace (the program or sbx's init as its PID 1), other users, no new
privileges, seccomp and a host name, judged from inside the sandbox by what
the program can and cannot do (sbx-test-child's probe verbs print "ok" or
the errno name), and from outside by what is left on the host.

As root, and as an unprivileged user (nobody): there each isolation either
works as it does for root, or sbx-run refuses it before anything runs (125,
with a message) unless --best-effort, and then the result does not claim it.

Directories live below /var/tmp (tmp_base): the VM hides the host's /tmp,
and --private-tmp must not hide the test's own files."""

import ctypes
import json
import ctypes.util
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import sbxtest
from sbxtest import EXIT_SETUP, EXIT_TIMEOUT, SBX_CHILD, sbx

NOBODY = 65534
NOGROUP = 65534
ENOENT = 2


def helper_dir():
    """The directory of sbx-test-child, to show it read-only inside a
    sandbox made of --allow directories."""
    return os.path.dirname(os.path.realpath(SBX_CHILD))


def lines(run):
    return run.text().splitlines()


def isolation(run):
    """The result's isolation list as lower-case strings (an item may be a
    string or an object: then its values are joined)."""
    items = (run.result or {}).get("isolation")
    if not isinstance(items, list):
        raise AssertionError("the result has no isolation list\n%s" % run)
    out = []
    for it in items:
        if isinstance(it, dict):
            it = " ".join(str(v) for v in it.values() if v is not None)
        out.append(str(it).lower())
    return out


# How the isolation list may name each item: by its first word ("readonly
# /srv/data", "pid-namespace", "uts-namespace hostname=box1"); the item's
# argument (a path, a name), where it has one, appears in it too.
KINDS = {
    "readonly": {"readonly", "read-only", "ro"},
    "allow": {"allow", "allowed"},
    "no-net": {"network-namespace", "netns", "no-net", "network", "net"},
    "private-tmp": {"private-tmp", "private_tmp", "privatetmp"},
    "pidns": {"pid-namespace", "pid_namespace", "pidns"},
    "hostname": {"uts-namespace", "uts", "hostname"},
    "no-new-privs": {"no-new-privs", "no_new_privs", "no-new-privileges", "nnp"},
    "seccomp": {"seccomp"},
    "user": {"user", "uid"},
    "group": {"group", "gid"},
}


def names(item, what, arg=None):
    kind = re.split(r"[\s:=(]", item.strip(), maxsplit=1)[0]
    return kind in KINDS[what] and (arg is None or arg.lower() in item)


class IsolationCase(sbxtest.TestCase):
    def assertLines(self, run, expect, status=0):
        self.assertStatus(run, status)
        self.assertEqual(lines(run), list(expect), "probe output differs\n%s" % run)

    def assertNamed(self, run, what, arg=None):
        items = isolation(run)
        self.assertTrue(any(names(it, what, arg) for it in items),
                        "the isolation list does not name %s%s: %s\n%s"
                        % (what, " " + arg if arg else "", items, run))

    def assertNotNamed(self, run, what):
        items = isolation(run)
        self.assertFalse(any(names(it, what) for it in items),
                         "the isolation list names %s, which was not applied: %s\n%s"
                         % (what, items, run))

    def mkdir(self, *parts, mode=0o755):
        path = os.path.join(self.tmp, *parts)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        return path

    def write(self, path, data=b"data\n", mode=0o644):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def readable_by_nobody(self):
        """self.tmp is made 0700 by mkdtemp: open it to others."""
        os.chmod(self.tmp, 0o755)

    def need_helper_for_nobody(self):
        path = os.path.realpath(SBX_CHILD)
        parts = path.split("/")
        for i in range(2, len(parts)):
            st = os.stat("/".join(parts[:i]))
            if not st.st_mode & stat.S_IXOTH:
                sbxtest.skip("nobody cannot reach %s" % path)


# --- read-only directories --------------------------------------------------

class ReadOnly(IsolationCase):
    def test_writes_fail_with_erofs_reads_work(self):
        ro = self.mkdir("ro")
        data = self.write(os.path.join(ro, "data"), b"keep me\n")
        outside = os.path.join(self.tmp, "outside")
        r = sbx(["--ro", ro],
                child=["write", os.path.join(ro, "new"), "write", data,
                       "mkdir", os.path.join(ro, "sub"), "read", data, "ls", ro,
                       "write", outside])
        self.assertLines(r, ["EROFS", "EROFS", "EROFS", "ok 8", "data", "end", "ok"])
        # Nothing was written, and only the --ro directory was read-only.
        self.assertEqual(sorted(os.listdir(ro)), ["data"])
        with open(data, "rb") as f:
            self.assertEqual(f.read(), b"keep me\n")
        self.assertTrue(os.path.exists(outside), r)
        self.assertNamed(r, "readonly", ro)

    def test_read_only_is_recursive(self):
        # A mount below the --ro directory is read-only too: the read-only
        # remount sticks to every mount of the tree, not just the top one.
        ro = self.mkdir("ro")
        sub = self.mkdir("ro", "sub")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "sbx-test", sub],
                          capture_output=True).returncode != 0:
            sbxtest.skip("cannot mount a tmpfs below the test directory")
        self.addCleanup(subprocess.run, ["umount", "-l", sub], capture_output=True)
        r = sbx(["--ro", ro], child=["write", os.path.join(sub, "x"),
                                     "write", os.path.join(ro, "y")])
        self.assertLines(r, ["EROFS", "EROFS"])
        self.assertEqual(os.listdir(sub), [])

    def test_missing_dir_is_a_start_failure(self):
        missing = "/nonexistent"
        if os.path.exists(missing):
            sbxtest.skip("%s exists here" % missing)
        marker = os.path.join(self.tmp, "ran")
        r = sbx(["--ro", missing], child=["touch", marker, "bytes", "3"])
        self.assertStatus(r, EXIT_SETUP)
        self.assertEqual(r.stdout, b"", r)
        self.assertFalse(os.path.exists(marker), "the program ran\n%s" % r)
        err = r.stderr.decode(errors="replace")
        # sandbox: <step> /nonexistent...: No such file or directory
        self.assertRegex(err, r"sandbox: .*%s.*: (No such file or directory|ENOENT)" % missing,
                         r)
        self.assertResult(r, reason="start-failed", exit_code=None, errno=ENOENT)
        self.assertTrue(r.result.get("stage"), "no stage in the result\n%s" % r)
        self.assertIn(missing, r.result.get("error") or "", r)
        self.assertRegex(r.result["error"], r"^sandbox: .*%s" % missing, r)
        self.assertNoBoxLeft(r)


# --- allowed directories ----------------------------------------------------

class Allowed(IsolationCase):
    def test_only_allowed_dirs_visible(self):
        box = self.mkdir("box")
        secret = self.write(os.path.join(self.tmp, "secret"))
        outside = os.path.join(self.tmp, "outside")
        etc = "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"
        r = sbx(["--allow", box, "--ro", helper_dir()],
                child=["read", etc, "read", secret, "write", outside,
                       "write", os.path.join(box, "f"), "read", os.path.join(box, "f"),
                       "ls", "/root", "ls", "/home", "read", "/usr/bin/true"])
        self.assertStatus(r, 0)
        out = lines(r)
        self.assertFalse(out[0].startswith("ok"), "%s was readable\n%s" % (etc, r))
        self.assertFalse(out[1].startswith("ok"), "%s was readable\n%s" % (secret, r))
        self.assertNotEqual(out[2], "ok", "wrote outside the allowed dir\n%s" % r)
        self.assertEqual(out[3:5], ["ok", "ok 4"], r)
        # /root and /home: absent, or at most empty.
        rest = out[5:]
        for d in ("/root", "/home"):
            if rest and (rest[0] == "end" or rest[0].startswith("E")):
                rest = rest[1:]
            else:
                self.fail("%s is visible inside: %r\n%s" % (d, rest, r))
        self.assertEqual(len(rest), 1, r)
        self.assertTrue(rest[0].startswith("ok "), "/usr is not readable\n%s" % r)
        # On the host: the file in the box is there, nothing outside it.
        with open(os.path.join(box, "f"), "rb") as f:
            self.assertEqual(f.read(), b"sbx\n")
        self.assertFalse(os.path.exists(outside), r)
        self.assertNamed(r, "allow", box)

    def test_allowed_dir_inside_ro_dir_is_writable(self):
        # The more specific directory wins, whatever the order of the flags:
        # an allowed directory below a read-only one stays read-write.
        ro = self.mkdir("ro")
        box = self.mkdir("ro", "box")
        for opts in (["--ro", ro, "--allow", box], ["--allow", box, "--ro", ro]):
            with self.subTest(opts=opts):
                r = sbx(opts + ["--ro", helper_dir()],
                        child=["write", os.path.join(box, "f"), "write", os.path.join(ro, "g")])
                self.assertLines(r, ["ok", "EROFS"])
                self.assertFalse(os.path.exists(os.path.join(ro, "g")))

    def test_allowed_dir_under_tmp_with_private_tmp(self):
        # --private-tmp must not silently hide an allowed directory below
        # /tmp: it stays visible and writable, or the pair is refused.
        try:
            box = tempfile.mkdtemp(prefix="sbx-test-box-", dir="/tmp")
        except OSError as e:
            sbxtest.skip("no usable /tmp here: %s" % e)
        self.addCleanup(shutil.rmtree, box, ignore_errors=True)
        marker = os.path.join(self.tmp, "ran")
        r = sbx(["--allow", box, "--private-tmp", "--ro", helper_dir(), "--allow", self.tmp],
                child=["touch", marker, "write", os.path.join(box, "f"), "ls", "/tmp"])
        if r.status == EXIT_SETUP:
            self.assertFalse(os.path.exists(marker), r)
            self.assertRegex(r.stderr.decode(), r"sandbox: .*(private|tmp)", r)
            return
        self.assertLines(r, ["ok", os.path.basename(box), "end"])
        self.assertTrue(os.path.exists(os.path.join(box, "f")), r)

    def test_runtime_programs_run(self):
        box = self.mkdir("box")
        r = sbx(["--allow", box], cmd=["/usr/bin/true"])
        self.assertStatus(r, 0)
        r = sbx(["--allow", box, "-C", box],
                cmd=["/bin/sh", "-c", "echo ok > f && cat f"])
        self.assertStatus(r, 0)
        self.assertEqual(lines(r)[0], "ok", r)
        with open(os.path.join(box, "f")) as f:
            self.assertEqual(f.read(), "ok\n")

    def test_runtime_is_read_only(self):
        box = self.mkdir("box")
        name = "sbx-test-" + uuid.uuid4().hex
        for path in ("/usr/" + name, "/" + name):   # should isolation fail
            self.addCleanup(lambda p=path: os.path.exists(p) and os.unlink(p))
        r = sbx(["--allow", box, "--ro", helper_dir()],
                child=["write", "/usr/" + name, "write", "/" + name])
        self.assertStatus(r, 0)
        self.assertEqual(lines(r)[0], "EROFS", r)
        self.assertNotEqual(lines(r)[1], "ok", r)
        self.assertFalse(os.path.exists("/usr/" + name))
        self.assertFalse(os.path.exists("/" + name))


# --- network ------------------------------------------------------------------

class NoNet(IsolationCase):
    def setUp(self):
        super().setUp()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(self.listener.close)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.port = str(self.listener.getsockname()[1])

    def accepted(self):
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    @staticmethod
    def interfaces(text):
        return sorted(l.split(":")[0].strip() for l in text.splitlines()[2:] if ":" in l)

    def test_no_net_cannot_reach_host_listener(self):
        r = sbx(["--no-net"], child=["connect", "127.0.0.1", self.port,
                                     "show", "/proc/net/dev"])
        self.assertStatus(r, 0)
        out = r.text().splitlines()
        # ECONNREFUSED: lo is up (a down lo gives ENETUNREACH), and the
        # listener is not in this network namespace.
        self.assertEqual(out[0], "ECONNREFUSED", r)
        self.assertFalse(self.accepted(), "the listener got a connection\n%s" % r)
        self.assertEqual(self.interfaces("\n".join(out[1:])), ["lo"], r)
        self.assertNamed(r, "no-net")

    def test_without_no_net_connect_works(self):
        r = sbx(child=["connect", "127.0.0.1", self.port, "show", "/proc/net/dev"])
        self.assertStatus(r, 0)
        out = r.text().splitlines()
        self.assertEqual(out[0], "ok", r)
        self.assertTrue(self.accepted(), "the listener got no connection\n%s" % r)
        with open("/proc/net/dev") as f:
            host = self.interfaces(f.read())
        self.assertEqual(self.interfaces("\n".join(out[1:])), host, r)
        self.assertNotNamed(r, "no-net")


# --- PID namespace --------------------------------------------------------------

class PidNamespace(IsolationCase):
    @staticmethod
    def table(text):
        """"PID PPID STATE COMM" lines -> {pid: (ppid, state, comm)}"""
        rows = {}
        for l in text.splitlines():
            f = l.split(None, 3)
            rows[int(f[0])] = (int(f[1]), f[2], f[3] if len(f) > 3 else "")
        return rows


class ProgramIsPid1(PidNamespace):
    """--pidns: the program itself is PID 1 of the new namespace."""

    def test_prints_pid_1(self):
        r = sbx(["--pidns"], child=["pid", "ppid", "procs"])
        self.assertStatus(r, 0)
        out = lines(r)
        self.assertEqual(out[:2], ["1", "0"], "the program is not PID 1 of its own\n%s" % r)
        self.assertEqual(sorted(self.table("\n".join(out[2:]))), [1],
                         "other processes in /proc\n%s" % r)
        self.assertNamed(r, "pidns")
        self.assertTrue(any("program is pid 1" in it for it in isolation(r)), r)
        sh = shutil.which("sh") or sbxtest.skip("no sh here")
        r = sbx(["--pidns"], cmd=[sh, "-c", "echo $$"])
        self.assertLines(r, ["1"])

    def test_ps_sees_only_the_sandbox(self):
        ps = shutil.which("ps") or sbxtest.skip("no ps here")
        sh = shutil.which("sh") or sbxtest.skip("no sh here")
        r = sbx(["--pidns"], cmd=[sh, "-c", "%s zombie >/dev/null; sleep 5 & exec %s -e -o "
                                  "pid=,ppid=,stat=,comm=" % (SBX_CHILD, ps)])
        self.assertStatus(r, 0)
        procs = self.table(r.text())
        self.assertEqual(procs[1][2], "ps", "ps (exec'd by PID 1) is not PID 1\n%s" % r)
        self.assertEqual(sorted(c for _, _, c in procs.values()), ["ps", "sleep"],
                         "ps sees more than the sandbox (or a zombie)\n%s" % r)

    def test_a_shell_as_pid_1_reaps_the_orphaned_zombie(self):
        # The zombie's parent exits without reaping it: the kernel gives it
        # to PID 1, here sh, which reaps any child while it waits.
        sh = shutil.which("sh") or sbxtest.skip("no sh here")
        r = sbx(["--pidns"], cmd=[sh, "-c", "{0} zombie; {0} no-zombies 2".format(SBX_CHILD)])
        self.assertStatus(r, 0)
        out = lines(r)
        self.assertRegex(out[0], r"^zombie \d+$", r)
        self.assertEqual(out[1], "none", "a zombie is left in the namespace\n%s" % r)

    def test_exit_status_passes_and_the_rest_ends_with_pid_1(self):
        r = sbx(["--pidns"], child=["exit", "7"])
        self.assertStatus(r, 7)
        self.assertResult(r, reason="exited", exit_code=7, signal=None)
        # A grandchild left running when PID 1 exits does not survive it.
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(["--pidns"], child=["double-fork", pidfile])
        self.assertStatus(r, 0)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_pid_1_ignores_signals_it_has_no_handler_for(self):
        # The kernel's rule for every PID 1: a signal whose action is the
        # default one does not reach it (raise(SIGTERM) is a no-op). The
        # timeout's TERM is lost the same way; its KILL, after the grace,
        # ends everything.
        r = sbx(["--pidns"], child=["raise", "TERM"])
        self.assertStatus(r, 1)
        self.assertIn(b"still alive after raise TERM", r.stderr, r)
        r = sbx(["--pidns", "-t", "500ms", "--kill-grace", "400ms"], child=["sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout", signal=9)
        self.assertWall(r, 0.9, 1.9)

    def test_wait_leftovers_is_refused(self):
        # The kernel ends the namespace with its PID 1, so the leftovers
        # cannot be waited for: a loud refusal, nothing run.
        marker = os.path.join(self.tmp, "ran")
        r = sbx(["--pidns", "--wait-leftovers"], child=["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertIn("--pidns-init", r.stderr.decode(errors="replace"), r)
        self.assertFalse(os.path.exists(marker), r)


class InitIsPid1(PidNamespace):
    """--pidns-init: sbx's minimal init is PID 1, the program PID 2."""

    def test_proc_holds_only_the_sandbox(self):
        r = sbx(["--pidns-init"], child=["pid", "ppid", "procs"])
        self.assertStatus(r, 0)
        out = lines(r)
        me, parent = int(out[0]), int(out[1])
        procs = self.table("\n".join(out[2:]))
        self.assertNotEqual(me, 1, "the program is PID 1, not sbx's init\n%s" % r)
        self.assertEqual(parent, 1, "the program's parent is not PID 1\n%s" % r)
        self.assertEqual(sorted(procs), [1, me], "other processes in /proc\n%s" % r)
        self.assertEqual(procs[1][0], 0, "PID 1 has a parent inside\n%s" % r)
        self.assertNamed(r, "pidns")

    def test_ps_sees_only_the_sandbox(self):
        ps = shutil.which("ps") or sbxtest.skip("no ps here")
        r = sbx(["--pidns-init"], cmd=[ps, "-e", "-o", "pid=,ppid=,stat=,comm="])
        self.assertStatus(r, 0)
        procs = self.table(r.text())
        self.assertEqual(len(procs), 2, "ps sees more than init and itself\n%s" % r)
        self.assertIn(1, procs, r)
        (me,) = [p for p in procs if p != 1]
        self.assertEqual(procs[me][0], 1, "ps is not the child of PID 1\n%s" % r)
        self.assertEqual(procs[me][2], "ps", r)

    def test_orphaned_zombie_is_reaped(self):
        # The zombie's parent exits without reaping it: the PID namespace's
        # init adopts it and must reap it.
        r = sbx(["--pidns-init"], child=["pid", "zombie", "no-zombies", "1", "procs"])
        self.assertStatus(r, 0)
        out = lines(r)
        self.assertRegex(out[1], r"^zombie \d+$", r)
        self.assertEqual(out[2], "none", "a zombie is left in the namespace\n%s" % r)
        # ...reaped by the namespace's own init: nothing else is in it.
        self.assertEqual(sorted(self.table("\n".join(out[3:]))), [1, int(out[0])], r)

    def test_exit_status_and_signal_pass_through_init(self):
        r = sbx(["--pidns-init"], child=["exit", "7"])
        self.assertStatus(r, 7)
        self.assertResult(r, reason="exited", exit_code=7, signal=None)
        r = sbx(["--pidns-init"], child=["raise", "TERM"])
        self.assertStatus(r, 128 + 15)
        self.assertResult(r, reason="signaled", signal=15, exit_code=None)

    def test_status_board_is_out_of_the_programs_reach(self):
        # The init posts the program's status on a memfd of the supervisor
        # (one for all runs): neither the program nor its init holds a
        # descriptor of it, and the init maps its own slot only (a page).
        sh = shutil.which("sh") or sbxtest.skip("no sh here")
        script = ("for f in /proc/self/fd/* /proc/1/fd/*; do echo \"fd $f $(readlink $f)\"; done; "
                  "echo \"maps $(wc -l < /proc/1/maps)\"; grep sbx-status /proc/1/maps")
        r = sbx(["--pidns-init"], cmd=[sh, "-c", script])
        self.assertStatus(r, 0)
        out = lines(r)
        fds = [x for x in out if x.startswith("fd ")]
        self.assertTrue(any(x.startswith("fd /proc/1/fd/") for x in fds), r)
        self.assertEqual([x for x in fds if "memfd" in x or "sbx-status" in x], [], r)
        maps = [x for x in out if "sbx-status" in x]
        if not any(x.startswith("maps ") and int(x.split()[1]) > 0 for x in out):
            print("\n  /proc/1/maps cannot be read by the program: its mappings not checked")
            return
        self.assertEqual(len(maps), 1, "the init maps the board %d times\n%s" % (len(maps), r))
        lo, hi = (int(a, 16) for a in maps[0].split()[0].split("-"))
        self.assertEqual(hi - lo, os.sysconf("SC_PAGE_SIZE"), "more than its slot\n%s" % r)

    def test_init_forwards_signals(self):
        # A signal to the init (the process sbx-run started) reaches the
        # program, whose death by it is the result.
        marker = os.path.join(self.tmp, "ready")
        p = sbxtest.start(["--pidns-init"], child=["touch", marker, "sleep", "20"])
        deadline = time.monotonic() + 10
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(marker), "the program did not start")
        init = sbxtest.run_children(p.pid)
        self.assertEqual(len(init), 1, "sbx-run's children: %s" % init)
        with open("/proc/%d/task/%d/children" % (init[0], init[0])) as f:
            self.assertEqual(len(f.read().split()), 1, "the init has not one child")
        os.kill(init[0], 10)   # SIGUSR1: the program's default action ends it
        r = p.finish()
        self.assertStatus(r, 128 + 10)
        self.assertResult(r, reason="signaled", signal=10)
        self.assertLess(r.wall, 10, r)

    def test_wait_leftovers_still_waits(self):
        # --wait-leftovers means the same with --pidns: when the program
        # exits, the rest of its tree runs on (until here the timeout), it
        # is not killed by the init's exit.
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(["--pidns-init", "--wait-leftovers", "-t", "1s"], child=["double-fork", pidfile])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 1.0, 1.5)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_timeout_ends_everything(self):
        pidfile = os.path.join(self.tmp, "pid")
        r = sbx(["--pidns-init", "-t", "500ms"], child=["double-fork", pidfile, "sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 0.5, 1.5)
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)


# --- users ------------------------------------------------------------------

class Users(IsolationCase):
    def test_user_nobody_cannot_read_root_only_file(self):
        self.readable_by_nobody()
        self.need_helper_for_nobody()
        secret = self.write(os.path.join(self.tmp, "secret"), b"root only\n", 0o600)
        r = sbx(["--user", "nobody"], child=["ids", "read", secret])
        self.assertLines(r, ["uid %d euid %d gid %d egid %d groups "
                             % (NOBODY, NOBODY, NOGROUP, NOGROUP), "EACCES"])
        # As root (no --user) the same file is readable: the control.
        r = sbx(child=["read", secret])
        self.assertLines(r, ["ok 10"])

    def test_group_and_no_supplementary_groups(self):
        self.need_helper_for_nobody()
        r = sbx(["--user", "nobody", "--group", "nogroup"], child=["ids"])
        self.assertLines(r, ["uid %d euid %d gid %d egid %d groups "
                             % (NOBODY, NOBODY, NOGROUP, NOGROUP)])
        r = sbx(["--user", str(NOBODY), "--group", "0"], child=["ids"])
        self.assertLines(r, ["uid %d euid %d gid 0 egid 0 groups " % (NOBODY, NOBODY)])

    def test_unknown_user_refused(self):
        marker = os.path.join(self.tmp, "ran")
        r = sbx(["--user", "sbx-no-such-user"], child=["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), r)
        self.assertIn(b"sbx-no-such-user", r.stderr, r)

    def setuid_id(self):
        """A setuid-root copy of id(1) on a filesystem that honours setuid."""
        self.readable_by_nobody()
        self.need_helper_for_nobody()
        if os.statvfs(self.tmp).f_flag & os.ST_NOSUID:
            sbxtest.skip("%s is mounted nosuid" % self.tmp)
        src = shutil.which("id") or sbxtest.skip("no id(1) here")
        path = os.path.join(self.mkdir("bin"), "id")
        shutil.copyfile(src, path)
        os.chown(path, 0, 0)
        os.chmod(path, 0o4755)
        return path

    def test_setuid_does_not_raise_privileges(self):
        idcopy = self.setuid_id()
        for opts in (["--user", "nobody"], ["--user", "nobody", "--no-new-privs"]):
            with self.subTest(opts=opts):
                r = sbx(opts, cmd=[idcopy, "-u"])
                self.assertLines(r, [str(NOBODY)])
                self.assertNamed(r, "no-new-privs")
        # The control: without no-new-privs the copy does make euid 0.
        r = sbx(["--user", "nobody", "--new-privs"], cmd=[idcopy, "-u"])
        self.assertLines(r, ["0"])
        self.assertNotNamed(r, "no-new-privs")

    def test_no_new_privs_flag_inside(self):
        r = sbx(child=["show", "/proc/self/status"])
        self.assertStatus(r, 0)
        self.assertRegex(r.text(), r"NoNewPrivs:\s+1", r)
        r = sbx(["--new-privs"], child=["show", "/proc/self/status"])
        self.assertStatus(r, 0)
        self.assertRegex(r.text(), r"NoNewPrivs:\s+0", r)


# --- seccomp ----------------------------------------------------------------

def libseccomp():
    name = ctypes.util.find_library("seccomp")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    return lib


def syscall_names():
    """Every system call this machine's headers and libseccomp both know."""
    lib = libseccomp()
    names = set()
    for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                   "/usr/include/asm/unistd_64.h"):
        try:
            with open(header) as f:
                names |= set(re.findall(r"#define __NR_(\w+)\s+\d+", f.read()))
        except OSError:
            pass
    if not lib or not names:
        return None
    return sorted(n for n in names if lib.seccomp_syscall_resolve_name(n.encode()) >= 0)


class Seccomp(IsolationCase):
    def probes(self):
        mnt = self.mkdir("mnt")
        return ["mount", mnt, "ptrace-sibling", "init-module"]

    def test_default_profile_denies_with_eperm(self):
        probes = self.probes()
        r = sbx(["--seccomp", "default"], child=probes)
        self.assertLines(r, ["EPERM", "EPERM", "EPERM"])
        self.assertNamed(r, "seccomp", "default")
        # The control: without the filter, root may mount and trace, and
        # init_module gets past the permission check (EPERM would be the
        # kernel's own answer, not the filter's).
        r = sbx(["--seccomp", "none", "--privileged"], child=probes)
        self.assertStatus(r, 0)
        out = lines(r)
        self.assertEqual(out[:2], ["ok", "ok"], r)
        self.assertNotEqual(out[2], "EPERM", r)
        self.assertNotNamed(r, "seccomp")

    def test_ordinary_programs_run(self):
        data = self.write(os.path.join(self.tmp, "data"), b"some text\n")
        for cmd, want in (([sys.executable, "-c", "print(1)"], "1\n"),
                          (["sh", "-c", "echo ok"], "ok\n"),
                          (["ls", self.tmp], "data\n"),
                          (["cat", data], "some text\n"),
                          (["/usr/bin/env", "true"], "")):
            with self.subTest(cmd=cmd[0]):
                r = sbx(["--seccomp", "default"], cmd=cmd)
                self.assertStatus(r, 0)
                self.assertEqual(r.text(), want, r)
                self.assertEqual(r.stderr, b"", r)

    def test_deny_list_file(self):
        profile = self.write(os.path.join(self.tmp, "deny.profile"),
                             b"# what this job may not do\n\n  deny  # a deny list\n"
                             b"mkdir\nmkdirat   # both ways of making a directory\n")
        d = os.path.join(self.tmp, "d")
        f = os.path.join(self.tmp, "f")
        r = sbx(["--seccomp", profile], child=["mkdir", d, "write", f])
        self.assertLines(r, ["EPERM", "ok"])
        self.assertFalse(os.path.exists(d))
        self.assertTrue(os.path.exists(f))
        self.assertNamed(r, "seccomp", profile)

    def test_allow_list_file(self):
        names = syscall_names()
        if not names:
            sbxtest.skip("cannot list this machine's system calls (headers, libseccomp)")
        allowed = [n for n in names if n not in ("mkdir", "mkdirat")]
        profile = self.write(os.path.join(self.tmp, "allow.profile"),
                             ("# everything but making directories\nallow\n"
                              + "\n".join(allowed) + "\n").encode())
        d = os.path.join(self.tmp, "d")
        f = os.path.join(self.tmp, "f")
        r = sbx(["--seccomp", profile], child=["mkdir", d, "write", f])
        self.assertLines(r, ["EPERM", "ok"])
        self.assertFalse(os.path.exists(d))

    def test_bad_profile_is_a_start_failure(self):
        marker = os.path.join(self.tmp, "ran")
        for text in (b"maybe\nmkdir\n", b"deny\nno_such_syscall_at_all\n"):
            with self.subTest(profile=text):
                profile = self.write(os.path.join(self.tmp, "bad.profile"), text)
                r = sbx(["--seccomp", profile], child=["touch", marker])
                self.assertStatus(r, EXIT_SETUP)
                self.assertFalse(os.path.exists(marker), r)
                self.assertIn(b"seccomp", r.stderr, r)
                self.assertIn(profile.encode(), r.stderr, r)
        r = sbx(["--seccomp", os.path.join(self.tmp, "missing.profile")],
                child=["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), r)
        self.assertResult(r, reason="start-failed", errno=ENOENT)


# --- host name and /tmp -------------------------------------------------------

class HostnameAndTmp(IsolationCase):
    def test_hostname(self):
        before = os.uname().nodename
        r = sbx(["--hostname", "box1"], child=["hostname"])
        self.assertLines(r, ["box1"])
        self.assertEqual(os.uname().nodename, before)
        self.assertNamed(r, "hostname", "box1")
        r = sbx(child=["hostname"])
        self.assertLines(r, [before])

    def test_private_tmp(self):
        name = "sbx-private-" + uuid.uuid4().hex
        # A file in the host's /tmp (when there is one) is not seen inside.
        host_file = None
        if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK):
            host_file = os.path.join("/tmp", "sbx-host-" + uuid.uuid4().hex)
            self.write(host_file)
            self.addCleanup(os.unlink, host_file)
        self.addCleanup(lambda: os.path.exists("/tmp/" + name) and os.unlink("/tmp/" + name))
        r = sbx(["--private-tmp"], child=["ls", "/tmp", "write", "/tmp/" + name,
                                          "ls", "/tmp"])
        self.assertLines(r, ["end", "ok", name, "end"])
        self.assertFalse(os.path.exists("/tmp/" + name), "the file is on the host\n%s" % r)
        self.assertNamed(r, "private-tmp")
        # Gone afterwards: the next private /tmp is empty again.
        r = sbx(["--private-tmp"], child=["ls", "/tmp"])
        self.assertLines(r, ["end"])

    def test_private_tmp_writable_by_other_users(self):
        self.need_helper_for_nobody()
        name = "sbx-private-" + uuid.uuid4().hex
        self.addCleanup(lambda: os.path.exists("/tmp/" + name) and os.unlink("/tmp/" + name))
        r = sbx(["--private-tmp", "--user", "nobody"],
                child=["write", "/tmp/" + name, "ls", "/tmp"])
        self.assertLines(r, ["ok", name, "end"])


# --- everything at once, and the result ---------------------------------------

class ResultList(IsolationCase):
    def full_run(self):
        self.readable_by_nobody()
        self.need_helper_for_nobody()
        ro = self.mkdir("ro")
        box = self.mkdir("box", mode=0o777)
        opts = ["--ro", ro, "--allow", box, "--ro", helper_dir(), "--no-net",
                "--private-tmp", "--pidns", "--user", "nobody", "--group", "nogroup",
                "--seccomp", "default", "--hostname", "box1"]
        r = sbx(opts, child=["hostname", "pid", "write", os.path.join(box, "f"),
                             "write", os.path.join(ro, "f"), "init-module", "ids"])
        self.assertLines(r, ["box1", "1", "ok", "EROFS", "EPERM",
                             "uid %d euid %d gid %d egid %d groups "
                             % (NOBODY, NOBODY, NOGROUP, NOGROUP)])
        return r, ro, box

    def test_full_set_named(self):
        r, ro, box = self.full_run()
        self.assertNamed(r, "readonly", ro)
        self.assertNamed(r, "readonly", helper_dir())
        self.assertNamed(r, "allow", box)
        for what in ("no-net", "private-tmp", "pidns", "no-new-privs"):
            self.assertNamed(r, what)
        self.assertNamed(r, "hostname", "box1")
        self.assertNamed(r, "seccomp", "default")

    def test_user_and_group_named(self):
        r, _, _ = self.full_run()
        self.assertNamed(r, "user")
        self.assertNamed(r, "group")

    def test_nothing_asked_nothing_named(self):
        # Privileged: none of the default containment (test_contain.py).
        r = sbx(["--privileged"], child=["exit", "0"])
        self.assertStatus(r, 0)
        for what in ("readonly", "allow", "no-net", "private-tmp", "pidns", "hostname",
                     "seccomp", "user"):
            self.assertNotNamed(r, what)
        self.assertNamed(r, "no-new-privs")   # on by default
        r = sbx(["--privileged", "--new-privs"], child=["exit", "0"])
        self.assertEqual(isolation(r), ["privileged: can undo its own limits"], r)


# --- as an unprivileged user -------------------------------------------------

class Unprivileged(IsolationCase):
    """sbx-run run by nobody. Each isolation either works as for root, or
    is refused before anything runs (125, a message on stderr) and then
    runs with --best-effort, the result not naming it."""

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o777)
        self.need_helper_for_nobody()

    def start_as_nobody(self, opts, child):
        fd, result = tempfile.mkstemp(prefix="sbx-result-", suffix=".json",
                                      dir=sbxtest.tmp_base())
        os.close(fd)
        os.chown(result, NOBODY, NOGROUP)
        tag = uuid.uuid4().hex
        argv = [sbxtest.SBX_RUN, "--result", result, "-e", "SBX_TEST_TAG=" + tag]
        argv += list(opts) + ["--", SBX_CHILD] + list(child)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, user=NOBODY, group=NOGROUP,
                                    extra_groups=[], cwd=self.tmp)
        except PermissionError as e:
            os.unlink(result)
            sbxtest.skip("nobody cannot run the build tree's binaries: %s" % e)
        return sbxtest.Pending(argv, proc, result, tag, None, 30)

    def as_nobody(self, opts, child):
        return self.start_as_nobody(opts, child).finish()

    def works_or_refused(self, what, opts, probe, expect, marker_dir=None):
        # The marker goes where the sandbox may write (with --allow, only
        # the allowed dir is visible).
        marker = os.path.join(marker_dir or self.tmp, "ran-" + uuid.uuid4().hex[:8])
        r = self.as_nobody(opts, ["touch", marker] + probe)
        if r.status == EXIT_SETUP:
            self.assertFalse(os.path.exists(marker), "refused, but the program ran\n%s" % r)
            self.assertEqual(r.stdout, b"", r)
            err = r.stderr.decode(errors="replace")
            self.assertRegex(err, r"sandbox|isolation|root|privilege|" + re.escape(opts[0]),
                             "refused without saying why\n%s" % r)
            r = self.as_nobody(["--best-effort"] + opts, probe)
            self.assertStatus(r, 0)
            self.assertNotNamed(r, what)
            return "refused"
        self.assertStatus(r, 0)
        self.assertTrue(os.path.exists(marker), r)
        out = lines(r)
        # In expect, None: any line; a function: a test of the line.
        self.assertEqual(len(out), len(expect), "as nobody\n%s" % r)
        for got, want in zip(out, expect):
            if callable(want):
                self.assertTrue(want(got), "as nobody: %r\n%s" % (got, r))
            elif want is not None:
                self.assertEqual(got, want, "as nobody\n%s" % r)
        self.assertNamed(r, what)
        return "works"

    def test_readonly(self):
        ro = self.mkdir("ro", mode=0o777)
        # In a user namespace of its own the program keeps no capability:
        # it cannot mount over (or remount) what was made read-only.
        if self.works_or_refused("readonly", ["--ro", ro],
                                 ["write", os.path.join(ro, "x"), "mount", ro],
                                 ["EROFS", "EPERM"]) == "works":
            self.assertEqual(os.listdir(ro), [])

    def test_allow(self):
        box = self.mkdir("box", mode=0o777)
        self.works_or_refused("allow", ["--allow", box, "--ro", helper_dir()],
                              ["read", "/etc/hostname", "write", os.path.join(box, "f")],
                              [lambda l: not l.startswith("ok"), "ok"], marker_dir=box)

    def test_no_net(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = str(s.getsockname()[1])
            self.works_or_refused("no-net", ["--no-net"], ["connect", "127.0.0.1", port],
                                  ["ECONNREFUSED"])

    def test_pidns(self):
        self.works_or_refused("pidns", ["--pidns"], ["pid", "ppid"], ["1", "0"])

    def test_pidns_init(self):
        self.works_or_refused("pidns", ["--pidns-init"], ["ppid", "zombie", "no-zombies", "1"],
                              ["1", None, "none"])

    def test_hostname(self):
        self.works_or_refused("hostname", ["--hostname", "box1"], ["hostname"], ["box1"])

    def test_private_tmp(self):
        self.works_or_refused("private-tmp", ["--private-tmp"], ["ls", "/tmp"], ["end"])

    def test_seccomp(self):
        self.works_or_refused("seccomp", ["--seccomp", "default"], ["init-module"], ["EPERM"])

    def test_user_self_runs(self):
        # Dropping to the user one already is changes nothing and is allowed.
        r = self.as_nobody(["--user", "nobody"], ["ids"])
        self.assertStatus(r, 0)
        self.assertEqual(lines(r), ["uid %d euid %d gid %d egid %d groups "
                                    % (NOBODY, NOBODY, NOGROUP, NOGROUP)], r)

    def test_other_user_refused(self):
        marker = os.path.join(self.tmp, "ran")
        r = self.as_nobody(["--user", "root"], ["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), "the program ran\n%s" % r)
        self.assertTrue(r.stderr, r)

    def test_setuid_does_not_raise_privileges(self):
        if os.statvfs(self.tmp).f_flag & os.ST_NOSUID:
            sbxtest.skip("%s is mounted nosuid" % self.tmp)
        path = os.path.join(self.mkdir("bin"), "id")
        shutil.copyfile(shutil.which("id") or sbxtest.skip("no id(1)"), path)
        os.chmod(path, 0o4755)
        # sbx-run as nobody, no-new-privs by default: the euid stays.
        argv = [sbxtest.SBX_RUN, "--", path, "-u"]
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                             user=NOBODY, group=NOGROUP, extra_groups=[], cwd=self.tmp,
                             timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, b"%d\n" % NOBODY), out)


# --- no namespaces at all ----------------------------------------------------

class NoNamespaces(unittest.TestCase):
    """The kernel refuses user namespaces to a process in a chroot: as nobody
    there, sbx-run can make no namespace. It must refuse with 125 and say
    why, or with --best-effort run without them and not list them."""

    def setUp(self):
        if os.geteuid() != 0:
            sbxtest.skip("needs root to build and enter a chroot")
        busybox = "/bin/busybox"  # busybox-static: it needs no library in the chroot
        if not os.path.exists(busybox) or not shutil.which("chroot"):
            sbxtest.skip("needs busybox-static and chroot")
        self.root = tempfile.mkdtemp(prefix="sbx-chroot-", dir=os.environ.get("TMPDIR", "/var/tmp"))
        os.chmod(self.root, 0o755)  # nobody must reach the binaries
        run = sbxtest.SBX_RUN
        libs = re.findall(r"(/\S+\.so[^ ]*) \(", subprocess.run(["ldd", run], capture_output=True,
                                                            text=True).stdout)
        libs += re.findall(r"^\s*(/\S+) \(", subprocess.run(["ldd", run], capture_output=True,
                                                        text=True).stdout, re.M)
        for f in [run, busybox] + libs:
            dst = os.path.join(self.root, f.lstrip("/"))
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            shutil.copy2(os.path.realpath(f), dst)
            os.chmod(dst, 0o755)
        os.makedirs(os.path.join(self.root, "box"), mode=0o777)
        os.chmod(os.path.join(self.root, "box"), 0o777)
        os.makedirs(os.path.join(self.root, "proc"))
        # A /proc in the chroot: the ASan build reads its options there.
        subprocess.run(["mount", "-t", "proc", "proc", os.path.join(self.root, "proc")], check=True)
        self.run_path = run
        self.busybox = busybox

    def tearDown(self):
        subprocess.run(["umount", "-l", os.path.join(self.root, "proc")])
        shutil.rmtree(self.root, ignore_errors=True)

    def in_chroot(self, *args):
        return subprocess.run(["chroot", "--userspec=65534:65534", self.root, self.run_path,
                               "--result", "-"] + list(args), capture_output=True, timeout=30)

    def test_refused_without_best_effort(self):
        # Landlock cannot give a network namespace.
        r = self.in_chroot("--no-net", "--", self.busybox, "true")
        self.assertEqual(r.returncode, EXIT_SETUP, r)
        self.assertIn(b"namespace", r.stderr, r)

    def test_best_effort_runs_without_and_says_so(self):
        r = self.in_chroot("--best-effort", "--no-net", "--", self.busybox, "true")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"without them", r.stderr, r)
        result = json.loads(r.stderr.decode().strip().splitlines()[-1])
        self.assertNotIn("network-namespace (lo only)", result["isolation"], result)
        self.assertIn("no-new-privs", result["isolation"], result)

    def test_allow_held_by_landlock(self):
        secret = os.path.join(self.root, "secret")
        with open(secret, "w") as f:
            f.write("not for the sandbox\n")
        os.chmod(secret, 0o644)
        r = self.in_chroot("--allow", "/box", "--", self.busybox, "sh", "-c",
                           "cat /secret; echo $?; echo written > /box/f && echo ok")
        if r.returncode == EXIT_SETUP and b"no Landlock" in r.stderr:
            sbxtest.skip("the kernel has no Landlock")
        self.assertEqual(r.returncode, 0, r)
        out = r.stdout.decode().split()
        self.assertEqual(out[-2:], ["1", "ok"], r)  # cat failed, the write worked
        self.assertIn(b"Permission denied", r.stderr, r)
        with open(os.path.join(self.root, "box", "f")) as f:
            self.assertEqual(f.read(), "written\n")
        result = json.loads(r.stderr.decode().strip().splitlines()[-1])
        self.assertIn("landlock allow /box", result["isolation"], result)

if __name__ == "__main__":
    sbxtest.main()
