"""Modality LUT / rescale, VOI LUT / windowing and Palette Color LUTs.

The functions here take a pixel array and a rapidicom :class:`Dataset` and
give the same dtype, shape and values as pydicom 3.0's functions of the same
purpose in ``pydicom.pixels.processing`` (``apply_modality_lut``,
``apply_voi_lut``, ``apply_voi``, ``apply_windowing`` and
``apply_color_lut``).  The attributes are read here; each pixel pass is one
C call (``src/core/lut.c``) without the GIL, writing into an output
allocated once.

Where the result is defined by pydicom's numpy formulation rather than by
the standard, pydicom's result is kept: for instance pixel values past the
last entry of a VOI or palette LUT wrap in the LUT's entry type before they
are clamped, and the offset of an indirect palette segment counts entries.
The few places where rapidicom deliberately differs (two pydicom bugs, and
inputs pydicom fails on) are listed in the Notes of each function.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rapidicom import _lut
from rapidicom.errors import InvalidDicomError, UnsupportedError

__all__ = [
    "apply_modality_lut",
    "apply_palette",
    "apply_voi",
    "apply_voi_lut",
    "apply_windowing",
]

_LUT_DATA = 0x00283006
_LUT_DESCRIPTOR = 0x00283002

# Well-known colour palettes (PS3.6 Annex B), shipped as files with pydicom.
_PALETTE_FILES = {
    "1.2.840.10008.1.5.1": "hotiron.dcm",
    "1.2.840.10008.1.5.2": "pet.dcm",
    "1.2.840.10008.1.5.3": "hotmetalblue.dcm",
    "1.2.840.10008.1.5.4": "pet20step.dcm",
    "1.2.840.10008.1.5.5": "spring.dcm",
    "1.2.840.10008.1.5.6": "summer.dcm",
    "1.2.840.10008.1.5.7": "fall.dcm",
    "1.2.840.10008.1.5.8": "winter.dcm",
}
_PALETTE_NAMES = {
    "HOT_IRON": "1.2.840.10008.1.5.1",
    "PET": "1.2.840.10008.1.5.2",
    "HOT_METAL_BLUE": "1.2.840.10008.1.5.3",
    "PET_20_STEP": "1.2.840.10008.1.5.4",
    "SPRING": "1.2.840.10008.1.5.5",
    "SUMMER": "1.2.840.10008.1.5.6",
    "FALL": "1.2.840.10008.1.5.7",
    "WINTER": "1.2.840.10008.1.5.8",
}
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _input(arr: Any) -> tuple[np.ndarray, int]:
    """`arr` as a C-contiguous native-order array and its kernel type code."""
    arr = np.asarray(arr)
    code = _lut.DTYPES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"pixel arrays of dtype {arr.dtype} are not supported: use an unsigned "
            "or signed integer type, float32 or float64")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr), code


def _bytes(arr: np.ndarray) -> np.ndarray:
    """A flat uint8 view of a C-contiguous array."""
    return arr.reshape(-1).view(np.uint8)


def _descriptor(item: Any, keyword: str, where: str) -> tuple[int, int, int]:
    """(entries, first mapped value, bits per entry) of a LUT Descriptor."""
    desc = getattr(item, keyword)
    if not isinstance(desc, list) or len(desc) < 3:
        raise InvalidDicomError(
            f"{where}: the {keyword} must have 3 values, not {desc!r}")
    return desc[0] or 2**16, desc[1], desc[2]


def _lut_data(item: Any, little_endian: bool, nr_entries: int, bits: int,
              exact: bool, where: str) -> np.ndarray:
    """The LUT Data (0028,3006) of a Modality or VOI LUT item as an array
    of uint{bits}.

    OW data holds one 16-bit word per entry, in the dataset's byte order;
    pydicom reads exactly `nr_entries` words (a Modality LUT needs exactly
    that many bytes, a VOI LUT at least that many).  US data gives its
    values.
    """
    elem = item.element("LUTData")
    vr = elem.vr
    out_dtype = np.dtype(f"uint{bits}")
    if vr == "OW":
        data = elem.raw
        need = 2 * nr_entries
        if len(data) == need or (not exact and len(data) > need):
            values = np.frombuffer(data, dtype="<u2" if little_endian else ">u2",
                                   count=nr_entries)
        elif bits == 8 and nr_entries <= len(data) <= (nr_entries + 1 if exact else need):
            # 8-bit entries packed two to a word ("8 bits allocated"),
            # which pydicom cannot read: entries in byte order as stored.
            values = np.frombuffer(data, dtype=np.uint8, count=nr_entries)
        else:
            raise InvalidDicomError(
                f"{where}: the LUT Data holds {len(data)} bytes, but the LUT "
                f"Descriptor's {nr_entries} entries need {need}"
                + ("" if not exact else " exactly"), tag=_LUT_DATA)
    elif vr == "US":
        # the values, read straight from the bytes (a one-value US is a
        # 1-entry LUT, which pydicom fails to index)
        data = elem.raw
        if len(data) % 2 or not data:
            raise InvalidDicomError(
                f"{where}: US LUT Data of {len(data)} bytes", tag=_LUT_DATA)
        values = np.frombuffer(data, dtype="<u2" if item.is_little_endian else ">u2")
    else:
        raise InvalidDicomError(
            f"{where}: LUT Data with VR {vr} cannot be used as a lookup table",
            tag=_LUT_DATA)
    if bits == 8 and values.dtype.itemsize > 1 and values.size and values.max() > 255:
        raise InvalidDicomError(
            f"{where}: LUT Data value {int(values.max())} does not fit the "
            f"{bits} bits per entry of the LUT Descriptor", tag=_LUT_DATA)
    return np.ascontiguousarray(values, dtype=out_dtype)


def _lookup(arr: np.ndarray, code: int, rule: int, index_bits: int, first_map: int,
            nr_entries: int, luts: list[np.ndarray], where: str,
            tag: int | None) -> np.ndarray:
    """One C pass: output[..., c] = luts[c][index(arr)]."""
    dtype = luts[0].dtype
    lut_len = len(luts[0])
    shape = arr.shape if len(luts) == 1 else arr.shape + (len(luts),)
    out = np.empty(shape, dtype=dtype)
    _lut.apply(_bytes(arr), code, arr.size, rule, index_bits, first_map, nr_entries,
               tuple(_bytes(x) for x in luts), lut_len, dtype.itemsize, _bytes(out),
               where, tag)
    return out


# ---------------------------------------------------------------------------
# Modality LUT
# ---------------------------------------------------------------------------

def apply_modality_lut(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Apply the Modality LUT or the rescale operation to `arr`.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    arr : numpy.ndarray
        Stored pixel values (any shape), of an integer dtype, or float32 /
        float64 for a rescale.
    ds : rapidicom.Dataset
        The dataset holding the :dcm:`Modality LUT Module
        <part03/sect_C.11.html#sect_C.11.1>`.

    Returns
    -------
    numpy.ndarray
        With a non-empty (0028,3000) *Modality LUT Sequence*: its first LUT
        applied, an array of ``uint8`` or ``uint16`` (``uint{n}`` for the
        third value *n* of the LUT Descriptor).  Else, with (0028,1053)
        *Rescale Slope* and (0028,1052) *Rescale Intercept* both present:
        ``arr * slope + intercept`` as ``float64``, even for slope 1 and
        intercept 0.  Else `arr` itself, unchanged.

    Raises
    ------
    rapidicom.InvalidDicomError
        When the LUT Descriptor or LUT Data is malformed, or a pixel value
        maps past the end of the LUT Data.
    TypeError
        For an input dtype other than (u)int8-64, float32 and float64, or a
        floating point input with a Modality LUT Sequence.

    Notes
    -----
    Results equal pydicom 3.0's ``apply_modality_lut``: values below the
    first mapped value use the first entry; the difference to the first
    mapped value is held in the input's dtype, so for values past the last
    entry it may wrap before being clamped to the last entry.  Beyond
    pydicom, 8-bit LUT Data packed two entries to a 16-bit word (which
    pydicom rejects) and a one-entry LUT Data read as US (which pydicom
    fails to index) are accepted.  Non-contiguous or byte-swapped inputs are
    copied once before the pass.
    """
    seq = ds.get("ModalityLUTSequence")
    if seq:
        where = "Modality LUT Sequence item 1"
        item = seq[0]
        nr_entries, first_map, bits = _descriptor(item, "LUTDescriptor", where)
        if bits not in (8, 16, 32, 64):
            raise InvalidDicomError(
                f"{where}: {bits} bits per LUT entry is not supported (8 or 16)",
                tag=_LUT_DESCRIPTOR)
        src, code = _input(arr)
        if src.dtype.kind == "f":
            raise TypeError("a Modality LUT needs integer pixel values, not "
                            f"{src.dtype}")
        lut = _lut_data(item, ds.is_little_endian, nr_entries, bits, True, where)
        return _lookup(src, code, _lut.RULE_MODALITY, 0, first_map, nr_entries,
                       [lut], where, _LUT_DATA)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope = ds.RescaleSlope
        intercept = ds.RescaleIntercept
        if not isinstance(slope, (int, float)) or not isinstance(intercept, (int, float)):
            raise InvalidDicomError(
                f"Rescale Slope {slope!r} / Rescale Intercept {intercept!r} are not "
                "numbers", tag=0x00281053)
        src, code = _input(arr)
        out = np.empty(src.shape, dtype=np.float64)
        _lut.rescale(_bytes(src), code, src.size, float(slope), float(intercept),
                     _bytes(out))
        return out
    return arr


