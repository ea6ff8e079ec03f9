"""The exceptions rapidicom raises for bad input.

Every error raised because of the data (not because of a programming mistake)
derives from :class:`DicomError`.  Callers read ``.offset``, ``.tag`` and
``.code`` instead of parsing the message.
"""
from __future__ import annotations

__all__ = [
    "DicomError",
    "InvalidDicomError",
    "TruncatedError",
    "LimitExceededError",
    "UnsupportedError",
    "DecodeError",
]


class DicomError(Exception):
    """Base class of every error caused by the input data.

    Attributes
    ----------
    offset : int or None
        Byte offset in the scanned buffer where the problem was found.
    tag : int or None
        The tag being read, as ``0xGGGGEEEE``, when known.
    code : str
        A short machine-readable code, e.g. ``"truncated"``.
    path : str
        The enclosing elements, e.g. ``"(0040,0275)[2]."``; may be empty.
    """

    code = "invalid"

    def __init__(self, message: str, *, offset: int | None = None,
                 tag: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.tag = tag
        self.path = path


class InvalidDicomError(DicomError, ValueError):
    """The data is not valid DICOM."""


class TruncatedError(InvalidDicomError):
    """A header or value runs past the end of the data."""

    code = "truncated"


class LimitExceededError(InvalidDicomError):
    """A resource limit (nesting depth, element count, size) was exceeded.

    The message says how to raise the limit.  See docs/LIMITS.md.

    Attributes
    ----------
    limit : str or None
        The :class:`rapidicom.Limits` field that was exceeded, e.g.
        ``"max_depth"``; None for a fixed bound of a codec.
    """

    code = "limit"

    def __init__(self, message: str, *, limit: str | None = None, **where) -> None:
        if limit is not None:
            message = (f"{message}; to raise the limit, pass limits=rapidicom.Limits("
                       f"{limit}=...) to rapidicom.open() or call "
                       f"rapidicom.set_default_limits({limit}=...)")
        super().__init__(message, **where)
        self.limit = limit


class UnsupportedError(DicomError, NotImplementedError):
    """Valid DICOM that this build cannot handle."""

    code = "unsupported"


class DecodeError(DicomError, ValueError):
    """Compressed data (deflate, pixel codecs) is corrupt."""

    code = "decode"
