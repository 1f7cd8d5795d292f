"""sbx-run reports exactly how a program ended, passes its I/O, environment
and working directory through, and tells start failures and bad options
apart from anything the program did."""

import json
import os
import stat
import subprocess

import sbxtest
from sbxtest import (EXIT_NOEXEC, EXIT_NOTFOUND, EXIT_SETUP, MiB, SBX_CHILD,
                     sbx, sbx_plain)


class ExitStatus(sbxtest.TestCase):
    def test_exit_codes_exact(self):
        for code in (0, 1, 3, 42, 200, 255):
            with self.subTest(code=code):
                r = sbx(child=["exit", str(code)])
                self.assertStatus(r, code)
                self.assertResult(r, reason="exited", exit_code=code, signal=None)

    def test_result_has_every_field(self):
        r = sbx(child=["exit", "0"])
        self.assertStatus(r, 0)
        for key in sbxtest.RESULT_KEYS:
            self.assertIn(key, r.result, "result JSON lacks %r\n%s" % (key, r))
        self.assertIsNone(r.result["error"], r)
        self.assertIsInstance(r.result["enforced"], list, r)
        self.assertGreaterEqual(r.result["wall_ms"], 0, r)

    def test_term_is_signal_15_status_143(self):
        r = sbx(child=["raise", "TERM"])
        self.assertStatus(r, 143)
        self.assertResult(r, reason="signaled", signal=15, exit_code=None)

    def test_other_signals(self):
        for name, num in (("INT", 2), ("HUP", 1), ("USR1", 10), ("SEGV", 11)):
            with self.subTest(signal=name):
                r = sbx(["--core", "0"], child=["raise", name])
                self.assertStatus(r, 128 + num)
                self.assertResult(r, reason="signaled", signal=num)

    def test_kill_is_signaled_not_memory(self):
        # A plain SIGKILL under a memory limit is not an OOM kill.
        r = sbx(["-m", "64M"], child=["raise", "KILL"])
        self.assertStatus(r, 137)
        self.assertResult(r, reason="signaled", signal=9)
        self.assertIn(r.result["oom_kills"], (0, None), r)

    def test_child_starts_with_default_signals(self):
        # Nothing blocked or ignored leaks from sbx-run's own loop.
        r = sbx(child=["signals"])
        self.assertStatus(r, 0)
        lines = dict(l.split(":\t") for l in r.text().splitlines())
        self.assertEqual(int(lines["SigBlk"], 16), 0, "blocked signals\n%s" % r)
        self.assertEqual(int(lines["SigIgn"], 16), 0, "ignored signals\n%s" % r)


class Output(sbxtest.TestCase):
    def test_bytes_exact_small_and_empty(self):
        for n in (0, 1, 4097):
            with self.subTest(n=n):
                r = sbx(child=["bytes", str(n)])
                self.assertStatus(r, 0)
                self.assertEqual(r.stdout, sbxtest.pattern(n))

    def test_5mb_through_a_pipe(self):
        n = 5 * MiB
        r = sbx(child=["bytes", str(n)], timeout=20)
        self.assertStatus(r, 0)
        self.assertEqual(len(r.stdout), n)
        self.assertTrue(r.stdout == sbxtest.pattern(n), "output bytes differ")

    def test_stdin_passed_through(self):
        data = os.urandom(3 * MiB + 17)
        r = sbx(child=["cat"], input=data, timeout=20)
        self.assertStatus(r, 0)
        self.assertEqual(len(r.stdout), len(data))
        self.assertTrue(r.stdout == data, "stdin did not come back unchanged")

    def test_stdin_null_and_output_files(self):
        out, err = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "err")
        with open(out, "wb") as f:
            f.write(b"before\n")
        r = sbx(["--stdin", "null", "--stdout", out, "--stderr", err],
                child=["cat", "bytes", "10", "env"], input=b"not this")
        self.assertStatus(r, 2)   # "env" without NAME: a usage error on stderr
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr, b"")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"before\n" + sbxtest.pattern(10))
        with open(err, "rb") as f:
            self.assertIn(b"env needs 1 argument", f.read())

    def test_stdin_from_file(self):
        path = os.path.join(self.tmp, "in")
        with open(path, "wb") as f:
            f.write(b"from a file\n")
        r = sbx(["--stdin", path], child=["cat"], input=b"not this")
        self.assertStatus(r, 0)
        self.assertEqual(r.stdout, b"from a file\n")

    def test_sigpipe_default_in_target(self):
        # A reader that goes away kills a writer with SIGPIPE, as in a shell
        # pipeline: the target does not inherit an ignored SIGPIPE.
        p = sbxtest.start(child=["bytes", str(64 * MiB)])
        self.assertEqual(p.proc.stdout.read(10), sbxtest.pattern(10))
        p.proc.stdout.close()
        p.proc.stdout = None   # finish() then collects stderr and the result
        r = p.finish()
        self.assertStatus(r, 128 + 13)
        self.assertResult(r, reason="signaled", signal=13)


