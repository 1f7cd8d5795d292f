"""Another unit's sd_notify socket: a unit sends READY=1 for a unit that
uses `ready = notify` and never says it is ready itself, by the victim's
socket path, by a sender that exits before sbxd reads (its pid can no
longer be looked up), by every socket it finds below sbxd's notify tree,
and through /proc/PID/root. In a contained unit the tree is hidden (only a
unit's own directory is bound back), so every send fails and the victim
stays `starting`.

Only units meet sbxd: the sbx-run places are not applicable. The
privileged place is a unit with [sandbox] privileged = yes: it shares the
host's files, so its sends arrive (the row can fail); a live sender is
refused there, but one that exits at once may be taken for the victim
(sbx.unit(5) says what holds for such units)."""

import os

import escapetest
from sbxdtest import wait_until


class NotifySocket(escapetest.EscapeCase):
    def test_ready_for_another_unit(self):
        run_dir = os.path.join(self.tmp, "run")
        told = os.path.join(self.box, "victim.path")

        def victim_path():
            for dirpath, _, files in os.walk(os.path.join(run_dir, "notify")):
                if os.path.basename(dirpath) == "victim" and "notify" in files:
                    return os.path.join(dirpath, "notify")
            return None

        def started(o):
            # The path the host sees, told to the probe (it cannot look).
            if os.path.exists(told):
                os.unlink(told)
            wait_until(lambda: victim_path() is not None, 10)
            with open(told + ".tmp", "w") as f:
                f.write(victim_path() or "/nonexistent")
            os.chmod(told + ".tmp", 0o644)
            os.rename(told + ".tmp", told)

        def before_stop(o):
            events = [e for e in self.d.events if e.unit == "victim"]
            o.host["victim ready"] = any(e.state == "running" for e in events)

        def plan(ctx):
            victim = {"exec": {"command": "sleep 60", "ready": "notify", "ready_timeout": "0"}}
            return (self.py("notify", os.path.join(run_dir, "notify"), told),
                    {"units": {"victim": victim}, "sbxd_args": ["--run-dir", run_dir],
                     "started": started, "before_stop": before_stop})

        def judge(o):
            sent = [w for w, _ in o.worked() if w.startswith("send ")]
            why = o.said()
            if o.host.get("victim ready"):
                why = "the victim was made ready; " + why
            # A privileged sender that exits at once may make it ready: only
            # the contained places are judged by the victim's state.
            made_ready = o.host.get("victim ready") and o.ctx in escapetest.CONTAINED
            return bool(sent) or bool(made_ready), why
        self.row("sd_notify: READY=1 for another unit", plan, judge, privileged="succeeds",
                 privileged_unit=True,
                 contexts=("unit-default", "unit-nobody", escapetest.PRIVILEGED))


if __name__ == "__main__":
    escapetest.main()
