"""Per-codec workloads ("path → pixel array" of compressed files), the files
they run on, and their verification.  Shared by bench/test_bench_codecs.py
(pytest-benchmark) and bench/codecs_report.py (tables without pytest).

Groups, one per codec and kind of file (``SPECS``; built and checked by
``Builder.group``):

  JPEG 8-bit corpus            corpus files in .50/.51 that are 8-bit
  JPEG 12-bit extended corpus  corpus files in .51 with 12-bit samples
  JPEG baseline RGB 2048²      synthetic, Pillow, YBR_FULL_422 (4:2:2), quality 90
  JPEG multi-frame color3d     pydicom-data color3d_jpeg_baseline.dcm, 120 frames of
                               640×480 YBR_FULL_422, no Basic Offset Table
  JPEG lossless corpus         corpus files in .57/.70
  JPEG lossless SV1 2048² 16-bit   synthetic, tests/test_ljpeg_kernel.py's encoder
  JPEG-LS corpus               corpus files in .80/.81
  JPEG-LS lossless 2048² 16-bit    synthetic, pyjpegls (CharLS), NEAR 0
  JPEG-LS near-lossless 2048² 16-bit  synthetic, pyjpegls, NEAR 3
  J2K lossless corpus, J2K lossy corpus   corpus files in .90 / .91
  J2K lossless / lossy 2048² 16-bit       synthetic, pylibjpeg-openjpeg
                                          ``openjpeg.encode`` (lossy: ratio 20)
  HTJ2K lossless / lossy 2048² 16-bit     synthetic, ``ojph_compress``
                                          (Debian openjph-tools), .201 / .203
  J2K multi-frame 16×512² 16-bit          synthetic, J2K lossless, with a
                                          Basic Offset Table

The synthetic 16-bit images are CT-like: 12 bits stored, air (≈0, σ 3
noise) outside a disc, smooth tissue with σ 15 noise and a bright "bone"
ring inside it.

Libraries (each workload takes a path and returns the array, so the timed
function is the checked one):

  rapidicom        ``rapidicom.open(path).pixel_array`` (defaults: frames on a
                   pool of os.cpu_count() threads when the output is >= 1 MiB;
                   a single J2K frame on openjpeg's own pool of os.cpu_count()
                   threads)
  rapidicom_t1     ``pixels.to_array(threads=1)``: frames one after another on
                   this thread -- but openjpeg still gets os.cpu_count() threads
                   per frame: ``to_array`` sets the codec threads to 1 only when
                   it runs frames on its pool (src/rapidicom/pixels.py)
  rapidicom_t2     ``pixels.to_array(threads=2)``: frames on a pool of 2, each
                   frame's codec on 1 thread
  rapidicom_opj1   everything on this thread, openjpeg included:
                   ``pixels._codec_threads = 1`` (a private attribute; there is
                   no public knob) then ``to_array(threads=1)``
  pydicom_<plugin> ``dcmread(path)``, ``pixel_array_options(decoding_plugin=...)``,
                   ``pixel_array``; for every plugin pydicom has for the syntax
                   (gdcm, pylibjpeg, pyjpegls, pillow)
  gdcm             python-gdcm: ``gdcm.ImageReader`` → ``GetImage().GetBuffer()``
                   → numpy (bench/pixel_workloads.py ``gdcm_pixels``)
  dicomsdl         ``dicomsdl.open(path)``, ``copyFrameData(i, out[i])`` per frame
                   into one array (bench/pixel_workloads.py ``dicomsdl_pixels``;
                   ``pixelData()`` would also apply the rescale and return float32)

Verification, before anything is timed: rapidicom's array must equal the
encoded array (synthetic lossless files) and, on corpus files of a lossless
syntax, equal at least one reference exactly; every other library's array is
compared with rapidicom's: lossless syntaxes must be equal; lossy ones
(.50/.51/.81/.91/.203) must have the same shape and dtype, a maximum
absolute difference within ``lossy_tolerance`` and a mean one within
LOSSY_MEAN_TOLERANCE (both are reported either way; the rule and the
comparison are ``rapidicom.benchmark.arrays``'s, shared with ``rapidicom
bench``).  A library that returns YBR samples where rapidicom returns RGB is compared with rapidicom's ``as_rgb=False`` array and noted
("keeps YBR": it skips the colour conversion).  GDCM aborts and dicomsdl
segfaults on some files, so every reference is checked in a child process
(``rapidicom.benchmark.isolate``) that is restarted after a crash or a
failed check.  A library that is wrong,
raises or crashes on a file is *marked* for that file.  Every library is
timed on the group's common set (the files that every library right on at
least one file of the group gets right); a library right on no file is not
timed at all.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import rapidicom
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid
from rapidicom.benchmark import syntaxes
from rapidicom.benchmark.syntaxes import (
    HTJ2K, HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, JPEG_2000, JPEG_2000_LOSSLESS, JPEG_BASELINE,
    JPEG_EXTENDED, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1, JPEG_LS_LOSSLESS, JPEG_LS_NEAR_LOSSLESS,
    LOSSY)
from rapidicom.benchmark.adapters import with_pydicom
from rapidicom.benchmark.adapters.with_dicomsdl import pixels as dicomsdl_pixels
from rapidicom.benchmark.adapters.with_gdcm import pixels as gdcm_pixels
from rapidicom.benchmark.arrays import compare_arrays, tolerance_for
from rapidicom.benchmark.isolate import run_isolated
from rapidicom.pixels import pixel_array as _rd_pixel_array

from bench import corpus

_REPO = Path(__file__).resolve().parent.parent

FAMILY = {
    JPEG_BASELINE: "JPEG", JPEG_EXTENDED: "JPEG",
    JPEG_LOSSLESS: "JPEG lossless", JPEG_LOSSLESS_SV1: "JPEG lossless",
    JPEG_LS_LOSSLESS: "JPEG-LS", JPEG_LS_NEAR_LOSSLESS: "JPEG-LS",
    JPEG_2000_LOSSLESS: "JPEG 2000", JPEG_2000: "JPEG 2000",
    HTJ2K_LOSSLESS: "HTJ2K", HTJ2K_LOSSLESS_RPCL: "HTJ2K", HTJ2K: "HTJ2K",
}
SHORT = {JPEG_BASELINE: "JPEG baseline", JPEG_EXTENDED: "JPEG extended",
         JPEG_LOSSLESS: "JPEG lossless", JPEG_LOSSLESS_SV1: "JPEG lossless SV1",
         JPEG_LS_LOSSLESS: "JPEG-LS lossless", JPEG_LS_NEAR_LOSSLESS: "JPEG-LS near-lossless",
         JPEG_2000_LOSSLESS: "J2K lossless", JPEG_2000: "J2K", HTJ2K_LOSSLESS: "HTJ2K lossless",
         HTJ2K_LOSSLESS_RPCL: "HTJ2K lossless RPCL", HTJ2K: "HTJ2K"}
J2K_SYNTAXES = {JPEG_2000_LOSSLESS, JPEG_2000, HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, HTJ2K}


def lossy_tolerance(path: str) -> int:
    """Largest |difference| from rapidicom's array that a decode of a lossy
    stream may show and still count as right (its mean |difference| must
    also stay within ``arrays.LOSSY_MEAN_TOLERANCE``): ``arrays.tolerance_for``."""
    return tolerance_for(rapidicom.open(path).pixels)


# ---------------------------------------------------------------------------
# workloads
# ---------------------------------------------------------------------------

def rapidicom_pixels(path):
    return rapidicom.open(path).pixel_array


def _threads(path, threads, codec_threads=None):
    px = rapidicom.open(path).pixels
    if codec_threads is not None:
        px._codec_threads = codec_threads          # private: no public knob
    arr = px.to_array(threads=threads)
    return arr[0] if px.number_of_frames == 1 else arr


def rapidicom_t1(path):
    """``to_array(threads=1)``: frames one after another on this thread."""
    return _threads(path, 1)


def rapidicom_t2(path):
    """``to_array(threads=2)``: frames on a pool of two, codecs on one thread each."""
    return _threads(path, 2)


def rapidicom_opj1(path):
    """Everything on this thread, openjpeg included (``_codec_threads = 1``)."""
    return _threads(path, 1, codec_threads=1)


_pydicom = with_pydicom.plugin_pixels


PYDICOM_PLUGINS = ("gdcm", "pylibjpeg", "pyjpegls", "pillow")
WORKLOADS: dict[str, Callable] = {
    "rapidicom": rapidicom_pixels,
    "rapidicom_t1": rapidicom_t1,
    "rapidicom_t2": rapidicom_t2,
    "rapidicom_opj1": rapidicom_opj1,
    **{f"pydicom_{p}": _pydicom(p) for p in PYDICOM_PLUGINS},
    "gdcm": gdcm_pixels,
    "dicomsdl": dicomsdl_pixels,
}


def is_reference(lib: str) -> bool:
    return not lib.startswith("rapidicom")


pydicom_plugins = with_pydicom.plugins_for
pydicom_default_plugin = with_pydicom.default_plugin


# ---------------------------------------------------------------------------
# verification (never timed)
# ---------------------------------------------------------------------------

def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def transfer_syntax(path: str):
    return syntaxes.pixel_syntax(rapidicom.open(path))


def reference(path: str, as_rgb: bool = True) -> np.ndarray:
    ds = rapidicom.open(path)
    return _quiet(lambda: np.asarray(_rd_pixel_array(ds, as_rgb=as_rgb)))


def describe(path: str) -> str:
    """e.g. "J2K lossless 12/16-bit MONOCHROME2 2048x2048" (+ " 16 frames")."""
    px = rapidicom.open(path).pixels
    sign = "signed " if px.pixel_representation else ""
    bits = (f"{px.bits_stored}/{px.bits_allocated}-bit" if px.bits_stored != px.bits_allocated
            else f"{px.bits_allocated}-bit")
    frames = f" {px.number_of_frames} frames" if px.number_of_frames > 1 else ""
    return (f"{SHORT.get(px.transfer_syntax, px.transfer_syntax)} {sign}{bits} "
            f"{px.photometric_interpretation} {px.columns}x{px.rows}{frames}")


def compare(got, ref, lossy: bool, tol: int) -> dict:
    """{"ok": bool, "why": str|None, "max_diff": int|None, "mean_diff": float|None}
    (``arrays.compare_arrays``; `tol` applies to lossy streams only)."""
    return compare_arrays(got, ref, tol if lossy else 0).as_dict()


def check(lib: str, path: str) -> dict:
    """`lib`'s array for `path` against rapidicom's; adds "keeps_ybr" when
    the library matches rapidicom's as_rgb=False output instead."""
    try:
        got = _quiet(WORKLOADS[lib], path)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        return {"ok": False, "why": f"raises {type(exc).__name__}: {msg[:90]}",
                "max_diff": None, "mean_diff": None}
    ts = transfer_syntax(path)
    lossy = ts in LOSSY
    tol = lossy_tolerance(path)
    res = compare(got, reference(path), lossy, tol)
    if not res["ok"]:
        px = rapidicom.open(path).pixels
        if px.photometric_interpretation in ("YBR_FULL", "YBR_FULL_422"):
            alt = compare(got, reference(path, as_rgb=False), lossy, tol)
            if alt["ok"]:
                alt["keeps_ybr"] = True
                return alt
    if not res["ok"] and res["why"] and not res["why"].startswith(("shape", "dtype")):
        res["why"] = "wrong values: " + res["why"]
    return res


