"""The installed layout and the Debian package.

A tree configured as a package is (prefix /usr, no tests) is built below
this build tree. Then: `cmake --install` into a DESTDIR gives exactly the
FHS layout; cpack makes sbx_VERSION_ARCH.deb with its dependencies
computed and its conffiles marked; lintian finds no error in it; dpkg
installs it on this host without starting anything (the maintainer
scripts start sbxd only through systemd, which is not running here),
upgrades it to a build with a higher version (-DSBX_VERSION_OVERRIDE)
keeping a changed conffile and the administrator's units, and purges it,
which removes /etc/sbx and /var/log/sbx. An sbxd running during the
upgrade (on the default socket) is re-executed by postinst onto the new
binary: its unit keeps its pid, and sbxd then says the new version.
"""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import sbxtest  # noqa: E402

SRC = os.environ.get("SBX_SOURCE_DIR", "")
PKG = os.environ.get("SBX_PKG_BUILD", "")
CMAKE = os.environ.get("CMAKE", "cmake")
CPACK = os.environ.get("CPACK", "cpack")
VERSION = os.environ.get("SBX_VERSION", "")
UPGRADE = VERSION + "+upgrade1"  # sorts above VERSION for dpkg

LAYOUT = {
    "usr/sbin/sbxd", "usr/bin/sbxctl", "usr/bin/sbx-run", "usr/bin/sbx-import-supervisord",
    "usr/share/man/man1/sbx-run.1.gz", "usr/share/man/man1/sbxctl.1.gz",
    "usr/share/man/man1/sbx-import-supervisord.1.gz", "usr/share/man/man5/sbx.unit.5.gz",
    "usr/share/man/man5/sbxd.ini.5.gz", "usr/share/man/man8/sbxd.8.gz",
    "usr/share/bash-completion/completions/sbxctl",
    "usr/share/doc/sbx/copyright", "usr/share/doc/sbx/changelog.gz",
    "etc/sbx/sbxd.ini", "etc/sbx/conf.d/README", "lib/systemd/system/sbxd.service",
}
CONFFILES = {"/etc/sbx/sbxd.ini", "/etc/sbx/conf.d/README"}


def run(argv, **kw):
    kw.setdefault("timeout", 900)
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
    return p.stdout + p.stderr


def configure(version=""):
    run([CMAKE, "-S", SRC, "-B", PKG, "-DCMAKE_INSTALL_PREFIX=/usr", "-DSBX_TESTS=OFF",
         "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DSBX_VERSION_OVERRIDE=" + version])


def make_deb(outdir, version=""):
    """cpack in the package tree; the .deb's path."""
    configure(version)
    try:
        run([CPACK, "-G", "DEB", "-B", outdir], cwd=PKG)
    finally:
        if version:
            configure()
    debs = [f for f in os.listdir(outdir) if f.endswith(".deb")]
    if len(debs) != 1:
        raise AssertionError("cpack made %s" % debs)
    return os.path.join(outdir, debs[0])


def sbxd_processes():
    """pids running the installed sbxd."""
    out = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.readlink("/proc/%s/exe" % name) == "/usr/sbin/sbxd":
                out.append(int(name))
        except OSError:
            pass
    return out


def installed_version():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", "sbx"],
                       capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.startswith("install ok installed"):
        return None
    return p.stdout.split()[-1]


class PackageTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sbx-install-", dir=sbxtest.tmp_base())
        configure()
        run([CMAKE, "--build", PKG, "-j", str(os.cpu_count() or 2)], timeout=1200)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def first_deb(cls):
        """The package of the project's version (made once)."""
        if not getattr(cls, "deb", None):
            cls.deb = make_deb(os.path.join(cls.tmp, "v1"))
        return cls.deb

    def test_a_install_layout(self):
        root = os.path.join(self.tmp, "root")
        run([CMAKE, "--install", PKG], env=dict(os.environ, DESTDIR=root))
        found = set()
        for top, _, files in os.walk(root):
            found |= {os.path.relpath(os.path.join(top, f), root) for f in files}
        self.assertEqual(found, LAYOUT)
        with open(os.path.join(root, "lib/systemd/system/sbxd.service")) as f:
            unit = f.read()
        for line in ("ExecStart=/usr/sbin/sbxd --config /etc/sbx/sbxd.ini --units-scope sbx-units",
                     "Type=notify", "Delegate=yes", "ExecReload=/usr/bin/sbxctl reload",
                     "RuntimeDirectory=sbx", "RuntimeDirectoryPreserve=restart", "LogsDirectory=sbx"):
            self.assertIn(line + "\n", unit)
        # The settings file as shipped is valid, and so is the units directory.
        sbxd = os.path.join(root, "usr/sbin/sbxd")
        out = run([sbxd, "--config", os.path.join(root, "etc/sbx/sbxd.ini"),
                   "--check", os.path.join(root, "etc/sbx/conf.d")])
        self.assertIn("all units are valid", out)
        with open(sbxd, "rb") as f:
            binary = f.read()
        for path in (b"/usr/sbin/sbxd", b"/etc/sbx/conf.d", b"/var/log/sbx"):
            self.assertIn(path, binary)

    def test_b_deb_and_lintian(self):
        deb = self.first_deb()
        arch = run(["dpkg", "--print-architecture"]).strip()
        self.assertEqual(os.path.basename(deb), "sbx_%s_%s.deb" % (VERSION, arch))
        info = run(["dpkg-deb", "-f", deb])
        self.assertRegex(info, r"(?m)^Depends: .*libuv1 .*")        # from dpkg-shlibdeps
        self.assertRegex(info, r"(?m)^Depends: .*libjansson4 .*")
        ctrl = os.path.join(self.tmp, "ctrl")
        run(["dpkg-deb", "-e", deb, ctrl])
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(set(f.read().split()), CONFFILES)
        for script in ("postinst", "prerm", "postrm"):
            self.assertTrue(os.access(os.path.join(ctrl, script), os.X_OK), script)
        if not shutil.which("lintian"):
            sbxtest.skip("lintian is not installed (apt-get install lintian)")
        p = subprocess.run(["lintian", "--allow-root", deb], capture_output=True, text=True, timeout=600)
        sys.stderr.write("lintian %s:\n%s%s" % (os.path.basename(deb), p.stdout, p.stderr))
        errors = [l for l in p.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], p.stdout)
        self.assertNotIn(p.returncode, (2,), p.stderr)  # 2: lintian itself failed

    def test_c_dpkg_install_upgrade_purge(self):
        sbxtest.need_root()
        lock = open("/run/lock/sbx-install-test.lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version():
            sbxtest.skip("a package named sbx is installed on this host: not touched")
        if sbxd_processes():
            sbxtest.skip("an installed sbxd is running on this host: not touched")
        first = self.first_deb()
        second = make_deb(os.path.join(self.tmp, "v2"), UPGRADE)
        try:
            self.install_and_check(first)
            self.upgrade_and_check(second)
        finally:
            purge = subprocess.run(["dpkg", "--purge", "sbx"], capture_output=True, text=True)
        self.assertEqual(purge.returncode, 0, purge.stdout + purge.stderr)
        self.assertIsNone(installed_version())
        for path in ("/etc/sbx", "/var/log/sbx", "/usr/sbin/sbxd", "/lib/systemd/system/sbxd.service"):
            self.assertFalse(os.path.lexists(path), path)

    def install_and_check(self, deb):
        run(["dpkg", "-i", deb])
        self.assertEqual(installed_version(), VERSION)
        listed = set(run(["dpkg", "-L", "sbx"]).split("\n"))
        self.assertLessEqual({"/" + p for p in LAYOUT}, listed)
        self.assertEqual(set(re.findall(r"(/\S+) [0-9a-f]{32}",
                                        run(["dpkg-query", "-W", "-f=${Conffiles}", "sbx"]))), CONFFILES)
        self.assertEqual(sbxd_processes(), [], "installing started sbxd")
        self.assertEqual(os.stat("/var/log/sbx").st_mode & 0o777, 0o750)
        if shutil.which("systemd-analyze"):
            p = subprocess.run(["systemd-analyze", "verify", "/lib/systemd/system/sbxd.service"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        self.installed_sbxd_defaults()

    def installed_sbxd_defaults(self):
        """/usr/sbin/sbxd with no --units reads /etc/sbx/conf.d."""
        if sbxtest.machine().mode == "none":
            return  # no cgroups to run it with; the layout test saw the paths
        root = "sbx-install-test-%d" % os.getpid()
        p = subprocess.Popen(["/usr/sbin/sbxd", "--socket", "none", "--cgroup-root", root],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            line = p.stdout.readline()
            while line and "loaded from" not in line:
                line = p.stdout.readline()
        finally:
            p.send_signal(signal.SIGTERM)
            rest = p.communicate(timeout=30)[0]
        self.assertIn("0 unit(s) loaded from /etc/sbx/conf.d,", line, rest)
        self.assertEqual(p.returncode, 0, rest)

    def start_installed_sbxd(self):
        """The installed sbxd on the default socket (as postinst finds it),
        with a unit; returns (process, the unit's pid), or None when this
        host cannot run it (no cgroups, or the socket is in use)."""
        if sbxtest.machine().mode == "none" or os.path.exists("/run/sbx/sbxd.sock"):
            return None
        root = "sbx-install-up-%d" % os.getpid()
        state = os.path.join(self.tmp, "state")
        p = subprocess.Popen(["/usr/sbin/sbxd", "--config", "/etc/sbx/sbxd.ini",
                              "--cgroup-root", root, "--state-dir", state, "--log-dir",
                              os.path.join(self.tmp, "logs")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.tmp, "sbxd.err"), "w"))
        for _ in range(200):
            st = subprocess.run(["/usr/bin/sbxctl", "status", "--json"], capture_output=True,
                                text=True)
            units = json.loads(st.stdout)["units"] if st.returncode == 0 else []
            pid = [u["pid"] for u in units if u["name"] == "keep" and u["state"] == "running"]
            if pid:
                return p, pid[0]
            if p.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        p.kill()
        p.wait()
        with open(os.path.join(self.tmp, "sbxd.err")) as f:
            raise AssertionError("the installed sbxd did not run its unit:\n" + f.read())

    def upgrade_and_check(self, deb):
        with open("/etc/sbx/sbxd.ini", "a") as f:
            f.write("; changed by the administrator\n")
        with open("/etc/sbx/conf.d/mine.ini", "w") as f:
            f.write("[exec]\ncommand = sleep 1\n")
        with open("/etc/sbx/conf.d/keep.ini", "w") as f:
            f.write("[exec]\ncommand = sleep 1000\n")
        running = self.start_installed_sbxd()
        try:
            out = run(["dpkg", "-i", deb])
            self.assertEqual(installed_version(), UPGRADE, out)
            if running:
                p, pid = running
                self.assertIsNone(p.poll(), "sbxd ended in the upgrade")
                st = json.loads(run(["/usr/bin/sbxctl", "status", "--json"]))["units"]
                self.assertEqual([u["pid"] for u in st if u["name"] == "keep"], [pid], out)
                self.assertIn("-> " + UPGRADE, out)
                self.assertEqual(run(["/usr/bin/sbxctl", "version"]).strip(), "sbxd " + UPGRADE)
        finally:
            if running:
                running[0].send_signal(signal.SIGTERM)
                running[0].wait(60)
            os.unlink("/etc/sbx/conf.d/keep.ini")
        with open("/etc/sbx/sbxd.ini") as f:
            self.assertIn("; changed by the administrator", f.read())
        self.assertTrue(os.path.exists("/etc/sbx/conf.d/mine.ini"))
        self.assertEqual(sbxd_processes(), [], "upgrading started sbxd")


if __name__ == "__main__":
    sbxtest.main()
