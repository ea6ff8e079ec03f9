"""rapidicom.lut against pydicom 3.0's pixels.processing, value for value.

Two kinds of cases:

- the corpus: every file of the pydicom / pydicom-data wheels that has a
  Modality LUT Module (Rescale Slope + Intercept or Modality LUT Sequence),
  a VOI LUT Module (Window Center / Width or VOI LUT Sequence) or a palette
  (PALETTE COLOR or palette descriptors).  The input is pydicom's own
  ``pixel_array`` (files whose pixels pydicom cannot decode are listed as
  skipped) and, for every file, a synthetic array holding every value of the
  stored dtype, so LUT clamping and wrapping are exercised on real LUTs;
- hand-built datasets, written with pydicom and read by both libraries from
  the same bytes, one for each branch of pydicom's functions.

"Identical" means same dtype, same shape and the same bytes
(``np.array_equal`` and a bitwise comparison, so -0.0 and NaN count).
Where rapidicom deliberately differs from pydicom (two pydicom bugs, and
inputs pydicom cannot process at all) the test says so and checks both
sides.
"""
from __future__ import annotations

import struct
import threading
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import processing as P
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

import rapidicom
from corpus import dicom_files, file_id
from rapidicom import _lut
from rapidicom import lut as R
from rapidicom.errors import InvalidDicomError, LimitExceededError, UnsupportedError

# pydicom's float-input VOI warning (checked once, below) and numpy's
# RuntimeWarnings from pydicom's casts of NaN / huge floats and exp overflow.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Applying a VOI LUT on a float input"),
    pytest.mark.filterwarnings("ignore:invalid value encountered in cast"),
    pytest.mark.filterwarnings("ignore:overflow encountered in exp"),
    pytest.mark.filterwarnings("ignore:The pixel data is .* excess padding"),
    # pydicom validating palette names as UIDs, lower-case VOI LUT Functions
    pytest.mark.filterwarnings("ignore:Invalid value for VR (UI|CS)"),
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def assert_identical(want: np.ndarray, got: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert np.array_equal(want, got, equal_nan=want.dtype.kind == "f")
    assert np.ascontiguousarray(want).tobytes() == np.ascontiguousarray(got).tobytes()


def same(pyfunc, ourfunc, arr, pds, rds, **kw) -> np.ndarray:
    """Both functions on `arr`: identical results, or both raise."""
    try:
        want = pyfunc(arr, pds, **kw)
    except Exception:  # noqa: BLE001 - any pydicom failure
        with pytest.raises(Exception):
            ourfunc(arr, rds, **kw)
        return None
    got = ourfunc(arr, rds, **kw)
    assert_identical(want, got)
    return got


def pair(ds: Dataset, ts: str = ExplicitVRLittleEndian):
    """`ds` written by pydicom, read back by pydicom and by rapidicom."""
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    return pydicom.dcmread(BytesIO(data)), rapidicom.open(data)


def words(values, little=True) -> bytes:
    return struct.pack(("<" if little else ">") + f"{len(values)}H", *values)


def lut_item(nr, first, bits, data, vr="OW", little=True) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "SS" if first < 0 else "US", [nr, first, bits])
    if vr == "OW":
        item.add_new(0x00283006, "OW", data if isinstance(data, bytes)
                     else words(data, little))
    else:
        item.add_new(0x00283006, "US", list(data))
    return item


def mono(bits_stored=16, signed=0, photometric="MONOCHROME2") -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16 if bits_stored > 8 else 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = signed
    ds.SamplesPerPixel = 1
    return ds