def _isolated_check(context, job) -> dict:
    """Child side of `check_in_child`; a job that is not right ends the child
    (a library that failed may have corrupted its heap)."""
    lib, path = job
    res = check(lib, path)
    return {**res, "restart": not res["ok"]}


def check_in_child(jobs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """`check(lib, path)` for every job in a child process, restarted after a
    crash or a failed check; a crash is reported as the job's reason."""
    outcomes = run_isolated("bench.codec_workloads:_isolated_check", [list(j) for j in jobs],
                            sys_path=[str(_REPO)], cwd=str(_REPO))
    out: dict[tuple[str, str], dict] = {}
    for job, outcome in zip(jobs, outcomes):
        if outcome.kind == "done":
            res = dict(outcome.value)
            res.pop("restart", None)
        else:
            why = (f"crashes the interpreter ({outcome.value.replace('killed by ', '')})"
                   if outcome.kind == "crashed" else f"{outcome.kind}: {outcome.value}")
            res = {"ok": False, "why": why, "max_diff": None, "mean_diff": None}
        out[job] = res
    return out


# ---------------------------------------------------------------------------
# groups
# ---------------------------------------------------------------------------

@dataclass
class Group:
    """One benchmark group, checked and ready to time.

    ``timed``: the files every *working* library (right on at least one file
    of the group) gets right, so their times compare; a library right on no
    file is listed in ``failing`` and not timed.  ``results[lib][path]`` is
    `check`'s result (rapidicom's: against the ground truth or the references).
    """
    name: str
    codec: str                          # FAMILY value, for the targets
    libs: dict[str, Callable]
    files: list[str]
    timed: list[str]
    results: dict[str, dict[str, dict]]
    dropped: dict[str, str]
    decoded: dict[str, int]             # path -> bytes of rapidicom's array
    notes: list[str] = field(default_factory=list)
    threads_pair: tuple[str, str] | None = None   # (one, two) for the speed-up
    single_frame_threads: bool = False  # rapidicom vs rapidicom_opj1 is meaningful

    @property
    def failing(self) -> list[str]:
        return [lib for lib in self.libs if lib != "rapidicom"
                and not any(r["ok"] for r in self.results[lib].values())]

    @property
    def working(self) -> list[str]:
        return [lib for lib in self.libs if lib not in self.failing]

    def own_files(self, lib: str) -> list[str]:
        return [p for p in self.files
                if p not in self.dropped and self.results[lib].get(p, {}).get("ok")]

    def marks(self, lib: str) -> dict[str, str]:
        return {p: r["why"] for p, r in self.results[lib].items()
                if p not in self.dropped and not r["ok"]}

    def decoders_of(self, path: str) -> list[str]:
        """The references that decode `path` right (for a dropped file: does
        anyone?)."""
        return [lib for lib in self.libs if is_reference(lib)
                and self.results[lib].get(path, {}).get("ok")]

    def rapidicom_failures(self) -> dict[str, str]:
        """Dropped files that some reference decodes: rapidicom's failures."""
        return {p: why for p, why in self.dropped.items() if self.decoders_of(p)}

    def decoded_bytes(self, paths=None) -> int:
        return sum(self.decoded[p] for p in (self.timed if paths is None else paths))

    def input_bytes(self, paths=None) -> int:
        return sum(os.path.getsize(p) for p in (self.timed if paths is None else paths))

    def flag(self, lib: str) -> str:
        """"exact", "max|d| 2 (mean 0.1)", "keeps YBR", "wrong 1/4, raises 2/4"..."""
        n = len(self.files) - len(self.dropped)
        kinds: dict[str, int] = {}
        for why in self.marks(lib).values():
            kind = why.split()[0].rstrip(":")
            kinds[kind] = kinds.get(kind, 0) + 1
        ok = [r for p, r in self.results[lib].items() if r["ok"] and p not in self.dropped]
        parts = [f"{k} {v}/{n}" for k, v in sorted(kinds.items())]
        diffs = [r["max_diff"] for r in ok if r.get("max_diff")]
        if diffs:
            mean = max(r["mean_diff"] or 0 for r in ok)
            parts.append(f"max|d| {max(diffs)} (mean ≤ {mean:.2g})")
        elif ok:
            parts.append("exact")
        if any(r.get("keeps_ybr") for r in ok):
            parts.append("keeps YBR")
        if any(r.get("vs") for r in ok):
            parts.append(ok[0]["vs"])
        return ", ".join(parts)


def fid(path: str) -> str:
    return corpus.file_id(Path(path))


def _check_rapidicom(path: str, truth, ref_results: dict[str, dict]) -> dict:
    """rapidicom's own check.  `truth` is None (corpus files) or (the encoded
    array, tolerance): tolerance 0 for lossless streams, NEAR for JPEG-LS
    near-lossless, None for lossy streams (the difference from the original
    is only reported).  Without an exact ground truth rapidicom must also
    agree with at least one reference (exactly, for lossless syntaxes)."""
    ts = transfer_syntax(path)
    try:
        ours = reference(path)
    except Exception as exc:
        return {"ok": False, "why": f"raises {type(exc).__name__}: {str(exc)[:90]}",
                "max_diff": None, "mean_diff": None}
    vs = None
    if truth is not None:
        arr, tol = truth
        res = compare(ours, arr, False, 0)
        if tol is not None:
            if res["max_diff"] is not None and res["max_diff"] <= tol:
                res.update(ok=True, why=None)
            else:
                res["why"] = f"rapidicom vs the encoded array: {res['why']}"
            res["vs"] = ("= encoded array" if not res["max_diff"]
                         else f"encoded array ± {res['max_diff']} (NEAR {tol})")
            res["max_diff"] = res["mean_diff"] = 0    # its own difference: none
            return res
        vs = (f"vs original max|d| {res['max_diff']}" if res["max_diff"] is not None
              else f"vs original: {res['why']}")
    agree = [lib for lib, r in ref_results.items()
             if r["ok"] and (r["max_diff"] == 0 or ts in LOSSY)]
    if agree:
        return {"ok": True, "why": None, "max_diff": 0, "mean_diff": 0.0, "vs": vs,
                "agree": agree}
    return {"ok": False, "why": "rapidicom agrees with no reference", "max_diff": None,
            "mean_diff": None, "vs": vs}


def build_group(name: str, codec: str, paths: list[str], libs: list[str],
                truths: dict[str, tuple] | None = None, notes=(),
                threads_pair=None, single_frame_threads=False) -> Group:
    truths = truths or {}
    jobs = [(lib, p) for lib in libs if is_reference(lib) for p in paths]
    ref = check_in_child(jobs) if jobs else {}
    results: dict[str, dict[str, dict]] = {lib: {} for lib in libs}
    for (lib, p), r in ref.items():
        results[lib][p] = r
    dropped: dict[str, str] = {}
    for p in paths:
        mine = _check_rapidicom(p, truths.get(p), {lib: results[lib][p] for lib in libs
                                                    if is_reference(lib)})
        results["rapidicom"][p] = mine
        if not mine["ok"]:
            dropped[p] = mine["why"]
            continue
        for lib in libs:   # the other rapidicom paths must give the same array
            if lib == "rapidicom" or is_reference(lib):
                continue
            r = check(lib, p)
            results[lib][p] = r
            if not r["ok"] or r["max_diff"]:
                dropped[p] = f"{lib} != rapidicom's pixel_array: {r['why']}"
    decoded = {p: reference(p).nbytes for p in paths if p not in dropped}
    g = Group(name, codec, {lib: WORKLOADS[lib] for lib in libs}, list(paths), [],
              results, dropped, decoded, list(notes), threads_pair, single_frame_threads)
    working = g.working
    g.timed = [p for p in paths if p not in dropped
               and all(results[lib].get(p, {}).get("ok") for lib in working)]
    return g


# ---------------------------------------------------------------------------
# synthetic files
# ---------------------------------------------------------------------------

SIZE = 2048
MF_FRAMES, MF_SIZE = 16, 512


def ct_like(rows=SIZE, cols=SIZE, frame=0, seed=20240611) -> np.ndarray:
    """uint16 (rows, cols), 12 bits stored: air (≈0, σ 3) outside a disc,
    smooth tissue (σ 15 noise) and a bright ring ("bone") inside."""
    rng = np.random.default_rng(seed + frame)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    r2 = ((y - rows / 2) / (0.46 * rows)) ** 2 + ((x - cols / 2) / (0.42 * cols)) ** 2
    tissue = (1040 + 60 * np.sin(x / (cols / 23) + frame / 5) * np.cos(y / (rows / 17))
              + 120 * (1 - r2))
    tissue = np.where((r2 > 0.80) & (r2 < 0.88), 2400.0, tissue)
    img = np.where(r2 < 1.0, tissue + rng.normal(0, 15, (rows, cols)),
                   rng.normal(8, 3, (rows, cols)))
    return np.clip(np.rint(img), 0, 4095).astype(np.uint16)


def rgb_like(rows=SIZE, cols=SIZE, seed=7) -> np.ndarray:
    """uint8 (rows, cols, 3): smooth colour fields, hard-edged shapes, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    rgb = np.stack([128 + 90 * np.sin(x / 97.0), 128 + 90 * np.cos(y / 71.0),
                    128 + 90 * np.sin((x + y) / 151.0)], axis=-1)
    for k in range(12):                                 # rectangles with sharp edges
        r0, c0 = rng.integers(0, rows - 256), rng.integers(0, cols - 256)
        rgb[r0:r0 + rng.integers(64, 256), c0:c0 + rng.integers(64, 256)] = rng.integers(0, 256, 3)
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _dataset(ts: str, frames: list[bytes], rows: int, cols: int, *, spp=1, ba=16, bs=12,
             pr=0, pi="MONOCHROME2", n_frames=1):
    from pydicom.dataset import Dataset, FileMetaDataset

    sop = "1.2.840.10008.5.1.4.1.1.7" if spp == 3 else "1.2.840.10008.5.1.4.1.1.2"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ts
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT" if spp == 3 else "CT"
    ds.PatientID = "bench-codecs"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, spp
    ds.PhotometricInterpretation = pi
    if spp > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = ba, bs, bs - 1
    ds.PixelRepresentation = pr
    if n_frames > 1:
        ds.NumberOfFrames = n_frames
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds["PixelData"].VR = "OB"
    if ts in LOSSY:
        ds.LossyImageCompression = "01"
    return ds


def _save(ds, folder, name) -> str:
    path = os.path.join(folder, name)
    ds.save_as(path, enforce_file_format=True)
    return path


def _ljpeg_encoder():
    """tests/test_ljpeg_kernel.py's test-only encoder (imported, not copied)."""
    spec = importlib.util.spec_from_file_location(
        "_rapidicom_test_ljpeg_kernel", _REPO / "tests" / "test_ljpeg_kernel.py")
    mod = importlib.util.module_from_spec(spec)
    tests = str(_REPO / "tests")
    sys.path.insert(0, tests)          # it imports tests/corpus.py as "corpus"
    saved = sys.modules.pop("corpus", None)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(tests)
        sys.modules.pop("corpus", None)
        if saved is not None:
            sys.modules["corpus"] = saved
    return mod.encode


def _ojph(folder, arr: np.ndarray, bits: int, args: list[str]) -> bytes:
    exe = shutil.which("ojph_compress")
    if exe is None:
        raise FileNotFoundError("ojph_compress (Debian package openjph-tools) is not on PATH")
    rows, cols = arr.shape
    src, out = os.path.join(folder, "ojph_in.yuv"), os.path.join(folder, "ojph_out.j2c")
    with open(src, "wb") as f:
        f.write(arr.astype("<u2").tobytes())
    subprocess.run([exe, "-i", src, "-o", out, "-dims", f"{{{cols},{rows}}}", "-num_comps", "1",
                    "-signed", "false", "-bit_depth", str(bits), "-downsamp", "{1,1}", *args],
                   check=True, capture_output=True)
    with open(out, "rb") as f:
        data = f.read()
    os.remove(src)
    os.remove(out)
    return data


def make_jpeg_rgb(folder) -> tuple[str, np.ndarray]:
    import io

    from PIL import Image

    rgb = rgb_like()
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, "JPEG", quality=90, subsampling=1)  # 4:2:2
    ds = _dataset(JPEG_BASELINE, [buf.getvalue()], SIZE, SIZE, spp=3, ba=8, bs=8,
                  pi="YBR_FULL_422")
    return _save(ds, folder, f"jpeg_baseline_rgb_{SIZE}.dcm"), rgb


