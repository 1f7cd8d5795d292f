"""sbxd under a descriptor limit too low for its units (as a host whose
hard RLIMIT_NOFILE cannot be raised): it says so once at load with the
numbers, the units that fit run, and every unit that cannot start ends in
a start failure that names the limit, never a silent `failed`."""

import re
import time
import resource

import sbxdtest
from sbxdtest import child_cmd

LIMIT = 100   # soft and hard: sbxd cannot raise it (not past the hard one)
N = 60        # 60 units x 2 descriptors (OOM watch, log pipe) + sbxd's own


def sbxd_nofile(pid):
    """sbxd's soft and hard RLIMIT_NOFILE, once it has set them."""
    for _ in range(100):
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
        if int(soft) == int(hard):
            break
        time.sleep(0.05)
    return int(soft), int(hard)


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


class FdLimitTest(sbxdtest.TestCase):
    stop_timeout = 60

    def test_units_beyond_the_limit_fail_naming_it(self):
        self.write_unit("fleet", {"unit": {"instances": N},
                                  "exec": {"command": child_cmd("sleep", 600)},
                                  "restart": {"policy": "no"}})
        d = self.start_sbxd(popen={"preexec_fn": low_nofile})
        soft, hard = sbxd_nofile(d.proc.pid)
        if hard > LIMIT:
            # Root with CAP_SYS_RESOURCE (the VM): sbxd raised its hard
            # limit itself, as far as fs.nr_open, and every unit fits.
            self.assertEqual(soft, hard)
            self.assertTrue(d.wait(lambda: len({e.unit for e in d.find(state="running")}) >= N,
                                   30), d.transcript(20))
            self.assertEqual(d.find(state="failed"), [])
            print("\n  sbxd raised its limit from %d to %d: all %d units run" % (LIMIT, hard, N))
            return
        line = d.wait_line(r"units need about \d+ descriptors", 10)[0]
        m = re.search(r"(\d+) units need about (\d+) descriptors, the limit is (\d+)", line)
        self.assertTrue(m, line)
        self.assertEqual(int(m.group(1)), N)
        self.assertGreater(int(m.group(2)), LIMIT)
        self.assertEqual(int(m.group(3)), LIMIT)
        self.assertEqual(len([x for x in d.lines if "descriptors, the limit is" in x]), 1)

        ended = lambda: (len({e.unit for e in d.find(state="running")}) +
                         len({e.unit for e in d.find(state="failed")}))
        self.assertTrue(d.wait(lambda: ended() >= N, 30), d.transcript(20))
        running = {e.unit for e in d.find(state="running")}
        failed = d.find(state="failed")
        self.assertGreater(len(running), 0, d.transcript(20))
        self.assertGreater(len(failed), 0, "all %d units fit in %d descriptors?"
                           % (N, LIMIT))
        for e in failed:
            self.assertIn("start failed", e.detail, e)
            self.assertIn("RLIMIT_NOFILE is %d" % LIMIT, e.detail, e)
        print("\n  limit %d: %d running, %d failed naming the limit\n  %s\n  %s"
              % (LIMIT, len(running), len(failed), line, failed[0].detail), flush=True)
        self.stop_sbxd()


if __name__ == "__main__":
    sbxdtest.main()
