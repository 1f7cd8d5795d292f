"""The man pages: each renders without a warning (groff -man -ww -z), and
the formats' pages agree with the parsers, checked from outside:

- every key sbx.unit(5) documents, with the value of its own "Example:"
  line, is accepted by `sbxd --check` (no "unknown key", no bad value);
- every key the unit parser accepts is documented: each word-like string
  literal of the sbxd binary (and its suffixes after a '_': the linker may
  share a string's tail) is tried as a key in every section, and those the parser
  does not call "unknown key" must be in the page. The same for sections.
- sbxd.ini(5) likewise against `sbxd --config FILE --check DIR`.
No table of the parser is read, so a refactored parser is judged the same.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MAN = os.path.join(HERE, "..", "..", "man")
SBXD = os.environ.get("SBXD", "")


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def documented(text):
    """{(section, key): example value} from .SS [section] and Example: lines."""
    keys, section = {}, None
    for line in text.splitlines():
        m = re.match(r'^\.SS \[(\w+)\]$', line)
        if m:
            section = m.group(1)
        elif line.startswith(".SH"):
            section = None
        m = re.match(r'^Example: \\fB(\w+) = (.*)\\fR$', line)
        if m and section:
            keys[(section, m.group(1))] = m.group(2).replace("\\-", "-").replace("\\e", "\\")
    return keys


def heading_keys(text):
    """(section, key) of every .TP entry's .BI heading under a .SS [section]."""
    out, section, lines = set(), None, text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^\.SS \[(\w+)\]$', line)
        if m:
            section = m.group(1)
        elif line.startswith(".SH"):
            section = None
        elif line == ".TP" and section and i + 1 < len(lines):
            m = re.match(r'^\.BI? "?(\w+) = ', lines[i + 1])
            if m:
                out.add((section, m.group(1)))
    return out


def binary_words(path):
    """Every [a-z_]+ run of 3+ bytes in the binary's string literals
    (.rodata, or the whole file without objcopy), and its suffixes after
    each '_' (the linker may share the tail of a longer string)."""
    with tempfile.TemporaryDirectory() as d:
        ro = os.path.join(d, "rodata")
        try:
            subprocess.run(["objcopy", "--dump-section", ".rodata=" + ro, path, os.path.join(d, "x")],
                           check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.CalledProcessError):
            ro = path
        with open(ro, "rb") as f:
            data = f.read()
    words = set()
    for m in re.finditer(rb"[a-z_]{3,40}", data):
        w = m.group().decode()
        words.add(w)
        words.update(w[i + 1:] for i, c in enumerate(w) if c == "_" and len(w) - i > 3)
    return sorted(words)


def check(units_dir):
    p = subprocess.run([SBXD, "--check", units_dir], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class ManTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not SBXD or not os.access(SBXD, os.X_OK):
            self.fail("SBXD must name the sbxd binary (got %r)" % SBXD)
        self.tmp = tempfile.mkdtemp(prefix="sbx-man-")

    def write(self, name, text):
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(text)

    def test_groff_renders_every_page_without_warnings(self):
        pages = sorted(f for f in os.listdir(MAN) if re.search(r"\.[158]$", f))
        self.assertGreaterEqual(len(pages), 6, pages)
        for name in pages:
            p = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(MAN, name)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""), name)

    def test_every_documented_unit_key_is_accepted(self):
        text = page("sbx.unit.5")
        keys = documented(text)
        self.assertEqual(set(keys), heading_keys(text),
                         "every key's entry has one Example: line, and only those")
        self.assertGreater(len(keys), 40)
        sections = {}
        for (section, key), value in keys.items():
            sections.setdefault(section, []).append("%s = %s" % (key, value))
        body = "".join("[%s]\n%s\n\n" % (s, "\n".join(kv)) for s, kv in sections.items())
        units = os.path.join(self.tmp, "units")
        os.mkdir(units)
        with open(os.path.join(units, "all.ini"), "w") as f:
            f.write(body)
        with open(os.path.join(units, "cache.ini"), "w") as f:
            f.write("[exec]\ncommand = sleep 1\n")  # what the examples require
        status, out = check(units)
        self.assertEqual(status, 0, "%s\n%s" % (out, body))

    def test_every_key_the_unit_parser_accepts_is_documented(self):
        doc = set(documented(page("sbx.unit.5")))
        doc_sections = {s for s, _ in doc}
        words = binary_words(SBXD)
        units = os.path.join(self.tmp, "probe")
        os.mkdir(units)
        # Sections: a header per word; the parser names the unknown ones.
        with open(os.path.join(units, "s.ini"), "w") as f:
            f.write("".join("[%s]\n" % w for w in words))
        _, out = check(units)
        unknown = set(re.findall(r"unknown section \[(\w+)\]", out))
        accepted_sections = set(words) - unknown
        self.assertEqual(accepted_sections, doc_sections, "sections: parser vs sbx.unit(5)")
        os.unlink(os.path.join(units, "s.ini"))
        accepted = set()
        for section in sorted(accepted_sections):
            path = os.path.join(units, "k.ini")
            with open(path, "w") as f:
                f.write("[%s]\n" % section + "".join("%s = x\n" % w for w in words))
            _, out = check(units)
            lines = {int(m.group(1)): m.group(2) for m in
                     re.finditer(r"k\.ini:(\d+): \[\w+\] \w+: (.*)", out)}
            for i, w in enumerate(words):
                if lines.get(i + 2) != "unknown key":
                    accepted.add((section, w))
        self.assertEqual(sorted(accepted - doc), [], "accepted by the parser, not in sbx.unit(5)")
        self.assertEqual(sorted(doc - accepted), [], "in sbx.unit(5), unknown to the parser")

    def config_accepts(self, lines):
        """sbxd --config with these lines: the keys it calls unknown."""
        self.write("sbxd.ini", "[sbxd]\n" + "".join(l + "\n" for l in lines))
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty, exist_ok=True)
        p = subprocess.run([SBXD, "--config", os.path.join(self.tmp, "sbxd.ini"), "--check", empty],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, set(re.findall(r"\[sbxd\] (\w+): unknown key", p.stderr)), p.stderr

    def test_sbxd_ini_keys_match_the_settings_parser(self):
        doc = documented(page("sbxd.ini.5"))
        self.assertEqual(set(doc), heading_keys(page("sbxd.ini.5")))
        self.assertEqual({s for s, _ in doc}, {"sbxd"})
        status, unknown, err = self.config_accepts(["%s = %s" % (k, v) for (_, k), v in doc.items()])
        self.assertEqual((status, unknown), (0, set()), err)
        # Every other word of the binary: in batches (sbxd keeps a few values per file).
        words = [w for w in binary_words(SBXD) if ("sbxd", w) not in doc]
        accepted = set()
        for i in range(0, len(words), 6):
            batch = words[i:i + 6]
            _, unknown, _ = self.config_accepts(["%s = x" % w for w in batch])
            accepted |= set(batch) - unknown
        self.assertEqual(sorted(accepted), [], "settings accepted by sbxd, not in sbxd.ini(5)")

    def test_the_installed_settings_file_holds_every_key(self):
        with open(os.path.join(HERE, "..", "..", "packaging", "sbxd.ini")) as f:
            text = f.read()
        keys = set(re.findall(r"^;(\w+) = ", text, re.M))
        self.assertEqual(keys, {k for _, k in documented(page("sbxd.ini.5"))})


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False).result.wasSuccessful() else 1)