def every_value(dtype) -> np.ndarray:
    """Every value of an 8/16-bit dtype; a spread of values for wider ones."""
    dtype = np.dtype(dtype)
    if dtype.itemsize <= 2:
        raw = np.arange(2 ** (8 * dtype.itemsize)).astype(f"u{dtype.itemsize}")
        return raw.view(f"{dtype.kind}{dtype.itemsize}").astype(dtype)
    lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    vals = [v for v in range(-70000, 70000) if lo <= v <= hi]
    vals += [lo + (hi - lo) * k // 1000 for k in range(1001)] + [hi - 1]
    return np.array(vals, dtype=dtype)


ALL_DTYPES = ["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"]


def float_values(dtype) -> np.ndarray:
    rng = np.random.default_rng(7)
    vals = np.concatenate([rng.uniform(-5000, 70000, 3000), np.arange(-300, 300),
                           [np.nan, np.inf, -np.inf, 65535.5, 65536.0, 70000.9,
                            2.0**31, 3e9, 1e20, -0.0, 0.5, 255.5, 256.0]])
    return vals.astype(dtype)


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------

def _kinds(path) -> set[str]:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - not readable: no LUT tests
        return set()
    kinds = set()
    if ("RescaleSlope" in ds and "RescaleIntercept" in ds) or ds.get("ModalityLUTSequence"):
        kinds.add("modality")
    if "WindowCenter" in ds or "WindowWidth" in ds or ds.get("VOILUTSequence"):
        kinds.add("voi")
    if (ds.get("PhotometricInterpretation") == "PALETTE COLOR"
            or "RedPaletteColorLookupTableDescriptor" in ds):
        kinds.add("palette")
    return kinds


CORPUS = [(p, k) for p in dicom_files() if (k := _kinds(p))]
IDS = [file_id(p) for p, _ in CORPUS]

# pydicom reads 16-bit Palette Color LUT Data as little endian whatever the
# transfer syntax; rapidicom uses the dataset's byte order (PS3.5 7.3).  These
# are compared with the little endian twin of the same image.
BIG_ENDIAN_PALETTE_TWINS = {
    "OBXXXX1A_expb.dcm": "OBXXXX1A.dcm",
    "OBXXXX1A_expb_2frame.dcm": "OBXXXX1A_2frame.dcm",
}


def test_corpus_has_the_expected_files():
    ids = set(IDS)
    for name in ("test_files/CT_small.dcm", "mlut_18.dcm", "vlut_04.dcm",
                 "test_files/examples_palette.dcm", "OBXXXX1A.dcm",
                 "gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm", "RG1_UNCR.dcm"):
        assert name in ids
    assert len(CORPUS) >= 80


def _open_both(path):
    pds = pydicom.dcmread(path)
    try:
        rds = rapidicom.open(path)
    except rapidicom.TruncatedError:
        rds = rapidicom.open(path, lenient=True)
    return pds, rds


def _pixels(pds):
    try:
        return pds.pixel_array
    except Exception as exc:  # noqa: BLE001
        return exc


def _stored_dtype(pds):
    bits = pds.get("BitsAllocated", 16)
    bits = 8 if bits <= 8 else 16 if bits <= 16 else 32
    return np.dtype(f"{'i' if pds.get('PixelRepresentation', 0) else 'u'}{bits // 8}")


def _windows(pds) -> int:
    wc = pds.get("WindowCenter")
    return len(wc) if isinstance(wc, pydicom.multival.MultiValue) else 1


@pytest.mark.parametrize("path,kinds", CORPUS, ids=IDS)
def test_corpus_decoded_pixels(path, kinds):
    pds, rds = _open_both(path)
    arr = _pixels(pds)
    if isinstance(arr, Exception):
        pytest.skip(f"pydicom cannot decode the pixels: {type(arr).__name__}: {arr}")
    _check_file(path, pds, rds, arr, kinds)


@pytest.mark.parametrize("path,kinds", CORPUS, ids=IDS)
def test_corpus_every_value(path, kinds):
    """Every stored value through the file's own LUTs and windows."""
    pds, rds = _open_both(path)
    arr = _pixels(pds)
    dtype = arr.dtype if isinstance(arr, np.ndarray) else _stored_dtype(pds)
    if dtype.kind not in "ui" or dtype.itemsize > 4:
        pytest.skip(f"{dtype} pixels")
    _check_file(path, pds, rds, every_value(dtype), kinds)


def _check_file(path, pds, rds, arr, kinds):
    name = file_id(path)
    if "modality" in kinds:
        same(P.apply_modality_lut, R.apply_modality_lut, arr, pds, rds)
    if "voi" in kinds:
        same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds)
        same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds, prefer_lut=False)
        for i in range(len(pds.get("VOILUTSequence", []))):
            same(P.apply_voi, R.apply_voi, arr, pds, rds, index=i)
        if "WindowCenter" in pds:
            for i in range(_windows(pds)):
                same(P.apply_windowing, R.apply_windowing, arr, pds, rds, index=i)
        # the display pipeline: modality output (float64 or uint) into VOI
        try:
            m = P.apply_modality_lut(arr, pds)
        except Exception:  # noqa: BLE001 - compared above
            m = None
        if m is not None:
            same(P.apply_voi_lut, R.apply_voi_lut, m, pds, rds)
            same(P.apply_voi_lut, R.apply_voi_lut, m, pds, rds, prefer_lut=False)
    if "palette" in kinds:
        if name in BIG_ENDIAN_PALETTE_TWINS:
            twin = pydicom.dcmread(get_testdata_file(BIG_ENDIAN_PALETTE_TWINS[name]))
            want = P.apply_color_lut(arr, twin)
            got = R.apply_palette(arr, rds)
            assert_identical(want, got)
            # pydicom's own result is byte-swapped (the bug)
            assert not np.array_equal(P.apply_color_lut(arr, pds), got)
        else:
            same(P.apply_color_lut, R.apply_palette, arr, pds, rds)


# ---------------------------------------------------------------------------
# Modality LUT and rescale
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_rescale_every_dtype(dtype):
    ds = mono()
    ds.RescaleSlope = "0.37"
    ds.RescaleIntercept = "-1024.25"
    pds, rds = pair(ds)
    arr = every_value(dtype) if dtype[0] in "ui" else float_values(dtype)
    got = same(P.apply_modality_lut, R.apply_modality_lut, arr, pds, rds)
    assert got.dtype == np.float64


def test_rescale_identity_still_float64():
    ds = mono()
    ds.RescaleSlope = 1
    ds.RescaleIntercept = 0
    pds, rds = pair(ds)
    arr = every_value("i2")
    got = same(P.apply_modality_lut, R.apply_modality_lut, arr, pds, rds)
    assert got.dtype == np.float64 and got is not arr


def test_nothing_to_apply_returns_input():
    pds, rds = pair(mono())
    arr = every_value("u2")
    assert R.apply_modality_lut(arr, rds) is arr
    assert R.apply_voi_lut(arr, rds) is arr
    assert R.apply_voi(arr, rds) is arr
    assert R.apply_windowing(arr, rds) is arr
    assert P.apply_modality_lut(arr, pds) is arr


def test_rescale_slope_without_intercept_is_ignored():
    ds = mono()
    ds.RescaleSlope = 2
    pds, rds = pair(ds)
    arr = every_value("u2")
    assert R.apply_modality_lut(arr, rds) is arr
    assert P.apply_modality_lut(arr, pds) is arr


def test_rescale_big_endian_and_strided_inputs():
    ds = mono()
    ds.RescaleSlope = 2.5
    ds.RescaleIntercept = 3
    pds, rds = pair(ds)
    arr = every_value("i2").reshape(256, 256)
    for a in (arr.astype(">i2"), arr[::3, ::-2], np.asfortranarray(arr)):
        same(P.apply_modality_lut, R.apply_modality_lut, a, pds, rds)


