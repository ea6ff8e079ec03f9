"""The ``rapidicom`` command line (also ``python -m rapidicom``).

Each subcommand is one ``_add_<name>(subparsers)`` function that registers
its arguments and sets ``func``; ``COMMANDS`` lists them in help order, so a
new subcommand (``decode``, ``bench``, ``ingest``) is one function plus one
entry.  ``func(args)`` returns the exit status.

``dump FILE`` prints a dataset the way DCMTK's dcmdump lays it out: one line
per element, ``(gggg,eeee) VR value  # length, VM Keyword``, nested items
indented by two spaces, with item and delimiter lines where the file has
them.  Bad input is reported on one stderr line naming the byte offset, with
exit status 1; nothing prints a traceback for bad data.

.. versionadded:: 0.1.0
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import unicodedata
from collections.abc import Callable, Iterator

import rapidicom

__all__ = ["main", "dump_lines", "COMMANDS"]

PROG = "rapidicom"

# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (``rapidicom dump x | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Fast DICOM parsing and pixel decoding.")
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {rapidicom.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _fail(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 1


def _error_message(exc: rapidicom.DicomError, path: str) -> str:
    """One line naming the file and the byte offset."""
    message = str(exc).replace("\n", " ")
    if exc.offset is not None and "offset" not in message:
        message += f" (at offset {exc.offset})"
    if path not in message:
        message = f"{path}: {message}"
    return message


# ---------------------------------------------------------------------------
# dump
# ---------------------------------------------------------------------------

def _add_dump(sub) -> None:
    p = sub.add_parser(
        "dump", help="print the elements of a DICOM file (like dcmdump)",
        description="Print every element of a DICOM file, one per line, as "
                    "'(gggg,eeee) VR value  # length, VM Keyword'.")
    p.add_argument("file", metavar="FILE", help="DICOM file (Part 10 or a bare dataset)")
    p.add_argument("--full", action="store_true",
                   help="print whole values (default: cut long values with '...')")
    p.add_argument("--no-meta", action="store_true",
                   help="leave out the File Meta Information")
    p.add_argument("--max-depth", type=int, default=None, metavar="N",
                   help="do not print the contents of sequences nested deeper than N "
                        "(0: top level only)")
    p.add_argument("--lenient", action="store_true",
                   help="accept values cut short at the end of the file")
    p.set_defaults(func=_run_dump)


def _run_dump(args) -> int:
    try:
        ds = rapidicom.open(args.file, lenient=args.lenient)
    except rapidicom.DicomError as exc:
        return _fail("dump", _error_message(exc, args.file))
    except OSError as exc:
        return _fail("dump", f"cannot read {args.file}: {exc.strerror or exc}")
    _utf8_safe(sys.stdout)
    write = sys.stdout.write
    try:
        for line in dump_lines(ds, full=args.full, meta=not args.no_meta,
                               max_depth=args.max_depth):
            write(line)
            write("\n")
    except rapidicom.DicomError as exc:     # raised while reading a nested value
        sys.stdout.flush()
        return _fail("dump", _error_message(exc, args.file))
    for note in ds.warnings:
        print(f"# warning: {note}")
    sys.stdout.flush()
    return 0


def _utf8_safe(stream) -> None:
    """Never fail on a character the terminal's encoding lacks."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


# Names printed in the section headers; any other UID is printed as is.
TRANSFER_SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "Little Endian Implicit",
    "1.2.840.10008.1.2.1": "Little Endian Explicit",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Big Endian Explicit",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless, First-Order Prediction",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless Only",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
    "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
    "1.2.840.10008.1.2.4.203": "HTJ2K",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}

VALUE_WIDTH = 40        # value column, padded so the '#' comments line up
MAX_VALUE_CHARS = 64    # longer values are cut to this and end in "..."
_UNDEFINED = 0xFFFFFFFF


