"""Debian's supervisor package for the importer tests: installed when
missing (as root) without letting its maintainer scripts start the
service: a policy-rc.d that refuses every start is put in place for the
install if there is none, and a supervisord that appeared anyway is
stopped (that pid only)."""

import os
import shutil
import signal
import subprocess

POLICY = "/usr/sbin/policy-rc.d"


def supervisord_pids():
    pids = set()
    for name in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"supervisord") for a in argv[:2]):
            pids.add(int(name))
    return pids


def ensure():
    """True when supervisord and echo_supervisord_conf are there."""
    if shutil.which("supervisord") and shutil.which("echo_supervisord_conf"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    made = False
    if not os.path.exists(POLICY):
        with open(POLICY, "w") as f:
            f.write("#!/bin/sh\n# no service starts while the sbx tests install packages\nexit 101\n")
        os.chmod(POLICY, 0o755)
        made = True
    before = supervisord_pids()
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "supervisor"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    finally:
        if made:
            os.unlink(POLICY)
    for pid in supervisord_pids() - before:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    return bool(shutil.which("supervisord") and shutil.which("echo_supervisord_conf"))
