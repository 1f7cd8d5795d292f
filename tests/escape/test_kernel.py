"""Escapes through the kernel: host-wide files (/proc/sys, /sys,
sysrq), sensitive /proc files, device nodes, namespaces (unshare, clone,
clone3, setns), mount, module loading, reboot, the capability bounding set,
no_new_privs and seccomp, and /dev/shm outliving the run (see
escapetest.py for the five places). Host-wide files are only opened for
writing and closed unwritten; the system calls are made with arguments
the kernel refuses after its permission check (a bad reboot magic, an
empty module), so that the errno tells the permission apart."""

import ctypes
import errno
import os
import subprocess
import uuid

import escapetest

HOST_FILES = ["/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger",
              "/proc/sys/vm/drop_caches", "/sys/kernel/mm/transparent_hugepage/enabled"]
# What Docker masks, where this kernel has it.
SENSITIVE = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
             "/proc/latency_stats"]
NAMESPACES = ("user", "mnt", "net", "cgroup", "ipc", "uts", "pid")
CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC = 0x40000000, 0x04000000, 0x08000000


def first_errno(o):
    return o.tries[0][1].split()[0] if o.tries else None


class HostFiles(escapetest.EscapeCase):
    def test_open_host_wide_files_for_writing(self):
        self.row("open host-wide files for writing (core_pattern, sysrq-trigger, ...)",
                 lambda ctx: (self.py("open-for-write", *HOST_FILES), {}))

    def test_read_sensitive_proc_files(self):
        self.row("read sensitive /proc files (kcore, keys, timer_list, ...)",
                 lambda ctx: (self.py("read-some", *SENSITIVE), {}))

    def test_mknod(self):
        self.row("mknod a device (char 1:3) and open it",
                 lambda ctx: (self.py("mknod", self.box), {}))

    def test_dev_shm_outlives_the_run(self):
        left = {}

        def plan(ctx):
            name = "sbx-escape-%s" % uuid.uuid4().hex

            def after(o):
                host = os.path.join("/dev/shm", name)
                left[ctx] = os.path.exists(host)
                if left[ctx]:
                    os.unlink(host)
                o.host["left in the host's /dev/shm"] = left[ctx]
            return self.py("shm", name), {"after": after}

        def judge(o):
            kept = o.host["left in the host's /dev/shm"]
            return kept, "%s; %s" % (o.said(), "the file OUTLIVED the run on the host" if kept
                                     else "nothing left on the host")
        self.row("a file in /dev/shm outliving the run", plan, judge)


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


class Privileges(escapetest.EscapeCase):
    def test_init_module(self):
        def judge(o):
            e = first_errno(o)
            if e == "ENOSYS":
                return None, "%s (this kernel has no module loading)" % o.said()
            return e != "EPERM", "%s%s" % (o.said(), "" if e == "EPERM" else
                                           " (past the permission check)")
        self.row("init_module with an empty image", lambda ctx: (
            self.verbs(("init_module(NULL, 0)", ["init-module"])), {}), judge)

    def test_reboot(self):
        def judge(o):
            e = first_errno(o)
            return e == "EINVAL", "%s%s" % (o.said(), " (CAP_SYS_BOOT held: the kernel checked "
                                            "the magic)" if e == "EINVAL" else "")
        self.row("reboot with a bad magic number", lambda ctx: (
            self.verbs(("reboot(bad magic)", ["reboot-bad-magic"])), {}), judge)

    def test_capabilities(self):
        # SYS_TIME stands for settimeofday/clock_settime: checked by the
        # capability, never by setting the clock.
        self.row("capabilities that undo a sandbox (bounding and effective set)",
                 lambda ctx: (self.py("caps"), {}))

    def test_no_new_privs_and_seccomp(self):
        self.row("no_new_privs and a seccomp filter", lambda ctx: (self.py("nnp-seccomp"), {}))


if __name__ == "__main__":
    escapetest.main()
