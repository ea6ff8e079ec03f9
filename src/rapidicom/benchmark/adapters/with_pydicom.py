"""pydicom 3's side of each benchmark stage.

- ``open12``: ``dcmread(path, stop_before_pixels=True)`` and
  ``Dataset.get`` for each of the twelve ``KEYWORDS``.
- ``all_values``: ``dcmread(path)`` (a full read) and ``elem.value`` for
  every element of ``Dataset.iterall()``; returns the number of elements.
- ``pixels``: ``dcmread(path).pixel_array`` with pydicom's default decoder;
  ``plugin_pixels(name)`` makes the same workload with one decoding plugin
  (``pixel_array_options(decoding_plugin=name)``).

``quiet()`` silences pydicom around calls whose results the caller checks.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager

import pydicom

from rapidicom.benchmark.adapters.common import (
    CORE_VIEW, EVERY_VALUE, KEYWORDS, TWELVE, core_of, value_key)
from rapidicom.benchmark.values import normalise

# pydicom's decoding plugins, in the order they are listed.  "pydicom" is
# pydicom's own numpy RLE decoder.
PLUGINS = ("gdcm", "pylibjpeg", "pyjpegls", "pillow", "pydicom")


@contextmanager
def quiet():
    """No warnings and no pydicom log records inside the ``with`` block.

    pydicom warns about odd files and logs every failed decoding plugin
    attempt with a traceback; code that checks the results itself wants
    neither.  The logger's level is put back afterwards.
    """
    logger = logging.getLogger("pydicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def open12(path):
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    get = ds.get
    return [get(k) for k in KEYWORDS]


def open12_views(path, result) -> dict:
    values = [normalise(v) for v in result]
    return {TWELVE: values, CORE_VIEW: core_of(values)}


def all_values(path) -> int:
    n = 0
    for elem in pydicom.dcmread(path).iterall():
        elem.value
        n += 1
    return n


def value_map(ds, prefix: str = "", out: dict | None = None) -> dict:
    """{element path: normalised value}, as ``with_rapidicom.value_map``."""
    out = {} if out is None else out
    for elem in ds:
        key = value_key(prefix, int(elem.tag))
        if elem.VR == "SQ":
            out[key] = len(elem.value)
            for i, item in enumerate(elem.value):
                value_map(item, f"{key}[{i}].", out)
        else:
            out[key] = normalise(elem.value)
    return out


def all_values_views(path, result) -> dict:
    return {EVERY_VALUE: value_map(pydicom.dcmread(path))}


def pixels(path):
    return pydicom.dcmread(path).pixel_array


def plugin_pixels(plugin: str):
    """The ``pixels`` workload with pydicom's decoding plugin `plugin`."""
    def pixels_with_plugin(path):
        ds = pydicom.dcmread(path)
        ds.pixel_array_options(decoding_plugin=plugin)
        return ds.pixel_array
    pixels_with_plugin.__name__ = f"pydicom_{plugin}"
    return pixels_with_plugin


def plugins_for(syntaxes) -> list[str]:
    """pydicom's available decoding plugins for any of `syntaxes`, in
    PLUGINS order."""
    from pydicom.pixels.decoders.base import get_decoder

    have: set[str] = set()
    for ts in syntaxes:
        try:
            have |= set(get_decoder(ts).available_plugins)
        except Exception:          # pydicom has no decoder for this syntax
            pass
    return [p for p in PLUGINS if p in have]


def default_plugin(ts: str) -> str:
    """The plugin pydicom's ``pixel_array`` uses for `ts` when none is asked for."""
    from pydicom.pixels.decoders.base import get_decoder

    plugins = list(get_decoder(ts).available_plugins)
    return plugins[0] if plugins else ""
