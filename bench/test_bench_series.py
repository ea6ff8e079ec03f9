"""Series groups: a folder of single-frame slices -> one sorted volume.

  "series native"    160 slices of 512x512 int16 (CT-like: CT_small.dcm
                     upsampled 4x, rolled and offset per slice), Explicit VR
                     Little Endian, 80 MiB, shuffled file names
  "series RLE"       the same slices, RLE Lossless
  "series native + modality LUT"   the native slices to float (Rescale
                     Slope/Intercept of every slice applied)

Workloads (each takes the list of paths, in file-name order, and returns the
volume as (slices, rows, columns)):

  rapidicom      ``rapidicom.read_series(paths)``: default threads
                 (os.cpu_count()), slices decoded in parallel into one array
  rapidicom_t1   the same with ``threads=1``
  pydicom        ``dcmread`` every file, sort by the projection of Image
                 Position (Patient) on the slice normal, ``np.stack`` of
                 ``pixel_array`` (RLE: pylibjpeg-rle, pydicom's fastest RLE
                 plugin; with the modality LUT: ``apply_modality_lut`` per slice)
  dicom_numpy    ``dcmread`` every file, ``dicom_numpy.combine_slices`` (its
                 default Fortran-ordered (column, row, slice) array; with the
                 modality LUT ``rescale=True``, float32)

Every workload's output is checked against rapidicom's before anything is
timed (dicom-numpy's transposed; its float32 rescale to 1e-6).  The files are
generated once per session into a temporary folder and read once by the checks,
so timings are warm page cache.  ``extra_info`` holds slices, decoded MB, MB/s
and the ratio of each library's median to rapidicom's.

Run: ``.venv/bin/python -m pytest bench/test_bench_series.py --benchmark-only
--benchmark-group-by=group``
"""
from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.uid import RLELossless, generate_uid

import dicom_numpy
import rapidicom
from bench.harness import PAGE_CACHE, machine, source_revision

SLICES, SIZE, UPSAMPLE = 160, 512, 4
GAP_MM = 1.25
NATIVE_GROUP = "series native"
RLE_GROUP = "series RLE"
LUT_GROUP = "series native + modality LUT"
LIBS = ("rapidicom", "rapidicom_t1", "pydicom", "dicom_numpy")

_MEDIANS: dict[tuple[str, str], float] = {}


# ---------------------------------------------------------------------------
# The series
# ---------------------------------------------------------------------------

def _slice_pixels(base: np.ndarray, k: int) -> np.ndarray:
    return (np.roll(base, 5 * k, axis=1).astype(np.int32) + k).clip(-32768, 32767) \
        .astype(np.int16)


def write_series(folder: str, *, rle: bool) -> list[str]:
    """SLICES slices of SIZE x SIZE int16 made from CT_small.dcm, at
    GAP_MM along z, with random file names.  Returns the paths."""
    os.makedirs(folder, exist_ok=True)
    template = get_testdata_file("CT_small.dcm")
    small = pydicom.dcmread(template).pixel_array
    base = np.kron(small, np.ones((UPSAMPLE, UPSAMPLE), dtype=small.dtype))
    assert base.shape == (SIZE, SIZE)
    series_uid = generate_uid()
    names = random.Random(SLICES + rle).sample(range(10**6), SLICES)
    paths = []
    for k, name in enumerate(names):
        ds = pydicom.dcmread(template)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        ds.Rows = ds.Columns = SIZE
        ds.PixelSpacing = [f"{0.661468 / UPSAMPLE:.6f}"] * 2
        ds.ImagePositionPatient = ["-158.135803", "-179.035797", f"{-200 + GAP_MM * k:.2f}"]
        ds.SliceLocation = f"{-200 + GAP_MM * k:.2f}"
        pixels = _slice_pixels(base, k)
        if rle:
            ds.compress(RLELossless, pixels, encoding_plugin="pylibjpeg")
        else:
            ds.PixelData = pixels.tobytes()
        path = os.path.join(folder, f"IM{name:06d}.dcm")
        ds.save_as(path)
        paths.append(path)
    return sorted(paths)


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------

def _rapidicom(paths, lut, threads=None):
    return rapidicom.read_series(paths, modality_lut=lut, threads=threads).array


