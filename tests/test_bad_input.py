"""Hand-built malformed input: one byte string per error path of the scanner.

In the style of libdeflate's ``programs/test_overread.c`` and msgspec's
``tests/unit/test_JSONTestSuite.py``: every input is built here from small
encoders, each field commented, so the test states exactly which bytes are
wrong.  Each rejected input checks

- the exact exception class (TruncatedError / InvalidDicomError /
  LimitExceededError / DecodeError),
- ``.offset``: the byte offset of the problem (for an element, the offset of
  its tag; for something missing at the end, the end of the data),
- ``.tag`` and ``.path``, and that the message says "offset" and names the
  element path the way STYLE.md asks, e.g. ``(0040,0275)[0].(0010,0010)``,
- what ``lenient=True`` does with it: either the same error (lenient mode
  only clamps values that run past the end) or a readable Dataset whose
  ``warnings`` say what was bent.

The accept list at the end holds inputs that bend the standard the way real
files do and must keep opening, with the values they hold.

Bugs these cases found (fixed in src/core/scan.c):
- error paths named the failing element twice, "(0010,0010)(0010,0010)":
  the open-record chain included the element that err->tag already names;
- paths longer than err->path lost their innermost (most useful) part;
- the max_depth error pointed 12 bytes into the sequence instead of its tag;
- a 100-byte buffer of zeros (a preamble cut short) opened as twelve empty
  (0000,0000) elements instead of being refused as not DICOM.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable

import pytest

import rapidicom
from rapidicom import (DecodeError, DicomError, InvalidDicomError, LimitExceededError,
                       TruncatedError)

# ---------------------------------------------------------------------------
# Encoders
# ---------------------------------------------------------------------------

UNDEFINED = 0xFFFFFFFF
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

ITEM = 0xFFFEE000
ITEM_DELIMITER = 0xFFFEE00D
SEQUENCE_DELIMITER = 0xFFFEE0DD
PATIENT_NAME = 0x00100010           # PN
PATIENT_ID = 0x00100020             # LO
TEXT_VALUE = 0x0040A160             # UT
PIXEL_DATA = 0x7FE00010
SEQ = 0x00400275                    # Request Attributes Sequence, SQ
INNER_SEQ = 0x00081111              # Referenced Performed Procedure Step Sequence, SQ

# VRs with a 2-byte reserved field and a 32-bit length (PS3.5 Table 7.1-1).
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


def tag(t: int) -> bytes:
    """Group and element, little endian."""
    return struct.pack("<HH", t >> 16, t & 0xFFFF)


def explicit(t: int, vr: str, value: bytes = b"", length: int | None = None) -> bytes:
    """Explicit VR little endian element; `length` overrides the true length."""
    n = len(value) if length is None else length
    if vr in LONG_VRS:
        return tag(t) + vr.encode() + b"\0\0" + struct.pack("<I", n) + value
    return tag(t) + vr.encode() + struct.pack("<H", n) + value


def implicit(t: int, value: bytes = b"", length: int | None = None) -> bytes:
    """Implicit VR little endian element: tag, 32-bit length, value."""
    n = len(value) if length is None else length
    return tag(t) + struct.pack("<I", n) + value


def item(body: bytes = b"", length: int | None = None) -> bytes:
    """Item (FFFE,E000); length defaults to the body's, UNDEFINED allowed."""
    return implicit(ITEM, body, length)


def item_delimiter() -> bytes:
    return implicit(ITEM_DELIMITER)


def sequence_delimiter() -> bytes:
    return implicit(SEQUENCE_DELIMITER)


def uid(text: str) -> bytes:
    """A UI value, padded to even length with a NUL."""
    raw = text.encode()
    return raw + b"\0" * (len(raw) % 2)


def file_meta(transfer_syntax: str) -> bytes:
    """File Meta Information with a correct (0002,0000) group length."""
    body = (explicit(0x00020001, "OB", b"\0\1")                          # version
            + explicit(0x00020002, "UI", uid("1.2.840.10008.5.1.4.1.1.7"))  # SC Image Storage
            + explicit(0x00020003, "UI", uid("1.2.3.4"))                 # SOP Instance UID
            + explicit(0x00020010, "UI", uid(transfer_syntax)))
    return explicit(0x00020000, "UL", struct.pack("<I", len(body))) + body


PREAMBLE = bytes(128) + b"DICM"


def deflate(data: bytes, level: int = 6) -> bytes:
    """A raw deflate stream (RFC 1951, no zlib header), as PS3.5 A.5 asks."""
    c = zlib.compressobj(level, zlib.DEFLATED, wbits=-15)
    return c.compress(data) + c.flush()


