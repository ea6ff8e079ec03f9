"""pydicom's pixel_array with and without the rapidicom plugin.

One round = ``pydicom.dcmread(path).pixel_array`` over the compressed files
of the benchmark set whose syntax rapidicom.pydicom registers for, either
with pydicom's own plugins ("pydicom") or with rapidicom.pydicom installed
("pydicom+rapidicom").  Groups: all those files, then one group per family
(RLE, JPEG, JPEG lossless, JPEG-LS, JPEG 2000, HTJ2K where the set has them).

Before anything is timed, every file's two arrays are compared
(bench/plugin_report.py ``build_file_set``: equal, 12-bit JPEG within 1); a
file that differs fails the test.

``extra_info``: files, decoded bytes, ``MB_per_s``, and for the plugin
``speedup_vs_pydicom`` (pydicom's median / the plugin's; the target over
all files is ``SPEEDUP_TARGET``, 2x).  ``bench/plugin_report.py`` prints
the same with interleaved rounds.
"""
from __future__ import annotations

import pytest

from bench import corpus
from bench import plugin_report as pr
from bench.harness import PAGE_CACHE, machine, record_median, source_revision

_MEDIANS: dict[tuple[str, str], float] = {}
GROUPS = ["all", "RLE", "JPEG", "JPEG lossless", "JPEG-LS", "JPEG 2000", "HTJ2K"]


@pytest.fixture(scope="session")
def plugin_files(bench_files) -> pr.FileSet:
    return pr.build_file_set(bench_files)


def _params():
    return [pytest.param(family, mode, id=f"{family}-{mode}",
                         marks=pytest.mark.benchmark(group=f"pydicom plugin: {family}",
                                                     min_rounds=3, max_time=1.0))
            for family in GROUPS for mode in pr.MODES]


@pytest.mark.parametrize("family, mode", _params())
def test_pydicom_pixel_array(benchmark, plugin_files, family, mode):
    differs = {corpus.file_id(p): why for p, why in plugin_files.left_out.items()
               if why.startswith("PLUGIN DIFFERS")}
    if differs:
        pytest.fail(f"the plugin's arrays are not pydicom's: {differs}")
    files = plugin_files.of(family)
    if not files:
        pytest.skip(f"no {family} file in the benchmark set")
    info = benchmark.extra_info
    info.update(group=family, mode=mode, files=len(files),
                decoded_bytes=plugin_files.bytes_of(family), page_cache=PAGE_CACHE,
                machine=machine(), rapidicom_source=source_revision(),
                left_out={corpus.file_id(p): w for p, w in plugin_files.left_out.items()})
    with pr.quiet(), pr.plugin_installed(mode != "pydicom"):
        benchmark(pr.decode_all, files)
    median = record_median(benchmark, plugin_files.bytes_of(family))
    if median is None:
        return
    _MEDIANS[(family, mode)] = median
    base = _MEDIANS.get((family, "pydicom"))
    if mode != "pydicom" and base:
        info["speedup_vs_pydicom"] = round(base / median, 3)
        if family == "all":
            info["target"] = f">= {pr.SPEEDUP_TARGET}x"
