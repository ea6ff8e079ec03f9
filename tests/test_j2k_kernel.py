"""The JPEG 2000 / HTJ2K kernel (src/core/j2k.c on openjpeg >= 2.5), tested on
its own through ctypes.

j2k.c and frame.c are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core $(pkg-config --cflags --libs libopenjp2)``,
independent of the main build, and:

* tests/c/test_j2k.c (round trips through openjpeg's own encoder for the
  sizes the Python encoders cannot make - 1x1, one row, one column - every
  precision 1..31, signed data, 3/4 components, tiles, JP2; one embedded
  HTJ2K codestream; one hand-edited codestream per error path) runs as a
  program, plainly and, where the compiler has them, under ASan/UBSan;
* every frame of every JPEG 2000 file of the corpus (tests/corpus.py) equals
  pydicom's ``pixel_array`` for that frame.  pydicom 3.0.2 decodes JPEG 2000
  with its first available plugin, GDCM; lossless frames must be bit-exact,
  lossy ones (.91) are also decoded with the pylibjpeg(-openjpeg) plugin and
  ours may differ from either by no more than the two differ from each other
  (on this corpus they agree exactly, and so do we).  The corpus has no HTJ2K
  file;
* synthetic JPEG 2000 (pylibjpeg-openjpeg's encoder) and HTJ2K
  (``ojph_compress`` from Debian's openjph-tools) frames, wrapped in
  in-memory datasets, cover what the corpus lacks (odd sizes, 12/16/20-bit,
  signed, 3 samples, every disagreement between the codestream's signedness
  and Pixel Representation, JP2, lossy) against pydicom, and for lossy HTJ2K
  also against ``ojph_expand`` as the second reference;
* damaged frames (flipped, rewritten, truncated, deleted and appended bytes,
  a SIZ claiming 65535 x 65535) never crash the decoder, never write outside
  the frame (nor at all when they fail), give only RD_OK / RD_ERR_DECODE /
  RD_ERR_INVALID / RD_ERR_LIMIT / RD_ERR_UNSUPPORTED with a message, and keep
  peak memory small.  This runs in subprocesses (one under ASan when
  available) so that a crash is a failed test, not a dead test run;
* openjpeg's thread pool is used only when asked for: OPJ_NUM_THREADS in the
  environment starts no thread.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CORE, PHOTOMETRIC, RD_ERR_DECODE, RD_ERR_LIMIT, RD_OK,
                            CodecOptions, Error, FrameDesc, corpus_frames, file_id,
                            frame_desc, options)

SOURCES = [CORE / "j2k.c", CORE / "frame.c"]
C_TEST = ks.C_TESTS / "test_j2k.c"
LIBRARIES = ["libopenjp2"]      # >= 2.5

J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K_LOSSY = "1.2.840.10008.1.2.4.91"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
HTJ2K_LOSSLESS_RPCL = "1.2.840.10008.1.2.4.202"
HTJ2K_LOSSY = "1.2.840.10008.1.2.4.203"
J2K_SYNTAXES = {J2K_LOSSLESS, J2K_LOSSY, HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, HTJ2K_LOSSY}
LOSSY = {J2K_LOSSY, HTJ2K_LOSSY}

OJPH_COMPRESS = shutil.which("ojph_compress")
OJPH_EXPAND = shutil.which("ojph_expand")

SKIP_REASON = ks.missing(tuple(LIBRARIES))
pytestmark = ks.requires(*LIBRARIES)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def build_library(tmp_dir: Path, name: str, extra: list[str] = ()) -> Path:
    return ks.build_library(tmp_dir, SOURCES, LIBRARIES, extra, name=name)


def load(path: Path) -> ctypes.CDLL:
    return ks.load_library(path, "rd_j2k_decode_frame")


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("rdj2k"), "librdj2k.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


# --------------------------------------------------------------------------
# Helpers shared with the mutation subprocess
# --------------------------------------------------------------------------

def decode(lib, src: bytes, desc: FrameDesc, opts: CodecOptions | None = None):
    """(status, array or None, rd_error); the array is (rows, cols[, spp])."""
    st, out, err = ks.run_decoder(lib, lib.rd_j2k_decode_frame, src, desc, opts)
    return st, (ks.frame_array(out, desc) if st == RD_OK else None), err


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, (a.shape, b.shape)
    return ks.max_diff(a, b)


def j2k_files() -> list[Path]:
    return ks.corpus_files(J2K_SYNTAXES)


J2K_FILES = j2k_files() if SKIP_REASON is None else []

# Files no reference decodes either, with the reason and what we must say.
UNDECODABLE = {
    # The sequence delimiter (FFFE,E0DD) pydicom's test embeds sits inside
    # the SIZ marker segment (Rsiz/Xsiz), so Xsiz is 0xDDE00100 - 0: GDCM,
    # pylibjpeg and Pillow all refuse the frame.
    "JPEG2000-embedded-sequence-delimiter.dcm":
        "codestream is 3722445056 x 1024 (columns x rows), the dataset says 256 x 1024",
}
# Files without an Image Pixel module (nothing to describe a frame with).
NO_PIXELS = {
    "emri_small_jpeg_2k_lossless_too_short.dcm": "the file ends after its File Meta",
}


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

def _run_c_test(tmp_path: Path, extra: list[str]):
    exe = ks.build_program(tmp_path, [*SOURCES, C_TEST], LIBRARIES, extra, name="test_j2k")
    return ks.run_c_program(exe, leaks=True, unset_env=["OPJ_NUM_THREADS"])


def test_c_program(tmp_path):
    res = _run_c_test(tmp_path, [])
    assert res.returncode == 0, res.stderr


def test_c_program_sanitized(tmp_path):
    res = _run_c_test(tmp_path, ks.require_sanitizer(tmp_path))
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------
# Corpus: every frame of every JPEG 2000 file, against pydicom
# --------------------------------------------------------------------------

def test_corpus_has_j2k_files():
    names = {p.name for p in J2K_FILES}
    # pydicom's test_files ship 8 JPEG 2000 files, pydicom-data 12 more.
    assert len(J2K_FILES) >= 20, sorted(names)
    for name in ("J2K_pixelrep_mismatch.dcm", "GDCMJ2K_TextGBR.dcm", "RG1_J2KI.dcm",
                 "US1_J2KR.dcm", "emri_small_jpeg_2k_lossless.dcm"):
        assert name in names


def test_pydicom_plugin_order():
    """pydicom's pixel_array tries GDCM first for JPEG 2000 and has only the
    pylibjpeg plugin for HTJ2K: these are the references compared against."""
    from pydicom.pixels.decoders.base import get_decoder

    pytest.importorskip("gdcm", reason="python-gdcm is not installed")
    pytest.importorskip("openjpeg", reason="pylibjpeg-openjpeg is not installed")
    for uid in (J2K_LOSSLESS, J2K_LOSSY):
        order = list(get_decoder(uid)._validate_plugins())
        assert order[:2] == ["gdcm", "pylibjpeg"], order
    for uid in (HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, HTJ2K_LOSSY):
        assert list(get_decoder(uid)._validate_plugins()) == ["pylibjpeg"]


def _pixel_array(ds) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.pixel_array


def _plugin_array(ds, index: int, plugin: str, **kwargs) -> np.ndarray:
    return ks.pydicom_array(ds, index, plugin, **kwargs)[0]


@pytest.mark.parametrize("path", J2K_FILES, ids=[file_id(p) for p in J2K_FILES])
def test_corpus_matches_pydicom(lib, path):
    if path.name in NO_PIXELS:
        import pydicom
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
        assert "Rows" not in ds and "PixelData" not in ds, NO_PIXELS[path.name]
        return
    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    if path.name in UNDECODABLE:
        for frame in frames:
            st, _, err = decode(lib, frame, desc)
            assert st == RD_ERR_DECODE and UNDECODABLE[path.name] in err.msg.decode()
        with pytest.raises(Exception):
            _pixel_array(ds)
        return

    ref_all = _pixel_array(ds)              # GDCM (pydicom's first plugin)
    if len(frames) == 1:
        ref_all = ref_all[None]
    assert ref_all.shape[0] == len(frames)
    lossy = ds.file_meta.TransferSyntaxUID in LOSSY
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        ref = ref_all[i]
        if not lossy:
            assert ours.shape == ref.shape
            assert np.array_equal(ours.astype(np.int64), ref.astype(np.int64)), \
                f"frame {i} differs from pydicom (GDCM): max {max_diff(ours, ref)}"
        else:
            second = _plugin_array(ds, i, "pylibjpeg")
            spread = max_diff(ref, second)
            assert max_diff(ours, ref) <= spread, f"frame {i}: spread {spread}"
            assert max_diff(ours, second) <= spread, f"frame {i}: spread {spread}"


def test_pixel_representation_mismatch(lib):
    """J2K_pixelrep_mismatch.dcm: Pixel Representation 1, Bits Stored 13, but
    an unsigned 13-bit codestream; pydicom sign-extends from bit 12."""
    path = next(p for p in J2K_FILES if p.name == "J2K_pixelrep_mismatch.dcm")
    ds, frames = corpus_frames(path)
    st, ours, err = decode(lib, frames[0], frame_desc(ds))
    assert st == RD_OK, err.msg
    assert ours.dtype == np.int16 and ours.min() < 0
    assert ours.min() >= -(1 << 12) and ours.max() < (1 << 12)
    assert np.array_equal(ours, _pixel_array(ds))


def test_ybr_rct_jp2_is_rgb(lib):
    """GDCMJ2K_TextGBR.dcm: a JP2 file (rreq, ICC colr, 97 tile-parts),
    Photometric Interpretation YBR_RCT: openjpeg undoes the RCT, and pydicom
    (both plugins) returns RGB without converting."""
    path = next(p for p in J2K_FILES if p.name == "GDCMJ2K_TextGBR.dcm")
    ds, frames = corpus_frames(path)
    assert frames[0][:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    st, ours, err = decode(lib, frames[0], frame_desc(ds))
    assert st == RD_OK, err.msg
    assert np.array_equal(ours, _pixel_array(ds))
    assert np.array_equal(ours, _plugin_array(ds, 0, "pylibjpeg"))


# --------------------------------------------------------------------------
# Synthetic frames in in-memory datasets
# --------------------------------------------------------------------------

def make_dataset(frame: bytes, shape, ba: int, bs: int, pr: int, pi: str, ts: str):
    return ks.encapsulated_dataset(
        [frame], rows=shape[0], columns=shape[1],
        samples_per_pixel=shape[2] if len(shape) > 2 else 1, bits_allocated=ba,
        bits_stored=bs, pixel_representation=pr, photometric=pi, syntax=ts,
        number_of_frames=1)


def _rng_array(rng, shape, lo, hi, dtype):
    return rng.integers(lo, hi, shape, dtype=np.int64).astype(dtype)


# name, shape, (lo, hi), dtype, bits_stored for the encoder, (BA, BS, PR, PI),
# encoder options.  The encoder needs >= 32 pixels a side (6 resolutions);
# smaller sizes are in tests/c/test_j2k.c.
J2K_CASES = [
    ("u8_odd", (37, 33), (0, 256), np.uint8, 8, (8, 8, 0, "MONOCHROME2"), {}),
    ("u12", (40, 35), (0, 4096), np.uint16, 12, (16, 12, 0, "MONOCHROME2"), {}),
    ("u16", (33, 41), (0, 65536), np.uint16, 16, (16, 16, 0, "MONOCHROME1"), {}),
    ("s12", (35, 33), (-2048, 2048), np.int16, 12, (16, 12, 1, "MONOCHROME2"), {}),
    ("s16", (33, 33), (-32768, 32768), np.int16, 16, (16, 16, 1, "MONOCHROME2"), {}),
    ("u20_ba32", (33, 34), (0, 1 << 20), np.uint32, 20, (32, 20, 0, "MONOCHROME2"), {}),
    ("s24_ba32", (33, 34), (-(1 << 23), 1 << 23), np.int32, 24,
     (32, 24, 1, "MONOCHROME2"), {}),
    ("rgb8", (35, 37, 3), (0, 256), np.uint8, 8, (8, 8, 0, "RGB"), {"use_mct": False}),
    ("rgb8_rct", (35, 37, 3), (0, 256), np.uint8, 8, (8, 8, 0, "YBR_RCT"),
     {"use_mct": True, "photometric_interpretation": 1}),
    ("rgb12_rct", (33, 32, 3), (0, 4096), np.uint16, 12, (16, 12, 0, "YBR_RCT"),
     {"use_mct": True, "photometric_interpretation": 1}),
    ("ybr_full_as_stored", (32, 33, 3), (0, 256), np.uint8, 8, (8, 8, 0, "YBR_FULL"),
     {"use_mct": False}),
    ("jp2_u16", (34, 33), (0, 65536), np.uint16, 16, (16, 16, 0, "MONOCHROME2"),
     {"codec_format": 1}),
    ("jp2_rgb_rct", (33, 33, 3), (0, 256), np.uint8, 8, (8, 8, 0, "YBR_RCT"),
     {"codec_format": 1, "use_mct": True, "photometric_interpretation": 1}),
    # Codestream signedness against Pixel Representation (pydicom's
    # _apply_sign_correction for monochrome, a plain reinterpretation for
    # colour), and containers narrower than Bits Allocated.
    ("pr1_u13", (37, 33), (0, 8192), np.uint16, 13, (16, 13, 1, "MONOCHROME2"), {}),
    ("pr0_s12", (37, 33), (-2048, 2048), np.int16, 12, (16, 12, 0, "MONOCHROME2"), {}),
    ("pr1_u16", (37, 33), (0, 65536), np.uint16, 16, (16, 16, 1, "MONOCHROME2"), {}),
    ("pr0_s16", (37, 33), (-32768, 32768), np.int16, 16, (16, 16, 0, "MONOCHROME1"), {}),
    ("pr1_u8_in_16", (37, 33), (0, 256), np.uint8, 8, (16, 8, 1, "MONOCHROME2"), {}),
    ("pr0_s8_in_16", (37, 33), (-128, 128), np.int16, 8, (16, 8, 0, "MONOCHROME2"), {}),
    ("pr1_u20_ba32", (33, 33), (0, 1 << 20), np.uint32, 20, (32, 20, 1, "MONOCHROME2"), {}),
    ("pr1_rgb_u8", (33, 33, 3), (0, 256), np.uint8, 8, (8, 8, 1, "RGB"), {"use_mct": False}),
    ("pr0_rgb_s12", (33, 33, 3), (-2048, 2048), np.int16, 12, (16, 12, 0, "RGB"),
     {"use_mct": False}),
    ("u16_bs12", (33, 33), (0, 65536), np.uint16, 16, (16, 12, 0, "MONOCHROME2"), {}),
    # Lossy (9/7): two references, GDCM and pylibjpeg.
    ("lossy_u12", (64, 61), (0, 4096), np.uint16, 12, (16, 12, 0, "MONOCHROME2"),
     {"compression_ratios": [8]}),
    ("lossy_s16", (63, 64), (-32768, 32768), np.int16, 16, (16, 16, 1, "MONOCHROME2"),
     {"compression_ratios": [10, 4]}),
    ("lossy_rgb_ict", (64, 63, 3), (0, 256), np.uint8, 8, (8, 8, 0, "YBR_ICT"),
     {"compression_ratios": [12], "use_mct": True, "photometric_interpretation": 1}),
]


@pytest.mark.parametrize("case", J2K_CASES, ids=[c[0] for c in J2K_CASES])
def test_synthetic_j2k_matches_pydicom(lib, case):
    encode_array = pytest.importorskip(
        "openjpeg.utils", reason="pylibjpeg-openjpeg is not installed").encode_array
    name, shape, (lo, hi), dtype, bits, (ba, bs, pr, pi), enc = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arr = _rng_array(rng, shape, lo, hi, dtype)
    arr[0, 0], arr[-1, -1] = lo, hi - 1           # the extremes
    frame = encode_array(arr, bits_stored=bits, **enc)
    lossy = "compression_ratios" in enc
    ds = make_dataset(frame, shape, ba, bs, pr, pi, J2K_LOSSY if lossy else J2K_LOSSLESS)
    st, ours, err = decode(lib, frame, frame_desc(ds))
    assert st == RD_OK, err.msg.decode()
    ref = _pixel_array(ds)                         # GDCM
    if pi == "YBR_FULL":
        # Returned as stored; pydicom's pixel_array then converts to RGB,
        # as the caller must.
        from pydicom.pixels.processing import convert_color_space
        assert np.array_equal(convert_color_space(ours, "YBR_FULL", "RGB"), ref)
        ref = _plugin_array(ds, 0, "gdcm", as_rgb=False)
        assert np.array_equal(ours, arr)
    if not lossy:
        assert np.array_equal(ours.astype(np.int64), ref.astype(np.int64)), \
            f"max diff {max_diff(ours, ref)}"
    else:
        second = _plugin_array(ds, 0, "pylibjpeg")
        spread = max_diff(ref, second)
        assert max_diff(ours, ref) <= spread and max_diff(ours, second) <= spread
        assert max_diff(ours, arr) > 0             # it really is lossy


def _ojph_available():
    if OJPH_COMPRESS is None or OJPH_EXPAND is None:
        pytest.skip("ojph_compress/ojph_expand not found (Debian package openjph-tools)")


def _ojph_encode(tmp_path: Path, arr: np.ndarray, bits: int, args: list[str]) -> bytes:
    """HTJ2K codestream of `arr` (rows, cols[, 3]) through ojph_compress."""
    rows, cols = arr.shape[:2]
    if arr.ndim == 3:
        src = tmp_path / "in.ppm"
        maxval = (1 << bits) - 1
        body = arr.astype(">u2" if bits > 8 else "u1").tobytes()
        src.write_bytes(b"P6\n%d %d\n%d\n" % (cols, rows, maxval) + body)
        extra = []
    else:
        src = tmp_path / "in.yuv"
        src.write_bytes(arr.astype("<u2" if bits > 8 else "u1").tobytes())
        extra = ["-dims", f"{{{cols},{rows}}}", "-num_comps", "1", "-signed", "false",
                 "-bit_depth", str(bits), "-downsamp", "{1,1}"]
    out = tmp_path / "out.j2c"
    subprocess.run([OJPH_COMPRESS, "-i", str(src), "-o", str(out), *extra, *args],
                   check=True, capture_output=True)
    return out.read_bytes()


def _ojph_decode(tmp_path: Path, frame: bytes, shape, bits: int) -> np.ndarray:
    """ojph_expand's reading of an (unsigned) HTJ2K codestream."""
    src = tmp_path / "back.j2c"
    src.write_bytes(frame)
    if len(shape) == 3:
        out = tmp_path / "back.ppm"
        subprocess.run([OJPH_EXPAND, "-i", str(src), "-o", str(out)], check=True,
                       capture_output=True)
        data = out.read_bytes()
        fields, pos = [], 0
        while len(fields) < 4:                      # P6 w h maxval, then one byte
            while data[pos:pos + 1].isspace():
                pos += 1
            end = pos
            while not data[end:end + 1].isspace():
                end += 1
            fields.append(data[pos:end])
            pos = end
        body = data[pos + 1:]
        return np.frombuffer(body, ">u2" if bits > 8 else "u1").reshape(shape)
    out = tmp_path / "back.yuv"
    subprocess.run([OJPH_EXPAND, "-i", str(src), "-o", str(out)], check=True,
                   capture_output=True)
    return np.frombuffer(out.read_bytes(), "<u2" if bits > 8 else "u1").reshape(shape)


