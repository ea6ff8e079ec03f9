"""Our own JPEG-LS decoder (src/core/jlsdec.c), tested on its own through ctypes.

jlsdec.c, frame.c and colour.c are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core ...`` (no external library) - twice, with
the line loops chosen for this CPU and with only the generic ones - and the
CharLS-based decoder (jls.c) is built next to it as the reference with the
same output contract.  Checked:

* every frame of every JPEG-LS file in the corpus (tests/corpus.py) decodes
  to exactly the bytes of the CharLS-based decoder, and to pyjpegls's
  samples (``jpeg_ls.decode``, a second CharLS build);
* streams encoded by pyjpegls (or CharLS's C encoder, for images too small
  for pyjpegls's output buffer): precision 2..16, 1 to 4 components, every
  interleave mode, odd sizes and 1x1, NEAR 0/1/3, signed and unsigned, Bits
  Allocated wider than the precision, smooth and noisy content - the same
  bytes as the CharLS-based decoder, pyjpegls's samples, and the source
  within NEAR;
* preset coding parameters (LSE 1: MAXVAL, T1..T3, RESET) written by
  CharLS's encoder;
* restart intervals (DRI + RSTm), built from bands coded separately;
* the error paths seen from Python (mismatched dimensions, truncation,
  unsupported segments);
* mutated streams never crash, never write past the frame, never spin, and
  give only codec statuses; where both decoders accept a mutant they give
  the same bytes.
  This runs in a subprocess, under ASan/UBSan where the compiler has them,
  so that a crash is a failed test.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import random
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CORE, RD_CODEC_KEEP_YBR, RD_ERR_DECODE, RD_ERR_UNSUPPORTED, RD_OK,
                            FrameDesc, corpus_frames, file_id, frame_desc, options)

OWN_SOURCES = [CORE / "jlsdec.c", CORE / "frame.c", CORE / "colour.c"]
CHARLS_SOURCES = [CORE / "jls.c", CORE / "frame.c", CORE / "colour.c"]
CFLAGS = ks.compile_flags("-Wshadow")
OWN_ENTRY = "rd_jls_own_decode_frame"
CHARLS_ENTRY = "rd_jls_decode_frame"

pytestmark = ks.requires("charls")

# The helpers of the CharLS-based decoder's tests: encoders and image makers.
import test_jls_kernel as jls_tests  # noqa: E402


# --------------------------------------------------------------------------
# Building and calling
# --------------------------------------------------------------------------

def build_own(tmp_dir: Path, name: str = "librdjlsdec.so", extra=()) -> Path:
    return ks.build_library(tmp_dir, OWN_SOURCES, (), list(extra), name=name, cflags=CFLAGS)


@pytest.fixture(scope="module", params=["cpu", "generic"])
def libs(request, tmp_path_factory):
    """(our decoder, the CharLS-based one).  Ours twice: as built for this
    CPU (on x86-64 with GCC, the BMI2/LZCNT line loops where the CPU has
    them), and with -DRD_NO_SIMD (the loops for any CPU)."""
    tmp = tmp_path_factory.mktemp("rdjlsdec")
    extra = ["-DRD_NO_SIMD"] if request.param == "generic" else []
    own = ks.load_library(build_own(tmp, extra=extra), OWN_ENTRY, colour=True)
    ref = ks.load_library(ks.build_library(tmp, CHARLS_SOURCES, ["charls"], [],
                                           name="librdjls.so", cflags=CFLAGS),
                          CHARLS_ENTRY, colour=True)
    return own, ref


def decode_both(libs, code: bytes, desc: FrameDesc, flags: int = 0):
    """((status, bytes, message) of ours, the same of the CharLS wrapper)."""
    own, ref = libs
    results = []
    for lib, entry in ((own, OWN_ENTRY), (ref, CHARLS_ENTRY)):
        st, out, err = ks.run_decoder(lib, getattr(lib, entry), code, desc, options(flags))
        results.append((st, out.tobytes() if st == RD_OK else b"", err.msg.decode()))
    return results


def pyjpegls_samples(code: bytes) -> np.ndarray:
    """pyjpegls's decoded samples as (rows, cols, spp), planes (interleave
    mode 0) put pixel by pixel."""
    import jpeg_ls
    data, info = jpeg_ls.decode_buffer(code)
    rows, cols, spp = info["height"], info["width"], info["components"]
    arr = np.frombuffer(bytes(data), "<u1" if info["bits_per_sample"] <= 8 else "<u2")
    if spp > 1 and info["interleave_mode"] == 0:
        return arr.reshape(spp, rows, cols).transpose(1, 2, 0)
    return arr.reshape(rows, cols, spp)


def coded_values(raw: bytes, desc: FrameDesc, bits: int) -> np.ndarray:
    """Our output as the coded P-bit values (sign extension undone)."""
    arr = ks.frame_array(np.frombuffer(raw, np.uint8), desc).astype(np.int64)
    return arr & ((1 << bits) - 1)


def assert_matches_references(libs, code: bytes, desc: FrameDesc, bits: int,
                              flags: int = RD_CODEC_KEEP_YBR) -> bytes:
    """Ours == the CharLS wrapper byte for byte, and == pyjpegls's samples."""
    (st, ours, msg), (ref_st, ref, ref_msg) = decode_both(libs, code, desc, flags)
    assert st == RD_OK, msg
    assert ref_st == RD_OK, ref_msg
    assert ours == ref, "differs from the CharLS-based decoder"
    py = pyjpegls_samples(code).astype(np.int64).reshape(coded_values(ours, desc, bits).shape)
    assert np.array_equal(coded_values(ours, desc, bits), py), "differs from pyjpegls"
    return ours


