"""Pixel workloads ("path → pixel array") per library, their verification,
and the synthetic files the multi-frame and YBR groups time.

Each workload takes one path (str) and returns the array it read, so the very
function that is timed is the one whose output is checked.

  rapidicom   ``rapidicom.open(path).pixel_array`` (native little-endian data is
              a zero-copy view of the mapped file; RLE decodes in C, frames on
              ``to_array``'s default thread count: ``threads=None``)
  rapidicom_t1, rapidicom_t2   ``ds.pixels.to_array(threads=1 / 2)``
  rapidicom_t1_out, rapidicom_t2_out   the same with ``out=`` one array reused
              across calls (its pages are mapped already: no page zeroing)
  rapidicom_copy  ``np.array(pixel_array)``: the zero-copy view materialised
  pydicom     ``dcmread(path).pixel_array``; RLE with
              ``pixel_array_options(decoding_plugin="pylibjpeg")`` (pylibjpeg-rle,
              its fastest RLE plugin) when that plugin works, else the default
  gdcm        ``gdcm.ImageReader`` → ``GetImage().GetBuffer()`` (a ``str``,
              surrogate-escaped: ``.encode("utf-8", "surrogateescape")`` gets the
              bytes, as pydicom's pixels/decoders/gdcm.py does) →
              ``np.frombuffer``; planar data as an interleaved view, 1-bit
              data unpacked (``np.unpackbits``), YBR_FULL left as YBR (GDCM does
              not convert)
  dicomsdl    ``dicomsdl.open(path)``, one output array, ``copyFrameData(i, out[i])``
              per frame: what ``DataSet.pixelData(i, storedvalue=True)`` does
              (``pixelData()``'s default also applies Rescale Slope/Intercept
              and returns float32, a different result); planar data as an
              interleaved view, YBR_FULL left as YBR (no conversion)

Checks: rapidicom's array must equal pydicom's (shape, dtype kind and size,
values) for a file to be in a group at all; every other library's array must
then equal rapidicom's (gdcm, dicomsdl: ``as_rgb=False`` for YBR_FULL).  GDCM
aborts and dicomsdl segfaults on some files, so those two are probed in a child
process that is restarted after a crash or a failed check.  A library that
gives wrong values, raises or crashes on a file is *marked* for that file
(`verify` returns the reasons); the benchmarks then time the files where every
library is right.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pydicom
import rapidicom
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid
from rapidicom.benchmark import syntaxes
from rapidicom.benchmark.adapters import with_dicomsdl, with_gdcm, with_rapidicom
from rapidicom.benchmark.arrays import compare_arrays
from rapidicom.benchmark.isolate import run_isolated
from rapidicom.pixels import pixel_array as _rd_pixel_array

from bench import corpus

RLE = syntaxes.RLE_LOSSLESS
NATIVE = tuple(sorted(syntaxes.NATIVE))
_REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# the file sets
# ---------------------------------------------------------------------------

def _transfer_syntax(path: str):
    """(transfer syntax, has pixel data) as rapidicom reads the header."""
    ts = syntaxes.pixel_syntax(rapidicom.open(path))
    return ts, ts is not None


def split_by_syntax(files) -> dict[str, list[str]]:
    """The corpus files with pixel data, as {"native": [...], "rle": [...]}."""
    out: dict[str, list[str]] = {"native": [], "rle": []}
    for p in files:
        ts, has_pixels = _transfer_syntax(p)
        if not has_pixels:
            continue
        if ts == RLE:
            out["rle"].append(p)
        elif ts in NATIVE:
            out["native"].append(p)
    return out


# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------

rapidicom_pixels = with_rapidicom.pixels


def _rapidicom_threads(path, threads):
    px = rapidicom.open(path).pixels
    arr = px.to_array(threads=threads)
    return arr[0] if px.number_of_frames == 1 else arr


def rapidicom_t1(path):
    """``to_array(threads=1)``: frames decoded one after another on this thread."""
    return _rapidicom_threads(path, 1)


def rapidicom_t2(path):
    """``to_array(threads=2)``: frames decoded on a pool of two threads."""
    return _rapidicom_threads(path, 2)


_OUT_BUFFERS: dict[tuple, np.ndarray] = {}


def _rapidicom_out(path, threads):
    px = rapidicom.open(path).pixels
    key = (px.shape, px.dtype.str)
    out = _OUT_BUFFERS.get(key)
    if out is None:  # allocated and written once: its pages are already mapped
        out = _OUT_BUFFERS[key] = np.zeros(px.shape, px.dtype)
    arr = px.to_array(threads=threads, out=out)
    return arr[0] if px.number_of_frames == 1 else arr


def rapidicom_t1_out(path):
    """``to_array(threads=1, out=buf)`` into one reused array: no fresh pages
    for the kernel to zero on first touch."""
    return _rapidicom_out(path, 1)


def rapidicom_t2_out(path):
    """``to_array(threads=2, out=buf)`` into one reused array."""
    return _rapidicom_out(path, 2)


def rapidicom_copy(path):
    """pixel_array materialised (``np.array`` of the zero-copy view): the work
    the other libraries do for native data."""
    return np.array(rapidicom.open(path).pixel_array)


def _pydicom_rle_plugin() -> str:
    """"pylibjpeg" when pydicom decodes RLE with it, else "" (the default)."""
    probe = str(corpus.PYDICOM_DATA / "test_files" / "MR_small_RLE.dcm")
    try:
        ds = pydicom.dcmread(probe)
        ds.pixel_array_options(decoding_plugin="pylibjpeg")
        ds.pixel_array
    except Exception:
        return ""
    return "pylibjpeg"


PYDICOM_RLE_PLUGIN = _pydicom_rle_plugin()


def pydicom_pixels(path):
    """pydicom's pixel_array; RLE with PYDICOM_RLE_PLUGIN when there is one."""
    ds = pydicom.dcmread(path)
    if PYDICOM_RLE_PLUGIN and ds.file_meta.get("TransferSyntaxUID") == RLE:
        ds.pixel_array_options(decoding_plugin=PYDICOM_RLE_PLUGIN)
    return ds.pixel_array


