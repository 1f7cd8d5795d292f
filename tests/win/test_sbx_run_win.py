"""sbx-run.exe under wine, as a black box: exit codes, output bytes, env and
cwd, the job around the whole tree, timeouts, the process limit, crashes.

Environment (set by ctest): SBX_RUN, SBX_CHILD (the .exe files), SBX_WINE
(tools/win-wine.sh), SBX_WINEPREFIX."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

RUN = os.environ.get("SBX_RUN", "")
CHILD = os.environ.get("SBX_CHILD", "")
WINE = os.environ.get("SBX_WINE", "")


def winpath(path):
    """A host path as the Windows program sees it (wine's Z: drive)."""
    return "Z:" + path.replace("/", "\\")


class Result:
    def __init__(self, proc, result):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.res = result


def sbx_run(*args, stdin=None, timeout=60):
    """Runs sbx-run.exe OPTIONS -- the child with its verbs. args: options,
    then "--", then the child's verbs (the child's path is put in)."""
    with tempfile.TemporaryDirectory() as d:
        rpath = os.path.join(d, "result.json")
        args = list(args)
        cut = args.index("--")
        argv = [WINE, RUN, "--result", winpath(rpath)] + args[:cut + 1] + [CHILD] + args[cut + 1:]
        p = subprocess.run(argv, stdin=stdin or subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        res = None
        if os.path.exists(rpath) and os.path.getsize(rpath):
            with open(rpath) as f:
                res = json.load(f)
        return Result(p, res)


def lines(data):
    return data.decode(errors="replace").replace("\r\n", "\n").splitlines()


class SbxRunWine(unittest.TestCase):
    def test_exit_codes_are_exact(self):
        for code in (0, 1, 7, 255):
            r = sbx_run("--", "exit", str(code))
            self.assertEqual(r.rc, code, r.err)
            self.assertEqual(r.res["reason"], "exited")
            self.assertEqual(r.res["exit_code"], code)
        # Windows exit codes are 32 bits: the result keeps them all (the
        # shell's status, through wine, keeps the low 8).
        r = sbx_run("--", "exit", "70000")
        self.assertEqual(r.res["exit_code"], 70000)
        self.assertEqual(r.rc, 70000 & 0xFF)

    def test_stdout_and_stderr_bytes(self):
        r = sbx_run("--", "out", "hello world", "err", "to stderr", "out", "x")
        # The C runtime's text mode writes CR LF; the bytes are the program's.
        self.assertEqual(r.out, b"hello world\r\nx\r\n")
        self.assertIn(b"to stderr\r\n", r.err)

    def test_stdin_file_and_output_files(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.txt")
            out = os.path.join(d, "out.txt")
            with open(src, "wb") as f:
                f.write(b"line one\nline two\n")
            r = sbx_run("--stdin", winpath(src), "--stdout", winpath(out), "--", "stdin")
            self.assertEqual(r.rc, 0, r.err)
            with open(out, "rb") as f:
                self.assertEqual(f.read().replace(b"\r\n", b"\n"), b"line one\nline two\n")

    def test_env_and_cwd(self):
        r = sbx_run("--env", "SBX_A=one two", "--cwd", "C:\\windows", "--",
                    "env", "SBX_A", "cwd")
        self.assertEqual(lines(r.out), ["SBX_A=one two", "C:\\windows"], r.err)
        os.environ["SBX_INHERITED"] = "yes"
        try:
            r = sbx_run("--", "env", "SBX_INHERITED")
            self.assertEqual(lines(r.out), ["SBX_INHERITED=yes"])
            r = sbx_run("--clear-env", "--env", "ONLY=1", "--", "env", "SBX_INHERITED", "env", "ONLY")
            self.assertEqual(lines(r.out), ["SBX_INHERITED unset", "ONLY=1"], r.err)
        finally:
            del os.environ["SBX_INHERITED"]

    def test_arguments_survive_windows_quoting(self):
        tricky = ['a b', 'quote"inside', 'trailing\\', 'back\\\\"slash', '', 'tab\there']
        args = []
        for t in tricky:
            args += ["out", t]
        r = sbx_run("--", *args)
        self.assertEqual(lines(r.out), tricky, r.err)

    def test_arguments_and_environment_keep_every_character(self):
        # Through sbx-run.exe's own command line and environment, which the
        # C runtime would squeeze through the ANSI code page.
        text = "h\u00e9llo \u2713 \u65e5\u672c"
        os.environ["SBX_INHERITED_U"] = "\u00fcn\u00ef \u2713"
        try:
            r = sbx_run("--env", "SBX_ADDED_U=" + text, "--", "out8", text,
                        "env8", "SBX_ADDED_U", "env8", "SBX_INHERITED_U")
        finally:
            del os.environ["SBX_INHERITED_U"]
        self.assertEqual(r.out.decode("utf-8").replace("\r\n", "\n").splitlines(),
                         [text, "SBX_ADDED_U=" + text, "SBX_INHERITED_U=\u00fcn\u00ef \u2713"],
                         r.err)

    def test_the_program_and_its_first_child_are_in_the_job(self):
        r = sbx_run("--", "injob", "spawn", "100")
        out = lines(r.out)
        self.assertEqual(out[0], "injob 1")
        self.assertRegex(out[1], r"^child [1-9][0-9]* injob 1$")
        self.assertEqual(r.res["backend"], "job")
        self.assertGreaterEqual(r.res["pids_peak"], 2)

    def test_timeout_terminates_the_whole_job(self):
        with tempfile.TemporaryDirectory() as d:
            late = os.path.join(d, "late")
            # Control: left to run, the grandchild does create its file.
            r = sbx_run("--wait-leftovers", "--", "spawntouch", "300", winpath(late))
            self.assertEqual(r.rc, 0, r.err)
            self.assertTrue(os.path.exists(late), "the grandchild never ran")
            os.unlink(late)
            t0 = time.monotonic()
            r = sbx_run("--timeout", "1s", "--", "spawntouch", "2000", winpath(late),
                        "sleep", "30000")
            took = time.monotonic() - t0
            self.assertEqual(r.rc, 124, r.err)
            self.assertEqual(r.res["reason"], "timeout")
            self.assertLess(took, 10)
            time.sleep(2.5)  # past the moment the grandchild would write
            self.assertFalse(os.path.exists(late), "a grandchild outlived the timeout")

    def test_leftovers_are_killed_when_the_program_exits(self):
        with tempfile.TemporaryDirectory() as d:
            late = os.path.join(d, "late")
            r = sbx_run("--", "spawntouch", "1000", winpath(late))
            self.assertEqual(r.rc, 0, r.err)
            time.sleep(2)
            self.assertFalse(os.path.exists(late), "a grandchild outlived the program")

    def test_the_process_limit_stops_a_spawner(self):
        r = sbx_run("--", "spawnmany", "6")  # control: no limit, all six run
        self.assertIn("alive 6", lines(r.out), r.err)
        r = sbx_run("--pids", "3", "--", "spawnmany", "6")
        self.assertIn({"limit": "pids", "by": "job ActiveProcessLimit"}, r.res["enforced"])
        out = dict(line.split() for line in lines(r.out))
        if int(out["alive"]) == 6:
            self.skipTest("wine does not enforce a job's ActiveProcessLimit (six processes "
                          "ran under a limit of 3); its limit message is covered by win.test_job")
        self.assertLessEqual(int(out["alive"]), 2, r.out)  # 3, the spawner included
        self.assertGreaterEqual(int(out["refused"]), 4, r.out)
        self.assertEqual(r.res["pids_limit_hits"], int(out["refused"]), r.res)

    def test_a_crash_is_reported_with_its_ntstatus(self):
        r = sbx_run("--", "out", "before", "crash")
        self.assertEqual(r.res["reason"], "crashed", r.err)
        self.assertEqual(r.res["ntstatus"], "0xC0000005")
        self.assertEqual(r.res["exit_code"], 0xC0000005)

    def test_a_missing_program_is_a_start_failure(self):
        p = subprocess.run([WINE, RUN, "--result", "-", "--", "no-such-program"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 127)
        res = json.loads(p.stderr.decode().strip().splitlines()[-1])
        self.assertEqual(res["reason"], "start-failed")
        self.assertEqual(res["stage"], "exec")

    def test_a_bad_cwd_is_a_start_failure(self):
        r = sbx_run("--cwd", "C:\\no\\such\\dir", "--", "out", "x")
        self.assertEqual(r.rc, 125)
        self.assertEqual(r.res["stage"], "cwd")
        self.assertEqual(r.out, b"")

    def test_limits_windows_cannot_hold_are_refused(self):
        r = sbx_run("--nofile", "64", "--", "out", "x")
        self.assertEqual(r.rc, 125)
        self.assertIn(b"nofile", r.err)
        self.assertEqual(r.out, b"")
        r = sbx_run("--no-net", "--", "out", "x")
        self.assertEqual(r.rc, 125)
        self.assertIn(b"not available on Windows", r.err)
        r = sbx_run("--best-effort", "--nofile", "64", "--no-net", "--", "out", "x")
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn({"limit": "nofile", "by": None}, r.res["enforced"])
        # What the job gives of the containment, nothing else.
        self.assertEqual(r.res["isolation"], ["close-fds", "die-with-parent"])

    def test_cpu_cap_is_applied_or_refused(self):
        r = sbx_run("--cpu", "50", "--", "out", "x")
        if r.rc == 125:  # wine: no CPU rate control; the refusal must say so
            self.assertIn(b"cpu", r.err)
            self.assertEqual(r.out, b"")
            r = sbx_run("--best-effort", "--cpu", "50", "--", "out", "x")
            self.assertEqual(r.rc, 0, r.err)
            self.assertIn({"limit": "cpu", "by": None}, r.res["enforced"])
        else:
            self.assertEqual(r.rc, 0, r.err)
            self.assertIn({"limit": "cpu", "by": "job CpuRate hard cap"}, r.res["enforced"])

    def test_memory_limit(self):
        r = sbx_run("--memory", "50M", "--", "alloc", "300")
        self.assertIn({"limit": "memory", "by": "job JobMemoryLimit (commit charge)"},
                      r.res["enforced"])
        if r.rc == 0 and "allocated 300" in lines(r.out):
            self.skipTest("wine does not enforce job memory limits (a 300 MB allocation "
                          "under a 50 MB job limit succeeded); the memory-limit message "
                          "is covered by win.test_job")
        self.assertEqual(r.res["reason"], "memory", r.err)


if __name__ == "__main__":
    for what, path in (("SBX_RUN", RUN), ("SBX_CHILD", CHILD), ("SBX_WINE", WINE)):
        if not path or not os.path.exists(path):
            print("%s not set or missing: %r" % (what, path), file=sys.stderr)
            sys.exit(2)
    unittest.main(verbosity=2)
