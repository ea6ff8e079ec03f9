"""The 12-bit JPEG extended kernel (src/core/jpeg12.c), tested on its own
through ctypes.

jpeg12.c and frame.c are compiled here into a shared library with
``cc -O2 -shared -fPIC -Isrc/core`` (no external library), and:

* tests/c/test_jpeg12.c (hand-built codestreams, one per error path, and a
  DC-only block with a known value) runs as a program, plainly and under
  ASan/UBSan where the compiler has them;
* every frame of every 12-bit JPEG extended file in the corpus (transfer
  syntax .51 with Bits Allocated 16: JPGExtended.dcm and JPEG-lossy.dcm)
  decodes bit-exactly like GDCM (python-gdcm's ImageReader, IJG 6b built
  for 12 bits, "islow" IDCT) and within the references' own spread (1) of
  pydicom's pixel_array, which comes from pylibjpeg-libjpeg (Thomas
  Richter's libjpeg, another integer IDCT) because pydicom's gdcm plugin
  refuses 12-bit JPEG extended;
* a small test-only 12-bit baseline ENCODER written here (float FDCT,
  quantisation, Huffman tables built from the symbol statistics, byte
  stuffing, restart markers, 8/16-bit DQT, interleaved or one scan per
  component) makes round trips the corpus lacks (1x1, odd sizes, restarts,
  several scans, 3 components, signed data, Bits Stored 10/16); each is
  checked against GDCM (exact, one component) and pylibjpeg-libjpeg
  (within 1) and, through a pydicom Dataset, against pydicom's pixel_array
  (Pixel Representation / Bits Stored handling);
* mutated frames never crash, never write past the frame, and give only
  RD_OK / RD_ERR_DECODE / RD_ERR_INVALID / RD_ERR_LIMIT / RD_ERR_UNSUPPORTED
  (subprocess, under ASan when available).
"""
from __future__ import annotations

import ctypes
import heapq
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kernel_support as ks
from kernel_support import (CC, CORE, PHOTOMETRIC, RD_ERR_DECODE, RD_ERR_LIMIT,
                            RD_ERR_UNSUPPORTED, RD_OK, CodecOptions, Error, FrameDesc,
                            corpus_frames, frame_desc, options)

SOURCES = [CORE / "jpeg12.c", CORE / "frame.c"]
C_TEST = ks.C_TESTS / "test_jpeg12.c"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"

pytestmark = ks.requires()


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def build_library(tmp_dir: Path, name: str, extra: list[str] = ()) -> Path:
    return ks.build_library(tmp_dir, SOURCES, extra_flags=extra, name=name)


def load(path: Path) -> ctypes.CDLL:
    return ks.load_library(path, "rd_jpeg12_decode_frame")


@pytest.fixture(scope="module")
def libpath(tmp_path_factory) -> Path:
    return build_library(tmp_path_factory.mktemp("rdjpeg12"), "librdjpeg12.so")


@pytest.fixture(scope="module")
def lib(libpath) -> ctypes.CDLL:
    return load(libpath)


def make_desc(rows, cols, spp=1, bits_stored=12, pr=0, pi="MONOCHROME2") -> FrameDesc:
    return FrameDesc(rows=rows, columns=cols, samples_per_pixel=spp, bits_allocated=16,
                     bits_stored=bits_stored, pixel_representation=pr,
                     planar_configuration=0, photometric=PHOTOMETRIC[pi])


def decode(lib, src: bytes, desc: FrameDesc, opts: CodecOptions | None = None):
    """(status, array (rows, cols[, spp]) or None, rd_error)."""
    st, out, err = ks.run_decoder(lib, lib.rd_jpeg12_decode_frame, src, desc, opts)
    return st, (ks.frame_array(out, desc) if st == RD_OK else None), err


# --------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------

def gdcm_decode(path: Path) -> np.ndarray | None:
    """GDCM's own decode of a file (pydicom's gdcm plugin refuses 12-bit
    JPEG extended, so python-gdcm's ImageReader is called directly)."""
    try:
        import gdcm
    except ImportError:
        return None
    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        return None
    img = reader.GetImage()
    buf = img.GetBuffer()
    if buf is None:
        return None
    raw = buf.encode("utf-8", "surrogateescape") if isinstance(buf, str) else bytes(buf)
    return np.frombuffer(raw, "<u2").copy()


