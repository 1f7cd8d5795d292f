"""Units are contained as sbx-run is (see README, "What a program in the
sandbox cannot do"): a default unit as root cannot write its cgroup files,
sees "/" as its cgroup, has no CAP_SYS_ADMIN, cannot make namespaces and
has a session of its own; a privileged unit (no limits) gets through, which
proves the probe can fail."""

import os
import signal

import sbxdtest

PROBE = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
out = []
lines = [l.split(":", 2) for l in open("/proc/self/cgroup").read().splitlines()]
v1 = [l[2] for l in lines if "pids" in l[1].split(",")]
base, mine = ("/sys/fs/cgroup/pids", v1[0]) if v1 else \
    ("/sys/fs/cgroup", [l[2] for l in lines if l[0] == "0"][0])
out.append("cgroup=" + ("root" if mine == "/" else "path"))
try:  # a cgroup below its own box (contained: "/" is all it knows)
    d = base + mine.rstrip("/") + "/probe"
    os.mkdir(d)
    os.rmdir(d)
    out.append("cgroupfs=writable")
except OSError as e:
    out.append("cgroupfs=" + os.strerror(e.errno).replace(" ", "-"))
eff = [int(l.split()[1], 16) for l in open("/proc/self/status") if l.startswith("CapEff")][0]
out.append("sys_admin=%s" % bool(eff & (1 << 21)))
out.append("unshare=%s" % (libc.unshare(0x10000000) == 0))
out.append("session=%s" % (os.getsid(0) == os.getpid()))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(out) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
import time; time.sleep(30)
'''


class ContainedUnitTest(sbxdtest.TestCase):
    def probe(self, name, sandbox):
        script = os.path.join(self.tmp, "probe.py")
        with open(script, "w") as f:
            f.write(PROBE)
        result = os.path.join(self.tmp, name + ".out")
        unit = {"exec": {"command": "/usr/bin/python3 %s %s" % (script, result)},
                "restart": {"policy": "no"}}
        if sandbox:
            unit["sandbox"] = sandbox
        self.write_unit(name, unit)
        return result

    def read(self, path):
        ok = sbxdtest.wait_until(lambda: os.path.exists(path), 10)
        self.assertTrue(ok, "%s never written\n%s" % (path, self.d.transcript()))
        with open(path) as f:
            return dict(w.split("=") for w in f.read().split())

    def test_default_unit_is_contained_privileged_is_not(self):
        contained = self.probe("boxed", None)
        privileged = self.probe("admin", {"privileged": "yes"})
        self.d = self.start_sbxd()
        c = self.read(contained)
        self.assertEqual(c, {"cgroup": "root", "cgroupfs": "Read-only-file-system",
                             "sys_admin": "False", "unshare": "False", "session": "True"},
                         self.d.transcript())
        p = self.read(privileged)
        self.assertEqual((p["cgroup"], p["cgroupfs"], p["sys_admin"], p["unshare"]),
                         ("path", "writable", "True", "True"), self.d.transcript())

    def test_sbxds_environment_is_not_readable_through_the_init(self):
        # sbx's init is a fork of sbxd: a unit with an environment of its
        # own must not read sbxd's (SBX_TEST_TAG here) at /proc/1/environ,
        # nor find sbxd's argv at /proc/1/cmdline.
        self.write_unit("peek", {
            "exec": {"command": 'sh -c "grep -ac SBX_TEST_TAG /proc/1/environ; '
                                'tr -d \'\\\\000\' </proc/1/cmdline; echo; exit 0"',
                     "clear_env": "yes"},
            "restart": {"policy": "no"}})
        self.d = self.start_sbxd()
        self.d.wait_event(10, unit="peek", state="exited")
        out = sbxdtest.wait_until(lambda: self.read_log("peek").decode().split(), 5)
        self.assertEqual(out, ["0", "sbx-init"], self.d.transcript())

    def test_the_init_keeps_none_of_sbxds_heap(self):
        # sbx's init is a fork of sbxd that never execs: it unmaps sbxd's
        # heap (backends/linux/initmem.c), keeps its name, and still
        # passes a stop on to the program and its status back.
        self.write_unit("lean", {"exec": {"command": "sleep 30"},
                                 "restart": {"policy": "no"}})
        self.d = self.start_sbxd()
        self.d.wait_event(10, unit="lean", state="running")
        maps = open("/proc/%d/maps" % self.d.pid).read()
        # Under AddressSanitizer the init keeps its memory (the shadow is
        # anonymous too, initmem.c): only its name and its relay are checked.
        sheds = "libasan" not in maps
        if sheds:
            self.assertIn("[heap]", maps)

        def init():
            for pid, _ in sbxdtest.children_of(self.d.pid):
                argv = sbxdtest.cmdline(pid)
                if argv and argv[0] == "sbx-init" and sbxdtest.children_of(pid):
                    return pid
            return None
        pid = sbxdtest.wait_until(init, 10)
        self.assertTrue(pid, self.d.transcript())
        # The program runs, so the init is past its set-up and in its loop.
        if sheds:
            sbxdtest.wait_until(lambda: "[heap]" not in open("/proc/%d/maps" % pid).read(), 5)
            self.assertNotIn("[heap]", open("/proc/%d/maps" % pid).read())
        self.assertEqual(sbxdtest.cmdline(pid)[0], "sbx-init")
        os.kill(pid, signal.SIGTERM)  # passed on to the program, its status back
        self.d.wait_line(r'"lean".*signal 15', 10)


if __name__ == "__main__":
    sbxdtest.main()
