"""Pixel groups: path → pixel array, per library (bench/pixel_workloads.py).

  "native path→pixel_array"   corpus files in a native transfer syntax
  "RLE path→pixel_array"      corpus files in RLE Lossless (1.2.840.10008.1.2.5)
  "multi-frame RLE threads"   a synthetic 64×512×512 16-bit RLE file: rapidicom
                              ``to_array(threads=1)`` and ``threads=2`` (also
                              with ``out=`` a reused array) against pydicom
                              (+pylibjpeg-rle), dicomsdl and gdcm
  "multi-frame native"        the same frames, native: rapidicom's zero-copy view,
                              that view copied, and the other libraries
  "ybr→rgb"                   a synthetic 2048×2048 YBR_FULL 8-bit file: rapidicom's
                              path→RGB against a numpy copy of as many bytes and
                              pydicom's ``convert_color_space``

One round = the workload over every timed file of the group.  Every output is
checked before anything is timed: rapidicom's against pydicom's, every other
library's against rapidicom's.  A library that is wrong on, raises on or crashes
on a file is not failed: the file is left out of the group's timed set (so all
libraries are timed on the same files) and listed in that library's
``extra_info["marked"]``.  The synthetic files are built once per session in a
temporary folder.  ``extra_info``: files, input and decoded bytes, MB/s of
decoded output, the ratio to the group's rapidicom row, and for threads=2 the
speed-up over threads=1.
"""
from __future__ import annotations

import pytest

from bench import pixel_workloads as pw
from bench.harness import PAGE_CACHE, machine, record_median, source_revision

_MEDIANS: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="session")
def corpus_pixel_groups(bench_files) -> dict[str, pw.Group]:
    return {g.name: g for g in pw.corpus_groups(bench_files)}


@pytest.fixture(scope="session")
def multiframe_pixel_groups(tmp_path_factory) -> dict[str, pw.Group]:
    return {g.name: g for g in pw.multiframe_groups(tmp_path_factory.mktemp("pixels_mf"))}


@pytest.fixture(scope="session")
def ybr_pixel_group(tmp_path_factory) -> pw.Group:
    return pw.ybr_group(tmp_path_factory.mktemp("pixels_ybr"))


def _run(benchmark, group: pw.Group, lib: str) -> None:
    bad = {pw.fid(p): why for p, why in group.dropped.items()
           if not why.startswith("both refuse")}
    if bad:
        pytest.fail(f"{group.name}: rapidicom and pydicom disagree, nothing timed:\n"
                    + "\n".join(f"{k}: {v}" for k, v in bad.items()))
    if not group.timed:
        pytest.fail(f"{group.name}: no file that every library gets right")
    info = benchmark.extra_info
    info.update(
        group=group.name, library=lib, files=len(group.timed),
        files_in_group=len(group.files), input_bytes=group.input_bytes(),
        decoded_bytes=group.decoded_bytes(), page_cache=PAGE_CACHE, machine=machine(),
        rapidicom_source=source_revision(), correctness=group.flag(lib),
        marked={pw.fid(p): why for p, why in group.marks.get(lib, {}).items()},
        left_out={pw.fid(p): why for p, why in group.dropped.items()},
        notes=group.notes)
    if group.name in (pw.RLE_GROUP, pw.MF_RLE_GROUP):
        info["pydicom_rle_plugin"] = pw.PYDICOM_RLE_PLUGIN or "default"
    benchmark(pw.run, group.libs[lib], group.timed)
    median = record_median(benchmark, group.decoded_bytes())
    if median is None:
        return
    _MEDIANS[(group.name, lib)] = median
    info["input_MB_per_s"] = round(group.input_bytes() / median / 1e6, 1)
    if group.name == pw.YBR_GROUP:
        info["GB_per_s"] = round(group.decoded_bytes() / median / 1e9, 3)
    base = _MEDIANS.get((group.name, group.baseline))
    if base:
        info[f"ratio_vs_{group.baseline}"] = round(median / base, 3)
    if "_t2" in lib and (group.name, lib.replace("_t2", "_t1")) in _MEDIANS:
        info["speedup_vs_threads1"] = round(
            _MEDIANS[(group.name, lib.replace("_t2", "_t1"))] / median, 3)


@pytest.mark.parametrize("lib", pw.CORPUS_LIBS)
@pytest.mark.benchmark(group=pw.NATIVE_GROUP, min_rounds=5, max_time=2.0)
def test_native_pixels(benchmark, corpus_pixel_groups, lib):
    _run(benchmark, corpus_pixel_groups[pw.NATIVE_GROUP], lib)


@pytest.mark.parametrize("lib", pw.RLE_LIBS)
@pytest.mark.benchmark(group=pw.RLE_GROUP, min_rounds=5, max_time=2.0)
def test_rle_pixels(benchmark, corpus_pixel_groups, lib):
    _run(benchmark, corpus_pixel_groups[pw.RLE_GROUP], lib)


@pytest.mark.parametrize("lib", pw.MF_RLE_LIBS)
@pytest.mark.benchmark(group=pw.MF_RLE_GROUP, min_rounds=5, max_time=2.0)
def test_multiframe_rle_threads(benchmark, multiframe_pixel_groups, lib):
    _run(benchmark, multiframe_pixel_groups[pw.MF_RLE_GROUP], lib)


@pytest.mark.parametrize("lib", pw.MF_NATIVE_LIBS)
@pytest.mark.benchmark(group=pw.MF_NATIVE_GROUP, min_rounds=5, max_time=2.0)
def test_multiframe_native(benchmark, multiframe_pixel_groups, lib):
    _run(benchmark, multiframe_pixel_groups[pw.MF_NATIVE_GROUP], lib)


@pytest.mark.parametrize("lib", pw.YBR_LIBS)
@pytest.mark.benchmark(group=pw.YBR_GROUP, min_rounds=5, max_time=2.0)
def test_ybr_to_rgb(benchmark, ybr_pixel_group, lib):
    _run(benchmark, ybr_pixel_group, lib)