class Builder:
    """Concatenates parts and returns the offset at which each one starts."""

    def __init__(self, *parts: bytes) -> None:
        self.data = bytearray()
        for p in parts:
            self.add(p)

    def add(self, part: bytes) -> int:
        offset = len(self.data)
        self.data += part
        return offset

    def __len__(self) -> int:
        return len(self.data)

    def bytes(self) -> bytes:
        return bytes(self.data)


def part10(transfer_syntax: str = EXPLICIT_LE) -> Builder:
    """Preamble, "DICM" and File Meta; the dataset is added by the caller."""
    return Builder(PREAMBLE, file_meta(transfer_syntax))


def nested(levels: int, leaf: bytes = explicit(PATIENT_NAME, "PN", b"AB")) -> bytes:
    """`levels` sequences (0040,0275), each holding one item with the next."""
    body = leaf
    for _ in range(levels):
        body = explicit(SEQ, "SQ", item(body))
    return body


def read_everything(ds) -> None:
    """Convert every value, nested items included (what a user may do)."""
    stack = [ds, ds.meta]
    while stack:
        d = stack.pop()
        if d is None:
            continue
        for el in d:
            value = el.value
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, rapidicom.Dataset))


# ---------------------------------------------------------------------------
# The reject table
# ---------------------------------------------------------------------------

@dataclass
class Bad:
    data: bytes
    error: type[DicomError]
    offset: int
    tag: int | None = None
    path: str = ""                  # expected .path (enclosing elements)
    open_kw: dict = field(default_factory=dict)
    # What lenient=True does: None = the same error; else a function that
    # asserts on the Dataset it returns (which must also carry warnings).
    lenient: Callable | None = None

    @property
    def where(self) -> str:
        """The element path as the message must print it."""
        t = "" if self.tag is None else "(%04X,%04X)" % (self.tag >> 16, self.tag & 0xFFFF)
        return self.path + t


CASES: dict[str, Callable[[], Bad]] = {}


def case(fn: Callable[[], Bad]) -> Callable[[], Bad]:
    CASES[fn.__name__] = fn
    return fn


# -- not DICOM at all ---------------------------------------------------------

@case
def preamble_cut_at_100_bytes():
    """A Part 10 file cut inside its (zero) preamble: no "DICM" at 128 and no
    element at 0.  Guards the NOT_DICOM check added to rd_scan_file (before
    it, the zeros opened as twelve (0000,0000) command elements)."""
    return Bad(bytes(100), InvalidDicomError, 0)


@case
def preamble_cut_inside_dicm():
    """128-byte preamble + "DI": the magic itself is cut.  Guards the same
    NOT_DICOM check at the length where the "DICM" test just fails."""
    return Bad(bytes(128) + b"DI", InvalidDicomError, 0)


@case
def three_bytes():
    """Fewer than 8 bytes and no preamble: not even one element header.
    (After a real element the same bytes are stray trailing bytes, accepted.)"""
    return Bad(b"DIC", InvalidDicomError, 0)


# -- element headers ----------------------------------------------------------

@case
def explicit_short_header_cut_in_item():
    """An explicit short-VR header (8 bytes) cut to 5 inside a defined-length
    item: read_header's 8-byte check.  At the top level the same bytes are
    stray trailing bytes (see the accept list)."""
    b = part10()
    header = explicit(PATIENT_NAME, "PN", b"AB")[:5]       # tag + "PN" + 1 length byte
    body = item(header)                                    # item of length 5
    seq = b.add(explicit(SEQ, "SQ", body))                 # SQ of defined length
    at = seq + 12 + 8                                      # SQ header + item header
    return Bad(b.bytes(), TruncatedError, at, None, "(0040,0275)[0].")


@case
def explicit_long_header_cut():
    """An explicit long-VR header needs 12 bytes; 9 are left: the second
    (12-byte) check in read_header, which must name the tag it read."""
    b = part10()
    b.add(explicit(PATIENT_NAME, "PN", b"AB"))
    at = b.add(tag(PATIENT_ID) + b"OB" + b"\0\0" + b"\0")  # tag, VR, reserved, 1 of 4 length bytes
    return Bad(b.bytes(), TruncatedError, at, PATIENT_ID)


# -- value lengths --------------------------------------------------------------

def _clamped_to(tag_: int, value) -> Callable:
    def check(ds):
        assert ds[tag_] == value
    return check


@case
def value_past_end_top_level():
    """PN claims 10 bytes, 2 follow: check_value_fits at the top level."""
    b = part10()
    at = b.add(explicit(PATIENT_NAME, "PN", b"AB", length=10))
    return Bad(b.bytes(), TruncatedError, at, PATIENT_NAME,
               lenient=_clamped_to(PATIENT_NAME, "AB"))


