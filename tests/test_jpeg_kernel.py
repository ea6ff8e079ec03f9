"""The JPEG baseline / extended 8-bit kernel (src/core/jpeg.c), tested on its
own through ctypes.

jpeg.c, frame.c and colour.c are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core ... -ljpeg`` (libjpeg-turbo's libjpeg API,
pkg-config module ``libjpeg``), independent of the main build, and:

* tests/c/test_jpeg.c (contract, limits and error paths, round trips through
  libjpeg's own encoder, the progressive scan limit) runs as a program,
  plainly and, where the compiler has them, under ASan/UBSan (with
  LeakSanitizer where it works: the error paths longjmp out of libjpeg);
* every frame of every 8-bit JPEG file in the corpus (transfer syntaxes
  .4.50 and .4.51; tests/corpus.py) decodes bit-exactly like pydicom 3's
  pixel_array, whose first plugin for these syntaxes is GDCM.  The caller's
  YBR_FULL(_422) -> RGB step is played by rd_ybr_full_to_rgb_u8, as the
  package does it.  pylibjpeg-libjpeg and Pillow are compared as second
  references (their spread is reported and bounds ours).  12-bit .4.51 files
  must give RD_ERR_UNSUPPORTED and are then skipped;
* synthetic frames encoded by Pillow (grey and colour, odd sizes, 1x1,
  4:4:4 / 4:2:2 / 4:2:0, progressive, restart intervals, RGB kept with an
  Adobe marker, Bits Stored < 8, signed) match pydicom and Pillow exactly;
* every combination of JFIF / Adobe APP14 (transform 0, 1, truncated) /
  component ids (1,2,3 / 0,1,2 / 'R','G','B') with the Photometric
  Interpretations RGB, YBR_FULL and YBR_FULL_422, with and without
  RD_CODEC_KEEP_YBR, equals pydicom with as_rgb True / False;
* mutated frames (flipped, truncated, a SOF claiming 65535 x 65535, ...)
  never crash and give only RD_OK / RD_ERR_DECODE / RD_ERR_INVALID /
  RD_ERR_LIMIT / RD_ERR_UNSUPPORTED.  This runs in a subprocess under ASan
  when available, and again without ASan under a 1.5 GiB address-space
  limit, so that a crash or an absurd allocation is a failed test.
"""
from __future__ import annotations

import ctypes
import io
import os
import random
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CC, CORE, PHOTOMETRIC, RD_CODEC_KEEP_YBR, RD_ERR_DECODE,
                            RD_ERR_INVALID, RD_ERR_LIMIT, RD_ERR_UNSUPPORTED, RD_OK,
                            CodecOptions, Error, FrameDesc, corpus_frames, file_id,
                            frame_desc, max_diff, options)

SOURCES = [CORE / "jpeg.c", CORE / "frame.c", CORE / "colour.c"]
C_TEST = ks.C_TESTS / "test_jpeg.c"
LIBRARIES = ["libjpeg"]          # libjpeg-turbo's libjpeg API
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_SYNTAXES = (JPEG_BASELINE, JPEG_EXTENDED)

SKIP_REASON = ks.missing(tuple(LIBRARIES))
pytestmark = ks.requires(*LIBRARIES)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def build_library(tmp_dir: Path, name: str, extra: list[str] = ()) -> Path:
    return ks.build_library(tmp_dir, SOURCES, LIBRARIES, extra, name=name)


def load(path: Path) -> ctypes.CDLL:
    return ks.load_library(path, "rd_jpeg_decode_frame", colour=True)


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("rdjpeg"), "librdjpeg.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


# --------------------------------------------------------------------------
# Helpers shared with the mutation subprocess
# --------------------------------------------------------------------------

def decode(lib, src: bytes, desc: FrameDesc, opts: CodecOptions | None = None,
           cap: int | None = None):
    """(status, uint8 output array or None, rd_error)."""
    st, out, err = ks.run_decoder(lib, lib.rd_jpeg_decode_frame, src, desc, opts, cap=cap)
    return st, (out if st == RD_OK else None), err


def as_image(buf: np.ndarray, desc: FrameDesc) -> np.ndarray:
    """Decoder output as pydicom shapes a frame (signed dtype for PR 1)."""
    return ks.frame_array(buf, desc)


def caller_rgb(lib, buf: np.ndarray, desc: FrameDesc, keep_ybr: bool) -> np.ndarray:
    """What the package does after the decoder: 8-bit YBR_FULL(_422) -> RGB
    (rd_ybr_full_to_rgb_u8) unless the user keeps YBR."""
    out = buf.copy()
    if not keep_ybr and desc.photometric in (PHOTOMETRIC["YBR_FULL"],
                                             PHOTOMETRIC["YBR_FULL_422"]):
        lib.rd_ybr_full_to_rgb_u8(out.ctypes.data, desc.rows * desc.columns)
    return as_image(out, desc)


