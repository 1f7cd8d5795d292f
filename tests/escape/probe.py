"""The attacks, run inside the sandbox: python3 -I -S probe.py VERB [ARG...]
(or @FILE, see main).

Each attempt prints one line "TRY<TAB>what<TAB>outcome", where outcome is
"ok" (with what was gained after a blank) or the errno's name and text
("EROFS Read-only file system"), as the kernel answered. The tests judge
these lines (and what they see on the host); nothing here decides whether
an attack "should" work. Other lines are information. Standard library
only (ctypes for the few system calls Python has no function for); the
raw clone/clone3/unshare/reboot/init_module probes are sbx-test-child's.

Every attempt is harmless when it works: limits raised on the program's
own box (deleted after the run), files of the host only opened for writing
and closed unwritten, signals only to processes the test started, a
/dev/null device node removed at once, namespaces entered in a child that
exits at once.
"""

import ctypes
import errno
import json
import os
import signal
import socket
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)


def say(what, outcome):
    print("TRY\t%s\t%s" % (what, outcome), flush=True)


def failed(e):
    """An OSError (or an errno) as "ENAME text"."""
    if isinstance(e, OSError):
        return "%s %s" % (errno.errorcode.get(e.errno, str(e.errno)),
                          e.strerror or os.strerror(e.errno))
    return "%s %s" % (errno.errorcode.get(e, str(e)), os.strerror(e))


def attempt(what, fn):
    """Runs fn(); says "ok [its text]" or the errno. Returns success."""
    try:
        got = fn()
    except OSError as e:
        say(what, failed(e))
        return False
    say(what, "ok" + (" " + got if got else ""))
    return True


def libc_call(fn, *args):
    if fn(*args) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


# --- cgroups -------------------------------------------------------------------

def cgroup_dirs():
    """{controller or "": directory of our own cgroup as this mount
    namespace shows it}, from /proc/self/cgroup and /proc/self/mountinfo."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            for c in (ctls.split(",") if ctls else [""]):
                own[c] = path
    dirs = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            lf, rf = left.split(), right.split()
            if rf[0] == "cgroup2":
                keys = [""]
            elif rf[0] == "cgroup":
                keys = [o for o in rf[2].split(",") if o in own]
            else:
                continue
            for k in keys:
                rel = os.path.relpath(own.get(k, "/"), lf[3])
                if not rel.startswith(".."):
                    dirs.setdefault(k, os.path.normpath(os.path.join(lf[4], rel)))
    return dirs


# What "raise RESOURCE" writes: (controller, file, value), in order (v1
# memory: memsw first, it must stay >= the limit).
RAISES = {
    "memory": [("memory", "memory.memsw.limit_in_bytes", "1073741824"),
               ("memory", "memory.limit_in_bytes", "1073741824"),
               ("", "memory.max", "max"), ("", "memory.swap.max", "max")],
    "pids": [("pids", "pids.max", "max"), ("", "pids.max", "max")],
    "cpu": [("cpu", "cpu.cfs_quota_us", "-1"), ("", "cpu.max", "max")],
}


def write_existing(path, value):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    with open(path) as f:
        return "now " + f.read().strip()


def cg_raise(resource):
    dirs = cgroup_dirs()
    tried = 0
    for ctl, name, value in RAISES[resource]:
        if ctl not in dirs:
            continue
        path = os.path.join(dirs[ctl], name)
        if not os.path.exists(path):
            continue
        tried += 1
        attempt("write %s %s" % (value, path), lambda p=path, v=value: write_existing(p, v))
    if not tried:
        say("find the %s limit of our cgroup" % resource,
            failed(errno.ENOENT) + " (no cgroup file visible: %s)" % sorted(dirs.values()))


def cg_move(procs):
    def move():
        fd = os.open(procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
        with open("/proc/self/cgroup") as f:
            return "now in " + " ".join(f.read().split())
    attempt("write our pid to %s" % procs, move)


# --- processes -------------------------------------------------------------------

def kill(pid, sig):
    attempt("kill(%s, SIG%s)" % (pid, sig),
            lambda: os.kill(int(pid), getattr(signal, "SIG" + sig)))


def kill_group(sig):
    signum = getattr(signal, "SIG" + sig)
    signal.signal(signum, signal.SIG_IGN)   # we are in our own group too
    attempt("kill(0, SIG%s): our process group (%d)" % (sig, os.getpgrp()),
            lambda: os.kill(0, signum))


def kill_parent(seconds):
    ppid = os.getppid()
    if ppid == 0:
        say("kill(getppid(), SIGKILL)", failed(errno.ESRCH) + " (no parent visible: ppid 0)")
    else:
        attempt("kill(getppid() = %d, SIGKILL)" % ppid, lambda: os.kill(ppid, signal.SIGKILL))
    # A grandchild of our own: left running if nothing ends the box.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(float(seconds))
        os._exit(0)
    time.sleep(float(seconds))
    print("still running after %ss" % seconds, flush=True)


PTRACE_ATTACH, PTRACE_DETACH, WALL = 16, 17, 0x40000000


def ptrace(pid):
    pid = int(pid)

    def attach():
        LIBC.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        libc_call(LIBC.ptrace, PTRACE_ATTACH, pid, None, None)
        os.waitpid(pid, WALL)
        libc_call(LIBC.ptrace, PTRACE_DETACH, pid, None, None)
        return "attached and detached"
    attempt("ptrace(PTRACE_ATTACH, %d)" % pid, attach)


def read_text(path):
    def read():
        with open(path, "rb") as f:
            data = f.read(4096)
        text = data.replace(b"\0", b" ").replace(b"\n", b" ").replace(b"\t", b" ")
        return "%d bytes: %s" % (len(data), text.decode(errors="replace"))
    attempt("read %s" % path, read)


# --- files and devices --------------------------------------------------------------

def open_for_write(*paths):
    """Opens each path for writing and closes it unwritten."""
    for path in paths:
        if os.path.exists(path) or not path.startswith("/sys/"):
            attempt("open(%s, O_WRONLY)" % path, lambda p=path: os.close(os.open(p, os.O_WRONLY)))


def oom_immune():
    """-1000 in our own oom_score_adj: the OOM killer would then pick host
    processes instead of us (lowering it needs CAP_SYS_RESOURCE)."""
    attempt("write -1000 /proc/self/oom_score_adj",
            lambda: write_existing("/proc/self/oom_score_adj", "-1000"))


def read_some(*paths):
    def read(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, 64)
        finally:
            os.close(fd)
        if not data:
            raise OSError(errno.ENODATA, "empty (masked, or nothing for us)")
        return "%d bytes" % len(data)
    for path in paths:
        attempt("read %s" % path, lambda p=path: read(p))


def mknod(directory):
    path = os.path.join(directory, "null-%d" % os.getpid())

    def make():
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))
        try:
            os.close(os.open(path, os.O_RDWR))
        finally:
            os.unlink(path)
        return "made and opened /dev/null's device 1:3"
    attempt("mknod(%s, char 1:3) and open it" % path, make)


TIOCSTI = 0x5412


def tiocsti(text):
    """Pushes text into the input of whichever terminal we can reach: our
    stdin, /dev/tty, our parent's stdin."""
    import fcntl

    def push(fd):
        for ch in text.encode():
            fcntl.ioctl(fd, TIOCSTI, bytes([ch]))
        return "pushed %d bytes" % len(text)

    def via(path):
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            return push(fd)
        finally:
            os.close(fd)
    attempt("ioctl(0, TIOCSTI)", lambda: push(0))
    attempt("ioctl(open(/dev/tty), TIOCSTI)", lambda: via("/dev/tty"))
    if os.getppid():
        parent_tty = "/proc/%d/fd/0" % os.getppid()
        attempt("ioctl(open(/proc/PPID/fd/0), TIOCSTI)", lambda: via(parent_tty))


