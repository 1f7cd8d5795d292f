"""Escapes through namespaces: creating them (unshare, clone, clone3 with
each CLONE_NEW* flag), joining those of host processes (setns through
/proc/PID/ns), and mount (see escapetest.py for the five places). Every
namespace is made or entered by a child that exits at once."""

import ctypes
import os
import subprocess

import escapetest

NAMESPACES = ("user", "mnt", "net", "cgroup", "ipc", "uts", "pid")
CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC = 0x40000000, 0x04000000, 0x08000000


class Namespaces(escapetest.EscapeCase):
    def ns_row(self, verb):
        self.row("%s(CLONE_NEW*)" % verb, lambda ctx: (self.verbs(
            *[("%s(CLONE_NEW%s)" % (verb, ns.upper()), [verb, ns]) for ns in NAMESPACES]), {}))

    def test_unshare(self):
        self.ns_row("unshare")

    def test_clone(self):
        self.ns_row("clone")

    def test_clone3(self):
        self.ns_row("clone3")

    def host_process_with_namespaces(self):
        """A host process of ours in network, UTS and IPC namespaces of its
        own: joining them is what a contained program must not do (and
        what a privileged one can)."""
        libc = ctypes.CDLL(None, use_errno=True)

        def enter():
            if libc.unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) < 0:
                raise OSError(ctypes.get_errno(), "unshare")
        p = subprocess.Popen([self.child, "sleep", "60"], preexec_fn=enter,
                             stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        return p

    def test_setns_into_host_namespaces(self):
        def plan(ctx):
            plain, own_ns = self.canary(), self.host_process_with_namespaces()
            return self.py("setns", plain.pid, own_ns.pid), {
                "after": lambda o: o.host.update(observed=" is ours: " in o.output)}

        def judge(o):
            if not o.tries:
                return None, "every namespace it can see is its own"
            return bool(o.worked()), o.said()
        self.row("setns into host namespaces (/proc/PID/ns/*)", plan, judge)

    def test_mount(self):
        def plan(ctx):
            d = os.path.join(self.box, "mnt-%s" % ctx)
            os.mkdir(d)
            os.chmod(d, 0o777)
            return self.verbs(("mount a tmpfs on %s" % d, ["mount", d])), {}
        self.row("mount", plan)


if __name__ == "__main__":
    escapetest.main()