# ---------------------------------------------------------------------------
# VOI LUT and windowing
# ---------------------------------------------------------------------------

def apply_voi_lut(arr: np.ndarray, ds: Any, index: int = 0,
                  prefer_lut: bool = True) -> np.ndarray:
    """Apply the VOI LUT or the windowing operation to `arr`.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    arr : numpy.ndarray
        The values to transform: stored values, or the output of
        :func:`apply_modality_lut` when the dataset has a Modality LUT
        Module (apply that first).
    ds : rapidicom.Dataset
        The dataset holding the :dcm:`VOI LUT Module
        <part03/sect_C.11.2.html>`.
    index : int, optional
        Which of several alternative views (VOI LUT Sequence items, or
        Window Center / Width values) to apply (default ``0``).
    prefer_lut : bool, optional
        When the dataset has both a usable VOI LUT Sequence and Window
        Center / Width: ``True`` (default) applies the VOI LUT, ``False``
        the window.

    Returns
    -------
    numpy.ndarray
        :func:`apply_voi` when only the first VOI LUT Sequence item has
        both LUT Descriptor and LUT Data (or `prefer_lut`),
        :func:`apply_windowing` when (0028,1050) *Window Center* and
        (0028,1051) *Window Width* both have values, else `arr` itself.

    See Also
    --------
    apply_modality_lut, apply_voi, apply_windowing
    """
    valid_voi = False
    seq = ds.get("VOILUTSequence")
    if seq:
        first = seq[0]
        valid_voi = (first.get("LUTDescriptor") is not None
                     and first.get("LUTData") is not None)
    valid_windowing = (ds.get("WindowCenter") is not None
                       and ds.get("WindowWidth") is not None)
    if valid_voi and (prefer_lut or not valid_windowing):
        return apply_voi(arr, ds, index)
    if valid_windowing:
        return apply_windowing(arr, ds, index)
    return arr


