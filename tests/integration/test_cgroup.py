"""The sandbox cgroup itself: the target is in it from its first
instruction, below the cgroup we started in (which sbx-run leaves alone);
runs leave no cgroup directory and no fd of sbx-run's behind; concurrent
runs do not disturb each other; --probe tells the machine as it is."""

import json
import os

import sbxtest
from sbxtest import PRIVILEGED, MiB, machine, own_cgroups, parse_proc_cgroup, sbx, start


def cgroup_rel(mount, path):
    """The cgroup path (as /proc/PID/cgroup shows it) of directory path."""
    rel = os.path.relpath(path, mount.point)
    return os.path.normpath(os.path.join(mount.root, "" if rel == "." else rel))


class Placement(sbxtest.TestCase):
    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("memory", "cpu", "pids")

    def test_target_starts_in_its_box(self):
        before = own_cgroups()
        # Privileged: the contained default's cgroup namespace shows "/".
        r = sbx(["-m", "64M", "-c", "50%", "-p", "100", *PRIVILEGED], child=["cgroup"])
        self.assertStatus(r, 0)
        box = r.result["cgroup"]
        self.assertTrue(box and box.startswith("/"), "no cgroup in the result\n%s" % r)
        name = os.path.basename(box)
        seen = parse_proc_cgroup(r.text())
        m = machine()
        mount = m.mount_of(box)
        self.assertIsNotNone(mount, "result cgroup %s is on no cgroup mount" % box)

        # The hierarchy the result names shows exactly that cgroup.
        key = "" if mount.fstype == "cgroup2" else sorted(mount.controllers)[0]
        self.assertEqual(seen.get(key), cgroup_rel(mount, box),
                         "first /proc/self/cgroup of the target\n%s" % r)
        # Every limiting controller holds the target in the same box, below
        # the cgroup we (and so sbx-run) started in.
        ctls = ["memory", "cpu", "pids"]
        if mount.fstype == "cgroup":
            ctls.append("freezer")
        else:
            ctls = [""]
        for c in ctls:
            if c and c not in m.controllers:
                continue
            with self.subTest(controller=c or "v2"):
                path = seen.get(c, "")
                self.assertTrue(path.endswith("/" + name), "%s: %s\n%s" % (c, path, r))
                parent = before.get(c, "/").rstrip("/") + "/"
                self.assertTrue(path.startswith(parent),
                                "%s: box %s not below our cgroup %s" % (c, path, parent))
        # sbx-run moved, limited or changed nothing of ours.
        self.assertEqual(own_cgroups(), before)
        self.assertNoBoxLeft(r)

    def test_cgroup_root(self):
        # --cgroup-root PATH: boxes below PATH inside our own cgroup.
        root = "sbx-it-%d" % os.getpid()
        self.addCleanup(self.remove_root, root)
        r = sbx(["--cgroup-root", root, "-m", "32M", "-p", "10", *PRIVILEGED], child=["cgroup"])
        self.assertStatus(r, 0)
        box = r.result["cgroup"]
        m = machine()
        mount = m.mount_of(box)
        self.assertIsNotNone(mount, r)
        key = "" if mount.fstype == "cgroup2" else sorted(mount.controllers)[0]
        own = own_cgroups().get(key, "/").rstrip("/")
        rel = cgroup_rel(mount, box)
        self.assertTrue(rel.startswith(own + "/" + root + "/"),
                        "box %s not below %s/%s" % (rel, own, root))
        self.assertEqual(parse_proc_cgroup(r.text()).get(key), rel, r)
        self.assertNoBoxLeft(r)

    def remove_root(self, root):
        # The root is ours to remove (sbx-run keeps it for later runs).
        own = own_cgroups()
        for mount in machine().mounts:
            key = "" if mount.fstype == "cgroup2" else (sorted(mount.controllers) or [None])[0]
            if key is None or key not in own:
                continue
            rel = os.path.relpath(own[key], mount.root)
            path = os.path.normpath(os.path.join(mount.point, rel, root))
            if os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError as e:
                    self.fail("cannot remove %s: %s" % (path, e))


class NothingLeaks(sbxtest.TestCase):
    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("memory", "cpu", "pids")

    def fds_of(self, run):
        return sorted(int(line.split()[0]) for line in run.text().splitlines())

    def test_100_runs_leave_nothing(self):
        runs = []
        for i in range(100):
            r = sbx(["-m", "16M", "-c", "50%", "-p", "10"], child=["fds"])
            self.assertStatus(r, 0)
            # Only stdin, stdout and stderr: none of sbx-run's own fds.
            self.assertEqual(self.fds_of(r), [0, 1, 2],
                             "run %d: fds leaked into the target\n%s" % (i, r))
            self.assertResult(r, reason="exited", exit_code=0)
            runs.append(r)
        self.assertEqual(len({r.result["cgroup"] for r in runs}), 100,
                         "boxes were not unique")
        self.assertNoBoxLeft(*runs)

    def test_failed_starts_leave_nothing(self):
        runs = [sbx(cmd=[os.path.join(self.tmp, "missing")]),
                sbx(["-C", os.path.join(self.tmp, "missing")], child=["exit", "0"]),
                sbx(["-m", "32M"], child=["alloc", "100"]),
                sbx(["-t", "200ms"], child=["sleep", "5"])]
        self.assertEqual([r.status for r in runs], [127, 125, 137, 124])
        self.assertNoBoxLeft(*runs)
        for r in runs:
            self.assertNoSurvivors(r)


