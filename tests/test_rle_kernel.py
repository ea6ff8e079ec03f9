"""The RLE Lossless kernel (src/core/rle.c, frame.c) and the YBR_FULL -> RGB
conversion (src/core/colour.c), tested on their own through ctypes.

The three C files are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core``, independent of the main build, and:

* tests/c/test_rle.c (hand-built frames, one per error path) runs as a
  program, plainly and, where the compiler has them, under ASan/UBSan;
* every frame of every RLE Lossless file in the corpus (tests/corpus.py)
  decodes bit-exactly like pydicom's own RLE decoder and like pylibjpeg-rle;
* mutated frames (flipped, truncated, rewritten header words) never crash
  the decoder, never write past the frame, and give RD_OK, RD_ERR_DECODE or
  RD_ERR_INVALID; an RD_OK result equals what pydicom decodes from the same
  bytes.  This runs in a subprocess (under ASan when available) so that a
  crash is a failed test, not a dead test run;
* rd_ybr_full_to_rgb_u8 equals pydicom.pixels.processing.convert_color_space
  (YBR_FULL -> RGB) for all 2^24 (Y, Cb, Cr) inputs.
"""
from __future__ import annotations

import ctypes
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CC, CORE, RD_ERR_DECODE, RD_ERR_INVALID, RD_OK, FrameDesc,
                            corpus_frames, frame_desc)

SOURCES = [CORE / "rle.c", CORE / "frame.c", CORE / "colour.c"]
C_TEST = ks.C_TESTS / "test_rle.c"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
# RLE has no limits or options: only these, whatever the input.
RLE_STATUSES = (RD_OK, RD_ERR_DECODE, RD_ERR_INVALID)

