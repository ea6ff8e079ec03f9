"""The DICOM JSON Model (PS3.18 Annex F) of a rapidicom Dataset.

``dataset_to_json(ds)`` walks a Dataset once, in ascending tag order, and
builds plain Python objects (dict, list, str, int, float, None) that
``json.dumps`` writes as a conformant DICOM JSON document.  Values are read
through the Dataset, so character sets, ambiguous VRs and the value types are
exactly those of ``ds[tag]``.

Choices the standard leaves open or that differ from pydicom 3
(``pydicom.Dataset.to_json_dict``), each decided by the standard:

* Group Length (gggg,0000) elements are left out (F.2.2: "shall not be
  included"); pydicom writes them.
* An empty value has no ``"Value"`` (F.2.2, F.2.5), and that includes a
  sequence with no items; pydicom writes ``"Value": []`` for an empty SQ.
* An empty value inside a multi-valued attribute is ``null`` (F.2.5);
  pydicom writes ``""`` for text VRs.
* PN: only the non-empty component groups are written (F.2.2: "the non-empty
  name components of each element"); pydicom always writes ``"Alphabetic"``,
  even as ``""``.  A value whose groups are all empty counts as empty.
* DS and IS are JSON numbers; a value that is not a number (rapidicom keeps
  it as ``str``) is written as the original string, which Table F.2.3-1
  allows for DS/IS/SV/UV "to preserve the original format".  pydicom raises
  on such a value.  A DS whose float is not finite (``1e999``) is also kept
  as its string, since JSON has no infinity.
* InlineBinary is the base64 of the whole Value Field (F.2.7).  F.2.7 says the
  byte-ordering rules of PS3.5 apply, and a JSON document carries no transfer
  syntax, so OW/OF/OL/OD/OV values of a big endian dataset are swapped to
  little endian; pydicom copies the big endian bytes unchanged.
* Encapsulated Pixel Data is written as InlineBinary of its raw value (the
  item headers, Basic Offset Table and fragments, without the sequence
  delimiter), as pydicom does.  The standard would also allow a
  BulkDataURI, but rapidicom has no URI scheme of its own; pass
  ``bulk_data_element_handler`` to supply one.
* ``bulk_data_threshold`` does what pydicom's does: it only takes effect
  together with a ``bulk_data_element_handler``.  Leaving a non-empty value
  out would make the element read back as empty (F.2.5), so without a handler
  every binary value is written inline, whatever the threshold.
* FL/FD values that are NaN or infinite stay Python floats (JSON numbers
  cannot express them; F.2.3 allows no string for FL/FD);
  ``json.dumps(..., allow_nan=False)`` reports them.

.. versionadded:: 0.1.0
"""
from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

__all__ = ["dataset_to_json", "DEFAULT_BULK_DATA_THRESHOLD"]

#: pydicom's default, in base64 characters.
DEFAULT_BULK_DATA_THRESHOLD = 1024

# VRs written as InlineBinary (or BulkDataURI).
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
# Binary VRs whose words are byte-swapped in a big endian dataset.
_WORD_SIZE = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
_DECIMAL_VRS = frozenset({"DS", "IS"})

ElementHandler = Callable[[Any], str]


