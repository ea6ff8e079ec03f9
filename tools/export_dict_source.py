#!/usr/bin/env python
"""Export pydicom's data dictionaries to the plain TSV files in vendor/.

This is only needed to refresh the vendored data: the build and
tools/gen_dict.py read the TSV files, never pydicom.  Run it with the
pydicom version named in vendor/README.md installed:

    python tools/export_dict_source.py            # writes vendor/*.tsv
    python tools/export_dict_source.py --check    # exit 1 if they differ

Output (UTF-8, LF line ends, one header line, fields separated by a TAB and
never containing TAB, CR or LF):

dicom_dictionary.tsv  tag  vr  vm  name  keyword  retired
    All entries of DicomDictionary in its (tag-sorted) order, then all
    entries of RepeatersDictionary in its iteration order, which is the order
    pydicom.datadict.mask_match tries them.  `tag` is 8 upper-case hex
    digits; repeating-group entries have 'x' for the digits that vary.
    `retired` is 1 for 'Retired', 0 for ''.

private_dictionary.tsv  creator  tag  vr  vm  name  retired
    private_dictionaries flattened in iteration order.  `tag` is pydicom's
    key string verbatim ('0009xx01', '00290089', '60xxxx10', ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "vendor"
DICOM_TSV = VENDOR / "dicom_dictionary.tsv"
PRIVATE_TSV = VENDOR / "private_dictionary.tsv"

DICOM_HEADER = ("tag", "vr", "vm", "name", "keyword", "retired")
PRIVATE_HEADER = ("creator", "tag", "vr", "vm", "name", "retired")


def _field(value: str) -> str:
    if not isinstance(value, str) or any(c in value for c in "\t\r\n"):
        raise ValueError(f"cannot store {value!r} in a TSV field")
    return value


def _retired(flag: str) -> str:
    if flag not in ("", "Retired"):
        raise ValueError(f"unexpected retired flag {flag!r}")
    return "1" if flag else "0"


def _render(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["\t".join(header)]
    lines += ["\t".join(_field(f) for f in row) for row in rows]
    return "\n".join(lines) + "\n"


def build() -> tuple[str, str]:
    from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
    from pydicom._private_dict import private_dictionaries

    rows = []
    for tag, (vr, vm, name, retired, keyword) in DicomDictionary.items():
        rows.append((f"{tag:08X}", vr, vm, name, keyword, _retired(retired)))
    for mask, (vr, vm, name, retired, keyword) in RepeatersDictionary.items():
        rows.append((mask, vr, vm, name, keyword, _retired(retired)))
    dicom = _render(DICOM_HEADER, rows)

    rows = []
    for creator, entries in private_dictionaries.items():
        for key, (vr, vm, name, retired) in entries.items():
            rows.append((creator, key, vr, vm, name, _retired(retired)))
    private = _render(PRIVATE_HEADER, rows)
    return dicom, private


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with vendor/*.tsv instead of writing")
    args = ap.parse_args()

    import pydicom

    outputs = dict(zip((DICOM_TSV, PRIVATE_TSV), build()))
    if args.check:
        stale = [p for p, text in outputs.items()
                 if not p.exists() or p.read_bytes() != text.encode("utf-8")]
        for p in stale:
            print(f"{p.relative_to(ROOT)} differs from pydicom "
                  f"{pydicom.__version__}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_bytes(text.encode("utf-8"))
        print(f"wrote {path.relative_to(ROOT)} "
              f"({text.count(chr(10)) - 1} entries, pydicom "
              f"{pydicom.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
