"""Escapes through the kernel: host-wide files (/proc/sys, /sys,
sysrq, release_agent), sensitive /proc files, the OOM score, device nodes,
/dev/shm outliving the run, module loading, reboot, the capability
bounding set, no_new_privs and seccomp (see escapetest.py for the five
places; namespaces and mount are in test_namespaces.py). Host-wide files are only opened for
writing and closed unwritten; the system calls are made with arguments
the kernel refuses after its permission check (a bad reboot magic, an
empty module), so that the errno tells the permission apart."""

import os
import uuid

import escapetest

HOST_FILES = ["/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger",
              "/proc/sys/vm/drop_caches", "/sys/kernel/mm/transparent_hugepage/enabled",
              # cgroup v1's release_agent runs as root on the host (CVE-2022-0492)
              "/sys/fs/cgroup/memory/release_agent"]
# What Docker masks, where this kernel has it.
SENSITIVE = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
             "/proc/latency_stats"]


CAP_SYS_RESOURCE = 24


def holds_capability(bit):
    with open("/proc/self/status") as f:
        eff = [l for l in f if l.startswith("CapEff:")][0].split()[1]
    return bool(int(eff, 16) >> bit & 1)


def first_errno(o):
    return o.tries[0][1].split()[0] if o.tries else None


class HostFiles(escapetest.EscapeCase):
    def test_open_host_wide_files_for_writing(self):
        self.row("open host-wide files for writing (core_pattern, sysrq-trigger, ...)",
                 lambda ctx: (self.py("open-for-write", *HOST_FILES), {}))

    def test_read_sensitive_proc_files(self):
        self.row("read sensitive /proc files (kcore, keys, timer_list, ...)",
                 lambda ctx: (self.py("read-some", *SENSITIVE), {}))

    def test_oom_immune(self):
        # A privileged run can do it only where the test itself holds
        # CAP_SYS_RESOURCE (some container hosts drop it for everyone).
        self.row("make itself immune to the OOM killer (oom_score_adj -1000)",
                 lambda ctx: (self.py("oom-immune"), {}),
                 privileged="succeeds" if holds_capability(CAP_SYS_RESOURCE) else None)

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
