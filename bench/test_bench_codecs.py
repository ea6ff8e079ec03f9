"""Per-codec groups: path → pixel array of compressed files, per library
(bench/codec_workloads.py builds the files and checks every library).

One pytest-benchmark group per codec and kind of file: corpus files of each
syntax (JPEG 8-bit, JPEG lossless, JPEG-LS, J2K lossless, J2K lossy),
synthetic 2048² images (JPEG baseline RGB, JPEG lossless SV1, JPEG-LS lossless
and near-lossless, J2K and HTJ2K lossless and lossy) and multi-frame files
(color3d_jpeg_baseline.dcm, 16 × 512² J2K lossless) with rapidicom's thread
variants.  Libraries: rapidicom (``pixel_array``; ``to_array(threads=1/2)``;
``rapidicom_opj1`` = everything on one thread), pydicom with each plugin it
has for the syntax, python-gdcm directly, dicomsdl.

A group is built and checked the first time one of its tests runs (synthetic
files in a session temporary folder).  A library is timed on the group's
common set: the files every working library gets right.  A library right on
no file of the group is skipped with the reason; one wrong on some files is
timed on the others and the files are listed in ``extra_info["marked"]``.
rapidicom failing a file that some reference decodes fails the test.

``extra_info``: files, input and decoded bytes, ``MB_per_s`` (decoded
output), correctness ("exact", or max/mean |difference| for lossy streams),
``ratio_vs_rapidicom`` (median / rapidicom's median, > 1 = slower), and for
threads=2 the speed-up over threads=1 and over one thread.  Run
``bench/codecs_report.py`` for the same with CPU/wall, interleaved rounds and
the targets.
"""
from __future__ import annotations

import pytest

from bench import codec_workloads as cw
from bench.harness import PAGE_CACHE, machine, record_median, source_revision

_MEDIANS: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="session")
def codec_builder(bench_files, tmp_path_factory) -> cw.Builder:
    return cw.Builder(bench_files, tmp_path_factory.mktemp("codecs"))


def _params():
    out = []
    for spec in cw.SPECS:
        for lib in spec.libs:
            out.append(pytest.param(spec.name, lib, id=f"{spec.name}-{lib}",
                                    marks=pytest.mark.benchmark(group=spec.name, min_rounds=3,
                                                                max_time=1.0)))
    return out


@pytest.mark.parametrize("name, lib", _params())
def test_codec(benchmark, codec_builder, name, lib):
    group = codec_builder.group(name)
    bad = group.rapidicom_failures()
    if bad:
        pytest.fail(f"{name}: rapidicom fails files that a reference decodes:\n"
                    + "\n".join(f"{cw.fid(p)}: {why}" for p, why in bad.items()))
    if lib in group.failing:
        pytest.skip(f"{lib} is right on no file of {name}: "
                    + "; ".join(f"{cw.fid(p)}: {w}" for p, w in group.marks(lib).items()))
    if not group.timed:
        pytest.fail(f"{name}: no file that every working library gets right")
    info = benchmark.extra_info
    info.update(
        group=name, codec=group.codec, library=lib, files=len(group.timed),
        files_in_group=len(group.files), input_bytes=group.input_bytes(),
        decoded_bytes=group.decoded_bytes(), page_cache=PAGE_CACHE, machine=machine(),
        rapidicom_source=source_revision(), correctness=group.flag(lib),
        marked={cw.fid(p): w for p, w in group.marks(lib).items()},
        left_out={cw.fid(p): w for p, w in group.dropped.items()}, notes=group.notes)
    benchmark(cw.run, group.libs[lib], group.timed)
    median = record_median(benchmark, group.decoded_bytes())
    if median is None:
        return
    _MEDIANS[(name, lib)] = median
    base = _MEDIANS.get((name, "rapidicom"))
    if base:
        info["ratio_vs_rapidicom"] = round(median / base, 3)
    if lib == "rapidicom_t2":
        for one in ("rapidicom_t1", "rapidicom_opj1"):
            if (name, one) in _MEDIANS:
                info[f"speedup_vs_{one}"] = round(_MEDIANS[(name, one)] / median, 3)
