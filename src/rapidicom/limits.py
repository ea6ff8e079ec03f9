"""Resource limits: how much memory and work one input may cost.

A DICOM header is a few bytes that can claim anything: sequences nested
thousands deep, a deflated dataset that inflates a thousandfold, a billion
frames of 65535 x 65535 pixels.  Every such claim is checked against a
:class:`Limits` before anything is allocated or decoded, and exceeding one
raises :class:`rapidicom.LimitExceededError` naming the limit.

The defaults come from the one table of the C core (the ``RD_DEFAULT_*``
macros of ``src/core/rapidicom.h``); they open every real file, including
multi-frame images beyond 2 GiB.  Raise a limit for one call with
``rapidicom.open(path, limits=rapidicom.Limits(max_frames=...))`` or for the
whole process with :func:`set_default_limits`.  docs/LIMITS.md lists them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rapidicom import _core

__all__ = ["Limits", "get_default_limits", "set_default_limits"]

# Field -> default, from the C table (_core.LIMIT_TABLE).
_DEFAULTS = {name: default for name, _, default in _core.LIMIT_TABLE}

# Limits the C core stores in 32 bits; the others are 64-bit.
_UINT32_FIELDS = frozenset({"max_depth", "max_elements", "max_jpeg_scans", "max_j2k_tiles"})
# max_depth 0 allows no sequence at all; every other limit is at least 1
# (for the codecs' limits, 0 would mean "the default").
_MINIMUM = {"max_depth": 0}


@dataclass(frozen=True)
class Limits:
    """Resource limits for opening DICOM data and decoding its pixels.

    Every field is a positive integer (``max_depth`` may be 0: no
    sequences); the defaults are the C core's.

    Attributes
    ----------
    max_depth : int
        Sequence nesting depth (sequences inside items inside sequences).
    max_elements : int
        Elements, items and fragments in one index.
    max_inflated : int
        Bytes a Deflated Explicit VR Little Endian dataset may inflate to.
    max_frames : int
        Number of Frames the pixel engine accepts (it builds a table of
        them before decoding).
    max_frame_pixels : int
        Rows x Columns of one frame.
    max_decoded_bytes : int
        Bytes one ``frame()``, ``to_array()`` or ``pixel_array`` call may
        allocate for its output (checked before allocating; views of the
        file allocate nothing and are not limited).
    max_jpeg_scans : int
        Scans in one JPEG frame (progressive JPEG makes one pass per scan).
    max_j2k_tiles : int
        Tiles in one JPEG 2000 frame, unless they average 4096 pixels or
        more (openjpeg keeps tables per tile).

    Examples
    --------
    >>> big = rapidicom.Limits(max_decoded_bytes=64 << 30)
    >>> ds = rapidicom.open("huge.dcm", limits=big)

    .. versionadded:: 0.2.0
    """

    max_depth: int = _DEFAULTS["max_depth"]
    max_elements: int = _DEFAULTS["max_elements"]
    max_inflated: int = _DEFAULTS["max_inflated"]
    max_frames: int = _DEFAULTS["max_frames"]
    max_frame_pixels: int = _DEFAULTS["max_frame_pixels"]
    max_decoded_bytes: int = _DEFAULTS["max_decoded_bytes"]
    max_jpeg_scans: int = _DEFAULTS["max_jpeg_scans"]
    max_j2k_tiles: int = _DEFAULTS["max_j2k_tiles"]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _check_value(field.name, getattr(self, field.name))

    def replace(self, **changes: int) -> Limits:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)


def _check_value(name: str, value) -> None:
    """A limit is an integer that fits the C field carrying it."""
    low, high = _MINIMUM.get(name, 1), (1 << (32 if name in _UINT32_FIELDS else 64)) - 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Limits.{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"Limits.{name} must be within {low}..{high}, not {value}")


def get_default_limits() -> Limits:
    """The Limits that :func:`rapidicom.open` uses when given none.

    .. versionadded:: 0.2.0
    """
    return _core._get_default_limits()


def set_default_limits(limits: Limits | None = None, /, **changes: int) -> Limits:
    """Change the process-wide default Limits; returns the previous ones.

    Parameters
    ----------
    limits : Limits, optional
        The new defaults (``Limits()`` restores the built-in ones).  Without
        it, `changes` apply to the current defaults.
    **changes : int
        Fields to change, e.g. ``max_frames=1 << 24``.

    Returns
    -------
    Limits
        The defaults before the call, to restore them later.

    Examples
    --------
    >>> previous = rapidicom.set_default_limits(max_decoded_bytes=64 << 30)
    >>> ...
    >>> rapidicom.set_default_limits(previous)

    .. versionadded:: 0.2.0
    """
    previous = get_default_limits()
    base = previous if limits is None else limits
    if not isinstance(base, Limits):
        raise TypeError(f"limits must be a rapidicom.Limits, not {type(base).__name__}")
    _core._set_default_limits(base.replace(**changes) if changes else base)
    return previous


_core._set_default_limits(Limits())