gdcm_pixels = with_gdcm.pixels
dicomsdl_pixels = with_dicomsdl.pixels


WORKLOADS = {
    "rapidicom": rapidicom_pixels,
    "rapidicom_t1": rapidicom_t1,
    "rapidicom_t2": rapidicom_t2,
    "rapidicom_t1_out": rapidicom_t1_out,
    "rapidicom_t2_out": rapidicom_t2_out,
    "rapidicom_copy": rapidicom_copy,
    "pydicom": pydicom_pixels,
    "gdcm": gdcm_pixels,
    "dicomsdl": dicomsdl_pixels,
}
IN_CHILD = ("gdcm", "dicomsdl")


def run(fn, paths):
    """One benchmark round: `fn` over every path (pydicom's warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            fn(p)


# ---------------------------------------------------------------------------
# verification (never timed)
# ---------------------------------------------------------------------------

def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def describe(path: str) -> str:
    """A short pixel description, e.g. "RLE 16-bit RGB 2 frames"."""
    px = rapidicom.open(path).pixels
    ts = px.transfer_syntax
    enc = {RLE: "RLE", "1.2.840.10008.1.2.2": "big endian",
           "1.2.840.10008.1.2": "implicit LE"}.get(ts, "explicit LE")
    sign = "signed " if px.pixel_representation else ""
    bits = f"{px.bits_stored}/{px.bits_allocated}-bit" if px.bits_stored != px.bits_allocated \
        else f"{px.bits_allocated}-bit"
    planar = " planar" if px.samples_per_pixel > 1 and px.planar_configuration else ""
    frames = f" {px.number_of_frames} frames" if px.number_of_frames > 1 else ""
    return f"{enc} {sign}{bits} {px.photometric_interpretation}{planar}{frames}"


# Libraries that return YBR_FULL samples as stored (no conversion to RGB):
# they are compared with rapidicom's ``as_rgb=False`` output.
KEEPS_YBR = ("gdcm", "dicomsdl")


def reference(path: str, lib: str = "rapidicom"):
    """rapidicom's array as `lib` is compared with it (KEEPS_YBR: YBR as YBR)."""
    ds = rapidicom.open(path)
    if lib in KEEPS_YBR:
        return _quiet(lambda: np.asarray(_rd_pixel_array(ds, as_rgb=False)))
    return _quiet(lambda: np.asarray(ds.pixel_array))