def make_ljpeg(folder) -> tuple[str, np.ndarray]:
    img = ct_like()
    frame = _ljpeg_encoder()(img.astype(np.int64), 12, psv=1)
    ds = _dataset(JPEG_LOSSLESS_SV1, [frame], SIZE, SIZE)
    return _save(ds, folder, f"jpeg_lossless_sv1_{SIZE}_16bit.dcm"), img


def make_jpegls(folder, near: int) -> tuple[str, np.ndarray]:
    import jpeg_ls

    img = ct_like()
    frame = bytes(jpeg_ls.encode_array(img, lossy_error=near))
    ts = JPEG_LS_NEAR_LOSSLESS if near else JPEG_LS_LOSSLESS
    ds = _dataset(ts, [frame], SIZE, SIZE)
    return _save(ds, folder, f"jpegls_near{near}_{SIZE}_16bit.dcm"), img


def make_j2k(folder, lossy: bool) -> tuple[str, np.ndarray]:
    import openjpeg

    img = ct_like()
    kw = {"compression_ratios": [20.0]} if lossy else {}
    frame = openjpeg.encode(img, bits_stored=12, photometric_interpretation=2, **kw)
    ds = _dataset(JPEG_2000 if lossy else JPEG_2000_LOSSLESS, [frame], SIZE, SIZE)
    return _save(ds, folder, f"j2k_{'lossy' if lossy else 'lossless'}_{SIZE}_16bit.dcm"), img


