"""Escapes from the box itself: raising its own limits through the cgroup
files, moving into another cgroup, killing the supervisor, and what is
left when the supervisor dies (see escapetest.py for the five places)."""

import os
import signal

import escapetest
import sbxdtest
import sbxtest


class OwnLimits(escapetest.EscapeCase):
    """Writes its own box's limit files; reads them back."""

    def raise_row(self, resource):
        self.row("raise own %s limit" % resource,
                 lambda ctx: (self.py("cg-raise", resource), {}), reported=True)

    def test_raise_memory(self):
        self.raise_row("memory")

    def test_raise_pids(self):
        self.raise_row("pids")

    def test_raise_cpu(self):
        self.raise_row("cpu")


class MoveOut(escapetest.EscapeCase):
    def test_move_into_a_sibling_cgroup(self):
        # The sibling's cgroup.procs is writable by anybody: only the
        # sandbox can keep the program out (a harmless move when it works:
        # the sibling is ours and removed after the test).
        def plan(ctx):
            sibling = self.sibling_cgroup()
            return self.py("cg-move", os.path.join(sibling, "cgroup.procs")), {}
        self.row("move into a sibling cgroup", plan, reported=True)


def survivors(o, within=2.0):
    """Processes of the run still alive `within` seconds after its
    supervisor ended; they are killed after being counted."""
    pids = lambda: [p for p in sbxtest.tagged_pids(o.tag)
                    if p != o.launcher_pid and sbxdtest.alive(p)]
    sbxdtest.wait_until(lambda: not pids(), within)
    left = pids()
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def outside_box(o, root):
    """Processes of a unit (sbxd gone) no longer below the units' cgroup
    root in some hierarchy where they were made."""
    out = []
    for p in sbxtest.tagged_pids(o.tag):
        if p == o.launcher_pid:
            continue
        try:
            with open("/proc/%d/cgroup" % p) as f:
                lines = [l.strip().split(":", 2) for l in f if l.strip()]
        except OSError:
            continue
        name = os.path.basename(root)
        if not any(("/%s/" % name) in (l[2] + "/") for l in lines if len(l) == 3):
            out.append(p)
    return out


class SupervisorDeath(escapetest.EscapeCase):
    def after_death(self, o):
        """For an sbx-run that died: survivors, and its box after the
        next sbx-run (which must clean boxes whose owner is gone)."""
        if o.ctx.startswith("unit-"):
            return   # counted before sbxd was stopped (before_stop)
        o.host["died"] = o.status == -signal.SIGKILL
        if not o.host["died"]:
            return
        o.host["observed"] = True   # even if the program died before saying so
        o.host["survivors"] = survivors(o)
        nxt = sbxtest.sbx_plain(RUN_TRUE)
        o.host["next run"] = nxt.status
        o.host["box left"] = sbxtest.find_cgroup_dirs({"sbx-run-%d" % o.launcher_pid})

    def unit_survivors(self, o):
        # sbxd's output ended: it exited, or is about to be reaped.
        died = self.d.eof and sbxdtest.wait_until(lambda: self.d.proc.poll() is not None, 1.0)
        o.host["died"] = died
        if died:
            o.host["observed"] = True
            # Units outlive a crash of sbxd by design (a restarted sbxd
            # adopts them): what must hold is their box, not their end.
            o.host["outside box"] = outside_box(o, self.root)
            o.host["survivors"] = survivors(o)

    def death_judge(self, o, killed_by):
        died, left = o.host.get("died"), o.host.get("survivors") or []
        box = o.host.get("box left") or []
        parts = ["%s %s" % ("supervisor killed by" if died else "supervisor still alive after",
                            killed_by)]
        if died and o.ctx.startswith("unit-"):
            outside = o.host.get("outside box") or []
            parts.append("%d process(es) of the unit kept running%s, %s" % (
                len(left), " (%s)" % left if left else "",
                "OUTSIDE its box: %s" % outside if outside else "all in its box"))
            return bool(outside), "; ".join(parts)
        if died:
            parts.append("%d process(es) of the run alive 2 s later%s"
                         % (len(left), " (%s)" % left if left else ""))
            if "box left" in o.host:
                parts.append("box %s after the next sbx-run"
                             % ("LEFT: %s" % box if box else "removed"))
        return bool(left or box), "; ".join(parts)

    def test_kill_the_parent(self):
        # kill -9 $PPID, then a grandchild of its own and a sleep: what the
        # issue saw run 15 s past -t 2s.
        def plan(ctx):
            return self.py("kill-parent", 3), {"files": True, "before_stop": self.unit_survivors,
                                               "after": self.after_death}

        def judge(o):
            # The kill itself is the escape (the program may not live to
            # say it worked when the box ends with its supervisor), unless
            # its parent was PID 1 of its own PID namespace: sbx's init,
            # inside the box, which the kernel keeps from that SIGKILL.
            escaped, why = self.death_judge(o, "the program")
            hit = [w for w, _ in o.worked() if not w.startswith("kill(getppid() = 1,")]
            return bool(hit or o.host.get("died")) or escaped, "%s; %s" % (o.said(), why)
        self.row("kill -9 the parent (sbx-run / sbxd)", plan, judge)

    def test_supervisor_killed_from_outside(self):
        # The supervisor dies (OOM killer, a crash): nothing of the run
        # may survive it, whatever the run's privileges.
        def plan(ctx):
            pidfile = os.path.join(self.box, "grandchild-%s" % ctx)

            def kill_supervisor(o):
                ok = sbxdtest.wait_until(lambda: os.path.exists(pidfile), 10)
                o.host["observed"] = bool(ok)
                os.kill(o.launcher_pid, signal.SIGKILL)
            probe = self.verbs(("double-fork", ["double-fork", pidfile]), ("sleep", ["sleep", 5]))
            return probe, {"files": True, "started": kill_supervisor,
                           "before_stop": self.unit_survivors, "after": self.after_death}
        self.row("supervisor SIGKILLed from outside", plan,
                 lambda o: self.death_judge(o, "the test"), privileged="stopped")


RUN_TRUE = ["--", "/bin/true"]

if __name__ == "__main__":
    escapetest.main()