# --------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------

JLS_FILES = jls_tests.JLS_FILES


def test_corpus_has_jls_files():
    assert len(JLS_FILES) >= 6, [str(p) for p in JLS_FILES]


@pytest.mark.parametrize("path", JLS_FILES, ids=[file_id(p) for p in JLS_FILES])
def test_corpus_matches_references(libs, path):
    ds, frames = corpus_frames(path)
    desc = frame_desc(ds)
    for i, frame in enumerate(frames):
        # pydicom-compatible output (colour and sign rules): the wrapper's bytes
        (st, ours, msg), (ref_st, ref, ref_msg) = decode_both(libs, frame, desc)
        assert st == ref_st == RD_OK, f"frame {i}: {msg} / {ref_msg}"
        assert ours == ref, f"frame {i} differs from the CharLS-based decoder"
        # the samples as coded: pyjpegls's
        bits = pyjpegls_bits(frame)
        assert_matches_references(libs, frame, desc, bits)


def pyjpegls_bits(code: bytes) -> int:
    """The SOF55 precision."""
    sof = code.index(b"\xff\xf7")
    return code[sof + 4]


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------

def noisy_samples(rows: int, cols: int, spp: int, bits: int, seed: int) -> np.ndarray:
    """Uniform noise: long Golomb codes, escape codes, few runs."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 1 << bits, (rows, cols, spp)).astype(np.uint16 if bits > 8 else np.uint8)
    return v if spp > 1 else v[..., 0]


def flat_samples(rows: int, cols: int, spp: int, bits: int, seed: int) -> np.ndarray:
    """Mostly one value with sparse outliers: long runs and interruptions."""
    rng = np.random.default_rng(seed)
    top = (1 << bits) - 1
    v = np.where(rng.random((rows, cols, spp)) < 0.05,
                 rng.integers(0, top + 1, (rows, cols, spp)), top // 3)
    v = v.astype(np.uint16 if bits > 8 else np.uint8)
    return v if spp > 1 else v[..., 0]


MAKERS = {"smooth": jls_tests.smooth_samples, "noisy": noisy_samples, "flat": flat_samples}


def _round_trip_cases():
    sizes = [(1, 1), (1, 17), (7, 3), (13, 31), (33, 64), (40, 129)]
    cases = []
    n = 0
    for bits, spp, near in itertools.product(range(2, 17), (1, 3), (0, 1, 3)):
        if (1 << bits) - 1 < 2 * near:
            continue
        for ilv in ((0,) if spp == 1 else (0, 1, 2)):
            rows, cols = sizes[n % len(sizes)]
            kind = ("smooth", "noisy", "flat")[n % 3]
            pr = n % 2 if bits > 2 else 0
            ba = 16 if bits > 8 or n % 5 == 0 else 8
            cases.append((rows, cols, bits, spp, ilv, near, pr, ba, kind))
            n += 1
    # two and four components (CharLS codes two components only in interleave mode 0)
    for spp, ilv, bits in [(2, 0, 8), (2, 0, 12), (4, 0, 8), (4, 1, 16), (4, 2, 8)]:
        cases.append((9, 11, bits, spp, ilv, 0, 0, 8 if bits <= 8 else 16, "smooth"))
    return cases


ROUND_TRIPS = _round_trip_cases()


def _case_id(c):
    rows, cols, bits, spp, ilv, near, pr, ba, kind = c
    return f"{rows}x{cols}_P{bits}_BA{ba}_S{spp}_ILV{ilv}_NEAR{near}_PR{pr}_{kind}"


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[_case_id(c) for c in ROUND_TRIPS])
def test_round_trip(libs, case):
    rows, cols, bits, spp, ilv, near, pr, ba, kind = case
    samples = MAKERS[kind](rows, cols, spp, bits, seed=zlib.crc32(repr(case).encode()))
    code, _ = jls_tests.encode(samples, bits, near, ilv)
    pi = {1: 2, 3: 4}.get(spp, 0)
    desc = FrameDesc(rows, cols, spp, ba, bits, pr, 0, pi)
    ours = assert_matches_references(libs, code, desc, bits)
    got = coded_values(ours, desc, bits)
    assert int(np.abs(got - samples.astype(np.int64)).max()) <= near
    arr = ks.frame_array(np.frombuffer(ours, np.uint8), desc).astype(np.int64)
    want = jls_tests.sign_extend(got, bits) if pr else got
    assert np.array_equal(arr, want)


# --------------------------------------------------------------------------
# Preset coding parameters (LSE 1)
# --------------------------------------------------------------------------

PRESETS = [
    # bits, near, (MAXVAL, T1, T2, T3, RESET)
    (8, 0, (0, 0, 0, 0, 0)),
    (8, 0, (0, 2, 5, 9, 32)),
    (8, 2, (0, 5, 9, 30, 100)),
    (12, 0, (3000, 0, 0, 0, 0)),
    (12, 1, (0, 10, 40, 100, 255)),     # CharLS 2.4 asserts on MAXVAL with NEAR > 0
    (16, 0, (0, 0, 0, 0, 1000)),
    (6, 0, (40, 0, 0, 0, 0)),
]


@pytest.mark.parametrize("bits,near,preset", PRESETS, ids=[f"P{b}_N{n}_{p}" for b, n, p in PRESETS])
def test_preset_coding_parameters(libs, bits, near, preset):
    maxval = preset[0] or (1 << bits) - 1
    samples = jls_tests.smooth_samples(37, 45, 1, bits, seed=bits + near)
    samples = np.minimum(samples, maxval).astype(samples.dtype)
    raw = samples.astype("<u1" if bits <= 8 else "<u2").tobytes()
    code = jls_tests.charls_encode(raw, 37, 45, 1, bits, near, 0, preset=preset)
    if any(preset):
        assert b"\xff\xf8\x00\x0d\x01" in code, "no LSE segment written"
    desc = FrameDesc(37, 45, 1, 8 if bits <= 8 else 16, bits, 0, 0, 2)
    ours = assert_matches_references(libs, code, desc, bits)
    assert int(np.abs(coded_values(ours, desc, bits) - samples).max()) <= near


# --------------------------------------------------------------------------
# Restart intervals (DRI + RSTm)
# --------------------------------------------------------------------------

def _scan_data(code: bytes) -> bytes:
    """The entropy-coded bytes of a one-scan stream (after SOS, before EOI)."""
    sos = code.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(code[sos + 2:sos + 4], "big")
    assert code.endswith(b"\xff\xd9")
    return code[start:-2]


def restart_stream(samples: np.ndarray, bits: int, near: int, ilv: int, interval: int) -> bytes:
    """A stream with a restart marker every `interval` lines.  After RSTm the
    decoder starts afresh (contexts, run index, and the line above taken as
    zeros), so each band coded as an image of its own gives exactly the data
    of one restart interval; the full image's headers frame them."""
    whole, _ = jls_tests.encode(samples, bits, near, ilv)
    sos = whole.index(b"\xff\xda")
    header_end = sos + 2 + int.from_bytes(whole[sos + 2:sos + 4], "big")
    dri = b"\xff\xdd\x00\x04" + interval.to_bytes(2, "big")
    parts = [whole[:sos], dri, whole[sos:header_end]]
    for k, top in enumerate(range(0, samples.shape[0], interval)):
        band, _ = jls_tests.encode(np.ascontiguousarray(samples[top:top + interval]), bits,
                                   near, ilv)
        if k:
            parts.append(bytes([0xFF, 0xD0 + (k - 1) % 8]))
        parts.append(_scan_data(band))
    return b"".join(parts) + b"\xff\xd9"