def apply_voi(arr: np.ndarray, ds: Any, index: int = 0) -> np.ndarray:
    """Apply a VOI LUT of the (0028,3010) VOI LUT Sequence to `arr`.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    arr : numpy.ndarray
        The values to transform (integers; floating point input is
        accepted with a warning, as in pydicom).
    ds : rapidicom.Dataset
        The dataset holding the :dcm:`VOI LUT Module
        <part03/sect_C.11.2.html>`.
    index : int, optional
        The VOI LUT Sequence item to apply (default ``0``).

    Returns
    -------
    numpy.ndarray
        The LUT applied, as ``uint8`` for 8 bits per entry and ``uint16``
        for 10 to 16; `arr` itself when there is no VOI LUT Sequence.

    Raises
    ------
    rapidicom.UnsupportedError
        For other bits per entry (a ``NotImplementedError``).
    rapidicom.InvalidDicomError
        When the LUT Data is malformed or a value maps past its end.

    Notes
    -----
    As in pydicom, the index ``value - first mapped value`` is converted to
    the LUT's entry type before it is clamped to the last entry, so values
    that exceed that type's range wrap (for instance a ``uint16`` value of
    300 with an 8-bit LUT of 256 entries uses entry 44).  PS3.3 C.11.2.1.1
    maps every value past the LUT to the last entry.  A first mapped value
    outside the range of the input's dtype (for which numpy 2 makes pydicom
    raise ``OverflowError``) is subtracted exactly instead.
    """
    seq = ds.get("VOILUTSequence")
    if not seq:
        return arr
    src, code = _input(arr)
    if src.dtype.kind == "f":
        warnings.warn("Applying a VOI LUT on a float input array may give incorrect "
                      "results", UserWarning, stacklevel=2)
    item = seq[index]
    where = f"VOI LUT Sequence item {index + 1 if index >= 0 else index}"
    nr_entries, first_map, nominal = _descriptor(item, "LUTDescriptor", where)
    if 10 <= nominal <= 16:
        bits = 16
    elif nominal == 8:
        bits = 8
    else:
        raise UnsupportedError(f"'{nominal}' bits per LUT entry is not supported",
                               tag=_LUT_DESCRIPTOR)
    lut = _lut_data(item, ds.is_little_endian, nr_entries, bits, False, where)
    return _lookup(src, code, _lut.RULE_VOI, bits, first_map, nr_entries, [lut],
                   where, _LUT_DATA)


