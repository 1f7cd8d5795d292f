#!/usr/bin/env python3
"""sbxctl's bash completion (tools/sbxctl.bash-completion) in a real bash.

The file is loaded the way an installed one is: bash-completion's own
loader finds it as completions/sbxctl (BASH_COMPLETION_USER_DIR points at
a directory holding it under that name), then `complete -p sbxctl` names
the function bash calls, which is called with COMP_WORDS/COMP_CWORD as
bash sets them. Without bash-completion the file is sourced directly (a
skip under SBX_MUST_WORK=1: the loader is what users have).

Checked: the verbs it offers are exactly sbxctl's commands (its table in
tools/sbxctl.c) and cover every protocol command (supervisor/protocol.c)
but ping, so a new verb without completion fails here; options per verb;
unit names asked of the server named by --socket (tests/ctl/fake_server.py);
nothing offered, quickly, when no server answers. Labelled unit.
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import fake_server  # noqa: E402

SBXCTL = os.environ.get("SBXCTL", "")
COMPLETION = os.path.join(SRC, "tools", "sbxctl.bash-completion")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
# Protocol commands sbxctl has no verb for (sbxctl sends ping itself).
PROTOCOL_ONLY = {"ping"}


def c_strings(path, pattern):
    """The strings of the C source a regex with one group picks out."""
    with open(path) as f:
        return re.findall(pattern, f.read())


def sbxctl_verbs():
    """The names of sbxctl's command table: {"status", do_status, ...}."""
    return set(c_strings(os.path.join(SRC, "tools", "sbxctl.c"), r'\{"([a-z-]+)", do_\w+,'))


def protocol_commands():
    """The names in cmd_names[] of supervisor/protocol.c."""
    with open(os.path.join(SRC, "supervisor", "protocol.c")) as f:
        body = re.search(r"cmd_names\[CMD__COUNT\] = \{(.*?)\};", f.read(), re.S).group(1)
    return set(re.findall(r'"([a-z-]+)"', body))


class Completion(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not SBXCTL or not os.access(SBXCTL, os.X_OK):
            raise AssertionError("SBXCTL must name sbxctl (got %r)" % SBXCTL)
        cls.dir = tempfile.TemporaryDirectory(prefix="sbxctl-completion-")
        cls.sock = os.path.join(cls.dir.name, "sbxd.sock")
        cls.server = fake_server.serve(cls.sock, {})
        comp = os.path.join(cls.dir.name, "completions")
        os.mkdir(comp)
        os.symlink(COMPLETION, os.path.join(comp, "sbxctl"))  # its installed name
        cls.loader = os.path.exists(BASH_COMPLETION)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.dir.cleanup()

    def complete(self, line, env=None):
        """COMPREPLY for the command line `line` (the cursor at its end;
        a trailing space starts a new, empty word)."""
        words = shlex.split(line) + ([""] if line.endswith(" ") else [])
        if self.loader:
            load = ('source %s; _completion_loader sbxctl 2>/dev/null || '
                    '__load_completion sbxctl' % shlex.quote(BASH_COMPLETION))
        else:
            load = "source %s" % shlex.quote(COMPLETION)
        script = """%s
fn=$(complete -p sbxctl | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')
[[ -n $fn ]] || { echo "no completion for sbxctl" >&2; exit 3; }
COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}
$fn sbxctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%%s\\n' "${COMPREPLY[@]}"
""" % (load, " ".join(shlex.quote(w) for w in words), len(words) - 1, shlex.quote(line))
        e = dict(os.environ, BASH_COMPLETION_USER_DIR=self.dir.name,
                 PATH=os.path.dirname(SBXCTL) + os.pathsep + os.environ.get("PATH", ""))
        e.pop("SBX_SOCKET", None)
        e.update(env or {})
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                           text=True, env=e, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return sorted(w for w in p.stdout.split("\n") if w)

    def test_loaded_by_bash_completion(self):
        if not self.loader:
            if os.environ.get("SBX_MUST_WORK") == "1":
                self.fail("no %s (Debian's bash-completion package)" % BASH_COMPLETION)
            self.skipTest("no %s (Debian's bash-completion package)" % BASH_COMPLETION)
        self.assertIn("status", self.complete("sbxctl "))

    def test_verbs_are_sbxctl_commands_and_cover_the_protocol(self):
        verbs = sbxctl_verbs()
        self.assertIn("status", verbs)  # the table was found
        self.assertEqual(set(self.complete("sbxctl ")), verbs,
                         "the completion's verbs differ from sbxctl's command table")
        missing = protocol_commands() - PROTOCOL_ONLY - verbs
        self.assertEqual(missing, set(), "protocol commands sbxctl cannot send")

    def test_a_prefix_and_global_options(self):
        self.assertEqual(self.complete("sbxctl st"), ["start", "status", "stop"])
        self.assertIn("--socket", self.complete("sbxctl --"))
        self.assertEqual(self.complete("sbxctl --json re"), ["reexec", "reload", "restart"])

    def test_options_of_a_verb(self):
        self.assertIn("--follow", self.complete("sbxctl logs --"))
        self.assertIn("--ready", self.complete("sbxctl wait --"))
        self.assertIn("--memory", self.complete("sbxctl run --m"))
        self.assertEqual(self.complete("sbxctl kill --signal K"), ["KILL"])

    def test_unit_names_from_the_server_on_the_line(self):
        sock = "--socket " + shlex.quote(self.sock)
        self.assertEqual(self.complete("sbxctl %s status " % sock),
                         ["batch", "idle", "web", "worker"])
        self.assertEqual(self.complete("sbxctl %s stop w" % sock), ["web", "worker"])
        self.assertEqual(self.complete("sbxctl %s set web m" % sock),
                         ["memory=", "memory_swap="])
        self.assertEqual(self.complete("sbxctl %s logs web " % sock), [])  # one unit only

    def test_unit_names_from_sbx_socket(self):
        self.assertEqual(self.complete("sbxctl start b", env={"SBX_SOCKET": self.sock}),
                         ["batch"])

    def test_no_server_offers_nothing_quickly(self):
        t0 = time.monotonic()
        got = self.complete("sbxctl --socket %s status "
                            % shlex.quote(os.path.join(self.dir.name, "none.sock")))
        self.assertEqual(got, [])
        self.assertLess(time.monotonic() - t0, 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