def difference(got, ref) -> str | None:
    """None when `got` holds `ref`'s values in its shape; else what differs
    (``rapidicom.benchmark.arrays.compare_arrays``, exact)."""
    result = compare_arrays(got, ref)
    return None if result.ok else result.why


def check(lib: str, path: str) -> str | None:
    """None when `lib`'s workload gives rapidicom's array for `path`, else why not."""
    try:
        got = _quiet(WORKLOADS[lib], path)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        return f"raises {type(exc).__name__}: {msg[:90]}"
    why = difference(got, reference(path, lib))
    return None if why is None else f"wrong values: {why}"


def check_reference(path: str) -> str | None:
    """rapidicom's pixel_array against pydicom's (the reference of the
    reference); None when they agree.  A reason that starts with "both
    refuse" means neither library gives pixels for the file (not a failure)."""
    try:
        theirs = _quiet(lambda: pydicom.dcmread(path).pixel_array)
    except Exception as exc:
        theirs = exc
    try:
        ours = reference(path)
    except Exception as exc:
        if isinstance(theirs, Exception):
            return (f"both refuse: rapidicom {type(exc).__name__}: {str(exc)[:70]}; "
                    f"pydicom {type(theirs).__name__}: {str(theirs)[:70]}")
        return f"rapidicom raises {type(exc).__name__} (pydicom decodes): {str(exc)[:90]}"
    if isinstance(theirs, Exception):
        return f"pydicom raises {type(theirs).__name__}: {str(theirs)[:90]}"
    why = difference(ours, theirs.astype(theirs.dtype.newbyteorder("="), copy=False))
    return None if why is None else f"rapidicom != pydicom: {why}"


def _isolated_check(context, job) -> dict:
    """Child side of `check_in_child`.  A job that is not right ends the
    child: a library that raised may have corrupted its heap (dicomsdl
    aborts or raises on the same file from one run to the next), so the
    next job starts in a fresh process."""
    lib, path = job
    why = check(lib, path)
    return {"why": why, "restart": why is not None}