def make_htj2k(folder, lossy: bool) -> tuple[str, np.ndarray]:
    img = ct_like()
    args = ["-qstep", "0.002"] if lossy else ["-reversible", "true"]
    frame = _ojph(folder, img, 12, args)
    ds = _dataset(HTJ2K if lossy else HTJ2K_LOSSLESS, [frame], SIZE, SIZE)
    return _save(ds, folder, f"htj2k_{'lossy' if lossy else 'lossless'}_{SIZE}_16bit.dcm"), img


def make_j2k_multiframe(folder) -> tuple[str, np.ndarray]:
    import openjpeg

    arr = np.stack([ct_like(MF_SIZE, MF_SIZE, frame=f) for f in range(MF_FRAMES)])
    frames = [openjpeg.encode(a, bits_stored=12, photometric_interpretation=2) for a in arr]
    ds = _dataset(JPEG_2000_LOSSLESS, frames, MF_SIZE, MF_SIZE, n_frames=MF_FRAMES)
    return _save(ds, folder, f"j2k_lossless_{MF_FRAMES}x{MF_SIZE}_16bit.dcm"), arr


# ---------------------------------------------------------------------------
# the groups
# ---------------------------------------------------------------------------

COLOR3D = "color3d_jpeg_baseline.dcm"
_T = ("rapidicom_t1", "rapidicom_t2")
_T_OPJ = ("rapidicom_t1", "rapidicom_opj1", "rapidicom_t2")
_OPJ = ("rapidicom_opj1",)


