"""The stages ``rapidicom bench`` times, and which files and libraries each takes.

========================  =====================================================
stage                     work
========================  =====================================================
``open``                  open a file and read 12 attributes (an index of a folder)
``values``                open a file and convert every value, sequences included
``native``                pixel array of uncompressed Pixel Data
``rle`` ... ``htj2k``     pixel array of one compressed transfer syntax family
========================  =====================================================

A file goes to ``open`` and ``values`` when it is DICOM, and to the pixel
stage of its transfer syntax when it has Pixel Data.  Value stages measure
MB/s of file bytes; pixel stages MB/s of decoded output (rapidicom's array).

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import rapidicom
from rapidicom.benchmark import syntaxes as ts
from rapidicom.benchmark.adapters import LIBRARIES, Library, pydicom_plugin_library

__all__ = ["Stage", "STAGES", "STAGE", "select_stages", "classify", "libraries_for"]


@dataclass(frozen=True)
class Stage:
    """One row group of the table: ``kind`` is the workload kind
    (``open12``, ``values`` or ``pixels``); ``syntaxes`` the transfer
    syntaxes of a pixel stage."""
    name: str
    title: str
    kind: str
    syntaxes: frozenset[str] = frozenset()
    note: str = ""

    @property
    def measures(self) -> str:
        return "decoded bytes" if self.kind == "pixels" else "file bytes"


STAGES = (
    Stage("open", "open + 12 attributes", "open12",
          note="rapidicom and dicomsdl read only the header; pydicom stops before Pixel "
               "Data; GDCM reads the 12 tags selectively"),
    Stage("values", "open + every value", "values"),
    Stage("native", "native pixels", "pixels", ts.NATIVE,
          note="rapidicom's pixel_array of little endian data that needs no conversion is "
               "a read-only view of the mapped file: no pixel is read until it is used"),
    Stage("rle", "RLE Lossless", "pixels", frozenset({ts.RLE_LOSSLESS})),
    Stage("jpeg-baseline", "JPEG Baseline", "pixels", frozenset({ts.JPEG_BASELINE})),
    Stage("jpeg-extended", "JPEG Extended", "pixels", frozenset({ts.JPEG_EXTENDED})),
    Stage("jpeg-lossless", "JPEG Lossless", "pixels",
          frozenset({ts.JPEG_LOSSLESS, ts.JPEG_LOSSLESS_SV1})),
    Stage("jpeg-ls", "JPEG-LS", "pixels",
          frozenset({ts.JPEG_LS_LOSSLESS, ts.JPEG_LS_NEAR_LOSSLESS})),
    Stage("j2k-lossless", "JPEG 2000 Lossless", "pixels", frozenset({ts.JPEG_2000_LOSSLESS})),
    Stage("j2k", "JPEG 2000", "pixels", frozenset({ts.JPEG_2000})),
    Stage("htj2k", "HTJ2K", "pixels",
          frozenset({ts.HTJ2K_LOSSLESS, ts.HTJ2K_LOSSLESS_RPCL, ts.HTJ2K})),
    Stage("deflated-image", "Deflated Image Frame", "pixels",
          frozenset({ts.DEFLATED_IMAGE_FRAME})),
)
STAGE = {s.name: s for s in STAGES}
CODEC_STAGES = tuple(s.name for s in STAGES if s.kind == "pixels" and s.name != "native")
# Names that stand for several stages in --stages.
GROUPS = {"all": tuple(STAGE), "pixels": ("native", *CODEC_STAGES), "codecs": CODEC_STAGES}


def select_stages(spec: str | None) -> list[Stage]:
    """The stages named in a comma-separated `spec` (stage names or
    ``all``, ``pixels``, ``codecs``), in table order; all when None.

    Raises ValueError naming an unknown stage.
    """
    if not spec:
        return list(STAGES)
    wanted: set[str] = set()
    for word in (w.strip() for w in spec.split(",") if w.strip()):
        if word in GROUPS:
            wanted.update(GROUPS[word])
        elif word in STAGE:
            wanted.add(word)
        else:
            raise ValueError(f"unknown stage {word!r}; choose from "
                             f"{', '.join([*STAGE, *GROUPS])}")
    return [s for s in STAGES if s.name in wanted]


def _read_if_dicom(path: str) -> rapidicom.Dataset | None:
    """rapidicom's reading of `path` when it is DICOM, else None.

    A file counts when it carries the Part 10 "DICM" marker (it is then
    opened leniently, so a truncated file is still benchmarked -- and
    reported -- rather than dropped) or when strict reading accepts it as a
    bare dataset (any other file would be read as garbage leniently).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return None
    try:
        return rapidicom.open(path, lenient=head[128:132] == b"DICM")
    except (rapidicom.DicomError, OSError):
        return None


def classify(paths, stages, progress=None) -> tuple[dict[str, list[str]], dict[str, str]]:
    """({stage name: files}, {file: why it is in no stage}) for `paths`.

    Only stages in `stages` are filled.  Pixel files whose transfer syntax
    no stage covers are reported.  `progress` (a ``Progress``) counts files.
    """
    wanted = {s.name for s in stages}
    files: dict[str, list[str]] = {s.name: [] for s in stages}
    skipped: dict[str, str] = {}
    by_syntax = {uid: s.name for s in STAGES if s.kind == "pixels" for uid in s.syntaxes}
    for path in paths:
        ds = _read_if_dicom(path)
        if ds is None:
            skipped[path] = "not DICOM (no DICM marker, and not a readable bare dataset)"
            if progress is not None:
                progress.update(1)
            continue
        placed = False
        for name in ("open", "values"):
            if name in wanted:
                files[name].append(path)
                placed = True
        syntax = ts.pixel_syntax(ds)
        stage = by_syntax.get(syntax) if syntax else None
        if syntax and stage is None:
            skipped[path] = f"Pixel Data in transfer syntax {syntax}, which no stage covers"
        elif stage in wanted:
            files[stage].append(path)
            placed = True
        if not placed and path not in skipped:
            skipped[path] = "no Pixel Data, and no value stage selected"
        if progress is not None:
            progress.update(1)
    return files, skipped


def spread(paths: list[str], n: int) -> list[str]:
    """At most `n` of `paths`, evenly spaced through them sorted by size
    (so a quick run still sees small and large files)."""
    if len(paths) <= n:
        return list(paths)
    by_size = sorted(paths, key=lambda p: (os.path.getsize(p), p))
    if n == 1:
        return [by_size[len(by_size) // 2]]
    step = (len(by_size) - 1) / (n - 1)
    return [by_size[round(i * step)] for i in range(n)]


def libraries_for(stage: Stage) -> list[Library]:
    """Every library that takes part in `stage`, installed or not, rapidicom
    first: pydicom once per decoding plugin it has for a codec stage."""
    out = [lib for lib in LIBRARIES.values() if stage.kind in lib.kinds]
    codec = stage.kind == "pixels" and stage.syntaxes - ts.NATIVE
    if codec and LIBRARIES["pydicom"].installed():
        from rapidicom.benchmark.adapters import with_pydicom

        plugins = with_pydicom.plugins_for(stage.syntaxes)
        position = [lib.name for lib in out].index("pydicom")
        out[position:position + 1] = [pydicom_plugin_library(p) for p in plugins]
    return out
