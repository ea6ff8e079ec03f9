"""Tests of the C data dictionary (src/core/dict.c + dict_data.h).

None of these needs the compiled rapidicom package: the C tests build
src/core/dict.c with the system compiler, and the data tests read the files
in vendor/ and tools/ directly.  pydicom is a required test dependency; it is
the reference that the vendored data and the C lookups are compared with.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pydicom
from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
from pydicom._private_dict import private_dictionaries
from pydicom.datadict import get_entry, get_private_entry, keyword_dict

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "src" / "core"
VENDOR = ROOT / "vendor"
CC = shutil.which("cc")
CFLAGS = ["-O1", "-Wall", "-Wextra", "-Werror", f"-I{CORE}"]

needs_cc = pytest.mark.skipif(
    CC is None, reason="no C compiler named `cc` on PATH to build src/core/dict.c")


def compile_c(tmp_path: Path, *sources: Path) -> Path:
    exe = tmp_path / "prog"
    cmd = [CC, *CFLAGS, str(CORE / "dict.c"), *map(str, sources), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
    return exe


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.pop() == "", f"{path.name}: no final newline"
    rows = [line.split("\t") for line in lines]
    header = rows.pop(0)
    assert all(len(r) == len(header) for r in rows)
    return header, rows


def retired(flag: str) -> str:
    return {"0": "", "1": "Retired"}[flag]


# ---------------------------------------------------------------------------
# The standalone C test program
# ---------------------------------------------------------------------------

@needs_cc
def test_c_program(tmp_path):
    exe = compile_c(tmp_path, ROOT / "tests" / "c" / "test_dict.c")
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------------
# Vendored data and the generated header
# ---------------------------------------------------------------------------

def test_vendor_tsv_matches_pydicom():
    header, rows = read_tsv(VENDOR / "dicom_dictionary.tsv")
    assert header == ["tag", "vr", "vm", "name", "keyword", "retired"]
    exact = {}
    repeat = []
    for tag, vr, vm, name, keyword, ret in rows:
        value = (vr, vm, name, retired(ret), keyword)
        if "x" in tag:
            repeat.append((tag, value))
        else:
            assert re.fullmatch(r"[0-9A-F]{8}", tag)
            exact[int(tag, 16)] = value
    assert list(exact.items()) == list(DicomDictionary.items())
    # order matters: it is the order mask_match tries the masks in
    assert repeat == list(RepeatersDictionary.items())

    header, rows = read_tsv(VENDOR / "private_dictionary.tsv")
    assert header == ["creator", "tag", "vr", "vm", "name", "retired"]
    private: dict[str, dict[str, tuple]] = {}
    for creator, key, vr, vm, name, ret in rows:
        assert key not in private.setdefault(creator, {})
        private[creator][key] = (vr, vm, name, retired(ret))
    assert list(private) == list(private_dictionaries)
    for creator, entries in private_dictionaries.items():
        assert list(private[creator].items()) == list(entries.items()), creator


def test_vendor_readme_records_hashes():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for name in ("dicom_dictionary.tsv", "private_dictionary.tsv"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest in readme, f"vendor/README.md lacks the sha256 of {name}"
    assert (VENDOR / "LICENSE.pydicom").is_file()


def test_generated_header_is_current(tmp_path):
    out = tmp_path / "dict_data.h"
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_dict.py"),
                    "--out", str(out)], check=True)
    assert out.read_bytes() == (CORE / "dict_data.h").read_bytes(), (
        "src/core/dict_data.h is stale: run python tools/gen_dict.py")


# ---------------------------------------------------------------------------
# Differential test: every lookup of the C code against pydicom
# ---------------------------------------------------------------------------

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rapidicom.h"

/* stdin lines:  T <hex tag> | K <keyword> | P <hex tag> <creator>  (TAB) */
int
main(void)
{
    static char line[512];

    while (fgets(line, sizeof line, stdin)) {
        char *arg = line + 2, *creator;
        size_t n = strcspn(line, "\n");

        line[n] = '\0';
        if (line[0] == 'T') {
            const rd_dict_entry *e = rd_dict_find((uint32_t)strtoul(arg, NULL, 16));
            if (e)
                printf("%s\t%s\t%s\t%s\t%s\n", e->vr, e->vm, e->name,
                       e->retired ? "Retired" : "", e->keyword);
            else
                printf("-\n");
        } else if (line[0] == 'K') {
            const rd_dict_entry *e = rd_dict_find_keyword(arg, strlen(arg));
            if (e)
                printf("%08X\n", (unsigned)e->tag);
            else
                printf("-\n");
        } else {
            const char *vr;
            creator = strchr(arg, '\t') + 1;
            vr = rd_private_dict_vr(creator, strlen(creator),
                                    (uint32_t)strtoul(arg, NULL, 16));
            printf("%s\n", vr ? vr : "-");
        }
    }
    return 0;
}
"""