class Environment(sbxtest.TestCase):
    def test_env_added_and_inherited(self):
        r = sbx(["-e", "SBX_T_ADDED=hello world"],
                child=["env", "SBX_T_ADDED", "env", "SBX_T_INHERITED"],
                env={"SBX_T_INHERITED": "from-parent"})
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "hello world\nfrom-parent\n")

    def test_env_overrides_inherited(self):
        r = sbx(["-e", "SBX_T_VAR=new"], child=["env", "SBX_T_VAR"],
                env={"SBX_T_VAR": "old"})
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "new\n")

    def test_clear_env(self):
        r = sbx(["--clear-env", "-e", "SBX_T_KEPT=1"],
                child=["env", "SBX_T_KEPT", "env", "SBX_T_INHERITED"],
                env={"SBX_T_INHERITED": "from-parent"})
        # exit 3: the inherited variable is unset in the child.
        self.assertStatus(r, 3)
        self.assertEqual(r.text(), "1\n")

    def test_path_lookup_uses_childs_path(self):
        helper_dir = os.path.dirname(os.path.abspath(SBX_CHILD))
        name = os.path.basename(SBX_CHILD)
        r = sbx(["--clear-env", "-e", "PATH=/nonexistent:" + helper_dir],
                cmd=[name, "env", "PATH"])
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "/nonexistent:%s\n" % helper_dir)

    def test_bad_env_option(self):
        r = sbx_plain(["-e", "NOEQUALS", "--", SBX_CHILD, "bytes", "3"])
        self.assertStatus(r, EXIT_SETUP)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"--env", r.stderr)

    def test_cwd(self):
        r = sbx(["-C", self.tmp], child=["cwd"])
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), os.path.realpath(self.tmp) + "\n")


class StartFailures(sbxtest.TestCase):
    def assertStartFailed(self, r, status, stage, errno):
        self.assertStatus(r, status)
        self.assertResult(r, reason="start-failed", exit_code=None)
        self.assertEqual(r.result.get("stage"), stage, r)
        self.assertEqual(r.result.get("errno"), errno, r)
        self.assertTrue(r.result["error"], "no error message\n%s" % r)
        self.assertNoBoxLeft(r)

    def test_missing_binary_is_127(self):
        r = sbx(cmd=[os.path.join(self.tmp, "no-such-program")])
        self.assertStartFailed(r, EXIT_NOTFOUND, "exec", 2)
        self.assertIn(b"no-such-program", r.stderr)

    def test_missing_in_path_is_127(self):
        r = sbx(cmd=["sbx-no-such-program-anywhere"])
        self.assertStartFailed(r, EXIT_NOTFOUND, "exec", 2)

    def test_not_executable_is_126(self):
        path = os.path.join(self.tmp, "plain-file")
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho should not run\n")
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        r = sbx(cmd=[path])
        self.assertStartFailed(r, EXIT_NOEXEC, "exec", 13)
        self.assertEqual(r.stdout, b"")

    def test_bad_cwd_is_125_stage_cwd(self):
        r = sbx(["-C", os.path.join(self.tmp, "no-such-dir")], child=["bytes", "5"])
        self.assertStartFailed(r, EXIT_SETUP, "cwd", 2)
        self.assertEqual(r.stdout, b"", "the program ran\n%s" % r)


