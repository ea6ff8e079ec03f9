"""pytest-benchmark setup for bench/.

Run:  .venv/bin/python -m pytest bench/ --benchmark-only --benchmark-group-by=group

The file set is ``bench.corpus.files()``; the excluded files and why are
printed once, in the report header.  Every workload's results are checked
against pydicom before it is timed (``bench.workloads.verify_*``), which also
reads every file once, so all timings are "warm page cache".
"""
from __future__ import annotations

import os

# Pin thread counts before anything loads a threaded library (numpy's
# OpenBLAS otherwise starts a spinning thread pool on import).  Nothing timed
# here is multi-threaded; this keeps it that way.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

from bench import corpus  # noqa: E402
from bench.harness import PAGE_CACHE, machine, source_revision, versions  # noqa: E402


def pytest_report_header(config):
    return [f"bench: {machine()}; page cache: {PAGE_CACHE} "
            f"(the checks read every file before any timing)",
            "bench: " + ", ".join(f"{k} {v}" for k, v in versions().items())
            + f"; rapidicom source {source_revision()}",
            *corpus.describe_exclusions()]


@pytest.fixture(scope="session")
def bench_files() -> list[str]:
    files = corpus.files()
    assert len(files) > 200, "the benchmark corpus lost most of its files"
    return files


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # With -q the report header (and so the exclusion list) is not shown.
    if config.get_verbosity() < 0:
        for line in corpus.describe_exclusions():
            terminalreporter.write_line(line)
