"""The public Dataset / Element contract of DESIGN.md, on real corpus files."""
from __future__ import annotations

import gc
import io
import pathlib
import weakref

import pydicom
import pytest

import rapidicom
from corpus import PYDICOM_DATA

CT = PYDICOM_DATA / "test_files" / "CT_small.dcm"
BIG_ENDIAN = PYDICOM_DATA / "test_files" / "MR_small_bigendian.dcm"
DEFLATED = PYDICOM_DATA / "test_files" / "image_dfl.dcm"
PRIVATE_SQ = PYDICOM_DATA / "test_files" / "nested_priv_SQ.dcm"
JPEG = PYDICOM_DATA / "test_files" / "JPEG2000.dcm"


@pytest.mark.parametrize("make_source", [
    lambda p: str(p),
    lambda p: pathlib.Path(p),
    lambda p: p.read_bytes(),
    lambda p: bytearray(p.read_bytes()),
    lambda p: memoryview(p.read_bytes()),
    lambda p: open(p, "rb"),
    lambda p: io.BytesIO(p.read_bytes()),
], ids=["str", "Path", "bytes", "bytearray", "memoryview", "file", "BytesIO"])
def test_open_every_source_kind(make_source):
    source = make_source(CT)
    ds = rapidicom.open(source)
    assert ds.PatientName == "CompressedSamples^CT1"
    assert ds.Rows == 128
    if hasattr(source, "close"):
        source.close()


def test_open_rejects_other_types():
    with pytest.raises(TypeError):
        rapidicom.open(12345)


def test_missing_file_raises_oserror():
    with pytest.raises(FileNotFoundError):
        rapidicom.open("/nonexistent/file.dcm")


def test_access_by_keyword_tag_and_pair():
    ds = rapidicom.open(CT)
    assert ds["PatientID"] == ds[0x00100020] == ds[(0x0010, 0x0020)] == ds.PatientID == "1CT1"
    assert ds.get("PatientID") == "1CT1"
    assert ds.get("NotAKeyword", 7) == 7
    assert ds.get(0x00991234) is None
    assert "PixelData" in ds and 0x7FE00010 in ds and (0x7FE0, 0x0010) in ds
    assert "WindowCenter" not in ds and "NoSuchKeyword" not in ds
    with pytest.raises(KeyError):
        ds["WindowCenter"]
    with pytest.raises(AttributeError):
        ds.WindowCenter
    with pytest.raises(TypeError):
        ds[1.5]


def test_iteration_is_file_order_and_matches_pydicom_tags():
    ds = rapidicom.open(CT)
    ref = pydicom.dcmread(CT)
    tags = [el.tag for el in ds]
    assert tags == ds.tags()
    assert len(ds) == len(tags) == len(ref)
    assert tags == sorted(int(t) for t in ref.keys())


def test_element_fields():
    ds = rapidicom.open(CT)
    el = ds.element("Rows")
    assert (el.tag, el.vr, el.keyword, el.length, el.value) == (0x00280010, "US", "Rows", 2, 128)
    assert el.name == "Rows"
    raw = CT.read_bytes()
    assert raw[el.offset:el.offset + 4] == b"\x28\x00\x10\x00"
    assert bytes(el.raw) == raw[el.value_offset:el.value_offset + 2]
    px = ds.element("PixelData")
    assert px.vr == "OW" and px.length == 128 * 128 * 2
    assert bytes(ds.PixelData) == bytes(pydicom.dcmread(CT).PixelData)


def test_meta_and_transfer_syntax():
    ds = rapidicom.open(CT)
    assert ds.transfer_syntax == "1.2.840.10008.1.2.1"
    assert ds.meta.TransferSyntaxUID == ds.transfer_syntax
    assert 0x00020010 not in ds
    assert ds.preamble is not None and len(ds.preamble) == 128
    big = rapidicom.open(BIG_ENDIAN)
    assert big.transfer_syntax == "1.2.840.10008.1.2.2" and not big.is_little_endian
    assert big.Rows == pydicom.dcmread(BIG_ENDIAN).Rows


