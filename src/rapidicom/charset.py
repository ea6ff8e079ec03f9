"""Decoding of DICOM text values with (0008,0005) *Specific Character Set*.

This module turns the raw bytes of the text VRs (SH, LO, UC, ST, LT, UT and
PN) into :class:`str`, giving exactly the strings that pydicom 3.0 gives with
its default settings, warnings included.  It is pure Python and uses only the
codecs of the standard library, so it works before the compiled extension is
built and can be tested against pydicom directly.

How decoding works
------------------
1. :func:`python_encodings` maps the *Specific Character Set* terms to Python
   codec names once per dataset.  Misspelled terms that are easy to recognise
   (``"ISO IR 100"``, ``"ISO-2022-IR 87"``) are corrected with a warning;
   terms that are already Python codec names are kept; anything else becomes
   the default encoding with a warning.  *ISO_IR 192* (UTF-8), *GB18030* and
   *GBK* allow no code extensions, so they are dropped (with a warning) from
   any position but the first, and when they come first every later term is
   dropped.
2. :func:`decode_text` decodes one value.  Without an ESC byte (0x1B) the
   whole value is decoded with the first encoding: one ``memchr`` and one
   ``bytes.decode`` call, which is the common case and is kept free of any
   other work.  With ESC bytes the value is cut in front of every ESC; the
   part before the first ESC uses the first encoding and every other part
   uses the encoding its escape sequence selects (PS3.5 6.1.2.5, PS3.3
   C.12.1.1.2).  For single-byte sets and Korean the escape sequence is
   removed and the first *delimiter* byte in the part switches back to the
   first encoding; the ISO 2022 Japanese codecs (and ``iso_ir_58``) are
   handed the part with its escape sequence and do their own switching.
3. The ``convert_*`` functions apply the value splitting and padding rules
   pydicom uses for each VR.

Deliberately reproduced pydicom behaviour
-----------------------------------------
Results are meant to be interchangeable with pydicom's, so some of its
choices are kept even where the standard reads differently:

* The default character set is decoded as Latin-1 (``"iso8859"``), not
  ASCII, so bytes 0x80-0xFF never fail without a *Specific Character Set*.
* A PN value read from a file is decoded as a whole with the text
  delimiters (CR, LF, TAB, FF), so ``^`` and ``=`` do not end a code
  extension there (:func:`convert_pn`).  Decoding a single name with
  :func:`decode_person_name` splits on ``=`` first and treats ``^`` as a
  delimiter, as pydicom's ``PersonName`` does when built from bytes.
* ``ESC $ ) A`` (ISO 2022 IR 58) is passed through to Python's ``gb2312``
  codec, which leaves the escape sequence in the decoded text.
* When pydicom builds a ``PersonName`` from decoded text it encodes the
  name again and warns if that fails; :func:`convert_pn` gives the same
  warnings.

Nothing here raises on bad input: unknown terms, unknown escape sequences and
undecodable bytes produce a :class:`UserWarning` and a best-effort string
(undecodable bytes become U+FFFD).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "DEFAULT_ENCODINGS",
    "PN_DELIMS",
    "TEXT_VR_DELIMS",
    "convert_pn",
    "convert_single_text",
    "convert_text",
    "decode_person_name",
    "decode_text",
    "python_encodings",
]

# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

#: Python codec used when there is no *Specific Character Set* (pydicom's
#: ``default_encoding``).  It is Latin-1, a superset of ISO-IR 6 (ASCII).
_DEFAULT = "iso8859"

#: Encodings used when (0008,0005) is absent or empty.
DEFAULT_ENCODINGS: tuple[str, ...] = (_DEFAULT,)

#: Bytes that end a code extension in text values: TAB, LF, FF and CR
#: (PS3.5 6.1.2.5.3).
TEXT_VR_DELIMS: frozenset[int] = frozenset({0x09, 0x0A, 0x0C, 0x0D})

#: Bytes that end a code extension inside one PN component group: ``^``.
#: The group separator ``=`` is dealt with by splitting before decoding.
PN_DELIMS: frozenset[int] = frozenset({0x5E})

# Defined Terms of (0008,0005) (PS3.3 C.12.1.1.2) -> Python codec names.
# The names are the ones pydicom uses; they appear in warning messages, so
# they are spelled the same way.
_TERM_TO_CODEC: dict[str, str] = {
    "": _DEFAULT,
    # single-byte character sets without code extensions
    "ISO_IR 6": _DEFAULT,
    "ISO_IR 13": "shift_jis",
    "ISO_IR 100": "latin_1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 126": "iso_ir_126",
    "ISO_IR 127": "iso_ir_127",
    "ISO_IR 138": "iso_ir_138",
    "ISO_IR 144": "iso_ir_144",
    "ISO_IR 148": "iso_ir_148",
    "ISO_IR 166": "iso_ir_166",
    # character sets with code extensions
    "ISO 2022 IR 6": _DEFAULT,
    "ISO 2022 IR 13": "shift_jis",
    "ISO 2022 IR 87": "iso2022_jp",
    "ISO 2022 IR 100": "latin_1",
    "ISO 2022 IR 101": "iso8859_2",
    "ISO 2022 IR 109": "iso8859_3",
    "ISO 2022 IR 110": "iso8859_4",
    "ISO 2022 IR 126": "iso_ir_126",
    "ISO 2022 IR 127": "iso_ir_127",
    "ISO 2022 IR 138": "iso_ir_138",
    "ISO 2022 IR 144": "iso_ir_144",
    "ISO 2022 IR 148": "iso_ir_148",
    "ISO 2022 IR 149": "euc_kr",
    "ISO 2022 IR 159": "iso2022_jp_2",
    "ISO 2022 IR 166": "iso_ir_166",
    "ISO 2022 IR 58": "iso_ir_58",
    # multi-byte character sets without code extensions
    "ISO_IR 192": "UTF8",
    "GB18030": "GB18030",
    "ISO 2022 GBK": "GBK",
    "ISO 2022 58": "GB2312",
    "GBK": "GBK",
}

# Terms that may only be used alone (PS3.3 Table C.12-5, PS3.5 6.1.2.5.4 d).
_STAND_ALONE_TERMS = frozenset({"ISO_IR 192", "GBK", "GB18030"})

# Escape sequences (PS3.3 Tables C.12-3 and C.12-4) -> Python codec names.
_ESCAPE_TO_CODEC: dict[bytes, str] = {
    b"\x1b(B": _DEFAULT,  # ASCII to G0
    b"\x1b-A": "latin_1",
    b"\x1b)I": "shift_jis",  # JIS X 0201 katakana to G1
    b"\x1b(J": "shift_jis",  # JIS X 0201 romaji to G0
    b"\x1b$B": "iso2022_jp",
    b"\x1b-B": "iso8859_2",
    b"\x1b-C": "iso8859_3",
    b"\x1b-D": "iso8859_4",
    b"\x1b-F": "iso_ir_126",
    b"\x1b-G": "iso_ir_127",
    b"\x1b-H": "iso_ir_138",
    b"\x1b-L": "iso_ir_144",
    b"\x1b-M": "iso_ir_148",
    b"\x1b-T": "iso_ir_166",
    b"\x1b$)C": "euc_kr",
    b"\x1b$(D": "iso2022_jp_2",
    b"\x1b$)A": "iso_ir_58",
}

# Codecs that are given the fragment with its escape sequence still in front.
_SELF_SWITCHING = frozenset({"iso2022_jp", "iso2022_jp_2", "iso_ir_58"})

_ESC = b"\x1b"
_FOUR_BYTE_ESCAPES = (b"\x1b$(", b"\x1b$)")

# Spelling mistakes that are corrected with a warning: "ISO IR 100",
# "ISO-IR 100" ... and "ISO-2022-IR 87", "ISO_2022_IR 87" ...
_MISSPELLED_SINGLE = re.compile(r"ISO[^_]IR")
_MISSPELLED_EXTENDED = re.compile(r"ISO.2022.IR.")
_EXTENDED_PREFIX = "ISO 2022 IR "

# ---------------------------------------------------------------------------
# Specific Character Set -> Python codecs
# ---------------------------------------------------------------------------

# Results of python_encodings(), keyed by the tuple of terms, together with
# the warnings to repeat on every call (pydicom warns every time it
# converts).  Datasets in a series share a handful of values, so this stays
# small; it is emptied if it ever grows past _CACHE_MAX entries.
_CACHE_MAX = 256
_encodings_cache: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _warn(message: str) -> None:
    """Issue `message` as a :class:`UserWarning` from the caller's caller."""
    warnings.warn(message, UserWarning, stacklevel=3)


