"""Source rules of the C core (STYLE.md): no process exits, no printing, no
Python, every reads through checked helpers."""
from __future__ import annotations

import re
import shutil
import subprocess
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


# ---------------------------------------------------------------------------
# No global mutable state
# ---------------------------------------------------------------------------

# Sections of an object file that hold writable data.  .data.rel.ro* is not
# among them: it holds const tables of pointers (the dictionary), written
# once by the dynamic linker and read-only afterwards (RELRO).
WRITABLE_SECTION = re.compile(r"^\.(data|bss|tdata|tbss)(\.(?!rel\.ro)\S*)?$")
C_SOURCES = sorted(CORE.glob("*.c"))
# What each file includes from outside the core.
C_FILE_LIBRARIES = {"jpeg.c": ("libjpeg",), "j2k.c": ("libopenjp2",), "jls.c": ("charls",)}


def _writable_data(obj: Path) -> tuple[list[str], list[str]]:
    """(writable sections with a non-zero size, symbols defined in them)."""
    objdump = shutil.which("objdump")
    headers = subprocess.run([objdump, "-h", str(obj)], capture_output=True, text=True,
                             check=True).stdout
    sections = [f"{name} ({int(size, 16)} bytes)"
                for name, size in re.findall(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s", headers, re.M)
                if WRITABLE_SECTION.match(name) and int(size, 16)]
    table = subprocess.run([objdump, "-t", str(obj)], capture_output=True, text=True,
                           check=True).stdout
    symbols = [f"{line.split()[-1]} in {section}"
               for line in table.splitlines()
               for section in re.findall(r"\s(\.\S+)\s+[0-9a-f]{8,}\s", line)
               if WRITABLE_SECTION.match(section) and not line.rstrip().endswith(section)]
    return sections, symbols


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("objdump") is None,
                    reason="needs cc and objdump (binutils)")
@pytest.mark.parametrize("path", C_SOURCES, ids=[p.name for p in C_SOURCES])
def test_no_global_mutable_state(path, tmp_path):
    """The core is reentrant (rapidicom.h): no file-scope or function-level
    variable that is not const, so no .data/.bss/TLS in its object files.
    Compiled at -O0 so that nothing unused is optimised away."""
    import kernel_support as ks

    modules = C_FILE_LIBRARIES.get(path.name, ())
    reason = ks.missing(modules)
    if reason is not None:
        pytest.skip(reason)
    flags = [f for m in modules for f in ks.library_flags(m)[0]]
    obj = tmp_path / (path.stem + ".o")
    subprocess.run(["cc", "-O0", "-fPIC", "-std=gnu11", f"-I{CORE}", *flags, "-c", str(path),
                    "-o", str(obj)], check=True, capture_output=True, text=True)
    sections, symbols = _writable_data(obj)
    assert not sections, f"{path.name} has writable data: {sections}; symbols: {symbols}"


def test_writable_data_is_detected(tmp_path):
    """The check above sees a function-level static, a file-scope variable
    and a thread-local one, and lets a const table of pointers through."""
    if shutil.which("cc") is None or shutil.which("objdump") is None:
        pytest.skip("needs cc and objdump (binutils)")
    src = tmp_path / "state.c"
    src.write_text("int counter(void) { static int n; return ++n; }\n"
                   "int total = 3;\n"
                   "_Thread_local int depth;\n"
                   "static const char *const names[2] = {\"a\", \"b\"};\n"
                   "const char *name(int i) { return names[i]; }\n")
    obj = tmp_path / "state.o"
    subprocess.run(["cc", "-O0", "-fPIC", "-c", str(src), "-o", str(obj)], check=True)
    sections, symbols = _writable_data(obj)
    assert {s.split()[0] for s in sections} == {".data", ".bss", ".tbss"}
    assert any(s.startswith("n.") for s in symbols) and "total in .data" in symbols
    assert not any("names" in s for s in symbols)