def pydicom_array(ds, plugin=None):
    """pydicom's ds.pixel_array itself, warnings silenced (ks.pydicom_array
    goes through get_decoder().as_array instead)."""
    import pydicom  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if plugin:
            ds.pixel_array_options(decoding_plugin=plugin)
        return ds.pixel_array


def _bits_allocated(path: Path):
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, stop_before_pixels=True).get("BitsAllocated")


def jpeg12_files() -> list[Path]:
    """The corpus files of JPEG extended with Bits Allocated 16."""
    return [path for path in ks.corpus_files(JPEG_EXTENDED) if _bits_allocated(path) == 16]


JPEG12_FILES = jpeg12_files() if CC else []

# --------------------------------------------------------------------------
# A test-only 12-bit baseline (SOF1) encoder
# --------------------------------------------------------------------------

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
          12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
          35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
          58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]

_M = np.array([[np.sqrt((1 if u == 0 else 2) / 8) * np.cos((2 * x + 1) * u * np.pi / 16)
                for x in range(8)] for u in range(8)])


def _category(v: int) -> int:
    return abs(int(v)).bit_length()


def _huffman_table(freq: dict[int, int]) -> tuple[list[int], list[int]]:
    """(counts[1..16], symbols) of a length-limited code for `freq` (T.81
    K.2: a reserved pseudo-symbol keeps the all-ones code unused)."""
    syms = sorted(freq)
    items = [(freq[s], i, [s]) for i, s in enumerate(syms)] + [(0, len(syms), [-1])]
    lengths = {s: 0 for s in syms + [-1]}
    if len(items) == 1:
        lengths[items[0][2][0]] = 1
    heapq.heapify(items)
    uid = len(items)
    while len(items) > 1:
        f1, _, a = heapq.heappop(items)
        f2, _, b = heapq.heappop(items)
        for s in a + b:
            lengths[s] += 1
        uid += 1
        heapq.heappush(items, (f1 + f2, uid, a + b))
    if max(lengths.values()) > 16:                 # flat fallback: 8-bit codes
        lengths = {s: 8 for s in syms}
        lengths[-1] = 8
    # canonical order: by length, the pseudo-symbol last among the longest
    order = sorted(lengths, key=lambda s: (lengths[s], s == -1, s))
    counts = [0] * 17
    for s in order:
        counts[lengths[s]] += 1
    counts[lengths[-1]] -= 1
    return counts[1:], [s for s in order if s != -1]