@dataclass(frozen=True)
class Spec:
    """A group before its files exist: name, codec family (for the targets),
    the syntaxes whose pydicom plugins it runs, extra rapidicom variants, and
    where its files come from: ("corpus", syntaxes) or ("make", maker, args,
    ground-truth tolerance: 0 exact, n = JPEG-LS NEAR, None = lossy, only
    reported)."""
    name: str
    codec: str
    syntaxes: tuple[str, ...]
    extra: tuple[str, ...] = ()
    source: tuple = ()
    notes: tuple[str, ...] = ()

    @property
    def libs(self) -> list[str]:
        return (["rapidicom", *self.extra]
                + [f"pydicom_{p}" for p in pydicom_plugins(self.syntaxes)]
                + ["gdcm", "dicomsdl"])

    @property
    def threads_pair(self):
        """(one thread, two threads) for the threads=2 speed-up target: one
        thread is rapidicom_opj1 where the codec has threads of its own."""
        if not set(_T) <= set(self.extra):
            return None
        return ("rapidicom_opj1" if "rapidicom_opj1" in self.extra else "rapidicom_t1",
                "rapidicom_t2")


SPECS = (
    Spec("JPEG 8-bit corpus", "JPEG", (JPEG_BASELINE, JPEG_EXTENDED),
         source=("corpus", "jpeg8")),
    Spec("JPEG 12-bit extended corpus", "JPEG", (JPEG_EXTENDED,),
         source=("corpus", "jpeg12"),
         notes=("rapidicom: its own 12-bit DCT decoder (src/core/jpeg12.c)",)),
    Spec("JPEG baseline RGB 2048²", "JPEG", (JPEG_BASELINE,),
         source=("make", "make_jpeg_rgb", (), None),
         notes=("Pillow (libjpeg-turbo) quality 90, 4:2:2 → YBR_FULL_422",)),
    Spec("JPEG multi-frame color3d 120×640×480", "JPEG", (JPEG_BASELINE,), _T,
         source=("corpus", "color3d"),
         notes=("pydicom-data color3d_jpeg_baseline.dcm: 120 frames of 640×480 "
                "YBR_FULL_422, no Basic Offset Table",)),
    Spec("JPEG lossless corpus", "JPEG lossless", (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1),
         source=("corpus", "syntax")),
    Spec("JPEG lossless SV1 2048² 16-bit", "JPEG lossless", (JPEG_LOSSLESS_SV1,),
         source=("make", "make_ljpeg", (), 0),
         notes=("tests/test_ljpeg_kernel.py's encoder, precision 12, predictor 1",)),
    Spec("JPEG-LS corpus", "JPEG-LS", (JPEG_LS_LOSSLESS, JPEG_LS_NEAR_LOSSLESS),
         source=("corpus", "syntax")),
    Spec("JPEG-LS lossless 2048² 16-bit", "JPEG-LS", (JPEG_LS_LOSSLESS,),
         source=("make", "make_jpegls", (0,), 0),
         notes=("pyjpegls encode_array (CharLS), NEAR 0",)),
    Spec("JPEG-LS near-lossless 2048² 16-bit", "JPEG-LS", (JPEG_LS_NEAR_LOSSLESS,),
         source=("make", "make_jpegls", (3,), 3),
         notes=("pyjpegls encode_array (CharLS), NEAR 3 (decoders must agree exactly)",)),
    Spec("J2K lossless corpus", "JPEG 2000", (JPEG_2000_LOSSLESS,), _OPJ,
         source=("corpus", "syntax")),
    Spec("J2K lossy corpus", "JPEG 2000", (JPEG_2000,), _OPJ, source=("corpus", "syntax")),
    Spec("J2K lossless 2048² 16-bit", "JPEG 2000", (JPEG_2000_LOSSLESS,), _OPJ,
         source=("make", "make_j2k", (False,), 0),
         notes=("openjpeg.encode (pylibjpeg-openjpeg): 5/3, 6 resolutions, 1 tile, "
                "64×64 code-blocks, LRCP",)),
    Spec("J2K lossy 2048² 16-bit", "JPEG 2000", (JPEG_2000,), _OPJ,
         source=("make", "make_j2k", (True,), None),
         notes=("openjpeg.encode: 9/7, compression ratio 20",)),
    Spec("HTJ2K lossless 2048² 16-bit", "HTJ2K", (HTJ2K_LOSSLESS,), _OPJ,
         source=("make", "make_htj2k", (False,), 0),
         notes=("ojph_compress -reversible true (5 decompositions, RPCL, 64×64)",)),
    Spec("HTJ2K lossy 2048² 16-bit", "HTJ2K", (HTJ2K,), _OPJ,
         source=("make", "make_htj2k", (True,), None),
         notes=("ojph_compress -qstep 0.002 (9/7)",)),
    Spec("J2K multi-frame 16×512² 16-bit", "JPEG 2000", (JPEG_2000_LOSSLESS,), _T_OPJ,
         source=("make", "make_j2k_multiframe", (), 0),
         notes=("16 frames, each openjpeg.encode lossless; Basic Offset Table",)),
)
GROUP_NAMES = tuple(s.name for s in SPECS)
SPEC = {s.name: s for s in SPECS}


