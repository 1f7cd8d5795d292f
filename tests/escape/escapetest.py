"""Shared pieces of the escape suite (Python 3 stdlib only).

A row is one escape technique, tried from each of five places:

  run-default     sbx-run with limits, nothing else asked
  unit-default    an sbxd unit with limits (root)
  unit-nobody     the same unit with [exec] user = nobody
  run-full        sbx-run with limits and --allow DIR --no-net --private-tmp
                  --pidns --seccomp default --user nobody
  run-privileged  sbx-run --privileged --best-effort with limits: the opt-out,
                  where a harmless technique must SUCCEED (proof that the
                  row can fail); for techniques sbx stops whatever the
                  privilege (its supervisor's death, its control socket) it
                  must be stopped there too

The attack runs inside as `python3 -I probe.py VERB...` (probe.py) or as
sbx-test-child verbs (raw system calls); each attempt comes back as one
line "what: outcome" with the errno the kernel gave, and the host side adds
what it saw (a host process still alive, bytes in a terminal's input, a
file left in /dev/shm). A row prints, for every place, what was tried and
what stopped it, in the words of those outcomes; it fails when an attack
worked in a contained place, when the privileged run could not do what it
should, or when the probe did not run at all (a refusal to start is never
counted as stopping an attack).

Everything is touched only if the test made it: the cgroups are the boxes
of our runs and siblings we create below our own cgroup, signals go to
processes we started, files of the host are opened for writing and closed
unwritten.
"""

import errno
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty
import uuid
import fcntl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "sbxd"))
import sbxtest  # noqa: E402
import sbxdtest  # noqa: E402

CONTAINED = ("run-default", "unit-default", "unit-nobody", "run-full")
PRIVILEGED = "run-privileged"
CONTEXTS = CONTAINED + (PRIVILEGED,)

RUN_LIMITS = ["-m", "64M", "-p", "32", "-c", "50%"]
UNIT_LIMITS = {"memory": "64M", "pids": "32", "cpu": "50%"}
PRIVILEGED_OPTS = ["--privileged", "--best-effort"]
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Outcome:
    """What one place gave: the attempts (what, outcome) as the program
    reported them, what the host saw (`host`), and the launcher's end."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.tries = []
        self.output = ""
        self.status = None      # sbx-run's exit status, or sbxd's
        self.result = None      # sbx-run's --result
        self.stderr = ""
        self.host = {}
        self.launcher_pid = None
        self.tag = None

    def worked(self):
        return [(w, o) for w, o in self.tries if o == "ok" or o.startswith("ok ")]

    def said(self):
        return "; ".join("%s: %s" % (w, o) for w, o in self.tries)

    def dump(self):
        return ("  [%s] exit %s\n  output %r\n  stderr %r\n  result %s\n  host %s"
                % (self.ctx, self.status, self.output[-1500:], self.stderr[-1500:],
                   self.result, self.host))


def parse_probe(text):
    return [tuple(l.split("\t")[1:3]) for l in text.splitlines()
            if l.startswith("TRY\t") and l.count("\t") >= 2]


def parse_child(text, labels):
    """sbx-test-child's probe lines ("ok" or an errno name), one per label."""
    out = []
    for label, line in zip(labels, text.splitlines()):
        code = getattr(errno, line, None)
        out.append((label, "%s %s" % (line, os.strerror(code)) if code else line))
    return out


def default_judge(o):
    """Escaped when any attempt worked: (escaped, what it says)."""
    return bool(o.worked()), o.said()