def python_encodings(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return the Python codecs for a *Specific Character Set* value.

    Parameters
    ----------
    value : str, sequence of str or None
        The value of (0008,0005) *Specific Character Set*: one term, the
        list of terms of a multi-valued element, or ``None`` / ``""`` / an
        empty list when the element is absent or empty.  An empty first term
        of a multi-valued element stands for the default repertoire
        (``ISO_IR 6``).

    Returns
    -------
    tuple of str
        One Python codec name per term, in order, duplicates kept.  Codec
        names given instead of DICOM terms are kept as they are.  Terms
        with a recognisable spelling mistake are corrected, and unknown
        terms become the default encoding; both give a
        :class:`UserWarning`.  A stand-alone character set (``ISO_IR 192``,
        ``GB18030``, ``GBK``) given first makes the other terms ignored;
        given later it is itself ignored; both give a :class:`UserWarning`.

    Notes
    -----
    The mapping is that of pydicom 3's ``charset.convert_encodings`` with
    its default (warning) validation mode.  Results are cached; warnings
    are repeated on every call.

    Examples
    --------
    >>> python_encodings(["", "ISO 2022 IR 87"])
    ('iso8859', 'iso2022_jp')
    >>> python_encodings(None)
    ('iso8859',)

    .. versionadded:: 0.1.0
    """
    terms: tuple[str, ...]
    if value is not None and not _is_text(value):
        # Written with a binary VR (a damaged file): no term can be read.
        _warn(f"Specific Character Set holds {type(value).__name__} values, not text - "
              "using default encoding instead")
        value = None
    if not value:
        terms = ("",)
    elif isinstance(value, str):
        terms = (value,)
    else:
        terms = tuple(value)
        if not terms[0]:
            terms = ("ISO_IR 6",) + terms[1:]

    cached = _encodings_cache.get(terms)
    if cached is None:
        messages: list[str] = []
        result = _map_terms(terms, messages)
        cached = (result, tuple(messages))
        if len(_encodings_cache) >= _CACHE_MAX:
            _encodings_cache.clear()
        _encodings_cache[terms] = cached
    for message in cached[1]:
        _warn(message)
    return cached[0]


def _is_text(value) -> bool:
    """True for a str or a list/tuple of str: what a text VR gives."""
    if isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value)


def _map_terms(terms: tuple[str, ...], messages: list[str]) -> tuple[str, ...]:
    """Map DICOM `terms` to codec names, appending warnings to `messages`."""
    codecs_: list[str] = []
    for term in terms:
        codec = _TERM_TO_CODEC.get(term)
        if codec is None:
            codec = _codec_for_unknown_term(term, messages)
        codecs_.append(codec)

    if len(terms) > 1:
        if terms[0] in _STAND_ALONE_TERMS:
            messages.append(
                f"Value '{terms[0]}' for Specific Character Set does not allow "
                f"code extensions, ignoring: {', '.join(terms[1:])}"
            )
            del codecs_[1:]
        else:
            # Walk backwards so that deleting keeps earlier indices valid
            # (and so that the warnings come in the same order as pydicom's).
            for index in range(len(terms) - 1, 0, -1):
                if terms[index] in _STAND_ALONE_TERMS:
                    messages.append(
                        f"Value '{terms[index]}' cannot be used as code "
                        "extension, ignoring it"
                    )
                    del codecs_[index]
    return tuple(codecs_)


def _unknown_term_message(term: str) -> str:
    return f"Unknown encoding '{term}' - using default encoding instead"


def _codec_for_unknown_term(term: str, messages: list[str]) -> str:
    """Return the codec for a term that is not a Defined Term.

    A term that looks like a misspelt Defined Term is corrected; otherwise
    a term that is a Python codec name is kept; otherwise the default
    encoding is used.
    """
    corrected = None
    if _MISSPELLED_SINGLE.match(term):
        corrected = "ISO_IR" + term[6:]
    elif _MISSPELLED_EXTENDED.match(term) and not term.startswith(_EXTENDED_PREFIX):
        corrected = _EXTENDED_PREFIX + term[12:]

    if corrected is not None:
        codec = _TERM_TO_CODEC.get(corrected)
        if codec is None:
            messages.append(_unknown_term_message(term))
            return _DEFAULT
        messages.append(
            f"Incorrect value for Specific Character Set '{term}' - "
            f"assuming '{corrected}'"
        )
        return codec

    try:
        codecs.lookup(term)
    except (LookupError, ValueError):
        # ValueError: a NUL inside the term, where pydicom raises
        messages.append(_unknown_term_message(term))
        return _DEFAULT
    return term


# ---------------------------------------------------------------------------
# Decoding one value
# ---------------------------------------------------------------------------


def _as_bytes(raw: bytes | bytearray | memoryview) -> bytes:
    # bytes.decode and the ESC search need a real bytes object; views from
    # the scanner are small text values, so one copy here is cheap.
    return raw if type(raw) is bytes else bytes(raw)


def decode_text(
    raw: bytes,
    encodings: Sequence[str],
    delimiters: Iterable[int] = TEXT_VR_DELIMS,
) -> str:
    """Decode one encoded text value, following ISO 2022 escape sequences.

    Parameters
    ----------
    raw : bytes-like
        The encoded bytes, without value splitting or padding removal.
    encodings : sequence of str
        Python codec names from :func:`python_encodings`; the first one is
        used until an escape sequence selects another.  Empty means
        :data:`DEFAULT_ENCODINGS`.
    delimiters : iterable of int
        Byte values that switch back to the first encoding after a
        single-byte or Korean code extension: :data:`TEXT_VR_DELIMS` for
        text VRs, :data:`PN_DELIMS` for one PN component group.

    Returns
    -------
    str
        The decoded text.  Bytes that cannot be decoded are replaced by
        U+FFFD and a :class:`UserWarning` is issued; an unknown escape
        sequence gives a :class:`UserWarning` and that fragment (escape
        sequence included) is decoded with the first encoding.

    Notes
    -----
    Same result as pydicom 3's ``charset.decode_bytes``.

    .. versionadded:: 0.1.0
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    if not encodings:
        encodings = DEFAULT_ENCODINGS
    # `int in bytes` is a plain memchr; `b"\x1b" in bytes` is much slower.
    if 0x1B not in raw:
        first = encodings[0]
        try:
            fast = _C_CODEC_NAMES.get(first)
            if fast is not None:
                return raw.decode(fast)
            return _decode_strict(raw, first)
        except LookupError:
            _warn(_unknown_term_message(first))
            return raw.decode(_DEFAULT)
        except UnicodeError:
            _warn(
                f"Failed to decode byte string with encoding '{first}' - "
                "using replacement characters in decoded string"
            )
            return _decode_lenient(raw, first)
    return _decode_with_escapes(raw, encodings, delimiters)


# Codec names that bytes.decode handles in C without a registry lookup.
_C_CODEC_NAMES = {"iso8859": "latin-1", "latin_1": "latin-1", "UTF8": "utf-8"}

# codec name -> the codec's stateless decode function.  Calling it directly
# skips the name normalisation and registry lookup of bytes.decode, which
# costs more than decoding a short value.
_DECODERS: dict[str, Callable[[bytes], tuple[str, int]]] = {}


def _decode_strict(data: bytes, codec: str) -> str:
    """``data.decode(codec)``, with the codec's decode function cached."""
    decode = _DECODERS.get(codec)
    if decode is None:
        try:
            info = codecs.lookup(codec)
        except ValueError as exc:  # e.g. a NUL in the name
            raise LookupError(str(exc)) from exc
        if not getattr(info, "_is_text_encoding", True):
            # bytes.decode refuses bytes-to-bytes codecs such as "hex"
            raise LookupError(f"'{codec}' is not a text encoding")
        decode = _DECODERS[codec] = info.decode
    return decode(data)[0]


def _decode_lenient(data: bytes, codec: str) -> str:
    """Decode with U+FFFD for bad bytes; Latin-1 if `codec` is unusable."""
    try:
        return data.decode(codec, errors="replace")
    except (LookupError, ValueError):
        return data.decode(_DEFAULT)


def _decode_with_escapes(
    raw: bytes, encodings: Sequence[str], delimiters: Iterable[int]
) -> str:
    """Decode `raw`, which contains at least one ESC byte."""
    pieces = raw.split(_ESC)
    out: list[str] = []
    if pieces[0]:
        out.append(_decode_fragment(pieces[0], encodings, delimiters))
    for piece in pieces[1:]:
        out.append(_decode_fragment(_ESC + piece, encodings, delimiters))
    return "".join(out)


def _decode_fragment(
    fragment: bytes, encodings: Sequence[str], delimiters: Iterable[int]
) -> str:
    """Decode a fragment that has no ESC byte except possibly its first."""
    first = encodings[0]
    try:
        if fragment[:1] == _ESC:
            return _decode_escaped_fragment(fragment, encodings, delimiters)
        return _decode_strict(fragment, first)
    except UnicodeError:
        _warn(
            f"Failed to decode byte string with encodings: {', '.join(encodings)}"
            " - using replacement characters in decoded string"
        )
        return _decode_lenient(fragment, first)
    except LookupError:
        # Only reachable with codec names that are not text encodings,
        # where pydicom raises; fall back instead.
        _warn(_unknown_term_message(first))
        return fragment.decode(_DEFAULT)


def _decode_escaped_fragment(
    fragment: bytes, encodings: Sequence[str], delimiters: Iterable[int]
) -> str:
    """Decode a fragment that starts with an escape sequence."""
    seq_len = 4 if fragment.startswith(_FOUR_BYTE_ESCAPES) else 3
    codec = _ESCAPE_TO_CODEC.get(fragment[:seq_len], "")
    if codec in encodings or codec == _DEFAULT:
        if codec in _SELF_SWITCHING:
            return _decode_strict(fragment, codec)
        body = fragment[seq_len:]
        # The first delimiter ends the code extension: the rest of the
        # fragment is in the first encoding.
        stop = -1
        for delim in delimiters:
            pos = body.find(delim)
            if pos >= 0 and (stop < 0 or pos < stop):
                stop = pos
        if stop >= 0:
            return _decode_strict(body[:stop], codec) + _decode_strict(
                body[stop:], encodings[0]
            )
        return _decode_strict(body, codec)

    _warn(
        "Found unknown escape sequence in encoded string value - "
        f"using encoding {encodings[0]}"
    )
    return _decode_lenient(fragment, encodings[0])


# ---------------------------------------------------------------------------
# Value conversions per VR
# ---------------------------------------------------------------------------


def convert_text(raw: bytes, encodings: Sequence[str]) -> str | list[str]:
    """Convert an SH, LO or UC value.

    Parameters
    ----------
    raw : bytes-like
        The whole encoded element value.
    encodings : sequence of str
        Python codec names from :func:`python_encodings`.

    Returns
    -------
    str or list of str
        The value decoded, split on backslash and with trailing NUL and
        space characters removed from each value: a :class:`str` for one
        value, a :class:`list` for several.  Same as pydicom 3's
        ``values.convert_text``.

    .. versionadded:: 0.1.0
    """
    text = decode_text(raw, encodings, TEXT_VR_DELIMS)
    if "\\" not in text:
        return text.rstrip("\0 ")
    return [value.rstrip("\0 ") for value in text.split("\\")]


def convert_single_text(raw: bytes, encodings: Sequence[str]) -> str:
    """Convert an ST, LT or UT value.

    Parameters
    ----------
    raw : bytes-like
        The whole encoded element value.
    encodings : sequence of str
        Python codec names from :func:`python_encodings`.

    Returns
    -------
    str
        The decoded text with trailing NUL and space characters removed.
        Backslashes are ordinary characters in these VRs.  Same as pydicom
        3's ``values.convert_single_string``.

    .. versionadded:: 0.1.0
    """
    return decode_text(raw, encodings, TEXT_VR_DELIMS).rstrip("\0 ")


def convert_pn(raw: bytes, encodings: Sequence[str]) -> str | list[str]:
    """Convert a PN value as pydicom does when it reads a dataset.

    Parameters
    ----------
    raw : bytes-like
        The whole encoded element value.
    encodings : sequence of str
        Python codec names from :func:`python_encodings`.

    Returns
    -------
    str or list of str
        One name per value (a :class:`str` for one value, a :class:`list`
        for several), each being ``str()`` of the ``PersonName`` that pydicom
        3's ``values.convert_PN`` returns: trailing NUL and space bytes are
        removed from the whole value, the whole value is decoded with
        :data:`TEXT_VR_DELIMS`, it is split on backslash, and trailing
        ``=`` characters (empty trailing component groups) are dropped from
        each name.

    Notes
    -----
    Decoding before splitting keeps ISO 2022 JIS X 0208 characters whose
    second byte is 0x5C or 0x3D intact; callers should pass the whole value
    rather than split it themselves.  pydicom re-encodes each name after
    decoding and warns when that fails; the same warnings are issued here.

    .. versionadded:: 0.1.0
    """
    raw = _as_bytes(raw).rstrip(b"\x00 ")
    if not encodings:
        encodings = DEFAULT_ENCODINGS
    text = decode_text(raw, encodings, TEXT_VR_DELIMS)
    if "\\" not in text:
        name = text.rstrip("=")
        _check_reencoding(name, encodings)
        return name
    names = [value.rstrip("=") for value in text.split("\\")]
    for name in names:
        if not _check_reencoding(name, encodings):
            break
    return names


def decode_person_name(raw: bytes, encodings: Sequence[str]) -> str:
    """Decode one PN value (one name, already split on backslash).

    Parameters
    ----------
    raw : bytes-like
        The encoded name: up to three component groups separated by ``=``.
    encodings : sequence of str
        Python codec names from :func:`python_encodings`.

    Returns
    -------
    str
        The component groups, each decoded separately with
        :data:`PN_DELIMS` (so ``^`` ends a code extension), joined by
        ``=``, with empty trailing groups dropped.  Same as
        ``str(pydicom.valuerep.PersonName(raw, encodings))``.

    Notes
    -----
    Splitting bytes on ``=`` (and on backslash before calling this) is
    wrong for ISO 2022 IR 87/159 text, where 0x3D and 0x5C can be the
    second byte of a character; :func:`convert_pn` decodes first and is
    what reading a dataset uses.

    .. versionadded:: 0.1.0
    """
    raw = _as_bytes(raw)
    if not encodings:
        encodings = DEFAULT_ENCODINGS
    groups = [decode_text(group, encodings, PN_DELIMS) for group in raw.split(b"=")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


# ---------------------------------------------------------------------------
# Re-encoding check for PN (warnings only)
# ---------------------------------------------------------------------------
#
# pydicom's convert_PN builds each PersonName from decoded text and then
# encodes it again to record the original bytes.  The encoder tries each
# codec on each "^"-separated group, then a split of the group across the
# codecs, and finally warns and substitutes replacement characters.  The
# result value is unaffected, but the warning is visible, so this section
# works out whether it would appear.  Only non-ASCII names (or Japanese
# ISO 2022 first encodings) ever get here.

# First codecs that encode any ASCII text one-to-one (JIS X 0201 romaji via
# shift_jis included), so an ASCII name is always re-encoded silently.
_ASCII_SAFE = frozenset(
    codec
    for codec in set(_TERM_TO_CODEC.values())
    if codec not in ("iso2022_jp", "iso2022_jp_2")
)
# First codecs that can encode every decoded string.
_UNIVERSAL = frozenset({"UTF8", "GB18030"})

# Escape sequence a JIS X 0208 / 0212 group must start with when encoded.
_JIS_GROUP_PREFIX = {"iso2022_jp": b"\x1b$B", "iso2022_jp_2": b"\x1b$(D"}


_ENCODERS: dict[str, Callable[[str], tuple[bytes, int]]] = {}
_INCREMENTAL_ENCODERS: dict[str, Callable[[], codecs.IncrementalEncoder]] = {}


class _EncoderWouldRaise(Exception):
    """pydicom would raise instead of warning; stop checking."""


def _check_reencoding(name: str, encodings: Sequence[str]) -> bool:
    """Warn where pydicom fails to re-encode `name`; False if pydicom raises.

    A False return means pydicom would have raised (IndexError from its
    JIS X 0208/0212 encoder on an empty group), so no later name of the
    element would have been looked at either.
    """
    first = encodings[0]
    if first in _UNIVERSAL:
        return True
    ascii_safe = first in _ASCII_SAFE
    if ascii_safe and name.isascii():
        return True
    try:
        for group_set in name.split("=") if name else ():
            for group in group_set.split("^"):
                if ascii_safe and group.isascii():
                    continue
                if not _encodes(group, encodings):
                    _warn(
                        "Failed to encode value with encodings: "
                        f"{', '.join(encodings)} - using replacement characters"
                        " in encoded string"
                    )
    except _EncoderWouldRaise:
        return False
    return True


def _encodes(text: str, encodings: Sequence[str]) -> bool:
    """Whether pydicom's encoder succeeds on `text` without replacements."""
    for codec in encodings:
        if _unencodable_at(text, codec) is None:
            return True
    if len(encodings) < 2:
        return False
    # Encode the rest of the text piecewise, each time with the codec that
    # gets furthest; give up when no codec can encode the next character.
    rest = text
    while rest:
        furthest = 0
        for codec in encodings:
            pos = _unencodable_at(rest, codec)
            if pos is None:
                furthest = len(rest)
                break
            furthest = max(furthest, pos)
        if furthest == 0:
            return False
        rest = rest[furthest:]
    return True


def _unencodable_at(text: str, codec: str) -> int | None:
    """Index where encoding `text` with pydicom's encoder for `codec` fails.

    Returns None when the whole text can be encoded.  shift_jis stands for
    JIS X 0201 only: one byte per character, all in the same half of the
    code table.  iso2022_jp / iso2022_jp_2 stand for JIS X 0208 / 0212
    only: the first character must select that set, and no later one may
    need another escape sequence.
    """
    try:
        if codec == "shift_jis":
            return _jis_x_0201_unencodable_at(text)
        if codec in _JIS_GROUP_PREFIX:
            return _jis_multibyte_unencodable_at(text, codec)
        encode = _ENCODERS.get(codec)
        if encode is None:
            info = codecs.lookup(codec)
            if not getattr(info, "_is_text_encoding", True):
                raise LookupError(codec)
            encode = _ENCODERS[codec] = info.encode
        encode(text)
        return None
    except UnicodeEncodeError as exc:
        return exc.start
    except UnicodeError:
        return 0
    except (LookupError, ValueError) as exc:
        raise _EncoderWouldRaise from exc


def _jis_x_0201_unencodable_at(text: str) -> int | None:
    if not text:
        return None
    high = None
    for index, char in enumerate(text):
        try:
            encoded = char.encode("shift_jis")
        except UnicodeEncodeError:
            return index
        if len(encoded) != 1:
            return index
        if high is None:
            high = encoded[0] & 0x80
        elif encoded[0] & 0x80 != high:
            return index
    return None


def _jis_multibyte_unencodable_at(text: str, codec: str) -> int | None:
    if not text:
        raise _EncoderWouldRaise
    encoder_class = _INCREMENTAL_ENCODERS.get(codec)
    if encoder_class is None:
        encoder_class = _INCREMENTAL_ENCODERS[codec] = codecs.getincrementalencoder(
            codec
        )
    encoder = encoder_class()
    try:
        head = encoder.encode(text[0])
    except UnicodeEncodeError:
        return 0
    if not head.startswith(_JIS_GROUP_PREFIX[codec]):
        return 0
    for index in range(1, len(text)):
        try:
            encoded = encoder.encode(text[index])
        except UnicodeEncodeError:
            return index
        if encoded[:1] == _ESC:
            return index
    return None
