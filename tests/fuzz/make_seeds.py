"""Build the seed corpora of the libFuzzer targets from the real test corpus.

Every file of ``tests/corpus.py``'s ``dicom_files()`` is read with rapidicom
itself, and what each target consumes is cut out of it:

* ``scan`` and ``python``: whole files (the first 64 KiB of files over
  256 KiB, so that runs stay fast; truncated files exercise the lenient
  scan);
* ``frame_table``: the value of each encapsulated Pixel Data, after the
  Number of Frames and the Extended Offset Table (fuzz_frame_table.c);
* ``rle``, ``jpeg``, ``jpeg12``, ``ljpeg``, ``jls``, ``j2k``: the first
  frames of each file of the codec's transfer syntaxes, after the 8-byte
  frame description of fuzz_common.h;
* ``native``: native Pixel Data values (up to two frames) after the frame
  description and the layout flags pixels.py would use;
* ``deflate``: frames of Deflated Image Frame Compression files, and native
  frames compressed here with raw deflate;
* ``lut``: segmented palettes, LUT Descriptors with their data, windows and
  rescale values of the corpus, in fuzz_lut.c's layouts.

The corpus's frames are mostly large (512 x 512 and up), which makes each
run slow, and some codecs have only a handful of them; so every codec target
also gets small frames (16 x 16 to 24 x 17) made here by the encoders the
kernel tests use: the JPEG lossless and 12-bit JPEG encoders of
test_ljpeg_kernel.py / test_jpeg12_kernel.py (every predictor, restart
intervals, 1 and 3 components), Pillow (JPEG), pyjpegls (JPEG-LS),
pylibjpeg-openjpeg (JPEG 2000) and pydicom (RLE).  A missing encoder only
means fewer seeds.

Seeds are named by their SHA-1, so rerunning only adds what is new.

Usage::

    python tests/fuzz/make_seeds.py [OUT]          # default build/fuzz/seeds
"""
from __future__ import annotations

import argparse
import hashlib
import io
import struct
import sys
import warnings
import zlib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import rapidicom  # noqa: E402
from corpus import dicom_files  # noqa: E402
from rapidicom import pixels as rpx  # noqa: E402

ROOT = HERE.parent.parent
DEFAULT_OUT = ROOT / "build" / "fuzz" / "seeds"

WHOLE_FILE_MAX = 256 << 10      # larger files are cut to their first HEAD_BYTES
HEAD_BYTES = 64 << 10
FRAME_MAX = 256 << 10           # largest compressed frame / native value kept
DECODED_MAX = 1 << 20           # largest decoded corpus frame kept (fuzz_common.h
                                # allows 4 MiB; larger ones slow every run down)
FRAMES_PER_FILE = 2

# fuzz_common.h: FUZZ_BITS_ALLOCATED, indexed by bits 2-4 of byte 4.
BITS_ALLOCATED = (8, 16, 1, 32, 64, 12, 0, 24)

LUT_OPS = {"segmented": 0, "apply": 1, "window": 2, "rescale": 3}
DTYPE_CODES = {"u1": 0, "i1": 1, "u2": 2, "i2": 3, "u4": 4, "i4": 5, "u8": 6, "i8": 7,
               "f4": 8, "f8": 9}


class Seeds:
    """Writes seeds into OUT/<target>/<sha1>, counting them per target."""

    def __init__(self, out: Path):
        self.out = out
        self.count: Counter[str] = Counter()

    def add(self, target: str, data: bytes) -> None:
        folder = self.out / target
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / hashlib.sha1(data).hexdigest()
        if not path.exists():
            path.write_bytes(data)
            self.count[target] += 1


def desc_header(desc: tuple, *, flag: int = 0, extra: int = 0) -> bytes | None:
    """fuzz_common.h's 8-byte frame description, or None where the frame
    cannot be described there (more than 4 samples, rows over 65535...)."""
    rows, cols, spp, ba, bs, pr, pc, pi = desc
    if not (0 <= rows <= 0xFFFF and 0 <= cols <= 0xFFFF and 1 <= spp <= 4
            and ba in BITS_ALLOCATED):
        return None
    b4 = (spp - 1) | BITS_ALLOCATED.index(ba) << 2 | (pr & 1) << 5 | (pc & 1) << 6 | flag << 7
    return struct.pack("<HHBBBB", rows, cols, b4, bs & 0xFF, pi % 10, (extra << 1) & 0xFF)


