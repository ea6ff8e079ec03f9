"""Plain-Python views of element values, so that libraries can be compared.

Each library hands out values in its own types: pydicom's ``DSfloat``,
``IS``, ``UID``, ``PersonName`` and ``MultiValue``, rapidicom's ``str``,
``int``, ``float``, ``list`` and read-only ``memoryview``.  ``normalise``
maps all of them to ``None``, ``bool``, ``int``, ``float``, ``str``,
``bytes`` and ``list``; ``same`` compares two normalised values (a NaN
equals a NaN, ``1`` never equals ``1.0``); ``digest`` condenses one into a
short hash, so that a worker process can send a check result over a pipe
instead of the values.

Used by ``rapidicom bench``, by the developer benchmarks in ``bench/`` and
by the parity tests.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import hashlib
import math
import struct
import sys
from collections.abc import Sequence

__all__ = ["normalise", "same", "digest"]


def _person_name_type():
    """pydicom's PersonName class when pydicom is loaded, else None (then no
    value can be one)."""
    module = sys.modules.get("pydicom.valuerep")
    return getattr(module, "PersonName", None)


def normalise(value):
    """`value` as plain Python types.

    Bytes-like values become ``bytes``, person names ``str``, sequences of
    values (``MultiValue``, ``list``, ``tuple``) ``list``, and subclasses of
    ``int``, ``float`` and ``str`` their base type.  Anything else (a
    sequence item, say) is returned as is.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    person_name = _person_name_type()
    if person_name is not None and isinstance(value, person_name):
        return str(value)
    if isinstance(value, Sequence):
        return [normalise(v) for v in value]
    return value


def same(a, b) -> bool:
    """Whether two normalised values are equal, type included; NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def digest(value) -> str:
    """A 32-digit hex hash of a normalised value (``dict`` keys sorted).

    Two values have the same digest exactly when `same` says they are equal
    (up to hash collisions): every item is tagged with its type and length,
    NaNs hash alike and ``-0.0`` hashes like ``0.0``.
    """
    h = hashlib.blake2b(digest_size=16)
    _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    if value is None:
        h.update(b"N")
    elif isinstance(value, bool):
        h.update(b"T" if value else b"F")
    elif isinstance(value, int):
        text = str(value).encode()
        h.update(b"I%d:" % len(text) + text)
    elif isinstance(value, float):
        # One code for every NaN, and 0.0 for -0.0: `same` treats them alike.
        h.update(b"D" + (b"nan" if math.isnan(value) else struct.pack("<d", value + 0.0)))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"S%d:" % len(data) + data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        h.update(b"B%d:" % len(data))
        h.update(data)
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d:" % len(value))
        for item in value:
            _feed(h, item)
    elif isinstance(value, dict):
        h.update(b"M%d:" % len(value))
        for key in sorted(value):
            _feed(h, key)
            _feed(h, value[key])
    else:
        text = repr(value).encode("utf-8", "backslashreplace")
        h.update(b"R%d:" % len(text) + text)
