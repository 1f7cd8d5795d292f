"""The rlimit backend (for machines without usable cgroups) is honest: a
tree-wide limit it cannot enforce is refused with status 125 before
anything runs, unless --best-effort, and the result's `enforced` list then
says what was (and was not) enforced, by what."""

import os

import sbxtest
from sbxtest import EXIT_SETUP, EXIT_TIMEOUT, sbx


class RlimitBackend(sbxtest.TestCase):
    needs_root = False

    def test_memory_refused(self):
        marker = os.path.join(self.tmp, "ran")
        r = sbx(["--backend", "rlimit", "-m", "64M"], child=["touch", marker])
        self.assertStatus(r, EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), "the command ran\n%s" % r)
        self.assertIn(b"cannot be enforced", r.stderr, r)
        self.assertResult(r, reason="start-failed", backend="rlimit")
        self.assertIn("cannot be enforced", r.result["error"] or "", r)
        # Nothing was enforced: it did not run.
        self.assertFalse([e for e in r.result["enforced"] if e.get("by")], r)

    def test_cpu_and_pids_refused(self):
        for opt in (["-c", "50%"], ["--pids", "10"]):
            with self.subTest(opt=opt):
                r = sbx(["--backend", "rlimit"] + opt, child=["exit", "0"])
                self.assertStatus(r, EXIT_SETUP)
                self.assertIn(b"cannot be enforced", r.stderr, r)

    def test_best_effort_runs_and_says_so(self):
        r = sbx(["--backend", "rlimit", "--best-effort", "-m", "64M", "-c", "50%"],
                child=["exit", "4"])
        self.assertStatus(r, 4)
        self.assertResult(r, reason="exited", exit_code=4, backend="rlimit")
        by = {e["limit"]: e["by"] for e in r.result["enforced"]}
        self.assertIn("memory", by, r)
        self.assertIn("cpu", by, r)
        # The CPU rate is not enforced at all; memory only per process.
        self.assertIsNone(by["cpu"], r)
        self.assertIn("best effort", by["memory"] or "", r)

    def test_plain_run_and_timeout(self):
        r = sbx(["--backend", "rlimit"], child=["bytes", "1000", "exit", "9"])
        self.assertStatus(r, 9)
        self.assertEqual(r.stdout, sbxtest.pattern(1000))
        self.assertResult(r, reason="exited", backend="rlimit", enforced=[])
        r = sbx(["--backend", "rlimit", "-t", "500ms"], child=["sleep", "10"])
        self.assertStatus(r, EXIT_TIMEOUT)
        self.assertResult(r, reason="timeout")
        self.assertWall(r, 0.5, 1.2)
        self.assertNoSurvivors(r)


if __name__ == "__main__":
    sbxtest.main()