def _mlut(nr, first, bits, data, ts=ExplicitVRLittleEndian, vr="OW", signed=None,
          **extra):
    ds = mono(signed=int(first < 0) if signed is None else signed)
    little = ts != ExplicitVRBigEndian
    ds.ModalityLUTSequence = Sequence([lut_item(nr, first, bits, data, vr, little)])
    for k, v in extra.items():
        setattr(ds, k, v)
    return pair(ds, ts)


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ExplicitVRBigEndian,
                                ImplicitVRLittleEndian])
@pytest.mark.parametrize("vr", ["OW", "US"])
def test_modality_lut_16(ts, vr):
    data = [(i * 37) % 65536 for i in range(4096)]
    pds, rds = _mlut(4096, 0, 16, data, ts, vr)
    for dt in ("u1", "u2", "i2", "u4", "i4", "i8", "u8"):
        got = same(P.apply_modality_lut, R.apply_modality_lut, every_value(dt), pds, rds)
        assert got.dtype == np.uint16


def test_modality_lut_signed_first_mapped():
    # int16 values from -2048 up; below -2048 -> entry 0, above -> last entry;
    # int16 differences past 32767 wrap negative and clamp to entry 0 (pydicom)
    data = list(range(100, 4196))
    pds, rds = _mlut(4096, -2048, 16, data)
    arr = every_value("i2")
    got = same(P.apply_modality_lut, R.apply_modality_lut, arr, pds, rds)
    assert got[arr == -2049][0] == 100 and got[arr == 2047][0] == 4195
    assert got[arr == 30000][0] == 4195 and got[arr == 32767][0] == 100
    # the int8 difference wraps: 127 - (-100) = 227 -> -29 -> entry 0
    pds, rds = _mlut(256, -100, 16, list(range(1000, 1256)))
    same(P.apply_modality_lut, R.apply_modality_lut, every_value("i1"), pds, rds)


def test_modality_lut_descriptor_zero_is_65536_entries():
    data = [(i * 7 + 3) % 65536 for i in range(65536)]
    pds, rds = _mlut(0, 0, 16, data)
    assert rds.ModalityLUTSequence[0].LUTDescriptor[0] == 0
    for dt in ("u2", "i2", "u4", "i4"):
        same(P.apply_modality_lut, R.apply_modality_lut, every_value(dt), pds, rds)


def test_modality_lut_8_bit_in_ow_one_entry_per_word():
    data = [(i * 3) % 256 for i in range(256)]
    pds, rds = _mlut(256, 0, 8, data)
    got = same(P.apply_modality_lut, R.apply_modality_lut, every_value("u2"), pds, rds)
    assert got.dtype == np.uint8


def test_modality_lut_8_bit_packed_two_per_word():
    """PS3.3 C.11.1.1.1 "8 bits allocated": pydicom cannot unpack it, rapidicom
    reads the bytes in order."""
    table = bytes((i * 5) % 256 for i in range(256))
    pds, rds = _mlut(256, 0, 8, table)
    arr = every_value("u2")
    with pytest.raises(struct.error):
        P.apply_modality_lut(arr, pds)
    got = R.apply_modality_lut(arr, rds)
    want = np.frombuffer(table, np.uint8)[np.minimum(arr, 255)]
    assert_identical(want, got)


def test_modality_lut_values_beyond_8_bits():
    pds, rds = _mlut(256, 0, 8, [300] * 256)
    arr = every_value("u1")
    with pytest.raises(OverflowError):
        P.apply_modality_lut(arr, pds)
    with pytest.raises(InvalidDicomError, match="does not fit"):
        R.apply_modality_lut(arr, rds)


def test_modality_lut_short_us_data():
    """US LUT Data with fewer values than the descriptor: fine while no pixel
    needs the missing entries, an IndexError in pydicom otherwise."""
    pds, rds = _mlut(4096, 0, 16, list(range(1000)), vr="US")
    small = np.arange(1000, dtype=np.uint16)
    same(P.apply_modality_lut, R.apply_modality_lut, small, pds, rds)
    for arr in (np.arange(1001, dtype=np.uint16), every_value("u2")):
        with pytest.raises(IndexError):
            P.apply_modality_lut(arr, pds)
        with pytest.raises(InvalidDicomError, match="maps to LUT entry 1000"):
            R.apply_modality_lut(arr, rds)


@pytest.mark.parametrize("length", [100, 8190, 8194])
def test_modality_lut_wrong_ow_length(length):
    pds, rds = _mlut(4096, 0, 16, bytes(length))
    with pytest.raises(struct.error):
        P.apply_modality_lut(every_value("u2"), pds)
    with pytest.raises(InvalidDicomError, match="LUT Data holds"):
        R.apply_modality_lut(every_value("u2"), rds)


def test_modality_lut_unsupported_bits():
    pds, rds = _mlut(256, 0, 12, list(range(256)))
    with pytest.raises(TypeError):
        P.apply_modality_lut(every_value("u1"), pds)
    with pytest.raises(InvalidDicomError, match="12 bits"):
        R.apply_modality_lut(every_value("u1"), rds)


def test_modality_lut_float_input():
    pds, rds = _mlut(256, 0, 16, list(range(256)))
    arr = float_values("f8")
    with pytest.raises(IndexError):
        P.apply_modality_lut(arr, pds)
    with pytest.raises(TypeError):
        R.apply_modality_lut(arr, rds)


def test_modality_lut_sequence_wins_over_rescale():
    pds, rds = _mlut(256, 0, 16, list(range(5, 261)), RescaleSlope=2,
                     RescaleIntercept=1)
    got = same(P.apply_modality_lut, R.apply_modality_lut, every_value("u1"), pds, rds)
    assert got.dtype == np.uint16


