"""Native layouts the corpus lacks, built with pydicom and random bytes, and
decoded by both libraries: every combination of bit depth, signedness, Bits
Stored, samples, planar configuration, byte order, frame count and odd sizes.
Random bytes set the unused high bits, so the Bits Stored correction is
exercised on every sample."""
from __future__ import annotations

import io
import itertools
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

import rapidicom

RNG = np.random.default_rng(20261126)


def _build(ts, rows, cols, spp, bits_allocated, bits_stored, signed, frames, planar=0,
           photometric=None, keyword="PixelData", vr=None):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, spp
    ds.PhotometricInterpretation = photometric or ("MONOCHROME2" if spp == 1 else "RGB")
    if spp > 1:
        ds.PlanarConfiguration = planar
    ds.BitsAllocated = bits_allocated
    if keyword == "PixelData":
        ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
        ds.PixelRepresentation = signed
    if frames > 1:
        ds.NumberOfFrames = frames
    samples = rows * cols * (spp if photometric != "YBR_FULL_422" else 2) * frames
    nbytes = (samples + 7) // 8 if bits_allocated == 1 else samples * bits_allocated // 8
    raw = RNG.integers(0, 256, nbytes + nbytes % 2, dtype=np.uint8).tobytes()
    if keyword == "PixelData":
        ds.PixelData = raw
        ds["PixelData"].VR = vr or ("OW" if bits_allocated > 8 else "OB")
    else:
        setattr(ds, keyword, raw)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _compare(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = pydicom.dcmread(io.BytesIO(data)).pixel_array
    ours = rapidicom.open(data).pixel_array
    assert ours.shape == expected.shape
    assert ours.dtype == expected.dtype.newbyteorder("=")
    assert np.array_equal(ours, expected)
    px = rapidicom.open(data).pixels
    frames = expected if px.number_of_frames > 1 else expected[None]
    for i in range(px.number_of_frames):
        assert np.array_equal(px.frame(i), frames[i])


SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]
DEPTHS = [(8, 8), (8, 5), (16, 16), (16, 12), (16, 1), (32, 32), (32, 20), (64, 64),
          (64, 40)]


@pytest.mark.parametrize("ts", SYNTAXES, ids=["implicit", "explicit", "big"])
@pytest.mark.parametrize("bits", DEPTHS, ids=[f"{a}_{s}" for a, s in DEPTHS])
@pytest.mark.parametrize("signed", [0, 1], ids=["unsigned", "signed"])
def test_monochrome(ts, bits, signed):
    if ts == ImplicitVRLittleEndian and bits[0] == 64:
        pytest.skip("pydicom writes 64-bit data only in explicit VR (OV)")
    _compare(_build(ts, 7, 5, 1, bits[0], bits[1], signed, frames=3))


@pytest.mark.parametrize("ts", SYNTAXES, ids=["implicit", "explicit", "big"])
@pytest.mark.parametrize("bits", [8, 16, 32], ids=["8", "16", "32"])
@pytest.mark.parametrize("planar", [0, 1], ids=["interleaved", "planar"])
def test_rgb(ts, bits, planar):
    _compare(_build(ts, 5, 3, 3, bits, bits, 0, frames=2, planar=planar))


@pytest.mark.parametrize("rows, cols, frames", [(3, 3, 5), (1, 1, 9), (8, 8, 2), (5, 7, 1)])
@pytest.mark.parametrize("ts", SYNTAXES, ids=["implicit", "explicit", "big"])
def test_one_bit_frames_not_byte_aligned(ts, rows, cols, frames):
    _compare(_build(ts, rows, cols, 1, 1, 1, 0, frames=frames))


@pytest.mark.parametrize("ts", SYNTAXES, ids=["implicit", "explicit", "big"])
@pytest.mark.parametrize("photometric", ["YBR_FULL", "YBR_FULL_422"])
def test_ybr(ts, photometric):
    # pydicom converts 8-bit YBR to RGB for pixel_array, as we do.
    _compare(_build(ts, 4, 6, 3, 8, 8, 0, frames=2, photometric=photometric))


@pytest.mark.parametrize("keyword, bits", [("FloatPixelData", 32),
                                           ("DoubleFloatPixelData", 64)])
def test_float_pixel_data(keyword, bits):
    _compare(_build(ExplicitVRLittleEndian, 4, 3, 1, bits, bits, 0, frames=2,
                    keyword=keyword))


def test_keep_ybr_when_asked():
    data = _build(ExplicitVRLittleEndian, 4, 6, 3, 8, 8, 0, frames=1,
                  photometric="YBR_FULL")
    px = rapidicom.open(data).pixels
    kept = px.frame(0, as_rgb=False)
    raw = np.frombuffer(rapidicom.open(data).PixelData, dtype=np.uint8)[:4 * 6 * 3]
    assert np.array_equal(kept.reshape(-1), raw)
    assert not np.array_equal(px.frame(0), kept)


@pytest.mark.parametrize("rows, cols, frames", [(4, 4, 1), (3, 5, 3), (1, 1, 3)])
def test_8_bit_big_endian_in_ow(rows, cols, frames):
    """8-bit samples in OW under big endian are stored in byte-swapped pairs
    (PS3.5 A.3: OW is a stream of 16-bit words); odd-sized frames start
    mid-word."""
    _compare(_build(ExplicitVRBigEndian, rows, cols, 1, 8, 8, 0, frames=frames, vr="OW"))