RESTARTS = [(8, 1, 0, 0, 3), (12, 1, 0, 2, 4), (16, 1, 0, 0, 1), (8, 3, 0, 1, 5),
            (8, 3, 0, 2, 2), (10, 3, 2, 2, 7)]


@pytest.mark.parametrize("bits,spp,near,ilv,interval", RESTARTS,
                         ids=[f"P{b}_S{s}_N{n}_ILV{i}_RI{r}" for b, s, n, i, r in RESTARTS])
def test_restart_intervals(libs, bits, spp, near, ilv, interval):
    rows, cols = 37, 41          # 37 lines: a short last interval for most sizes
    samples = jls_tests.smooth_samples(rows, cols, spp, bits, seed=bits * interval)
    code = restart_stream(samples, bits, near, ilv, interval)
    assert code.count(b"\xff\xd0") >= 1
    desc = FrameDesc(rows, cols, spp, 8 if bits <= 8 else 16, bits, 0, 0, 4 if spp == 3 else 2)
    ours = assert_matches_references(libs, code, desc, bits)
    assert int(np.abs(coded_values(ours, desc, bits) - samples.astype(np.int64)).max()) <= near
    # a wrong or missing restart marker is an error
    broken = code.replace(b"\xff\xd0", b"\xff\xd3", 1)
    st, _, msg = _decode_own(libs, broken, desc)
    assert st == RD_ERR_DECODE and "RST0" in msg, msg


