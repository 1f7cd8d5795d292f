"""Escapes towards the host's processes: signals (to a host process, to
the caller's process group), ptrace, another process's environment and
root directory, the caller's terminal (TIOCSTI) and descriptors the caller
holds (see escapetest.py for the five places). Every target is a process
this test started."""

import os
import signal
import time
import uuid

import escapetest


def died(p, within=0.5):
    """True when our host process p ended (by a signal) within `within` s."""
    deadline = time.monotonic() + within
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return p.poll() is not None


class Signals(escapetest.EscapeCase):
    def test_signal_a_host_process(self):
        targets = {}

        def plan(ctx):
            targets[ctx] = self.canary()
            return self.py("kill", targets[ctx].pid, "USR2"), {
                "after": lambda o: o.host.update(host_process_died=died(targets[ctx]))}

        def judge(o):
            gone = o.host["host_process_died"]
            return gone or bool(o.worked()), "%s; the host process %s" % (
                o.said(), "DIED" if gone else "lives")
        self.row("signal a host process", plan, judge)

    def test_signal_the_callers_process_group(self):
        # The caller (sbx-run or sbxd) runs in the process group of a host
        # process of ours: kill(0, SIGUSR2) from inside must reach neither.
        groups = {}

        def plan(ctx):
            groups[ctx] = self.canary()

            def after(o):
                o.host["group_leader_died"] = died(groups[ctx])
                o.host["caller_status"] = o.status
            return self.py("kill-group", "USR2"), {"pgrp": groups[ctx].pid, "after": after}

        def judge(o):
            leader = o.host["group_leader_died"]
            caller = o.host["caller_status"] == -signal.SIGUSR2
            # kill(0) itself may work: in a session of its own it reaches
            # only the sandbox's own group. What counts is who got it.
            return leader or caller, ("%s; the host process in the caller's group %s, "
                                      "the caller %s" % (o.said(), "DIED" if leader else "lives",
                                                         "DIED of SIGUSR2" if caller else "lives"))
        self.row("kill(0, SIG) the caller's process group", plan, judge)


class Inspect(escapetest.EscapeCase):
    def test_ptrace_a_host_process(self):
        def plan(ctx):
            target = self.canary()
            return self.py("ptrace", target.pid), {
                "after": lambda o: o.host.update(host_process_lives=target.poll() is None)}
        self.row("ptrace a host process", plan)

    def test_read_the_environment_of_a_host_process(self):
        token = "sbx-secret-" + uuid.uuid4().hex

        def plan(ctx):
            target = self.canary(SBX_ESCAPE_SECRET=token)
            return self.py("read", "/proc/%d/environ" % target.pid), {}

        def judge(o):
            return token in o.output, o.said()[:400] + (
                "; the SECRET was read" if token in o.output else "")
        self.row("read /proc/PID/environ of a host process", plan, judge)

    def test_reach_host_files_through_proc_pid_root(self):
        # A file that nobody may read (0644 in a 0755 directory): only the
        # sandbox's view of /proc can keep it out of reach this way.
        path, token = self.secret_file("hidden", 0o755, 0o644)

        def plan(ctx):
            target = self.canary()
            return self.py("read", "/proc/%d/root%s" % (target.pid, path)), {}

        def judge(o):
            return token in o.output, o.said()
        self.row("read a host file through /proc/PID/root", plan, judge)


class Terminal(escapetest.EscapeCase):
    def test_tiocsti_into_the_callers_terminal(self):
        # The caller runs on a terminal of ours, as its controlling tty and
        # stdin. Injected bytes land in that terminal's input, which we read
        # back (raw, nothing runs them); they hold no newline anyway.
        marker = "#sbx-escape-" + uuid.uuid4().hex[:8]

        def plan(ctx):
            _, slave = self.terminal()

            def after(o):
                try:
                    o.host["terminal input"] = os.read(slave, 4096).decode(errors="replace")
                except BlockingIOError:
                    o.host["terminal input"] = ""
            return self.py("tiocsti", marker), {"tty": slave, "after": after}

        def judge(o):
            got = marker in o.host["terminal input"]
            return got or bool(o.worked()), "%s; the terminal's input %s" % (
                o.said(), "HOLDS the injected bytes" if got else "is clean")
        self.row("TIOCSTI into the caller's terminal", plan, judge)


class Descriptors(escapetest.EscapeCase):
    def test_descriptors_the_caller_holds(self):
        # The caller holds a descriptor on / and one on a file only root
        # may read, both inheritable: the program must get neither.
        path, token = self.secret_file("private", 0o700, 0o600)
        fds = [os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open(path, os.O_RDONLY)]
        for fd in fds:
            self.addCleanup(os.close, fd)

        def plan(ctx):
            return self.py("fds", path.lstrip("/")), {"pass_fds": fds}

        def judge(o):
            got = token in o.output
            return got, "%s%s" % (o.said()[:500], "; the SECRET was read" if got else "")
        self.row("inherited descriptors (one on /, one on a secret)", plan, judge)


if __name__ == "__main__":
    escapetest.main()
