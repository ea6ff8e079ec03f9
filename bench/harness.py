"""Shared by the pytest-benchmark suites (via conftest.py) and report.py:
machine description, library versions, per-file timing, and the benchmark
runner that fills ``extra_info``."""
from __future__ import annotations

import os
import statistics
import subprocess
import time
import warnings

from rapidicom.benchmark.report import machine

from bench import corpus, workloads

__all__ = ["PAGE_CACHE", "versions", "source_revision", "machine", "per_file_p50_us",
           "record_median", "run_benchmark"]

PAGE_CACHE = "warm"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in
            ("rapidicom", "pydicom", "dicomsdl", "python-gdcm", "pytest-benchmark")}


def source_revision() -> str:
    """The commit the sources are at ("+dirty" when pyx/ or src/ differ from
    it) and when the imported compiled module was built."""
    import rapidicom._core

    built = time.strftime("%Y-%m-%d %H:%M:%S",
                          time.localtime(os.path.getmtime(rapidicom._core.__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pyx", "src"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        head += "+dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    return f"{head} (_core built {built})"


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


def record_median(benchmark, decoded_bytes: int) -> float | None:
    """The median round of a `benchmark` that has run, also put into its
    ``extra_info`` with the MB/s of `decoded_bytes` per round
    (``median_round_s``, ``MB_per_s``).  None under --benchmark-disable:
    the workload ran once, untimed, and there is nothing to report."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return None
    median = stats.stats.median
    benchmark.extra_info.update(median_round_s=median,
                                MB_per_s=round(decoded_bytes / median / 1e6, 1))
    return median


def run_benchmark(benchmark, fn, files, **extra):
    """Time one round = `fn` over every file; fill extra_info."""
    total = corpus.total_bytes(files)
    info = benchmark.extra_info
    info.update(files=len(files), total_bytes=total, excluded=len(corpus.excluded()),
                page_cache=PAGE_CACHE, workload=f"{fn.__module__}.{fn.__name__}",
                machine=machine(),
                rapidicom_source=source_revision(), **extra)
    benchmark(workloads.run, fn, files)
    median = record_median(benchmark, total)
    if median is None:
        return
    info["median_us_per_file"] = round(median / len(files) * 1e6, 2)
    info["file_p50_us"] = round(per_file_p50_us(fn, files), 2)