def fds(relative):
    """Every descriptor above 2 we were given: read through it, and openat
    `relative` from it (a descriptor of / opens any host file)."""
    have = sorted(int(n) for n in os.listdir("/proc/self/fd"))
    given = []
    for fd in have:
        try:
            os.fstat(fd)
        except OSError:
            continue   # the listing's own descriptor, closed by now
        if fd > 2:
            given.append(fd)
    print("descriptors above 2: %s" % given, flush=True)
    for fd in given:
        attempt("pread(%d)" % fd, lambda f=fd: os.pread(f, 200, 0).decode(errors="replace"))
        def openat(f=fd):
            g = os.open(relative, os.O_RDONLY, dir_fd=f)
            try:
                return os.read(g, 200).decode(errors="replace")
            finally:
                os.close(g)
        attempt("openat(%d, %s)" % (fd, relative), openat)
    if not given:
        say("find an inherited descriptor", failed(errno.EBADF) + " (none above 2)")


def shm(name):
    def write():
        with open(os.path.join("/dev/shm", name), "w") as f:
            f.write("left by the sandbox\n")
    attempt("write /dev/shm/%s" % name, write)


def setns(*pids):
    """Joins, in a child, each namespace of the given processes that is not
    already ours; prints the namespace joined."""
    for pid in pids:
        for ns in ("mnt", "net", "pid", "cgroup", "ipc", "uts", "user"):
            path = "/proc/%s/ns/%s" % (pid, ns)
            try:
                target = os.readlink(path)
            except OSError as e:
                say("open %s" % path, failed(e))
                continue
            if target == os.readlink("/proc/self/ns/" + ns):
                print("%s is ours: %s" % (path, target), flush=True)
                continue
            child = os.fork()
            if child == 0:
                try:
                    fd = os.open(path, os.O_RDONLY)
                    libc_call(LIBC.setns, fd, 0)
                    os._exit(0)
                except OSError as e:
                    os._exit(e.errno & 0xff)
            _, status = os.waitpid(child, 0)
            code = os.waitstatus_to_exitcode(status)
            say("setns(%s) = %s" % (path, target), "ok" if code == 0 else failed(code))


# --- capabilities and the process's own status ----------------------------------------

