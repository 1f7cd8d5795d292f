"""sbx-import-supervisord on files: supervisord's own sample
(echo_supervisord_conf, as shipped and with its example program and group
uncommented) and the fixtures here, written to cover every program key,
the include/expansion/continuation syntax, and what supervisord refuses.
Each result is compared with expected/CASE/ (the units, the notes on
stderr, the exit status), and every unit directory passes `sbxd --check`.
SBX_IMPORT_UPDATE=1 rewrites expected/ from the current output.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import sbxtest  # noqa: E402
import supervisor  # noqa: E402

IMPORT = os.environ.get("SBX_IMPORT", "")
SBXD = os.environ.get("SBXD", "")
FIXTURES = os.path.join(HERE, "fixtures")
EXPECTED = os.path.join(HERE, "expected")
UPDATE = os.environ.get("SBX_IMPORT_UPDATE") == "1"
NOTE = re.compile(r"^[^:]+:\d+: (\[[^\]]+\]( \w+)?: .+|.+)$")

CASES = {  # name: (file, extra environment, exit status)
    "web": ("web/supervisord.conf", {"SHOP_ENV": "production"}, 0),
    "edge": ("edge.conf", {"SBX_TEST_NOTE": "a ;b"}, 0),
    "bad": ("bad.conf", {}, 1),
}


def run_import(conf, out, env=None, cwd=FIXTURES, extra=()):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([IMPORT, conf, "-o", out] + list(extra), cwd=cwd, env=e,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def sbxd_check(units):
    p = subprocess.run([SBXD, "--check", units], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def tree(d):
    """{file name: text} of a directory (fixture paths made neutral)."""
    out = {}
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, name)) as f:
            out[name] = f.read().replace(FIXTURES, "@FIXTURES@")
    return out


class ImportTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        for what, path in (("SBX_IMPORT", IMPORT), ("SBXD", SBXD)):
            if not path or not os.access(path, os.X_OK):
                self.fail("%s must name the binary (got %r)" % (what, path))
        self.tmp = tempfile.mkdtemp(prefix="sbx-import-", dir=sbxtest.tmp_base())
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def convert_case(self, name):
        conf, env, status = CASES[name]
        out = os.path.join(self.tmp, name)
        got_status, stdout, stderr = run_import(conf, out, env)
        got = tree(out)
        got["notes.txt"] = stderr.replace(out, "@OUT@").replace(FIXTURES, "@FIXTURES@")
        got["status"] = "%d\n" % got_status
        expected_dir = os.path.join(EXPECTED, name)
        if UPDATE:
            shutil.rmtree(expected_dir, ignore_errors=True)
            os.makedirs(expected_dir)
            for f, text in got.items():
                with open(os.path.join(expected_dir, f), "w") as fh:
                    fh.write(text)
        self.assertEqual(got_status, status, stderr)
        self.assertEqual(got, tree(expected_dir))
        for line in stderr.splitlines()[:-1]:
            self.assertRegex(line, NOTE)
        if any(f.endswith(".ini") for f in got):
            check_status, check_out = sbxd_check(out)
            self.assertEqual(check_status, 0, check_out)
        return got

    def test_web_includes_numprocs_groups_priorities(self):
        got = self.convert_case("web")
        self.assertEqual(sorted(f for f in got if f.endswith(".ini")),
                         ["beat.ini", "web.ini", "worker_01.ini", "worker_02.ini",
                          "worker_03.ini", "worker_04.ini"])
        self.assertIn("after = web\n", got["worker_03.ini"])
        self.assertIn("--id 3 --env production", got["worker_03.ini"])
        self.assertIn("env = WORKER_ID=3\n", got["worker_03.ini"])
        self.assertIn("success_exit_codes = 0,3\n", got["worker_01.ini"])

    def test_edge_syntax_and_todo_units(self):
        got = self.convert_case("edge")
        self.assertIn("long.ini.todo", got)
        self.assertIn("semi.ini.todo", got)
        self.assertIn('sh -c "echo 100% done\\; exec sleep 1000"', got["multi_line_main.ini"])

    def test_what_supervisord_refuses_is_an_error(self):
        got = self.convert_case("bad")
        self.assertEqual([f for f in got if f.endswith(".ini")], [])

    def test_existing_units_are_not_replaced_without_force(self):
        out = os.path.join(self.tmp, "again")
        conf, env, _ = CASES["web"]
        self.assertEqual(run_import(conf, out, env)[0], 0)
        status, _, err = run_import(conf, out, env)
        self.assertEqual(status, 1)
        self.assertIn("--force replaces it", err)
        self.assertEqual(run_import(conf, out, env, extra=["--force"])[0], 0)

    def sample(self):
        if not supervisor.ensure():
            sbxtest.skip("supervisor (echo_supervisord_conf) is not installed and cannot be")
        return subprocess.run(["echo_supervisord_conf"], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    def test_supervisords_own_sample(self):
        text = self.sample()
        path = os.path.join(self.tmp, "supervisord.conf")
        with open(path, "w") as f:
            f.write(text)
        status, _, err = run_import(path, os.path.join(self.tmp, "plain"), cwd=self.tmp)
        self.assertEqual(status, 0, err)
        self.assertEqual(os.listdir(os.path.join(self.tmp, "plain")), [])
        for section in ("unix_http_server", "supervisord", "rpcinterface:supervisor", "supervisorctl"):
            self.assertIn("[%s]" % section, err)

        # Its example program, group and event listener uncommented.
        block, lines = False, []
        for line in text.splitlines():
            if re.match(r"^;\[(program|group|eventlistener):", line):
                block = True
            elif not line.strip():
                block = False
            lines.append(line[1:] if block and line.startswith(";") else line)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        units = os.path.join(self.tmp, "units")
        status, _, err = run_import(path, units, cwd=self.tmp)
        self.assertEqual(status, 0, err)
        self.assertEqual(sorted(os.listdir(units)), ["theprogramname.ini"])
        with open(os.path.join(units, "theprogramname.ini")) as f:
            unit = f.read()
        for line in ("command = /bin/cat", "cwd = /tmp", "stop_signal = QUIT", "policy = on-failure",
                     "success_exit_codes = 0", "env = A=1", "env = B=2", "stdout = file:/a/path",
                     "stderr = file:/a/path", "burst = 4", "stop_timeout = 10s"):
            self.assertIn(line + "\n", unit)
        for key in ("umask", "startsecs", "startretries", "stopasgroup", "stdout_capture_maxbytes"):
            self.assertRegex(err, r"\[program:theprogramname\] %s: " % key)
        self.assertRegex(err, r"\[eventlistener:theeventlistenername\]: ")
        self.assertRegex(err, r"\[group:thegroupname\] priority: ")
        check_status, out = sbxd_check(units)
        self.assertEqual(check_status, 0, out)


if __name__ == "__main__":
    sbxtest.main()