def test_modality_lut_one_entry_us():
    """A 1-entry LUT Data is US (PS3.3 C.11.1.1.1); pydicom cannot index the
    scalar it reads, rapidicom maps everything to that entry."""
    pds, rds = _mlut(1, 0, 16, [77], ts=ImplicitVRLittleEndian)
    arr = every_value("u1")
    with pytest.raises(IndexError):
        P.apply_modality_lut(arr, pds)
    got = R.apply_modality_lut(arr, rds)
    assert_identical(np.full(arr.shape, 77, np.uint16), got)


# ---------------------------------------------------------------------------
# VOI LUT
# ---------------------------------------------------------------------------

def _vlut(items, ts=ExplicitVRLittleEndian, signed=0, bits_stored=16, **extra):
    ds = mono(bits_stored=bits_stored, signed=signed)
    little = ts != ExplicitVRBigEndian
    ds.VOILUTSequence = Sequence([lut_item(*it, little=little) if isinstance(it, tuple)
                                  else it for it in items])
    for k, v in extra.items():
        setattr(ds, k, v)
    return pair(ds, ts)


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ExplicitVRBigEndian,
                                ImplicitVRLittleEndian])
@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_voi_lut_bits(ts, bits):
    top = 2**bits - 1
    data = [min(top, (i * 11) % (top + 1)) for i in range(1024)]
    pds, rds = _vlut([(1024, 0, bits, data)], ts)
    for dt in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"):
        got = same(P.apply_voi, R.apply_voi, every_value(dt), pds, rds)
        assert got.dtype == (np.uint8 if bits == 8 else np.uint16)
        same(P.apply_voi_lut, R.apply_voi_lut, every_value(dt), pds, rds)


def test_voi_lut_wraps_in_entry_type():
    """pydicom converts the index to the LUT's entry type before clamping:
    uint16 pixel 300 with an 8-bit 256-entry LUT uses entry 300 % 256 = 44.
    PS3.3 C.11.2.1.1 maps it to the last entry; pydicom's result is kept."""
    data = list(range(256))
    pds, rds = _vlut([(256, 0, 8, data)])
    arr = np.array([0, 255, 256, 300, 65535], dtype=np.uint16)
    got = same(P.apply_voi, R.apply_voi, arr, pds, rds)
    assert got.tolist() == [0, 255, 0, 44, 255]


def test_voi_lut_signed_first_mapped_and_int8_quirk():
    data = [(i * 13) % 65536 for i in range(4096)]
    pds, rds = _vlut([(4096, -2048, 16, data)], signed=1)
    for dt in ("i2", "i4", "i8", "f4", "f8"):
        arr = every_value(dt) if dt[0] == "i" else float_values(dt)
        same(P.apply_voi, R.apply_voi, arr, pds, rds)
    # int8 differences wrap in int8 before widening to uint16
    pds, rds = _vlut([(4096, -100, 16, data)], signed=1)
    same(P.apply_voi, R.apply_voi, every_value("i1"), pds, rds)


def test_voi_lut_first_map_outside_input_range():
    """numpy 2 makes pydicom raise OverflowError for a negative first mapped
    value with unsigned input; rapidicom subtracts exactly (numpy 1's result)."""
    data = list(range(1000, 5096))
    pds, rds = _vlut([(4096, -1024, 16, data)], signed=1)
    arr = np.array([0, 1, 3071, 3072, 60000], dtype=np.uint16)
    with pytest.raises(OverflowError):
        P.apply_voi(arr, pds)
    got = R.apply_voi(arr, rds)
    assert got.tolist() == [2024, 2025, 5095, 5095, 5095]


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_voi_lut_float_input(dtype):
    data = [(i * 13) % 4096 for i in range(4096)]
    pds, rds = _vlut([(4096, 10, 12, data)])
    with pytest.warns(UserWarning, match="float input"):
        got = R.apply_voi(float_values(dtype), rds)
    want = P.apply_voi(float_values(dtype), pds)
    assert_identical(want, got)
    pds, rds = _vlut([(256, 0, 8, list(range(256)))])
    same(P.apply_voi, R.apply_voi, float_values(dtype), pds, rds)


def test_voi_lut_descriptor_zero_is_65536_entries():
    data = [(i * 31) % 65536 for i in range(65536)]
    pds, rds = _vlut([(0, 0, 16, data)])
    for dt in ("u2", "i2", "u4", "i4"):
        same(P.apply_voi, R.apply_voi, every_value(dt), pds, rds)


def test_voi_lut_8_bit_in_ow():
    table = [(i * 7) % 256 for i in range(256)]
    pds, rds = _vlut([(256, 0, 8, table)])
    same(P.apply_voi, R.apply_voi, every_value("u2"), pds, rds)
    # longer OW data: pydicom reads the first entries (unpack_from)
    pds, rds = _vlut([(256, 0, 8, words(table) + bytes(40))])
    same(P.apply_voi, R.apply_voi, every_value("u2"), pds, rds)
    # packed two entries per word: pydicom cannot, rapidicom reads the bytes
    packed = bytes(table)
    pds, rds = _vlut([(256, 0, 8, packed)])
    with pytest.raises(struct.error):
        P.apply_voi(every_value("u1"), pds)
    assert_identical(np.array(table, np.uint8), R.apply_voi(every_value("u1"), rds))


def test_voi_lut_multiple_items_and_index():
    items = [(256, 0, 16, [(i * k) % 65536 for i in range(256)]) for k in (1, 3, 5)]
    pds, rds = _vlut(items)
    arr = every_value("u1")
    for index in (0, 1, 2, -1):
        same(P.apply_voi, R.apply_voi, arr, pds, rds, index=index)
        same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds, index=index)
    with pytest.raises(IndexError):
        R.apply_voi(arr, rds, index=3)


