"""DICOM JSON Model output (PS3.18 Annex F) against pydicom 3.

For every corpus file rapidicom opens in strict mode:

1. our JSON is valid JSON (no NaN), every object's keys are 8 uppercase hex
   digits in ascending order, and every element has exactly the keys the
   model allows;
2. ``pydicom.Dataset.from_json(our_json)`` equals ``pydicom.dcmread(path)``
   element by element (tag, VR, value; the File Meta too), and
3. our dict equals ``pydicom_ds.to_json_dict()`` once pydicom's output is
   brought in line with the standard where the two differ (see
   ``_conform_pydicom``: each difference names the clause that decides it).

Small hand-built files cover what the corpus lacks (blank DS items, PN with
an empty first group, bulk data handlers).
"""
from __future__ import annotations

import array
import base64
import copy
import json
import logging
import re
import struct
import warnings

import pytest
from pydicom.dataset import Dataset as PydicomDataset

import rapidicom
from rapidicom._json import dataset_to_json
from corpus import dicom_files, file_id
from parity import _equal, _norm, _pydicom_element, read_reference

FILES = dicom_files()

# Elements pydicom cannot put into JSON or read back from ours.
# badVR.dcm has Number of Frames (0028,0008) IS "1A".  Table F.2.3-1 lets
# IS be a JSON String "to preserve the original format", so we write "1A";
# pydicom's to_json_dict raises ValueError (int("1A")), and so does its
# from_json reading our string back.  Both sides are compared without it.
PYDICOM_CANNOT_CONVERT = {
    "test_files/badVR.dcm": {0x00280008: {"vr": "IS", "Value": ["1A"]}},
}

_WORD_SIZE = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_KEY = re.compile(r"^[0-9A-F]{8}$")
_VALUE_KEYS = {"Value", "InlineBinary", "BulkDataURI"}


