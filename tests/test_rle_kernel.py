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
import os
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "src" / "core"
SOURCES = [CORE / "rle.c", CORE / "frame.c", CORE / "colour.c"]
C_TEST = ROOT / "tests" / "c" / "test_rle.c"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", f"-I{CORE}"]
RLE_LOSSLESS = "1.2.840.10008.1.2.5"

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler: 'cc' is not on PATH")

RD_OK, RD_ERR_INVALID, RD_ERR_UNSUPPORTED, RD_ERR_DECODE = 0, 2, 5, 6

PHOTOMETRIC = {
    "MONOCHROME1": 1, "MONOCHROME2": 2, "PALETTE COLOR": 3, "RGB": 4, "YBR_FULL": 5,
    "YBR_FULL_422": 6, "YBR_ICT": 7, "YBR_RCT": 8, "YBR_PARTIAL_420": 9,
}


class FrameDesc(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "rows", "columns", "samples_per_pixel", "bits_allocated", "bits_stored",
        "pixel_representation", "planar_configuration", "photometric")]


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("offset", ctypes.c_uint64),
                ("tag", ctypes.c_uint32), ("msg", ctypes.c_char * 256),
                ("path", ctypes.c_char * 256)]


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def build_library(out: Path, extra: list[str] = ()) -> Path:
    subprocess.run([CC, *CFLAGS, *extra, "-shared", "-fPIC", *map(str, SOURCES),
                    "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.rd_frame_size.argtypes = [ctypes.POINTER(FrameDesc)]
    lib.rd_frame_size.restype = ctypes.c_uint64
    lib.rd_rle_decode_frame.argtypes = [
        ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(FrameDesc),
        ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(Error)]
    lib.rd_rle_decode_frame.restype = ctypes.c_int
    lib.rd_ybr_full_to_rgb_u8.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    lib.rd_ybr_full_to_rgb_u8.restype = None
    return lib


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("rdkernel") / "librdkernel.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


# --------------------------------------------------------------------------
# Helpers shared with the mutation subprocess
# --------------------------------------------------------------------------

def frame_desc(ds) -> FrameDesc:
    return FrameDesc(
        rows=ds.Rows, columns=ds.Columns, samples_per_pixel=ds.SamplesPerPixel,
        bits_allocated=ds.BitsAllocated, bits_stored=ds.BitsStored,
        pixel_representation=ds.PixelRepresentation,
        planar_configuration=ds.get("PlanarConfiguration", 0) or 0,
        photometric=PHOTOMETRIC.get(ds.PhotometricInterpretation, 0))


def decode(lib, src: bytes, desc: FrameDesc):
    """(status, output bytes or None, rd_error)."""
    size = lib.rd_frame_size(ctypes.byref(desc))
    out = np.empty(size, np.uint8)
    err = Error()
    st = lib.rd_rle_decode_frame(src, len(src), ctypes.byref(desc),
                                 out.ctypes.data, size, ctypes.byref(err))
    return st, (out.tobytes() if st == RD_OK else None), err


def rle_files() -> list[Path]:
    import corpus
    import pydicom

    found = []
    for path in corpus.dicom_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:       # not ours to judge here; test_parity covers reading
            continue
        meta = getattr(ds, "file_meta", None)
        if meta is not None and meta.get("TransferSyntaxUID") == RLE_LOSSLESS:
            found.append(path)
    return found


def corpus_frames(path: Path):
    """(dataset, [frame bytes]) of one RLE file."""
    import pydicom
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(path)
    n = int(ds.get("NumberOfFrames") or 1)
    return ds, list(generate_frames(ds.PixelData, number_of_frames=n))


def interleave(planar: bytes, ds) -> np.ndarray:
    """Planar-configuration-1 bytes (what pydicom's and pylibjpeg-rle's RLE
    kernels return) as a (rows, columns, samples) little-endian array."""
    dtype = np.dtype(f"<{'i' if ds.PixelRepresentation else 'u'}{ds.BitsAllocated // 8}")
    arr = np.frombuffer(planar, dtype).reshape(ds.SamplesPerPixel, ds.Rows, ds.Columns)
    return arr.transpose(1, 2, 0)


RLE_FILES = rle_files() if CC else []


def _file_id(path: Path) -> str:
    import corpus
    return corpus.file_id(path)


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

def _run_c_test(tmp_path: Path, extra: list[str]) -> subprocess.CompletedProcess:
    exe = tmp_path / "test_rle"
    subprocess.run([CC, *CFLAGS, *extra, str(CORE / "rle.c"), str(CORE / "frame.c"),
                    str(C_TEST), "-o", str(exe)], check=True, capture_output=True, text=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)


def test_c_program(tmp_path):
    res = _run_c_test(tmp_path, [])
    assert res.returncode == 0, res.stderr


def _sanitizer_flags(tmp_path: Path) -> list[str] | None:
    flags = ["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
             "-fno-omit-frame-pointer"]
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    res = subprocess.run([CC, *flags, str(probe), "-o", str(tmp_path / "probe")],
                         capture_output=True)
    return flags if res.returncode == 0 else None


def test_c_program_sanitized(tmp_path):
    flags = _sanitizer_flags(tmp_path)
    if flags is None:
        pytest.skip("cc cannot build with -fsanitize=address,undefined")
    res = _run_c_test(tmp_path, flags)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------
# Corpus: every frame of every RLE file, against pydicom and pylibjpeg-rle
# --------------------------------------------------------------------------

def test_corpus_has_rle_files():
    # pydicom's test_files alone ship 9 RLE files; pydicom-data adds 3.
    assert len(RLE_FILES) >= 9, [str(p) for p in RLE_FILES]


@pytest.mark.parametrize("path", RLE_FILES, ids=[_file_id(p) for p in RLE_FILES])
def test_corpus_matches_pydicom(lib, path):
    from pydicom.pixels.decoders.base import get_decoder

    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref, _ = decoder.as_array(ds, index=i, raw=True, decoding_plugin="pydicom")
        got = np.frombuffer(ours, ref.dtype.newbyteorder("<")).reshape(ref.shape)
        assert np.array_equal(got, ref), f"frame {i} differs from pydicom"


@pytest.mark.parametrize("path", RLE_FILES, ids=[_file_id(p) for p in RLE_FILES])
def test_corpus_matches_pylibjpeg_rle(lib, path):
    rle = pytest.importorskip("rle.rle", reason="pylibjpeg-rle is not installed")
    from pydicom.pixels.decoders.base import get_decoder

    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    decoder = get_decoder(ds.file_meta.TransferSyntaxUID)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        # The Rust kernel directly (planar output) ...
        planar = rle.decode_frame(frame, ds.Rows * ds.Columns, ds.BitsAllocated, "<")
        want = interleave(bytes(planar), ds)
        got = np.frombuffer(ours, want.dtype).reshape(want.shape)
        assert np.array_equal(got, want), f"frame {i} differs from rle.decode_frame"
        # ... and through pydicom's pylibjpeg plugin.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref, _ = decoder.as_array(ds, index=i, raw=True, decoding_plugin="pylibjpeg")
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
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    rng = random.Random(20240611)
    bad = checked = 0
    statuses: dict[int, int] = {}
    for path in rle_files():
        ds, frames = corpus_frames(path)
        desc = frame_desc(ds)
        size = lib.rd_frame_size(ctypes.byref(desc))
        for frame in frames:
            for what, data in _mutants(frame, rng):
                # Exact-size malloc'd copies: under ASan any read past the
                # input or write past the frame (+ 64 canary bytes) aborts.
                src = libc.malloc(max(len(data), 1))
                dst = libc.malloc(size + 64)
                ctypes.memmove(src, data, len(data))
                ctypes.memset(dst + size, 0xA5, 64)
                err = Error()
                st = lib.rd_rle_decode_frame(src, len(data), ctypes.byref(desc), dst,
                                             size, ctypes.byref(err))
                out = ctypes.string_at(dst, size + 64)
                libc.free(src)
                libc.free(dst)
                checked += 1
                statuses[st] = statuses.get(st, 0) + 1
                problem = None
                if st not in (RD_OK, RD_ERR_DECODE, RD_ERR_INVALID):
                    problem = f"status {st}"
                elif out[size:] != b"\xA5" * 64:
                    problem = "wrote past the frame"
                elif st != RD_OK and not err.msg:
                    problem = "error without a message"
                elif st == RD_OK and size <= 120_000:
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
                if problem:
                    bad += 1
                    print(f"{path.name}: {what}: {problem}", flush=True)
    print(f"{checked} mutants checked, {bad} bad; statuses {sorted(statuses.items())}",
          flush=True)
    return 1 if bad or checked == 0 else 0


def test_mutated_frames_never_crash(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    flags = _sanitizer_flags(tmp_path)
    if flags is not None:
        libasan = subprocess.run([CC, "-print-file-name=libasan.so"],
                                 capture_output=True, text=True).stdout.strip()
        if os.path.isabs(libasan) and os.path.exists(libasan):
            env.update(LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0")
        else:
            flags = None
    libpath = build_library(tmp_path / "libmut.so", flags or [])
    res = subprocess.run([sys.executable, __file__, "--mutate", str(libpath)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, (
        f"exit status {res.returncode} (negative: killed by a signal)\n"
        f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")


# --------------------------------------------------------------------------
# YBR_FULL -> RGB: all 2^24 inputs against pydicom
# --------------------------------------------------------------------------

def test_ybr_full_to_rgb_exhaustive(lib):
    from pydicom.pixels.processing import convert_color_space

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