pytestmark = ks.requires()


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def load(path: Path) -> ctypes.CDLL:
    return ks.load_library(path, "rd_rle_decode_frame", takes_options=False, colour=True)


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return ks.build_library(tmp_path_factory.mktemp("rdkernel"), SOURCES,
                            name="librdkernel.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


# --------------------------------------------------------------------------
# Helpers shared with the mutation subprocess
# --------------------------------------------------------------------------

def decode(lib, src: bytes, desc: FrameDesc):
    """(status, output bytes or None, rd_error)."""
    st, out, err = ks.run_decoder(lib, lib.rd_rle_decode_frame, src, desc,
                                  takes_options=False)
    return st, (out.tobytes() if st == RD_OK else None), err


def rle_files() -> list[Path]:
    return ks.corpus_files([RLE_LOSSLESS])


def interleave(planar: bytes, ds) -> np.ndarray:
    """Planar-configuration-1 bytes (what pydicom's and pylibjpeg-rle's RLE
    kernels return) as a (rows, columns, samples) little-endian array."""
    dtype = np.dtype(f"<{'i' if ds.PixelRepresentation else 'u'}{ds.BitsAllocated // 8}")
    arr = np.frombuffer(planar, dtype).reshape(ds.SamplesPerPixel, ds.Rows, ds.Columns)
    return arr.transpose(1, 2, 0)


RLE_FILES = rle_files() if CC else []


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

def _run_c_test(tmp_path: Path, extra: list[str]):
    # The program needs no colour.c.
    exe = ks.build_program(tmp_path, [CORE / "rle.c", CORE / "frame.c", C_TEST],
                           extra_flags=extra, name="test_rle")
    return ks.run_c_program(exe, leaks=False)


def test_c_program(tmp_path):
    res = _run_c_test(tmp_path, [])
    assert res.returncode == 0, res.stderr


def test_c_program_sanitized(tmp_path):
    res = _run_c_test(tmp_path, ks.require_sanitizer(tmp_path))
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------
# Corpus: every frame of every RLE file, against pydicom and pylibjpeg-rle
# --------------------------------------------------------------------------

def test_corpus_has_rle_files():
    # pydicom's test_files alone ship 9 RLE files; pydicom-data adds 3.
    assert len(RLE_FILES) >= 9, [str(p) for p in RLE_FILES]


@pytest.mark.parametrize("path", RLE_FILES, ids=[ks.file_id(p) for p in RLE_FILES])
def test_corpus_matches_pydicom(lib, path):
    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        ref, _ = ks.pydicom_array(ds, i, "pydicom", raw=True)
        got = np.frombuffer(ours, ref.dtype.newbyteorder("<")).reshape(ref.shape)
        assert np.array_equal(got, ref), f"frame {i} differs from pydicom"


@pytest.mark.parametrize("path", RLE_FILES, ids=[ks.file_id(p) for p in RLE_FILES])
def test_corpus_matches_pylibjpeg_rle(lib, path):
    rle = pytest.importorskip("rle.rle", reason="pylibjpeg-rle is not installed")

    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        # The Rust kernel directly (planar output) ...
        planar = rle.decode_frame(frame, ds.Rows * ds.Columns, ds.BitsAllocated, "<")
        want = interleave(bytes(planar), ds)
        got = np.frombuffer(ours, want.dtype).reshape(want.shape)
        assert np.array_equal(got, want), f"frame {i} differs from rle.decode_frame"
        # ... and through pydicom's pylibjpeg plugin.
        ref, _ = ks.pydicom_array(ds, i, "pylibjpeg", raw=True)
        got = np.frombuffer(ours, ref.dtype.newbyteorder("<")).reshape(ref.shape)
        assert np.array_equal(got, ref), f"frame {i} differs from the pylibjpeg plugin"


# --------------------------------------------------------------------------
# Mutation: damaged frames never crash
# --------------------------------------------------------------------------

MUTATIONS_PER_FRAME = 120


def _mutants(frame: bytes, rng: random.Random):
    """Damaged copies of one frame, each with a short description."""
    n = len(frame)
    for _ in range(MUTATIONS_PER_FRAME):
        kind = rng.randrange(7)
        b = bytearray(frame)
        if kind == 0:       # flip one bit anywhere
            pos = rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"bit flip at {pos}", bytes(b)
        elif kind == 1:     # a random byte anywhere, biased to the header
            pos = rng.randrange(64) if rng.random() < 0.5 else rng.randrange(n)
            b[pos] = rng.randrange(256)
            yield f"byte {pos} = {b[pos]}", bytes(b)
        elif kind == 2:     # truncate
            cut = rng.randrange(n)
            yield f"truncated to {cut}", bytes(b[:cut])
        elif kind == 3:     # rewrite one header word (count or an offset)
            word = rng.randrange(16)
            value = rng.choice([0, 1, 15, 16, 63, 64, 65, n - 1, n, n + 1, 0xFFFFFFFF,
                                rng.randrange(1 << 32)]) & 0xFFFFFFFF
            b[4 * word:4 * word + 4] = value.to_bytes(4, "little")
            yield f"header word {word} = {value}", bytes(b)
        elif kind == 4:     # delete a span of segment bytes
            pos = rng.randrange(64, n) if n > 64 else 0
            del b[pos:pos + rng.randrange(1, 16)]
            yield f"deleted at {pos}", bytes(b)
        elif kind == 5:     # trailing bytes after the last segment
            extra = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            yield f"{len(extra)} bytes appended", bytes(b) + extra
        else:               # control bytes turned into long replicate runs
            for _ in range(rng.randrange(1, 8)):
                pos = rng.randrange(64, n) if n > 64 else rng.randrange(n)
                b[pos] = rng.choice([0x7F, 0x80, 0x81, 0xFF])
            yield "control bytes rewritten", bytes(b)


def _mutation_main(libpath: str) -> int:
    """Run in a subprocess; exit status 0 when every mutant was handled."""
    from pydicom.pixels.decoders.rle import _rle_decode_frame

    lib = load(Path(libpath))
    guarded = ks.GuardedCalls()
    rng = random.Random(20240611)
    tally = ks.MutationTally()
    for path in rle_files():
        ds, frames = corpus_frames(path)
        desc = frame_desc(ds)
        size = lib.rd_frame_size(ctypes.byref(desc))
        for frame in frames:
            for what, data in _mutants(frame, rng):
                call, = guarded(lib.rd_rle_decode_frame, data, desc, size,
                                takes_options=False)
                st, out = call.status, call.out
                problem = ks.frame_problem(call, size, RLE_STATUSES)
                if problem is None and st == RD_OK and size <= 120_000:
                    # Whatever we accept, pydicom decodes to the same pixels.
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            planar = _rle_decode_frame(data, ds.Rows, ds.Columns,
                                                       ds.SamplesPerPixel, ds.BitsAllocated)
                        want = interleave(bytes(planar), ds).tobytes()
                    except Exception as exc:
                        want = f"pydicom raised {exc!r}"
                    if out[:size] != want:
                        problem = f"accepted, but pydicom gives {str(want)[:80]}"
                tally.record(path.name, what, problem, st)
    return tally.finish()


def test_mutated_frames_never_crash(tmp_path):
    flags, libasan = ks.python_asan(tmp_path)
    env = ks.mutation_env(libasan)
    libpath = ks.build_library(tmp_path, SOURCES, extra_flags=flags or [], name="libmut.so")
    res = ks.run_mutation(__file__, "--mutate", libpath, env=env)
    ks.assert_exited_cleanly(res.returncode, res.stdout, res.stderr)


# --------------------------------------------------------------------------
# YBR_FULL -> RGB: all 2^24 inputs against pydicom
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scalar_colour_lib(tmp_path_factory) -> ctypes.CDLL:
    """The kernels built with -DRD_NO_SIMD: colour.c's scalar path only."""
    return load(ks.build_library(tmp_path_factory.mktemp("rdscalar"), SOURCES,
                                 extra_flags=["-DRD_NO_SIMD"], name="librdscalar.so"))


@pytest.mark.parametrize("path", ["dispatch", "scalar"])
def test_ybr_full_to_rgb_exhaustive(path, request):
    """Both colour paths on all 2^24 inputs: the default build (AVX2 + FMA
    blocks where the CPU has them, scalar tails) and the scalar-only build."""
    from pydicom.pixels.processing import convert_color_space

    lib = request.getfixturevalue("lib" if path == "dispatch" else "scalar_colour_lib")

    ramp = np.arange(256, dtype=np.uint8)
    mismatches = 0
    max_diff = 0
    examples = []
    for y0 in range(0, 256, 16):            # 16 chunks of 2^20 pixels
        chunk = np.empty((16, 256, 256, 3), np.uint8)
        chunk[..., 0] = (y0 + np.arange(16, dtype=np.uint8))[:, None, None]
        chunk[..., 1] = ramp[None, :, None]
        chunk[..., 2] = ramp[None, None, :]
        chunk = chunk.reshape(1024, 1024, 3)
        want = convert_color_space(chunk, "YBR_FULL", "RGB")
        got = np.ascontiguousarray(chunk)
        lib.rd_ybr_full_to_rgb_u8(got.ctypes.data, got.shape[0] * got.shape[1])
        diff = got != want
        if diff.any():
            mismatches += int(diff.any(axis=-1).sum())
            max_diff = max(max_diff, int(np.abs(got.astype(int) - want).max()))
            idx = np.argwhere(diff.any(axis=-1))[:3]
            examples += [(chunk[tuple(i)].tolist(), got[tuple(i)].tolist(),
                          want[tuple(i)].tolist()) for i in idx]
    assert mismatches == 0, (
        f"{mismatches} of 2^24 inputs differ (max {max_diff}); "
        f"(Y, Cb, Cr) -> ours, pydicom: {examples[:6]}.  colour.c follows OpenBLAS "
        "sgemm with FMA; a BLAS without FMA rounds G differently for 42 inputs.")


def test_ybr_full_to_rgb_copy_equals_in_place(lib):
    """rd_ybr_full_to_rgb_u8_copy gives the in-place result in `dst` and
    leaves `src` alone, for every length around the 16-pixel vector blocks."""
    lib.rd_ybr_full_to_rgb_u8_copy.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_uint64]
    lib.rd_ybr_full_to_rgb_u8_copy.restype = None
    rng = np.random.default_rng(11)
    for count in (*range(0, 50), 1000, 4099):
        src = rng.integers(0, 256, (count, 3), dtype=np.uint8)
        before = src.copy()
        want = src.copy()
        lib.rd_ybr_full_to_rgb_u8(want.ctypes.data, count)
        dst = np.full((count + 1, 3), 7, np.uint8)   # one guard pixel
        lib.rd_ybr_full_to_rgb_u8_copy(src.ctypes.data, dst.ctypes.data, count)
        assert np.array_equal(src, before)
        assert np.array_equal(dst[:count], want), count
        assert (dst[count] == 7).all()


def test_ybr_full_to_rgb_in_place_and_empty(lib):
    from pydicom.pixels.processing import convert_color_space

    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    want = convert_color_space(img, "YBR_FULL", "RGB")
    buf = img.copy()
    lib.rd_ybr_full_to_rgb_u8(buf.ctypes.data, 7 * 13)
    assert np.array_equal(buf, want)
    before = buf.copy()
    lib.rd_ybr_full_to_rgb_u8(buf.ctypes.data, 0)
    assert np.array_equal(buf, before)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--mutate":
        sys.exit(_mutation_main(sys.argv[2]))
    sys.exit("usage: test_rle_kernel.py --mutate LIBRARY")
