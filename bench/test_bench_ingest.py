"""Group "ingest": ``rapidicom.ingest.write`` against the same job done with
pydicom (bench/ingest_report.py describes both), 2 worker processes each.

One round = the whole job on a tree of ``TREE_FILES`` files (the benchmark
file set replicated as hard links): walk, read every header, write Parquet.
Both outputs are compared column by column before anything is timed.
"""
from __future__ import annotations

import pytest

from bench import ingest_report
from bench.harness import PAGE_CACHE, machine, source_revision

TREE_FILES = 6000
WORKERS = 2


@pytest.fixture(scope="module")
def ingest_tree(tmp_path_factory, bench_files):
    """A checked tree: both jobs' outputs agree on it."""
    ingest_report.preload_imports()
    base = tmp_path_factory.mktemp("ingest")
    root = str(base / "tree")
    ingest_report.build_tree(root, bench_files, TREE_FILES)
    ingest_report.check_agree(root, str(base), WORKERS)
    return root


@pytest.mark.parametrize("job", list(ingest_report.JOBS))
@pytest.mark.benchmark(group="ingest")
def test_ingest(benchmark, ingest_tree, job, tmp_path):
    out = str(tmp_path / f"{job}.parquet")
    info = benchmark.extra_info
    info.update(files=TREE_FILES, workers=WORKERS, page_cache=PAGE_CACHE, machine=machine(),
                rapidicom_source=source_revision())
    benchmark.pedantic(ingest_report.JOBS[job], args=(ingest_tree, out, WORKERS),
                       rounds=3, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        info["files_per_s"] = round(TREE_FILES / stats.stats.median)