# name, shape, bits, signed, (BA, PR, PI), transfer syntax, ojph_compress args
HTJ2K_CASES = [
    ("1x1_u8", (1, 1), 8, False, (8, 0, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true", "-num_decomps", "0"]),
    ("1x37_u12", (1, 37), 12, False, (16, 0, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true", "-num_decomps", "2"]),
    ("37x1_u16", (37, 1), 16, False, (16, 0, "MONOCHROME1"), HTJ2K_LOSSLESS_RPCL,
     ["-reversible", "true", "-num_decomps", "2"]),
    ("33x47_u16_lrcp", (33, 47), 16, False, (16, 0, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true", "-prog_order", "LRCP"]),
    ("tiled_u12", (70, 90), 12, False, (16, 0, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true", "-tile_size", "{32,32}"]),
    ("s12", (23, 29), 12, True, (16, 1, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true"]),
    ("s16", (19, 21), 16, True, (16, 1, "MONOCHROME2"), HTJ2K_LOSSLESS_RPCL,
     ["-reversible", "true"]),
    ("s12_as_pr0", (23, 29), 12, True, (16, 0, "MONOCHROME2"), HTJ2K_LOSSLESS,
     ["-reversible", "true"]),
    ("rgb8_rct", (21, 19, 3), 8, False, (8, 0, "YBR_RCT"), HTJ2K_LOSSLESS,
     ["-reversible", "true"]),
    ("rgb12_rct", (17, 23, 3), 12, False, (16, 0, "YBR_RCT"), HTJ2K_LOSSLESS_RPCL,
     ["-reversible", "true"]),
    ("rgb8_plain", (21, 19, 3), 8, False, (8, 0, "RGB"), HTJ2K_LOSSLESS,
     ["-reversible", "true", "-colour_trans", "false"]),
    ("lossy_u12", (48, 51), 12, False, (16, 0, "MONOCHROME2"), HTJ2K_LOSSY,
     ["-qstep", "0.01"]),
    ("lossy_rgb_ict", (40, 45, 3), 8, False, (8, 0, "YBR_ICT"), HTJ2K_LOSSY,
     ["-qstep", "0.02"]),
]


@pytest.mark.parametrize("case", HTJ2K_CASES, ids=[c[0] for c in HTJ2K_CASES])
def test_synthetic_htj2k(lib, tmp_path, case):
    _ojph_available()
    name, shape, bits, signed, (ba, pr, pi), ts, args = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    unsigned = _rng_array(rng, shape, 0, 1 << bits, np.int64)
    unsigned.flat[0], unsigned.flat[-1] = 0, (1 << bits) - 1
    frame = _ojph_encode(tmp_path, unsigned, bits, args)
    assert b"\xff\x50" in frame[:80]              # CAP: a Part 15 codestream
    want = unsigned
    if signed:
        # ojph_compress 0.9.0 cannot read negative raw samples, so encode
        # v + 2^(bits-1) unsigned and set the sign bit of Ssiz: a signed
        # codestream skips the DC level shift, so it decodes to v exactly.
        frame = bytearray(frame)
        assert frame[42] == bits - 1
        frame[42] |= 0x80
        frame = bytes(frame)
        want = unsigned - (1 << (bits - 1))
    ds = make_dataset(frame, shape, ba, bits, pr, pi, ts)
    st, ours, err = decode(lib, frame, frame_desc(ds))
    assert st == RD_OK, err.msg.decode()
    ref = _pixel_array(ds)                         # pylibjpeg, pydicom's only plugin
    if ts != HTJ2K_LOSSY:
        assert np.array_equal(ours.astype(np.int64), ref.astype(np.int64)), \
            f"max diff {max_diff(ours, ref)}"
        if pr == int(signed):
            assert np.array_equal(ours.astype(np.int64), want)
    else:
        second = _ojph_decode(tmp_path, frame, shape, bits)
        spread = max_diff(ref, second)
        assert max_diff(ours, ref) <= spread and max_diff(ours, second) <= spread
        assert 0 < max_diff(ours, want) < (1 << bits) // 8


# --------------------------------------------------------------------------
# Options: limits and threads
# --------------------------------------------------------------------------

def _frame_of(name: str):
    path = next(p for p in J2K_FILES if p.name == name)
    ds, frames = corpus_frames(path)
    return ds, frames[0]


def test_max_pixels_and_desc_checks(lib):
    ds, frame = _frame_of("MR_small_jp2klossless.dcm")     # 64 x 64
    desc = frame_desc(ds)
    st, _, err = decode(lib, frame, desc, options(max_pixels=64 * 64 - 1))
    assert st == RD_ERR_LIMIT and b"4096 pixels exceeds the limit of 4095" in err.msg
    assert decode(lib, frame, desc, options(max_pixels=64 * 64))[0] == RD_OK
    for field, value, needle in (("rows", 63, b"the dataset says 64 x 63"),
                                 ("columns", 65, b"the dataset says 65 x 64"),
                                 ("samples_per_pixel", 3, b"has 1 components, the dataset "
                                                          b"says 3")):
        bad = frame_desc(ds)
        setattr(bad, field, value)
        st, _, err = decode(lib, frame, bad)
        assert st == RD_ERR_DECODE and needle in err.msg, err.msg
    bad = frame_desc(ds)
    bad.bits_allocated = 8
    st, _, err = decode(lib, frame, bad)
    assert st == RD_ERR_DECODE and b"precision is 16 bits" in err.msg


def _threads_timeline(fn) -> list[int]:
    """This process's thread count, sampled every ~0.5 ms while fn() runs
    (fn releases the GIL: ctypes calls do)."""
    samples: list[int] = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            samples.append(len(os.listdir("/proc/self/task")))
            time.sleep(0.0005)

    t = threading.Thread(target=watch)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    return samples


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc/self/task")
def test_threads_only_when_asked(lib, monkeypatch):
    """With OPJ_NUM_THREADS=4 in the environment, threads 0 and 1 decode on
    the calling thread and threads=4 on a pool of 4.  (openjpeg's
    opj_create_decompress still starts OPJ_NUM_THREADS threads, which
    opj_codec_set_threads stops again at once: openjpeg has no way to create
    a codec without reading the variable.  They do no work; the samples
    taken during the decode must not see them.)"""
    if not lib.opj_has_thread_support():                 # found through our library
        pytest.skip("this libopenjp2 was built without thread support")
    ds, frame = _frame_of("RG3_J2KR.dcm")               # ~0.3 s of decoding
    desc = frame_desc(ds)
    base = len(os.listdir("/proc/self/task")) + 1        # + the watcher
    monkeypatch.setenv("OPJ_NUM_THREADS", "4")
    got = {}
    for n, extra in ((0, 0), (1, 0), (4, 4)):
        samples = _threads_timeline(
            lambda: got.__setitem__(n, decode(lib, frame, desc, options(threads=n))))
        share = sum(1 for c in samples if c == base + extra) / max(len(samples), 1)
        assert len(samples) > 20 and share > 0.8, (n, sorted(set(samples)), base, share)
    assert all(got[n][0] == RD_OK for n in got)
    assert np.array_equal(got[0][1], got[4][1]) and np.array_equal(got[0][1], got[1][1])


# --------------------------------------------------------------------------
# Mutation: damaged frames never crash
# --------------------------------------------------------------------------

# Small frames (decoding time grows with the pixels, times 3 under ASan):
# J2K lossless and lossy, 3 samples, JP2 with 97 tile-parts, and two HTJ2K.
MUTATION_FILES = {"MR_small_jp2klossless.dcm": 60, "emri_small_jpeg_2k_lossless.dcm": 60,
                  "SC_rgb_gdcm_KY.dcm": 60, "GDCMJ2K_TextGBR.dcm": 20}
MUTATIONS_HTJ2K = 60


def _desc_dict(desc: FrameDesc) -> dict:
    return {name: getattr(desc, name) for name, _ in FrameDesc._fields_}


def _mutation_inputs(tmp_path: Path) -> Path:
    """Frames to damage, as files plus a JSON list of their descriptions."""
    out = tmp_path / "frames"
    out.mkdir()
    items = []
    for name, count in MUTATION_FILES.items():
        ds, frame = _frame_of(name)
        (out / f"{name}.bin").write_bytes(frame)
        items.append({"file": f"{name}.bin", "desc": _desc_dict(frame_desc(ds)),
                      "count": count})
    if OJPH_COMPRESS is not None:
        rng = np.random.default_rng(3)
        arr = _rng_array(rng, (40, 30), 0, 4096, np.int64)
        for tag, args in (("ht", ["-reversible", "true", "-tile_size", "{16,16}"]),
                          ("ht_lossy", ["-qstep", "0.02"])):
            frame = _ojph_encode(tmp_path, arr, 12, args)
            (out / f"{tag}.bin").write_bytes(frame)
            items.append({"file": f"{tag}.bin", "desc": _desc_dict(FrameDesc(
                40, 30, 1, 16, 12, 0, 0, PHOTOMETRIC["MONOCHROME2"])),
                "count": MUTATIONS_HTJ2K})
    (out / "frames.json").write_text(json.dumps(items))
    return out


def _mutants(frame: bytes, rng: random.Random, count: int):
    """Damaged copies of one frame, each with a short description."""
    n = len(frame)
    soc = frame.find(b"\xff\x4f\xff\x51")
    for _ in range(count):
        kind = rng.randrange(8)
        b = bytearray(frame)
        if kind == 0:       # flip one bit anywhere
            pos = rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"bit flip at {pos}", bytes(b)
        elif kind == 1:     # a random byte, biased to the main header
            pos = soc + rng.randrange(min(200, n - soc)) if rng.random() < 0.6 \
                else rng.randrange(n)
            b[pos] = rng.randrange(256)
            yield f"byte {pos} = {b[pos]}", bytes(b)
        elif kind == 2:     # truncate
            cut = rng.randrange(n)
            yield f"truncated to {cut}", bytes(b[:cut])
        elif kind == 3:     # a SIZ/COD/SOT-sized word rewritten with extremes
            pos = soc + rng.randrange(min(120, n - soc - 4))
            value = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 65535, 0x7FFFFFFF,
                                rng.randrange(1 << 32)])
            width = rng.choice([1, 2, 4])
            b[pos:pos + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big")
            yield f"{width}-byte word at {pos} = {value}", bytes(b)
        elif kind == 4:     # delete a span
            pos = rng.randrange(n)
            del b[pos:pos + rng.randrange(1, 64)]
            yield f"deleted at {pos}", bytes(b)
        elif kind == 5:     # trailing bytes
            extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            yield f"{len(extra)} bytes appended", bytes(b) + extra
        elif kind == 6:     # SIZ claiming 65535 x 65535
            b[soc + 8:soc + 16] = (65535).to_bytes(4, "big") * 2
            yield "SIZ 65535 x 65535", bytes(b)
        else:               # several random bytes in the body
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(n)] = rng.randrange(256)
            yield "bytes rewritten", bytes(b)


def _compare_accepted(reference, data: bytes, out: bytes, desc: FrameDesc) -> str | None:
    """What is wrong with an accepted mutant's pixels: pylibjpeg-openjpeg
    (its own openjpeg build) must decode the same bytes to the same values
    where the codestream's signedness matches Pixel Representation (else
    pydicom's sign correction applies on top).  A mutant only we accept is
    fine: it was checked against the desc."""
    soc = data.find(b"\xff\x4f\xff\x51")
    if soc < 0 or len(data) <= soc + 42 or (data[soc + 42] >> 7) != desc.pixel_representation:
        return None
    try:
        ref = reference.decode(data)
    except Exception:
        return None
    dtype = np.dtype(f"<{'i' if desc.pixel_representation else 'u'}{desc.bits_allocated // 8}")
    ours = np.frombuffer(out, dtype)
    if ref.size != ours.size or not np.array_equal(ref.ravel().astype(np.int64),
                                                   ours.astype(np.int64)):
        return "accepted, but pylibjpeg-openjpeg decodes other values"
    return None


def _mutation_main(libpath: str, frames_dir: str) -> int:
    """Run in a subprocess; exit status 0 when every mutant was handled."""
    lib = load(Path(libpath))
    guarded = ks.GuardedCalls()
    try:
        import openjpeg as reference            # pylibjpeg-openjpeg
    except ImportError:
        reference = None
    rng = random.Random(20240612)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tally = ks.MutationTally()
    items = json.loads((Path(frames_dir) / "frames.json").read_text())
    for item in items:
        frame = (Path(frames_dir) / item["file"]).read_bytes()
        desc = FrameDesc(**item["desc"])
        size = lib.rd_frame_size(ctypes.byref(desc))
        for what, data in _mutants(frame, rng, item["count"]):
            # The frame filled with canary bytes too: a failure writes nothing.
            call, = guarded(lib.rd_j2k_decode_frame, data, desc, size, fills=(0xA5,))
            st, out, err = call.status, call.out, call.err
            problem = ks.frame_problem(call, size)
            if problem is None:
                if st != RD_OK and out[:size] != b"\xA5" * size:
                    problem = "wrote to the frame and failed"
                elif what == "SIZ 65535 x 65535" and st != RD_ERR_DECODE:
                    problem = f"status {st} {err.msg!r}"
                elif st == RD_OK and reference is not None:
                    problem = _compare_accepted(reference, data, out[:size], desc)
            tally.record(item["file"], what, problem, st)
        # A frame description of 65535 x 65535 with a codestream saying the
        # same: refused by the default limit before anything is allocated
        # (the 1-byte buffer would be written otherwise).
        big = FrameDesc(**item["desc"])
        big.rows = big.columns = 65535
        b = bytearray(frame)
        soc = frame.find(b"\xff\x4f\xff\x51")
        b[soc + 8:soc + 16] = (65535).to_bytes(4, "big") * 2
        one = ctypes.create_string_buffer(1)
        err = Error()
        st = lib.rd_j2k_decode_frame(bytes(b), len(b), ctypes.byref(big), None, one,
                                     lib.rd_frame_size(ctypes.byref(big)), ctypes.byref(err))
        tally.record(item["file"], "65535 x 65535 desc",
                     f"status {st} {err.msg!r}" if st != RD_ERR_LIMIT else None)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    return tally.finish(f"peak RSS grew {grown_mb:.0f} MB")


def test_mutated_frames_never_crash(tmp_path):
    frames_dir = _mutation_inputs(tmp_path)
    env = ks.mutation_env()
    env.pop("OPJ_NUM_THREADS", None)
    runs = {"plain": (build_library(tmp_path, "libplain.so"), env)}
    flags, libasan = ks.python_asan(tmp_path)
    if libasan is not None:
        runs["asan"] = (build_library(tmp_path, "libasan.so", flags),
                        dict(env, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0"))
    procs = {name: subprocess.Popen([sys.executable, __file__, "--mutate", str(lib_),
                                     str(frames_dir)], env=e, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, (lib_, e) in runs.items()}
    for name, proc in procs.items():
        out, errs = proc.communicate(timeout=300)
        ks.assert_exited_cleanly(proc.returncode, out, errs, name)
        if name == "plain":
            # Frames here decode to at most 0.5 MB; nothing may balloon.
            grown = float(out.rsplit("peak RSS grew ", 1)[1].split()[0])
            assert grown < 256, out[-2000:]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--mutate":
        sys.exit(_mutation_main(sys.argv[2], sys.argv[3]))
    sys.exit("usage: test_j2k_kernel.py --mutate LIBRARY FRAMES_DIR")