@case
def value_past_end_in_item():
    """PN claims 10 bytes inside a defined-length item that holds 2: the
    limit is the item's end, not the buffer's."""
    b = part10()
    pn = explicit(PATIENT_NAME, "PN", b"AB", length=10)
    seq = b.add(explicit(SEQ, "SQ", item(pn)))
    at = seq + 12 + 8
    # Trailing element: proves the item (not the file) bounded the value.
    b.add(explicit(PATIENT_ID, "LO", b"ID"))

    def lenient(ds):
        assert ds[SEQ][0][PATIENT_NAME] == "AB"
        assert ds[PATIENT_ID] == "ID"
    return Bad(b.bytes(), TruncatedError, at, PATIENT_NAME, "(0040,0275)[0].", lenient=lenient)


@case
def value_past_end_two_levels_deep():
    """The path counts items: the second item of the inner sequence."""
    b = part10()
    inner = explicit(INNER_SEQ, "SQ",
                     item(explicit(PATIENT_NAME, "PN", b"AB"))                  # item [0], fine
                     + item(explicit(PATIENT_NAME, "PN", b"CD", length=99)))    # item [1], bad
    seq = b.add(explicit(SEQ, "SQ", item(inner)))
    # outer SQ header, its item header, inner SQ header, item [0] (header +
    # 10-byte PN), item [1] header: then the bad PN.
    at = seq + 12 + 8 + 12 + (8 + 10) + 8

    def lenient(ds):
        assert ds[SEQ][0][INNER_SEQ][1][PATIENT_NAME] == "CD"
    return Bad(b.bytes(), TruncatedError, at, PATIENT_NAME,
               "(0040,0275)[0].(0008,1111)[1].", lenient=lenient)


@case
def item_past_end_of_sequence():
    """An item claiming 16 bytes in a defined-length sequence of 8."""
    b = part10()
    seq = b.add(explicit(SEQ, "SQ", item(b"", length=16)))   # SQ length 8: the item header only

    def lenient(ds):
        assert [len(i) for i in ds[SEQ]] == [0]            # one item, clamped to empty
    return Bad(b.bytes(), TruncatedError, seq + 12, ITEM, "(0040,0275)[0].", lenient=lenient)


@case
def undefined_length_on_pn_implicit():
    """Undefined length is for SQ, items and encapsulated Pixel Data only."""
    b = part10(IMPLICIT_LE)
    at = b.add(implicit(PATIENT_NAME, b"AB", length=UNDEFINED))
    return Bad(b.bytes(), InvalidDicomError, at, PATIENT_NAME)


@case
def undefined_length_on_ut_explicit():
    # Same rule for an explicit long VR (PN's 16-bit length cannot say 0xFFFFFFFF).
    b = part10()
    at = b.add(explicit(TEXT_VALUE, "UT", b"AB", length=UNDEFINED))
    return Bad(b.bytes(), InvalidDicomError, at, TEXT_VALUE)


# -- items and delimiters out of place --------------------------------------------

@case
def item_tag_at_top_level():
    """An item (FFFE,E000) with no sequence around it: scan_dataset's check
    before read_header (which would read it as an element)."""
    b = part10()
    b.add(explicit(PATIENT_NAME, "PN", b"AB"))             # a normal first element
    at = b.add(item(explicit(PATIENT_ID, "LO", b"ID")))    # stray item of 10 bytes
    return Bad(b.bytes(), InvalidDicomError, at, ITEM)


@case
def item_tag_inside_item():
    """An item directly inside an item: the path keeps the enclosing item
    (describe_open_path leaves out only a non-item record err->tag names)."""
    b = part10()
    seq = b.add(explicit(SEQ, "SQ", item(item())))
    return Bad(b.bytes(), InvalidDicomError, seq + 12 + 8, ITEM, "(0040,0275)[0].")


@case
def sequence_delimiter_at_top_level():
    """(FFFE,E0DD) outside a sequence: same check, other tag and message."""
    b = part10()
    b.add(explicit(PATIENT_NAME, "PN", b"AB"))
    at = b.add(sequence_delimiter())                       # tag + zero length
    return Bad(b.bytes(), InvalidDicomError, at, SEQUENCE_DELIMITER)


@case
def item_delimiter_at_top_level():
    """(FFFE,E00D) at the top level, as the first element: inside an item it
    ends the item; at the top level it must not end the dataset silently."""
    b = part10()
    at = b.add(item_delimiter())                           # tag + zero length
    return Bad(b.bytes(), InvalidDicomError, at, ITEM_DELIMITER)


@case
def non_item_in_defined_sequence():
    """A sequence's value must be items; here it is a PN element."""
    b = part10()
    seq = b.add(explicit(SEQ, "SQ", explicit(PATIENT_NAME, "PN", b"AB")))
    return Bad(b.bytes(), InvalidDicomError, seq + 12, SEQ)   # the PN, after the SQ header


