"""Memory and task limits hold: a hog over its memory limit is killed and
reported as `memory` (swap does not save it); a small program under a tight
limit is not; the first process counts against --pids."""

import sbxtest
from sbxtest import MiB, sbx


def swap_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SwapTotal:"):
                return int(line.split()[1]) * 1024
    return 0


class Memory(sbxtest.TestCase):
    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("memory")

    def enforced(self, run):
        return {e["limit"]: e["by"] for e in run.result["enforced"]}

    def test_hog_over_limit_is_memory(self):
        r = sbx(["-m", "32M"], child=["alloc", "200"], timeout=20)
        self.assertStatus(r, 137)
        self.assertResult(r, reason="memory", signal=9)
        self.assertGreaterEqual(r.result["oom_kills"], 1, r)
        self.assertNotIn(b"ok", r.stdout, "the hog got its 200 MiB\n%s" % r)
        peak = r.result["peak_memory_bytes"]
        if peak is not None:
            self.assertLessEqual(peak, 33 * MiB, r)
        # Swap is limited to 0 as well, so it cannot escape into swap.
        by = self.enforced(r)
        self.assertIn("memory", by, r)
        self.assertIn("swap", by, r)
        self.assertTrue(by["swap"], "swap limit not enforced\n%s" % r)
        if swap_total() > 0:
            # 100 MiB fits in 32 MiB of memory plus the host's swap, were
            # swap allowed: it must die all the same.
            r = sbx(["-m", "32M"], child=["alloc", "100"], timeout=30)
            self.assertStatus(r, 137)
            self.assertResult(r, reason="memory")
        self.assertNoSurvivors(r)
        self.assertNoBoxLeft(r)

    def test_oom_of_a_child_is_counted_main_exit_kept(self):
        # The hog is a child; the main process lives on and exits 0. The
        # OOM kill is counted, but the run ended as the main process did.
        r = sbx(["-m", "32M"], child=["sub", "alloc", "200"], timeout=20)
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "signaled 9\n", r)
        self.assertResult(r, reason="exited", exit_code=0)
        self.assertGreaterEqual(r.result["oom_kills"], 1, r)

    def test_under_limit_is_fine(self):
        r = sbx(["-m", "64M"], child=["alloc", "16"])
        self.assertStatus(r, 0)
        self.assertResult(r, reason="exited", exit_code=0, oom_kills=0)
        self.assertEqual(r.text(), "ok 16\n")
        self.assertGreaterEqual(r.result["peak_memory_bytes"], 16 * MiB, r)

    def test_true_under_tight_limit_is_not_memory(self):
        r = sbx(["-m", "8M"], cmd=["true"])
        self.assertStatus(r, 0)
        self.assertResult(r, reason="exited", exit_code=0, oom_kills=0)


class Pids(sbxtest.TestCase):
    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("pids")

    def test_pids_1_cannot_fork(self):
        r = sbx(["--pids", "1"], child=["fork-once"])
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "EAGAIN\n", r)
        self.assertResult(r, pids_peak=1, pids_limit_hits=1)

    def test_pids_2_can_fork_once(self):
        r = sbx(["--pids", "2"], child=["fork-once", "fork-once"])
        self.assertStatus(r, 0)
        self.assertEqual(r.text(), "ok\nok\n", r)
        self.assertResult(r, pids_peak=2, pids_limit_hits=0)

    def test_threads_count_too(self):
        # A thread is a task: with --pids 1, the second thread is refused.
        r = sbx(["--pids", "1"], child=["spin", "2", "0.01"])
        self.assertStatus(r, 1)
        self.assertIn(b"pthread_create", r.stderr)


class Rlimits(sbxtest.TestCase):
    def limits(self, run):
        """/proc/self/limits text -> {name: (soft, hard)}."""
        out = {}
        for line in run.text().splitlines()[1:]:
            name, soft, hard = line[:26].strip(), line[26:47].split(), line[47:68].split()
            out[name] = (soft[0], hard[0])
        return out

    def test_nofile_and_core(self):
        r = sbx(["--nofile", "64", "--core", "0"], child=["limits"])
        self.assertStatus(r, 0)
        got = self.limits(r)
        self.assertEqual(got["Max open files"], ("64", "64"), r.text())
        self.assertEqual(got["Max core file size"], ("0", "0"), r.text())
        by = {e["limit"]: e["by"] for e in r.result["enforced"]}
        self.assertTrue(by.get("nofile"), r)
        self.assertTrue(by.get("core"), r)


if __name__ == "__main__":
    sbxtest.main()
