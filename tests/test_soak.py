"""Leak and soak test: open, read and decode the whole corpus round after
round in one process; after warm-up the resident set stays flat.

Each round opens every readable corpus file four ways (path, bytes, binary
file object, and a context manager that closes it), reads every value,
decodes the pixels of the light files (tests/workload.py) through
pixel_array and frame by frame, converts one in eight to JSON, and opens a
truncated copy of every file, whose error must be released too.  Every
result is checked against the first round's, so the rounds do real work.

A second test builds tests/c/test_scan.c with AddressSanitizer and runs it
over the corpus with LeakSanitizer on: the C scanner must release every
index, whole or failed, exactly.

The assertion is on memory, never on time: RSS (from /proc/self/statm) may
grow by less than RSS_GROWTH_LIMIT between the end of the warm-up rounds
and the end of the last one.  A leak of one index or one frame per open would
pass that bound within the default rounds (thousands of opens).
RAPIDICOM_SOAK_ROUNDS sets the number of rounds after the two warm-up rounds
(default 5); e.g. 100 for a long run.  The figures are printed (pytest -s shows them).
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kernel_support as ks
import rapidicom
import workload
from corpus import dicom_files, file_id

ROUNDS = int(os.environ.get("RAPIDICOM_SOAK_ROUNDS", "5"))
RSS_GROWTH_LIMIT = 20 << 20
OPENS_PER_FILE = 5          # in one_file()

pytestmark = [
    pytest.mark.filterwarnings("ignore"),
    pytest.mark.skipif(not Path("/proc/self/statm").exists(),
                       reason="RSS is read from /proc/self/statm (Linux)"),
]


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def one_file(path: Path, light: bool, counter: int) -> tuple[str, ...]:
    """Everything one round does with one file; returns the digests."""
    data = path.read_bytes()
    by_path = workload.digest(workload.open_file(path), pixels=False)
    by_bytes = workload.digest(workload.open_file(data), pixels=light)
    with open(path, "rb") as f:
        by_file = workload.digest(workload.open_file(f), pixels=light, by_frame=True)
    with workload.open_file(path) as ds:
        meta = workload.digest(ds, pixels=False)
        shape = ""
        if light:
            try:
                shape = str(ds.pixel_array.shape)
            except (rapidicom.DicomError, AttributeError) as exc:  # no pixels: AttributeError
                shape = type(exc).__name__
        as_json = str(len(repr(ds.to_json()))) if counter % 8 == 0 else ""
    try:
        rapidicom.open(data[: len(data) // 2])
        truncated = "opened"
    except rapidicom.DicomError as exc:
        truncated = type(exc).__name__
    return by_path, by_bytes, by_file, meta, shape, as_json, truncated


def one_round(files, light) -> dict[Path, tuple[str, ...]]:
    return {path: one_file(path, path in light, n) for n, path in enumerate(files)}


def test_rss_stays_flat_over_repeated_rounds():
    files = workload.readable_files()
    light = {p for p in files if workload.is_light(workload.open_file(p))}

    def checked_round(n):
        again = one_round(files, light)
        changed = [file_id(p) for p in files if again[p] != first[p]]
        assert not changed, f"round {n} read something else: {changed[:10]}"

    # Warm-up: caches, decode pools and allocator arenas settle over two
    # rounds (the second one still grows the heap: two rounds' results are
    # alive at once from then on).
    first = one_round(files, light)
    checked_round(0)
    gc.collect()
    before = rss_bytes()
    per_round = []
    for n in range(ROUNDS):
        checked_round(n + 1)
        gc.collect()
        per_round.append(rss_bytes())
    after = per_round[-1]

    opens = (ROUNDS + 2) * len(files) * OPENS_PER_FILE
    growth = after - before
    sys.stdout.write(
        f"\nsoak: {ROUNDS} rounds after 2 warm-up rounds, {len(files)} files, {opens} opens; "
        f"RSS {before / 2**20:.1f} MiB after warm-up, {after / 2**20:.1f} MiB at the end "
        f"({growth / 2**20:+.1f} MiB); by round (MiB): "
        f"{' '.join(f'{r / 2**20:.1f}' for r in per_round)}\n")
    assert opens >= 1000
    assert growth < RSS_GROWTH_LIMIT, (
        f"RSS grew by {growth / 2**20:.1f} MiB over {ROUNDS} rounds "
        f"({before / 2**20:.1f} -> {after / 2**20:.1f} MiB)")


def test_scanner_releases_everything_under_leak_sanitizer(tmp_path):
    """The C scanner alone (scan.c, index.c, inflate.c) under LeakSanitizer:
    every corpus file scanned whole and cut short at 33 places, strictly and
    leniently, every sequence scanned again on its own, plus hand-built
    limit and deflate failures (tests/c/test_scan.c)."""
    if ks.CC is None:
        pytest.skip(ks.NO_CC)
    flags = ks.require_sanitizer(tmp_path)
    sources = [ks.CORE / name for name in ("scan.c", "index.c", "inflate.c", "dict.c")]
    exe = tmp_path / "test_scan"
    subprocess.run([ks.CC, *ks.compile_flags(), *flags, *map(str, sources),
                    str(ks.C_TESTS / "test_scan.c"), "-o", str(exe), "-lz"],
                   check=True, capture_output=True, text=True)
    files = [str(p) for p in dicom_files()]
    res = subprocess.run([str(exe), *files], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"))
    assert res.returncode == 0, res.stderr[-4000:]
    assert f"all checks passed ({len(files)} file(s))" in res.stdout
