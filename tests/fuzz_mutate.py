"""Mutation fuzzing of rapidicom.open() over real corpus files.

Shared by ``test_fuzz_mutation.py`` (hypothesis, in process) and its
crash-safe batch run: a C crash would kill pytest, so the batch runs this
module as a script in a subprocess and the test checks its exit status.

A mutation is a list of plain tuples, so that hypothesis can shrink it and a
failing case can be printed, saved and replayed:

    ("flip", pos, xor)             buf[pos] ^= xor                      (1 <= xor <= 255)
    ("set4", pos, value, order)    4 bytes at pos = value, "<" or ">"   (0xFFFFFFFF, 0x7FFFFFFF, 0)
    ("truncate", n)                keep the first n bytes
    ("dup", start, n, dest)        insert a copy of buf[start:start+n] at dest
    ("delete", start, n)           remove buf[start:start+n]
    ("length", k, delta)           add delta to the k-th length field of the original file

Positions are taken modulo the current length, so every tuple applies to
every buffer.

Script use (what the batch test runs; exit 0 = no crash, no stray exception)::

    python tests/fuzz_mutate.py --seed 20240601 --count 3000 --progress /tmp/p.json
    python tests/fuzz_mutate.py --replay /tmp/p.json     # rerun the case it names
"""
from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import traceback
import warnings
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import rapidicom  # noqa: E402
from corpus import dicom_files, file_id  # noqa: E402

# Varied seeds: each line says what the file brings to the mix.
FUZZ_FILES = [
    "test_files/CT_small.dcm",                 # explicit VR LE, native pixels
    "test_files/MR_small_bigendian.dcm",       # explicit VR big endian
    "test_files/MR_small_implicit.dcm",        # implicit VR LE
    "test_files/image_dfl.dcm",                # deflated dataset
    "test_files/rtplan.dcm",                   # nested sequences, defined lengths
    "test_files/rtstruct.dcm",                 # no preamble, implicit, sequences
    "test_files/JPEG2000.dcm",                 # encapsulated pixel data
    "emri_small_RLE.dcm",                      # encapsulated, several frames
    "test_files/dicomdirtests/DICOMDIR",       # long record sequence
    "test_files/dicomdirtests/DICOMDIR-bigEnd",  # big endian sequences
    "test_files/nested_priv_SQ.dcm",           # private sequence in a private sequence (lazy)
    "test_files/priv_SQ.dcm",                  # private sequence (lazy)
    "test_files/UN_sequence.dcm",              # UN holding a sequence
    "charset_files/chrH31.dcm",                # ISO 2022 Japanese text
    "test_files/ExplVR_BigEndNoMeta.dcm",      # no meta, big endian guessed
    "test_files/ExplVR_LitEndNoMeta.dcm",      # no meta, little endian guessed
    "test_files/meta_missing_tsyntax.dcm",     # meta without Transfer Syntax UID
    "test_files/badVR.dcm",                    # non-standard VR bytes
    "test_files/test-SR.dcm",                  # deep SR content tree
    "test_files/SC_rgb_small_odd.dcm",         # odd sizes
    "test_files/reportsi.dcm",                 # SR, undefined-length items
    "test_files/rtdose.dcm",                   # multi-frame, US/SS resolution
]

SET4_VALUES = (0xFFFFFFFF, 0x7FFFFFFF, 0)
KINDS = ("flip", "set4", "truncate", "dup", "delete", "length")

_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO",
              b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}


@lru_cache(maxsize=None)
def seeds() -> dict[str, bytes]:
    by_id = {file_id(p): p for p in dicom_files()}
    missing = [f for f in FUZZ_FILES if f not in by_id]
    if missing:
        raise FileNotFoundError(f"fuzz seed files not in the corpus: {missing}")
    return {f: by_id[f].read_bytes() for f in FUZZ_FILES}


@lru_cache(maxsize=None)
def length_fields(name: str) -> tuple[tuple[int, int, str], ...]:
    """(position, width, byte order) of the length fields of a seed file:
    every element the index finds (all nesting levels, the meta included)
    and every item tag.  Deflated files only get their (plain) meta."""
    buf = seeds()[name]
    ds = rapidicom.open(buf)
    order = "<" if ds.is_little_endian else ">"
    out = set()
    stack = [(ds.meta, "<")]
    if ds.transfer_syntax != "1.2.840.10008.1.2.1.99":  # else offsets are in the inflated copy
        stack.append((ds, order))
    while stack:
        d, o = stack.pop()
        if d is None:
            continue
        for el in d:
            off, voff = el.offset, el.value_offset
            if voff - off == 12:
                out.add((off + 8, 4, o))
            elif voff - off == 8:
                if bytes(buf[off + 4:off + 6]) in _SHORT_VRS:
                    out.add((off + 6, 2, o))
                else:
                    out.add((off + 4, 4, o))
            if el.vr == "SQ":
                try:
                    items = el.value
                except rapidicom.DicomError:
                    continue
                stack.extend((item, o) for item in items)
    for marker, o in ((b"\xfe\xff\x00\xe0", "<"), (b"\xff\xfe\xe0\x00", ">")):
        i = buf.find(marker)
        while i >= 0:
            out.add((i + 4, 4, o))
            i = buf.find(marker, i + 1)
    return tuple(sorted(f for f in out if f[0] + f[1] <= len(buf)))


