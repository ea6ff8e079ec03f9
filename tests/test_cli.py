"""``rapidicom dump`` run as a subprocess (``python -m rapidicom``), checked
against pydicom's reading of the same files."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pydicom.encaps
import pytest
from pydicom.data import get_testdata_file

from corpus import PYDICOM_DATA
from parity import read_reference

LINE = re.compile(r"^(?P<indent> *)\((?P<group>[0-9a-f]{4}),(?P<elem>[0-9a-f]{4})\) "
                  r"(?P<vr>[A-Z]{2}|na|pi) (?P<value>.*?) +# +(?P<length>\d+|u/l), "
                  r"(?P<vm>\d+) (?P<keyword>.+)$")


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "rapidicom", *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=60)


def dump(path: str, *options: str) -> list[dict]:
    """The element lines of ``rapidicom dump``, parsed; checks the exit status."""
    result = run("dump", *options, path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = []
    for text in result.stdout.splitlines():
        if not text or text.lstrip().startswith("#"):
            continue
        match = LINE.match(text)
        assert match, f"unparsed line: {text!r}"
        d = match.groupdict()
        d["tag"] = int(d["group"] + d["elem"], 16)
        d["depth"] = len(d["indent"]) // 2
        d["text"] = text
        lines.append(d)
    return lines


def top_level(lines: list[dict]) -> list[int]:
    return [d["tag"] for d in lines if d["depth"] == 0 and d["tag"] >> 16 != 0xFFFE]


def find(lines: list[dict], keyword: str) -> dict:
    return next(d for d in lines if d["keyword"] == keyword)


def count_items(ds) -> int:
    """Every sequence item in `ds`, at any depth (pydicom)."""
    total = 0
    for elem in ds:
        if elem.VR == "SQ":
            total += len(elem.value)
            total += sum(count_items(item) for item in elem.value)
    return total


# ---------------------------------------------------------------------------

def test_ct_small():
    path = get_testdata_file("CT_small.dcm")
    theirs = read_reference(path)
    result = run("dump", path)
    assert result.returncode == 0
    out = result.stdout
    assert "# Dicom-Meta-Information-Header" in out
    assert "# Used TransferSyntax: Little Endian Explicit" in out
    lines = dump(path)
    # Every element, File Meta first, in file order.
    expected = [int(t) for t in theirs.file_meta.keys()] + [int(t) for t in theirs.keys()]
    assert top_level(lines) == expected
    name = find(lines, "PatientName")
    assert name["value"] == f"[{theirs.PatientName}]" and name["vr"] == "PN"
    raw = read_reference(path).get_item(0x00100010)     # still the RawDataElement
    assert name["length"] == str(raw.length)
    assert find(lines, "Rows")["value"] == str(theirs.Rows)
    assert find(lines, "ImageType")["value"] == "[" + "\\".join(theirs.ImageType) + "]"
    assert find(lines, "ImageType")["vm"] == str(len(theirs.ImageType))
    assert find(lines, "FileMetaInformationVersion")["value"] == "00\\01"
    # Private creator and unknown private tags are named.
    assert find(lines, "PrivateCreator")["value"] == "[GEMS_IDEN_01]"
    # A long byte value is cut short; --full prints it whole.
    pixels = find(lines, "PixelData")
    assert pixels["value"].endswith("...") and pixels["vr"] == "OW"
    assert pixels["length"] == str(len(theirs.PixelData))
    words = theirs.PixelData[:2]
    assert pixels["value"].startswith(f"{words[1]:02x}{words[0]:02x}\\")
    full = find(dump(path, "--full"), "PixelData")["value"]
    assert len(full.split("\\")) == len(theirs.PixelData) // 2


def test_nested_sequences():
    path = get_testdata_file("rtplan.dcm")
    theirs = read_reference(path)
    lines = dump(path)
    items = [d for d in lines if d["tag"] == 0xFFFEE000]
    assert len(items) == count_items(theirs)
    assert all(d["vr"] == "na" and "Item with defined length" in d["value"] for d in items)
    beams = find(lines, "BeamSequence")
    assert beams["value"] == f"(Sequence with defined length #={len(theirs.BeamSequence)})"
    # FractionGroupSequence > ReferencedBeamSequence > BeamDose: depth 4.
    dose = find(lines, "BeamDose")
    assert dose["depth"] == 4
    expected = theirs.FractionGroupSequence[0].ReferencedBeamSequence[0].BeamDose
    assert float(dose["value"].strip("[]")) == float(expected)
    # The first BeamSequence item has as many lines at depth 2 as elements.
    first = lines.index(beams) + 1
    assert lines[first]["value"] == (
        f"(Item with defined length #={len(theirs.BeamSequence[0])})")
    # --max-depth 0 prints no item contents.
    shallow = dump(path, "--max-depth", "0")
    assert all(d["depth"] == 0 for d in shallow)
    result = run("dump", "--max-depth", "0", path)
    assert f"  # {len(theirs.BeamSequence)} item(s) not shown" in result.stdout
    assert top_level(shallow) == top_level(lines)


def test_undefined_length_items():
    path = get_testdata_file("UN_sequence.dcm")
    lines = dump(path, "--no-meta")
    assert all(d["tag"] >> 16 != 2 for d in lines)
    kinds = [(d["depth"], d["tag"], d["value"]) for d in lines if d["tag"] >> 16 == 0xFFFE]
    assert kinds[0] == (1, 0xFFFEE000, "(Item with undefined length #=2)")
    assert kinds.count((0, 0xFFFEE0DD, "(SequenceDelimitationItem)")) == 1
    assert sum(1 for k in kinds if k[1] == 0xFFFEE00D) == 3
    uid = find(lines, "ReferencedSOPInstanceUID")
    assert uid["depth"] == 6
    theirs = read_reference(path)
    ref = theirs[0x4453100C][0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert uid["value"] == f"[{ref.ReferencedSOPInstanceUID}]"


def test_encapsulated_fragments():
    path = get_testdata_file("examples_ybr_color.dcm")
    theirs = read_reference(path)
    fragments = list(pydicom.encaps.generate_fragments(theirs.PixelData))
    result = run("dump", path)
    assert "# Used TransferSyntax: JPEG Baseline" in result.stdout
    lines = dump(path)
    pixels = find(lines, "PixelData")
    assert (pixels["vr"], pixels["length"]) == ("OB", "u/l")
    assert pixels["value"] == f"(PixelSequence #={len(fragments)})"
    start = lines.index(pixels) + 1
    items = lines[start:start + len(fragments)]
    assert [d["vr"] for d in items] == ["pi"] * len(fragments)
    assert [int(d["length"]) for d in items] == [len(f) for f in fragments]
    assert all(d["depth"] == 1 for d in items)
    # The Basic Offset Table's first offset is 0; each frame starts with SOI.
    assert items[0]["value"].startswith("00\\00\\00\\00\\")
    assert items[1]["value"].startswith("ff\\d8\\ff")
    assert lines[start + len(fragments)]["tag"] == 0xFFFEE0DD


def test_japanese_text():
    path = str(PYDICOM_DATA / "charset_files" / "chrH31.dcm")
    theirs = read_reference(path)
    lines = dump(path)
    name = find(lines, "PatientName")
    assert name["value"] == f"[{theirs.PatientName}]"
    assert "山田^太郎" in name["value"]
    charset = find(lines, "SpecificCharacterSet")
    assert charset["vm"] == "2" and charset["value"].endswith("ISO 2022 IR 87]")


def test_dicomdir():
    path = get_testdata_file("DICOMDIR")
    theirs = read_reference(path)
    lines = dump(path)
    records = theirs.DirectoryRecordSequence
    seq = find(lines, "DirectoryRecordSequence")
    assert seq["value"] == f"(Sequence with defined length #={len(records)})"
    types = [d["value"] for d in lines if d["keyword"] == "DirectoryRecordType"]
    assert types == [f"[{r.DirectoryRecordType}]" for r in records]
    names = [d["value"] for d in lines if d["keyword"] == "PatientName"]
    assert names == [f"[{r.PatientName}]" for r in records if "PatientName" in r]
    offsets = [d["value"] for d in lines if d["keyword"] == "OffsetOfTheNextDirectoryRecord"]
    assert offsets == [str(r.OffsetOfTheNextDirectoryRecord) for r in records]


# ---------------------------------------------------------------------------
# Errors and help
# ---------------------------------------------------------------------------

def test_truncated_file():
    path = get_testdata_file("MR_truncated.dcm")
    result = run("dump", path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "offset" in result.stderr and "Traceback" not in result.stderr
    # --lenient reads it and says what it tolerated.
    lenient = run("dump", "--lenient", path)
    assert lenient.returncode == 0
    assert "# warning:" in lenient.stdout


def test_not_dicom(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"hello world, this is not DICOM at all")
    result = run("dump", str(junk))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    missing = run("dump", str(tmp_path / "missing.dcm"))
    assert missing.returncode == 1 and "missing.dcm" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_help():
    result = run("--help")
    assert result.returncode == 0
    assert "dump" in result.stdout
    result = run("dump", "--help")
    assert result.returncode == 0
    for option in ("--full", "--no-meta", "--max-depth", "FILE"):
        assert option in result.stdout
    assert run().returncode == 2        # no command: usage on stderr