def jpeg_files() -> list[Path]:
    """Every corpus file of the two transfer syntaxes (8- and 12-bit)."""
    return ks.corpus_files(JPEG_SYNTAXES)


def reference(ds, plugin: str = "", index: int | None = None, as_rgb: bool = True):
    """pydicom's array (all frames, or one) with a given plugin ('' = default)."""
    return ks.pydicom_array(ds, index, plugin, as_rgb=as_rgb)[0]


ALL_JPEG_FILES = jpeg_files() if SKIP_REASON is None else []


def _is_12bit(path: Path) -> bool:
    import pydicom
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True).BitsStored > 8


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

def _run_c_test(tmp_path: Path, extra: list[str],
                leaks: bool = False) -> subprocess.CompletedProcess:
    exe = ks.build_program(tmp_path, [*SOURCES, C_TEST], LIBRARIES, extra, name="test_jpeg")
    return ks.run_c_program(exe, leaks=leaks)


def _leak_checker_works(tmp_path: Path, flags: list[str]) -> bool:
    """LeakSanitizer needs ptrace-like access that some containers deny."""
    probe = tmp_path / "leakprobe.c"
    probe.write_text("#include <stdlib.h>\nint main(void) { free(malloc(8)); return 0; }\n")
    exe = tmp_path / "leakprobe"
    if subprocess.run([CC, *flags, str(probe), "-o", str(exe)],
                      capture_output=True).returncode != 0:
        return False
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    return subprocess.run([str(exe)], capture_output=True, env=env).returncode == 0


def test_c_program(tmp_path):
    res = _run_c_test(tmp_path, [])
    assert res.returncode == 0, res.stderr


def test_c_program_sanitized(tmp_path):
    """Also leak-checked where LeakSanitizer runs: every error path longjmps
    out of libjpeg and must still free the decompressor."""
    flags = ks.require_sanitizer(tmp_path)
    res = _run_c_test(tmp_path, flags, leaks=_leak_checker_works(tmp_path, flags))
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------
# Corpus: every frame of every JPEG file, against pydicom and second references
# --------------------------------------------------------------------------

def test_corpus_has_jpeg_files():
    # pydicom's test files: 14 8-bit .50 files and 2 12-bit .51 ones;
    # pydicom-data adds color3d_jpeg_baseline.dcm (120 frames).
    eight = [p for p in ALL_JPEG_FILES if not _is_12bit(p)]
    assert len(eight) >= 14, [str(p) for p in ALL_JPEG_FILES]


def test_default_plugin_is_gdcm():
    """The references below assume pydicom's pixel_array decodes these
    syntaxes with GDCM (its first plugin when python-gdcm is installed)."""
    from pydicom.pixels.decoders.base import get_decoder

    for uid in JPEG_SYNTAXES:
        plugins = list(get_decoder(uid)._available)
        if "gdcm" not in plugins:
            pytest.skip("python-gdcm is not installed")
        assert plugins[0] == "gdcm", plugins


_REFERENCES: dict[Path, dict[str, np.ndarray]] = {}


def sampled_frames(nframes: int) -> list[int]:
    """Every 8th frame and the last: the frames of multi-frame files that
    the slower secondary comparisons look at."""
    return sorted(set(range(0, nframes, 8)) | {nframes - 1})


def corpus_reference(path: Path, ds, nframes: int) -> dict[str, np.ndarray]:
    """pydicom's default pixel_array for a corpus file (all frames, shaped
    (frames, rows, columns, samples)) and, for sampled_frames(), its
    as_rgb=False arrays; computed once per file."""
    if path not in _REFERENCES:
        shape = (ds.Rows, ds.Columns, -1)
        _REFERENCES[path] = {
            "rgb": reference(ds).reshape(nframes, *shape),
            "raw": {i: reference(ds, index=i, as_rgb=False).reshape(shape)
                    for i in sampled_frames(nframes)}}
    return _REFERENCES[path]


