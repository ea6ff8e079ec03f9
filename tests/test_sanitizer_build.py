"""The sanitizer run (tools/sanitize.sh, ``make sanitize``) really tests the
AddressSanitizer + UndefinedBehaviorSanitizer build.

With RAPIDICOM_EXPECT_SANITIZED=1, which the script sets, these checks fail
unless the compiled modules imported are instrumented copies and the ASan
runtime is loaded in this process; in any other run they are skipped.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import rapidicom
from rapidicom import _core, _lut, _pixels

pytestmark = pytest.mark.skipif(
    os.environ.get("RAPIDICOM_EXPECT_SANITIZED") != "1",
    reason="only in the sanitizer run (make sanitize sets RAPIDICOM_EXPECT_SANITIZED=1)")

ROOT = Path(__file__).resolve().parent.parent


def loaded_files() -> set[str]:
    """Paths of the files mapped into this process."""
    maps = Path("/proc/self/maps").read_text()
    return {line.split(maxsplit=5)[5] for line in maps.splitlines()
            if len(line.split(maxsplit=5)) == 6}


@pytest.mark.parametrize("module", [_core, _pixels, _lut], ids=lambda m: m.__name__)
def test_imported_module_is_instrumented(module):
    path = Path(module.__file__).resolve()
    assert str(path) in loaded_files()
    binary = path.read_bytes()
    assert b"__asan_report_load" in binary, f"{path} is not built with ASan"
    assert b"__ubsan_handle_" in binary, f"{path} is not built with UBSan"


def test_asan_runtime_is_loaded():
    assert any(re.search(r"/libasan\.so", name) for name in loaded_files())


def test_python_code_comes_with_the_sanitized_modules():
    """The package's Python files are the sanitized install's, not the
    editable checkout's (whose import hook would load the regular build)."""
    package = Path(rapidicom.__file__).resolve().parent
    assert Path(_core.__file__).resolve().parent == package
    assert package != ROOT / "src" / "rapidicom"
