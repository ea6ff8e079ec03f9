"""The JPEG lossless kernel (src/core/ljpeg.c: T.81 process 14, transfer
syntaxes 1.2.840.10008.1.2.4.57 and .70), tested on its own through ctypes.

ljpeg.c, frame.c and colour.c are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core`` (no external library: the decoder is our
own), independent of the main build, and:

* tests/c/test_ljpeg.c (hand-built streams: the modulo-2^16 wrap, SSSS 16,
  every predictor / precision / point transform / component count / restart
  interval against a transcription of T.81 H.1.2, FF00 stuffing and fill
  bytes, multi-scan frames, one stream per error path) runs as a program,
  plainly and, where the compiler has them, under ASan/UBSan;
* every frame of every .57/.70 file in the corpus (tests/corpus.py) decodes
  bit-exactly like pydicom 3's pixel_array with BOTH of its plugins for these
  syntaxes: "gdcm" (pydicom's default, the first available) and "pylibjpeg"
  (pylibjpeg-libjpeg);
* ENCODER below is a small test-only JPEG lossless encoder (numpy; Huffman
  tables from the difference statistics per T.81 Annex K.2/K.3; predictors
  1-7, point transform, restart intervals, 2-16 bits, 1-4 components,
  interleaved or one scan per component, shared or per-component tables).
  Synthetic images it encodes - odd widths, 1x1, one line, one column,
  12/16-bit, signed, Bits Stored < Bits Allocated, 3 samples - decode to the
  original pixels, and the encoder itself is cross-checked by decoding the
  same streams with pylibjpeg-libjpeg (``libjpeg.decode``) and, through
  pydicom, with GDCM;
* where the references disagree with each other or with T.81 the test says
  which one the standard supports (see test_reference_disagreements);
* mutated frames (flipped bits, random bytes, truncation, a SOF claiming
  65535 x 65535, marker bytes, ...) never crash and give only RD_OK /
  RD_ERR_DECODE / RD_ERR_INVALID / RD_ERR_LIMIT / RD_ERR_UNSUPPORTED.  This
  runs in a subprocess under ASan (allocations capped at 64 MiB) when
  available, and again without ASan under a 1.5 GiB address-space limit, so
  a crash or an absurd allocation is a failed test.

``python tests/test_ljpeg_kernel.py --bench`` prints decode speeds (MB/s of
output, one thread) against pylibjpeg-libjpeg, GDCM and dicomsdl.
"""
from __future__ import annotations

import ctypes
import heapq
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CC, CORE, PHOTOMETRIC, RD_CODEC_KEEP_YBR, RD_ERR_DECODE,
                            RD_ERR_INVALID, RD_ERR_LIMIT, RD_ERR_UNSUPPORTED, RD_OK,
                            CodecOptions, Error, FrameDesc, file_id, frame_desc, options)

SOURCES = [CORE / "ljpeg.c", CORE / "frame.c", CORE / "colour.c"]
C_TEST = ks.C_TESTS / "test_ljpeg.c"
CFLAGS = ks.compile_flags("-Wshadow")
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
SYNTAXES = (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1)

pytestmark = ks.requires()


# --------------------------------------------------------------------------
# Building and calling
# --------------------------------------------------------------------------

def build_library(tmp_dir: Path, name: str, extra: list[str] = ()) -> Path:
    return ks.build_library(tmp_dir, SOURCES, extra_flags=extra, name=name, cflags=CFLAGS)


def load(path: Path) -> ctypes.CDLL:
    return ks.load_library(path, "rd_jpeg_lossless_decode_frame")


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("rdljpeg"), "librdljpeg.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


def make_desc(rows, cols, spp=1, bits_allocated=16, bits_stored=None, signed=0,
              photometric=None, planar=0) -> FrameDesc:
    if photometric is None:
        photometric = "RGB" if spp == 3 else "MONOCHROME2"
    return FrameDesc(rows, cols, spp, bits_allocated,
                     bits_allocated if bits_stored is None else bits_stored, signed,
                     planar, PHOTOMETRIC.get(photometric, 0))


def decode(lib, src: bytes, desc: FrameDesc, opts: CodecOptions | None = None):
    """(status, output bytes or None, rd_error)."""
    st, out, err = ks.run_decoder(lib, lib.rd_jpeg_lossless_decode_frame, src, desc, opts)
    return st, (out.tobytes() if st == RD_OK else None), err


def as_array(raw: bytes, desc: FrameDesc) -> np.ndarray:
    """Our output as pydicom shapes and types it."""
    return ks.frame_array(raw, desc)


# --------------------------------------------------------------------------
# ENCODER: a test-only JPEG lossless encoder (T.81 process 14, Huffman)
# --------------------------------------------------------------------------

def _huffman_spec(freq):
    """(BITS[1..16], HUFFVAL) of a Huffman code for the categories 0..16 with
    frequencies `freq`: code lengths from a Huffman tree that includes one
    reserved symbol (so no code is all 1-bits, K.2), limited to 16 bits by
    K.3's Adjust_BITS, the reserved code then dropped."""
    syms = [s for s in range(17) if freq[s] > 0] or [0]
    heap = [(max(int(freq[s]), 1), i, [s]) for i, s in enumerate(syms)]
    heap.append((1, len(syms), [-1]))              # the reserved code point
    heapq.heapify(heap)
    length = dict.fromkeys(syms + [-1], 0)
    tie = 100
    while len(heap) > 1:
        f1, _, a = heapq.heappop(heap)
        f2, _, b = heapq.heappop(heap)
        for s in a + b:
            length[s] += 1
        heapq.heappush(heap, (f1 + f2, tie, a + b))
        tie += 1
    bits = [0] * 64
    for n in length.values():
        bits[n] += 1
    i = 63
    while i > 16:                                  # K.3 Adjust_BITS
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
        i -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1                                   # drop the reserved code
    return bits[1:17], sorted(syms, key=lambda s: (length[s], s))