def run_driver(exe: Path, queries: list[str]) -> list[str]:
    proc = subprocess.run([str(exe)], input="".join(q + "\n" for q in queries),
                          capture_output=True, encoding="utf-8", check=True)
    out = proc.stdout.split("\n")
    assert out.pop() == ""
    assert len(out) == len(queries)
    return out


def pydicom_entry(tag: int) -> str:
    try:
        return "\t".join(get_entry(tag))
    except KeyError:
        return "-"


def pydicom_private(tag: int, creator: str) -> str:
    try:
        return get_private_entry(tag, creator)[0]
    except KeyError:
        return "-"


def private_probe_tags(key: str) -> list[int]:
    """Concrete tags that exercise a private dictionary key and its neighbours."""
    if "x" not in key:
        tag = int(key, 16)
        return [tag, tag ^ 0x0100, tag ^ 0x1000, tag ^ 0x00010000]
    if re.fullmatch(r"[0-9A-F]{4}xx[0-9A-F]{2}", key):
        return [int(key.replace("xx", b), 16) for b in ("10", "11", "FF", "00")]
    if re.fullmatch(r"[0-9A-F]{2}xxxx[0-9A-F]{2}", key):
        return [int(key.replace("xxxx", g), 16) for g in ("0110", "1F12", "0010")]
    return [int(key.replace("x", "1"), 16)]  # unreachable shapes: still ask


@needs_cc
def test_c_lookups_match_pydicom(tmp_path):
    src = tmp_path / "driver.c"
    src.write_text(DRIVER)
    exe = compile_c(tmp_path, src)
    rng = random.Random(20240229)

    tags = list(DicomDictionary)
    for mask in RepeatersDictionary:
        for _ in range(8):
            tags.append(int("".join(rng.choice("0123456789ABCDEF") if c == "x"
                                    else c for c in mask), 16))
    tags += [rng.getrandbits(32) for _ in range(20000)]
    tags += [rng.getrandbits(16) << 16 | e for e in (0, 0x10, 0x1000) for _ in range(500)]
    tags += [0xFFFFFFFF, 0xFFFEE000, 0xFFFEE00D, 0x00080000]
    got = run_driver(exe, [f"T {t:08X}" for t in tags])
    bad = [(f"{t:08X}", g, pydicom_entry(t)) for t, g in zip(tags, got)
           if g != pydicom_entry(t)]
    assert not bad, bad[:20]

    words = [k for k in keyword_dict if k]
    words += [k.lower() for k in words[::50]] + [k[:-1] for k in words[::50]]
    words += [k + "s" for k in words[::50]]
    # every proper prefix: a probe chain passing a longer keyword must not match
    words += sorted({k[:n] for k in keyword_dict for n in range(1, len(k))})
    # repeater keywords are not exact entries; tag_for_keyword does not know them
    words += [v[4] for v in RepeatersDictionary.values()] + ["GroupLength", "Zz"]
    got = run_driver(exe, [f"K {w}" for w in words])
    expect = [f"{keyword_dict[w]:08X}" if w in keyword_dict else "-" for w in words]
    bad = [(w, g, e) for w, g, e in zip(words, got, expect) if g != e]
    assert not bad, bad[:20]

    creators = list(private_dictionaries)
    queries, expect = [], []
    for i, (creator, entries) in enumerate(private_dictionaries.items()):
        other = creators[(i + 1) % len(creators)]
        for key in entries:
            for tag in private_probe_tags(key):
                for c in (creator, other, creator.lower(), creator + "_"):
                    queries.append(f"P {tag:08X}\t{c}")
                    expect.append(pydicom_private(tag, c))
    got = run_driver(exe, queries)
    bad = [(q, g, e) for q, g, e in zip(queries, got, expect) if g != e]
    assert not bad, bad[:20]
    assert pydicom.__version__  # the reference actually imported
