#!/usr/bin/env python
"""Generate src/core/dict_data.h from the TSV files in vendor/.

    python tools/gen_dict.py                 # rewrites src/core/dict_data.h
    python tools/gen_dict.py --out FILE      # writes FILE instead

Reads only vendor/dicom_dictionary.tsv and vendor/private_dictionary.tsv
(written by tools/export_dict_source.py); needs nothing but the standard
library.  The output depends only on the TSV contents, so regenerating from
the same data reproduces the header byte for byte.

Tables emitted (all `static const`, no run-time initialisation):

rd_dict_exact[]      every exact entry as an rd_dict_entry, sorted by tag
rd_dict_tags[]       the same tags alone, for a cache-friendly binary search
rd_dict_repeat[]     repeating-group entries in pydicom's mask_match order
rd_dict_kw_slots[]   open-addressing hash (FNV-1a, linear probing) from
                     keyword to index in rd_dict_exact[]
rd_dict_creators[]   private creators sorted by their bytes, each naming a
                     run of rd_dict_private[]
rd_dict_private[]    private keys, per creator sorted by (kind, key)

Private keys are stored the way pydicom's get_private_entry builds its
lookup keys from a tag (upper-case hex): 'GGGGEEEE' (kind EXACT, the whole
tag), 'GGGGxxEE' (kind BLOCK, key = group << 16 | low element byte) and
'GGxxxxEE' (kind GROUP, key = high group byte << 24 | low element byte).
Dictionary keys of any other shape can never be produced by that lookup, so
they are left out (the header counts them).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "vendor"
DICOM_TSV = VENDOR / "dicom_dictionary.tsv"
PRIVATE_TSV = VENDOR / "private_dictionary.tsv"
DEFAULT_OUT = ROOT / "src" / "core" / "dict_data.h"

DICOM_HEADER = ["tag", "vr", "vm", "name", "keyword", "retired"]
PRIVATE_HEADER = ["creator", "tag", "vr", "vm", "name", "retired"]

KW_EMPTY = 0xFFFF
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a; dict.c computes exactly the same function."""
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def c_string(text: str) -> str:
    """A C string literal for `text` (UTF-8), safe from trigraphs."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in '"\\?':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")  # always 3 digits: cannot run on
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """`text` made safe to sit inside a C block comment."""
    safe = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)
    safe = safe.replace("*/", "* /").replace("/*", "/ *")
    while "??" in safe:  # no trigraphs, not even in comments
        safe = safe.replace("??", "? ?")
    return safe


def c_ident(text: str) -> str:
    ident = re.sub(r"[^0-9A-Za-z]", "_", text.replace(" or ", "_or_"))
    ident = re.sub(r"_+", "_", ident)
    if not re.fullmatch(r"[0-9A-Za-z_]+", ident):
        raise ValueError(f"cannot name {text!r}")
    return ident


def read_tsv(path: Path, header: list[str]) -> list[list[str]]:
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines[-1] != "":
        raise ValueError(f"{path}: missing final newline")
    lines.pop()
    if lines[0].split("\t") != header:
        raise ValueError(f"{path}: header is not {header}")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header) or "\r" in line:
            raise ValueError(f"{path}:{n}: expected {len(header)} fields")
        rows.append(fields)
    return rows


def parse_retired(value: str, where: str) -> int:
    if value not in ("0", "1"):
        raise ValueError(f"{where}: retired must be 0 or 1, not {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

def load_dicom():
    exact, repeat = [], []
    for tag, vr, vm, name, keyword, retired in read_tsv(DICOM_TSV, DICOM_HEADER):
        ret = parse_retired(retired, tag)
        if re.fullmatch(r"[0-9A-F]{8}", tag):
            exact.append((int(tag, 16), vr, vm, name, keyword, ret))
        elif re.fullmatch(r"[0-9A-Fx]{8}", tag):
            value = int(tag.replace("x", "0"), 16)
            mask = int("".join("0" if c == "x" else "F" for c in tag), 16)
            repeat.append((value, mask, tag, vr, vm, name, keyword, ret))
        else:
            raise ValueError(f"bad tag {tag!r}")
    exact.sort(key=lambda e: e[0])
    tags = [e[0] for e in exact]
    if len(set(tags)) != len(tags):
        raise ValueError("duplicate exact tag")
    keywords = [e[4] for e in exact if e[4]]
    if len(set(keywords)) != len(keywords):
        raise ValueError("duplicate keyword among exact entries")
    return exact, repeat


PRIV_KINDS = (
    ("EXACT", re.compile(r"[0-9A-F]{8}"),
     lambda k: int(k, 16)),
    ("BLOCK", re.compile(r"[0-9A-F]{4}xx[0-9A-F]{2}"),
     lambda k: int(k[:4], 16) << 16 | int(k[6:], 16)),
    ("GROUP", re.compile(r"[0-9A-F]{2}xxxx[0-9A-F]{2}"),
     lambda k: int(k[:2], 16) << 24 | int(k[6:], 16)),
)


def load_private():
    creators: dict[bytes, list[tuple[int, int, str]]] = {}
    unreachable = 0
    seen = set()
    for creator, key, vr, _vm, _name, retired in read_tsv(
            PRIVATE_TSV, PRIVATE_HEADER):
        parse_retired(retired, f"{creator} {key}")
        if (creator, key) in seen:
            raise ValueError(f"duplicate private key {creator!r} {key}")
        seen.add((creator, key))
        raw = creator.encode("utf-8")
        # The caller strips trailing spaces/NULs like pydicom does, and
        # pydicom cannot look up a multi-valued creator; such dictionary
        # creators could never match.
        if not raw or raw[-1:] in (b" ", b"\0") or b"\\" in raw:
            raise ValueError(f"unmatchable private creator {creator!r}")
        for kind, (_label, pattern, to_key) in enumerate(PRIV_KINDS):
            if pattern.fullmatch(key):
                creators.setdefault(raw, []).append((kind, to_key(key), vr))
                break
        else:
            unreachable += 1
    return creators, unreachable


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def keyword_slots(exact, size: int) -> list[int]:
    slots = [KW_EMPTY] * size
    for index, entry in enumerate(exact):
        keyword = entry[4]
        if not keyword:
            continue
        h = fnv1a(keyword.encode("ascii")) & (size - 1)
        while slots[h] != KW_EMPTY:
            h = (h + 1) & (size - 1)
        slots[h] = index
    return slots


def wrap(items: list[str], per_line: int, indent: str = "    ") -> list[str]:
    return [indent + " ".join(items[i:i + per_line])
            for i in range(0, len(items), per_line)]


def generate() -> str:
    exact, repeat = load_dicom()
    creators, unreachable = load_private()

    vrs = sorted({e[1] for e in exact} | {r[3] for r in repeat}
                 | {p[2] for ents in creators.values() for p in ents})
    vms = sorted({e[2] for e in exact} | {r[4] for r in repeat})
    vr_id = {vr: c_ident(vr) for vr in vrs}
    vm_id = {vm: c_ident(vm) for vm in vms}
    if len(set(vr_id.values())) != len(vrs) or len(set(vm_id.values())) != len(vms):
        raise ValueError("VR or VM names collide once made identifiers")
    vr_width = max(len(v) for v in vrs) + 1
    vm_width = max(len(v) for v in vms) + 1

    n_keywords = sum(1 for e in exact if e[4])
    kw_size = 1
    while kw_size < n_keywords * 3 // 2:
        kw_size *= 2
    if len(exact) >= KW_EMPTY:
        raise ValueError("too many exact entries for 16-bit slots")
    slots = keyword_slots(exact, kw_size)

    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in (DICOM_TSV, PRIVATE_TSV)}

    out = []
    w = out.append
    w("/*")
    w(" * dict_data.h - GENERATED FILE, DO NOT EDIT.")
    w(" *")
    w(" * Written by tools/gen_dict.py from the vendored PS3.6 and private")
    w(" * dictionaries (transcribed by pydicom, MIT; see vendor/README.md):")
    for name, digest in digests.items():
        w(f" *   vendor/{name}  sha256 {digest}")
    w(" * To regenerate:  python tools/gen_dict.py")
    w(" *")
    w(" * Included by dict.c only.  Everything here is static const data: no")
    w(" * run-time initialisation, safe to read from any thread.")
    w(" *")
    w(f" * Exact entries: {len(exact)}; repeating-group entries: {len(repeat)};")
    w(f" * private creators: {len(creators)}, private keys: "
      f"{sum(len(v) for v in creators.values())} (+{unreachable} keys of a")
    w(" * shape pydicom's get_private_entry never looks up, left out).")
    w(" */")
    w("#ifndef RD_DICT_DATA_H")
    w("#define RD_DICT_DATA_H")
    w("")
    w("#include <stdint.h>")
    w("")
    w('#include "rapidicom.h"')
    w("")

    w("/* VR strings; private entries store the index. */")
    w("enum {")
    out.extend(f"    RD_DVR_{vr_id[v]}," for v in vrs)
    w("    RD_DVR_COUNT")
    w("};")
    w(f"static const char rd_dict_vr[RD_DVR_COUNT][{vr_width}] = {{")
    out.extend(wrap([c_string(v) + "," for v in vrs], 8))
    w("};")
    w("")
    w("/* VM strings. */")
    w("enum {")
    out.extend(f"    RD_DVM_{vm_id[v]}," for v in vms)
    w("    RD_DVM_COUNT")
    w("};")
    w(f"static const char rd_dict_vm[RD_DVM_COUNT][{vm_width}] = {{")
    out.extend(wrap([c_string(v) + "," for v in vms], 8))
    w("};")
    w("")

    w("#define RD_E(tag, vr, vm, kw, name, retired) \\")
    w("    { tag, 0xFFFFFFFFu, rd_dict_vr[RD_DVR_##vr], rd_dict_vm[RD_DVM_##vm], \\")
    w("      kw, name, retired }")
    w("#define RD_R(tag, mask, vr, vm, kw, name, retired) \\")
    w("    { tag, mask, rd_dict_vr[RD_DVR_##vr], rd_dict_vm[RD_DVM_##vm], \\")
    w("      kw, name, retired }")
    w("")
    w(f"#define RD_DICT_EXACT_COUNT {len(exact)}u")
    w("")
    w("/* Exact entries, sorted by tag: RD_E(tag, VR, VM, keyword, name, retired). */")
    w("static const rd_dict_entry rd_dict_exact[RD_DICT_EXACT_COUNT] = {")
    for tag, vr, vm, name, keyword, ret in exact:
        w(f"    RD_E(0x{tag:08X}u, {vr_id[vr]}, {vm_id[vm]}, "
          f"{c_string(keyword)}, {c_string(name)}, {ret}),")
    w("};")
    w("")
    w("/* rd_dict_exact[i].tag, packed for the binary search. */")
    w("static const uint32_t rd_dict_tags[RD_DICT_EXACT_COUNT] = {")
    out.extend(wrap([f"0x{e[0]:08X}u," for e in exact], 8))
    w("};")
    w("")
    w(f"#define RD_DICT_REPEAT_COUNT {len(repeat)}u")
    w("")
    w("/*")
    w(" * Repeating-group entries in pydicom's RepeatersDictionary order:")
    w(" * RD_R(tag with x digits zero, mask of the fixed digits, VR, VM, ...).")
    w(" */")
    w("static const rd_dict_entry rd_dict_repeat[RD_DICT_REPEAT_COUNT] = {")
    for value, mask, pattern, vr, vm, name, keyword, ret in repeat:
        w(f"    RD_R(0x{value:08X}u, 0x{mask:08X}u, {vr_id[vr]}, {vm_id[vm]}, "
          f"{c_string(keyword)}, {c_string(name)}, {ret}), /* {pattern} */")
    w("};")
    w("")
    w("#undef RD_E")
    w("#undef RD_R")
    w("")
    w("/*")
    w(" * Keyword hash: slot = FNV-1a-32(keyword) & (RD_DICT_KW_SLOTS - 1), then")
    w(" * linear probing until a match or RD_DICT_KW_EMPTY.  Values index")
    w(f" * rd_dict_exact[]; {n_keywords} keywords in {kw_size} slots.")
    w(" */")
    w(f"#define RD_DICT_KW_SLOTS {kw_size}u")
    w(f"#define RD_DICT_KW_EMPTY 0x{KW_EMPTY:04X}u")
    w("static const uint16_t rd_dict_kw_slots[RD_DICT_KW_SLOTS] = {")
    out.extend(wrap([f"{s}," for s in slots], 16))
    w("};")
    w("")

    w("/* Private keys, in the order get_private_entry tries them. */")
    w("enum {")
    for label, _p, _f in PRIV_KINDS:
        w(f"    RD_PRIV_{label},")
    w("};")
    w("")
    w("typedef struct rd_dict_private_key {")
    w("    uint32_t key;    /* see tools/gen_dict.py: depends on kind */")
    w("    uint8_t kind;    /* RD_PRIV_* */")
    w("    uint8_t vr;      /* index into rd_dict_vr */")
    w("} rd_dict_private_key;")
    w("")
    w("typedef struct rd_dict_creator {")
    w("    const char *name;")
    w("    uint16_t len;")
    w("    uint16_t first;  /* first key in rd_dict_private */")
    w("    uint16_t count;")
    w("} rd_dict_creator;")
    w("")

    names = sorted(creators)
    keys_out = []
    creators_out = []
    for raw in names:
        ents = sorted(creators[raw], key=lambda e: (e[0], e[1]))
        creators_out.append((raw, len(keys_out), len(ents)))
        keys_out.extend(ents)
    if len(keys_out) > 0xFFFF or max(len(r) for r in names) > 0xFFFF:
        raise ValueError("private tables too large for 16-bit indices")

    w(f"#define RD_DICT_CREATOR_COUNT {len(names)}u")
    w("")
    w("/* Sorted by memcmp over min(len), then shorter first. */")
    w("static const rd_dict_creator rd_dict_creators[RD_DICT_CREATOR_COUNT] = {")
    for raw, first, count in creators_out:
        w(f"    {{{c_string(raw.decode('utf-8'))}, {len(raw)}, {first}, {count}}},")
    w("};")
    w("")
    w(f"#define RD_DICT_PRIVATE_COUNT {len(keys_out)}u")
    w("")
    w("/* Per creator sorted by (kind, key): RD_P<kind initial>(key, VR). */")
    for label, _p, _f in PRIV_KINDS:
        w(f"#define RD_P{label[0]}(key, vr) {{ key, RD_PRIV_{label}, RD_DVR_##vr }}")
    w("static const rd_dict_private_key rd_dict_private[RD_DICT_PRIVATE_COUNT] = {")
    for raw, first, count in creators_out:
        w(f"    /* {c_comment(raw.decode('utf-8'))} */")
        items = [f"RD_P{PRIV_KINDS[kind][0][0]}(0x{key:08X}, {vr_id[vr]}),"
                 for kind, key, vr in keys_out[first:first + count]]
        out.extend(wrap(items, 4))
    w("};")
    for label, _p, _f in PRIV_KINDS:
        w(f"#undef RD_P{label[0]}")
    w("")
    w("#endif /* RD_DICT_DATA_H */")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="output path (default: src/core/dict_data.h)")
    args = ap.parse_args()
    args.out.write_bytes(generate().encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
