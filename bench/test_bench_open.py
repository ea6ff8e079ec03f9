"""Group "open+12 attrs": open each file and read 12 attributes, per library.

One round = every file of the corpus.  rapidicom's 12 values must equal
pydicom's for every file; dicomsdl's and gdcm's UIDs/Rows/Columns must too.
A library whose results are wrong is not timed (the test fails).
"""
from __future__ import annotations

import pytest

from bench import workloads
from bench.harness import run_benchmark

LIBRARIES = list(workloads.OPEN12)
_VERIFIED: dict[str, list[str]] = {}


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.benchmark(group="open+12 attrs", min_rounds=5, max_time=2.0)
def test_open12(benchmark, bench_files, lib):
    if lib not in _VERIFIED:
        _VERIFIED[lib] = workloads.verify_open12(bench_files, (lib,))
    problems = _VERIFIED[lib]
    if problems:
        pytest.fail(f"{lib}: {len(problems)} values differ from pydicom, not timed:\n"
                    + "\n".join(problems[:20]))
    run_benchmark(benchmark, workloads.OPEN12[lib], bench_files,
                  attributes=list(workloads.KEYWORDS))