def _canonical_codes(counts, values):
    """{category: (code, length)} - T.81 Annex C."""
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[values[k]] = (code, length)
            k += 1
            code += 1
        code <<= 1
    return codes


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _predictions(x, psv, precision, pt, restart, cols):
    """Px of every sample of x (rows, cols, ns), samples already shifted by
    pt (H.1.2.1).  The first line of the scan and of each restart interval is
    predicted by Ra, starting from 2^(P-Pt-1); other lines start from Rb.  A
    restart interval need not be whole lines here (the decoder refuses those;
    this models them by starting the 'first line' rule at the restart)."""
    rows = x.shape[0]
    ra = np.zeros_like(x)
    ra[:, 1:] = x[:, :-1]
    rb = np.zeros_like(x)
    rb[1:] = x[:-1]
    rc = np.zeros_like(x)
    rc[1:, 1:] = x[:-1, :-1]
    px = {1: ra, 2: rb, 3: rc, 4: ra + rb - rc, 5: ra + ((rb - rc) >> 1),
          6: rb + ((ra - rc) >> 1), 7: (ra + rb) >> 1}[psv].copy()
    px[:, 0] = rb[:, 0]
    mcu = np.arange(rows * cols).reshape(rows, cols)
    reset = (mcu % restart) == 0 if restart else mcu == 0
    first = np.zeros((rows, cols), bool)
    first[0] = True
    rr, cc = np.nonzero(reset)
    for r in np.unique(rr):
        first[r, cc[rr == r].min():] = True
    px[first] = ra[first]
    px[reset] = 1 << (precision - pt - 1)
    return px


def _categories(d):
    mag = np.abs(d)
    ssss = np.zeros(d.shape, np.int64)
    nz = mag > 0
    ssss[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    return ssss


def _pack(diffs, tsel, codes) -> bytes:
    """Entropy-coded bytes for differences in MCU order (sample i coded with
    codes[tsel[i]]): SSSS code + SSSS extra bits (none for 16), padded with
    1-bits, 0xFF followed by a stuffed 0x00 (F.1.2.3)."""
    d = diffs.astype(np.int64)
    ssss = _categories(d)
    code = np.zeros((len(codes), 17), np.int64)
    clen = np.zeros((len(codes), 17), np.int64)
    for t, table in enumerate(codes):
        for s, (c, n) in table.items():
            code[t, s], clen[t, s] = c, n
    assert not np.any(clen[tsel, ssss] == 0), "category without a Huffman code"
    nextra = np.where(ssss == 16, 0, ssss)
    extra = np.where(d >= 0, d, d + (1 << nextra) - 1) & ((1 << nextra) - 1)
    val = (code[tsel, ssss] << nextra) | extra
    ln = clen[tsel, ssss] + nextra                 # <= 16 + 15 bits
    pos = np.arange(32)[None, :]
    chunks = []
    for i in range(0, len(val), 1 << 18):
        v = val[i:i + (1 << 18)].astype(np.uint64)
        n = ln[i:i + (1 << 18)]
        bits = ((v[:, None] >> (31 - pos).astype(np.uint64)) & np.uint64(1)).astype(np.uint8)
        chunks.append(bits[pos >= (32 - n)[:, None]])
    bits = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    bits = np.concatenate([bits, np.ones((-len(bits)) % 8, np.uint8)])
    data = np.packbits(bits)
    return np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0).tobytes()


def encode(img, precision, psv=1, pt=0, restart=0, interleaved=True, tables="shared",
           ids=None, app=b"", dht_first=True, diff_modulo=16):
    """Encode `img` ((rows, cols) or (rows, cols, components), unsigned
    values below 2**precision) as a JPEG lossless codestream.

    tables: "shared" (table 0 for every component) or "per-component".
    diff_modulo: 16 computes differences modulo 2^16 (T.81); 8 wraps them
    modulo 2^8 as some non-conforming 8-bit writers do.
    """
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    rows, cols, nf = img.shape
    ids = list(ids) if ids is not None else list(range(1, nf + 1))
    x_all = img.astype(np.int64) >> pt
    scans = [list(range(nf))] if interleaved else [[c] for c in range(nf)]
    half = 1 << (diff_modulo - 1)
    diffs = {}
    for scan in scans:
        x = x_all[:, :, scan]
        d = (x - _predictions(x, psv, precision, pt, restart, cols)) & ((half << 1) - 1)
        d = np.where(d >= half, d - (half << 1), d)
        d = np.where(d == -32768, 32768, d)        # SSSS 16
        for j, c in enumerate(scan):
            diffs[c] = d[:, :, j]
    tid = {c: (c if tables == "per-component" else 0) for c in range(nf)}
    specs = {}
    for t in sorted(set(tid.values())):
        mags = np.concatenate([diffs[c].ravel() for c in range(nf) if tid[c] == t])
        specs[t] = _huffman_spec(np.bincount(_categories(mags), minlength=17))
    sof = bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big") + bytes([nf])
    for c in range(nf):
        sof += bytes([ids[c], 0x11, 0])
    dht = b"".join(_segment(0xC4, bytes([t]) + bytes(counts) + bytes(values))
                   for t, (counts, values) in specs.items())
    out = bytearray(b"\xFF\xD8") + app
    out += dht + _segment(0xC3, sof) if dht_first else _segment(0xC3, sof) + dht
    if restart:
        out += _segment(0xDD, restart.to_bytes(2, "big"))
    for scan in scans:
        sos = bytes([len(scan)]) + b"".join(bytes([ids[c], tid[c] << 4]) for c in scan)
        out += _segment(0xDA, sos + bytes([psv, 0, pt]))
        seq = np.stack([diffs[c] for c in scan], axis=-1).reshape(-1)
        codes = [_canonical_codes(*specs[tid[c]]) for c in scan]
        tsel = np.tile(np.arange(len(scan)), rows * cols)
        per = restart * len(scan) if restart else len(seq)
        for k, i in enumerate(range(0, len(seq), per)):
            if k:
                out += bytes([0xFF, 0xD0 + ((k - 1) & 7)])
            out += _pack(seq[i:i + per], tsel[i:i + per], codes)
    return bytes(out + b"\xFF\xD9")