def dataset_to_json(ds, bulk_data_threshold: int | None = None, *,
                    bulk_data_element_handler: ElementHandler | None = None
                    ) -> dict[str, dict[str, Any]]:
    """The DICOM JSON Model object of `ds` (PS3.18 Annex F).

    Parameters
    ----------
    ds : rapidicom.Dataset
        A dataset, a sequence item or ``ds.meta`` (group 0002).
    bulk_data_threshold : int, optional
        With `bulk_data_element_handler`: binary values whose base64 form
        would be longer than this many characters (as in pydicom: more than
        ``threshold // 4 * 3`` bytes) get a ``"BulkDataURI"``.  Default
        1024.  Without a handler it has no effect (see the module notes).
    bulk_data_element_handler : callable, optional
        Called with the :class:`rapidicom.Element` of a large binary value;
        returns its URI.

    Returns
    -------
    dict
        ``{"GGGGEEEE": {"vr": VR, "Value" | "InlineBinary" | "BulkDataURI": ...}}``
        with keys in ascending order; ``json.dumps`` it to get the document.
    """
    limit = None
    if bulk_data_element_handler is not None:
        threshold = (DEFAULT_BULK_DATA_THRESHOLD if bulk_data_threshold is None
                     else bulk_data_threshold)
        limit = (threshold // 4) * 3
    return _dataset(ds, limit, bulk_data_element_handler)


def _dataset(ds, limit, handler) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    little = ds.is_little_endian
    for element in sorted(ds, key=_tag_key):
        tag = element.tag
        if tag & 0xFFFF == 0:       # Group Length: not part of the model
            continue
        out[f"{tag:08X}"] = _element(element, little, limit, handler)
    return out


def _tag_key(element) -> int:
    return element.tag


def _element(element, little: bool, limit, handler) -> dict[str, Any]:
    vr = element.vr
    value = element.value
    if " or " in vr:                # an ambiguous VR nothing could resolve
        vr = _pick_vr(vr, value)
    node: dict[str, Any] = {"vr": vr}

    if vr == "SQ":
        if value:
            node["Value"] = [_dataset(item, limit, handler) for item in value]
        return node

    if vr in _BINARY_VRS or isinstance(value, memoryview):
        if value is None or len(value) == 0:
            return node
        if handler is not None and len(value) > limit:
            node["BulkDataURI"] = handler(element)
            return node
        data = value
        size = _WORD_SIZE.get(vr)
        if size is not None and not little:
            data = _to_little_endian(value, size)
        node["InlineBinary"] = base64.b64encode(data).decode("ascii")
        return node

    items = _items(value)
    if not items:
        return node
    if vr == "PN":
        values = [_person_name(v) for v in items]
    elif vr == "AT":
        values = [None if v is None else f"{v:08X}" for v in items]
    elif vr in _DECIMAL_VRS:
        values = [_decimal(v) for v in items]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            values = _keep_text(values, element)
    elif vr in _NUMBER_VRS:
        values = list(items)
    else:
        values = [None if v == "" else v for v in items]
    if all(v is None for v in values) and len(values) == 1:
        return node                 # a lone empty value: the element is empty
    node["Value"] = values
    return node


def _items(value) -> list:
    """The values of an element as a list ([] when empty)."""
    if value is None or (isinstance(value, str) and not value):
        return []
    if isinstance(value, list):
        return value
    if hasattr(value, "tolist"):    # a numpy array of numbers
        v = value.tolist()
        return v if isinstance(v, list) else [v]
    return [value]


def _person_name(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    groups = value.split("=")
    name = {key: text for key, text in zip(("Alphabetic", "Ideographic", "Phonetic"),
                                           groups) if text}
    return name or None


def _decimal(value):
    """A DS/IS item: a number, the original string, or null when blank."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _keep_text(values: list, element) -> list:
    """`values` with each non-finite float replaced by its text in the file."""
    texts = bytes(element.raw).decode("latin-1").split("\\")
    if len(texts) != len(values):
        return values
    return [text.strip(" \x00") if isinstance(v, float) and not math.isfinite(v) else v
            for v, text in zip(values, texts)]


def _to_little_endian(value, size: int) -> bytes:
    """`value` with each `size`-byte word reversed; a partial last word is kept."""
    src = bytes(value)
    whole = len(src) - len(src) % size
    out = bytearray(src)
    for i in range(size):
        out[i:whole:size] = src[size - 1 - i:whole:size]
    return bytes(out)


def _pick_vr(vr: str, value) -> str:
    choices = vr.split(" or ")
    if isinstance(value, memoryview) or value is None:
        for choice in ("OW", "OB"):
            if choice in choices:
                return choice
    for choice in choices:
        if choice not in _BINARY_VRS:
            return choice
    return choices[0]