# --------------------------------------------------------------------------
# Errors seen from Python
# --------------------------------------------------------------------------

def _decode_own(libs, code: bytes, desc: FrameDesc):
    own = libs[0]
    st, out, err = ks.run_decoder(own, own.rd_jls_own_decode_frame, code, desc, options())
    return st, out, err.msg.decode()


def test_mismatch_messages_name_both_values(libs):
    code, _ = jls_tests.encode(jls_tests.smooth_samples(8, 12, 1, 12, seed=8), 12)
    st, _, msg = _decode_own(libs, code, FrameDesc(8, 11, 1, 16, 12, 0, 0, 2))
    assert st == RD_ERR_DECODE and "12 x 8" in msg and "11 x 8" in msg
    st, _, msg = _decode_own(libs, code, FrameDesc(8, 12, 3, 16, 12, 0, 0, 4))
    assert st == RD_ERR_DECODE and "1 components" in msg and "3 samples" in msg
    st, _, msg = _decode_own(libs, code, FrameDesc(8, 12, 1, 8, 8, 0, 0, 2))
    assert st == RD_ERR_DECODE and "12-bit" in msg and "Bits Allocated 8" in msg


def test_truncated_stream_fails(libs):
    samples = jls_tests.smooth_samples(64, 64, 1, 16, seed=9)
    code, _ = jls_tests.encode(samples, 16)
    desc = FrameDesc(64, 64, 1, 16, 16, 0, 0, 2)
    for cut in range(2, len(code) - 1, max(1, len(code) // 60)):
        st, _, msg = _decode_own(libs, code[:cut], desc)
        assert st == RD_ERR_DECODE and msg, cut
    # EOI followed by padding or junk is accepted, as by the CharLS wrapper
    for tail in (b"\x00", b"\xff", b"junk"):
        st, out, msg = _decode_own(libs, code + tail, desc)
        assert st == RD_OK, (tail, msg)
        assert np.array_equal(ks.frame_array(out, desc), samples)


def test_unsupported_segments(libs):
    samples = jls_tests.smooth_samples(6, 9, 1, 8, seed=10)
    code, _ = jls_tests.encode(samples, 8)
    desc = FrameDesc(6, 9, 1, 8, 8, 0, 0, 2)
    sos = code.index(b"\xff\xda")
    # a mapping table (LSE id 2) before the scan
    lse2 = b"\xff\xf8" + (6).to_bytes(2, "big") + b"\x02\x05\x01\x00"
    st, _, msg = _decode_own(libs, code[:sos] + lse2 + code[sos:], desc)
    assert st == RD_ERR_UNSUPPORTED and "LSE" in msg, msg
    # a point transform in SOS
    patched = bytearray(code)
    ns = patched[sos + 4]
    patched[sos + 5 + 2 * ns + 2] = 1
    st, _, msg = _decode_own(libs, bytes(patched), desc)
    assert st == RD_ERR_UNSUPPORTED and "point transform" in msg, msg


# --------------------------------------------------------------------------
# Mutation: damaged streams never crash, spin or write past the frame
# --------------------------------------------------------------------------

SLOW_CALL_S = 1.0
MUTATION_ROUNDS = 3     # passes of jls_tests._mutants (90 mutants) over each source frame


def _mutation_main(own_path: str, ref_path: str) -> int:
    """Run in a subprocess; exit status 0 when every mutant was handled."""
    ctx = jls_tests.quiet()
    own = ks.load_library(Path(own_path), OWN_ENTRY, colour=True)
    ref = ks.load_library(Path(ref_path), CHARLS_ENTRY, colour=True)
    guarded = ks.GuardedCalls()
    rng = random.Random(20261126)
    tally = ks.MutationTally()
    compared = 0
    slowest = 0.0
    sources = jls_tests._mutation_sources()
    for name, frame, ds in sources * MUTATION_ROUNDS:
        desc = frame_desc(ds)
        size = own.rd_frame_size(ctypes.byref(desc))
        for what, data in jls_tests._mutants(frame, rng):
            call, = guarded(own.rd_jls_own_decode_frame, data, desc, size, options())
            slowest = max(slowest, call.seconds)
            problem = ks.frame_problem(call, size)
            if problem is None and call.seconds > SLOW_CALL_S:
                problem = f"took {call.seconds:.1f} s"
            if problem is None and call.status == RD_OK:
                st, out, _ = ks.run_decoder(ref, ref.rd_jls_decode_frame, data, desc, options())
                if st == RD_OK:
                    # both accept it: the same decoding process, the same samples
                    compared += 1
                    if out.tobytes() != call.out[:size]:
                        problem = "accepted by both decoders, decoded differently"
            tally.record(name, what, problem, call.status)
    ctx.__exit__(None, None, None)
    return tally.finish(f"{compared} accepted by both decoders and compared",
                        f"slowest call {slowest:.3f} s")


def test_mutated_streams_never_crash(tmp_path):
    flags, env = ks.cxx_mutation_env(tmp_path, "RD_JLSDEC_RLIMIT_AS")
    own_path = build_own(tmp_path, "libmut.so", flags)
    ref_path = ks.build_library(tmp_path, CHARLS_SOURCES, ["charls"], [],
                                name="libref.so", cflags=CFLAGS)
    res = ks.run_mutation(__file__, "--mutate", own_path, ref_path, env=env)
    ks.assert_exited_cleanly(res.returncode, res.stdout, res.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--mutate":
        sys.path.insert(0, str(Path(__file__).parent))
        if os.environ.get("RD_JLSDEC_RLIMIT_AS"):
            ks.limit_address_space(int(os.environ["RD_JLSDEC_RLIMIT_AS"]))
        sys.exit(_mutation_main(sys.argv[2], sys.argv[3]))
    sys.exit("usage: test_jlsdec_kernel.py --mutate OWN_LIBRARY REFERENCE_LIBRARY")


# --------------------------------------------------------------------------
# What rapidicom calls: codec.c's JPEG-LS entry
# --------------------------------------------------------------------------

_DISPATCH_SHIM = """
#include "rapidicom.h"
rd_status
dispatch_jpeg_ls(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                 const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                 rd_error *err)
{
    return rd_codec_decoder(RD_CODEC_JPEG_LS)(src, src_len, desc, options, dst, dst_cap, err);
}
"""


def test_codec_entry_uses_ours_and_falls_back_to_charls(libs, tmp_path):
    """rd_codec_decoder(RD_CODEC_JPEG_LS) decodes with our decoder (its
    messages show it) and hands CharLS the streams ours does not take: here
    CharLS's HP1..HP3 colour transforms, which it undoes."""
    own, ref = libs
    shim = tmp_path / "dispatch.c"
    shim.write_text(_DISPATCH_SHIM)
    lib = ks.load_library(
        ks.build_library(tmp_path, [shim, CORE / "codec.c", *OWN_SOURCES, CORE / "jls.c"],
                         ["charls"], ["-DRD_HAVE_JPEG_LS", "-DRD_HAVE_CHARLS"],
                         name="libdispatch.so", cflags=CFLAGS),
        "dispatch_jpeg_ls", colour=True)

    samples = jls_tests.smooth_samples(16, 24, 1, 12, seed=21)
    code, _ = jls_tests.encode(samples, 12)
    desc = FrameDesc(16, 24, 1, 16, 12, 0, 0, 2)
    st, out, err = ks.run_decoder(lib, lib.dispatch_jpeg_ls, code, desc, options())
    assert st == RD_OK, err.msg
    assert np.array_equal(ks.frame_array(out, desc), samples)
    # a cut stream fails with our decoder's message, not CharLS's
    st, _, err = ks.run_decoder(lib, lib.dispatch_jpeg_ls, code[:len(code) // 2], desc,
                                options())
    assert st == RD_ERR_DECODE and err.msg.decode().startswith("JPEG-LS: "), err.msg

    rgb = jls_tests.smooth_samples(10, 13, 3, 8, seed=22)
    desc = FrameDesc(10, 13, 3, 8, 8, 0, 0, 4)
    for transform in (1, 2, 3):
        code = jls_tests.charls_encode(rgb.tobytes(), 10, 13, 3, 8, 0, 2, transform)
        st, _, err = ks.run_decoder(own, own.rd_jls_own_decode_frame, code, desc, options())
        assert st == RD_ERR_UNSUPPORTED, (transform, err.msg)
        st, out, err = ks.run_decoder(lib, lib.dispatch_jpeg_ls, code, desc, options())
        assert st == RD_OK, (transform, err.msg)
        assert np.array_equal(ks.frame_array(out, desc), rgb), transform
