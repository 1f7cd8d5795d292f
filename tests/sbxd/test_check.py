"""sbxd --check DIR validates units without starting anything (exit 0/1,
errors as FILE:LINE: [section] key: what); and a running sbxd refuses a
broken unit on its own while every other unit runs."""

import os
import re
import subprocess

import sbxdtest
from sbxdtest import SBXD, child_cmd


def check(directory):
    p = subprocess.run([SBXD, "--check", directory], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# Broken units, one error each: (name, text, line, section, key, what).
# `what` is a regex over the message after "key: ".
BROKEN = [
    ("unknownkey", "[exec]\ncommand = /bin/true\n; a comment\nbogus = 1\n",
     4, "exec", "bogus", r"unknown key"),
    ("badvalue", "[unit]\ndescription = x\n[exec]\ncommand = /bin/true\n[limits]\nmemory = lots\n",
     6, "limits", "memory", r"\S"),
    ("badpolicy", "[exec]\ncommand = /bin/true\n[restart]\npolicy = sometimes\n",
     4, "restart", "policy", r"expected"),
    ("badduration", "[exec]\ncommand = /bin/true\n[limits]\n\nruntime_max = soon\n",
     5, "limits", "runtime_max", r"\S"),
    ("twice", "[exec]\ncommand = /bin/true\ncommand = /bin/false\n",
     3, "exec", "command", r"twice"),
    ("missingdep", "[unit]\ndescription = needs a ghost\nrequires = ghost\n[exec]\ncommand = /bin/true\n",
     3, "unit", "requires", r"ghost"),
    ("missingafter", "[exec]\ncommand = /bin/true\n[unit]\nafter = phantom\n",
     4, "unit", "after", r"phantom"),
    # A privileged program could rewrite its limits: they would not hold.
    ("privlimits", "[exec]\ncommand = /bin/true\n[limits]\nmemory = 64M\n[sandbox]\n"
     "privileged = yes\n", 6, "sandbox", "privileged", r"privileged: can rewrite"),
    ("capundo", "[exec]\ncommand = /bin/true\n[limits]\npids = 4\n[sandbox]\n"
     "capabilities = net_admin, CAP_SYS_ADMIN\n", 6, "sandbox", "capabilities", r"undo"),
    ("badcap", "[exec]\ncommand = /bin/true\n[sandbox]\ncapabilities = SYS_FROB\n",
     4, "sandbox", "capabilities", r"unknown capability"),
]


class CheckTest(sbxdtest.TestCase):
    needs_root = False

    def write(self, directory, name, text):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name + ".ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def good_dir(self):
        d = os.path.join(self.tmp, "good")
        self.marker = os.path.join(self.tmp, "ran")
        self.write(d, "base", "[unit]\ndescription = base\n[exec]\ncommand = %s\n"
                   % child_cmd("touch", self.marker))
        self.write(d, "app", "[unit]\nrequires = base\nafter = pool\n[exec]\n"
                   "command = %s\nenv = A=1\nenv = B=2\n[limits]\nmemory = 64M\n"
                   "runtime_max = 5s\nstop_signal = INT\n[restart]\npolicy = always\n"
                   "delay = 250ms\ndelay_max = 10s\nburst = 3\ninterval = 1m\non_oom = stop\n"
                   "[log]\nmax_size = 1M\nkeep = 2\n" % child_cmd("touch", self.marker))
        self.write(d, "pool", "[unit]\ninstances = 3\n[exec]\ncommand = %s\n"
                   % child_cmd("touch", self.marker + "%i"))
        # Privileged without limits, or given back what undoes nothing: fine.
        self.write(d, "admin", "[exec]\ncommand = /bin/true\n[sandbox]\nprivileged = yes\n")
        self.write(d, "net", "[exec]\ncommand = /bin/true\n[limits]\nmemory = 8M\n"
                   "[sandbox]\ncapabilities = NET_ADMIN cap_net_raw\n")
        return d

    def test_version(self):
        p = subprocess.run([SBXD, "--version"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 0, p)
        self.assertRegex(p.stdout.decode(), r"^sbxd \d+\.\d+\.\d+\n$")

    def test_good_units_exit_0_and_start_nothing(self):
        d = self.good_dir()
        status, out, err = check(d)
        self.assertEqual(status, 0, "stdout %r\nstderr %r" % (out, err))
        self.assertIn("valid", out)
        self.assertRegex(out, r"admin\.ini: \[sandbox\] privileged: can undo its own limits")
        self.assertEqual(err.strip(), "")
        self.assertFalse(os.path.exists(self.marker), "--check started a unit")
        for i in (1, 2, 3):
            self.assertFalse(os.path.exists(self.marker + str(i)), "--check started a unit")

    def test_each_broken_unit_exit_1_with_file_line(self):
        for name, text, line, section, key, what in BROKEN:
            with self.subTest(unit=name):
                d = os.path.join(self.tmp, "b-" + name)
                path = self.write(d, name, text)
                status, out, err = check(d)
                self.assertEqual(status, 1, "stdout %r\nstderr %r" % (out, err))
                want = re.compile(r"^%s:%d: \[%s\] %s: (.*)$"
                                  % (re.escape(path), line, section, key), re.M)
                m = want.search(err)
                self.assertIsNotNone(m, "no line %s:%d: [%s] %s: ... in stderr:\n%s"
                                     % (path, line, section, key, err))
                self.assertRegex(m.group(1), what)

    def test_dependency_cycle(self):
        d = os.path.join(self.tmp, "cycle")
        pa = self.write(d, "a", "[unit]\nrequires = b\n[exec]\ncommand = /bin/true\n")
        pb = self.write(d, "b", "[exec]\ncommand = /bin/true\n[unit]\nafter = c\n")
        pc = self.write(d, "c", "[unit]\ndescription = c\nrequires = a\n[exec]\ncommand = /bin/true\n")
        self.write(d, "ok", "[exec]\ncommand = /bin/true\n")
        status, out, err = check(d)
        self.assertEqual(status, 1, "stdout %r\nstderr %r" % (out, err))
        self.assertRegex(err, r"(?m)^(%s:2: \[unit\] requires|%s:4: \[unit\] after|"
                         r"%s:3: \[unit\] requires): dependency cycle$"
                         % (re.escape(pa), re.escape(pb), re.escape(pc)))
        # Every unit of the cycle is refused (named with its line); ok is not.
        for path, line, key in ((pa, 2, "requires"), (pb, 4, "after"), (pc, 3, "requires")):
            self.assertRegex(err, r"(?m)^%s:%d: \[unit\] %s: " % (re.escape(path), line, key))
        self.assertNotIn("ok.ini", err)

    def test_every_line_has_the_format(self):
        d = os.path.join(self.tmp, "all")
        for name, text, *_ in BROKEN:
            self.write(d, name, text)
        self.write(d, "fine", "[exec]\ncommand = /bin/true\n")
        status, out, err = check(d)
        self.assertEqual(status, 1)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertGreaterEqual(len(lines), len(BROKEN), err)
        fmt = re.compile(r"^%s/[a-z]+\.ini:\d+: \[[a-z]+\] [a-z_]+: \S" % re.escape(d))
        for l in lines:
            self.assertRegex(l, fmt)
        for name, *_ in BROKEN:
            self.assertIn("/%s.ini:" % name, err)
        self.assertNotIn("fine.ini", err)


class BrokenUnitDaemonTest(sbxdtest.TestCase):
    """A broken unit is refused and reported; the others load and run."""

    def test_broken_unit_does_not_stop_the_others(self):
        self.write_unit("alpha", {"exec": {"command": child_cmd("sleep", 60)}})
        self.write_unit("omega", {"exec": {"command": child_cmd("sleep", 60)}})
        broken = self.write_unit("middle", text="[exec]\ncommand = %s\n[limits]\nmemroy = 1M\n"
                                 % child_cmd("sleep", 60))
        cyc1 = self.write_unit("cyc1", {"unit": {"requires": "cyc2"},
                                        "exec": {"command": child_cmd("sleep", 60)}})
        self.write_unit("cyc2", {"unit": {"requires": "cyc1"},
                                 "exec": {"command": child_cmd("sleep", 60)}})
        d = self.start_sbxd()
        for name in ("alpha", "omega"):
            ev = d.wait_running(10, name)[0]
            self.assertTrue(sbxdtest.alive(ev.pid()), "%s: pid %s not alive" % (name, ev.pid()))
        d.wait_line(r"^%s:4: \[limits\] memroy: unknown key" % re.escape(broken), 5)
        d.wait_line(r"^%s:\d+: \[unit\] requires: " % re.escape(cyc1), 5)
        d.wait_line(r"3 refused", 5)
        self.assertEqual(d.find(unit="middle"), [])
        self.assertEqual(d.find(unit="cyc1"), [])
        self.assertEqual(d.find(unit="cyc2"), [])


if __name__ == "__main__":
    sbxdtest.main()