def apply_windowing(arr: np.ndarray, ds: Any, index: int = 0) -> np.ndarray:
    """Apply a Window Center / Window Width to `arr`.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    arr : numpy.ndarray
        The values to window: stored values, or the output of
        :func:`apply_modality_lut` (apply that first).
    ds : rapidicom.Dataset
        The dataset holding (0028,1050) *Window Center*, (0028,1051)
        *Window Width* and optionally (0028,1056) *VOI LUT Function*
        (``LINEAR`` by default, ``LINEAR_EXACT`` or ``SIGMOID``).
    index : int, optional
        Which window to use when the values are multi-valued (default
        ``0``; ignored for single values).

    Returns
    -------
    numpy.ndarray
        ``float64`` values from y_min to y_max: the range of the stored
        values given by (0028,0101) *Bits Stored* and (0028,0103) *Pixel
        Representation* (or ``0 .. 2**n - 1`` for a Modality LUT of *n*
        bits per entry), rescaled when Rescale Slope / Intercept are
        present.  `arr` itself when the dataset has neither Window Center
        nor Window Width.

    Raises
    ------
    ValueError
        For a Photometric Interpretation other than MONOCHROME1 / 2, an
        unknown VOI LUT Function, or a Window Width the function does not
        allow (``rapidicom.InvalidDicomError``, a ``ValueError``).

    Notes
    -----
    The arithmetic is pydicom 3.0's, operation by operation in float64, so
    the results are identical; SIGMOID uses numpy's own ``exp`` loop (see
    ``rapidicom._lut.exp_matches_numpy()``).
    """
    if "WindowWidth" not in ds and "WindowCenter" not in ds:
        return arr
    if ds.PhotometricInterpretation not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(
            "When performing a windowing operation only 'MONOCHROME1' and "
            "'MONOCHROME2' are allowed for (0028,0004) Photometric Interpretation")
    voi_func = ds.get("VOILUTFunction", "LINEAR")
    voi_func = voi_func.upper() if isinstance(voi_func, str) else voi_func
    center = ds["WindowCenter"]
    if isinstance(center, list):
        center = center[index]
    width = ds["WindowWidth"]
    if isinstance(width, list):
        width = width[index]
    bits_stored = ds.BitsStored

    mlut = ds.get("ModalityLUTSequence")
    if mlut:
        y_min = 0
        y_max = 2 ** _descriptor(mlut[0], "LUTDescriptor",
                                 "Modality LUT Sequence item 1")[2] - 1
    elif ds.PixelRepresentation == 0:
        y_min = 0
        y_max = 2**bits_stored - 1
    else:
        y_min = -(2 ** (bits_stored - 1))
        y_max = 2 ** (bits_stored - 1) - 1
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        y_min = y_min * slope + intercept
        y_max = y_max * slope + intercept
    y_range = y_max - y_min

    function = _lut.VOI_FUNCTIONS.get(voi_func) if isinstance(voi_func, str) else None
    if function is None:
        raise ValueError(f"Unsupported (0028,1056) VOI LUT Function value '{voi_func}'")
    if not isinstance(center, (int, float)) or not isinstance(width, (int, float)):
        raise InvalidDicomError(
            f"Window Center {center!r} / Window Width {width!r} are not numbers",
            tag=0x00281050)
    src, code = _input(arr)
    out = np.empty(src.shape, dtype=np.float64)
    _lut.window(_bytes(src), code, src.size, function, float(center), float(width),
                float(y_min), float(y_max), float(y_range), _bytes(out))
    return out


