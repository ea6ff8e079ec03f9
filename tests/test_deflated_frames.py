"""Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): each frame is
the native frame compressed with raw deflate.  pydicom 3.0 cannot decode this
syntax, so each case is checked against pydicom's decoding of the same
frames stored natively."""
from __future__ import annotations

import io
import warnings
import zlib

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian

import rapidicom
from test_pixels_synthetic import _build

DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _as_deflated(native_file: bytes, damage=None) -> tuple[bytes, np.ndarray]:
    """The same dataset re-encoded with deflated frames, and pydicom's array."""
    ds = pydicom.dcmread(io.BytesIO(native_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
    if ds.BitsAllocated == 1:  # 1-bit frames: each frame's bits packed on its own
        bits = ds.Rows * ds.Columns
        flat = np.unpackbits(np.frombuffer(ds.PixelData, np.uint8), bitorder="little")
        chunks = [np.packbits(flat[i * bits:(i + 1) * bits], bitorder="little").tobytes()
                  for i in range(frames)]
    else:
        chunks = [ds.PixelData[i * size:(i + 1) * size] for i in range(frames)]
    compressed = [_deflate(c) for c in chunks]
    if damage:
        compressed = damage(compressed)
    ds.PixelData = encapsulate(compressed)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    # pydicom 3.0 will not write this syntax: write an encapsulated syntax of
    # the same UID length, then put the real UID in its place.
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    data = out.getvalue()
    assert data.count(b"1.2.840.10008.1.2.4.50") == 1
    return data.replace(b"1.2.840.10008.1.2.4.50", DEFLATED_FRAMES.encode() + b"\0"), expected


@pytest.mark.parametrize("bits, stored, signed, spp, frames", [
    (8, 8, 0, 1, 1), (16, 12, 1, 1, 3), (16, 16, 0, 3, 2), (32, 32, 1, 1, 2), (8, 8, 0, 3, 2),
])
def test_deflated_frames_match_native(bits, stored, signed, spp, frames):
    native = _build(ExplicitVRLittleEndian, 7, 5, spp, bits, stored, signed, frames=frames)
    data, expected = _as_deflated(native)
    ds = rapidicom.open(data)
    assert ds.pixels.is_compressed
    assert np.array_equal(ds.pixel_array, expected)
    assert ds.pixel_array.dtype == expected.dtype


def test_deflated_one_bit_frames():
    native = _build(ExplicitVRLittleEndian, 3, 3, 1, 1, 1, 0, frames=4)
    data, expected = _as_deflated(native)
    assert np.array_equal(rapidicom.open(data).pixel_array, expected)


def test_deflated_planar_rgb():
    native = _build(ExplicitVRLittleEndian, 4, 5, 3, 8, 8, 0, frames=2, planar=1)
    data, expected = _as_deflated(native)
    assert np.array_equal(rapidicom.open(data).pixel_array, expected)


@pytest.mark.parametrize("damage, words", [
    (lambda c: [c[0][:-3]] + c[1:], "ends after"),
    (lambda c: [_deflate(b"x" * 1000)] + c[1:], "more than"),
    (lambda c: [b"\xff" * 20] + c[1:], "corrupt"),
], ids=["truncated", "too-long", "garbage"])
def test_bad_deflated_frame(damage, words):
    native = _build(ExplicitVRLittleEndian, 7, 5, 1, 16, 16, 0, frames=2)
    data, expected = _as_deflated(native, damage)
    px = rapidicom.open(data).pixels
    with pytest.raises(rapidicom.DecodeError) as info:
        px.to_array()
    assert words in str(info.value.__cause__ or info.value)
    assert info.value.failed_frames == [0]
    assert np.array_equal(info.value.array[1], expected[1])
