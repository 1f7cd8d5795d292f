"""sbxd.exe and sbxctl.exe under wine, as black boxes: sbxd supervises
units in job objects, restarts a crashing one, answers sbxctl over its
named pipe (whose DACL admits only SYSTEM, Administrators and sbxd's own
account), refuses what Windows cannot do, and stops cleanly on Ctrl-C.

Environment (set by ctest): SBXD, SBXCTL, SBX_CHILD (the .exe files),
SBX_WINE (tools/win-wine.sh), SBX_WINEPREFIX."""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

SBXD = os.environ.get("SBXD", "")
SBXCTL = os.environ.get("SBXCTL", "")
CHILD = os.environ.get("SBX_CHILD", "")
WINE = os.environ.get("SBX_WINE", "")


def winpath(path):
    """A host path as the Windows program sees it (wine's Z: drive)."""
    return "Z:" + path.replace("/", "\\")


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Sbxd:
    """sbxd.exe on a units directory and a pipe of its own; its stderr
    collected by a thread."""

    def __init__(self, units, pipe, logs=None):
        argv = [WINE, SBXD, "-u", winpath(units), "--socket", pipe]
        if logs:
            argv += ["--log-dir", winpath(logs)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\r\n"))

    def wait_line(self, regex, timeout=30):
        r = re.compile(regex)
        hit = wait_until(lambda: [l for l in self.lines if r.search(l)], timeout)
        if not hit:
            raise AssertionError("no line /%s/ from sbxd:\n%s" % (regex, self.transcript()))
        return hit

    def transcript(self):
        return "\n".join(self.lines[-60:])

    def stop(self):
        """Ctrl-C (wine turns SIGINT into CTRL_C_EVENT): every unit stopped,
        then exit 0. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(10)
        self.proc.stderr.close()
        return rc


class SbxdWine(unittest.TestCase):
    seq = 0

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sbxd-win-")
        self.units = os.path.join(self.tmp, "units")
        self.logs = os.path.join(self.tmp, "logs")
        os.mkdir(self.units)
        os.mkdir(self.logs)
        SbxdWine.seq += 1
        self.pipe = "\\\\.\\pipe\\sbxd-test-%d-%d" % (os.getpid(), SbxdWine.seq)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        subprocess.run(["rm", "-rf", self.tmp])

    def unit(self, name, text):
        with open(os.path.join(self.units, name + ".ini"), "w") as f:
            f.write(text)

    def child(self, *verbs):
        """A `command =` value running the test child with verbs. In unit
        files a backslash escapes, as in the shell: Windows paths go in
        single quotes."""
        words = [winpath(CHILD)] + [str(v) for v in verbs]
        return " ".join("'%s'" % w if "\\" in w else w for w in words)

    def start(self, loaded=r"unit\(s\) loaded"):
        d = Sbxd(self.units, self.pipe, self.logs)
        self.daemons.append(d)
        d.wait_line(loaded)
        return d

    def ctl(self, *args):
        p = subprocess.run([WINE, SBXCTL, "--socket", self.pipe] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=60)
        return p.returncode, p.stdout.replace("\r\n", "\n"), p.stderr.replace("\r\n", "\n")

    def status(self, unit):
        rc, out, err = self.ctl("--json", "status", unit)
        self.assertEqual(rc, 0, err)
        return json.loads(out.splitlines()[0])["units"][0]

    def read_log(self, unit):
        try:
            with open(os.path.join(self.logs, unit + ".log"), "rb") as f:
                return f.read().replace(b"\r\n", b"\n")
        except FileNotFoundError:
            return b""

    def test_restarts_a_crashing_unit_and_status_over_the_pipe_shows_it(self):
        self.unit("crasher", "[exec]\ncommand = %s\n[restart]\npolicy = on-failure\n"
                  "delay = 100ms\nburst = 3\ninterval = 1m\n"
                  % self.child("out", "started", "crash"))
        d = self.start()
        d.wait_line(r"crasher: failed \(gave up")
        u = self.status("crasher")
        self.assertEqual(u["state"], "failed", d.transcript())
        self.assertEqual(u["restarts"], 2, u)      # burst 3: the first start and 2 more
        self.assertEqual(len(u["runs"]), 3, u)
        for run in u["runs"]:
            self.assertEqual(run["reason"], "crashed", u)
        self.assertEqual(u["last"]["reason"], "crashed")
        self.assertEqual(len(d.wait_line(r"crasher: backoff \(restarting\): crashed "
                                         r"\(NTSTATUS 0xC0000005\)")), 2)
        # Each run's output was captured: three starts.
        self.assertEqual(self.read_log("crasher"), b"started\n" * 3)
        rc, out, _ = self.ctl("status")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"crasher\s+failed\s+-\s+-\s+-\s+2\s.*crashed", out)
        self.assertEqual(d.stop(), 0, d.transcript())
        d.wait_line(r"^sbxd: stopped$", 5)

    def test_start_stop_and_the_unit_in_its_job(self):
        self.unit("sleeper", "[exec]\ncommand = %s\n" % self.child("injob", "sleep", "60000"))
        d = self.start()
        u = wait_until(lambda: (lambda s: s if s["state"] == "running" else None)(
            self.status("sleeper")), 30)
        self.assertTrue(u, d.transcript())
        first = u["pid"]
        self.assertGreater(first, 0)
        self.assertEqual(wait_until(lambda: self.read_log("sleeper"), 10), b"injob 1\n")
        rc, out, err = self.ctl("stop", "sleeper")
        self.assertEqual((rc, out), (0, "sleeper: inactive\n"), err)
        # Its job was terminated with 128 + TERM: reported as on POSIX.
        last = self.status("sleeper")["last"]
        self.assertEqual((last["reason"], last["signal"]), ("signaled", 15), last)
        rc, out, err = self.ctl("start", "sleeper")
        self.assertEqual((rc, out), (0, "sleeper: running\n"), err)
        self.assertNotEqual(self.status("sleeper")["pid"], first)
        # Ctrl-C: sbxd stops the unit (its own process group, so the
        # console's Ctrl-C did not end it first), then exits 0.
        self.assertEqual(d.stop(), 0, d.transcript())
        d.wait_line(r"sleeper: inactive \(stopped\)", 5)
        d.wait_line(r"^sbxd: stopped$", 5)

    def test_the_pipe_admits_only_system_administrators_and_sbxd_s_account(self):
        self.unit("idle", "[unit]\nautostart = no\n[exec]\ncommand = %s\n" % self.child("exit", 0))
        d = self.start()
        p = subprocess.run([WINE, CHILD, "pipe-sddl", self.pipe], capture_output=True,
                           text=True, timeout=60)
        sddl = p.stdout.strip()
        m = re.fullmatch(r"D:P?((?:\([^)]*\))+)", sddl)
        self.assertTrue(m, "not a DACL: %r" % sddl)
        aces = re.findall(r"\(([^)]*)\)", m.group(1))
        trustees = [a.split(";")[-1] for a in aces]
        self.assertEqual(trustees[:2], ["SY", "BA"], sddl)
        self.assertEqual(len(trustees), 3, sddl)
        self.assertRegex(trustees[2], r"^S-1-5-21-", "the third is not a user account")
        for a in aces:
            self.assertTrue(a.startswith("A;;GA;;;"), sddl)   # allow, all access: no deny games
        self.assertEqual(d.stop(), 0, d.transcript())

    def test_bad_units_are_refused_by_name_and_the_rest_runs(self):
        self.unit("good", "[exec]\ncommand = %s\n" % self.child("sleep", "60000"))
        self.unit("broken", "[exec]\ncommand = %s\n[limits]\nmemory = lots\n"
                  % self.child("exit", 0))
        self.unit("jailed", "[exec]\ncommand = %s\n[sandbox]\nnetwork = no\n"
                  % self.child("touch", winpath(os.path.join(self.tmp, "ran"))))
        d = self.start(r"1 refused")
        d.wait_line(r"broken\.ini:4: \[limits\] memory: ")
        self.assertTrue(wait_until(lambda: self.status("good")["state"] == "running", 30))
        # Isolation does not exist on Windows: a start failure naming it,
        # and the program never ran.
        d.wait_line(r"jailed: .*sandbox: .*not available on Windows")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "ran")))
        self.assertEqual(self.status("jailed")["isolation"], ["close-fds", "die-with-parent"])
        rc, _, err = self.ctl("status", "broken")
        self.assertEqual(rc, 4, err)                 # no such unit
        # Mended, it comes in with a reload over the pipe.
        self.unit("broken", "[exec]\ncommand = %s\n[limits]\nmemory = 64M\n"
                  % self.child("sleep", "60000"))
        rc, out, err = self.ctl("reload")
        self.assertEqual(rc, 0, err)
        self.assertIn("broken", out)
        self.assertTrue(wait_until(lambda: self.status("broken")["state"] == "running", 30),
                        d.transcript())
        self.assertEqual(self.status("good")["restarts"], 0)   # untouched by the reload
        self.assertEqual(d.stop(), 0, d.transcript())

    def test_a_second_sbxd_on_the_same_pipe_is_refused(self):
        self.unit("idle", "[unit]\nautostart = no\n[exec]\ncommand = %s\n" % self.child("exit", 0))
        first = self.start()
        second = Sbxd(self.units, self.pipe)
        try:
            rc = second.proc.wait(60)
        finally:
            second.stop()
        self.assertEqual(rc, 1, second.transcript())
        second.wait_line(r"another sbxd is listening there", 5)
        rc, out, _ = self.ctl("status", "idle")
        self.assertEqual(rc, 0)                      # the first one still answers
        self.assertEqual(first.stop(), 0, first.transcript())

    def test_a_socket_path_that_is_not_a_pipe_is_refused(self):
        d = Sbxd(self.units, "C:\\sbxd.sock")
        self.assertEqual(d.proc.wait(60), 1)
        d.stop()
        d.wait_line(r"on Windows the control socket is a named pipe", 5)


if __name__ == "__main__":
    for name, path in (("SBXD", SBXD), ("SBXCTL", SBXCTL), ("SBX_CHILD", CHILD),
                       ("SBX_WINE", WINE)):
        if not path or not os.path.exists(path):
            raise SystemExit("%s must name an existing file (got %r)" % (name, path))
    unittest.main(verbosity=2)