@case
def non_item_in_undefined_sequence():
    """After a good item, an element where the next item or the Sequence
    Delimitation Item must be; the error names the sequence."""
    b = part10()
    seq = b.add(explicit(SEQ, "SQ", length=UNDEFINED))
    b.add(item(explicit(PATIENT_NAME, "PN", b"AB")))       # item [0], fine
    at = b.add(explicit(PATIENT_ID, "LO", b"ID"))           # not an item, no delimiter
    assert at == seq + 12 + 18
    return Bad(b.bytes(), InvalidDicomError, at, SEQ)


@case
def undefined_sequence_without_delimiter():
    """The data ends before the Sequence Delimitation Item: offset = end."""
    b = part10()
    b.add(explicit(SEQ, "SQ", length=UNDEFINED))
    b.add(item(explicit(PATIENT_NAME, "PN", b"AB")))
    return Bad(b.bytes(), TruncatedError, len(b), SEQ)


@case
def undefined_item_without_delimiter():
    """The data ends inside an undefined-length item: the error has no tag
    (nothing was being read) and the path names the item."""
    b = part10()
    b.add(explicit(SEQ, "SQ", length=UNDEFINED))
    b.add(item(explicit(PATIENT_NAME, "PN", b"AB"), length=UNDEFINED))
    return Bad(b.bytes(), TruncatedError, len(b), None, "(0040,0275)[0].")


@case
def undefined_item_in_defined_sequence_without_delimiter():
    """The item's limit is the end of its defined-length sequence, not the file."""
    b = part10()
    body = item(explicit(PATIENT_NAME, "PN", b"AB"), length=UNDEFINED)
    seq = b.add(explicit(SEQ, "SQ", body))
    b.add(explicit(PATIENT_ID, "LO", b"ID"))               # after the sequence
    return Bad(b.bytes(), TruncatedError, seq + 12 + len(body), None, "(0040,0275)[0].")


# -- nesting limit --------------------------------------------------------------

@case
def nested_70_deep():
    """70 nested sequences against the default limit of 64: the 65th
    sequence's tag is the offset; the path is too long for the C buffer and
    keeps its inner end after "..."."""
    b = part10()
    start = b.add(nested(70))
    at = start + 64 * 20                                   # 64 levels of SQ header + item header
    bad = Bad(b.bytes(), LimitExceededError, at, SEQ)
    bad.path = None                                        # checked below
    return bad


@case
def nested_4_deep_max_depth_3():
    """One level past max_depth=3 (test_max_depth_boundary has the levels
    that pass): the limit is checked before the 4th sequence's items."""
    b = part10()
    start = b.add(nested(4))
    return Bad(b.bytes(), LimitExceededError, start + 3 * 20, SEQ,
               "(0040,0275)[0]." * 3, open_kw={"max_depth": 3})


@case
def nested_5_deep_max_depth_4():
    # One level past max_depth=4.
    b = part10()
    start = b.add(nested(5))
    return Bad(b.bytes(), LimitExceededError, start + 4 * 20, SEQ,
               "(0040,0275)[0]." * 4, open_kw={"max_depth": 4})


# -- encapsulated Pixel Data ------------------------------------------------------

@case
def fragment_list_with_non_item():
    """Encapsulated Pixel Data holds items up to a Sequence Delimitation
    Item; anything else stops scan_fragments with the Pixel Data's tag."""
    b = part10(JPEG_BASELINE)
    b.add(explicit(PIXEL_DATA, "OB", length=UNDEFINED))
    b.add(item())                                          # empty Basic Offset Table
    at = b.add(explicit(PATIENT_NAME, "PN", b"AB"))        # neither item nor delimiter
    return Bad(b.bytes(), InvalidDicomError, at, PIXEL_DATA)


@case
def fragment_of_undefined_length():
    """Fragments must have a defined length (PS3.5 A.4)."""
    b = part10(JPEG_BASELINE)
    b.add(explicit(PIXEL_DATA, "OB", length=UNDEFINED))
    b.add(item())                                          # empty Basic Offset Table
    at = b.add(item(b"\xff\xd8\xff\xd9", length=UNDEFINED))
    b.add(sequence_delimiter())
    return Bad(b.bytes(), InvalidDicomError, at, PIXEL_DATA)