def test_voi_lut_unsupported_bits():
    pds, rds = _vlut([(256, 0, 9, list(range(256)))])
    with pytest.raises(NotImplementedError):
        P.apply_voi(every_value("u1"), pds)
    with pytest.raises(UnsupportedError):
        R.apply_voi(every_value("u1"), rds)


def test_voi_lut_short_ow_data():
    pds, rds = _vlut([(256, 0, 16, bytes(100))])
    with pytest.raises(struct.error):
        P.apply_voi(every_value("u1"), pds)
    with pytest.raises(InvalidDicomError, match="LUT Data holds 100 bytes"):
        R.apply_voi(every_value("u1"), rds)


def test_prefer_lut():
    pds, rds = _vlut([(256, 0, 16, [(i * 9) % 65536 for i in range(256)])],
                     bits_stored=8, WindowCenter=[100, 50], WindowWidth=[40, 300])
    arr = every_value("u1")
    lut = same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds, prefer_lut=True)
    win = same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds, prefer_lut=False)
    assert lut.dtype == np.uint16 and win.dtype == np.float64
    same(P.apply_voi_lut, R.apply_voi_lut, arr, pds, rds, prefer_lut=False, index=1)


def test_voi_lut_item_without_data_falls_back_to_window():
    item = Dataset()
    item.LUTDescriptor = [256, 0, 16]
    pds, rds = _vlut([item], bits_stored=8, WindowCenter=100, WindowWidth=40)
    got = same(P.apply_voi_lut, R.apply_voi_lut, every_value("u1"), pds, rds)
    assert got.dtype == np.float64


# ---------------------------------------------------------------------------
# Windowing
# ---------------------------------------------------------------------------

def _window(center, width, function=None, bits_stored=12, signed=0, **extra):
    ds = mono(bits_stored=bits_stored, signed=signed)
    ds.WindowCenter = center
    ds.WindowWidth = width
    if function is not None:
        ds.VOILUTFunction = function
    for k, v in extra.items():
        setattr(ds, k, v)
    return pair(ds)


