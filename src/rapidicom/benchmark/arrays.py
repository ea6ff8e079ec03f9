"""Comparing pixel arrays from different decoders.

``array_digest`` condenses an array (shape, kind and size of its elements,
values in native byte order) into a short hash, so a worker process can
report what it decoded without sending the pixels back.  ``compare_arrays``
says whether two arrays agree and by how much they differ;
``tolerance_for`` gives the difference a lossy stream may show between two
correct decoders.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rapidicom.benchmark import syntaxes

__all__ = ["Comparison", "array_digest", "compare_arrays", "tolerance_for",
           "LOSSY_MEAN_TOLERANCE"]

# Largest mean |difference| a lossy decode may show and still count as right.
LOSSY_MEAN_TOLERANCE = 0.5


def array_digest(arr) -> str:
    """A 32-digit hex hash of `arr`'s shape, element kind and size, and values.

    Byte order does not matter (pydicom gives big endian data a ``'>u2'``
    dtype, rapidicom native order), nor does memory layout.
    """
    arr = np.asarray(arr)
    native = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((arr.shape, arr.dtype.kind, arr.dtype.itemsize)).encode())
    h.update(np.ascontiguousarray(native).data)
    return h.hexdigest()


@dataclass
class Comparison:
    """The outcome of `compare_arrays`.

    ``ok``: the arrays agree (exactly, or within the tolerance);
    ``why``: what differs when they do not; ``max_diff`` and ``mean_diff``:
    the largest and the mean absolute difference (None when the shapes or
    element types already differ).
    """
    ok: bool
    why: str | None = None
    max_diff: float | None = None
    mean_diff: float | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "why": self.why, "max_diff": self.max_diff,
                "mean_diff": self.mean_diff}


def _type_difference(got: np.ndarray, ref: np.ndarray) -> str | None:
    """Why the element types are not comparable, or None.

    The same size with the other signedness counts only where every value
    is the same number in both (a library that calls 12-bit unsigned data
    signed gives the same numbers as long as no value is negative).
    """
    if got.dtype.kind == ref.dtype.kind and got.dtype.itemsize == ref.dtype.itemsize:
        return None
    ints = got.dtype.kind in "iu" and ref.dtype.kind in "iu"
    if ints and got.dtype.itemsize == ref.dtype.itemsize and \
            np.array_equal(got.astype(np.int64), ref.astype(np.int64)):
        return None
    values = "values equal" if got.size == ref.size and np.array_equal(got, ref) \
        else "values differ"
    return f"dtype {got.dtype} != {ref.dtype} ({values})"


def compare_arrays(got, ref, tolerance: float = 0,
                   mean_tolerance: float = LOSSY_MEAN_TOLERANCE) -> Comparison:
    """Whether `got` holds `ref`'s values.

    Equal shapes and element types are required (see `_type_difference`).
    With ``tolerance == 0`` the values must be equal; otherwise the largest
    absolute difference may reach `tolerance` if the mean stays within
    `mean_tolerance`.  Both numbers are reported either way.
    """
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        return Comparison(False, f"shape {got.shape} != {ref.shape}")
    why = _type_difference(got, ref)
    if why:
        return Comparison(False, why)
    wide = np.float64 if "f" in (got.dtype.kind + ref.dtype.kind) else np.int64
    diff = np.abs(got.astype(wide) - ref.astype(wide))
    if wide is np.float64:          # NaN where both are NaN is agreement
        diff[np.isnan(got) & np.isnan(ref)] = 0
        diff[np.isnan(diff)] = np.inf
    max_diff = diff.max().item() if diff.size else 0
    mean_diff = float(diff.mean()) if diff.size else 0.0
    if max_diff == 0 or (tolerance and max_diff <= tolerance and mean_diff <= mean_tolerance):
        return Comparison(True, None, max_diff, mean_diff)
    bad = np.flatnonzero(diff.reshape(-1))
    first = int(bad[0])
    why = (f"{bad.size} of {diff.size} values differ, max |diff| {max_diff:g}, "
           f"mean {mean_diff:.3g} (first at flat index {first}: "
           f"{got.reshape(-1)[first]!r} != {ref.reshape(-1)[first]!r})")
    if tolerance:
        why += f"; tolerance: max {tolerance:g}, mean {mean_tolerance:g}"
    return Comparison(False, why, max_diff, mean_diff)


def tolerance_for(pixels) -> int:
    """Largest |difference| from rapidicom's array that another decoder of
    the same stream may show (0 = must be equal), for a rapidicom ``Pixels``.

    Decoders of one lossy stream differ legitimately: JPEG IDCT and chroma
    upsampling variants (pylibjpeg's libjpeg against libjpeg-turbo: up to 9
    on a 4:2:2 image, mean 0.25), 9/7 wavelet rounding for JPEG 2000.  A
    wrong colour space, sign or bit depth is off by tens to thousands on
    average, which the mean tolerance catches.  JPEG-LS near-lossless
    decodes exactly in every conforming decoder (the error bound is the
    encoder's), so it gets 0.  Otherwise 16 for up to 8 bits stored and
    2**bits_stored / 64 above.
    """
    ts = pixels.transfer_syntax
    if ts not in syntaxes.LOSSY or ts == syntaxes.JPEG_LS_NEAR_LOSSLESS:
        return 0
    bits = pixels.bits_stored
    return 16 if bits <= 8 else (1 << bits) // 64