@pytest.fixture(autouse=True)
def _quiet():
    """pydicom logs and warns about every odd value it reads back."""
    logging.disable(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _is_group_length(tag: int) -> bool:
    return tag & 0xFFFF == 0


def _swap(data: bytes, size: int) -> bytes:
    """Reverse every `size`-byte word (independent of the code under test)."""
    whole = len(data) - len(data) % size
    words = array.array({2: "H", 4: "I", 8: "Q"}[size])
    assert words.itemsize == size
    words.frombytes(data[:whole])
    words.byteswap()
    return words.tobytes() + data[whole:]


def check_structure(obj: dict, where: str = "") -> None:
    """Keys ascending 8-hex-digit tags; one value key at most; no group length."""
    keys = list(obj)
    assert keys == sorted(keys), f"{where}: keys not ascending"
    for key, node in obj.items():
        assert _KEY.match(key), f"{where}{key}: bad key"
        assert not _is_group_length(int(key, 16)), f"{where}{key}: group length"
        assert isinstance(node["vr"], str) and len(node["vr"]) == 2, f"{where}{key}"
        extra = set(node) - {"vr"}
        assert len(extra) <= 1 and extra <= _VALUE_KEYS, f"{where}{key}: {extra}"
        value = node.get("Value")
        if value is not None:
            assert isinstance(value, list) and value, f"{where}{key}: empty Value"
        if node["vr"] == "SQ" and value:
            for i, item in enumerate(value):
                check_structure(item, f"{where}{key}[{i}].")
        if node["vr"] == "PN" and value:
            for name in value:
                assert name is None or (name and set(name) <= {
                    "Alphabetic", "Ideographic", "Phonetic"} and all(name.values()))


def compare_pydicom(back: PydicomDataset, ref: PydicomDataset, big_endian: bool,
                    path: str = "", skip: frozenset[int] = frozenset()) -> list[str]:
    """Differences between pydicom's reading of our JSON and of the file.

    Values are normalised with tests/parity.py.  Group lengths are not in
    the JSON model (F.2.2); OW/OF/OL/OD/OV of a big endian file are little
    endian in ours (F.2.7), so the reference is swapped to match.
    """
    diffs = []
    ref_tags = {int(t) for t in ref.keys()} - skip
    ref_tags = {t for t in ref_tags if not _is_group_length(t)}
    back_tags = {int(t) for t in back.keys()}
    if ref_tags != back_tags:
        diffs.append(f"{path}: tags differ; missing {sorted(map(hex, ref_tags - back_tags))}"
                     f", extra {sorted(map(hex, back_tags - ref_tags))}")
    for tag in sorted(ref_tags & back_tags):
        where = f"{path}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        vr, value = _pydicom_element(ref, tag)
        back_vr, back_value = _pydicom_element(back, tag)
        if vr == "<error>" or back_vr == "<error>":
            diffs.append(f"{where}: pydicom error {value!r} / {back_value!r}")
            continue
        if vr != back_vr:
            diffs.append(f"{where}: VR {back_vr} != {vr}")
            continue
        if vr == "SQ":
            if len(value) != len(back_value):
                diffs.append(f"{where}: {len(back_value)} items != {len(value)}")
                continue
            for i, (a, b) in enumerate(zip(back_value, value)):
                diffs.extend(compare_pydicom(a, b, big_endian, f"{where}[{i}]."))
            continue
        a, b = _norm(back_value), _norm(value)
        if isinstance(b, bytes) and big_endian and vr in _WORD_SIZE:
            b = _swap(b, _WORD_SIZE[vr])
        # An empty binary value reads back as b"" from JSON and None from a file.
        if a in (None, b"") and b in (None, b""):
            continue
        if not _equal(a, b):
            diffs.append(f"{where} {vr}: {a!r:.80} != {b!r:.80}")
    return diffs


def _conform_pydicom(obj: dict, big_endian: bool) -> dict:
    """pydicom's to_json_dict() with the standard's rules applied where it differs.

    Each rule is a decision for the standard against pydicom 3.0:
    - F.2.2: "Group Length (gggg,0000) attributes shall not be included";
      pydicom writes them.
    - F.2.2/F.2.5: an empty attribute has no "Value"; pydicom writes
      "Value": [] for a sequence without items.
    - F.2.5: an empty value of a multi-valued attribute is null; pydicom
      writes "" for text VRs.
    - F.2.2: only "the non-empty name components" of a PN value are written;
      pydicom always writes "Alphabetic", even as "".
    - F.2.7: "All rules (e.g., byte ordering and swapping) in DICOM PS3.5
      apply", and the JSON carries no transfer syntax, so OW/OF/OL/OD/OV of a
      big endian file are written little endian; pydicom copies the bytes.
    """
    out = {}
    for key, node in obj.items():
        if _is_group_length(int(key, 16)):
            continue
        node = dict(node)
        vr = node["vr"]
        value = node.get("Value")
        if vr == "SQ" and value is not None:
            node["Value"] = [_conform_pydicom(item, big_endian) for item in value]
        elif vr == "PN" and value is not None:
            names = []
            for name in value:
                kept = {k: v for k, v in (name or {}).items() if v}
                names.append(kept or None)
            node["Value"] = names
        elif value is not None:
            node["Value"] = [None if v == "" else v for v in value]
        if node.get("Value") in ([], [None]):
            del node["Value"]
        if "InlineBinary" in node and big_endian and vr in _WORD_SIZE:
            raw = _swap(base64.b64decode(node["InlineBinary"]), _WORD_SIZE[vr])
            node["InlineBinary"] = base64.b64encode(raw).decode("ascii")
        out[key] = node
    return out


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", FILES, ids=[file_id(p) for p in FILES])
def test_corpus_json(path):
    fid = file_id(path)
    try:
        ours = rapidicom.open(path)
    except rapidicom.TruncatedError as exc:
        # Strict mode refuses these (see test_parity.TRUNCATED); no JSON to check.
        pytest.skip(f"rapidicom strict mode: {exc}")
    theirs = read_reference(path, force=True)
    big_endian = not ours.is_little_endian

    our_json = dataset_to_json(ours)
    our_meta = dataset_to_json(ours.meta)
    for obj in (our_json, our_meta):
        check_structure(obj)
        assert json.loads(json.dumps(obj, allow_nan=False)) == obj
    assert all(key.startswith("0002") for key in our_meta)

    # 1. pydicom reads our JSON back to the file's elements.
    cannot = PYDICOM_CANNOT_CONVERT.get(fid, {})
    readable = dict(our_json)
    for tag, expected in cannot.items():
        assert readable.pop(f"{tag:08X}") == expected
    back = PydicomDataset.from_json(readable)
    diffs = compare_pydicom(back, theirs, big_endian, skip=frozenset(cannot))
    if theirs.file_meta:
        back_meta = PydicomDataset.from_json(our_meta)
        diffs += compare_pydicom(back_meta, theirs.file_meta, False, "meta:")
    else:
        assert our_meta == {}
    assert not diffs, "\n".join(diffs[:30])

    # 2. Our dict is pydicom's, corrected to the standard.
    reference = copy.copy(theirs)
    for tag in cannot:
        del reference[tag]
    expected = _conform_pydicom(reference.to_json_dict(), big_endian)
    assert json.dumps(readable, sort_keys=True) == json.dumps(expected, sort_keys=True)
    expected_meta = _conform_pydicom(theirs.file_meta.to_json_dict(), False)
    assert json.dumps(our_meta, sort_keys=True) == json.dumps(expected_meta, sort_keys=True)


def test_pydicom_cannot_convert_is_real():
    """The exception above is pydicom's: to_json_dict raises on the file."""
    from pydicom.data import get_testdata_file
    ds = read_reference(get_testdata_file("badVR.dcm"))
    with pytest.raises(ValueError):
        ds.to_json_dict()


def test_dataset_method_matches():
    from pydicom.data import get_testdata_file
    ds = rapidicom.open(get_testdata_file("rtplan.dcm"))
    assert ds.to_json() == dataset_to_json(ds)
    assert ds.meta.to_json() == dataset_to_json(ds.meta)


# ---------------------------------------------------------------------------
# Hand-built cases
# ---------------------------------------------------------------------------

def _element(tag: int, vr: str, value: bytes) -> bytes:
    """One Explicit VR Little Endian element with a defined length."""
    if len(value) % 2:
        value += b" " if vr not in ("OB", "UN", "UI") else b"\0"
    head = struct.pack("<HH2s", tag >> 16, tag & 0xFFFF, vr.encode())
    if vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"):
        return head + struct.pack("<HI", 0, len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _item(*elements: bytes) -> bytes:
    body = b"".join(elements)
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body


def _file(*elements: bytes) -> bytes:
    """A Part 10 file: preamble, 'DICM', File Meta (Explicit VR LE), dataset."""
    meta_body = (_element(0x00020001, "OB", b"\0\1")
                 + _element(0x00020010, "UI", b"1.2.840.10008.1.2.1"))
    meta = _element(0x00020000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    return b"\0" * 128 + b"DICM" + meta + b"".join(elements)


def test_meta_group():
    ds = rapidicom.open(_file(_element(0x00100020, "LO", b"ID1")))
    assert dataset_to_json(ds.meta) == {
        # (0002,0000) is a group length: not in the model (F.2.2).
        "00020001": {"vr": "OB", "InlineBinary": "AAE="},
        "00020010": {"vr": "UI", "Value": ["1.2.840.10008.1.2.1"]},
    }


def test_empty_and_multi_values():
    data = _file(
        _element(0x00080005, "CS", b"ISO_IR 192"),            # UTF-8
        _element(0x00080008, "CS", b"ORIGINAL\\\\AXIAL"),     # middle value empty
        _element(0x00080050, "SH", b""),                      # empty attribute
        _element(0x00081111, "SQ", b""),                      # SQ without items
        _element(0x00081140, "SQ", _item() + _item(_element(0x00081150, "UI", b"1.2"))),
        _element(0x00100010, "PN", b"=\xe5\xb1\xb1"),          # only an Ideographic group
        _element(0x00101001, "PN", b"A^B\\\\C^D"),            # empty middle name
        _element(0x00181063, "DS", b"1.5\\ \\2e1"),            # blank middle DS item
        _element(0x00200013, "IS", b" 7 "),
        _element(0x00209165, "AT", struct.pack("<HHHH", 0x0018, 0x1063, 0x0020, 0x0013)),
        _element(0x00280010, "US", struct.pack("<H", 4)),
        _element(0x00280030, "DS", b"1e999\\0.5"),             # not finite as a float
        _element(0x00281050, "DS", b"  "),                     # blank: empty
    )
    out = dataset_to_json(rapidicom.open(data))
    assert out["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", None, "AXIAL"]}
    assert out["00080050"] == {"vr": "SH"}
    assert out["00081111"] == {"vr": "SQ"}
    assert out["00081140"] == {"vr": "SQ", "Value": [
        {}, {"00081150": {"vr": "UI", "Value": ["1.2"]}}]}
    assert out["00100010"]["Value"] == [{"Ideographic": "\u5c71"}]
    assert out["00101001"]["Value"] == [{"Alphabetic": "A^B"}, None, {"Alphabetic": "C^D"}]
    assert out["00181063"] == {"vr": "DS", "Value": [1.5, None, 20.0]}
    assert out["00200013"] == {"vr": "IS", "Value": [7]}
    assert out["00209165"] == {"vr": "AT", "Value": ["00181063", "00200013"]}
    assert out["00280010"] == {"vr": "US", "Value": [4]}
    assert out["00280030"] == {"vr": "DS", "Value": ["1e999", 0.5]}
    assert out["00281050"] == {"vr": "DS"}
    json.dumps(out, allow_nan=False)
    # pydicom reads the nulls back as empty values.
    back = PydicomDataset.from_json(out)
    assert list(back.ImageType) == ["ORIGINAL", "", "AXIAL"]
    assert back.PatientName == "=\u5c71"


def test_bulk_data_threshold():
    data = _file(_element(0x00091010, "OB", bytes(range(40))),
                 _element(0x00091011, "OB", b"\1\2"))
    ds = rapidicom.open(data)
    inline = dataset_to_json(ds)
    assert base64.b64decode(inline["00091010"]["InlineBinary"]) == bytes(range(40))
    # As in pydicom, a threshold without a handler changes nothing: leaving
    # the value out would make the element read back as empty (F.2.5).
    assert dataset_to_json(ds, bulk_data_threshold=8) == inline
    seen = []

    def handler(element):
        seen.append(element.tag)
        return f"https://example.invalid/bulk/{element.tag:08X}"

    out = dataset_to_json(ds, 8, bulk_data_element_handler=handler)
    # threshold 8 base64 characters = 6 bytes, as pydicom counts.
    assert out["00091010"] == {"vr": "OB",
                               "BulkDataURI": "https://example.invalid/bulk/00091010"}
    assert out["00091011"] == inline["00091011"]
    assert seen == [0x00091010]
    # Default threshold with a handler: 1024 base64 characters (768 bytes).
    assert dataset_to_json(ds, bulk_data_element_handler=handler) == inline