@case
def fragments_without_delimiter():
    """The data ends after the last fragment, before the Sequence Delimitation
    Item (a file cut short); lenient mode keeps the fragments."""
    b = part10(JPEG_BASELINE)
    b.add(explicit(PIXEL_DATA, "OB", length=UNDEFINED))    # encapsulated Pixel Data
    bot = b.add(item())                                    # empty Basic Offset Table
    frag = b.add(item(b"\xff\xd8\xff\xd9"))                # last fragment; data ends
    return Bad(b.bytes(), TruncatedError, len(b), PIXEL_DATA,
               lenient=_fragments_are(lambda: [(bot + 8, 0), (frag + 8, 4)]))


def _fragments_are(expected: Callable) -> Callable:
    def check(ds):
        got = ds.element(PIXEL_DATA).fragments
        want = expected()
        assert got == want, (got, want)
    return check


@case
def fragment_past_end():
    """A fragment longer than the data left: check_value_fits on a fragment
    record (the path is the Pixel Data, the tag the item)."""
    b = part10(JPEG_BASELINE)
    b.add(explicit(PIXEL_DATA, "OB", length=UNDEFINED))
    bot = b.add(item())
    at = b.add(item(b"\xff\xd8\xff\xd9", length=8))        # claims 8, 4 follow
    return Bad(b.bytes(), TruncatedError, at, ITEM, "(7FE0,0010)",
               lenient=_fragments_are(lambda: [(bot + 8, 0), (at + 8, 4)]))


# -- deflate ----------------------------------------------------------------------

DEFLATED_BODY = explicit(PATIENT_NAME, "PN", b"AB") + explicit(PATIENT_ID, "LO", b"ID") * 40


@case
def deflate_corrupt_block_type():
    """The first byte's BTYPE bits set to 11 (reserved): zlib rejects the
    stream after consuming that byte, so the offset is the byte after it."""
    b = part10(DEFLATED_LE)
    z = bytearray(deflate(DEFLATED_BODY))
    z[0] |= 0b110                                          # BFINAL, BTYPE=11
    at = b.add(bytes(z))
    return Bad(b.bytes(), DecodeError, at + 1)