def test_encoder_tables_are_valid():
    # Skewed statistics force code lengths past 16 before K.3's adjustment.
    freq = [2 ** (16 - s) if s < 17 else 1 for s in range(17)]
    counts, values = _huffman_spec(freq)
    assert sum(counts) == 17 and sorted(values) == list(range(17))
    assert sum(c * 2.0 ** -(i + 1) for i, c in enumerate(counts)) < 1.0   # room left
    codes = _canonical_codes(counts, values)
    assert max(n for _, n in codes.values()) <= 16


# --------------------------------------------------------------------------
# References through pydicom
# --------------------------------------------------------------------------

def make_dataset(frames, rows, cols, spp=1, bits_allocated=16, bits_stored=None,
                 signed=0, photometric=None, planar=0, syntax=JPEG_LOSSLESS):
    return ks.encapsulated_dataset(
        frames, rows=rows, columns=cols, samples_per_pixel=spp,
        bits_allocated=bits_allocated,
        bits_stored=bits_allocated if bits_stored is None else bits_stored,
        pixel_representation=signed,
        photometric=photometric or ("RGB" if spp == 3 else "MONOCHROME2"), syntax=syntax,
        planar_configuration=planar, number_of_frames=len(frames) if len(frames) > 1 else None)


def reference(ds, plugin: str, index: int = 0, as_rgb: bool = True) -> np.ndarray:
    """pydicom 3's pixel_array for frame `index` with one plugin."""
    return ks.pydicom_array(ds, index, plugin, as_rgb=as_rgb)[0]


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

SANITIZE = [*ks.SANITIZE, "-O1"]     # after CFLAGS' -O2


