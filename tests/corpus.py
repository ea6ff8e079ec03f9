"""The real-file corpus: every file shipped in the pydicom and pydicom-data wheels.

Files are classified, never silently skipped: ``dicom_files()`` returns every
candidate DICOM file; ``other_files()`` returns the rest with the reason it
is not a DICOM file (documentation, JSON, a gzip archive, ...).
"""
from __future__ import annotations

import os
from pathlib import Path

import pydicom
import data_store

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"
PYDICOM_DATA_STORE = Path(data_store.__file__).parent / "data"

# Extensions that are never DICOM, with the reason; anything else is a candidate.
NOT_DICOM = {
    ".txt": "text documentation",
    ".md": "markdown documentation",
    ".json": "DICOM JSON model document, not Part 10",
    ".dump": "text dump of a dataset",
    ".gz": "gzip archive (pydicom's zipMR.gz test of compressed input)",
    ".icc": "ICC colour profile",
    ".py": "Python module",
    ".pyc": "Python bytecode",
}
NOT_DICOM_NAMES = {"README": "text documentation"}


def _walk(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            yield Path(dirpath) / name


def all_files() -> list[Path]:
    roots = [PYDICOM_DATA / "test_files", PYDICOM_DATA / "charset_files",
             PYDICOM_DATA / "palettes", PYDICOM_DATA_STORE]
    return [p for root in roots if root.exists() for p in _walk(root)]


def classify(path: Path) -> str | None:
    """The reason `path` is not DICOM, or None for a DICOM candidate."""
    if path.name in NOT_DICOM_NAMES:
        return NOT_DICOM_NAMES[path.name]
    return NOT_DICOM.get(path.suffix.lower())


def dicom_files() -> list[Path]:
    return [p for p in all_files() if classify(p) is None]


def opened_files():
    """``(path, Dataset)`` for each file of ``dicom_files()`` that
    ``rapidicom.open`` reads strictly, one at a time (a generator: only the
    datasets the caller keeps stay mapped).  The files it refuses, the
    truncated ones, are passed over: test_parity.py covers them."""
    import rapidicom   # here: listing files must not need the built package

    for path in dicom_files():
        try:
            ds = rapidicom.open(path)
        except rapidicom.DicomError:
            continue
        yield path, ds


def other_files() -> list[tuple[Path, str]]:
    return [(p, r) for p in all_files() if (r := classify(p)) is not None]


def file_id(path: Path) -> str:
    for root in (PYDICOM_DATA, PYDICOM_DATA_STORE):
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
