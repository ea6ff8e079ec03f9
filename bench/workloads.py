"""The per-library workloads that the benchmarks time, and their verification.

The workloads themselves live in ``rapidicom.benchmark.adapters`` (one
module per library), shared with ``rapidicom bench``; this module names them
for the pytest-benchmark suites and checks them the way those suites do.
Each workload takes one path (str) and returns what it read, so the very
function that is timed is also the one whose results are checked.

"open+12 attrs": open the file and read KEYWORDS (missing -> None).
  rapidicom  rapidicom.open(path) (mmap; header scan only) + Dataset.get
  pydicom    dcmread(path, stop_before_pixels=True) + Dataset.get
  dicomsdl   dicomsdl.open(path, load_until=(7FE0,000F)) + DataSet.getValues
             (its batch getter; stops before Pixel Data like pydicom)
  gdcm       gdcm.Reader.ReadSelectedTags(the 12 tags) + gdcm.StringFilter.ToString
             (values stay strings: that is what gdcm's string API gives)

"open+all values": open the file and convert every element value, recursing
into sequence items; returns the number of elements visited.
  rapidicom  rapidicom.open(path), ``for el in ds: el.value``, recurse into SQ items
  pydicom    dcmread(path) (full read), ``for elem in ds.iterall(): elem.value``
  dicomsdl   dicomsdl.open(path), ``for de in ds: de.value()`` (toSequence /
             toPixelSequence for SQ / encapsulated Pixel Data), recurse into items
             (its root DataSet also yields the File Meta elements: a few more values)
"""
from __future__ import annotations

import warnings

import pydicom
import rapidicom
from rapidicom.benchmark.adapters import with_dicomsdl, with_gdcm, with_pydicom, with_rapidicom
from rapidicom.benchmark.adapters.common import CORE, KEYWORDS, TAGS, core_of
from rapidicom.benchmark.values import normalise, same

__all__ = ["KEYWORDS", "TAGS", "CORE", "OPEN12", "ALL_VALUES", "run", "normalise",
           "verify_open12", "verify_all_values"]

rapidicom_12 = with_rapidicom.open12
pydicom_12 = with_pydicom.open12
dicomsdl_12 = with_dicomsdl.open12
gdcm_12 = with_gdcm.open12

OPEN12 = {
    "rapidicom": rapidicom_12,
    "pydicom": pydicom_12,
    "dicomsdl": dicomsdl_12,
    "gdcm": gdcm_12,
}

rapidicom_all = with_rapidicom.all_values
pydicom_all = with_pydicom.all_values
dicomsdl_all = with_dicomsdl.all_values

ALL_VALUES = {
    "rapidicom": rapidicom_all,
    "pydicom": pydicom_all,
    "dicomsdl": dicomsdl_all,
}


def run(fn, paths):
    """One benchmark round: `fn` over every path (pydicom's warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            fn(p)


# ---------------------------------------------------------------------------
# verification (never timed)
# ---------------------------------------------------------------------------

def _quiet(fn, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(path)


def verify_open12(paths, libraries=tuple(OPEN12)) -> list[str]:
    """Differences from pydicom: all 12 values for rapidicom, CORE for dicomsdl/gdcm."""
    problems = []
    for p in paths:
        ref = [normalise(v) for v in _quiet(pydicom_12, p)]
        for lib in libraries:
            if lib == "pydicom":
                continue
            got = _quiet(OPEN12[lib], p)
            if lib == "rapidicom":
                for k, a, b in zip(KEYWORDS, (normalise(v) for v in got), ref):
                    if not same(a, b):
                        problems.append(f"{p}: rapidicom {k}={a!r:.80} != pydicom {b!r:.80}")
                continue
            mine = with_gdcm.core_strings(got) if lib == "gdcm" else core_of(got)
            for k, a, b in zip(CORE, mine, core_of(ref)):
                if not same(a, b):
                    problems.append(f"{p}: {lib} {k}={a!r:.80} != pydicom {b!r:.80}")
    return problems


def verify_all_values(paths, libraries=tuple(ALL_VALUES)) -> list[str]:
    """rapidicom: every value equals pydicom's (sequence items by position);
    every library: the workload visits as many elements as pydicom's iterall."""
    problems = []
    for p in paths:
        counts = {lib: _quiet(ALL_VALUES[lib], p) for lib in libraries}
        ref_count = counts.get("pydicom", _quiet(pydicom_all, p))
        for lib, n in counts.items():
            expected = ref_count
            if lib == "dicomsdl":  # its root DataSet holds the File Meta elements too
                expected += len(_quiet(lambda q: pydicom.dcmread(q, stop_before_pixels=True), p)
                                .file_meta)
            if n != expected:
                problems.append(f"{p}: {lib} visits {n} elements, expected {expected}")
        if "rapidicom" in libraries:
            theirs = _quiet(lambda q: with_pydicom.value_map(pydicom.dcmread(q)), p)
            ours = with_rapidicom.value_map(rapidicom.open(p))
            if ours.keys() != theirs.keys():
                problems.append(f"{p}: element paths differ: "
                                f"{sorted(ours.keys() ^ theirs.keys())[:6]}")
            for key in ours.keys() & theirs.keys():
                if not same(ours[key], theirs[key]):
                    problems.append(f"{p}: {key} rapidicom {ours[key]!r:.60} "
                                    f"!= pydicom {theirs[key]!r:.60}")
    return problems
