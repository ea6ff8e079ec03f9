"""rapidicom's side of each benchmark stage: the timed workloads and the
results every other library is checked against.

Each workload takes a path and returns what it read, so the function that
is timed is the function whose result is checked.

- ``open12``: ``rapidicom.open(path)`` (a header scan; pixels are not read)
  and ``Dataset.get`` for each of the twelve ``KEYWORDS``.
- ``all_values``: ``rapidicom.open(path)`` and ``element.value`` for every
  element, recursing into sequence items; returns the number of elements.
- ``pixels``: ``rapidicom.open(path).pixel_array`` (frames decoded on
  rapidicom's thread pool, its default).

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import numpy as np

import rapidicom
from rapidicom.benchmark.adapters.common import (
    CORE_VIEW, ELEMENT_COUNT, EVERY_VALUE, KEYWORDS, TWELVE, core_of, value_key)
from rapidicom.benchmark.values import normalise
from rapidicom.pixels import pixel_array

_DATASET = rapidicom.Dataset
_YBR = ("YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT")

# Names of the arrays other decoders are compared with.
PIXEL_ARRAY = "pixel_array"
YBR_AS_STORED = "YBR as stored"


def open12(path):
    ds = rapidicom.open(path)
    get = ds.get
    return [get(k) for k in KEYWORDS]


def open12_views(path, result) -> dict:
    values = [normalise(v) for v in result]
    return {TWELVE: values, CORE_VIEW: core_of(values)}


def _walk(ds) -> int:
    n = 0
    for el in ds:
        v = el.value
        n += 1
        if type(v) is list and v and type(v[0]) is _DATASET:
            for item in v:
                n += _walk(item)
    return n


def all_values(path) -> int:
    return _walk(rapidicom.open(path))


def value_map(ds, prefix: str = "", out: dict | None = None) -> dict:
    """{element path: normalised value} of `ds` and its items (a sequence
    maps to its number of items; its items' elements have paths of their own)."""
    out = {} if out is None else out
    for el in ds:
        v = el.value
        key = value_key(prefix, el.tag)
        if el.vr == "SQ":
            out[key] = len(v)
            for i, item in enumerate(v):
                value_map(item, f"{key}[{i}].", out)
        else:
            out[key] = normalise(v)
    return out


def all_values_views(path, result) -> dict:
    ds = rapidicom.open(path)
    return {EVERY_VALUE: value_map(ds),
            ELEMENT_COUNT: result + len(ds.meta)}


def pixels(path):
    return rapidicom.open(path).pixel_array


def pixel_references(path, result=None) -> dict[str, np.ndarray]:
    """The arrays other decoders are compared with: PIXEL_ARRAY (`result`,
    when given, is that array already), and for YBR data also YBR_AS_STORED
    (libraries that skip the colour conversion match that, and are noted)."""
    ds = rapidicom.open(path)
    out = {PIXEL_ARRAY: np.asarray(ds.pixel_array if result is None else result)}
    if ds.pixels.photometric_interpretation in _YBR:
        stored = np.asarray(pixel_array(ds, as_rgb=False))
        if not np.array_equal(stored, out[PIXEL_ARRAY]):
            out[YBR_AS_STORED] = stored
    return out
