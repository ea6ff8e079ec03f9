"""Element-by-element comparison of a rapidicom Dataset with pydicom's reading.

``compare(ours, theirs)`` returns a list of human-readable differences (empty
when the two agree).  Values are normalised to plain Python types first
(``rapidicom.benchmark.values``, shared with ``rapidicom bench``): pydicom's
DSfloat/IS/PersonName/UID/MultiValue become float/int/str/list, bytes-like
values become bytes.
"""
from __future__ import annotations

import warnings

import pydicom
from pydicom.dataset import Dataset as PydicomDataset

from rapidicom.benchmark.values import normalise, same

# The names other test modules import.
_norm = normalise
_equal = same


def read_reference(source, force: bool = False, stop_before_pixels: bool = False):
    """pydicom's reading with its default settings; warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(source, force=force, stop_before_pixels=stop_before_pixels)


def _pydicom_element(ds: PydicomDataset, tag: int):
    """(VR, value) as pydicom reports them, or ('<error>', exception)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            elem = ds[tag]
            return elem.VR, elem.value
    except Exception as exc:  # pydicom could not convert this value
        return "<error>", exc


def compare(ours, theirs: PydicomDataset, path: str = "",
            skip_tags: frozenset[int] = frozenset()) -> list[str]:
    diffs: list[str] = []
    our_tags = [t for t in ours.tags() if t not in skip_tags]
    their_tags = [int(t) for t in theirs.keys()]
    if sorted(set(our_tags)) != sorted(set(their_tags)):
        missing = sorted(set(their_tags) - set(our_tags))
        extra = sorted(set(our_tags) - set(their_tags))
        diffs.append(f"{path}: tags differ; missing {[hex(t) for t in missing][:8]}, "
                     f"extra {[hex(t) for t in extra][:8]}")
    for tag in sorted(set(our_tags) & set(their_tags)):
        where = f"{path}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        vr, value = _pydicom_element(theirs, tag)
        element = ours.element(tag)
        if vr == "<error>":
            diffs.append(f"{where}: pydicom cannot convert: {value!r}")
            continue
        try:
            our_vr = element.vr
            our_value = element.value
        except Exception as exc:
            diffs.append(f"{where}: rapidicom raised {exc!r}; pydicom gives {vr} {value!r:.80}")
            continue
        if our_vr != vr:
            diffs.append(f"{where}: VR {our_vr} != pydicom {vr}")
        if vr == "SQ":
            if not isinstance(our_value, list):
                diffs.append(f"{where}: not a sequence: {our_value!r:.80}")
                continue
            if len(our_value) != len(value):
                diffs.append(f"{where}: {len(our_value)} items != pydicom {len(value)}")
                continue
            for i, (a, b) in enumerate(zip(our_value, value)):
                diffs.extend(compare(a, b, f"{where}[{i}]."))
            continue
        a, b = normalise(our_value), normalise(value)
        if not same(a, b):
            diffs.append(f"{where} {vr}: {a!r:.100} != pydicom {b!r:.100}")
    return diffs