# ---------------------------------------------------------------------------
# Palette Color LUTs
# ---------------------------------------------------------------------------

def _well_known_palette(palette: str) -> Any:
    """The rapidicom Dataset of a well-known palette, from pydicom's files."""
    from rapidicom import open as _open

    name = str(palette)
    uid = name if _UID.match(name) and len(name) <= 64 else _PALETTE_NAMES.get(name)
    fname = _PALETTE_FILES.get(uid or "")
    if fname is None:
        raise ValueError(f"Unknown palette '{palette}'")
    spec = importlib.util.find_spec("pydicom")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the well-known palettes are read from the files shipped with pydicom: "
            "install pydicom to use apply_palette(palette=...)")
    for base in spec.submodule_search_locations:
        path = Path(base) / "data" / "palettes" / fname
        if path.is_file():
            return _open(path)
    raise ImportError(f"pydicom is installed but its palette file {fname} is missing")


def apply_palette(arr: np.ndarray, ds: Any = None, palette: str | None = None
                  ) -> np.ndarray:
    """Apply the Palette Color Lookup Tables to `arr`: indices to RGB(A).

    .. versionadded:: 0.2.0

    Parameters
    ----------
    arr : numpy.ndarray
        The stored pixel values to colour.
    ds : rapidicom.Dataset, optional
        Required when `palette` is not given: a dataset with the
        :dcm:`Image Pixel<part03/sect_C.7.6.3.html>` or
        :dcm:`Palette Color Lookup Table<part03/sect_C.7.9.html>` Module,
        with (0028,1201-1203) *Palette Color Lookup Table Data* or
        (0028,1221-1223) *Segmented Palette Color Lookup Table Data*, and
        optionally the alpha table (0028,1204) or (0028,1224).
    palette : str, optional
        Instead of `ds`: a well-known palette (PS3.6 Annex B) by name
        (``'HOT_IRON'``, ``'PET'``, ``'HOT_METAL_BLUE'``, ``'PET_20_STEP'``,
        ``'SPRING'``, ``'SUMMER'``, ``'FALL'``, ``'WINTER'``) or by SOP
        Instance UID.  The palettes are read from the files shipped with
        pydicom, which must then be installed.

    Returns
    -------
    numpy.ndarray
        Shape ``arr.shape + (3,)`` (or ``(4,)`` with an alpha table), dtype
        ``uint8`` or ``uint16`` as the LUT entries: for Palette Color LUT
        Data, from the data length per entry; for segmented data, from the
        third value of the Red Palette Color LUT Descriptor.

    Raises
    ------
    ValueError
        When neither `ds` nor `palette` is given, the palette is unknown,
        the dataset uses the Supplemental Palette Color LUT Module (Pixel
        Presentation MIXED or COLOR), has no palette, or its LUTs are
        malformed (``rapidicom.InvalidDicomError``, a ``ValueError``).
    ImportError
        For `palette` when pydicom is not installed.

    Notes
    -----
    Results equal pydicom 3.0's ``apply_color_lut``, including its
    quirks: the Red descriptor serves all channels; a value's index is
    converted to the LUT entry type before being clamped to the last entry,
    so values past an 8-bit LUT wrap; an indirect segment's offset counts
    entries. rapidicom differs in two places, both pydicom bugs:
    16-bit Palette Color LUT Data of a big endian dataset is read in the
    dataset's byte order (pydicom reads it as little endian), and the names
    ``'FALL'`` and ``'WINTER'`` give those palettes (pydicom swaps them).
    """
    if not ds and not palette:
        raise ValueError("Either 'ds' or 'palette' is required")
    if palette:
        ds = _well_known_palette(palette)
    if ds.get("PixelPresentation") in ("MIXED", "COLOR"):
        raise ValueError(
            "Use of this function with the Supplemental Palette Color Lookup Table "
            "Module is not currently supported")
    if "RedPaletteColorLookupTableDescriptor" not in ds:
        raise ValueError("No suitable Palette Color Lookup Table Module found")
    nr_entries, first_map, nominal = _descriptor(
        ds, "RedPaletteColorLookupTableDescriptor", "Palette Color LUT")
    if nominal not in (8, 16, 32, 64):
        raise InvalidDicomError(
            f"a Palette Color LUT of {nominal} bits per entry (8 or 16 allowed)",
            tag=0x00281101)

    channels = ("Red", "Green", "Blue", "Alpha")
    luts: list[np.ndarray] = []
    if "RedPaletteColorLookupTableData" in ds:
        kw = [f"{c}PaletteColorLookupTableData" for c in channels]
        values = [ds.get(k) for k in kw]
        red = values[0]
        depth = (len(red) if red is not None else 0) / nr_entries * 8
        if depth not in (8, 16):
            raise InvalidDicomError(
                f"The bit depth of the LUT data '{depth:.1f}' is invalid (only 8 or "
                "16 bits per entry allowed)", tag=0x00281201)
        dtype = np.dtype(np.uint8) if depth == 8 else np.dtype(
            "<u2" if ds.is_little_endian else ">u2")
        for k, v in zip(kw, values):
            if v is None or len(v) == 0:
                if k.startswith("Alpha"):
                    continue
                raise InvalidDicomError(f"the {k} is missing or empty")
            if len(v) != len(red):
                raise InvalidDicomError("LUT data must be the same length")
            luts.append(np.frombuffer(v, dtype=dtype).astype(f"u{dtype.itemsize}"))
    elif "SegmentedRedPaletteColorLookupTableData" in ds:
        if nominal not in (8, 16):
            raise InvalidDicomError(
                f"segmented Palette Color LUT Data of {nominal} bits per entry "
                "(8 or 16 allowed)", tag=0x00281101)
        depth = nominal
        for c in channels:
            k = f"Segmented{c}PaletteColorLookupTableData"
            v = ds.get(k)
            if v is None or len(v) == 0:
                if c == "Alpha":
                    continue
                raise InvalidDicomError(f"the {k} is missing or empty")
            lut = _lut.expand_segmented(memoryview(v).cast("B"), nominal // 8,
                                        ds.is_little_endian, k, None)
            luts.append(lut.astype(f"u{nominal // 8}", copy=False))
        if any(len(x) != len(luts[0]) for x in luts):
            raise InvalidDicomError("LUT data must be the same length")
    else:
        raise ValueError("No suitable Palette Color Lookup Table Module found")

    src, code = _input(arr)
    return _lookup(src, code, _lut.RULE_PALETTE, int(depth), first_map, nr_entries,
                   luts, "Palette Color LUT", None)