def corpus_by_syntax(files) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in files:
        ts = transfer_syntax(p)
        if ts in FAMILY:
            out.setdefault(ts, []).append(p)
    return out


def thread_notes(spec: Spec) -> list[str]:
    cpu = os.cpu_count()
    if spec.threads_pair:
        codec = (f"openjpeg on os.cpu_count() = {cpu} threads per frame"
                 if spec.codec in ("JPEG 2000", "HTJ2K") else "libjpeg has no threads")
        return [f"rapidicom = pixel_array: frames on a pool of os.cpu_count() = {cpu} "
                "threads (outputs >= 1 MiB), codec on 1 thread per frame; rapidicom_t1 = "
                f"to_array(threads=1): frames in turn ({codec}); rapidicom_t2 = "
                "to_array(threads=2)"
                + ("; rapidicom_opj1 = frames in turn, openjpeg on 1 thread (private "
                   "_codec_threads = 1): the one-thread baseline"
                   if "rapidicom_opj1" in spec.extra else "")]
    if "rapidicom_opj1" in spec.extra:
        return [f"rapidicom = pixel_array: single frames decode with openjpeg's own pool of "
                f"os.cpu_count() = {cpu} threads (multi-frame files: frames on rapidicom's "
                "pool, openjpeg on 1 thread each); rapidicom_opj1 = everything on this "
                "thread (private _codec_threads = 1, to_array(threads=1))"]
    return []