class BadOptions(sbxtest.TestCase):
    """Refused with 125 and a message naming the option, before anything
    runs: the command would leave a file and print if it ran."""

    needs_root = False

    def check(self, args, option, value):
        marker = os.path.join(self.tmp, "ran")
        r = sbx_plain(list(args) + ["--", SBX_CHILD, "touch", marker, "bytes", "3"])
        self.assertStatus(r, EXIT_SETUP)
        self.assertEqual(r.stdout, b"", r)
        self.assertFalse(os.path.exists(marker), "the command ran\n%s" % r)
        err = r.stderr.decode()
        self.assertIn(option, err, r)
        self.assertIn(value, err, r)

    def test_memory_12Q(self):
        self.check(["--memory", "12Q"], "--memory", "12Q")

    def test_cpu_negative(self):
        self.check(["--cpu", "-5%"], "--cpu", "-5%")

    def test_timeout_forever(self):
        self.check(["--timeout", "forever"], "--timeout", "forever")

    def test_pids_zero(self):
        self.check(["--pids", "0"], "--pids", "0")

    def test_unknown_option(self):
        self.check(["--no-such-option"], "--no-such-option", "")

    def test_no_command(self):
        r = sbx_plain([])
        self.assertStatus(r, EXIT_SETUP)
        self.assertTrue(r.stderr, r)

    def test_help(self):
        r = sbx_plain(["--help"])
        self.assertStatus(r, 0)
        for opt in (b"--memory", b"--cpu", b"--pids", b"--timeout", b"--result",
                    b"--backend", b"--best-effort", b"--probe"):
            self.assertIn(opt, r.stdout)

    def test_version(self):
        r = sbx_plain(["--version"])
        self.assertStatus(r, 0)
        self.assertRegex(r.stdout, rb"^sbx-run \d+\.\d+\.\d+\n$")

    def test_every_limit_of_the_table_is_an_option(self):
        # libsbx's limits table gives sbx-run its options: a bad value is
        # refused by the table's parser, named by the option.
        for opt, bad, text in (("--memory-swap", "1X", b"unknown unit"),
                               ("--cpu-weight", "0", b"between 1 and 10000"),
                               ("--nofile", "0", b"between 1 and 1073741824")):
            r = sbx_plain([opt, bad, "--", "true"])
            self.assertStatus(r, EXIT_SETUP)
            self.assertIn(opt.encode() + b": ", r.stderr, r)
            self.assertIn(text, r.stderr, r)


class Unprivileged(sbxtest.TestCase):
    """sbx-run run by an ordinary user (here: nobody), where cgroups cannot
    be created. Its default backend is "the best that works here"
    (sbx-run(1)): without limits the program runs; a limit that no working
    backend can enforce is refused before anything runs."""

    NOBODY = 65534

    def run_as_nobody(self, opts, child):
        os.chmod(self.tmp, 0o777)
        result = os.path.join(self.tmp, "result.json")
        argv = [sbxtest.SBX_RUN, "--result", result] + opts + ["--", SBX_CHILD] + child
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=30, user=self.NOBODY, group=self.NOBODY,
                               extra_groups=[], cwd=self.tmp)
        except PermissionError as e:
            sbxtest.skip("nobody cannot run the build tree's binaries: %s" % e)
        res = None
        if os.path.exists(result):
            with open(result) as f:
                res = json.load(f)
        return sbxtest.Run(argv, p.returncode, p.stdout, p.stderr, 0.0, res, None, None)

    def test_no_limits_runs_without_root(self):
        r = self.run_as_nobody([], ["bytes", "3", "exit", "6"])
        self.assertStatus(r, 6)
        self.assertEqual(r.stdout, sbxtest.pattern(3), r)
        self.assertResult(r, reason="exited", exit_code=6)

    def test_limit_without_root_refused_before_running(self):
        marker = os.path.join(self.tmp, "ran")
        r = self.run_as_nobody(["-m", "64M"], ["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), "the command ran\n%s" % r)
        self.assertTrue(r.stderr, r)


if __name__ == "__main__":
    sbxtest.main()
