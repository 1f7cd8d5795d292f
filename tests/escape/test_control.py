"""sbxd's control socket from inside a unit: it must be out of reach (not
in the unit's mount namespace) and, where a unit reaches it anyway, a
peer in a unit's cgroup is refused even with sbxd's own uid, so no unit
can raise its own limits (`set`) or start an unlimited one (`run`).

Only units meet sbxd: the sbx-run places are not applicable. The
privileged place is a unit with [sandbox] privileged = yes: it shares the
host's files, so it may connect, but must still be refused."""

import os

import escapetest


class ControlSocket(escapetest.EscapeCase):
    def test_set_and_run_from_a_unit(self):
        sock = os.path.join(self.tmp, "sbxd.sock")

        def judge(o):
            changed = [w for w, _ in o.worked() if w.startswith(("set ", "run "))]
            return bool(changed), o.said()
        self.row("sbxd's control socket: set own limit, run a transient unit",
                 lambda ctx: (self.py("control", sock, "probe"), {}), judge,
                 privileged="stopped", privileged_unit=True,
                 contexts=("unit-default", "unit-nobody", escapetest.PRIVILEGED))


if __name__ == "__main__":
    escapetest.main()