class Concurrent(sbxtest.TestCase):
    def setUp(self):
        super().setUp()
        sbxtest.need_cgroups("memory")

    def test_8_runs_at_once_are_independent(self):
        # Four memory hogs die of their limits while four modest programs,
        # at the same time, finish untouched in boxes of their own.
        hogs = [start(["-m", "32M"], child=["alloc", "200"]) for _ in range(4)]
        good = [start(["-m", "64M"],
                      child=["now", "alloc", "16", "sleep", "1", "env", "SBX_TEST_TAG",
                             "now", "exit", str(i)])
                for i in range(4)]
        hog_runs = [p.finish() for p in hogs]
        good_runs = [p.finish() for p in good]
        for r in hog_runs:
            self.assertStatus(r, 137)
            self.assertResult(r, reason="memory")
            self.assertGreaterEqual(r.result["oom_kills"], 1, r)
        spans = []
        for i, r in enumerate(good_runs):
            self.assertStatus(r, i)
            self.assertResult(r, reason="exited", exit_code=i, oom_kills=0)
            lines = r.text().splitlines()
            self.assertEqual(lines[1:3], ["ok 16", r.tag], r)
            spans.append((float(lines[0]), float(lines[3])))
        boxes = {r.result["cgroup"] for r in hog_runs + good_runs}
        self.assertEqual(len(boxes), 8, "boxes shared between runs")
        # They really ran side by side: all four were running at one moment.
        self.assertLess(max(s for s, _ in spans), min(e for _, e in spans),
                        "the runs did not overlap: %s" % spans)
        self.assertNoBoxLeft(*(hog_runs + good_runs))


class Probe(sbxtest.TestCase):
    def test_probe_matches_the_machine(self):
        sbxtest.need_root()
        m = machine()
        r = sbxtest.sbx_plain(["--probe"])
        self.assertStatus(r, 0)
        probe = json.loads(r.stdout)
        self.assertEqual(probe.get("cgroup_mode"), m.mode, r)
        if m.mode in ("hybrid", "v1"):
            want, backend = {"memory", "cpu", "pids", "freezer"}, "cgroup1"
        elif m.mode == "v2":
            want, backend = {"memory", "cpu", "pids"}, "cgroup2"
        else:
            sbxtest.skip("no cgroups on this machine")
        want &= m.controllers
        self.assertEqual(probe.get("backend"), backend, r)
        self.assertTrue(want <= set(probe.get("controllers", [])),
                        "controllers %s lack %s" % (probe.get("controllers"), want))
        # Boxes are made below the cgroup we started in.
        base = probe.get("cgroup_base", "")
        mount = m.mount_of(base)
        self.assertIsNotNone(mount, "cgroup_base %r is on no cgroup mount" % base)
        self.assertTrue(os.path.isdir(base), base)
        key = "" if mount.fstype == "cgroup2" else sorted(mount.controllers)[0]
        own = own_cgroups().get(key, "/")
        rel = cgroup_rel(mount, base)
        self.assertTrue(rel == own or rel.startswith(own.rstrip("/") + "/"),
                        "cgroup_base %s is not below our cgroup %s" % (base, own))


class ForcedBackend(sbxtest.TestCase):
    """--backend names a mechanism; one that cannot enforce the limits here
    refuses with 125 before anything runs, never falls back silently."""

    def refused(self, opts):
        marker = os.path.join(self.tmp, "ran")
        r = sbx(opts, child=["touch", marker])
        self.assertStatus(r, sbxtest.EXIT_SETUP)
        self.assertFalse(os.path.exists(marker), "the command ran\n%s" % r)
        self.assertTrue(r.stderr, r)
        self.assertResult(r, reason="start-failed")
        self.assertTrue(r.result["error"], r)
        return r

    def test_other_cgroup_version_refuses_a_memory_limit(self):
        m = machine()
        if m.mode in ("hybrid", "v1"):
            # The v2 tree of a hybrid host holds no memory controller.
            self.refused(["--backend", "cgroup2", "-m", "32M"])
        elif m.mode == "v2":
            self.refused(["--backend", "cgroup1", "-m", "32M"])
        else:
            sbxtest.skip("no cgroups on this machine")

    def test_unknown_backend(self):
        r = self.refused(["--backend", "no-such-backend"])
        self.assertIn(b"no-such-backend", r.stderr)


if __name__ == "__main__":
    sbxtest.main()