def decoded_size(desc: tuple) -> int:
    rows, cols, spp, ba = desc[:4]
    return rows * cols * spp * max(1, ba // 8)


def codec_target(px) -> str | None:
    """The fuzz target of an encapsulated Pixels' transfer syntax."""
    ts = px.transfer_syntax
    if ts == rpx.RLE_LOSSLESS:
        return "rle"
    if ts == rpx.DEFLATED_FRAMES:
        return "deflate"
    codec = rpx.CODECS.get(ts)
    names = {rpx._pixels.CODEC_JPEG: "jpeg", rpx._pixels.CODEC_JPEG_LOSSLESS: "ljpeg",
             rpx._pixels.CODEC_JPEG_LS: "jls", rpx._pixels.CODEC_J2K: "j2k"}
    if codec == rpx._pixels.CODEC_JPEG and px.bits_allocated > 8:
        return "jpeg12"
    return names.get(codec)


# ---------------------------------------------------------------------------
# Pixel data
# ---------------------------------------------------------------------------

def encapsulated_seeds(seeds: Seeds, ds, px) -> None:
    """Frames for the codec targets and the value for frame_table."""
    fragments = px._element.fragments
    buffer = ds.buffer
    if fragments:
        start = fragments[0][0] - 8
        end = fragments[-1][0] + fragments[-1][1]
        if end - start <= FRAME_MAX:
            eot = ds.get(0x7FE00001) if 0x7FE00002 in ds else None
            nframes = min(px.number_of_frames, 255)
            head = bytes([nframes, 1 if eot is not None and len(eot) == 8 * nframes else 0])
            table = bytes(eot) if head[1] else b""
            seeds.add("frame_table", head + table + bytes(buffer[start:end]))
    target = codec_target(px)
    header = desc_header(px._desc)
    if target is None or header is None or decoded_size(px._desc) > DECODED_MAX:
        return
    for i in range(min(px.number_of_frames, FRAMES_PER_FILE)):
        try:
            frame = bytes(px._frame_bytes(i))
        except rapidicom.DicomError:
            continue
        if len(frame) <= FRAME_MAX:
            seeds.add(target, header + frame)


def native_seeds(seeds: Seeds, px) -> None:
    """The native value (first frames) and the same frame deflated."""
    frame_bytes = px._native_frame_bytes()
    header = desc_header(px._desc, extra=px._native_flags())
    if header is None or frame_bytes == 0 or decoded_size(px._desc) > DECODED_MAX:
        return
    value = bytes(px._element.raw)
    cut = value[:frame_bytes * FRAMES_PER_FILE]
    if len(cut) <= FRAME_MAX:
        seeds.add("native", header + b"\x00" + cut)
        if px.number_of_frames > 1:
            seeds.add("native", header + b"\x01" + cut)
    if px.bits_allocated != 1 and len(value) >= frame_bytes:
        # Deflated Image Frame Compression: the native little-endian frame.
        little = px._desc if not px._native_flags() & rpx._pixels.NATIVE_BIG_ENDIAN else None
        if little is not None and frame_bytes <= FRAME_MAX:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            raw = packer.compress(value[:frame_bytes]) + packer.flush()
            seeds.add("deflate", desc_header(px._desc) + raw)


def pixel_seeds(seeds: Seeds, ds) -> None:
    try:
        px = ds.pixels
    except (rapidicom.DicomError, ValueError):
        return
    if px is None:
        return
    try:
        if px.is_compressed:
            encapsulated_seeds(seeds, ds, px)
        elif px.keyword == "PixelData":
            native_seeds(seeds, px)
    except rapidicom.DicomError:
        pass


# ---------------------------------------------------------------------------
# LUTs
# ---------------------------------------------------------------------------

def _values(ds, keyword):
    value = ds.get(keyword)
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def lut_apply_seed(descriptor, data: bytes, entry_size: int, rule: int, index_bits: int,
                   channels: int = 1) -> bytes:
    """fuzz_lut.c's rd_lut_apply layout for one LUT of the corpus, followed
    by a ramp of 16-bit pixel values around its first mapped value."""
    entries, first = int(descriptor[0]), int(descriptor[1])
    lut_len = len(data) // entry_size
    shape = rule | (1 if index_bits == 16 else 0) << 2 | (channels - 1) << 3
    header = struct.pack("<BBBBhHH", LUT_OPS["apply"], DTYPE_CODES["u2"], shape,
                         (1, 2, 4, 8).index(entry_size), max(-32768, min(first, 32767)),
                         entries & 0xFFFF, min(lut_len, 0xFFFF))
    ramp = struct.pack("<16H", *((first + k * 37) & 0xFFFF for k in range(16)))
    return header + data * channels + ramp


def lut_seeds(seeds: Seeds, ds) -> None:
    """Palettes, Modality/VOI LUTs, windows and rescales of one dataset."""
    little = ds.is_little_endian
    for colour in ("Red", "Green", "Blue"):
        seg = ds.get(f"Segmented{colour}PaletteColorLookupTableData")
        desc = _values(ds, f"{colour}PaletteColorLookupTableDescriptor")
        if seg is not None and desc:
            entry = 1 if int(desc[2]) == 8 else 2
            seeds.add("lut", bytes([LUT_OPS["segmented"], (entry - 1) | int(little) << 1])
                      + bytes(seg))
        data = ds.get(f"{colour}PaletteColorLookupTableData")
        if data is not None and desc and len(desc) >= 3:
            seeds.add("lut", lut_apply_seed(desc, bytes(data), 2, 2, int(desc[2]), 3))
    for seq_kw, rule in (("ModalityLUTSequence", 0), ("VOILUTSequence", 1)):
        for item in ds.get(seq_kw) or []:
            desc = _values(item, "LUTDescriptor")
            data = item.get("LUTData")
            if desc and len(desc) >= 3 and data is not None:
                raw = bytes(data) if not isinstance(data, (list, int)) else struct.pack(
                    f"<{len(_values(item, 'LUTData'))}H",
                    *(v & 0xFFFF for v in _values(item, "LUTData")))
                seeds.add("lut", lut_apply_seed(desc, raw, 2, rule,
                                                16 if int(desc[2]) > 8 else 8))
    centers, widths = _values(ds, "WindowCenter"), _values(ds, "WindowWidth")
    if centers and widths:
        ramp = struct.pack("<32h", *range(-1600, 1600, 100))
        for function in range(3):
            seeds.add("lut", struct.pack("<BBB4d", LUT_OPS["window"], DTYPE_CODES["i2"],
                                         function, float(centers[0]), float(widths[0]),
                                         0.0, 255.0) + ramp)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        ramp = struct.pack("<32H", *range(0, 3200, 100))
        seeds.add("lut", struct.pack("<BB2d", LUT_OPS["rescale"], DTYPE_CODES["u2"],
                                     float(slope), float(intercept)) + ramp)


# ---------------------------------------------------------------------------
# Small synthetic frames
# ---------------------------------------------------------------------------

PI = {"MONOCHROME2": 2, "RGB": 4, "YBR_FULL": 5, "YBR_FULL_422": 6, "YBR_ICT": 7,
      "YBR_RCT": 8}


def _image(rows: int, cols: int, spp: int, bits: int, seed: int) -> np.ndarray:
    """A smooth ramp with noise and both extremes, values below 2**bits."""
    rng = np.random.default_rng(seed)
    top = (1 << bits) - 1
    y, x = np.mgrid[0:rows, 0:cols]
    base = (x * 7 + y * 13)[..., None] * top // (7 * cols + 13 * rows) + np.arange(spp) * 5
    img = np.clip(base + rng.integers(-3, 4, (rows, cols, spp)), 0, top)
    img[0, 0], img[-1, -1] = 0, top
    return img[..., 0] if spp == 1 else img


def _desc(img: np.ndarray, ba: int, bs: int, pi: str, pr: int = 0) -> tuple:
    rows, cols = img.shape[:2]
    spp = img.shape[2] if img.ndim == 3 else 1
    return (rows, cols, spp, ba, bs, pr, 0, PI[pi])


def ljpeg_frames():
    import test_ljpeg_kernel as lj
    for psv in range(1, 8):
        for bits, spp, restart in ((8, 1, 0), (12, 1, 17), (16, 1, 0), (8, 3, 34), (16, 3, 0)):
            img = _image(16, 17, spp, bits, psv)
            pi = "RGB" if spp == 3 else "MONOCHROME2"
            yield "ljpeg", _desc(img, 8 if bits == 8 else 16, bits, pi), lj.encode(
                img, bits, psv=psv, restart=restart, interleaved=psv % 2 == 1)


def jpeg12_frames():
    import test_jpeg12_kernel as j12
    for spp, restart, interleaved in ((1, 0, True), (1, 2, True), (3, 0, True), (3, 1, False)):
        img = j12.make_image(16, 24, spp, seed=restart)
        pi = "YBR_FULL" if spp == 3 else "MONOCHROME2"
        yield "jpeg12", _desc(img, 16, 12, pi), j12.encode12(
            img, j12.quant(0.5), restart=restart, interleaved=interleaved)


def jpeg_frames():
    from PIL import Image
    for spp, subsampling, progressive in ((1, 0, False), (3, 0, False), (3, 2, False),
                                          (3, 2, True), (1, 0, True)):
        img = _image(16, 24, spp, 8, subsampling).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(img).save(out, "JPEG", quality=90, subsampling=subsampling,
                                  progressive=progressive)
        pi = "MONOCHROME2" if spp == 1 else ("YBR_FULL_422" if subsampling else "YBR_FULL")
        yield "jpeg", _desc(img, 8, 8, pi), out.getvalue()


def jls_frames():
    import test_jls_kernel as jls
    for bits, spp, near, ilv in ((8, 1, 0, 0), (12, 1, 0, 0), (16, 1, 2, 0), (8, 3, 0, 1),
                                 (8, 3, 1, 2), (8, 3, 0, 0)):
        img = _image(16, 17, spp, bits, bits + near)
        stream, _ = jls.encode(img, bits, near=near, ilv=ilv)
        yield "jls", _desc(img, 8 if bits == 8 else 16, bits, "RGB" if spp == 3 else
                           "MONOCHROME2"), stream


def j2k_frames():
    from openjpeg.utils import encode_array
    for bits, spp, ratios, pi in ((8, 1, None, "MONOCHROME2"), (12, 1, [8], "MONOCHROME2"),
                                  (16, 1, None, "MONOCHROME2"), (8, 3, None, "YBR_RCT"),
                                  (8, 3, [10], "YBR_ICT")):
        img = _image(32, 33, spp, bits, bits).astype(np.uint8 if bits == 8 else np.uint16)
        kwargs = {"compression_ratios": ratios} if ratios else {}
        if spp == 3:
            kwargs.update(use_mct=True, photometric_interpretation=1)
        yield "j2k", _desc(img, 8 if bits == 8 else 16, bits, pi), encode_array(
            img, bits_stored=bits, **kwargs)


def rle_frames():
    from pydicom.pixels.encoders import RLELosslessEncoder
    for bits, spp in ((8, 1), (16, 1), (8, 3), (16, 3)):
        img = _image(16, 17, spp, min(bits, 16), bits).astype(f"<u{bits // 8}")
        pi = "RGB" if spp == 3 else "MONOCHROME2"
        stream = RLELosslessEncoder.encode(
            img, rows=16, columns=17, samples_per_pixel=spp, bits_allocated=bits,
            bits_stored=bits, pixel_representation=0, photometric_interpretation=pi,
            planar_configuration=0, number_of_frames=1)
        yield "rle", _desc(img, bits, bits, pi), stream


def synthetic_seeds(seeds: Seeds) -> None:
    for make in (ljpeg_frames, jpeg12_frames, jpeg_frames, jls_frames, j2k_frames, rle_frames):
        try:
            for target, desc, stream in make():
                seeds.add(target, desc_header(desc) + bytes(stream))
        except ImportError as exc:  # an encoder that is not installed: fewer seeds
            print(f"{make.__name__}: skipped ({exc})", file=sys.stderr)


# ---------------------------------------------------------------------------

def file_seeds(seeds: Seeds, path: Path) -> None:
    data = path.read_bytes()
    whole = data if len(data) <= WHOLE_FILE_MAX else data[:HEAD_BYTES]
    seeds.add("scan", whole)
    seeds.add("python", whole)
    try:
        ds = rapidicom.open(data)
    except rapidicom.DicomError:
        return
    for step in (pixel_seeds, lut_seeds):
        try:
            step(seeds, ds)
        except (rapidicom.DicomError, ValueError, TypeError, IndexError):
            continue  # a value this step cannot use; the scan seed stays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    seeds = Seeds(args.out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in dicom_files():
            file_seeds(seeds, path)
        synthetic_seeds(seeds)
    for target in sorted(seeds.count):
        print(f"{target:12} {seeds.count[target]:5} new seeds")
    print(f"seeds in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