@pytest.mark.parametrize("path", ALL_JPEG_FILES, ids=[file_id(p) for p in ALL_JPEG_FILES])
def test_corpus_matches_pydicom(lib, path):
    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    if ds.BitsStored > 8:
        st, _, err = decode(lib, frames[0], desc)
        assert st == RD_ERR_UNSUPPORTED and b"12-bit" in err.msg, err.msg
        pytest.skip("12-bit extended JPEG: separate decoder")
    refs = corpus_reference(path, ds, len(frames))
    ref, raw = refs["rgb"], refs["raw"]
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        got = caller_rgb(lib, ours, desc, keep_ybr=False).reshape(ref.shape[1:])
        assert np.array_equal(got, ref[i]), (
            f"frame {i} differs from pydicom's pixel_array by {max_diff(got, ref[i])}")
        # With the user keeping YBR: pydicom's as_rgb=False.
        if i in raw:
            st, kept, err = decode(lib, frame, desc, options(RD_CODEC_KEEP_YBR))
            assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
            got = caller_rgb(lib, kept, desc, keep_ybr=True).reshape(ref.shape[1:])
            assert np.array_equal(got, raw[i]), f"frame {i} differs from as_rgb=False"


@pytest.mark.parametrize("path", ALL_JPEG_FILES, ids=[file_id(p) for p in ALL_JPEG_FILES])
def test_corpus_second_references(lib, path):
    """pylibjpeg-libjpeg and Pillow: ours may differ from each no more than
    GDCM (pydicom's default, see test_default_plugin_is_gdcm) differs from
    it; the differences are printed (-s).  Multi-frame files are sampled
    (every 8th frame and the last) to keep this test fast; every frame is
    compared with the default above."""
    ds, frames = corpus_frames(path)
    if ds.BitsStored > 8:
        pytest.skip("12-bit extended JPEG: separate decoder")
    desc = frame_desc(ds)
    gdcm = corpus_reference(path, ds, len(frames))["rgb"]
    picked = sampled_frames(len(frames))
    ours = np.stack([caller_rgb(lib, decode(lib, frames[i], desc)[1], desc, False)
                     .reshape(gdcm.shape[1:]) for i in picked])
    gdcm = gdcm[picked]
    report = [f"{file_id(path)} ({len(picked)}/{len(frames)} frames): "
              f"ours-gdcm {max_diff(ours, gdcm)}"]
    for plugin in ("pylibjpeg", "pillow"):
        try:
            other = np.stack([reference(ds, plugin, index=i).reshape(gdcm.shape[1:])
                              for i in picked])
        except Exception as exc:                # plugin missing or refusing
            report.append(f"{plugin}: n/a ({str(exc).splitlines()[0][:60]})")
            continue
        spread = max_diff(other, gdcm)
        d = max_diff(ours, other)
        report.append(f"ours-{plugin} {d} (gdcm-{plugin} {spread})")
        assert d <= spread, report
    print("; ".join(report))


# --------------------------------------------------------------------------
# Synthetic frames encoded by Pillow
# --------------------------------------------------------------------------

def _pillow():
    return pytest.importorskip("PIL.Image", reason="Pillow is not installed "
                               "(pip install pillow; test-only dependency)")


def pillow_jpeg(arr: np.ndarray, **kwargs) -> bytes:
    Image = _pillow()
    mode = kwargs.pop("mode", "L" if arr.ndim == 2 else "RGB")
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def pillow_raw(src: bytes) -> np.ndarray | None:
    """Pillow's (libjpeg-turbo 3) decode with no colour conversion, or None
    where Pillow would convert (an Adobe transform flag other than 0)."""
    Image = _pillow()
    im = Image.open(io.BytesIO(src))
    if im.mode == "RGB":
        transform = im.info.get("adobe_transform")
        if transform is None:
            im.draft("YCbCr", im.size)
        elif transform != 0:
            return None
    elif im.mode != "L":
        return None
    return np.asarray(im)


