"""The same programs under real supervisord and, converted by
sbx-import-supervisord, under sbxd, side by side for a few seconds:
the same exit behaviour (an exit code listed in exitcodes with
autorestart=unexpected is not restarted, one not listed is; autorestart
true restarts a clean exit, false restarts nothing), the same
environment and working directory, numprocs giving the same processes,
and stopsignal delivered at the stop. supervisord runs in the foreground
(-n) as our child, with its socket, pidfile and logs in a temporary dir.
"""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sbxd"))
import sbxdtest  # noqa: E402
import supervisor  # noqa: E402

IMPORT = os.environ.get("SBX_IMPORT", "")
SETTLE_SECONDS = 1.0  # after everything ran: a restart of "expected" would have come

CONF = """\
[unix_http_server]
file=%(here)s/supervisor.sock

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s
user=root

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:expected]
command=sh -c 'echo start >> "$OUT/expected"; sleep 0.2; exit 3'
environment=OUT="%(ENV_OUT)s"
autorestart=unexpected
exitcodes=0,3
startsecs=0

[program:unexpected]
command=sh -c 'echo start >> "$OUT/unexpected"; sleep 0.2; exit 1'
environment=OUT="%(ENV_OUT)s"
autorestart=unexpected
exitcodes=0,3
startsecs=0

[program:always]
command=sh -c 'echo start >> "$OUT/always"; sleep 0.2; exit 0'
environment=OUT="%(ENV_OUT)s"
autorestart=true
startsecs=0

[program:never]
command=sh -c 'echo start >> "$OUT/never"; sleep 0.2; exit 1'
environment=OUT="%(ENV_OUT)s"
autorestart=false
startsecs=0

[program:envcwd]
command=sh -c 'echo "$GREETING|$(pwd)" > "$OUT/envcwd"; exec sleep 60'
environment=OUT="%(ENV_OUT)s",GREETING="hello, world"
directory=%(here)s/work

[program:pool]
command=sh -c 'echo %(process_num)d > "$OUT/%(program_name)s-%(process_num)d"; exec sleep 60'
process_name=%(program_name)s_%(process_num)d
numprocs=2
environment=OUT="%(ENV_OUT)s"

[program:stopsig]
command=sh -c 'trap "echo INT > \\"$OUT/stopsig\\"; exit 0" INT; trap "echo TERM > \\"$OUT/stopsig\\"; exit 0" TERM; sleep 60 & wait'
environment=OUT="%(ENV_OUT)s"
stopsignal=INT
"""


def starts(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return len(f.read().split())
    except FileNotFoundError:
        return 0


def read(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


class SideBySideTest(sbxdtest.TestCase):

    @staticmethod
    def settled(out):
        """Every program has started (the restarting ones twice)."""
        return (starts(out, "unexpected") > 1 and starts(out, "always") > 1 and
                starts(out, "expected") and starts(out, "never") and read(out, "envcwd") and
                os.path.exists(os.path.join(out, "pool-1")) and
                os.path.exists(os.path.join(out, "pool-0")))

    def test_same_programs_same_behaviour(self):
        if not supervisor.ensure():
            sbxdtest.skip("supervisor (supervisord) is not installed and cannot be")
        conf_dir = os.path.join(self.tmp, "supervisor")
        out_sv, out_sbx = os.path.join(self.tmp, "out-supervisord"), os.path.join(self.tmp, "out-sbxd")
        for d in (conf_dir, os.path.join(conf_dir, "work"), out_sv, out_sbx):
            os.makedirs(d)
        conf = os.path.join(conf_dir, "supervisord.conf")
        with open(conf, "w") as f:
            f.write(CONF)

        env = dict(os.environ, OUT=out_sbx)
        p = subprocess.run([IMPORT, conf, "-o", self.units, "--force"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

        sv = subprocess.Popen(["supervisord", "-n", "-c", conf], env=dict(os.environ, OUT=out_sv),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            d = self.start_sbxd()
            ready = sbxdtest.wait_until(lambda: all(self.settled(o) for o in (out_sv, out_sbx)), 30)
            time.sleep(SETTLE_SECONDS)
            d.signal(signal.SIGTERM)
            sv.send_signal(signal.SIGTERM)
            sv.wait(30)
            d.proc.wait(30)
        finally:
            if sv.poll() is None:
                sv.kill()
                sv.wait()

        self.assertTrue(ready, "not every program ran under both within 30s")
        got = {}
        for out in (out_sv, out_sbx):
            got[out] = {
                "expected restarted": starts(out, "expected") > 1,
                "unexpected restarted": starts(out, "unexpected") > 1,
                "always restarted": starts(out, "always") > 1,
                "never restarted": starts(out, "never") > 1,
                "envcwd": read(out, "envcwd"),
                "pool": sorted(f for f in os.listdir(out) if f.startswith("pool")),
                "stopsig": read(out, "stopsig"),
            }
        self.assertEqual(got[out_sv], {
            "expected restarted": False, "unexpected restarted": True,
            "always restarted": True, "never restarted": False,
            "envcwd": "hello, world|%s\n" % os.path.join(conf_dir, "work"),
            "pool": ["pool-0", "pool-1"], "stopsig": "INT\n"}, "supervisord itself")
        self.assertEqual(got[out_sbx], got[out_sv], self.d.transcript())
        for name in ("expected", "never"):
            self.assertEqual(starts(out_sbx, name), 1)
            self.assertEqual(starts(out_sv, name), 1)


if __name__ == "__main__":
    sbxdtest.main()