def test_deflated_dataset_is_inflated_once():
    ds = rapidicom.open(DEFLATED)
    ref = pydicom.dcmread(DEFLATED)
    assert ds.transfer_syntax == "1.2.840.10008.1.2.1.99"
    assert bytes(ds.PixelData) == bytes(ref.PixelData)


def test_private_sequence_is_parsed_on_demand():
    ds = rapidicom.open(PRIVATE_SQ)
    ref = pydicom.dcmread(PRIVATE_SQ)
    ours = [el for el in ds if el.vr == "SQ"]
    assert ours, "nested_priv_SQ.dcm holds a private sequence"
    for el in ours:
        assert len(el.value) == len(ref[el.tag].value)


def test_encapsulated_fragments_are_recorded_not_copied():
    ds = rapidicom.open(JPEG)
    el = ds.element("PixelData")
    assert el.is_undefined_length and el.vr == "OB"
    frags = el.fragments
    ref = pydicom.encaps.parse_fragments(pydicom.dcmread(JPEG).PixelData)
    assert len(frags) == ref[0]
    raw = JPEG.read_bytes()
    assert [o for o, _ in frags[1:]] == [el.value_offset + 8 + off for off in ref[1][1:]]


def test_values_outlive_the_dataset():
    ds = rapidicom.open(CT)
    owner = weakref.ref(ds.buffer.obj)
    pixels = ds.PixelData
    items = ds.OtherPatientIDsSequence
    expected = bytes(pixels)
    del ds
    gc.collect()
    assert owner() is not None  # the view keeps the memory alive
    assert bytes(pixels) == expected
    assert items[0].PatientID == pydicom.dcmread(CT).OtherPatientIDsSequence[0].PatientID
    del pixels, items
    gc.collect()
    assert owner() is None  # and nothing else does


def test_close_keeps_views_valid():
    with rapidicom.open(CT) as ds:
        pixels = ds.PixelData
    expected = bytes(pydicom.dcmread(CT).PixelData)
    assert bytes(pixels) == expected


def test_bytes_values_are_read_only():
    # bytes, not bytearray: CPython 3.11 leaks an export of the underlying
    # bytearray when a write to a read-only memoryview fails.
    ds = rapidicom.open(CT.read_bytes())
    with pytest.raises(TypeError):
        ds.PixelData[0] = 1


def test_objects_are_created_by_open_only():
    with pytest.raises(TypeError):
        rapidicom.Dataset()
    with pytest.raises(TypeError):
        rapidicom.Element()


def test_dictionary_helpers():
    assert rapidicom.tag_for_keyword("PatientName") == 0x00100010
    assert rapidicom.keyword_for_tag(0x00100010) == "PatientName"
    assert rapidicom.dictionary_vr(0x00280106) == "US or SS"
    assert rapidicom.dictionary_vr(0x60023000) == "OB or OW"
    assert rapidicom.tag_for_keyword("NoSuchThing") is None


def test_errors_carry_offset_and_tag():
    data = CT.read_bytes()
    with pytest.raises(rapidicom.TruncatedError) as info:
        rapidicom.open(data[:-100])
    err = info.value
    assert isinstance(err, rapidicom.DicomError) and isinstance(err, ValueError)
    assert err.tag == 0xFFFCFFFC  # the trailing padding element lost its end
    assert err.offset == data.rfind(b"\xfc\xff\xfc\xff")
    assert "offset" in str(err) and "(FFFC,FFFC)" in str(err)


def test_memory_is_freed_without_the_garbage_collector():
    """No reference cycle: a dataset's memory goes as soon as the last view
    does, even with the cycle collector off (large mapped files must not
    wait for a collection)."""
    gc.disable()
    try:
        ds = rapidicom.open(CT)
        pixels = ds.PixelData
        owner = weakref.ref(ds.buffer.obj)
        ds.pixels.frame(0)
        del ds, pixels
        assert owner() is None
    finally:
        gc.enable()
