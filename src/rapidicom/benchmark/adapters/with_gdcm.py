"""python-gdcm's side of the benchmark stages (GDCM called directly).

- ``open12``: ``gdcm.Reader().ReadSelectedTags(the twelve tags)`` and
  ``gdcm.StringFilter().ToString(tag)`` -- GDCM's values stay strings, so
  only the UIDs, Rows and Columns are checked.
- ``pixels``: ``gdcm.ImageReader`` → ``GetImage().GetBuffer()`` → numpy.
  The buffer comes back as a ``str`` whose bytes are surrogate-escaped
  (``encode("utf-8", "surrogateescape")`` gives them back); planar data is
  returned as an interleaved view, 1-bit data unpacked, and YBR colour
  data as stored (GDCM does not convert it).

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import gdcm
import numpy as np

from rapidicom.benchmark.adapters.common import CORE, CORE_VIEW, KEYWORDS, TAGS

gdcm.Trace.SetWarning(False)
gdcm.Trace.SetDebug(False)
gdcm.Trace.SetError(False)

_TAGS = [gdcm.Tag(t >> 16, t & 0xFFFF) for t in TAGS]
_TAGSET = gdcm.TagSetType()
for _tag in _TAGS:
    _TAGSET.insert(_tag)

_DTYPES = {
    gdcm.PixelFormat.UINT8: np.uint8, gdcm.PixelFormat.INT8: np.int8,
    gdcm.PixelFormat.UINT12: np.uint16, gdcm.PixelFormat.INT12: np.int16,
    gdcm.PixelFormat.UINT16: np.uint16, gdcm.PixelFormat.INT16: np.int16,
    gdcm.PixelFormat.UINT32: np.uint32, gdcm.PixelFormat.INT32: np.int32,
    gdcm.PixelFormat.UINT64: np.uint64, gdcm.PixelFormat.INT64: np.int64,
    gdcm.PixelFormat.FLOAT32: np.float32, gdcm.PixelFormat.FLOAT64: np.float64,
}
_SINGLEBIT = gdcm.PixelFormat.SINGLEBIT


def open12(path):
    reader = gdcm.Reader()
    reader.SetFileName(path)
    if not reader.ReadSelectedTags(_TAGSET):
        raise ValueError("gdcm.Reader.ReadSelectedTags returned False")
    sf = gdcm.StringFilter()
    sf.SetFile(reader.GetFile())
    to_string = sf.ToString
    return [to_string(t) for t in _TAGS]


def core_strings(strings) -> list:
    """GDCM's strings for CORE as the types pydicom gives them."""
    by_keyword = dict(zip(KEYWORDS, strings))
    out = []
    for k in CORE:
        s = by_keyword[k].rstrip("\x00 ")
        out.append(None if s == "" else int(s) if k in ("Rows", "Columns") else s)
    return out


def open12_views(path, result) -> dict:
    return {CORE_VIEW: core_strings(result)}


def pixels(path):
    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise ValueError("gdcm.ImageReader.Read returned False")
    image = reader.GetImage()
    pf = image.GetPixelFormat()
    dims = image.GetDimensions()                     # [columns, rows(, frames)]
    cols, rows = dims[0], dims[1]
    frames = dims[2] if len(dims) > 2 else 1
    spp = pf.GetSamplesPerPixel()
    buf = image.GetBuffer().encode("utf-8", "surrogateescape")
    scalar = pf.GetScalarType()
    if scalar == _SINGLEBIT:
        n = frames * rows * cols * spp
        arr = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")[:n]
    else:
        arr = np.frombuffer(buf, _DTYPES[scalar])
    if spp > 1 and image.GetPlanarConfiguration() == 1:
        arr = np.moveaxis(arr.reshape(frames, spp, rows, cols), 1, -1)
    else:
        arr = arr.reshape((frames, rows, cols, spp) if spp > 1 else (frames, rows, cols))
    return arr[0] if frames == 1 else arr