@pytest.mark.parametrize("function", [None, "LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_windowing_functions(function, dtype):
    pds, rds = _window("300.5", "1000.25", function)
    arr = every_value(dtype) if dtype[0] in "ui" else float_values(dtype)
    got = same(P.apply_windowing, R.apply_windowing, arr, pds, rds)
    assert got.dtype == np.float64
    if arr.itemsize <= 2:
        # many 8/16-bit values go through a table of every value's result
        big = np.tile(arr, 200_000 // arr.size + 1)
        assert_identical(got, R.apply_windowing(big, rds)[:arr.size])
        same(P.apply_windowing, R.apply_windowing, big, pds, rds)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("signed,bits", [(0, 8), (0, 16), (1, 12), (1, 16)])
def test_windowing_ranges_and_rescale(function, signed, bits):
    dt = ("i" if signed else "u") + ("1" if bits == 8 else "2")
    for extra in ({}, {"RescaleSlope": "0.5", "RescaleIntercept": "-1024"}):
        pds, rds = _window(40, 400, function, bits_stored=bits, signed=signed, **extra)
        arr = every_value(dt)
        same(P.apply_windowing, R.apply_windowing, arr, pds, rds)
        m = P.apply_modality_lut(arr, pds)
        same(P.apply_voi_lut, R.apply_voi_lut, m, pds, rds)


def test_windowing_sigmoid_random_floats():
    assert _lut.exp_matches_numpy()
    pds, rds = _window(0.0, 7.3, "SIGMOID")
    rng = np.random.default_rng(3)
    arr = np.concatenate([rng.normal(0, 50, 200_000), rng.uniform(-5000, 5000, 50_000)])
    same(P.apply_windowing, R.apply_windowing, arr, pds, rds)


def test_windowing_function_names():
    for name in ("sigmoid", "Linear_Exact"):
        pds, rds = _window(100, 50, name)
        same(P.apply_windowing, R.apply_windowing, every_value("u2"), pds, rds)
    pds, rds = _window(100, 50, "GAMMA")
    for f in (P.apply_windowing, R.apply_windowing):
        with pytest.raises(ValueError, match="Unsupported .* 'GAMMA'"):
            f(every_value("u2"), pds if f is P.apply_windowing else rds)


@pytest.mark.parametrize("function,width", [("LINEAR", 0.5), ("LINEAR", 0),
                                            ("LINEAR_EXACT", 0), ("SIGMOID", -1)])
def test_windowing_bad_width(function, width):
    pds, rds = _window(100, width, function)
    with pytest.raises(ValueError, match="Window Width must be greater than"):
        P.apply_windowing(every_value("u2"), pds)
    with pytest.raises(InvalidDicomError, match="Window Width must be greater than"):
        R.apply_windowing(every_value("u2"), rds)


def test_windowing_width_one_linear():
    # LINEAR width 1: c - 0.5 is the only threshold
    pds, rds = _window(100, 1)
    same(P.apply_windowing, R.apply_windowing, every_value("u2"), pds, rds)
    same(P.apply_windowing, R.apply_windowing, float_values("f8"), pds, rds)


def test_windowing_multiple_windows_index():
    pds, rds = _window([100, 2000, -50.5], [50, 4000, 10], "LINEAR_EXACT", signed=1)
    arr = every_value("i2")
    for index in (0, 1, 2, -1):
        same(P.apply_windowing, R.apply_windowing, arr, pds, rds, index=index)
    # a single window ignores the index
    pds, rds = _window(100, 50)
    same(P.apply_windowing, R.apply_windowing, arr, pds, rds, index=5)


def test_windowing_with_modality_lut_range():
    ds = mono(bits_stored=12)
    ds.WindowCenter = 2000
    ds.WindowWidth = 1000
    ds.ModalityLUTSequence = Sequence([lut_item(4096, 0, 16, list(range(4096)))])
    pds, rds = pair(ds)
    m = P.apply_modality_lut(every_value("u2"), pds)
    same(P.apply_windowing, R.apply_windowing, m, pds, rds)
    same(P.apply_voi_lut, R.apply_voi_lut, m, pds, rds)


def test_windowing_needs_monochrome():
    ds = mono(photometric="RGB")
    ds.WindowCenter = 100
    ds.WindowWidth = 50
    pds, rds = pair(ds)
    for f, d in ((P.apply_windowing, pds), (R.apply_windowing, rds)):
        with pytest.raises(ValueError, match="MONOCHROME"):
            f(every_value("u1"), d)


def test_windowing_center_without_width():
    ds = mono()
    ds.WindowWidth = 50
    pds, rds = pair(ds)
    for f, d in ((P.apply_windowing, pds), (R.apply_windowing, rds)):
        with pytest.raises(KeyError):
            f(every_value("u1"), d)
    # apply_voi_lut needs both: nothing to apply
    arr = every_value("u1")
    assert R.apply_voi_lut(arr, rds) is arr
    assert P.apply_voi_lut(arr, pds) is arr


# ---------------------------------------------------------------------------
# Palettes
# ---------------------------------------------------------------------------

def _palette(nr, first, bits, r, g, b, a=None, segmented=False, ts=ExplicitVRLittleEndian,
             signed=0):
    ds = mono(bits_stored=16, signed=signed, photometric="PALETTE COLOR")
    vr = "SS" if first < 0 else "US"
    for c, v in zip(("Red", "Green", "Blue", "Alpha"), (r, g, b, a)):
        if c != "Alpha":
            ds.add_new(pydicom.datadict.tag_for_keyword(
                f"{c}PaletteColorLookupTableDescriptor"), vr, [nr, first, bits])
        if v is not None:
            kw = f"Segmented{c}PaletteColorLookupTableData" if segmented else \
                f"{c}PaletteColorLookupTableData"
            ds.add_new(pydicom.datadict.tag_for_keyword(kw), "OW", v)
    return pair(ds, ts)


def seg(values, bits=16, little=True) -> bytes:
    if bits == 8:
        return bytes(values)
    return words(values, little)


@pytest.mark.parametrize("bits", [8, 16])
def test_palette_plain(bits):
    n = 256
    mk = (lambda v: bytes(x % 256 for x in v)) if bits == 8 else words
    r, g, b = mk([i for i in range(n)]), mk([n - i for i in range(n)]), mk([i * 3 for i in range(n)])
    pds, rds = _palette(n, 0, bits, r, g, b)
    for dt in ("u1", "u2", "i2", "u4", "i4"):
        got = same(P.apply_color_lut, R.apply_palette, every_value(dt), pds, rds)
        assert got.shape[-1] == 3 and got.dtype == np.dtype(f"u{bits // 8}")


def test_palette_wraps_in_entry_type():
    """Values past an 8-bit palette wrap (pydicom); the standard clamps."""
    pds, rds = _palette(256, 0, 8, bytes(range(256)), bytes(range(256)), bytes(range(256)))
    got = same(P.apply_color_lut, R.apply_palette,
               np.array([255, 256, 300], np.uint16), pds, rds)
    assert got[:, 0].tolist() == [255, 0, 44]


def test_palette_alpha_first_map_and_signed():
    n = 100
    r, g, b, a = (words([(i * k) % 65536 for i in range(n)]) for k in (1, 2, 3, 4))
    pds, rds = _palette(n, 1024, 16, r, g, b, a)
    got = same(P.apply_color_lut, R.apply_palette, every_value("u2"), pds, rds)
    assert got.shape[-1] == 4
    pds, rds = _palette(n, -50, 16, r, g, b, signed=1)
    for dt in ("i1", "i2", "i4", "i8", "u8", "f4", "f8"):
        arr = every_value(dt) if dt[0] in "ui" else float_values(dt)
        same(P.apply_color_lut, R.apply_palette, arr, pds, rds)


def test_palette_8_bit_descriptor_16_bit_data():
    """Descriptor says 8 bits, data holds 16 per entry: uint16 out (pydicom)."""
    r = words([i * 257 for i in range(256)])
    pds, rds = _palette(256, 0, 8, r, r, r)
    got = same(P.apply_color_lut, R.apply_palette, every_value("u1"), pds, rds)
    assert got.dtype == np.uint16


def test_palette_big_endian_16_bit_data():
    """rapidicom reads 16-bit palette data in the dataset's byte order;
    pydicom reads it as little endian (wrong for Explicit VR Big Endian)."""
    vals = [i * 250 for i in range(256)]
    r = words(vals, little=False)
    pds, rds = _palette(256, 0, 16, r, r, r, ts=ExplicitVRBigEndian)
    arr = every_value("u1")
    got = R.apply_palette(arr, rds)
    assert_identical(np.repeat(np.array(vals, np.uint16)[:, None], 3, axis=1), got)
    assert not np.array_equal(P.apply_color_lut(arr, pds), got)


@pytest.mark.parametrize("bad", ["depth", "length", "missing"])
def test_palette_malformed(bad):
    r = words(range(256))
    if bad == "depth":
        pds, rds = _palette(256, 0, 16, r + bytes(256), r, r)   # 24 bits per entry
        perr = (ValueError, TypeError)
    elif bad == "length":
        pds, rds = _palette(256, 0, 16, r, r[:-2], r)
        perr = (ValueError,)
    else:
        pds, rds = _palette(256, 0, 16, r, None, r)
        perr = (AttributeError,)
    with pytest.raises(perr):
        P.apply_color_lut(every_value("u1"), pds)
    with pytest.raises(InvalidDicomError):
        R.apply_palette(every_value("u1"), rds)


def test_palette_errors():
    with pytest.raises(ValueError, match="Either 'ds' or 'palette'"):
        R.apply_palette(every_value("u1"))
    with pytest.raises(ValueError, match="Unknown palette"):
        R.apply_palette(every_value("u1"), palette="RAINBOW")
    with pytest.raises(ValueError, match="Unknown palette"):
        R.apply_palette(every_value("u1"), palette="1.2.3.4")
    pds, rds = pair(mono())
    with pytest.raises(ValueError, match="No suitable Palette"):
        R.apply_palette(every_value("u1"), rds)


# Segmented palette data: (name, entry bits, words)
SEGMENTS = [
    ("discrete", 16, [0, 3, 10, 20, 30]),
    ("discrete_linear", 16, [0, 1, 0, 1, 255, 65535]),
    ("linear_rounding", 16, [0, 1, 100, 1, 7, 0, 1, 3, 9, 1, 8, 13, 1, 1, 14, 1, 5, 20]),
    ("linear_flat", 16, [0, 2, 7, 7, 1, 10, 7, 1, 0, 7, 1, 3, 9]),
    ("indirect", 16, [0, 2, 5, 6, 1, 4, 20, 2, 2, 0, 0, 1, 3, 0]),
    ("indirect_offset", 16, [0, 1, 9, 1, 3, 30, 0, 2, 1, 2, 2, 1, 6, 0, 1, 2, 100]),
    ("indirect_all", 16, [0, 1, 50, 2, 0, 7, 0, 0, 2, 7, 8]),
    ("trailing_pad", 16, [0, 2, 1, 2, 1, 3, 9, 0]),
    ("discrete_cut_short", 16, [0, 1, 4, 0, 10, 1, 2]),
    ("fall_8", 8, [0, 1, 255, 1, 255, 255]),
    ("odd_8_padded", 8, [0, 3, 1, 2, 3]),
    ("winter_8", 8, [0, 1, 0, 1, 127, 0, 1, 128, 127, 0]),
    ("indirect_8", 8, [0, 2, 5, 6, 1, 4, 20, 2, 2, 0, 0, 0, 0, 1, 3, 0]),
    ("indirect_8_offset", 8, [0, 1, 9, 1, 3, 30, 0, 2, 1, 2, 2, 1, 6, 0, 0, 0]),
]


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ExplicitVRBigEndian])
@pytest.mark.parametrize("name,bits,values", SEGMENTS, ids=[s[0] for s in SEGMENTS])
def test_segmented_palette(name, bits, values, ts):
    little = ts != ExplicitVRBigEndian
    data = seg(values, bits, little)
    pds, rds = _palette(0, 0, bits, data, data, data, segmented=True, ts=ts)
    want_lut = P._expand_segmented_lut(
        struct.unpack(("<" if little else ">") + f"{len(data) * 8 // bits}"
                      + ("B" if bits == 8 else "H"), data),
        ("<" if little else ">") + ("B" if bits == 8 else "H"))
    got_lut = _lut.expand_segmented(data, bits // 8, little)
    assert got_lut.tolist() == want_lut
    arr = np.arange(len(want_lut), dtype=np.uint16)
    same(P.apply_color_lut, R.apply_palette, arr, pds, rds)
    same(P.apply_color_lut, R.apply_palette, every_value("u2"), pds, rds)


def test_segmented_palette_real_data():
    """gdcm-US-ALOKA-16: large 16-bit segmented tables (LE and BE files)."""
    for name in ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"):
        pds = pydicom.dcmread(get_testdata_file(name))
        rds = rapidicom.open(get_testdata_file(name))
        same(P.apply_color_lut, R.apply_palette, every_value("u2"), pds, rds)


def test_segmented_linear_last_value_zero_quirk():
    """pydicom tests the previous value for truth, so an indirect copy of a
    linear segment after a 0 fails; rapidicom does the same."""
    values = [0, 1, 0, 2, 1, 7, 0, 1, 4, 100]
    data = seg(values)
    with pytest.raises(ValueError, match="linear segment"):
        P._expand_segmented_lut(struct.unpack("<10H", data), "<H")
    with pytest.raises(InvalidDicomError, match="linear segment"):
        _lut.expand_segmented(data, 2, True)
    # with a non-zero previous value it works
    values[2] = 3
    data = seg(values)
    assert _lut.expand_segmented(data, 2, True).tolist() == P._expand_segmented_lut(
        struct.unpack("<10H", data), "<H")


@pytest.mark.parametrize("values,match", [
    ([1, 4, 100], "first segment cannot be a linear"),
    ([2, 1, 0, 0], "first segment cannot be an indirect"),
    ([0, 1, 5, 3, 1, 0], "unknown segment type '3'"),
    ([0, 1, 5, 1, 4], "cut short"),
    ([0, 1, 5, 2, 1, 0], "cut short"),
    ([0, 1, 5, 1, 0, 9], "length 0"),
])
def test_segmented_malformed(values, match):
    data = seg(values)
    fmt = f"<{len(values)}H"
    with pytest.raises((ValueError, IndexError, ZeroDivisionError)):
        P._expand_segmented_lut(struct.unpack(fmt, data), "<H")
    with pytest.raises(InvalidDicomError, match=match):
        _lut.expand_segmented(data, 2, True)
    pds, rds = _palette(0, 0, 16, data, data, data, segmented=True)
    with pytest.raises(InvalidDicomError, match=match):
        R.apply_palette(every_value("u1"), rds)


def test_segmented_limits():
    # an indirect segment that copies itself: pydicom recurses until
    # RecursionError, rapidicom stops at its depth limit
    data = seg([0, 1, 5, 2, 2, 0, 0])
    with pytest.raises(RecursionError):
        P._expand_segmented_lut(struct.unpack("<7H", data), "<H")
    with pytest.raises(LimitExceededError, match="nested deeper"):
        _lut.expand_segmented(data, 2, True)
    # 300 linear segments of 65535 entries: past the 16 Mi entry limit
    data = seg([0, 1, 0] + [1, 65535, 1, 1, 65535, 0] * 150)
    with pytest.raises(LimitExceededError, match="expands past"):
        _lut.expand_segmented(data, 2, True)
    # odd number of bytes for 16-bit entries
    with pytest.raises(InvalidDicomError, match="whole number"):
        _lut.expand_segmented(b"\x00\x00\x01", 2, True)


def test_segmented_shorter_than_descriptor():
    """The expanded LUT may be shorter than the descriptor's entries: an
    error only for pixels past its end (pydicom: IndexError)."""
    data = seg([0, 3, 10, 20, 30])
    pds, rds = _palette(256, 0, 16, data, data, data, segmented=True)
    same(P.apply_color_lut, R.apply_palette, np.arange(3, dtype=np.uint8), pds, rds)
    with pytest.raises(IndexError):
        P.apply_color_lut(np.arange(4, dtype=np.uint8), pds)
    with pytest.raises(InvalidDicomError, match="maps to LUT entry 3"):
        R.apply_palette(np.arange(4, dtype=np.uint8), rds)


WELL_KNOWN = ["HOT_IRON", "PET", "HOT_METAL_BLUE", "PET_20_STEP", "SPRING", "SUMMER",
              "FALL", "WINTER"]


@pytest.mark.parametrize("name", WELL_KNOWN)
def test_well_known_palettes(name):
    uid = R._PALETTE_NAMES[name]
    arr = every_value("u2")
    # by UID pydicom and rapidicom agree
    want = P.apply_color_lut(arr, palette=uid)
    assert_identical(want, R.apply_palette(arr, palette=uid))
    assert_identical(want, R.apply_palette(arr, palette=name))
    # and with the palette's dataset
    path = pydicom.data.get_palette_files(R._PALETTE_FILES[uid])[0]
    assert_identical(want, R.apply_palette(arr, rapidicom.open(path)))
    if name in ("FALL", "WINTER"):
        # pydicom maps the names FALL and WINTER to each other's UID
        # (PS3.6 Annex B: 1.2.840.10008.1.5.7 is FALL, .8 is WINTER)
        assert not np.array_equal(P.apply_color_lut(arr, palette=name), want)
        assert rapidicom.open(path).ContentLabel.startswith(name)
    else:
        assert_identical(P.apply_color_lut(arr, palette=name), want)


# ---------------------------------------------------------------------------
# Input handling, kernels and threads
# ---------------------------------------------------------------------------

def test_unsupported_dtype():
    ds = mono()
    ds.RescaleSlope = 2
    ds.RescaleIntercept = 1
    _, rds = pair(ds)
    for arr in (np.zeros(3, bool), np.zeros(3, np.float16), np.zeros(3, complex)):
        with pytest.raises(TypeError, match="not supported"):
            R.apply_modality_lut(arr, rds)


def test_small_and_large_16_bit_inputs_take_both_paths():
    """The index table (>= 16384 values) and the direct loop agree."""
    data = [(i * 17) % 65536 for i in range(4096)]
    pds, rds = _vlut([(4096, -2000, 12, data)], signed=1)
    arr = every_value("i2")
    full = R.apply_voi(arr, rds)
    parts = np.concatenate([R.apply_voi(arr[i:i + 1000], rds)
                            for i in range(0, arr.size, 1000)])
    assert_identical(full, parts)
    assert_identical(P.apply_voi(arr, pds), full)


def test_empty_and_multidimensional_inputs():
    ds = mono(bits_stored=8)
    ds.WindowCenter = 100
    ds.WindowWidth = 50
    ds.RescaleSlope = 2
    ds.RescaleIntercept = 1
    ds.VOILUTSequence = Sequence([lut_item(256, 0, 16, list(range(256)))])
    pds, rds = pair(ds)
    for arr in (np.zeros((0, 4), np.uint8), every_value("u1").reshape(2, 2, 8, 8)):
        same(P.apply_modality_lut, R.apply_modality_lut, arr, pds, rds)
        same(P.apply_windowing, R.apply_windowing, arr, pds, rds)
        same(P.apply_voi, R.apply_voi, arr, pds, rds)


def test_kernels_reject_short_outputs():
    src = np.arange(10, dtype=np.uint16)
    out = np.empty(9, np.float64)
    with pytest.raises(InvalidDicomError, match="output"):
        _lut.rescale(src.view(np.uint8), _lut.DTYPES[("u", 2)], 10, 1.0, 0.0,
                     out.view(np.uint8))
    lut = np.arange(4, dtype=np.uint16)
    with pytest.raises(InvalidDicomError, match="too small"):
        _lut.apply(src.view(np.uint8), _lut.DTYPES[("u", 2)], 10, _lut.RULE_VOI, 16, 0, 4,
                   (lut.view(np.uint8),), 4, 2, np.empty(19, np.uint8))
    with pytest.raises(ValueError, match="holds"):
        _lut.apply(src.view(np.uint8), _lut.DTYPES[("u", 2)], 10, _lut.RULE_VOI, 16, 0, 8,
                   (lut.view(np.uint8),), 8, 2, np.empty(20, np.uint8))


def test_threads_share_datasets():
    ds = mono(signed=1)
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.VOILUTFunction = "SIGMOID"
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    pds, rds = pair(ds)
    arr = np.tile(every_value("i2"), 8)
    want = P.apply_windowing(P.apply_modality_lut(arr, pds), pds)
    results = [None] * 8

    def work(k):
        results[k] = R.apply_windowing(R.apply_modality_lut(arr, rds), rds)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        assert_identical(want, got)