@pytest.fixture(scope="module")
def asan_objects(tmp_path_factory) -> list[Path] | None:
    """The three sources compiled once with ASan/UBSan (-O1, -fPIC), for the
    C program and the mutation library; None when cc cannot do it."""
    tmp = tmp_path_factory.mktemp("rdljpeg_asan")
    if ks.sanitizer_flags(tmp, SANITIZE) is None:
        return None
    objs = []
    for src in SOURCES:
        obj = tmp / (src.stem + ".o")
        subprocess.run([CC, *CFLAGS, *SANITIZE, "-fPIC", "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True, text=True)
        objs.append(obj)
    return objs


def test_c_program(tmp_path):
    exe = ks.build_program(tmp_path, [*SOURCES, C_TEST], name="test_ljpeg", cflags=CFLAGS)
    res = ks.run_c_program(exe, leaks=True)
    assert res.returncode == 0, res.stderr


def test_c_program_sanitized(tmp_path, asan_objects):
    if asan_objects is None:
        pytest.skip(ks.NO_SANITIZER)
    exe = ks.build_program(tmp_path, [*asan_objects, C_TEST], extra_flags=SANITIZE,
                           name="test_ljpeg_asan", cflags=CFLAGS)
    res = ks.run_c_program(exe, leaks=True)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------
# Corpus: every frame of every .57 / .70 file, against both pydicom plugins
# --------------------------------------------------------------------------

def lossless_files() -> list[Path]:
    return ks.corpus_files(SYNTAXES)


def corpus_frames(path: Path):
    """(dataset, [frame bytes]); frames is empty when there is no Pixel Data."""
    return ks.corpus_frames(path, no_pixels_ok=True)


LOSSLESS_FILES = lossless_files() if CC else []


def test_corpus_has_lossless_files():
    # pydicom's test files: SC_rgb_jpeg_gdcm.dcm (.70, RGB) and UN_sequence.dcm
    # (.70, no pixels); pydicom-data: JPEG-LL.dcm, JPGLosslessP14SV1_1s_1f_8b.dcm,
    # bad_sequence.dcm.
    names = {p.name for p in LOSSLESS_FILES}
    assert {"JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm",
            "SC_rgb_jpeg_gdcm.dcm"} <= names, sorted(names)


def test_pydicom_default_plugin_is_gdcm():
    """What `ds.pixel_array` uses for these syntaxes: GDCM, the first plugin."""
    from pydicom.pixels.decoders.base import get_decoder

    for uid in SYNTAXES:
        assert get_decoder(uid).available_plugins[0] == "gdcm"


@pytest.mark.parametrize("path", LOSSLESS_FILES, ids=[file_id(p) for p in LOSSLESS_FILES])
def test_corpus_matches_pydicom(lib, path):
    ds, frames = corpus_frames(path)
    if not frames:
        pytest.skip(f"{path.name} has no Pixel Data")
    desc = frame_desc(ds)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, desc)
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        got = as_array(ours, desc)
        for plugin in ("gdcm", "pylibjpeg"):
            # as_rgb=False: the samples before pydicom's YBR -> RGB step (none
            # of these files is YBR, so this is also the final pixel_array).
            ref = reference(ds, plugin, i, as_rgb=False)
            assert got.dtype == ref.dtype and got.shape == ref.shape, plugin
            assert np.array_equal(got, ref), f"frame {i} differs from pydicom + {plugin}"
    if len(frames) == 1 and not ds.PhotometricInterpretation.startswith("YBR"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.array_equal(got, ds.pixel_array)


def test_corpus_references_agree():
    """List corpus frames where GDCM and pylibjpeg-libjpeg disagree (none)."""
    disagree = []
    for path in LOSSLESS_FILES:
        ds, frames = corpus_frames(path)
        for i in range(len(frames)):
            a = reference(ds, "gdcm", i, as_rgb=False)
            b = reference(ds, "pylibjpeg", i, as_rgb=False)
            if not np.array_equal(a, b):
                disagree.append((path.name, i, int(np.abs(a.astype(int) - b).max())))
    assert disagree == []


# --------------------------------------------------------------------------
# Synthetic round trips through ENCODER
# --------------------------------------------------------------------------

def _image(rng, rows, cols, nf, precision, smooth):
    top = 1 << precision
    if smooth:
        steps = rng.integers(-3, 4, (rows, cols, nf))
        img = (np.cumsum(np.cumsum(steps, axis=0), axis=1) + top // 2) % top
    else:
        img = rng.integers(0, top, (rows, cols, nf))
    return img.astype(np.int64)


ROUND_TRIPS = [
    # (precision, predictor, point transform, components, rows, cols, restart lines,
    #  interleaved, tables)
    *[(p, psv, 0, 1, 9, 13, 0, True, "shared") for p in (2, 8, 12, 16) for psv in range(1, 8)],
    *[(16, psv, 0, 3, 7, 11, 0, True, "per-component") for psv in range(1, 8)],
    *[(8, psv, 0, 3, 6, 5, 0, True, "shared") for psv in (1, 4, 7)],
    (12, 1, 0, 1, 1, 1, 0, True, "shared"),            # 1 x 1
    (16, 7, 0, 1, 1, 31, 0, True, "shared"),           # one line
    (16, 7, 0, 1, 31, 1, 0, True, "shared"),           # one column
    (16, 6, 0, 3, 1, 1, 0, True, "shared"),            # 1 x 1, 3 samples
    (10, 5, 0, 2, 5, 7, 0, True, "per-component"),     # 2 components
    (15, 4, 0, 4, 5, 7, 0, True, "shared"),            # 4 components
    (7, 3, 0, 1, 8, 17, 0, True, "shared"),
    (16, 1, 0, 1, 12, 9, 1, True, "shared"),           # restart every line
    (12, 7, 0, 3, 12, 9, 4, True, "shared"),           # every 4 lines, 3 samples
    (16, 4, 0, 1, 40, 3, 3, True, "shared"),           # RST0..RST7 wrap around
    (8, 1, 0, 3, 6, 7, 0, False, "per-component"),     # one scan per component
    (16, 5, 0, 3, 6, 7, 2, False, "shared"),           # ... with restarts
    (12, 1, 2, 1, 9, 13, 0, True, "shared"),           # point transform
    (16, 6, 3, 3, 9, 13, 3, True, "shared"),
    (8, 7, 1, 1, 9, 13, 0, True, "shared"),
]


def _round_trip_id(c):
    p, psv, pt, nf, rows, cols, rl, inter, tables = c
    return (f"P{p}_SV{psv}_Pt{pt}_{nf}c_{rows}x{cols}_R{rl}"
            f"{'' if inter else '_planar-scans'}{'_tables' if tables != 'shared' else ''}")


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[_round_trip_id(c) for c in ROUND_TRIPS])
def test_round_trip(lib, case):
    libjpeg = pytest.importorskip("libjpeg", reason="pylibjpeg-libjpeg is not installed")
    p, psv, pt, nf, rows, cols, restart_lines, inter, tables = case
    rng = np.random.default_rng(abs(hash(case)) % (1 << 32))
    for smooth in (False, True):
        img = (_image(rng, rows, cols, nf, p, smooth) >> pt) << pt
        data = encode(img, p, psv=psv, pt=pt, restart=restart_lines * cols,
                      interleaved=inter, tables=tables)
        want = img if nf > 1 else img[:, :, 0]
        for ba in ((8, 16) if p <= 8 else (16,)):
            desc = make_desc(rows, cols, nf, ba, ba)
            st, ours, err = decode(lib, data, desc)
            assert st == RD_OK, err.msg.decode()
            assert np.array_equal(as_array(ours, desc), want), f"bits allocated {ba}"
        # The encoder, checked by pylibjpeg-libjpeg (which mishandles Pt > 0,
        # see test_reference_disagreements) ...
        if pt == 0:
            ref = libjpeg.decode(data).reshape(want.shape)
            assert np.array_equal(ref, want), "pylibjpeg-libjpeg disagrees with the encoder"
        # ... and by GDCM through pydicom (pixel_array for 1 and 3 samples).
        if nf in (1, 3) and p in (8, 12, 16):
            ba = 8 if p == 8 else 16
            ds = make_dataset([data], rows, cols, nf, ba, p)
            assert np.array_equal(reference(ds, "gdcm", as_rgb=False), want), "GDCM"


@pytest.mark.parametrize("bits_stored,precision", [(16, 16), (12, 12), (12, 16), (10, 16),
                                                   (13, 13)])
def test_signed_and_bits_stored_match_pydicom(lib, bits_stored, precision):
    """Pixel Representation 1 and Bits Stored < Bits Allocated: the two's
    complement pattern sign-extended from Bits Stored (pydicom's
    _correct_unused_bits); unsigned: cut to Bits Stored."""
    rng = np.random.default_rng(bits_stored * 100 + precision)
    rows, cols = 11, 9
    signed_vals = rng.integers(-(1 << (bits_stored - 1)), 1 << (bits_stored - 1), (rows, cols))
    signed_vals[0, :4] = [-(1 << (bits_stored - 1)), -1, 0, (1 << (bits_stored - 1)) - 1]
    raw = signed_vals & ((1 << precision) - 1)
    if precision > bits_stored:       # junk above Bits Stored that must go
        raw |= rng.integers(0, 1 << (precision - bits_stored), (rows, cols)) << bits_stored
    data = encode(raw, precision, psv=6)
    for signed in (1, 0):
        desc = make_desc(rows, cols, 1, 16, bits_stored, signed)
        st, ours, err = decode(lib, data, desc)
        assert st == RD_OK, err.msg.decode()
        got = as_array(ours, desc)
        want = signed_vals if signed else signed_vals & ((1 << bits_stored) - 1)
        assert np.array_equal(got, want)
        ds = make_dataset([data], rows, cols, 1, 16, bits_stored, signed)
        for plugin in ("gdcm", "pylibjpeg"):
            ref = reference(ds, plugin)
            assert ref.dtype == got.dtype and np.array_equal(ref, got), plugin


def test_signed_8bit_and_low_bits_stored_match_pydicom(lib):
    rng = np.random.default_rng(8)
    rows, cols = 7, 10
    vals = rng.integers(-128, 128, (rows, cols))
    data = encode(vals & 0xFF, 8, psv=7)
    desc = make_desc(rows, cols, 1, 8, 8, 1)
    st, ours, _ = decode(lib, data, desc)
    assert st == RD_OK and np.array_equal(as_array(ours, desc), vals)
    ds = make_dataset([data], rows, cols, 1, 8, 8, 1)
    for plugin in ("gdcm", "pylibjpeg"):
        assert np.array_equal(reference(ds, plugin), vals), plugin
    # Bits Stored 6 in 8 bits.  GDCM aborts the whole process on it (an
    # uncaught C++ exception, "PF.GetBitsAllocated() == PF.GetBitsStored()"),
    # so pylibjpeg-libjpeg is the only reference here.
    vals6 = rng.integers(-32, 32, (rows, cols))
    data = encode(vals6 & 0x3F, 6, psv=2)
    for signed in (0, 1):
        desc = make_desc(rows, cols, 1, 8, 6, signed)
        st, ours, _ = decode(lib, data, desc)
        assert st == RD_OK
        want = vals6 if signed else vals6 & 0x3F
        assert np.array_equal(as_array(ours, desc), want)
        ref = reference(make_dataset([data], rows, cols, 1, 8, 6, signed), "pylibjpeg")
        assert np.array_equal(ref, want)


def test_precision_8_into_16_bits(lib):
    """P <= 8 with Bits Allocated 16: two-byte samples.  GDCM agrees;
    pylibjpeg-libjpeg returns one byte per sample, so pydicom fails on it."""
    rng = np.random.default_rng(16)
    img = rng.integers(0, 256, (6, 9))
    data = encode(img, 8, psv=4)
    desc = make_desc(6, 9, 1, 16, 8)
    st, ours, _ = decode(lib, data, desc)
    assert st == RD_OK and np.array_equal(as_array(ours, desc), img)
    assert np.array_equal(reference(make_dataset([data], 6, 9, 1, 16, 8), "gdcm"), img)


def test_multiframe_dataset_matches_pydicom(lib):
    rng = np.random.default_rng(3)
    imgs = [_image(rng, 8, 12, 3, 8, smooth=k % 2 == 0) for k in range(3)]
    frames = [encode(im, 8, psv=k + 1) for k, im in enumerate(imgs)]
    ds = make_dataset(frames, 8, 12, 3, 8, 8, syntax=JPEG_LOSSLESS)
    desc = frame_desc(ds)
    for i, frame in enumerate(frames):
        st, ours, _ = decode(lib, frame, desc)
        assert st == RD_OK
        for plugin in ("gdcm", "pylibjpeg"):
            assert np.array_equal(as_array(ours, desc), reference(ds, plugin, i)), plugin


def test_difference_32768_with_a_short_code(lib):
    """SSSS 16 (difference 32768, no extra bits - H.1.2.2) as the most
    frequent category, so it gets a short code and is decoded from the
    lookup tables rather than the slow path."""
    libjpeg = pytest.importorskip("libjpeg", reason="pylibjpeg-libjpeg is not installed")
    img = np.zeros((6, 9), np.int64)
    img[:, 1::2] = 32768
    img[3, 2] = 5
    for psv in (1, 2, 7):
        data = encode(img, 16, psv=psv)
        desc = make_desc(6, 9, 1, 16, 16)
        st, ours, err = decode(lib, data, desc)
        assert st == RD_OK, err.msg.decode()
        assert np.array_equal(as_array(ours, desc), img)
        assert np.array_equal(libjpeg.decode(data), img)
        assert np.array_equal(reference(make_dataset([data], 6, 9), "gdcm"), img)


def test_segment_order_and_ids(lib):
    """DHT after SOF3, APPn/COM before, component ids other than 1..n."""
    rng = np.random.default_rng(4)
    img = rng.integers(0, 4096, (5, 6, 3))
    app = _segment(0xE1, b"Exif\0\0junk") + _segment(0xFE, b"a comment")
    data = encode(img, 12, psv=5, ids=[200, 0, 17], app=app, dht_first=False)
    desc = make_desc(5, 6, 3, 16, 12)
    st, ours, err = decode(lib, data, desc)
    assert st == RD_OK, err.msg.decode()
    assert np.array_equal(as_array(ours, desc), img)


# --------------------------------------------------------------------------
# Colour: what pydicom's pixel_array does with 3-sample frames
# --------------------------------------------------------------------------

JFIF = _segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")


@pytest.mark.parametrize("photometric,ids,app,keep", [
    ("RGB", None, b"", False),
    ("RGB", b"RGB", b"", False),
    ("RGB", None, JFIF, False),          # pydicom relabels YBR_FULL, converts to RGB
    ("RGB", None, JFIF, True),           # ... unless the caller keeps YBR
    ("RGB", b"RGB", JFIF, False),        # RGB ids do not stop it when PI is RGB
    ("RGB", b"rgb", JFIF, False),
    ("YBR_FULL", None, b"", False),      # the caller converts
    ("YBR_FULL", None, JFIF, False),
    ("YBR_FULL_422", None, b"", False),
    ("YBR_FULL", b"RGB", b"", False),    # pydicom relabels RGB and does NOT convert
])
def test_colour_matches_pydicom(lib, photometric, ids, app, keep):
    from pydicom.pixels.processing import convert_color_space

    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (6, 10, 3))
    data = encode(img, 8, psv=1, ids=list(ids) if ids else None, app=app)
    desc = make_desc(6, 10, 3, 8, 8, photometric=photometric)
    st, ours, _ = decode(lib, data, desc, options(RD_CODEC_KEEP_YBR if keep else 0))
    assert st == RD_OK
    got = as_array(ours, desc)
    ds = make_dataset([data], 6, 10, 3, 8, 8, photometric=photometric)
    relabel_ybr = app == JFIF and "YBR" not in photometric
    if keep or not relabel_ybr:
        # Samples as coded: what pydicom gives before its colour step.
        assert np.array_equal(got, img)
    for plugin in ("gdcm", "pylibjpeg"):
        ref = reference(ds, plugin)                  # default: as_rgb=True
        if keep:
            continue
        if photometric.startswith("YBR") and ids is None:
            # The caller's YBR_FULL -> RGB step (rd_ybr_full_to_rgb_u8).
            assert np.array_equal(convert_color_space(got, "YBR_FULL", "RGB"), ref)
        else:
            assert np.array_equal(got, ref), plugin


def test_planar_configuration_1_is_ignored(lib):
    """PS3.5 8.2.1: for JPEG the codestream fixes the component layout and
    Planar Configuration is irrelevant.  We return the decoded image
    interleaved.  pydicom (both plugins) instead reads the interleaved
    decoder output as if it were planar - scrambled pixels - so for such a
    file pydicom's array equals ours reshaped as (3, rows, columns) and
    moved to the last axis."""
    rng = np.random.default_rng(9)
    img = rng.integers(0, 256, (4, 5, 3))
    data = encode(img, 8)
    desc = make_desc(4, 5, 3, 8, 8, planar=1)
    st, ours, _ = decode(lib, data, desc)
    assert st == RD_OK and np.array_equal(as_array(ours, desc), img)
    ds = make_dataset([data], 4, 5, 3, 8, 8, planar=1)
    scrambled = np.frombuffer(ours, np.uint8).reshape(3, 4, 5).transpose(1, 2, 0)
    for plugin in ("gdcm", "pylibjpeg"):
        assert np.array_equal(reference(ds, plugin), scrambled), plugin


# --------------------------------------------------------------------------
# Where the references disagree, and which one T.81 supports
# --------------------------------------------------------------------------

def test_reference_disagreements(lib):
    """Cases where GDCM and pylibjpeg-libjpeg differ; ours follows T.81.

    1. Reconstruction modulo 2^16 (H.1.2.1).  A P = 8 stream whose writer
       took differences modulo 2^8 (as some ultrasound archives do): with
       Rx = (Px + diff) mod 2^16 and the result cut to the 8 stored bits,
       every pixel comes back (predictors 1-4 are linear, so the mod-2^8
       pattern survives).  GDCM does the same.  pylibjpeg-libjpeg clamps
       Px + diff to 0..255 and returns 255 for all of them.
    2. Point transform Pt > 0 (H.1.2.1, A.4): output Rx << Pt.  GDCM agrees;
       pylibjpeg-libjpeg returns 2^P - 1 everywhere.
    3. A restart interval that is not a whole number of lines: GDCM refuses
       it ("must be an integer multiple of the number of MCUs in an
       MCU_row"), pylibjpeg-libjpeg decodes clamped garbage; we refuse it
       with RD_ERR_UNSUPPORTED.
    """
    libjpeg = pytest.importorskip("libjpeg", reason="pylibjpeg-libjpeg is not installed")
    found = {}

    # 1. modulo 2^16
    img = np.array([[250, 5, 252, 3, 128, 0], [3, 250, 1, 255, 0, 255]])
    for psv in (1, 2, 3, 4):
        data = encode(img, 8, psv=psv, diff_modulo=8)
        desc = make_desc(2, 6, 1, 8, 8)
        st, ours, _ = decode(lib, data, desc)
        assert st == RD_OK and np.array_equal(as_array(ours, desc), img)
        gdcm = reference(make_dataset([data], 2, 6, 1, 8, 8), "gdcm")
        assert np.array_equal(gdcm, img), "GDCM reconstructs modulo 2^16 too"
        lj = libjpeg.decode(data)
        found[f"wrap SV{psv}"] = None if np.array_equal(lj, img) else lj.tolist()

    # 2. point transform
    rng = np.random.default_rng(11)
    img = (rng.integers(0, 4096, (4, 6)) >> 2) << 2
    data = encode(img, 12, psv=1, pt=2)
    desc = make_desc(4, 6, 1, 16, 12)
    st, ours, _ = decode(lib, data, desc)
    assert st == RD_OK and np.array_equal(as_array(ours, desc), img)
    assert np.array_equal(reference(make_dataset([data], 4, 6, 1, 16, 12), "gdcm"), img)
    lj = libjpeg.decode(data)
    found["Pt 2"] = None if np.array_equal(lj, img) else int(lj.max())

    # 3. restart interval of 5 pixels in lines of 6
    img = rng.integers(0, 4096, (4, 6))
    data = encode(img, 12, psv=1, restart=5)
    st, _, err = decode(lib, data, desc)
    assert st == RD_ERR_UNSUPPORTED and b"restart interval of 5" in err.msg
    with pytest.raises(RuntimeError):
        reference(make_dataset([data], 4, 6, 1, 16, 12), "gdcm")

    # Record what pylibjpeg-libjpeg did (shown with pytest -s / -rA).
    print("pylibjpeg-libjpeg departs from T.81:",
          {k: v for k, v in found.items() if v is not None})


# --------------------------------------------------------------------------
# Errors seen from Python (the C program has one stream per error path)
# --------------------------------------------------------------------------

def test_limits_and_mismatches(lib):
    img = np.zeros((4, 6), np.int64)
    data = encode(img, 12)
    st, _, err = decode(lib, data, make_desc(4, 6, 1, 16, 12), options(max_pixels=23))
    assert st == RD_ERR_LIMIT and b"24 pixels exceeds the limit of 23" in err.msg
    st, _, err = decode(lib, data, make_desc(4, 7, 1, 16, 12))
    assert st == RD_ERR_DECODE and b"6 x 4" in err.msg and b"7 x 4" in err.msg
    st, _, err = decode(lib, data, make_desc(4, 6, 1, 8, 8))
    assert st == RD_ERR_DECODE and b"precision 12" in err.msg
    huge = make_desc(65535, 65535, 1, 16, 16)
    err = Error()
    st = lib.rd_jpeg_lossless_decode_frame(data, len(data), ctypes.byref(huge), None,
                                           None, 0, ctypes.byref(err))
    assert st == RD_ERR_INVALID                     # NULL output, checked first
    out = np.empty(16, np.uint8)
    st = lib.rd_jpeg_lossless_decode_frame(data, len(data), ctypes.byref(huge), None,
                                           out.ctypes.data, 1 << 40, ctypes.byref(err))
    assert st == RD_ERR_LIMIT


# --------------------------------------------------------------------------
# Mutation: damaged frames never crash
# --------------------------------------------------------------------------

MUTATIONS_PER_FRAME = 150
MUTATIONS_LARGE_FRAME = 12


def _mutation_sources():
    """(name, frame, desc): the corpus frames and small synthetic streams
    covering what the corpus lacks (restarts, 3 components, several scans)."""
    for path in lossless_files():
        ds, frames = corpus_frames(path)
        for frame in frames[:2]:
            yield path.name, frame, frame_desc(ds)
    rng = np.random.default_rng(99)
    for name, kw, nf, p in [
        ("restart", dict(psv=4, restart=12), 1, 16),
        ("rgb-scans", dict(psv=7, interleaved=False, tables="per-component"), 3, 8),
        ("rgb-pt", dict(psv=6, pt=1), 3, 12),
        ("smooth16", dict(psv=1), 1, 16),
    ]:
        img = _image(rng, 10, 12, nf, p, smooth=name == "smooth16")
        img = (img >> kw.get("pt", 0)) << kw.get("pt", 0)
        yield name, encode(img, p, **kw), make_desc(10, 12, nf, 8 if p <= 8 else 16, p)


def _mutants(frame: bytes, rng: random.Random, count: int):
    n = len(frame)
    head = min(n, 700)                       # the marker segments live up front
    for _ in range(count):
        kind = rng.randrange(8)
        b = bytearray(frame)
        if kind == 0:
            pos = rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"bit flip at {pos}", bytes(b)
        elif kind == 1:
            pos = rng.randrange(head)
            b[pos] = rng.choice([0, 1, 2, 3, 4, 0x0F, 0x10, 0x11, 0x21, 0x7F, 0x80, 0xC0,
                                 0xC3, 0xC4, 0xD0, 0xD8, 0xD9, 0xDA, 0xDD, 0xFF,
                                 rng.randrange(256)])
            yield f"header byte {pos} = {b[pos]}", bytes(b)
        elif kind == 2:
            cut = rng.randrange(n)
            yield f"truncated to {cut}", bytes(b[:cut])
        elif kind == 3:                      # a marker dropped into the data
            pos = rng.randrange(n - 1)
            b[pos:pos + 2] = bytes([0xFF, rng.choice([0xD0, 0xD9, 0xDA, 0xC4, 0xFF, 0x00])])
            yield f"marker at {pos}", bytes(b)
        elif kind == 4:                      # SOF3 dimensions 65535 x 65535
            i = frame.find(b"\xFF\xC3")
            if i >= 0 and i + 9 <= n:
                b[i + 5:i + 9] = b"\xFF\xFF\xFF\xFF"
            yield "SOF3 65535 x 65535", bytes(b)
        elif kind == 5:
            pos = rng.randrange(n)
            del b[pos:pos + rng.randrange(1, 40)]
            yield f"deleted at {pos}", bytes(b)
        elif kind == 6:                      # segment length words
            pos = rng.randrange(head - 1) if head > 1 else 0
            b[pos:pos + 2] = rng.choice([0, 1, 2, 3, 0xFFFF, rng.randrange(65536)]).to_bytes(2, "big")
            yield f"length word at {pos}", bytes(b)
        else:                                # several random bytes
            for _ in range(rng.randrange(1, 10)):
                b[rng.randrange(n)] = rng.randrange(256)
            yield "random bytes", bytes(b)


def _repeat_problem(first, second, size: int) -> str | None:
    """The same call again, the frame filled with 0xFF instead of 0x00."""
    if second.status != first.status:
        return "status changed between two identical calls"
    if second.out[size:] != ks.CANARY:
        return "wrote past the frame"
    if first.status == RD_OK and first.out[:size] != second.out[:size]:
        return "RD_OK but some output bytes were never written"
    return None


def _mutation_main(libpath: str, memory_limit: bool) -> int:
    """Run in a subprocess; exit status 0 when every mutant was handled."""
    if memory_limit:
        ks.limit_address_space(3 << 29)     # 1.5 GiB
    lib = load(Path(libpath))
    guarded = ks.GuardedCalls()
    rng = random.Random(20240613)
    tally = ks.MutationTally()
    for name, frame, desc in _mutation_sources():
        size = lib.rd_frame_size(ctypes.byref(desc))
        count = MUTATIONS_LARGE_FRAME if size > 200_000 else MUTATIONS_PER_FRAME
        for what, data in _mutants(frame, rng, count):
            # Twice: every byte of a result is written.
            first, second = guarded(lib.rd_jpeg_lossless_decode_frame, data, desc, size,
                                    fills=(0x00, 0xFF))
            problem = ks.frame_problem(first, size) or _repeat_problem(first, second, size)
            tally.record(name, what, problem, first.status)
    return tally.finish()


@pytest.mark.parametrize("sanitize", [True, False], ids=["asan", "rlimit"])
def test_mutated_frames_never_crash(tmp_path, sanitize, libpath, asan_objects):
    if sanitize:
        if asan_objects is None:
            pytest.skip(ks.NO_SANITIZER)
        libasan = ks.libasan()
        if libasan is None:
            pytest.skip(ks.NO_LIBASAN)
        # No single allocation above 64 MiB: an absurd one aborts the run.
        env = ks.mutation_env(libasan, "detect_leaks=0:max_allocation_size_mb=64:"
                                       "allocator_may_return_null=0")
        lib_to_test = ks.build_library(tmp_path, asan_objects, name="libmut_asan.so",
                                       cflags=SANITIZE)
    else:
        env = ks.mutation_env()
        lib_to_test = libpath
    res = ks.run_mutation(__file__, "--mutate", lib_to_test,
                          "plain" if sanitize else "limited", env=env)
    ks.assert_exited_cleanly(res.returncode, res.stdout, res.stderr)


# --------------------------------------------------------------------------
# Benchmark (not a test): python tests/test_ljpeg_kernel.py --bench
# --------------------------------------------------------------------------

def _best(fn, seconds=1.0, at_least=3):
    times, start = [], time.perf_counter()
    while len(times) < at_least or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _bench_main() -> int:
    import pydicom
    import libjpeg

    try:
        import dicomsdl
    except ImportError:
        dicomsdl = None
    tmp = Path(tempfile.mkdtemp())
    lib = load(build_library(tmp, "libbench.so", ["-O3"]))
    cases = []
    for path in sorted(lossless_files(), key=lambda p: -p.stat().st_size)[:3]:
        ds, frames = corpus_frames(path)
        if frames:
            cases.append((path.name, path, ds, frames[0]))
    rng = np.random.default_rng(0)
    n = 2048
    yy, xx = np.mgrid[0:n, 0:n]
    base = 20000 + 15000 * np.sin(xx / 150.0) * np.cos(yy / 110.0)
    for label, noise, psv in (("synthetic 2048x2048 16-bit, CT-like noise, SV1", 40, 1),
                              ("synthetic 2048x2048 16-bit, CT-like noise, SV6", 40, 6),
                              ("synthetic 2048x2048 16-bit, heavy noise, SV1", 1500, 1)):
        img = np.clip(base + rng.normal(0, noise, (n, n)), 0, 65535).astype(np.int64)
        data = encode(img, 16, psv=psv)
        ds = make_dataset([data], n, n, 1, 16, 16, syntax=JPEG_LOSSLESS)
        path = tmp / f"syn{psv}_{noise}.dcm"
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
        ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4"
        ds.save_as(path, enforce_file_format=True)
        cases.append((label, path, pydicom.dcmread(path), data))
    print(f"{'file':52s} {'MB':>6s} {'ours':>8s} {'libjpeg':>8s} {'gdcm':>8s} {'dicomsdl':>8s}"
          "   (MB/s of decoded output, best of >= 3, one thread)")
    for label, path, ds, frame in cases:
        desc = frame_desc(ds)
        size = lib.rd_frame_size(ctypes.byref(desc))
        out = np.empty(size, np.uint8)
        err = Error()

        def ours():
            st = lib.rd_jpeg_lossless_decode_frame(frame, len(frame), ctypes.byref(desc),
                                                   None, out.ctypes.data, size,
                                                   ctypes.byref(err))
            assert st == RD_OK, err.msg

        ours()
        mine = as_array(out.tobytes(), desc)
        assert np.array_equal(mine.reshape(-1), libjpeg.decode(frame).reshape(-1).astype(mine.dtype))
        row = [_best(ours)]
        row.append(_best(lambda: libjpeg.decode(frame)))
        ref = reference(ds, "gdcm", as_rgb=False)
        assert np.array_equal(ref, mine)
        row.append(_best(lambda: reference(ds, "gdcm", as_rgb=False)))
        if dicomsdl is not None:
            dset = dicomsdl.open(str(path))
            got = dset.pixelData(storedvalue=True)
            assert np.array_equal(got.reshape(mine.shape), mine)
            row.append(_best(lambda: dset.pixelData(storedvalue=True)))
        mb = size / 1e6
        print(f"{label:52s} {mb:6.2f} " + " ".join(f"{mb / t:8.1f}" for t in row))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    if len(sys.argv) == 4 and sys.argv[1] == "--mutate":
        sys.exit(_mutation_main(sys.argv[2], sys.argv[3] == "limited"))
    if len(sys.argv) == 2 and sys.argv[1] == "--bench":
        sys.exit(_bench_main())
    sys.exit("usage: test_ljpeg_kernel.py --mutate LIBRARY plain|limited | --bench")