def _datasets(paths):
    datasets = [pydicom.dcmread(p) for p in paths]
    for ds in datasets:
        if ds.file_meta.TransferSyntaxUID == RLELossless:
            ds.pixel_array_options(decoding_plugin="pylibjpeg")
    return datasets


def _pydicom(paths, lut):
    datasets = _datasets(paths)
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda ds: normal @ np.array(ds.ImagePositionPatient, dtype=float))
    if lut:
        return np.stack([apply_modality_lut(ds.pixel_array, ds) for ds in datasets])
    return np.stack([ds.pixel_array for ds in datasets])


def _dicom_numpy(paths, lut):
    voxels, _ = dicom_numpy.combine_slices(_datasets(paths), rescale=lut)
    return voxels


def workloads(lut: bool) -> dict[str, Callable]:
    return {"rapidicom": lambda paths: _rapidicom(paths, lut),
            "rapidicom_t1": lambda paths: _rapidicom(paths, lut, threads=1),
            "pydicom": lambda paths: _pydicom(paths, lut),
            "dicom_numpy": lambda paths: _dicom_numpy(paths, lut)}


@dataclass
class SeriesGroup:
    name: str
    paths: list[str]
    libs: dict[str, Callable]
    decoded_bytes: int
    wrong: dict[str, str] = field(default_factory=dict)


def _check(name: str, paths: list[str], lut: bool) -> SeriesGroup:
    """Run every workload once; record how any differs from rapidicom."""
    libs = workloads(lut)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = libs["rapidicom"](paths)
        group = SeriesGroup(name, paths, libs, truth.nbytes)
        for lib, fn in libs.items():
            got = fn(paths)
            if lib == "dicom_numpy":
                got = got.transpose(2, 1, 0)
            if got.shape != truth.shape:
                group.wrong[lib] = f"shape {got.shape} != {truth.shape}"
            elif got.dtype == np.float32 and truth.dtype == np.float64:
                if not np.allclose(got, truth, rtol=1e-6, atol=0):
                    group.wrong[lib] = "values differ beyond float32 rounding"
            elif got.dtype != truth.dtype or not np.array_equal(got, truth):
                group.wrong[lib] = f"values or dtype ({got.dtype}) differ"
    return group


@pytest.fixture(scope="session")
def series_groups(tmp_path_factory) -> dict[str, SeriesGroup]:
    native = write_series(str(tmp_path_factory.mktemp("series_native")), rle=False)
    rle = write_series(str(tmp_path_factory.mktemp("series_rle")), rle=True)
    return {NATIVE_GROUP: _check(NATIVE_GROUP, native, False),
            RLE_GROUP: _check(RLE_GROUP, rle, False),
            LUT_GROUP: _check(LUT_GROUP, native, True)}


# ---------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------

def _run(benchmark, group: SeriesGroup, lib: str) -> None:
    if group.wrong:
        pytest.fail(f"{group.name}: results differ from rapidicom, nothing timed: "
                    f"{group.wrong}")
    info = benchmark.extra_info
    info.update(group=group.name, library=lib, slices=len(group.paths),
                input_bytes=sum(os.path.getsize(p) for p in group.paths),
                decoded_bytes=group.decoded_bytes, page_cache=PAGE_CACHE,
                machine=machine(), rapidicom_source=source_revision(),
                threads_default=os.cpu_count())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark(group.libs[lib], group.paths)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable
        return
    median = stats.stats.median
    _MEDIANS[(group.name, lib)] = median
    info["median_s"] = median
    info["MB_per_s"] = round(group.decoded_bytes / median / 1e6, 1)
    base = _MEDIANS.get((group.name, "rapidicom"))
    if base:
        info["ratio_vs_rapidicom"] = round(median / base, 2)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.benchmark(group=NATIVE_GROUP, min_rounds=3, max_time=2.0)
def test_series_native(benchmark, series_groups, lib):
    _run(benchmark, series_groups[NATIVE_GROUP], lib)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.benchmark(group=RLE_GROUP, min_rounds=3, max_time=2.0)
def test_series_rle(benchmark, series_groups, lib):
    _run(benchmark, series_groups[RLE_GROUP], lib)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.benchmark(group=LUT_GROUP, min_rounds=3, max_time=2.0)
def test_series_modality_lut(benchmark, series_groups, lib):
    _run(benchmark, series_groups[LUT_GROUP], lib)