class Builder:
    """Builds and checks groups on demand (each once), synthetic files in
    `folder`, corpus files from `files`."""

    def __init__(self, files, folder, log: Callable[[str], None] = lambda s: None):
        self.files, self.folder, self.log = files, str(folder), log
        self._by_ts = None
        self._groups: dict[str, Group] = {}

    def corpus_files(self, spec: Spec) -> tuple[list[str], list[str]]:
        """(paths, notes) of a corpus group."""
        if self._by_ts is None:
            self._by_ts = corpus_by_syntax(self.files)
        paths = [p for ts in spec.syntaxes for p in self._by_ts.get(ts, [])]
        kind = spec.source[1]
        if kind in ("jpeg8", "jpeg12", "color3d"):
            eight = [p for p in paths if rapidicom.open(p).pixels.bits_allocated == 8]
            if kind == "color3d":
                return [p for p in eight if os.path.basename(p) == COLOR3D], []
            if kind == "jpeg12":
                return [p for p in paths if p not in eight], []
            return [p for p in eight if os.path.basename(p) != COLOR3D], [
                f"12-bit JPEG extended files and {COLOR3D} have groups of their own"]
        return paths, []

    def group(self, name: str) -> Group:
        if name in self._groups:
            return self._groups[name]
        spec = SPEC[name]
        truths = None
        notes = list(spec.notes)
        if spec.source[0] == "corpus":
            paths, more = self.corpus_files(spec)
            notes += more
        else:
            _, maker, args, tol = spec.source
            self.log(f"building {name}")
            path, truth = globals()[maker](self.folder, *args)
            paths, truths = [path], {path: (truth, tol)}
            notes.insert(0, f"{os.path.getsize(path) / 1e6:.2f} MB file, "
                            f"{truth.nbytes / 1e6:.1f} MB decoded")
        self.log(f"checking {name}: {len(paths)} files × {len(spec.libs)} libraries")
        g = build_group(name, spec.codec, paths, spec.libs, truths,
                        notes=notes + thread_notes(spec), threads_pair=spec.threads_pair,
                        single_frame_threads="rapidicom_opj1" in spec.extra)
        self._groups[name] = g
        return g


def build_groups(files, folder, wanted: Callable[[str], bool] = lambda name: True,
                 log: Callable[[str], None] = lambda s: None) -> list[Group]:
    """Every group whose name `wanted` accepts, built and checked."""
    b = Builder(files, folder, log)
    return [b.group(s.name) for s in SPECS if wanted(s.name)]


def run(fn, paths):
    """One round: `fn` over every path (warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            fn(p)
