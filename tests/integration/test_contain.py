"""The contained default (see README, "What a program in the sandbox cannot
do"): each piece tried from inside a default sbx-run as root, then the same
from a --privileged run, which must get through (proving the probe can
fail). Probes are small Python programs; each prints one word per try."""

import os
import signal
import subprocess
import sys
import time

import sbxtest
from sbxtest import EXIT_ESCAPED, EXIT_SETUP, find_cgroup_dirs, sbx, start

PY = sys.executable


def probe(code):
    return [PY, "-c", code]


def words(run):
    return run.text().split()


# Tries, each printing "ok" when it got through, else the errno's name.
TRY = r'''
import ctypes, errno, fcntl, os, sys, termios
libc = ctypes.CDLL(None, use_errno=True)
def out(ok, e=None):
    print("ok" if ok else errno.errorcode.get(e, str(e)), flush=True)
def attempt(f):
    try:
        f(); out(True)
    except OSError as e:
        out(False, e.errno)
'''


class Contained(sbxtest.TestCase):
    def both(self, code, opts=()):
        """The probe contained, then privileged (no limits: no refusal)."""
        c = sbx(list(opts), cmd=probe(TRY + code))
        p = sbx(["--privileged"] + list(opts), cmd=probe(TRY + code))
        return c, p

    def test_isolation_list_and_privileged_flag(self):
        r = sbx(["-m", "64M", "-p", "32"], cmd=["true"])
        self.assertStatus(r, 0)
        iso = r.result["isolation"]
        for piece in ("new-session", "close-fds", "pid-namespace", "mount-namespace",
                      "ipc-namespace", "cgroup-namespace", "cgroupfs-readonly",
                      "proc-masked", "private-dev-shm", "caps-dropped", "no-new-privs",
                      "seccomp"):
            self.assertIn(piece, iso, r)
        self.assertIs(r.result["privileged"], False, r)
        self.assertTrue(all("undoable" not in e for e in r.result["enforced"]), r)

    def test_no_controlling_terminal_and_tiocsti_refused(self):
        code = r'''
attempt(lambda: os.close(os.open("/dev/tty", os.O_RDWR)))
# a session of its own: sbx's init leads it (PID 1), else the program
print("sid" if os.getsid(0) in (1, os.getpid()) else "same-session", flush=True)
# TIOCSTI on whatever terminal stdin is (none here: the filter answers first)
r = libc.ioctl(0, termios.TIOCSTI, ctypes.c_char_p(b"x"))
out(r == 0, ctypes.get_errno())
'''
        c, p = self.both(code)
        self.assertEqual(words(c)[0], "ENXIO", c)        # no controlling terminal
        self.assertEqual(words(c)[1], "sid", c)
        self.assertEqual(words(c)[2], "EPERM", c)        # the seccomp filter
        self.assertEqual(words(p)[1], "same-session", p)
        self.assertEqual(words(p)[2], "ENOTTY", p)       # reached the kernel

    def test_descriptors_above_2_closed(self):
        fd = os.open("/", os.O_RDONLY)  # inheritable: as a careless caller's
        os.set_inheritable(fd, True)
        self.addCleanup(os.close, fd)
        code = "attempt(lambda: os.listdir(%d))" % fd
        c = subprocess.run([sbxtest.SBX_RUN, "--", PY, "-c", TRY + code], pass_fds=(fd,),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        p = subprocess.run([sbxtest.SBX_RUN, "--privileged", "--", PY, "-c", TRY + code],
                           pass_fds=(fd,), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        self.assertEqual(c.stdout.split(), [b"EBADF"], c)
        self.assertEqual(p.stdout.split(), [b"ok"], p)

    def test_own_pid_namespace_or_hidden_proc(self):
        code = r'''
print(os.getpid(), flush=True)
print(len([d for d in os.listdir("/proc") if d.isdigit()]), flush=True)
attempt(lambda: os.kill(os.getppid() or 1, 0))
'''
        c = sbx([], cmd=probe(TRY + code))
        self.assertEqual(words(c)[0], "2", c)            # sbx's init is PID 1
        self.assertLessEqual(int(words(c)[1]), 3, c)     # init, python (and ls)
        n = sbx(["--no-pidns", "--user", "nobody"], cmd=["/usr/bin/python3", "-c", TRY + code])
        self.assertStatus(n, 0)
        self.assertNotEqual(words(n)[0], "2", n)
        self.assertLessEqual(int(words(n)[1]), 3, n)     # hidepid: only its own
        self.assertIn("proc-hidepid", n.result["isolation"], n)

    def test_cgroupfs_read_only_and_cgroup_namespace(self):
        code = r'''
print(open("/proc/self/cgroup").read().split(":")[-1].strip(), flush=True)
import glob
f = sorted(glob.glob("/sys/fs/cgroup/**/pids.max", recursive=True))[-1]
attempt(lambda: open(f, "w").write("max"))
attempt(lambda: open("/proc/sys/kernel/core_pattern", "w").write("|/bin/false"))
'''
        c = sbx(["-p", "32"], cmd=probe(TRY + code))
        self.assertStatus(c, 0)
        self.assertEqual(words(c), ["/", "EROFS", "EROFS"], c)

    def test_capabilities_dropped_and_given_back(self):
        code = r'''
caps = {l.split(":")[0]: int(l.split()[1], 16) for l in open("/proc/self/status")
        if l.startswith("Cap")}
print("%x %x %x" % (caps["CapEff"], caps["CapBnd"], caps["CapAmb"]), flush=True)
attempt(lambda: os.mknod(os.path.join(os.environ["T"], "null"), 0o600 | 0o020000, os.makedev(1, 3)))
'''
        env = ["-e", "T=" + self.tmp]
        c = sbx(env, cmd=probe(TRY + code))
        eff, bnd, amb = (int(x, 16) for x in words(c)[:3])
        for cap in (21, 16, 17, 19, 22, 25, 24, 27, 33, 32, 30, 39, 38, 34, 12):
            self.assertFalse(eff & (1 << cap) or bnd & (1 << cap), "cap %d kept\n%s" % (cap, c))
        self.assertEqual(amb, 0, c)
        self.assertEqual(words(c)[3], "EPERM", c)        # no MKNOD
        g = sbx(env + ["--cap-add", "mknod,CAP_NET_ADMIN"], cmd=probe(TRY + code))
        eff = int(words(g)[0], 16)
        self.assertTrue(eff & (1 << 27) and eff & (1 << 12), g)
        self.assertEqual(words(g)[3], "ok", g)
        bad = sbx(["--cap-add", "SYS_FROB"], cmd=["true"])
        self.assertStatus(bad, EXIT_SETUP)

    def test_namespace_creation_refused(self):
        code = r'''
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
out(libc.unshare(CLONE_NEWUSER) == 0, ctypes.get_errno())
out(libc.syscall(435, None, 0) == 0, ctypes.get_errno())   # clone3
out(libc.setns(0, 0) == 0, ctypes.get_errno())
pid = os.fork()   # an ordinary fork still works (clone without NEW*)
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0); out(True)
'''
        c = sbx([], cmd=probe(TRY + code))
        self.assertEqual(words(c), ["EPERM", "ENOSYS", "EPERM", "ok"], c)
        p = sbx(["--privileged", "--seccomp", "default"], cmd=probe(TRY + code))
        self.assertEqual(words(p)[:2], ["EPERM", "ENOSYS"], p)  # the profile too
        p = sbx(["--privileged"], cmd=probe(TRY + code))
        self.assertEqual(words(p)[0], "ok", p)

    def test_allow_list_profile_cannot_allow_namespaces(self):
        from test_isolation import syscall_names
        names = syscall_names()
        if not names:
            sbxtest.skip("cannot list this machine's system calls (headers, libseccomp)")
        profile = os.path.join(self.tmp, "all.profile")
        with open(profile, "w") as f:
            f.write("allow\n" + "\n".join(names) + "\n")   # every call, unshare too
        code = r'''
out(libc.unshare(0x10000000) == 0, ctypes.get_errno())
out(libc.setns(0, 0) == 0, ctypes.get_errno())
out(libc.syscall(435, None, 0) == 0, ctypes.get_errno())
r = libc.ioctl(0, termios.TIOCSTI, ctypes.c_char_p(b"x")); out(r == 0, ctypes.get_errno())
'''
        c = sbx(["--seccomp", profile], cmd=probe(TRY + code))
        self.assertEqual(words(c), ["EPERM", "EPERM", "ENOSYS", "EPERM"], c)

    def test_private_dev_shm(self):
        name = "sbx-contain-%d" % os.getpid()
        code = 'open("/dev/shm/%s", "w").write("x"); attempt(lambda: None)' % name
        self.addCleanup(lambda: os.path.exists("/dev/shm/" + name) and os.unlink("/dev/shm/" + name))
        c = sbx([], cmd=probe(TRY + code))
        self.assertStatus(c, 0)
        self.assertFalse(os.path.exists("/dev/shm/" + name), c)


class Enter(sbxtest.TestCase):
    def test_enter_a_running_sandbox(self):
        # A probe in a running sandbox's namespaces: its PID namespace, host
        # name and mounts, contained by the same steps; the sandbox's own
        # mounts untouched.
        p = start(["--hostname", "box7"], child=["pid", "sleep", "10"])
        self.assertTrue(p.proc.stdout.readline().strip().isdigit())
        init = sbxtest.run_children(p.proc.pid)[0]
        with open("/proc/%d/mountinfo" % init) as f:
            mounts = f.read()
        code = r'''
print(os.getpid(), os.uname().nodename, flush=True)
print(len([d for d in os.listdir("/proc") if d.isdigit()]), flush=True)
caps = [int(l.split()[1], 16) for l in open("/proc/self/status") if l.startswith("CapEff")][0]
print("sysadmin" if caps & (1 << 21) else "nosysadmin", flush=True)
out(libc.unshare(0x10000000) == 0, ctypes.get_errno())
'''
        r = sbx(["--enter", str(init)], cmd=probe(TRY + code))
        self.assertStatus(r, 0)
        pid, host, nproc, caps, unshare = words(r)
        self.assertLess(int(pid), 10, r)            # inside the sandbox's PID namespace
        self.assertEqual(host, "box7", r)
        self.assertLessEqual(int(nproc), 5, r)      # its /proc
        self.assertEqual((caps, unshare), ("nosysadmin", "EPERM"), r)
        with open("/proc/%d/mountinfo" % init) as f:
            self.assertEqual(f.read(), mounts, "the probe changed the sandbox's mounts")
        p.proc.send_signal(signal.SIGTERM)
        p.finish()


class Limits(sbxtest.TestCase):
    def test_privileged_with_limits_refused_unless_best_effort(self):
        r = sbx(["--privileged", "-m", "64M"], cmd=["true"])
        self.assertStatus(r, EXIT_SETUP)
        self.assertIn(b"privileged", r.stderr)
        r = sbx(["--cap-add", "SYS_ADMIN", "-p", "10"], cmd=["true"])
        self.assertStatus(r, EXIT_SETUP)
        r = sbx(["--privileged", "--best-effort", "-m", "64M"], cmd=["true"])
        self.assertStatus(r, 0)
        self.assertIs(r.result["privileged"], True, r)
        mem = [e for e in r.result["enforced"] if e["limit"] == "memory"][0]
        self.assertIn("privileged", mem.get("undoable", ""), r)
        self.assertIn("privileged: can undo its own limits", r.result["isolation"], r)

    def test_a_limit_rewritten_from_inside_is_escaped(self):
        sbxtest.need_cgroups("pids")
        # Privileged: it can write its own box's pids.max (a box of its own).
        code = r'''
import os
lines = open("/proc/self/cgroup").read().splitlines()
rel = [l.split(":", 2)[2] for l in lines if "pids" in l.split(":")[1].split(",") or l.startswith("0::")][0]
for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
    if os.path.exists(base + rel + "/pids.max"):
        open(base + rel + "/pids.max", "w").write("1000")
        break
'''
        r = sbx(["--privileged", "--best-effort", "-p", "20"], cmd=[PY, "-c", code])
        self.assertStatus(r, EXIT_ESCAPED)
        self.assertResult(r, reason="escaped")
        self.assertIn("pids.max", r.result["error"], r)
        # Contained, the same write fails and the run is a clean one.
        r = sbx(["-p", "20"], cmd=[PY, "-c", code])
        self.assertNotEqual(r.status, EXIT_ESCAPED, r)
        self.assertNotEqual(r.result["reason"], "escaped", r)

    def test_privileged_program_with_many_child_exits_ends_as_itself(self):
        # On cgroup v1 sbx-run traces a privileged program to its exit; every
        # SIGCHLD the program gets is then a stop sbx-run must resume, and
        # none of them may be taken for the program's own end.
        code = r'''
import os, time
for burst in range(5):
    pids = [os.fork() or os._exit(0) for _ in range(20)]
    time.sleep(0.01)
    for p in pids:
        os.waitpid(p, 0)
raise SystemExit(7)
'''
        for _ in range(5):
            r = sbx(["--privileged", "--best-effort", "-m", "64M"], cmd=[PY, "-c", code])
            self.assertStatus(r, 7)
            self.assertResult(r, reason="exited", exit_code=7)


class SupervisorDeath(sbxtest.TestCase):
    def test_sigkill_of_sbx_run_ends_everything_and_the_next_run_sweeps(self):
        p = start(["-p", "50"], child=["double-fork", os.path.join(self.tmp, "pid"), "pid",
                                       "sleep", "30"])
        first = p.proc.stdout.readline()
        self.assertTrue(first.strip().isdigit(), first)
        # The sweep is for an sbx-run whose box watcher died with it (the
        # OOM killer, a kill of its whole group): both go, the run with
        # them (PDEATHSIG on its PID 1), the box stays for the next run.
        watch = sbxtest.watchers(p.proc.pid)
        self.assertEqual(len(watch), 1, "no box watcher: %s" % sbxtest.children(p.proc.pid))
        os.kill(watch[0], signal.SIGKILL)
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait(timeout=10)
        deadline = time.monotonic() + 3
        while sbxtest.tagged_pids(p.tag) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(sbxtest.tagged_pids(p.tag), [], "the run outlived sbx-run")
        prefix = "sbx-run-%d-" % p.proc.pid
        self.assertTrue(find_cgroup_dirs([prefix]), "no box left to sweep: the test "
                        "proves nothing")
        r = sbx([], cmd=["true"])   # the next run removes the dead run's box
        self.assertStatus(r, 0)
        self.assertEqual(find_cgroup_dirs([prefix]), [])

    def test_program_cannot_signal_sbx_run(self):
        # kill -9 $PPID from inside: its parent is sbx's init, PID 1 of its
        # namespace (which ignores it); sbx-run is not in the namespace.
        r = sbx(["-t", "2s"], cmd=["sh", "-c", "kill -9 $PPID; kill -9 1; echo $?"])
        self.assertIsNotNone(r.result, r)
        self.assertStatus(r, 0)


if __name__ == "__main__":
    sbxtest.main()
