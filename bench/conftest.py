"""pytest-benchmark setup for bench/.

Run:  .venv/bin/python -m pytest bench/ --benchmark-only --benchmark-group-by=group

The file set is ``bench.corpus.files()``; the excluded files and why are
printed once, in the report header.  Every workload's results are checked
against pydicom before it is timed (``bench.workloads.verify_*``), which also
reads every file once, so all timings are "warm page cache".
"""
from __future__ import annotations

import os

# Pin thread counts before anything can load a threaded library.  Nothing
# timed here is multi-threaded; this keeps it that way.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import pytest  # noqa: E402

from bench import corpus, workloads  # noqa: E402

PAGE_CACHE = "warm"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in
            ("rapidicom", "pydicom", "dicomsdl", "python-gdcm", "pytest-benchmark")}


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def pytest_report_header(config):
    lines = [f"bench: {machine()}; page cache: {PAGE_CACHE} "
             f"(files are read once by the checks before any timing)",
             "bench: " + ", ".join(f"{k} {v}" for k, v in versions().items())]
    return lines + corpus.describe_exclusions()


@pytest.fixture(scope="session")
def bench_files() -> list[str]:
    files = corpus.files()
    assert len(files) > 200, "the benchmark corpus lost most of its files"
    return files


def per_file_p50_us(fn, files, repeat: int = 3) -> float:
    """Median over files of each file's best-of-`repeat` time, in µs."""
    best = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in files:
            ts = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn(p)
                ts.append(time.perf_counter() - t0)
            best.append(min(ts))
    return statistics.median(best) * 1e6


def run_benchmark(benchmark, fn, files, **extra):
    """Time one round = `fn` over every file; fill extra_info."""
    total = corpus.total_bytes(files)
    info = benchmark.extra_info
    info.update(files=len(files), total_bytes=total, excluded=len(corpus.excluded()),
                page_cache=PAGE_CACHE, workload=fn.__name__, machine=machine(), **extra)
    benchmark(workloads.run, fn, files)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing to report
        return
    median = stats.stats.median
    info["median_round_s"] = median
    info["median_us_per_file"] = round(median / len(files) * 1e6, 2)
    info["MB_per_s"] = round(total / median / 1e6, 1)
    info["file_p50_us"] = round(per_file_p50_us(fn, files), 2)