CAPS = {"SYS_ADMIN": 21, "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_PTRACE": 19,
        "SYS_BOOT": 22, "SYS_TIME": 25, "SYS_RESOURCE": 24, "MKNOD": 27,
        "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "AUDIT_CONTROL": 30, "BPF": 39,
        "PERFMON": 38, "SYSLOG": 34, "NET_ADMIN": 12}


def status_fields():
    with open("/proc/self/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def caps():
    st = status_fields()
    for field in ("CapBnd", "CapEff"):
        mask = int(st[field], 16)
        held = [n for n, bit in sorted(CAPS.items(), key=lambda x: x[1]) if mask >> bit & 1]
        if held:
            say("%s holds" % field, "ok " + " ".join(held))
        else:
            say("%s holds" % field, failed(errno.EPERM) + " (none of %d)" % len(CAPS))


def nnp_seccomp():
    st = status_fields()
    say("keep new privileges (NoNewPrivs %s)" % st.get("NoNewPrivs"),
        "ok" if st.get("NoNewPrivs") == "0" else failed(errno.EPERM) + " (no_new_privs set)")
    say("run without a seccomp filter (Seccomp %s)" % st.get("Seccomp"),
        "ok" if st.get("Seccomp") == "0" else failed(errno.EPERM) + " (seccomp filter on)")


# --- sbxd's control socket -----------------------------------------------------------

def control(path, unit):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    if not attempt("connect %s" % path, lambda: s.connect(path)):
        return
    f = s.makefile("rwb")

    def ask(obj):
        if obj is not None:
            f.write(json.dumps(obj).encode() + b"\n")
            f.flush()
        line = f.readline()
        if not line:
            raise OSError(errno.ECONNRESET, "closed by sbxd")
        reply = json.loads(line)
        if reply.get("ok") is False or reply.get("access") not in (None, "control"):
            raise OSError(errno.EACCES, "refused: %s" % line.decode().strip()[:200])
        return line.decode().strip()[:200]
    try:
        if not attempt("greeting", lambda: ask(None)):
            return
        attempt("set %s memory=1G" % unit,
                lambda: ask({"v": 1, "cmd": "set", "unit": unit, "limits": {"memory": "1G"}}))
        attempt("run an unlimited transient unit",
                lambda: ask({"v": 1, "cmd": "run", "command": ["/bin/true"], "wait": False}))
    except (OSError, ValueError) as e:
        say("talk to sbxd", "%s" % e)


# --- another unit's sd_notify socket -------------------------------------------------

def notify_send(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(b"READY=1\nSTATUS=forged", path)
    finally:
        s.close()


def notify_send_and_exit(path):
    """As systemd-notify does: the sender is gone before sbxd reads."""
    pid = os.fork()
    if pid == 0:
        try:
            notify_send(path)
            os._exit(0)
        except OSError as e:
            os._exit(100 + e.errno if e.errno < 100 else 99)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        e = code - 100 if code > 100 else errno.EIO
        raise OSError(e, os.strerror(e))


def notify_guesses(roots):
    """Every socket named "notify" below the notify trees we can list, and
    the same paths through /proc/PID/root of every process we can see."""
    found = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            found += [os.path.join(dirpath, f) for f in files if f == "notify"]
    return found


def notify(root, told):
    """READY=1 sent to another unit's socket (its path, as the host saw it,
    written to the file told), by a sender that exits at once, and to
    every socket found by looking."""
    for _ in range(100):
        if os.path.exists(told):
            break
        time.sleep(0.1)
    with open(told) as f:
        victim = f.read().strip()
    attempt("send READY=1 to %s" % victim, lambda: notify_send(victim))
    attempt("send READY=1 to %s and exit at once" % victim,
            lambda: notify_send_and_exit(victim))
    guesses = notify_guesses([root, "/run/sbx/notify"])
    say("look for notify sockets below %s" % root,
        ("ok found " + " ".join(guesses)) if guesses else failed(errno.ENOENT))
    for path in guesses:
        attempt("send READY=1 to found %s" % path, lambda p=path: notify_send(p))
    reached = 0
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        path = "/proc/%d/root%s" % (pid, victim)
        if os.path.exists(path) and reached < 3:  # a few say enough
            reached += attempt("send READY=1 to %s" % path, lambda p=path: notify_send(p))


VERBS = {"cg-raise": cg_raise, "cg-move": cg_move, "kill": kill, "kill-group": kill_group,
         "kill-parent": kill_parent, "ptrace": ptrace, "read": read_text,
         "open-for-write": open_for_write, "read-some": read_some, "mknod": mknod,
         "oom-immune": oom_immune,
         "tiocsti": tiocsti, "fds": fds, "shm": shm, "setns": setns, "caps": caps,
         "nnp-seccomp": nnp_seccomp, "control": control, "notify": notify}

def main(argv):
    """VERB ARGS..., or @FILE: a JSON list holding either (for unit files,
    whose lines are short), where a list not naming a verb is a program
    to exec."""
    if argv[0].startswith("@"):
        with open(argv[0][1:]) as f:
            argv = json.load(f)
        if argv[0] not in VERBS:
            os.execv(argv[0], argv)
    VERBS[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