def _codes(counts, symbols) -> dict[int, tuple[int, int]]:
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, n: int):
        self.acc = (self.acc << n) | (value & ((1 << n) - 1))
        self.n += n
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def _seg(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def encode12(img: np.ndarray, q: np.ndarray | list, *, restart: int = 0,
             interleaved: bool = True, dqt16: bool = False,
             ids: tuple[int, ...] = (1, 2, 3, 4), se: int = 63,
             coefficients: np.ndarray | None = None) -> bytes:
    """A 12-bit SOF1 codestream of `img` (rows, cols[, comps], 0..4095);
    `q` is one 8x8 table (natural order) or one per component.  With
    `coefficients` ([comp][block row][block column][64], zig-zag order)
    those quantised values are coded instead, `img` giving only the size."""
    img = np.asarray(img, np.int64)
    if img.ndim == 2:
        img = img[:, :, None]
    rows, cols, nc = img.shape
    tables = [np.asarray(t, np.int64) for t in (q if isinstance(q, list) else [q] * nc)]
    bw, bh = (cols + 7) // 8, (rows + 7) // 8
    padded = np.pad(img, ((0, bh * 8 - rows), (0, bw * 8 - cols), (0, 0)), mode="edge")
    # quantised coefficients, zig-zag order: [comp][by][bx][64]
    coefs = np.zeros((nc, bh, bw, 64), np.int64)
    for c in range(nc):
        blocks = padded[:, :, c].reshape(bh, 8, bw, 8).transpose(0, 2, 1, 3) - 2048
        f = np.einsum("ux,abxy,vy->abuv", _M, blocks.astype(float), _M)
        qz = np.round(f / tables[c].reshape(8, 8)).astype(np.int64).reshape(bh, bw, 64)
        coefs[c] = qz[:, :, ZIGZAG]
    if coefficients is not None:
        coefs = np.asarray(coefficients, np.int64).reshape(coefs.shape)
    scans = [list(range(nc))] if interleaved else [[c] for c in range(nc)]

    def symbols(scan, emit):
        """Walk the scan's blocks: emit(kind, comp, symbol, extra, nbits)."""
        n = 0
        preds = {c: 0 for c in scan}
        for by in range(bh):
            for bx in range(bw):
                if restart and n and n % restart == 0:
                    emit("rst", None, (n // restart - 1) % 8, 0, 0)
                    preds = {c: 0 for c in scan}
                n += 1
                for c in scan:
                    z = coefs[c, by, bx]
                    diff = int(z[0]) - preds[c]
                    preds[c] = int(z[0])
                    s = _category(diff)
                    emit("dc", c, s, diff if diff >= 0 else diff + (1 << s) - 1, s)
                    run = 0
                    last = max((k for k in range(1, 64) if z[k]), default=0)
                    for k in range(1, last + 1):
                        v = int(z[k])
                        if v == 0:
                            run += 1
                            continue
                        while run > 15:
                            emit("ac", c, 0xF0, 0, 0)
                            run -= 16
                        s = _category(v)
                        emit("ac", c, (run << 4) | s, v if v > 0 else v + (1 << s) - 1, s)
                        run = 0
                    if last < 63:
                        emit("ac", c, 0x00, 0, 0)

    out = bytearray(b"\xFF\xD8")
    tq = list(range(nc)) if isinstance(q, list) else [0] * nc
    for t in sorted(set(tq)):
        vals = tables[t].reshape(64)[ZIGZAG]
        body = bytes([(0x10 if dqt16 else 0) | t]) + (
            b"".join(int(v).to_bytes(2, "big") for v in vals) if dqt16
            else bytes(int(v) for v in vals))
        out += _seg(0xDB, body)
    sof = bytes([12]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big") + bytes([nc])
    for c in range(nc):
        sof += bytes([ids[c], 0x11, tq[c]])
    out += _seg(0xC1, sof)
    if restart:
        out += _seg(0xDD, restart.to_bytes(2, "big"))
    for scan in scans:
        # per-scan tables: component c uses DC/AC table (c % 2)
        freq = {("dc", t): {} for t in (0, 1)} | {("ac", t): {} for t in (0, 1)}

        def count(kind, c, sym, extra, nbits):
            if kind != "rst":
                d = freq[(kind, c % 2)]
                d[sym] = d.get(sym, 0) + 1
        symbols(scan, count)
        codes = {}
        dht = b""
        for (kind, t), f in freq.items():
            if not f:
                continue
            counts, syms = _huffman_table(f)
            codes[(kind, t)] = _codes(counts, syms)
            dht += bytes([(0x10 if kind == "ac" else 0) | t]) + bytes(counts) + bytes(syms)
        out += _seg(0xC4, dht)
        sos = bytes([len(scan)]) + b"".join(bytes([ids[c], ((c % 2) << 4) | (c % 2)])
                                            for c in scan) + bytes([0, se, 0])
        out += _seg(0xDA, sos)
        w = _BitWriter()

        def write(kind, c, sym, extra, nbits):
            if kind == "rst":
                w.flush()
                w.out += bytes([0xFF, 0xD0 + sym])
                return
            code, length = codes[(kind, c % 2)][sym]
            w.put(code, length)
            if nbits:
                w.put(extra, nbits)
        symbols(scan, write)
        w.flush()
        out += w.out
    out += b"\xFF\xD9"
    return bytes(out)


def quant(scale: float) -> np.ndarray:
    """An 8x8 table growing with frequency; entries >= 2 keep the DC
    differences within category 15."""
    u = np.add.outer(np.arange(8), np.arange(8))
    return np.clip(np.round(scale * (2 + 1.5 * u)), 2, 65535).astype(np.int64)


def make_image(rows, cols, comps=1, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    base = 2048 + 1500 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img = base[..., None] + rng.normal(0, 120, (rows, cols, comps)) \
        + np.arange(comps) * 300
    img = np.clip(np.round(img), 0, 4095).astype(np.int64)
    return img[..., 0] if comps == 1 else img


def as_dataset(stream: bytes, rows, cols, spp=1, bits_stored=12, pr=0,
               pi="MONOCHROME2"):
    """One frame as a pydicom dataset, with the UIDs save_as wants."""
    from pydicom.uid import generate_uid

    ds = ks.encapsulated_dataset(
        [stream], rows=rows, columns=cols, samples_per_pixel=spp, bits_allocated=16,
        bits_stored=bits_stored, pixel_representation=pr, photometric=pi,
        syntax=JPEG_EXTENDED)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.ImplementationClassUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    return ds


# --------------------------------------------------------------------------
# The C test program
# --------------------------------------------------------------------------

def _run_c_test(tmp_path: Path, extra: list[str]) -> subprocess.CompletedProcess:
    exe = ks.build_program(tmp_path, [*SOURCES, C_TEST], extra_flags=extra,
                           name="test_jpeg12")
    return ks.run_c_program(exe, leaks=True)


def test_c_program(tmp_path):
    res = _run_c_test(tmp_path, [])
    assert res.returncode == 0, res.stdout + res.stderr


def test_c_program_sanitized(tmp_path):
    res = _run_c_test(tmp_path, ks.require_sanitizer(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr


# --------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------

def test_corpus_has_jpeg12_files():
    # pydicom's test_files: JPGExtended.dcm and JPEG-lossy.dcm (same image;
    # JPEG-lossy.dcm's SOS says Se = 0).
    names = sorted(p.name for p in JPEG12_FILES)
    assert {"JPGExtended.dcm", "JPEG-lossy.dcm"} <= set(names), names


@pytest.mark.parametrize("path", JPEG12_FILES, ids=[ks.file_id(p) for p in JPEG12_FILES])
def test_corpus_matches_gdcm_exactly(lib, path):
    ds, frames = corpus_frames(path)
    want = gdcm_decode(path)
    if want is None:
        pytest.skip("python-gdcm is not installed or cannot read the file")
    want = want.reshape(len(frames), -1)
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, frame_desc(ds))
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        assert np.array_equal(ours.reshape(-1).astype(np.uint16), want[i]), \
            f"frame {i}: max diff {np.abs(ours.reshape(-1) - want[i].astype(int)).max()}"


@pytest.mark.parametrize("path", JPEG12_FILES, ids=[ks.file_id(p) for p in JPEG12_FILES])
def test_corpus_against_pydicom(lib, path):
    """pydicom's pixel_array (plugin pylibjpeg: its gdcm plugin refuses
    12-bit JPEG extended) differs from GDCM by at most 1 (another integer
    IDCT); ours must be within that spread.  JPEG-lossy.dcm (SOS Se = 0,
    invalid for sequential DCT) is refused by pydicom; GDCM and we decode
    it like JPGExtended.dcm, as IJG libjpeg does (warning only)."""
    import pydicom

    ds, frames = corpus_frames(path)
    try:
        ref = pydicom_array(pydicom.dcmread(path))
    except Exception as exc:
        assert path.name == "JPEG-lossy.dcm", f"pydicom failed on {path.name}: {exc}"
        st, ours, err = decode(lib, frames[0], frame_desc(ds))
        assert st == RD_OK, err.msg.decode()
        twin = pydicom_array(pydicom.dcmread(path.with_name("JPGExtended.dcm")))
        assert np.abs(ours.astype(int) - twin.astype(int)).max() <= 1
        return
    ref = ref.reshape(len(frames), ds.Rows, ds.Columns, -1)
    gd = gdcm_decode(path)
    spread = 1 if gd is None else int(np.abs(gd.astype(int) - ref.reshape(-1)).max())
    assert spread <= 1
    for i, frame in enumerate(frames):
        st, ours, err = decode(lib, frame, frame_desc(ds))
        assert st == RD_OK, f"frame {i}: {err.msg.decode()}"
        diff = np.abs(ours.astype(int).reshape(ref[i].shape) - ref[i].astype(int))
        assert diff.max() <= spread, f"frame {i}: max diff {diff.max()} > spread {spread}"


# --------------------------------------------------------------------------
# Synthetic round trips
# --------------------------------------------------------------------------

CASES = [
    # id, rows, cols, comps, q scale, options
    ("1x1", 1, 1, 1, 1.0, {}),
    ("7x13_odd", 7, 13, 1, 0.5, {}),
    ("8x8", 8, 8, 1, 1.0, {}),
    ("33x17_restart3", 33, 17, 1, 1.0, {"restart": 3}),
    ("40x41_restart1_dqt16", 40, 41, 1, 40.0, {"restart": 1, "dqt16": True}),
    ("64x64_fine", 64, 64, 1, 0.0, {}),
    ("65x31_coarse_dqt16", 65, 31, 1, 300.0, {"dqt16": True}),
    ("3comp_interleaved", 19, 23, 3, 1.0, {}),
    ("3comp_scans_restart2", 19, 23, 3, 1.0, {"interleaved": False, "restart": 2}),
]


def _roundtrip_stream(case):
    _, rows, cols, comps, scale, opts = case
    img = make_image(rows, cols, comps, seed=rows * 100 + cols)
    q = [quant(scale * (c + 1)) for c in range(comps)] if comps > 1 else quant(scale)
    return img, encode12(img, q, **opts)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_roundtrip_against_references(lib, case, tmp_path):
    libjpeg = pytest.importorskip("libjpeg", reason="pylibjpeg-libjpeg is not installed")
    _, rows, cols, comps, _, _ = case
    img, stream = _roundtrip_stream(case)
    st, ours, err = decode(lib, stream, make_desc(rows, cols, comps,
                                                  pi="MONOCHROME2" if comps == 1 else "RGB"))
    assert st == RD_OK, err.msg.decode()
    # the encoder is sane: pylibjpeg-libjpeg decodes the stream too, within 1
    ref = np.asarray(libjpeg.decode(stream)).reshape(ours.shape)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1
    # and the decode resembles the image (quantisation error only)
    assert np.abs(ours.astype(int) - img).mean() < 40 + 10 * case[4]
    if comps == 1:
        ds = as_dataset(stream, rows, cols)
        path = tmp_path / "rt.dcm"
        ds.save_as(path, enforce_file_format=True)
        gd = gdcm_decode(path)
        if gd is not None:
            assert np.array_equal(ours.reshape(-1), gd), "differs from GDCM"


@pytest.mark.parametrize("bits_stored,pr", [(12, 1), (10, 0), (10, 1), (16, 0), (16, 1)])
def test_sign_and_bits_stored_like_pydicom(lib, bits_stored, pr):
    """Pixel Representation / Bits Stored reconciliation equals pydicom's
    pixel_array (plugin pylibjpeg) up to the IDCT spread of 1, and equals
    exactly the same reconciliation applied to our own unsigned decode."""
    img = make_image(24, 20, seed=5)
    stream = encode12(img, quant(0.5))
    st, raw, err = decode(lib, stream, make_desc(24, 20))
    assert st == RD_OK, err.msg.decode()
    st, ours, err = decode(lib, stream, make_desc(24, 20, bits_stored=bits_stored, pr=pr))
    assert st == RD_OK, err.msg.decode()
    ref = pydicom_array(as_dataset(stream, 24, 20, bits_stored=bits_stored, pr=pr))
    assert ref.dtype == ours.dtype
    # exact reconciliation of our own raw values, done pydicom's way
    shift = 16 - bits_stored
    want = (raw.astype(ours.dtype) << shift) >> shift
    assert np.array_equal(ours, want)
    near = np.abs(ours.astype(int) - ref.astype(int))
    # a difference of 1 can wrap at the Bits Stored boundary
    assert np.all((near <= 1) | (near == (1 << bits_stored) - 1))


def test_se0_accepted_like_gdcm(lib):
    img = make_image(16, 16, seed=3)
    a = decode(lib, encode12(img, quant(1.0)), make_desc(16, 16))
    b = decode(lib, encode12(img, quant(1.0), se=0), make_desc(16, 16))
    assert a[0] == b[0] == RD_OK and np.array_equal(a[1], b[1])


def test_limits_and_mismatches(lib):
    stream = encode12(make_image(16, 16), quant(1.0))
    # dataset claims 65535 x 65535: refused before anything is allocated
    desc = make_desc(65535, 65535)
    err = Error()
    out = np.zeros(8, np.uint16)
    st = lib.rd_jpeg12_decode_frame(stream, len(stream), ctypes.byref(desc), None,
                                    out.ctypes.data, 1 << 40, ctypes.byref(err))
    assert st == RD_ERR_LIMIT, err.msg
    opts = options(max_pixels=100)
    assert decode(lib, stream, make_desc(16, 16), opts)[0] == RD_ERR_LIMIT
    # codestream header claiming 65535 x 65535 against a 16 x 16 dataset
    big = bytearray(stream)
    sof = big.index(b"\xFF\xC1")
    big[sof + 5:sof + 9] = b"\xFF\xFF\xFF\xFF"
    st, _, err = decode(lib, bytes(big), make_desc(16, 16))
    assert st == RD_ERR_DECODE and b"65535" in err.msg and b"16" in err.msg
    # other processes / precisions
    for marker, code in ((0xC2, RD_ERR_UNSUPPORTED), (0xC3, RD_ERR_UNSUPPORTED),
                         (0xC9, RD_ERR_UNSUPPORTED)):
        b = bytearray(stream)
        b[sof + 1] = marker
        assert decode(lib, bytes(b), make_desc(16, 16))[0] == code
    b = bytearray(stream)
    b[sof + 4] = 8
    assert decode(lib, bytes(b), make_desc(16, 16))[0] == RD_ERR_UNSUPPORTED
    assert decode(lib, stream, make_desc(16, 16, spp=3, pi="RGB"))[0] == RD_ERR_DECODE


# --------------------------------------------------------------------------
# Mutation: damaged frames never crash
# --------------------------------------------------------------------------

MUTATIONS_PER_FRAME = 150


# --------------------------------------------------------------------------
# The AVX2 IDCT equals the scalar one on every input
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scalar_lib(tmp_path_factory) -> ctypes.CDLL:
    """jpeg12.c built with -DRD_NO_SIMD: the scalar IDCT only."""
    return load(build_library(tmp_path_factory.mktemp("rdjpeg12s"), "librdjpeg12s.so",
                              ["-DRD_NO_SIMD"]))


def _with_quantiser(stream: bytes, table: np.ndarray) -> bytes:
    """`stream` (one 16-bit DQT) with its table replaced: the entropy-coded
    data stays valid, so the decoder dequantises the same coefficients by
    other, possibly absurd, values."""
    at = stream.index(b"\xff\xdb")
    assert stream[at + 4] >> 4 == 1, "expected a 16-bit table"
    body = b"".join(int(v).to_bytes(2, "big") for v in table.reshape(64)[ZIGZAG])
    return stream[:at + 5] + body + stream[at + 5 + 128:]


def test_simd_idct_equals_scalar(lib, scalar_lib):
    """Both builds decode the corpus frames, the round trips and streams
    whose quantisers drive the IDCT far outside 0..4095 - where the vector
    path must hand over to the scalar one (the 32-bit workspace wraps,
    range limiting wraps modulo 16384) - to the same bytes."""
    streams = []
    for path in jpeg12_files():
        ds, frames = corpus_frames(path)
        streams += [(frame, frame_desc(ds)) for frame in frames]
    for case in CASES:
        _, rows, cols, comps, _, _ = case
        _, stream = _roundtrip_stream(case)
        streams.append((stream, make_desc(rows, cols, comps,
                                          pi="MONOCHROME2" if comps == 1 else "RGB")))
    rng = np.random.default_rng(12)
    # Coefficients IJG's 32-bit workspace cannot hold once dequantised: DC
    # up to 32767 (the prediction's 16-bit range), AC up to 16383.
    # (Neighbouring DC values stay within 32767 of each other: category 15.)
    for dc_values in ([16000, 32767], [-32767, -16000]):
        extreme = rng.integers(-16383, 16384, (1, 6, 5, 64))
        extreme[..., 0] = rng.choice(dc_values, (1, 6, 5))
        coded = encode12(np.zeros((48, 40), np.int64), quant(1.0), dqt16=True,
                         coefficients=extreme)
        for table in (np.full(64, 65535), rng.integers(20000, 65536, 64)):
            streams.append((_with_quantiser(coded, table), make_desc(48, 40)))
    img = make_image(48, 40, seed=3)
    base = encode12(img, quant(1.0), dqt16=True)
    for high in (300, 4000, 40000, 65535):
        for _ in range(4):
            table = rng.integers(1, high + 1, 64)
            streams.append((_with_quantiser(base, table), make_desc(48, 40)))
    for pr in (0, 1):
        streams.append((_with_quantiser(base, np.full(64, 65535)),
                        make_desc(48, 40, bits_stored=12, pr=pr)))
    decoded = 0
    for stream, desc in streams:
        st_v, vec, err_v = decode(lib, stream, desc)
        st_s, sca, err_s = decode(scalar_lib, stream, desc)
        assert (st_v, err_v.msg) == (st_s, err_s.msg)
        if st_v == RD_OK:
            decoded += 1
            assert np.array_equal(vec, sca)
    assert decoded == len(streams)


def _mutants(frame: bytes, rng: random.Random):
    n = len(frame)
    head = min(n, 200)
    for _ in range(MUTATIONS_PER_FRAME):
        kind = rng.randrange(6)
        b = bytearray(frame)
        if kind == 0:
            pos = rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
            yield f"bit flip at {pos}", bytes(b)
        elif kind == 1:      # a random byte, biased to the marker segments
            pos = rng.randrange(head) if rng.random() < 0.6 else rng.randrange(n)
            b[pos] = rng.randrange(256)
            yield f"byte {pos} = {b[pos]}", bytes(b)
        elif kind == 2:
            cut = rng.randrange(n)
            yield f"truncated to {cut}", bytes(b[:cut])
        elif kind == 3:      # a 16-bit field in the headers set to an extreme
            pos = rng.randrange(head - 1)
            v = rng.choice([0, 1, 0xFFFF, 0x7FFF, 0x0100])
            b[pos:pos + 2] = v.to_bytes(2, "big")
            yield f"u16 at {pos} = {v}", bytes(b)
        elif kind == 4:
            pos = rng.randrange(n)
            del b[pos:pos + rng.randrange(1, 16)]
            yield f"deleted at {pos}", bytes(b)
        else:                # random bytes spliced into the entropy data
            pos = rng.randrange(head, n) if n > head else rng.randrange(n)
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
            yield f"inserted at {pos}", bytes(b)


def _mutation_main(libpath: str) -> int:
    lib = load(Path(libpath))
    guarded = ks.GuardedCalls()
    rng = random.Random(20240612)
    inputs = []
    for path in jpeg12_files():
        ds, frames = corpus_frames(path)
        inputs += [(path.name, f, frame_desc(ds)) for f in frames]
    for case in CASES:
        _, rows, cols, comps, _, _ = case
        inputs.append((case[0], _roundtrip_stream(case)[1],
                       make_desc(rows, cols, comps, pi="MONOCHROME2" if comps == 1 else "RGB")))
    tally = ks.MutationTally()
    for name, frame, desc in inputs:
        size = lib.rd_frame_size(ctypes.byref(desc))
        for what, data in _mutants(frame, rng):
            call, = guarded(lib.rd_jpeg12_decode_frame, data, desc, size)
            tally.record(name, what, ks.frame_problem(call, size), call.status)
    return tally.finish()


def test_mutated_frames_never_crash(tmp_path):
    flags, libasan = ks.python_asan(tmp_path)
    libpath = build_library(tmp_path, "libmut.so", flags or [])
    res = ks.run_mutation(__file__, "--mutate", libpath, env=ks.mutation_env(libasan))
    ks.assert_exited_cleanly(res.returncode, res.stdout, res.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--mutate":
        sys.exit(_mutation_main(sys.argv[2]))
    sys.exit("usage: test_jpeg12_kernel.py --mutate LIBRARY")
