#!/usr/bin/env python3
"""sbxd under valgrind in its steady state: units running, restarting and
logging, control clients coming and going (status, logs, reload, a bad
request, a live limit change, a transient run, event and log streams),
then SIGTERM. valgrind must report no error and no leaked block."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

SBXD = os.environ["SBXD"]
UNITS = os.environ["SBX_UNITS"]


def skip(why):
    print("skipped:", why)
    sys.exit(1 if os.environ.get("SBX_MUST_WORK") == "1" else 77)


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    json.loads(f.readline())
    return s, f


def ask(f, req):
    f.write((json.dumps(dict(v=1, **req)) + "\n").encode())
    f.flush()
    return json.loads(f.readline())


def main():
    if os.geteuid() != 0:
        skip("needs root (cgroups)")
    if not shutil.which("valgrind"):
        skip("valgrind is not installed")
    tmp = tempfile.mkdtemp(prefix="sbx-vg-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    sock = os.path.join(tmp, "s.sock")
    log = os.path.join(tmp, "valgrind.log")
    proc = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--log-file=" + log,
         SBXD, "--units", UNITS, "--socket", sock, "--log-dir", os.path.join(tmp, "logs"),
         "--cgroup-root", "sbx-vg-%d" % os.getpid()],
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the demo units start, one crash-loops
        for _ in range(10):
            s, f = connect(sock)
            assert ask(f, {"cmd": "status", "detail": True})["ok"]
            ask(f, {"cmd": "logs", "unit": "worker@1"})
            ask(f, {"cmd": "reload"})
            assert not ask(f, {"cmd": "no-such-verb"})["ok"]
            ask(f, {"cmd": "set", "unit": "web", "limits": {"memory": "80M"}})
            s.close()
        s, f = connect(sock)
        r = ask(f, {"cmd": "run", "command": ["sh", "-c", "echo hi; exit 3"], "wait": True})
        assert r["result"]["exit_code"] == 3, r
        ask(f, {"cmd": "logs", "unit": "worker@1", "follow": True})
        s2, f2 = connect(sock)
        ask(f2, {"cmd": "events"})
        time.sleep(4)
        s.close()
        s2.close()
        time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = open(log).read()
    shutil.rmtree(tmp, ignore_errors=True)
    errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    lost = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes", text)
    print("exit status", proc.returncode, "| errors", errors and errors.group(1), "| lost", lost)
    bad = proc.returncode != 0 or not errors or errors.group(1) != "0" or \
        any(n != "0" for _, n in lost)
    if bad:
        print(text[-6000:])
        sys.exit(1)
    print("PASS: no error, no leak")


main()
