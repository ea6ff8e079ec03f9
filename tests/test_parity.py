"""Every DICOM file of the pydicom and pydicom-data wheels, element by element,
against pydicom 3's reading of it.

Each file ends in exactly one of these outcomes, and the test checks it:
- both read it: every element (tag, VR, value, nested items) of the dataset
  and the File Meta must be equal;
- pydicom reads it only by tolerating a defect (a value that runs past the
  end of the file): rapidicom's strict default raises TruncatedError with the
  offset, and ``lenient=True`` reads it exactly as pydicom does;
- neither can read it: listed in ``UNREADABLE`` with the reason.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import rapidicom
from corpus import dicom_files, file_id, other_files
from parity import compare, read_reference

# Files whose last value is cut short: pydicom reads a short value without a
# word, rapidicom's strict mode refuses (PS3.5 7.1.1: the value length is the
# number of bytes that follow).  Lenient mode reads them like pydicom.
TRUNCATED = {
    "test_files/MR_truncated.dcm": "Pixel Data cut short",
    "test_files/rtplan_truncated.dcm": "last item cut short",
    "emri_small_jpeg_2k_lossless_too_short.dcm":
        "encapsulated Pixel Data without its last bytes and sequence delimiter",
    "test_files/dicomdirtests/DICOMDIR-nooffset":
        "item 51 of the Directory Record Sequence claims 248 bytes, 224 remain",
    "test_files/no_meta.dcm":
        "a stray leading byte: read as implicit VR (no meta, no VR found), the first "
        "element (0820,0500) claims 173228800 bytes; pydicom returns that one element",
}

# Files where pydicom's tolerant reading drops the whole dataset (an EOFError
# inside the dataset loop discards every element read so far).  rapidicom's
# lenient mode keeps them; they are compared with pydicom's reading that stops
# before Pixel Data.
PYDICOM_DROPS_DATASET = {"emri_small_jpeg_2k_lossless_too_short.dcm"}

# Files neither library can read, with the reason.
UNREADABLE: dict[str, str] = {}


def _source(path: Path):
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    return path


FILES = dicom_files() + [p for p, _ in other_files() if p.suffix == ".gz"]


def test_corpus_is_classified():
    """Nothing in the wheels is skipped unaccounted for."""
    assert len(dicom_files()) > 250
    reasons = {r for _, r in other_files()}
    assert all(reasons)


@pytest.mark.parametrize("path", FILES, ids=[file_id(p) for p in FILES])
def test_parity_with_pydicom(path):
    fid = file_id(path)
    source = _source(path)
    try:
        theirs = read_reference(source if not isinstance(source, bytes)
                                else __import__("io").BytesIO(source))
    except Exception:
        theirs = read_reference(source if not isinstance(source, bytes)
                                else __import__("io").BytesIO(source), force=True)

    if fid in TRUNCATED:
        with pytest.raises(rapidicom.TruncatedError) as info:
            rapidicom.open(source)
        assert info.value.offset is not None
        ours = rapidicom.open(source, lenient=True)
        assert ours.warnings
    else:
        ours = rapidicom.open(source)

    skip = frozenset()
    if fid in PYDICOM_DROPS_DATASET:
        assert len(theirs) == 0
        theirs = read_reference(path, stop_before_pixels=True)
        skip = frozenset({0x7FE00010})
    diffs = compare(ours, theirs, skip_tags=skip)
    diffs += compare(ours.meta, theirs.file_meta, "meta:")
    assert not diffs, "\n".join(diffs[:40])