def segments(src: bytes):
    """(marker, start, end) of each segment up to the first SOS."""
    out, pos = [], 2
    while pos + 4 <= len(src):
        marker = src[pos + 1]
        length = struct.unpack(">H", src[pos + 2:pos + 4])[0]
        out.append((marker, pos, pos + 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def drop_app(src: bytes, n: int) -> bytes:
    for marker, start, end in segments(src):
        if marker == 0xE0 + n:
            return drop_app(src[:start] + src[end:], n)
    return src


def add_app14(src: bytes, transform: int, truncated: bool = False) -> bytes:
    data = b"Adobe" + b"\x00\x64" + b"\x00\x00" + b"\x00\x00" + bytes([transform])
    if truncated:                   # like SC_rgb_jpeg.dcm: no transform byte
        data = data[:10]
    return src[:2] + b"\xFF\xEE" + struct.pack(">H", len(data) + 2) + data + src[2:]


def set_ids(src: bytes, ids: list[int]) -> bytes:
    """Component ids 1, 2, 3 -> ids, in the SOF and every SOS."""
    b = bytearray(src)
    pos = 2
    while pos + 4 <= len(b):
        if b[pos] != 0xFF or b[pos + 1] in (0x00, 0xFF) or 0xD0 <= b[pos + 1] <= 0xD7:
            pos += 1
            continue
        marker = b[pos + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", b[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            for k in range(b[pos + 9]):
                b[pos + 10 + 3 * k] = ids[b[pos + 10 + 3 * k] - 1]
        elif marker == 0xDA:
            for k in range(b[pos + 4]):
                b[pos + 5 + 2 * k] = ids[b[pos + 5 + 2 * k] - 1]
        pos += 2 + length
    return bytes(b)


def make_dataset(frames: list[bytes], rows: int, cols: int, spp: int, pi: str,
                 ts: str = JPEG_BASELINE, bits_stored: int = 8, pr: int = 0):
    return ks.encapsulated_dataset(
        frames, rows=rows, columns=cols, samples_per_pixel=spp, bits_allocated=8,
        bits_stored=bits_stored, pixel_representation=pr, photometric=pi, syntax=ts,
        number_of_frames=len(frames) if len(frames) > 1 else None)


def _image(rows: int, cols: int, spp: int, seed: int) -> np.ndarray:
    """Smooth gradients plus noise: realistic for the DCT, not trivial."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    planes = [(x * 7 + y * 3 + 40 * k) % 256 for k in range(spp)]
    img = np.stack(planes, -1) + rng.integers(-20, 21, (rows, cols, spp))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if spp == 1 else img


SYNTHETIC = [
    # id, rows, cols, spp, Pillow save options
    ("grey_1x1", 1, 1, 1, {}),
    ("grey_7x13", 7, 13, 1, {"quality": 75}),
    ("grey_33x17_q100", 33, 17, 1, {"quality": 100}),
    ("grey_61x65_progressive", 61, 65, 1, {"progressive": True}),
    ("grey_40x37_restart", 40, 37, 1, {"restart_marker_blocks": 3}),
    ("grey_64x64_optimize", 64, 64, 1, {"optimize": True, "quality": 50}),
    ("rgb_1x1_420", 1, 1, 3, {"subsampling": 2}),
    ("rgb_1x1_444", 1, 1, 3, {"subsampling": 0}),
    ("rgb_5x7_422", 5, 7, 3, {"subsampling": 1}),
    ("rgb_17x31_420", 17, 31, 3, {"subsampling": 2, "quality": 85}),
    ("rgb_23x9_444", 23, 9, 3, {"subsampling": 0, "quality": 95}),
    ("rgb_49x51_420_progressive", 49, 51, 3, {"subsampling": 2, "progressive": True}),
    ("rgb_33x35_444_progressive", 33, 35, 3, {"subsampling": 0, "progressive": True}),
    ("rgb_41x43_422_restart_rows", 41, 43, 3, {"subsampling": 1, "restart_marker_rows": 1}),
    ("rgb_30x29_420_restart_blocks", 30, 29, 3, {"subsampling": 2,
                                                 "restart_marker_blocks": 2}),
    ("rgb_kept_19x21_adobe0", 19, 21, 3, {"keep_rgb": True, "subsampling": 0}),
    ("rgb_kept_18x22_adobe0_progressive", 18, 22, 3, {"keep_rgb": True, "subsampling": 0,
                                                      "progressive": True}),
]


def _synthetic_case(case):
    name, rows, cols, spp, kwargs = case
    img = _image(rows, cols, spp, seed=len(name) * rows + cols)
    return img, pillow_jpeg(img, **kwargs)


@pytest.mark.parametrize("case", SYNTHETIC, ids=[c[0] for c in SYNTHETIC])
def test_synthetic_round_trip(lib, case):
    name, rows, cols, spp, kwargs = case
    img, src = _synthetic_case(case)
    pis = ["MONOCHROME2"] if spp == 1 else (["RGB"] if kwargs.get("keep_rgb")
                                            else ["YBR_FULL_422", "YBR_FULL"])
    for pi in pis:
        for ts in JPEG_SYNTAXES:
            ds = make_dataset([src], rows, cols, spp, pi, ts=ts)
            desc = frame_desc(ds)
            st, ours, err = decode(lib, src, desc)
            assert st == RD_OK, err.msg
            raw = as_image(ours, desc)
            # Samples as coded: Pillow (libjpeg-turbo 3) without conversion.
            assert np.array_equal(raw, pillow_raw(src).reshape(raw.shape)), pi
            # pydicom's default (GDCM), after the caller's conversion.
            ref = reference(ds, index=0)
            assert np.array_equal(caller_rgb(lib, ours, desc, False), ref), (
                f"{pi} {ts}: max diff {max_diff(caller_rgb(lib, ours, desc, False), ref)}")
    # Lossy, but close to what went in (colour through pydicom's conversion).
    got = caller_rgb(lib, ours, desc, False).astype(int)
    mean_error = np.abs(got - img.reshape(got.shape)).mean()
    assert mean_error < (6 if kwargs.get("quality", 75) >= 95 else 15), mean_error


def test_synthetic_sof1_extended_8bit(lib):
    """.4.51 with 8-bit samples: an SOF1 (extended sequential) frame."""
    img = _image(24, 19, 3, 5)
    src = bytearray(pillow_jpeg(img, subsampling=2))
    for marker, start, _ in segments(bytes(src)):
        if marker == 0xC0:
            src[start + 1] = 0xC1
    src = bytes(src)
    ds = make_dataset([src], 24, 19, 3, "YBR_FULL_422", ts=JPEG_EXTENDED)
    desc = frame_desc(ds)
    st, ours, err = decode(lib, src, desc)
    assert st == RD_OK, err.msg
    assert np.array_equal(caller_rgb(lib, ours, desc, False), reference(ds, index=0))


@pytest.mark.parametrize("bits_stored,pr", [(8, 1), (7, 0), (6, 1), (5, 0), (1, 0)])
def test_synthetic_bits_stored_and_sign(lib, bits_stored, pr):
    """Bits Stored < 8 is masked / sign-extended as pydicom does; signed
    8-bit samples keep their bytes (pydicom views them as int8).

    The reference is pydicom with the Pillow plugin (the same libjpeg-turbo
    samples): GDCM, pydicom's default, throws an uncaught C++ exception
    (gdcmImageCodec.cxx:754, BitsAllocated == BitsStored) for an 8-bit JPEG
    with Bits Stored < 8, which aborts the whole Python process."""
    _pillow()
    img = _image(13, 11, 1, bits_stored)
    src = pillow_jpeg(img, quality=90)
    ds = make_dataset([src], 13, 11, 1, "MONOCHROME2", bits_stored=bits_stored, pr=pr)
    desc = frame_desc(ds)
    st, ours, err = decode(lib, src, desc)
    assert st == RD_OK, err.msg
    ref = reference(ds, "pillow" if bits_stored < 8 else "", index=0)
    assert ref.dtype == (np.int8 if pr else np.uint8)
    assert np.array_equal(as_image(ours, desc), ref)


def test_synthetic_multiframe(lib):
    frames = [pillow_jpeg(_image(16, 20, 3, k), subsampling=k % 3) for k in range(4)]
    ds = make_dataset(frames, 16, 20, 3, "YBR_FULL_422")
    desc = frame_desc(ds)
    ref = reference(ds)
    for i, f in enumerate(frames):
        st, ours, err = decode(lib, f, desc)
        assert st == RD_OK, err.msg
        assert np.array_equal(caller_rgb(lib, ours, desc, False), ref[i])


# --------------------------------------------------------------------------
# Colour: markers x Photometric Interpretation x keep-YBR, against pydicom
# --------------------------------------------------------------------------

def _colour_variants():
    img = _image(16, 24, 3, 11)
    img[:8] = (200, 30, 90)
    base = pillow_jpeg(img, quality=90, subsampling=2)   # JFIF, ids 1,2,3, YCbCr
    bare = drop_app(base, 0)
    return {
        "jfif_ids123": base,
        "bare_ids123": bare,
        "bare_ids012": set_ids(bare, [0, 1, 2]),
        "bare_idsRGB": set_ids(bare, [82, 71, 66]),
        "bare_idsrgb": set_ids(bare, [114, 103, 98]),
        "jfif_idsRGB": set_ids(base, [82, 71, 66]),
        "adobe0_ids123": add_app14(bare, 0),
        "adobe1_ids123": add_app14(bare, 1),
        "adobe1_idsRGB": set_ids(add_app14(bare, 1), [82, 71, 66]),
        "jfif_adobe0": add_app14(base, 0),
        "adobe_truncated": add_app14(bare, 1, truncated=True),
        # APP0 "JFIF" followed by an APP0 "JFXX": pydicom keeps the last APP0.
        "jfif_then_jfxx": _jfif_then_jfxx(base),
        # JFIF in another APPn counts for pydicom too.
        "jfif_in_app2": _jfif_in_app2(bare),
    }


def _app0_jfxx() -> bytes:
    data = b"JFXX\x00\x13"
    return b"\xFF\xE0" + struct.pack(">H", len(data) + 2) + data


def _jfif_then_jfxx(base: bytes) -> bytes:
    # insert the JFXX APP0 right after the JFIF APP0
    for marker, start, end in segments(base):
        if marker == 0xE0:
            return base[:end] + _app0_jfxx() + base[end:]
    raise AssertionError("no APP0")


def _jfif_in_app2(bare: bytes) -> bytes:
    data = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return bare[:2] + b"\xFF\xE2" + struct.pack(">H", len(data) + 2) + data + bare[2:]


COLOUR_PIS = ("RGB", "YBR_FULL", "YBR_FULL_422", "MONOCHROME2")


@pytest.mark.parametrize("pi", COLOUR_PIS)
def test_colour_markers_match_pydicom(lib, pi):
    """Decoder + caller == pydicom's default for every marker combination,
    with as_rgb True (no flag) and False (RD_CODEC_KEEP_YBR).

    The one combination the decoder cannot finish alone: Photometric
    Interpretation YBR_FULL(_422) with component ids 'R','G','B' - pydicom
    then treats the data as RGB and does not convert, so the caller must
    not either.  There the decoder's own output is compared."""
    variants = _colour_variants()
    failures = []
    for name, src in variants.items():
        ds = make_dataset([src], 16, 24, 3, pi)
        desc = frame_desc(ds)
        rgb_ids = "idsRGB" in name or "idsrgb" in name
        for keep in (False, True):
            st, ours, err = decode(lib, src, desc, options(RD_CODEC_KEEP_YBR if keep else 0))
            assert st == RD_OK, (name, err.msg)
            ref = reference(ds, index=0, as_rgb=not keep)
            caller_converts = not keep and not (rgb_ids and pi.startswith("YBR_FULL"))
            got = caller_rgb(lib, ours, desc, keep_ybr=not caller_converts)
            if not np.array_equal(got, ref):
                failures.append(f"{name} keep={keep}: max diff {max_diff(got, ref)}")
    assert not failures, failures


def test_colour_never_transformed_by_libjpeg(lib):
    """Whatever the markers say, the decoder's samples are the components
    as coded (what GDCM returns): the same bytes for every variant that
    differs only in markers and ids, PI YBR_FULL."""
    variants = _colour_variants()
    outs = {}
    for name, src in variants.items():
        ds = make_dataset([src], 16, 24, 3, "YBR_FULL")
        st, ours, err = decode(lib, src, frame_desc(ds))
        assert st == RD_OK, (name, err.msg)
        outs[name] = ours
    first = outs["jfif_ids123"]
    assert all(np.array_equal(first, o) for o in outs.values())


def test_planar_configuration_is_ignored(lib):
    """PS3.5 8.2.1: Planar Configuration means nothing for JPEG; the output
    is always interleaved.  (pydicom 3.0.2 instead re-reads the interleaved
    samples as planes when the dataset says 1 - a known divergence.)"""
    img = _image(16, 24, 3, 3)
    src = pillow_jpeg(img, keep_rgb=True, subsampling=0, quality=95)
    ds = make_dataset([src], 16, 24, 3, "RGB")
    desc0 = frame_desc(ds)
    desc1 = frame_desc(ds)
    desc1.planar_configuration = 1
    st0, out0, _ = decode(lib, src, desc0)
    st1, out1, _ = decode(lib, src, desc1)
    assert st0 == st1 == RD_OK
    assert np.array_equal(out0, out1)
    assert np.array_equal(as_image(out0, desc0), reference(ds, index=0))


# --------------------------------------------------------------------------
# Contract and limits
# --------------------------------------------------------------------------

def _grey_frame(rows=20, cols=30, **kwargs):
    img = _image(rows, cols, 1, 1)
    return pillow_jpeg(img, **kwargs), FrameDesc(rows, cols, 1, 8, 8, 0, 0, 2)


def _patch_sof_dims(src: bytes, rows: int, cols: int) -> bytes:
    b = bytearray(src)
    for marker, start, _ in segments(src):
        if marker in (0xC0, 0xC1, 0xC2):
            b[start + 5:start + 9] = struct.pack(">HH", rows, cols)
    return bytes(b)


def test_mismatch_and_limits(lib):
    src, desc = _grey_frame()
    st, _, err = decode(lib, src, FrameDesc(21, 30, 1, 8, 8, 0, 0, 2))
    assert st == RD_ERR_DECODE and b"20 x 30" in err.msg and b"21 x 30" in err.msg, err.msg
    st, _, err = decode(lib, src, FrameDesc(20, 30, 3, 8, 8, 0, 0, 4))
    assert st == RD_ERR_DECODE and b"1 components" in err.msg and b"3 samples" in err.msg
    # a SOF claiming 65535 x 65535 against the dataset's 20 x 30
    big = _patch_sof_dims(src, 65535, 65535)
    st, _, err = decode(lib, big, desc)
    assert st == RD_ERR_DECODE and b"65535 x 65535" in err.msg, err.msg
    # max_pixels, checked before anything else
    st, _, err = decode(lib, src, desc, options(max_pixels=599))
    assert st == RD_ERR_LIMIT and b"600 pixels" in err.msg and b"599" in err.msg
    st, _, _ = decode(lib, src, desc, options(max_pixels=600))
    assert st == RD_OK
    # a dataset claiming 65535 x 65535: the default limit (2^31) refuses it
    huge = FrameDesc(65535, 65535, 1, 8, 8, 0, 0, 2)
    err = Error()
    out = np.empty(16, np.uint8)
    st = lib.rd_jpeg_decode_frame(big, len(big), ctypes.byref(huge), None,
                                  out.ctypes.data, 2**40, ctypes.byref(err))
    assert st == RD_ERR_LIMIT, err.msg
    # output buffer too small: refused before decoding
    st, _, err = decode(lib, src, desc, cap=599)
    assert st == RD_ERR_INVALID and b"599" in err.msg


def test_unsupported_precision(lib):
    src, desc = _grey_frame()
    b = bytearray(src)
    for marker, start, _ in segments(src):
        if marker == 0xC0:
            b[start + 4] = 12
    st, _, err = decode(lib, bytes(b), desc)
    assert st == RD_ERR_UNSUPPORTED and b"12-bit" in err.msg, err.msg
    st, _, err = decode(lib, src, FrameDesc(20, 30, 1, 16, 12, 0, 0, 2))
    assert st == RD_ERR_UNSUPPORTED and b"12-bit" in err.msg, err.msg
    st, _, err = decode(lib, src, FrameDesc(20, 30, 1, 16, 8, 0, 0, 2))
    assert st == RD_ERR_UNSUPPORTED and b"Bits Allocated 16" in err.msg, err.msg


def test_truncated_and_damaged(lib):
    src, desc = _grey_frame(48, 40)
    # missing EOI only: every sample is there, accepted (GDCM accepts it too)
    st, out, err = decode(lib, src[:-2], desc)
    assert st == RD_OK, err.msg
    assert np.array_equal(out, decode(lib, src, desc)[1])
    # cut inside the entropy-coded data: refused
    st, _, err = decode(lib, src[:len(src) * 3 // 4], desc)
    assert st == RD_ERR_DECODE and b"premature end" in err.msg.lower(), err.msg
    assert 0 < err.offset <= len(src) * 3 // 4
    # a progressive frame missing its last scans: refused
    prog, _ = _grey_frame(48, 40, progressive=True)
    sos = [i for i in range(len(prog) - 1) if prog[i] == 0xFF and prog[i + 1] == 0xDA]
    st, _, err = decode(lib, prog[:sos[-1]], desc)
    assert st == RD_ERR_DECODE, err.msg
    # not a JPEG at all, and empty
    st, _, err = decode(lib, b"\x00" * 64, desc)
    assert st == RD_ERR_DECODE and b"SOI" in err.msg
    st, _, err = decode(lib, b"", desc)
    assert st == RD_ERR_DECODE
    # stray bytes before EOI: a libjpeg warning that changes no sample
    st, out, err = decode(lib, src[:-2] + b"\x12\x34" + src[-2:], desc)
    assert st == RD_OK, err.msg


# --------------------------------------------------------------------------
# Mutation: damaged frames never crash, never allocate absurd memory
# --------------------------------------------------------------------------

MUTATIONS_PER_FRAME = 50
MUTATIONS_LARGE_FRAME = 10    # frames over 100 000 pixels


def _mutation_sources():
    """(name, frame, desc) for every 8-bit corpus file's first frame plus
    synthetic progressive / restart frames."""
    out = []
    for path in jpeg_files():
        if _is_12bit(path):
            continue
        ds, frames = corpus_frames(path)
        out.append((path.name, frames[0], frame_desc(ds)))
    for case in SYNTHETIC:
        if "progressive" in case[0] or "restart" in case[0]:
            img, src = _synthetic_case(case)
            pi = "MONOCHROME2" if case[3] == 1 else "YBR_FULL_422"
            out.append((case[0], src, frame_desc(make_dataset([src], case[1], case[2],
                                                              case[3], pi))))
    return out


def _mutants(frame: bytes, rng: random.Random, count: int):
    n = len(frame)
    sof = [s for m, s, _ in segments(frame) if m in (0xC0, 0xC1, 0xC2)]
    for _ in range(count):
        kind = rng.randrange(8)
        b = bytearray(frame)
        if kind == 0:       # flip one bit anywhere
            pos = rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"bit flip at {pos}", bytes(b)
        elif kind == 1:     # a random byte, biased to the headers
            pos = rng.randrange(min(n, 700)) if rng.random() < 0.6 else rng.randrange(n)
            b[pos] = rng.randrange(256)
            yield f"byte {pos} = {b[pos]}", bytes(b)
        elif kind == 2:     # truncate
            cut = rng.randrange(n)
            yield f"truncated to {cut}", bytes(b[:cut])
        elif kind == 3 and sof:   # SOF dimensions / components / precision
            s = sof[0]
            field = rng.choice([(4, 1), (5, 2), (7, 2), (9, 1)])
            value = rng.choice([0, 1, 2, 3, 4, 12, 255, 65535, 65500, rng.randrange(65536)])
            b[s + field[0]:s + field[0] + field[1]] = (value & ((1 << (8 * field[1])) - 1)) \
                .to_bytes(field[1], "big")
            yield f"SOF field {field} = {value}", bytes(b)
        elif kind == 4:     # delete a span
            pos = rng.randrange(n)
            del b[pos:pos + rng.randrange(1, 32)]
            yield f"deleted at {pos}", bytes(b)
        elif kind == 5:     # marker bytes sprinkled in
            for _ in range(rng.randrange(1, 6)):
                pos = rng.randrange(n - 1)
                b[pos:pos + 2] = bytes([0xFF, rng.choice([0xD0, 0xD9, 0xDA, 0xC4, 0xDB,
                                                          0xDD, 0xC2, 0x00, 0xFF])])
            yield "markers inserted", bytes(b)
        elif kind == 6:     # a segment length rewritten
            segs = segments(frame)
            m, s, e = rng.choice(segs)
            value = rng.choice([0, 1, 2, 3, 0xFFFF, rng.randrange(65536)])
            b[s + 2:s + 4] = value.to_bytes(2, "big")
            yield f"length of segment {m:#x} = {value}", bytes(b)
        else:               # garbage appended / prefixed data
            extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            yield f"{len(extra)} bytes appended", bytes(b) + extra


def _mutation_main(libpath: str, memory_limit: bool) -> int:
    """Run in a subprocess; exit status 0 when every mutant was handled."""
    if memory_limit:
        ks.limit_address_space(3 << 29)     # 1.5 GiB
    lib = load(Path(libpath))
    guarded = ks.GuardedCalls()
    rng = random.Random(20240612)
    keep = options(RD_CODEC_KEEP_YBR)       # samples as coded, comparable
    have_pillow = False
    if not memory_limit:                    # the ASan run also checks values
        try:
            _pillow()
            have_pillow = True
        except BaseException:               # pytest.skip outside pytest
            pass
    tally = ks.MutationTally()
    for name, frame, desc in _mutation_sources():
        size = lib.rd_frame_size(ctypes.byref(desc))
        count = (MUTATIONS_LARGE_FRAME if desc.rows * desc.columns > 100_000
                 else MUTATIONS_PER_FRAME)
        for what, data in _mutants(frame, rng, count):
            call, = guarded(lib.rd_jpeg_decode_frame, data, desc, size, keep)
            st = call.status
            got = call.out[:size] if st == RD_OK else b""
            problem = ks.frame_problem(call, size)
            if problem is None and st == RD_OK and have_pillow:
                # What we accept, Pillow's libjpeg-turbo decodes to the same
                # samples (when it decodes it at all without a transform).
                try:
                    want = pillow_raw(data)
                except Exception:
                    want = None
                if want is not None and want.tobytes() != got:
                    problem = "accepted, but Pillow decodes other samples"
            tally.record(name, what, problem, st)
    return tally.finish()


def _run_mutation(tmp_path: Path, sanitize: bool) -> None:
    flags = libasan = None
    if sanitize:
        flags = ks.require_sanitizer(tmp_path)
        libasan = ks.libasan()
        if libasan is None:
            pytest.skip(ks.NO_LIBASAN)
    env = ks.mutation_env(libasan)
    libpath = build_library(tmp_path, "libmut.so", flags or [])
    mode = "--mutate-asan" if sanitize else "--mutate-rlimit"
    res = ks.run_mutation(__file__, mode, libpath, env=env)
    ks.assert_exited_cleanly(res.returncode, res.stdout, res.stderr)


def test_mutated_frames_never_crash(tmp_path):
    _run_mutation(tmp_path, sanitize=True)


def test_mutated_frames_memory_bounded(tmp_path):
    _run_mutation(tmp_path, sanitize=False)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--mutate-asan", "--mutate-rlimit"):
        sys.exit(_mutation_main(sys.argv[2], memory_limit=sys.argv[1] == "--mutate-rlimit"))
    sys.exit("usage: test_jpeg_kernel.py --mutate-asan|--mutate-rlimit LIBRARY")
