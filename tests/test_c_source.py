"""Source rules of the C core (STYLE.md): no process exits, no printing, no
Python, every reads through checked helpers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "src" / "core"
SOURCES = sorted(p for p in CORE.glob("*.[ch]") if p.name != "dict_data.h")

FORBIDDEN = [
    (re.compile(r"\babort\s*\("), "abort()"),
    (re.compile(r"\bexit\s*\("), "exit()"),
    (re.compile(r"(?<![sn])printf\s*\(|\bputs\s*\(|\bfprintf\s*\("), "printing"),
    (re.compile(r"#\s*include\s*[<\"]Python\.h"), "Python.h"),
    (re.compile(r"^\s*assert\s*\(", re.M), "assert() (use RD_ASSERT)"),
]


def test_core_sources_found():
    assert {p.name for p in SOURCES} >= {"scan.c", "index.c", "inflate.c", "dict.c",
                                         "rapidicom.h", "rd_common.h"}


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_forbidden_calls(path):
    text = path.read_text()
    found = [what for pattern, what in FORBIDDEN if pattern.search(text)]
    assert not found, f"{path.name} uses {', '.join(found)}"
