"""What the library adapters share: the twelve attributes of the "open"
stage and the plain views their results are compared in.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

from rapidicom.benchmark.values import normalise

# The attributes an index of a folder of images typically needs.
KEYWORDS = (
    "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID",
    "Modality", "InstanceNumber", "Rows", "Columns", "ImagePositionPatient",
    "PixelSpacing", "SliceThickness", "AcquisitionDate",
)
TAGS = (0x00080018, 0x0020000E, 0x0020000D, 0x00100020, 0x00080060, 0x00200013,
        0x00280010, 0x00280011, 0x00200032, 0x00280030, 0x00180050, 0x00080022)

# The subset checked for libraries whose other values come in other types
# (GDCM's strings, dicomsdl's raw bytes for some VRs).
CORE = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "Rows", "Columns")
_CORE_INDEX = tuple(KEYWORDS.index(k) for k in CORE)

# Names of the views results are compared in (see adapters/__init__.py).
TWELVE = "12 attributes"
CORE_VIEW = "UIDs, Rows, Columns"
EVERY_VALUE = "every value"
ELEMENT_COUNT = "elements incl. File Meta"
# What the items of the list views are.
VIEW_ITEMS = {TWELVE: KEYWORDS, CORE_VIEW: CORE}


def core_of(values) -> list:
    """The CORE values out of the twelve, as plain types; bytes are decoded
    and stripped of padding, empty values become None."""
    out = []
    for i in _CORE_INDEX:
        v = values[i]
        if isinstance(v, (bytes, bytearray, memoryview)):
            v = bytes(v).decode("latin-1").rstrip("\x00 ")
        out.append(None if v == "" else normalise(v))
    return out


def value_key(prefix: str, tag: int) -> str:
    """The name of an element in a value map: ``"00400275[2].00080100"``."""
    return f"{prefix}{tag:08X}"