def check_in_child(jobs: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """`check(lib, path)` for every (lib, path) in a child process, restarted
    after a crash or a failed check; a crash is reported as the job's reason."""
    outcomes = run_isolated("bench.pixel_workloads:_isolated_check", [list(j) for j in jobs],
                            sys_path=[str(_REPO)], cwd=str(_REPO))
    out: dict[tuple[str, str], str | None] = {}
    for job, outcome in zip(jobs, outcomes):
        if outcome.kind == "done":
            out[job] = outcome.value["why"]
        elif outcome.kind == "crashed":
            out[job] = f"crashes the interpreter ({outcome.value.replace('killed by ', '')})"
        else:
            out[job] = f"{outcome.kind}: {outcome.value}"
    return out


def verify(paths, libraries) -> tuple[list[str], dict[str, dict[str, str]], dict[str, str]]:
    """Check every library on every path.

    Returns (files where every library is right, {library: {path: reason}}
    for the files it gets wrong, {path: reason} for files left out entirely
    because rapidicom and pydicom disagree or one of them fails).
    """
    dropped = {}
    checked = []
    for p in paths:
        why = check_reference(p)
        if why:
            dropped[p] = why
        else:
            checked.append(p)
    marks: dict[str, dict[str, str]] = {lib: {} for lib in libraries}
    jobs = []
    for lib in libraries:
        if lib == "rapidicom":  # the reference, checked against pydicom above
            continue
        if lib in IN_CHILD:
            jobs += [(lib, p) for p in checked]
            continue
        for p in checked:
            why = check(lib, p)
            if why:
                marks[lib][p] = why
    for (lib, p), why in check_in_child(jobs).items():
        if why:
            marks[lib][p] = why
    wrong = set().union(*(m.keys() for m in marks.values()))
    return [p for p in checked if p not in wrong], marks, dropped


def decoded_bytes(paths) -> int:
    """Bytes of rapidicom's output arrays for `paths` (what pixel_array yields)."""
    return sum(reference(p).nbytes for p in paths)


# ---------------------------------------------------------------------------
# synthetic files
# ---------------------------------------------------------------------------

MF_FRAMES, MF_ROWS, MF_COLS = 64, 512, 512
YBR_ROWS = YBR_COLS = 2048


def _base_dataset(sop_class: str, rows: int, cols: int):
    from pydicom.dataset import Dataset, FileMetaDataset

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.PatientID = "bench-pixels"
    ds.Rows, ds.Columns = rows, cols
    return ds


def multiframe_pixels(frames=MF_FRAMES, rows=MF_ROWS, cols=MF_COLS) -> np.ndarray:
    """uint16 (frames, rows, cols), 12 bits used, CT-like: air (0) outside a
    disc, a smooth gradient inside it with ±8 of noise on every other frame
    (long runs, short runs and literal stretches for RLE)."""
    rng = np.random.default_rng(20240601)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = rows / 2, cols / 2
    r2 = ((y - cy) / (0.45 * rows)) ** 2 + ((x - cx) / (0.45 * cols)) ** 2
    inside = r2 < 1.0
    out = np.zeros((frames, rows, cols), np.uint16)
    for f in range(frames):
        smooth = 1000 + 800 * np.sin(x / 37.0 + f / 9.0) * np.cos(y / 53.0 - f / 13.0) \
            + 600 * (1 - r2)
        if f % 2:
            smooth = smooth + rng.integers(-8, 9, size=(rows, cols))
        out[f] = np.where(inside, np.clip(smooth, 0, 4095), 0).astype(np.uint16)
    return out


def _mono16(ds, arr):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = arr.shape[0]
    ds.PixelData = arr.tobytes()


def make_multiframe_native(folder, arr=None) -> str:
    """A native Explicit VR Little Endian multi-frame file of `arr` (default
    `multiframe_pixels()`, 32 MiB)."""
    arr = multiframe_pixels() if arr is None else arr
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.7.3", *arr.shape[1:])
    _mono16(ds, arr)
    path = os.path.join(folder, f"native_{arr.shape[0]}x{arr.shape[1]}x{arr.shape[2]}_16bit.dcm")
    ds.save_as(path, enforce_file_format=True)
    return path


def make_multiframe_rle(folder, arr=None) -> tuple[str, str]:
    """The same frames RLE Lossless encoded (pydicom's ``Dataset.compress``;
    plugin "pylibjpeg" when available: same RLE stream as "pydicom", much
    faster to build).  Returns (path, the encoding plugin used)."""
    arr = multiframe_pixels() if arr is None else arr
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.7.3", *arr.shape[1:])
    _mono16(ds, arr)
    plugin = "pydicom"
    try:
        ds.compress(RLELossless, arr, encoding_plugin="pylibjpeg")
        plugin = "pylibjpeg"
    except Exception:
        ds.compress(RLELossless, arr, encoding_plugin="pydicom")
    path = os.path.join(folder, f"rle_{arr.shape[0]}x{arr.shape[1]}x{arr.shape[2]}_16bit.dcm")
    ds.save_as(path, enforce_file_format=True)
    return path, plugin


def make_ybr_full(folder, rows=YBR_ROWS, cols=YBR_COLS) -> str:
    """A native YBR_FULL 8-bit file of rows×cols×3 (12 MiB at 2048²): a
    smooth RGB image with noise, converted to YBR_FULL with pydicom."""
    from pydicom.pixels import convert_color_space

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    rgb = np.stack([128 + 100 * np.sin(x / 97.0), 128 + 100 * np.cos(y / 71.0),
                    128 + 100 * np.sin((x + y) / 151.0)], axis=-1)
    rgb = np.clip(rgb + rng.integers(-20, 21, size=rgb.shape), 0, 255).astype(np.uint8)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.7", rows, cols)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(ybr, np.uint8).tobytes()
    path = os.path.join(folder, f"ybr_full_{rows}x{cols}_8bit.dcm")
    ds.save_as(path, enforce_file_format=True)
    return path


def ybr_payload(path) -> np.ndarray:
    """The raw YBR_FULL samples of `path` (a copy, as pydicom returns them with
    ``raw=True``): the input of the colour-conversion baselines."""
    ds = pydicom.dcmread(path)
    ds.pixel_array_options(raw=True)
    return np.array(ds.pixel_array)


def pydicom_ybr_to_rgb(arr):
    from pydicom.pixels import convert_color_space

    return convert_color_space(arr, "YBR_FULL", "RGB")


# ---------------------------------------------------------------------------
# the benchmark groups: files, workloads, checks
# ---------------------------------------------------------------------------

NATIVE_GROUP = "native path→pixel_array"
RLE_GROUP = "RLE path→pixel_array"
MF_RLE_GROUP = "multi-frame RLE threads"
MF_NATIVE_GROUP = "multi-frame native"
YBR_GROUP = "ybr→rgb"

CORPUS_LIBS = ("rapidicom", "pydicom", "gdcm", "dicomsdl")
RLE_LIBS = ("rapidicom", "rapidicom_t1", "pydicom", "gdcm", "dicomsdl")
MF_RLE_LIBS = ("rapidicom_t1", "rapidicom_t2", "rapidicom_t1_out", "rapidicom_t2_out",
               "pydicom", "dicomsdl", "gdcm")
MF_NATIVE_LIBS = ("rapidicom", "rapidicom_copy", "pydicom", "dicomsdl", "gdcm")
YBR_LIBS = ("rapidicom", "numpy_copy", "pydicom_convert_color_space", "pydicom")


@dataclass
class Group:
    """One benchmark group, checked and ready to time.

    ``libs`` maps a label to a workload taking a path.  Every library is
    timed on ``timed`` (the files all of them get right), so their times
    compare; ``marks[lib]`` holds why `lib` is not right on the other files.
    """
    name: str
    libs: dict[str, Callable]
    files: list[str]
    timed: list[str]
    marks: dict[str, dict[str, str]]
    dropped: dict[str, str]
    decoded: dict[str, int]               # path -> bytes of the output array
    notes: list[str] = field(default_factory=list)
    baseline: str = "rapidicom"

    def own_files(self, lib: str) -> list[str]:
        """The files `lib` gets right (a superset of ``timed``)."""
        return [p for p in self.files if p not in self.dropped and p not in self.marks[lib]]

    def decoded_bytes(self, paths=None) -> int:
        return sum(self.decoded[p] for p in (self.timed if paths is None else paths))

    def input_bytes(self, paths=None) -> int:
        return sum(os.path.getsize(p) for p in (self.timed if paths is None else paths))

    def flag(self, lib: str) -> str:
        """"ok", or e.g. "wrong 3/12, raises 1/12, crashes 2/12"."""
        n = len(self.files) - len(self.dropped)
        kinds: dict[str, int] = {}
        for why in self.marks.get(lib, {}).values():
            kind = why.split()[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        return ", ".join(f"{k} {v}/{n}" for k, v in sorted(kinds.items())) or "ok"


def fid(path: str) -> str:
    return corpus.file_id(Path(path))


def _build(name, paths, libs, **kw) -> Group:
    timed, marks, dropped = verify(paths, libs)
    decoded = {p: reference(p).nbytes for p in paths if p not in dropped}
    return Group(name, {lib: WORKLOADS[lib] for lib in libs}, list(paths), timed, marks,
                 dropped, decoded, **kw)


def corpus_groups(files) -> list[Group]:
    """"native path→pixel_array" and "RLE path→pixel_array" over the corpus."""
    split = split_by_syntax(files)
    note = ("rapidicom: pixel_array with to_array's default thread count (threads=None; "
            f"os.cpu_count() = {os.cpu_count()}); rapidicom_t1: threads=1")
    return [_build(NATIVE_GROUP, split["native"], CORPUS_LIBS),
            _build(RLE_GROUP, split["rle"], RLE_LIBS, notes=[note])]


def _ground_truth(group: Group, path: str, truth: np.ndarray) -> None:
    got = reference(path)
    why = difference(got, truth)
    if why:
        group.dropped[path] = f"rapidicom != the encoded array: {why}"
        group.timed = [p for p in group.timed if p != path]


def multiframe_groups(folder) -> list[Group]:
    """Build the synthetic multi-frame files in `folder` and check every
    library against the array they were made from."""
    truth = multiframe_pixels()
    native = make_multiframe_native(folder, truth)
    rle, plugin = make_multiframe_rle(folder, truth)
    f, r, c = truth.shape
    what = f"{f} frames of {r}x{c} uint16 (12 bits used), {truth.nbytes / 2**20:.0f} MiB decoded"
    g_rle = _build(MF_RLE_GROUP, [rle], MF_RLE_LIBS, baseline="rapidicom_t1", notes=[
        f"{what}; RLE file {os.path.getsize(rle) / 2**20:.1f} MiB, encoded by pydicom's "
        f"Dataset.compress with encoding_plugin={plugin!r}"])
    g_native = _build(MF_NATIVE_GROUP, [native], MF_NATIVE_LIBS, notes=[
        f"{what}; native Explicit VR Little Endian",
        "rapidicom returns a zero-copy view of the mapped file (no pixel is read); "
        "rapidicom_copy materialises it, the work the other libraries do"])
    _ground_truth(g_rle, rle, truth)
    _ground_truth(g_native, native, truth)
    return [g_rle, g_native]


def ybr_group(folder) -> Group:
    """rapidicom's YBR_FULL → RGB on a 2048×2048×3 8-bit native file, against a
    plain copy of the same number of bytes and pydicom's conversion."""
    path = make_ybr_full(folder)
    payload = ybr_payload(path)          # preloaded: the baselines do no I/O

    def numpy_copy(_path, _a=payload):
        return _a.copy()

    def pydicom_convert_color_space(_path, _a=payload):
        return pydicom_ybr_to_rgb(_a)

    ours = reference(path)
    marks: dict[str, dict[str, str]] = {lib: {} for lib in YBR_LIBS}
    dropped = {}
    why = check_reference(path)
    if why:
        dropped[path] = why
    theirs = difference(pydicom_convert_color_space(path), ours)
    if theirs:
        marks["pydicom_convert_color_space"][path] = f"wrong values: {theirs}"
    libs = {"rapidicom": rapidicom_pixels, "numpy_copy": numpy_copy,
            "pydicom_convert_color_space": pydicom_convert_color_space,
            "pydicom": pydicom_pixels}
    timed = [] if dropped or any(marks.values()) else [path]
    return Group(YBR_GROUP, libs, [path], timed, marks, dropped, {path: ours.nbytes}, notes=[
        f"{YBR_ROWS}x{YBR_COLS}x3 8-bit YBR_FULL, interleaved ({ours.nbytes / 2**20:.0f} MiB)",
        "rapidicom: open + one copy of the mapped samples + conversion in place (C); "
        "numpy_copy: payload.copy() of the same number of bytes, already in memory (the "
        "memory-bandwidth floor); pydicom_convert_color_space: "
        "convert_color_space(payload, 'YBR_FULL', 'RGB') on the same in-memory array; "
        "pydicom: dcmread(path).pixel_array (read + convert)"])