def dump_lines(ds, *, full: bool = False, meta: bool = True,
               max_depth: int | None = None) -> Iterator[str]:
    """The lines ``rapidicom dump`` prints for `ds`, without line ends."""
    has_meta = len(ds.meta) > 0
    yield "# Dicom-File-Format" if has_meta else "# Dicom-Data-Set (no File Meta Information)"
    if has_meta and meta:
        yield ""
        yield "# Dicom-Meta-Information-Header"
        yield "# Used TransferSyntax: Little Endian Explicit"
        yield from _Dumper(ds.meta, full, max_depth).lines()
    if has_meta:
        yield ""
        yield "# Dicom-Data-Set"
    ts = ds.transfer_syntax
    if ts:
        name = TRANSFER_SYNTAX_NAMES.get(ts, ts)
    else:
        name = "%s Endian %s" % ("Little" if ds.is_little_endian else "Big",
                                 "Implicit" if ds.is_implicit_vr else "Explicit")
    yield f"# Used TransferSyntax: {name}"
    yield from _Dumper(ds, full, max_depth).lines()


class _Dumper:
    """Formats one top-level dataset and everything nested in it."""

    def __init__(self, ds, full: bool, max_depth: int | None) -> None:
        self.ds = ds
        self.buffer = ds.buffer
        self.full = full
        self.max_depth = max_depth

    def lines(self) -> Iterator[str]:
        yield from self._dataset(self.ds, 0)

    # -- datasets and sequences --------------------------------------------

    def _dataset(self, ds, depth: int) -> Iterator[str]:
        little = ds.is_little_endian
        for element in ds:
            vr = element.vr
            if vr == "SQ":
                yield from self._sequence(element, depth)
            elif element.fragments is not None:
                yield from self._encapsulated(element, depth)
            else:
                yield self._line(depth, element.tag, vr, *self._value(element, vr, little),
                                 element.length, _keyword(element))

    def _sequence(self, element, depth: int) -> Iterator[str]:
        items = element.value
        undefined = element.is_undefined_length
        kind = "undefined" if undefined else "defined"
        yield self._line(depth, element.tag, "SQ",
                         f"(Sequence with {kind} length #={len(items)})", 1,
                         _UNDEFINED if undefined else element.length, _keyword(element))
        if self.max_depth is not None and depth >= self.max_depth:
            if items:
                yield self._comment(depth + 1, f"{len(items)} item(s) not shown "
                                               f"(--max-depth {self.max_depth})")
        else:
            for item, (_, length) in zip(items, self._item_headers(element, items)):
                kind = "undefined" if length == _UNDEFINED else "defined"
                if length is None:
                    kind, length = "unknown", 0
                yield self._line(depth + 1, 0xFFFEE000, "na",
                                 f"(Item with {kind} length #={len(item)})", 1, length,
                                 "Item")
                yield from self._dataset(item, depth + 2)
                if length == _UNDEFINED:
                    yield self._line(depth + 1, 0xFFFEE00D, "na", "(ItemDelimitationItem)",
                                     0, 0, "ItemDelimitationItem")
        if undefined:
            yield self._line(depth, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", 0, 0,
                             "SequenceDelimitationItem")

    def _item_headers(self, element, items) -> list[tuple[int | None, int | None]]:
        """(offset, length) of each item's header; length _UNDEFINED when
        undefined, (None, None) where the header cannot be found."""
        buf = self.buffer
        out: list[tuple[int | None, int | None]] = []
        pos = element.value_offset
        for item in items:
            head = bytes(buf[pos:pos + 8]) if pos is not None else b""
            if len(head) == 8 and head[:4] == b"\xfe\xff\x00\xe0":
                length = struct.unpack("<I", head[4:])[0]
            elif len(head) == 8 and head[:4] == b"\xff\xfe\xe0\x00":
                length = struct.unpack(">I", head[4:])[0]
            else:
                out.append((None, None))
                pos = None
                continue
            out.append((pos, length))
            if length != _UNDEFINED:
                pos += 8 + length
                continue
            # Undefined length: the item ends after its last element, then
            # comes the 8-byte Item Delimitation Item.
            elements = list(item)
            if elements:
                last = elements[-1]
                pos = last.value_offset + last.length
                if last.is_undefined_length:
                    pos += 8                    # its Sequence Delimitation Item
            else:
                pos += 8
            pos += 8
        return out

    def _encapsulated(self, element, depth: int) -> Iterator[str]:
        fragments = element.fragments
        yield self._line(depth, element.tag, element.vr,
                         f"(PixelSequence #={len(fragments)})", 1, _UNDEFINED,
                         _keyword(element))
        for offset, length in fragments:
            if length:
                text = self._hex_bytes(self.buffer[offset:offset + length])
            else:
                text = "(no value available)"
            yield self._line(depth + 1, 0xFFFEE000, "pi", text, 1, length, "Item")
        yield self._line(depth, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", 0, 0,
                         "SequenceDelimitationItem")

    # -- values --------------------------------------------------------------

    def _value(self, element, vr: str, little: bool) -> tuple[str, int]:
        """(text, VM) of a non-sequence element."""
        try:
            value = element.value
        except rapidicom.DicomError:
            raise                       # bad data: reported by _run_dump
        except Exception as exc:        # a value the converters refuse
            return f"(cannot read value: {exc})", 0
        if (element.length == 0 or value is None
                or (isinstance(value, (str, list)) and not value)):
            return "(no value available)", 0
        if isinstance(value, memoryview):
            return self._binary(value, vr, little), 1
        if vr in ("DS", "IS"):
            texts = bytes(element.raw).decode("latin-1").strip(" \0").split("\\")
            return self._text("[" + "\\".join(t.strip() for t in texts) + "]"), len(texts)
        items = value if isinstance(value, list) else [value]
        if hasattr(value, "tolist"):
            items = value.tolist()
            items = items if isinstance(items, list) else [items]
        if vr == "AT":
            parts = [f"({v >> 16:04x},{v & 0xFFFF:04x})" for v in items]
            return self._text("\\".join(parts)), len(items)
        if vr == "FL":
            return self._text("\\".join(f"{v:.8g}" for v in items)), len(items)
        if isinstance(items[0], (int, float)):
            return self._text("\\".join(repr(v) for v in items)), len(items)
        parts = ["" if v is None else str(v) for v in items]
        return self._text("[" + "\\".join(parts) + "]"), len(items)

    def _binary(self, value: memoryview, vr: str, little: bool) -> str:
        width = {"OW": 2, "OL": 4, "OV": 8, "OF": 4, "OD": 8}.get(vr, 1)
        count = len(value) // width
        if width == 1 or count == 0:
            return self._hex_bytes(value)
        if not self.full:
            count = min(count, MAX_VALUE_CHARS // 2)
        order = "<" if little else ">"
        code = {"OW": "H", "OL": "I", "OV": "Q", "OF": "f", "OD": "d"}[vr]
        words = struct.unpack(f"{order}{count}{code}", value[:count * width])
        if vr in ("OF", "OD"):
            text = "\\".join(f"{w:.8g}" for w in words)
        else:
            text = "\\".join(f"{w:0{width * 2}x}" for w in words)
        return self._text(text, more=count * width < len(value))

    def _hex_bytes(self, data) -> str:
        shown = data if self.full else data[:MAX_VALUE_CHARS // 3 + 1]
        return self._text("\\".join(f"{b:02x}" for b in bytes(shown)),
                          more=len(shown) < len(data))

    def _text(self, text: str, more: bool = False) -> str:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
        if self.full:
            return text
        if more or len(text) > MAX_VALUE_CHARS:
            return text[:MAX_VALUE_CHARS] + "..."
        return text

    # -- lines -----------------------------------------------------------------

    @staticmethod
    def _line(depth: int, tag: int, vr: str, text: str, vm: int, length: int,
              keyword: str) -> str:
        size = "u/l" if length == _UNDEFINED else str(length)
        return (f"{'  ' * depth}({tag >> 16:04x},{tag & 0xFFFF:04x}) {vr} "
                f"{_pad(text, VALUE_WIDTH)} # {size:>4}, {vm} {keyword}")

    @staticmethod
    def _comment(depth: int, text: str) -> str:
        return f"{'  ' * depth}# {text}"


def _pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (East Asian wide characters
    take two)."""
    if text.isascii():
        return text.ljust(width)
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def _keyword(element) -> str:
    keyword = element.keyword
    if keyword:
        return keyword
    group, elem = element.tag >> 16, element.tag & 0xFFFF
    if elem == 0:
        return "GroupLength"
    if group % 2 and 0x10 <= elem <= 0xFF:
        return "PrivateCreator"
    return "(unknown)"


# ---------------------------------------------------------------------------
# Registry: one entry per subcommand, in help order.
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# decode
# ---------------------------------------------------------------------------


def _add_decode(sub) -> None:
    p = sub.add_parser(
        "decode", help="decode pixel data to .npy (all frames) or .png (one frame)",
        description="Decode a file's pixel data.  OUT ending in .npy receives all "
                    "frames (frames, rows, columns[, samples]); OUT ending in .png "
                    "receives one frame (--frame), scaled to 16 bits when it is not "
                    "unsigned 8/16-bit data.")
    p.add_argument("file", help="DICOM file")
    p.add_argument("-o", "--output", required=True, help="output path (.npy or .png)")
    p.add_argument("--frame", type=int, default=0, help="frame for .png output (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="decoding threads (default: CPU count)")
    p.add_argument("--keep-ybr", action="store_true",
                   help="keep YBR colour data as stored instead of converting to RGB")
    p.set_defaults(func=_run_decode)


def _run_decode(args) -> int:
    import numpy as np

    from rapidicom.png import write_png

    try:
        ds = rapidicom.open(args.file)
        px = ds.pixels
        if px is None:
            return _fail("decode", f"{args.file}: no pixel data")
        as_rgb = not args.keep_ybr
        if args.output.lower().endswith(".png"):
            write_png(args.output, px.frame(args.frame, as_rgb=as_rgb))
        elif args.output.lower().endswith(".npy"):
            np.save(args.output, px.to_array(threads=args.threads, as_rgb=as_rgb))
        else:
            return _fail("decode", "OUT must end in .npy or .png")
    except rapidicom.DicomError as exc:
        return _fail("decode", _error_message(exc, args.file))
    except (OSError, IndexError, ValueError) as exc:
        return _fail("decode", f"{args.file}: {exc}")
    return 0


# ---------------------------------------------------------------------------
# ingest (the work is in rapidicom.ingest, imported only when it runs: it needs pyarrow)
# ---------------------------------------------------------------------------


def _add_ingest(sub) -> None:
    p = sub.add_parser(
        "ingest", help="index the headers of a tree of files into a Parquet file",
        description="Walk DIR and write one row per file (path, size, mtime, transfer "
                    "syntax, UIDs, patient/study/series/image attributes, --keys, error) "
                    "to a Parquet file.  Files already in OUT are skipped unless --force.")
    p.add_argument("dir", metavar="DIR", help="folder to index (or one file)")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="Parquet file to write")
    p.add_argument("--keys", action="append", metavar="KEYS",
                   help="extra columns: keywords or tags, comma-separated, e.g. "
                        "'ImageType,(0018,0050),0x00091001' (repeatable)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (default 1: read in this process)")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="follow symbolic links (directory loops are detected)")
    p.add_argument("--force", action="store_true",
                   help="index everything again instead of resuming from OUT")
    p.add_argument("--lenient", action="store_true",
                   help="accept values cut short at the end of a file")
    p.add_argument("--batch-size", type=int, default=256, metavar="N",
                   help="files per task sent to a worker (default 256)")
    p.add_argument("--row-group-size", type=int, default=65536, metavar="N",
                   help="rows per Parquet row group (default 65536)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress line and no summary")

    def run(args) -> int:
        from rapidicom.ingest import run_command
        return run_command(args)

    p.set_defaults(func=run)


# ---------------------------------------------------------------------------
# bench (the work is done in rapidicom.benchmark)
# ---------------------------------------------------------------------------


def _add_bench(sub) -> None:
    from rapidicom.benchmark.command import add_parser

    add_parser(sub)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_dump, _add_decode, _add_ingest, _add_bench]