class EscapeCase(sbxdtest.TestCase):
    """Rows: self.row(name, plan, judge, privileged). Each test gets
    self.tmp (0755), self.box (0777, the --allow directory and a place the
    program may write), and copies of probe.py and sbx-test-child in
    self.bin that nobody can read and run."""

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        self.bin = os.path.join(self.tmp, "bin")
        self.box = os.path.join(self.tmp, "box")
        os.mkdir(self.bin, 0o755)
        os.mkdir(self.box)
        os.chmod(self.box, 0o777)
        for src in (os.path.join(HERE, "probe.py"), sbxtest.SBX_CHILD):
            dst = os.path.join(self.bin, os.path.basename(src))
            shutil.copy2(src, dst)
            os.chmod(dst, 0o755)
        self.child = os.path.join(self.bin, os.path.basename(sbxtest.SBX_CHILD))
        sbxtest._runs.clear()
        self.addCleanup(sbxtest.clean_up)
        self.base_root = self.root

    # --- what runs inside -----------------------------------------------------

    def py(self, *args):
        """A probe.py verb: (argv, parser)."""
        # -S: no site packages, a faster start (it counts in the VM).
        argv = [PYTHON, "-I", "-S", os.path.join(self.bin, "probe.py")]
        return argv + [str(a) for a in args], parse_probe

    def verbs(self, *pairs):
        """sbx-test-child verbs: pairs of (label, [verb, args...])."""
        argv, labels = [self.child], []
        for label, verb in pairs:
            argv += [str(v) for v in verb]
            labels.append(label)
        return argv, lambda text: parse_child(text, labels)

    # --- the places ---------------------------------------------------------------

    def run_opts(self, ctx):
        if ctx == "run-default":
            return RUN_LIMITS
        if ctx == "run-full":
            return RUN_LIMITS + ["--allow", self.box, "--ro", self.bin, "--no-net",
                                 "--private-tmp", "--pidns", "--seccomp", "default",
                                 "--user", "nobody"]
        if ctx == PRIVILEGED:
            return PRIVILEGED_OPTS + RUN_LIMITS
        raise ValueError(ctx)

    def popen_args(self, launch):
        """Popen arguments for the launcher (sbx-run or sbxd): a terminal as
        its controlling tty and stdin, a process group, descriptors."""
        kw = {}
        if launch.get("pass_fds"):
            kw["pass_fds"] = tuple(launch["pass_fds"])
        if launch.get("pgrp"):
            kw["process_group"] = launch["pgrp"]
        if launch.get("tty") is not None:
            kw["stdin"] = launch["tty"]
            kw["start_new_session"] = True
            kw["preexec_fn"] = lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        return kw

    def in_run(self, ctx, probe, launch, timeout):
        argv, parser = probe
        fd, result = tempfile.mkstemp(prefix="sbx-result-", suffix=".json", dir=sbxtest.tmp_base())
        os.close(fd)
        tag = uuid.uuid4().hex
        full = [sbxtest.SBX_RUN, "--result", result, "-e", "SBX_TEST_TAG=" + tag] \
            + self.run_opts(ctx) + ["--"] + argv
        kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        files = None
        if launch.get("files"):
            # What may outlive sbx-run must not hold our pipes open.
            files = [os.path.join(self.tmp, "%s.%s" % (ctx, n)) for n in ("out", "err")]
            kw["stdout"], kw["stderr"] = [open(f, "wb") for f in files]
        kw.update(self.popen_args(launch))
        proc = subprocess.Popen(full, **kw)
        if files:
            kw["stdout"].close()
            kw["stderr"].close()
        o = Outcome(ctx)
        o.launcher_pid, o.tag = proc.pid, tag
        if launch.get("started"):
            launch["started"](o)
        r = sbxtest.Pending(full, proc, result, tag, None, timeout).finish()
        o.output, o.stderr = r.text(), r.stderr.decode(errors="replace")
        o.status, o.result, o.run = r.status, r.result, r
        o.files, o.parser = files, parser
        o.tries = parser(o.output)
        return o

    @staticmethod
    def read_files(o):
        """The output of a run that wrote to files: read after the host's
        checks, as the program may still be writing when sbx-run died."""
        if getattr(o, "files", None):
            with open(o.files[0], "rb") as f:
                o.output = f.read().decode(errors="replace")
            with open(o.files[1], "rb") as f:
                o.stderr = f.read().decode(errors="replace")
            o.tries = o.parser(o.output)

    def in_unit(self, ctx, probe, launch, timeout, privileged=False):
        argv, parser = probe
        self.root = "%s-%s" % (self.base_root, ctx)
        out = os.path.join(self.tmp, "%s.out" % ctx)
        err = os.path.join(self.tmp, "%s.err" % ctx)
        # sbxd's unit lines are short: the probe's arguments go in a file.
        args = os.path.join(self.bin, "%s.args" % ctx)
        with open(args, "w") as f:
            json.dump(argv, f)
        os.chmod(args, 0o644)
        command = [PYTHON, "-I", "-S", os.path.join(self.bin, "probe.py"), "@" + args]
        exe = {"command": " ".join(command), "stdout": "file:" + out, "stderr": "file:" + err}
        if ctx == "unit-nobody":
            exe.update(user="nobody", group="nogroup")
        sections = {"exec": exe, "limits": dict(UNIT_LIMITS), "restart": {"policy": "no"}}
        if privileged:
            # A privileged unit may have no limits (it could undo them):
            # sbxd refuses one with limits at load (sbx.unit(5)).
            sections["sandbox"] = {"privileged": "yes"}
            del sections["limits"]
        for f in os.listdir(self.units):
            os.unlink(os.path.join(self.units, f))
        self.write_unit("probe", sections)
        for name, more in (launch.get("units") or {}).items():
            self.write_unit(name, more)  # units beside the probe (its targets)
        o = Outcome(ctx)
        o.tag = self.tag
        d = self.start_sbxd(launch.get("sbxd_args") or (), popen=self.popen_args(launch))
        o.launcher_pid = d.pid
        if launch.get("started"):
            launch["started"](o)
        d.wait(lambda: any(e.unit == "probe" and e.state in ("exited", "failed")
                           for e in d.events) or any("probe.ini" in l for l in d.lines),
               timeout)
        if launch.get("before_stop"):
            launch["before_stop"](o)
        o.status, _ = d.stop()
        o.host["sbxd left"] = self._cleanup()
        o.stderr = "\n".join(d.lines[-30:])
        self.d = None
        for path, attr in ((out, "output"), (err, "errors")):
            try:
                with open(path, errors="replace") as f:
                    setattr(o, attr, f.read())
            except FileNotFoundError:
                setattr(o, attr, "")
        o.stderr = o.errors + "\n--- sbxd ---\n" + o.stderr
        o.tries = parser(o.output)
        return o

    # --- a row ---------------------------------------------------------------------

    def row(self, name, plan, judge=default_judge, privileged="succeeds",
            contexts=CONTEXTS, privileged_unit=False, reported=False, timeout=30):
        """Runs the technique everywhere, prints one line per place, then
        fails with every place that went wrong. plan(ctx) gives (probe,
        launch): launch may hold pass_fds, pgrp, tty, files (the output to
        files, not pipes), units (more units for sbxd: {name: sections}),
        sbxd_args, and hooks started(o), before_stop(o) (units),
        after(o) (host checks right after the run, into o.host). reported:
        a privileged sbx-run that did it must end with reason "escaped"."""
        print("\n== %s" % name, file=sys.stderr, flush=True)
        wrong = []
        for ctx in CONTEXTS:
            if ctx not in contexts:
                print("  %-15s n/a" % ctx, file=sys.stderr, flush=True)
                continue
            probe, launch = plan(ctx)
            if ctx.startswith("unit-") or (ctx == PRIVILEGED and privileged_unit):
                o = self.in_unit(ctx, probe, launch, timeout,
                                 privileged=ctx == PRIVILEGED)
            else:
                o = self.in_run(ctx, probe, launch, timeout)
            if launch.get("after"):
                launch["after"](o)
            self.read_files(o)
            verdict, why = self.judged(ctx, o, judge, privileged, privileged_unit)
            if reported and verdict.startswith("succeeded"):
                verdict, why = self.reported(o, verdict, why)
            print("  %-15s %s: %s" % (ctx, verdict, why), file=sys.stderr, flush=True)
            if verdict.isupper():
                wrong.append("%s %s: %s\n%s" % (ctx, verdict, why, o.dump()))
        if wrong:
            self.fail("%s:\n%s" % (name, "\n".join(wrong)))

    @staticmethod
    def reported(o, verdict, why):
        """A privileged run that changed or left its box: its result says
        so (reason "escaped", every enforced limit marked "undoable")."""
        result = o.result or {}
        if result.get("reason") != "escaped":
            return "NOT REPORTED", "the result's reason is %r, not \"escaped\": %s" % (
                result.get("reason"), why)
        plain = [e for e in result.get("enforced") or [] if not e.get("undoable")]
        if plain:
            return "NOT REPORTED", "enforced entries without \"undoable\": %s: %s" % (plain, why)
        return verdict, why

    def judged(self, ctx, o, judge, privileged, privileged_unit):
        """(verdict, why): lower case when as it must be, upper case not."""
        if not o.tries and not o.host.get("observed"):
            said = [l for l in o.stderr.splitlines()
                    if l.strip() and not l.startswith(("{", "--- sbxd"))]
            return "NOT RUN", "the probe reported no attempt (exit %s): %s" % (
                o.status, (said or ["no message"])[0][:300])
        escaped, why = judge(o)
        # (An sbx-run killed in the row writes no result at all.)
        says_privileged = (o.result or {}).get("privileged") is True or o.host.get("died")
        if ctx == PRIVILEGED and not privileged_unit and not says_privileged:
            return "NOT PRIVILEGED", "the result does not say \"privileged\": true: " + why
        if escaped is None:
            return "n/a", why
        if ctx in CONTAINED or privileged == "stopped":
            return ("ESCAPED", why) if escaped else ("stopped", why)
        if privileged is None:
            return "unchecked", why
        return ("succeeded (privileged)", why) if escaped else ("PRIVILEGED RUN STOPPED", why)

    # --- host fixtures -------------------------------------------------------------

    def canary(self, **env):
        """A host process outside every sandbox, in a process group of its
        own (in our session, so that a launcher may join the group): sleeps;
        ended after the test."""
        e = dict(os.environ)
        e.pop("SBX_TEST_TAG", None)
        e.update(env)
        p = subprocess.Popen([self.child, "sleep", "60"], env=e, stdin=subprocess.DEVNULL,
                             process_group=0)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait()))
        return p

    def secret_file(self, directory, dir_mode, file_mode):
        """A file holding a unique token in a directory of self.tmp:
        (path, token)."""
        token = "sbx-secret-" + uuid.uuid4().hex
        d = os.path.join(self.tmp, directory)
        os.mkdir(d, dir_mode)
        path = os.path.join(d, "secret")
        with open(path, "w") as f:
            f.write(token)
        os.chmod(path, file_mode)
        return path, token

    def terminal(self):
        """A pty whose input we can read back without running anything:
        (master, slave), the slave raw and non-blocking."""
        master, slave = pty.openpty()
        tty.setraw(slave)
        os.set_blocking(slave, False)
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        return master, slave

    def sibling_cgroup(self):
        """A cgroup below ours (v1 memory hierarchy, else v2) whose
        cgroup.procs anybody may write: only the sandbox can keep a
        program out of it."""
        m = sbxtest.machine()
        own = sbxtest.own_cgroups()
        key = "memory" if "memory" in m.v1_controllers else ""
        mount = [x for x in m.mounts if (key and key in x.controllers)
                 or (not key and x.fstype == "cgroup2")][0]
        path = os.path.normpath(os.path.join(mount.point, os.path.relpath(own[key], mount.root),
                                             "sbx-escape-%s" % uuid.uuid4().hex[:12]))
        os.mkdir(path)
        os.chmod(os.path.join(path, "cgroup.procs"), 0o666)
        self.addCleanup(self.remove_cgroup, path)
        return path

    @staticmethod
    def remove_cgroup(path):
        for _ in range(100):
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def alive(pid):
    return sbxdtest.alive(pid)


def main():
    sbxtest.main()
