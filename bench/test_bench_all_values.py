"""Group "open+all values": open each file and convert every value, recursing
into sequence items, per library.

rapidicom's values must equal pydicom's element by element (sequence items
by position) for every file, and both must visit the same elements.  dicomsdl
is checked for the element count only; it reads a few UN-encoded sequences as
bytes (fewer elements), which is recorded in extra_info, not failed.
"""
from __future__ import annotations

import pytest

from bench import workloads
from bench.harness import run_benchmark

LIBRARIES = list(workloads.ALL_VALUES)
_VERIFIED: dict[str, list[str]] = {}


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.benchmark(group="open+all values", min_rounds=5, max_time=2.0)
def test_all_values(benchmark, bench_files, lib):
    if lib not in _VERIFIED:
        _VERIFIED[lib] = workloads.verify_all_values(bench_files, (lib,))
    problems = _VERIFIED[lib]
    extra = {}
    if lib == "dicomsdl":
        extra["element_count_differences"] = problems
    elif problems:
        pytest.fail(f"{lib}: {len(problems)} differences from pydicom, not timed:\n"
                    + "\n".join(problems[:20]))
    run_benchmark(benchmark, workloads.ALL_VALUES[lib], bench_files, **extra)