def apply(name: str, ops) -> bytes:
    """The seed file `name` with the mutations `ops` applied in order."""
    buf = bytearray(seeds()[name])
    fields = length_fields(name)
    for op in ops:
        kind = op[0]
        n = len(buf)
        if kind == "flip" and n:
            buf[op[1] % n] ^= op[2]
        elif kind == "set4" and n:
            pos = op[1] % n
            buf[pos:pos + 4] = struct.pack(op[3] + "I", op[2])[:n - pos]
        elif kind == "truncate":
            del buf[op[1] % (n + 1):]
        elif kind == "dup" and n:
            start = op[1] % n
            span = bytes(buf[start:start + op[2]])
            dest = op[3] % (n + 1)
            buf[dest:dest] = span
        elif kind == "delete" and n:
            start = op[1] % n
            del buf[start:start + op[2]]
        elif kind == "length" and fields:
            pos, width, order = fields[op[1] % len(fields)]
            if pos + width <= n:
                fmt = order + ("H" if width == 2 else "I")
                (old,) = struct.unpack_from(fmt, buf, pos)
                struct.pack_into(fmt, buf, pos, (old + op[2]) % (1 << (8 * width)))
    return bytes(buf)


def random_ops(rng: random.Random, size: int) -> list[tuple]:
    """One to four random mutations for a buffer of about `size` bytes."""
    ops = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        kind = rng.choice(KINDS)
        pos = rng.randrange(max(size, 1))
        if kind == "flip":
            ops.append(("flip", pos, rng.randrange(1, 256)))
        elif kind == "set4":
            ops.append(("set4", pos, rng.choice(SET4_VALUES), rng.choice("<>")))
        elif kind == "truncate":
            ops.append(("truncate", pos))
        elif kind == "dup":
            ops.append(("dup", pos, rng.choice((1, 4, 8, 12, rng.randrange(1, 512))),
                        rng.randrange(max(size, 1))))
        elif kind == "delete":
            ops.append(("delete", pos, rng.choice((1, 2, 4, 8, rng.randrange(1, 512)))))
        else:
            ops.append(("length", rng.randrange(1 << 16),
                        rng.choice((1, 2, 8, 0x100, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF,
                                    rng.randrange(1 << 32)))))
    return ops


# ---------------------------------------------------------------------------
# Reading everything
# ---------------------------------------------------------------------------

def _has_json() -> bool:
    try:
        import rapidicom._json  # noqa: F401
    except ImportError:
        return False
    return hasattr(rapidicom.Dataset, "to_json")


HAS_JSON = _has_json()


def read_everything(ds) -> int:
    """Read every value of `ds`, its File Meta and every nested item
    (lazily parsed private and UN sequences included), and its JSON form.
    Returns the number of elements read."""
    count = 0
    stack = [ds, ds.meta]
    while stack:
        d = stack.pop()
        if d is None:
            continue
        d.tags()
        d.warnings
        for el in d:
            el.tag, el.vr, el.length, el.keyword
            bytes(el.raw)
            el.fragments
            value = el.value
            count += 1
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, rapidicom.Dataset))
    if HAS_JSON:
        ds.to_json()
    return count


def exercise(buf: bytes) -> None:
    """Open `buf` strictly and leniently and read everything.  DicomError is
    the expected way to refuse bad data; anything else propagates.  Text
    decoding warnings (bad escape sequences, unknown charsets) are expected
    on mangled text and are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for lenient in (False, True):
            try:
                ds = rapidicom.open(buf, lenient=lenient)
                read_everything(ds)
            except rapidicom.DicomError:
                pass


# ---------------------------------------------------------------------------
# Batch run (subprocess)
# ---------------------------------------------------------------------------

def case(seed: int, i: int) -> tuple[str, list]:
    """The i-th case of a batch: which seed file and which mutations."""
    rng = random.Random(seed * 1_000_003 + i)
    name = rng.choice(FUZZ_FILES)
    return name, random_ops(rng, len(seeds()[name]))


def run_batch(seed: int, count: int, progress: Path, crash_at: int = -1) -> int:
    """Exercise `count` cases.  Before each, its description is written to
    `progress`, so that a crash leaves the offending case behind.
    `crash_at` makes case `crash_at` segfault on purpose (to test the test)."""
    for i in range(count):
        name, ops = case(seed, i)
        progress.write_text(json.dumps({"seed": seed, "case": i, "file": name, "ops": ops}))
        buf = apply(name, ops)
        if i == crash_at:
            import ctypes
            ctypes.string_at(0)
        try:
            exercise(buf)
        except BaseException:
            traceback.print_exc()
            print(f"FAILED seed={seed} case={i} file={name} ops={ops}", file=sys.stderr)
            return 1
    progress.write_text(json.dumps({"seed": seed, "done": count}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--progress", type=Path, default=Path("fuzz_progress.json"))
    ap.add_argument("--replay", type=Path, help="rerun the case a progress file names")
    ap.add_argument("--crash-at", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.replay:
        desc = json.loads(args.replay.read_text())
        exercise(apply(desc["file"], [tuple(op) for op in desc["ops"]]))
        return 0
    return run_batch(args.seed, args.count, args.progress, args.crash_at)


if __name__ == "__main__":
    sys.exit(main())