@case
def deflate_truncated():
    """A valid stream cut in half: the data ends before the final block."""
    b = part10(DEFLATED_LE)
    z = deflate(DEFLATED_BODY)
    b.add(z[:len(z) // 2])
    return Bad(b.bytes(), TruncatedError, len(b))


@case
def deflate_empty():
    # Deflated transfer syntax with no dataset bytes at all.
    b = part10(DEFLATED_LE)
    return Bad(b.bytes(), TruncatedError, len(b))


BOMB_SIZE = 10 << 20
BOMB = deflate(explicit(0x00091010, "OB", bytes(BOMB_SIZE)), 9)    # ~10 KiB -> 10 MiB


def _bomb_offset(meta_end: int, limit: int) -> int:
    """Where the compressed input stands when the output reaches `limit`
    (zlib's own count, as rd_inflate_dataset reports it)."""
    d = zlib.decompressobj(wbits=-15)
    d.decompress(BOMB, limit)
    return meta_end + len(BOMB) - len(d.unconsumed_tail)


@case
def deflate_bomb_over_max_inflated():
    """10 MiB from 10 KiB against max_inflated=1 MiB (the default 4 GiB
    would accept it; see test_deflate_bomb_within_limit)."""
    b = part10(DEFLATED_LE)
    start = b.add(BOMB)
    return Bad(b.bytes(), LimitExceededError, _bomb_offset(start, 1 << 20),
               open_kw={"max_inflated": 1 << 20})


@case
def deflated_value_past_end():
    """Errors after inflation give offsets in ds.buffer: the meta bytes
    followed by the inflated dataset."""
    b = part10(DEFLATED_LE)
    start = b.add(deflate(explicit(PATIENT_ID, "LO", b"ID")
                          + explicit(PATIENT_NAME, "PN", b"AB", length=10)))
    return Bad(b.bytes(), TruncatedError, start + 10, PATIENT_NAME,
               lenient=_clamped_to(PATIENT_NAME, "AB"))


# -- File Meta ----------------------------------------------------------------------

def _meta_with_group_length(value: bytes) -> Bad:
    rest = file_meta(EXPLICIT_LE)[12:]                     # the meta without its group length
    b = Builder(PREAMBLE)
    at = b.add(explicit(0x00020000, "UL", value))          # (0002,0000) UL, length != 4
    b.add(rest)
    b.add(explicit(PATIENT_NAME, "PN", b"AB"))
    return Bad(b.bytes(), InvalidDicomError, at, 0x00020000)


@case
def odd_group_length_2_bytes():
    """File Meta Information Group Length of 2 bytes (a UL is 4)."""
    return _meta_with_group_length(b"\x10\x00")


@case
def odd_group_length_6_bytes():
    # Too long rather than too short: the check is != 4, not < 4.
    return _meta_with_group_length(b"\x10\x00\x00\x00\x00\x00")


# -- lazily parsed sequences ----------------------------------------------------------

def _lazy_private_sequence(body: bytes) -> tuple[bytes, int]:
    """Implicit VR: (0071,1018) is SQ in pydicom's private dictionary for the
    creator AGFA-AG_HPState, so it is parsed when its value is read."""
    b = part10(IMPLICIT_LE)
    b.add(implicit(0x00710010, b"AGFA-AG_HPState "))       # Private Creator, LO
    at = b.add(implicit(0x00711018, body))                 # private SQ, defined length
    return b.bytes(), at + 8


# ---------------------------------------------------------------------------
# Tests of the reject table
# ---------------------------------------------------------------------------

def _check(err: DicomError, bad: Bad) -> None:
    assert type(err) is bad.error, f"{type(err).__name__}: {err}"
    assert err.offset == bad.offset, str(err)
    assert err.tag == bad.tag, str(err)
    msg = str(err)
    assert f"at offset {bad.offset}" in msg
    if bad.path is not None:
        assert err.path == bad.path, msg
        if bad.where:
            assert f" in {bad.where}" in msg


@pytest.mark.parametrize("name", list(CASES))
def test_rejected(name):
    bad = CASES[name]()
    with pytest.raises(DicomError) as info:
        rapidicom.open(bad.data, **bad.open_kw)
    _check(info.value, bad)


@pytest.mark.parametrize("name", list(CASES))
def test_rejected_from_a_path(name, tmp_path):
    """The same data mapped from a file raises the same error."""
    bad = CASES[name]()
    path = tmp_path / "bad.dcm"
    path.write_bytes(bad.data)
    with pytest.raises(DicomError) as info:
        rapidicom.open(path, **bad.open_kw)
    _check(info.value, bad)
    assert str(path) in str(info.value)


LENIENT_READABLE = sorted(n for n, fn in CASES.items() if fn().lenient is not None)
LENIENT_STILL_REJECTED = sorted(n for n, fn in CASES.items() if fn().lenient is None)


def test_lenient_table():
    """Lenient mode clamps values (and fragment lists) that run past the end
    of their container; it does not invent missing delimiters, headers or
    limits.  This is the list of inputs it makes readable."""
    assert LENIENT_READABLE == sorted([
        "deflated_value_past_end",
        "fragment_past_end",
        "fragments_without_delimiter",
        "item_past_end_of_sequence",
        "value_past_end_in_item",
        "value_past_end_top_level",
        "value_past_end_two_levels_deep",
    ])


@pytest.mark.parametrize("name", LENIENT_READABLE)
def test_lenient_reads(name):
    bad = CASES[name]()
    ds = rapidicom.open(bad.data, lenient=True, **bad.open_kw)
    assert ds.warnings == ["a value ran past the end of the data and was clamped"]
    read_everything(ds)
    bad.lenient(ds)


@pytest.mark.parametrize("name", LENIENT_STILL_REJECTED)
def test_lenient_still_rejects(name):
    bad = CASES[name]()
    with pytest.raises(DicomError) as info:
        rapidicom.open(bad.data, lenient=True, **bad.open_kw)
    _check(info.value, bad)


def test_nested_70_deep_path():
    bad = CASES["nested_70_deep"]()
    with pytest.raises(LimitExceededError) as info:
        rapidicom.open(bad.data)
    err = info.value
    # The path is cut at its outer end: "..." then whole parts, innermost kept.
    assert err.path.startswith("...")
    assert err.path.endswith("(0040,0275)[0].")
    assert len(err.path) < 256
    assert f"...{err.path[3:]}(0040,0275))" in str(err)
    assert "max_depth" in str(err)


@pytest.mark.parametrize("max_depth,levels,ok", [
    (3, 3, True), (3, 4, False), (4, 4, True), (4, 5, False), (64, 64, True), (64, 65, False),
    (0, 0, True), (0, 1, False),
])
def test_max_depth_boundary(max_depth, levels, ok):
    """max_depth is the number of nested sequences allowed."""
    data = part10().bytes() + nested(levels)
    if ok:
        ds = rapidicom.open(data, max_depth=max_depth)
        for _ in range(levels):
            ds = ds[SEQ][0]
        assert ds[PATIENT_NAME] == "AB"
    else:
        with pytest.raises(LimitExceededError):
            rapidicom.open(data, max_depth=max_depth)


def test_default_max_depth_is_64():
    data = part10().bytes() + nested(65)
    with pytest.raises(LimitExceededError, match="deeper than 64"):
        rapidicom.open(data)
    rapidicom.open(data, max_depth=65)


def test_lazy_private_sequence_error_raised_on_read():
    """A private sequence is scanned when its value is read, so its errors
    come from ds[...], with the offset of the bad bytes."""
    data, value_at = _lazy_private_sequence(implicit(PATIENT_NAME, b"AB"))   # not an item
    ds = rapidicom.open(data)
    assert ds[0x00710010] == "AGFA-AG_HPState"
    with pytest.raises(InvalidDicomError) as info:
        ds[0x00711018]
    assert type(info.value) is InvalidDicomError
    assert info.value.offset == value_at
    assert f"at offset {value_at}" in str(info.value)


def test_lazy_sequences_count_towards_max_depth():
    # (0040,0275) written as UN of defined length is parsed lazily as SQ
    # (its dictionary VR); 70 levels of it must hit max_depth=64 when read.
    body = explicit(PATIENT_NAME, "PN", b"AB")
    for _ in range(70):
        body = explicit(SEQ, "UN", item(body))
    ds = rapidicom.open(part10().bytes() + body)
    with pytest.raises(LimitExceededError):
        for _ in range(70):
            ds = ds[SEQ][0]


def test_lazy_private_sequence_error_names_the_element():
    data, _ = _lazy_private_sequence(implicit(PATIENT_NAME, b"AB"))
    ds = rapidicom.open(data)
    with pytest.raises(InvalidDicomError, match=r"\(0071,1018\)"):
        ds[0x00711018]


# ---------------------------------------------------------------------------
# The accept list
# ---------------------------------------------------------------------------

def test_empty_buffer_is_an_empty_dataset():
    """Zero bytes hold zero elements: an empty bare dataset, not an error
    (pydicom's force=True reading agrees).  No meta, no warnings."""
    ds = rapidicom.open(b"")
    assert len(ds) == 0 and ds.tags() == []
    assert len(ds.meta) == 0
    assert ds.transfer_syntax is None
    assert ds.preamble is None
    assert ds.warnings == []


def test_preamble_and_meta_only():
    ds = rapidicom.open(part10().bytes())
    assert ds.tags() == []
    assert ds.transfer_syntax == EXPLICIT_LE
    assert ds.warnings == []


def test_odd_value_lengths():
    # PS3.5 7.1.1 asks for even lengths; real files have odd ones.
    data = part10().bytes() + explicit(PATIENT_NAME, "PN", b"ABC") + explicit(PATIENT_ID, "LO", b"X")
    ds = rapidicom.open(data)
    assert [ds[PATIENT_NAME], ds[PATIENT_ID]] == ["ABC", "X"]
    assert ds.warnings == []


@pytest.mark.parametrize("n", range(1, 8))
def test_trailing_stray_bytes(n):
    """1-7 bytes after the last element cannot be an element header: they
    are ignored, strict mode included, and ds.warnings says so."""
    data = part10().bytes() + explicit(PATIENT_NAME, "PN", b"AB") + b"\x01" * n
    ds = rapidicom.open(data)
    assert ds.tags() == [PATIENT_NAME]
    assert ds[PATIENT_NAME] == "AB"
    assert ds.warnings == ["stray bytes after the last element were ignored"]


def test_eight_trailing_bytes_are_an_element():
    # The boundary: 8 bytes are read as a header (here a zero-length LO).
    data = (part10().bytes() + explicit(PATIENT_NAME, "PN", b"AB")
            + explicit(PATIENT_ID, "LO"))
    ds = rapidicom.open(data)
    assert ds.tags() == [PATIENT_NAME, PATIENT_ID]
    assert ds[PATIENT_ID] == ""
    assert ds.warnings == []


def test_explicit_file_with_implicit_items():
    """Items of an explicit VR file written in implicit VR (pydicom reads
    them by looking at the first element's VR bytes)."""
    data = (part10().bytes()
            + explicit(SEQ, "SQ", item(implicit(PATIENT_NAME, b"AB") + implicit(PATIENT_ID, b"ID")))
            + explicit(0x00200010, "SH", b"S1"))
    ds = rapidicom.open(data)
    inner = ds[SEQ][0]
    assert inner.is_implicit_vr
    assert [inner[PATIENT_NAME], inner[PATIENT_ID]] == ["AB", "ID"]
    assert [el.vr for el in inner] == ["PN", "LO"]
    assert ds[0x00200010] == "S1"
    assert not ds.is_implicit_vr


def test_un_of_undefined_length_holds_implicit_items():
    """PS3.5 6.2.2: UN of undefined length is a sequence in implicit VR LE."""
    data = (part10().bytes()
            + explicit(SEQ, "UN", length=UNDEFINED)
            + item(implicit(PATIENT_NAME, b"AB"), length=UNDEFINED) + item_delimiter()
            + sequence_delimiter()
            + explicit(0x00200010, "SH", b"S1"))
    ds = rapidicom.open(data)
    assert ds.element(SEQ).vr == "SQ"
    (only,) = ds[SEQ]
    assert only[PATIENT_NAME] == "AB"
    assert ds[0x00200010] == "S1"


def test_private_un_of_undefined_length():
    data = (part10().bytes()
            + explicit(0x00090010, "LO", b"ACME")
            + explicit(0x00091001, "UN", length=UNDEFINED)
            + item(implicit(PATIENT_NAME, b"AB"), length=UNDEFINED) + item_delimiter()
            + sequence_delimiter())
    ds = rapidicom.open(data)
    assert ds[0x00091001][0][PATIENT_NAME] == "AB"


def test_un_of_defined_length_parsed_as_its_dictionary_sq():
    # (0040,0275) written as UN with a defined length: parsed when read.
    data = part10().bytes() + explicit(SEQ, "UN", item(implicit(PATIENT_NAME, b"AB")))
    ds = rapidicom.open(data)
    assert ds[SEQ][0][PATIENT_NAME] == "AB"


def test_lazy_private_sequence():
    data, _ = _lazy_private_sequence(item(implicit(PATIENT_NAME, b"AB")))
    ds = rapidicom.open(data)
    assert ds[0x00711018][0][PATIENT_NAME] == "AB"


def test_empty_sequences_and_items():
    data = (part10().bytes()
            + explicit(0x00400275, "SQ")                                    # defined, 0 bytes
            + explicit(0x00400276, "SQ", item())                            # one empty item
            + explicit(0x00400277, "SQ", length=UNDEFINED) + sequence_delimiter()
            + explicit(0x00400278, "SQ", length=UNDEFINED)
            + item(length=UNDEFINED) + item_delimiter() + sequence_delimiter()
            + explicit(PATIENT_NAME, "PN", b"AB"))
    ds = rapidicom.open(data)
    assert ds[0x00400275] == []
    assert [len(i) for i in ds[0x00400276]] == [0]
    assert ds[0x00400277] == []
    assert [len(i) for i in ds[0x00400278]] == [0]
    assert ds[PATIENT_NAME] == "AB"


def test_defined_sequence_of_undefined_items_and_vice_versa():
    data = (part10().bytes()
            + explicit(SEQ, "SQ", item(explicit(PATIENT_NAME, "PN", b"AB"), length=UNDEFINED)
                       + item_delimiter())
            + explicit(0x00400276, "SQ", length=UNDEFINED)
            + item(explicit(PATIENT_NAME, "PN", b"CD")) + sequence_delimiter()
            + explicit(PATIENT_ID, "LO", b"ID"))
    ds = rapidicom.open(data)
    assert ds[SEQ][0][PATIENT_NAME] == "AB"
    assert ds[0x00400276][0][PATIENT_NAME] == "CD"
    assert ds.element(0x00400276).length == 18             # up to the delimiter
    assert ds[PATIENT_ID] == "ID"


def test_item_delimiter_ends_a_defined_length_item():
    # pydicom agrees: an Item Delimitation Item inside a defined-length item ends it.
    data = (part10().bytes()
            + explicit(SEQ, "SQ", item(explicit(PATIENT_NAME, "PN", b"AB") + item_delimiter()))
            + explicit(PATIENT_ID, "LO", b"ID"))
    ds = rapidicom.open(data)
    assert ds[SEQ][0].tags() == [PATIENT_NAME]
    assert ds[PATIENT_ID] == "ID"


def test_deflated_dataset():
    data = part10(DEFLATED_LE).bytes() + deflate(DEFLATED_BODY)
    ds = rapidicom.open(data)
    assert ds[PATIENT_NAME] == "AB"
    assert ds.tags() == [PATIENT_NAME] + [PATIENT_ID] * 40


def test_deflate_bomb_within_limit():
    """The same 10 MiB stream opens under the default limit and under a limit
    of exactly its inflated size, and fails one byte below it."""
    data = part10(DEFLATED_LE).bytes() + BOMB
    inflated = BOMB_SIZE + 12
    assert rapidicom.open(data).element(0x00091010).length == BOMB_SIZE
    assert rapidicom.open(data, max_inflated=inflated).element(0x00091010).length == BOMB_SIZE
    with pytest.raises(LimitExceededError):
        rapidicom.open(data, max_inflated=inflated - 1)


def test_bare_dataset_without_preamble():
    # No preamble, no meta: the encoding is guessed from the first element.
    ds = rapidicom.open(explicit(PATIENT_NAME, "PN", b"AB"))
    assert ds[PATIENT_NAME] == "AB" and not ds.is_implicit_vr
    ds = rapidicom.open(implicit(PATIENT_NAME, b"AB"))
    assert ds[PATIENT_NAME] == "AB" and ds.is_implicit_vr
