"""dicomsdl's side of the benchmark stages.

- ``open12``: ``dicomsdl.open(path, 0x7FE0000F)`` (stops before Pixel Data)
  and ``DataSet.getValues(KEYWORDS)``, its batch getter.  Some values come
  back as raw bytes, so only the UIDs, Rows and Columns are checked.
- ``all_values``: ``dicomsdl.open(path)`` and ``de.value()`` for every
  element (``toSequence()`` and recursion for sequences,
  ``toPixelSequence()`` for encapsulated Pixel Data); returns the number of
  elements, checked against rapidicom's count plus the File Meta elements
  (dicomsdl's root data set holds them too).
- ``pixels``: one output array, ``copyFrameData(i, out[i])`` per frame --
  what ``pixelData(i, storedvalue=True)`` does (``pixelData()``'s default
  also applies the rescale and returns float32, another result).  Planar
  data is returned as an interleaved view, YBR data as stored.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import dicomsdl
import numpy as np

from rapidicom.benchmark.adapters.common import CORE_VIEW, ELEMENT_COUNT, KEYWORDS, core_of

dicomsdl.set_loglevel(dicomsdl.LogLevel.DISABLE)

_SQ = dicomsdl.VR.SQ
_PIXSEQ = dicomsdl.VR.PIXSEQ
_STOP_BEFORE_PIXELS = 0x7FE0000F
_KEYWORDS = list(KEYWORDS)


def open12(path):
    return dicomsdl.open(path, _STOP_BEFORE_PIXELS).getValues(_KEYWORDS)


def open12_views(path, result) -> dict:
    return {CORE_VIEW: core_of(result)}


def _walk(ds) -> int:
    n = 0
    for de in ds:
        n += 1
        vr = de.vr()
        if vr == _SQ:
            seq = de.toSequence()
            for i in range(len(seq)):
                n += _walk(seq.getDataSet(i))
        elif vr == _PIXSEQ:
            de.toPixelSequence()
        else:
            de.value()
    return n


def all_values(path) -> int:
    return _walk(dicomsdl.open(path))


def all_values_views(path, result) -> dict:
    return {ELEMENT_COUNT: result}


def pixels(path):
    ds = dicomsdl.open(path)
    info = ds.getPixelDataInfo()
    frames, rows, cols = info["NumberOfFrames"] or 1, info["Rows"], info["Cols"]
    spp = info["SamplesPerPixel"]
    planar = spp > 1 and info["PlanarConfiguration"] == "RRRGGGBBB"
    if spp == 1:
        shape = (rows, cols)
    else:
        shape = (spp, rows, cols) if planar else (rows, cols, spp)
    out = np.empty((frames,) + shape, dtype=info["dtype"])
    copy = ds.copyFrameData
    for i in range(frames):
        copy(i, out[i])
    if planar:
        out = np.moveaxis(out, 1, -1)
    return out[0] if frames == 1 else out
