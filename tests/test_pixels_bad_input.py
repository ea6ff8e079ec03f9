"""Bad pixel data: every case is a rapidicom error naming where it went wrong,
never a crash, and frames that decode are not lost when another fails."""
from __future__ import annotations

import struct

import numpy as np
import pydicom
import pytest

import rapidicom
from corpus import PYDICOM_DATA, PYDICOM_DATA_STORE
from test_pixels_zero_copy import _element, _header, ROWS, COLS

RLE_2FRAME = PYDICOM_DATA_STORE / "OBXXXX1A_rle_2frame.dcm"
RLE_1FRAME = PYDICOM_DATA / "test_files" / "MR_small_RLE.dcm"


def _native(frames_declared, pixel_bytes, **patch):
    data = bytearray(_header(frames_declared, pixel_bytes))
    for tag, value in patch.items():
        el = struct.pack("<HH2sH", 0x0028, int(tag, 16), b"US", 2)
        at = data.find(el)
        data[at + 8:at + 10] = struct.pack("<H", value)
    return bytes(data) + b"\x01\x00" * (pixel_bytes // 2)


def test_pixel_data_shorter_than_the_frames():
    data = _native(1, ROWS * COLS * 2 - 2)
    ds = rapidicom.open(data)
    with pytest.raises(rapidicom.InvalidDicomError, match="need") as info:
        ds.pixel_array
    assert info.value.offset == data.find(b"\xe0\x7f\x10\x00")


def test_number_of_frames_too_large():
    data = _native(5, ROWS * COLS * 2 * 2)
    with pytest.raises(rapidicom.InvalidDicomError, match="5 frame"):
        rapidicom.open(data).pixels.to_array()
    with pytest.raises(rapidicom.InvalidDicomError):
        rapidicom.open(data).pixels.frame(4)


@pytest.mark.parametrize("patch, error, words", [
    ({"0101": 17}, rapidicom.InvalidDicomError, "Bits Stored 17"),
    ({"0100": 12, "0101": 12}, rapidicom.UnsupportedError, "Bits Allocated 12"),
    ({"0010": 0}, rapidicom.InvalidDicomError, "Rows and Columns"),
], ids=["bits-stored>allocated", "bits-allocated-12", "zero-rows"])
def test_inconsistent_description(patch, error, words):
    data = _native(1, ROWS * COLS * 2, **patch)
    with pytest.raises(error, match=words):
        rapidicom.open(data).pixels


def test_frame_index_out_of_range():
    px = rapidicom.open(_native(1, ROWS * COLS * 2)).pixels
    with pytest.raises(IndexError):
        px.frame(1)


def _rle_fragments(path):
    data = bytearray(path.read_bytes())
    ds = rapidicom.open(bytes(data))
    return data, ds.element("PixelData").fragments[1:]


def test_rle_segment_offset_out_of_range():
    data, fragments = _rle_fragments(RLE_1FRAME)
    offset, length = fragments[0]
    data[offset + 4:offset + 8] = struct.pack("<I", length + 100)  # first segment offset
    with pytest.raises(rapidicom.DecodeError, match="frame 0") as info:
        rapidicom.open(bytes(data)).pixel_array
    assert info.value.tag == 0x7FE00010


def test_rle_segment_count_mismatch():
    data, fragments = _rle_fragments(RLE_1FRAME)
    offset, _ = fragments[0]
    data[offset:offset + 4] = struct.pack("<I", 1)  # 16-bit data needs 2 segments
    with pytest.raises(rapidicom.DecodeError):
        rapidicom.open(bytes(data)).pixel_array


def test_rle_segment_runs_short():
    data, fragments = _rle_fragments(RLE_1FRAME)
    offset, length = fragments[0]
    second = struct.unpack("<I", data[offset + 8:offset + 12])[0]
    # Replace the first segment's bytes with no-op control bytes (-128).
    data[offset + 64:offset + second] = b"\x80" * (second - 64)
    with pytest.raises(rapidicom.DecodeError, match="segment"):
        rapidicom.open(bytes(data)).pixel_array


def test_one_bad_frame_does_not_lose_the_others():
    data, fragments = _rle_fragments(RLE_2FRAME)
    offset, length = fragments[1]
    data[offset:offset + 4] = struct.pack("<I", 15)  # frame 1: wrong segment count
    expected = pydicom.dcmread(RLE_2FRAME).pixel_array
    for threads in (1, 2):
        px = rapidicom.open(bytes(data)).pixels
        with pytest.raises(rapidicom.DecodeError) as info:
            px.to_array(threads=threads)
        assert info.value.failed_frames == [1]
        assert np.array_equal(info.value.array[0], expected[0])
        assert np.array_equal(px.frame(0), expected[0])


def test_missing_fragments_for_frames():
    data, fragments = _rle_fragments(RLE_2FRAME)
    ds = rapidicom.open(bytes(data))
    frames_el = ds.element("NumberOfFrames")
    # Declare 3 frames for 2 fragments and no offset table.
    patched = bytearray(data)
    patched[frames_el.value_offset:frames_el.value_offset + frames_el.length] = \
        b"3".ljust(frames_el.length)
    px = rapidicom.open(bytes(patched)).pixels
    with pytest.raises(rapidicom.InvalidDicomError, match="2 fragments for 3 frames"):
        px.to_array()


def test_excess_pixel_bytes_are_tolerated_with_a_warning():
    data = _native(1, ROWS * COLS * 2 + 8)
    px = rapidicom.open(data).pixels
    with pytest.warns(UserWarning, match="8 bytes after the last frame"):
        arr = px.to_array()
    assert arr.shape == (1, ROWS, COLS) and px.warnings


def test_ybr_full_422_with_a_third_too_many_bytes():
    """Pixel Data sized for 3 samples per pixel labelled YBR_FULL_422 (2 per
    pixel): pydicom refuses it, so do we."""
    from test_pixels_synthetic import _build
    from pydicom.uid import ExplicitVRLittleEndian
    ds = rapidicom.open(bytes(_build(ExplicitVRLittleEndian, 4, 6, 3, 8, 8, 0, frames=1,
                                     photometric="RGB")))
    el = ds.element("PhotometricInterpretation")
    raw = bytes(ds.buffer)
    new = raw[:el.offset] + _element(0x00280004, "CS", b"YBR_FULL_422") + \
        raw[el.value_offset + el.length:]
    with pytest.raises(rapidicom.InvalidDicomError, match="Photometric Interpretation"):
        rapidicom.open(new).pixel_array
