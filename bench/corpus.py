"""The fixed benchmark file set.

Every DICOM file shipped in pydicom's ``test_files`` (``dicomdirtests``
included) and ``charset_files``, and in pydicom-data's ``data_store/data``,
that every library reads: rapidicom (strict, the default), pydicom and
dicomsdl must run both workloads of ``bench/workloads.py`` ("open+12 attrs",
"open+all values") without an exception, gdcm its "open+12 attrs"; and
dicomsdl's and gdcm's UIDs/Rows/Columns must equal pydicom's, so that every
library is timed on the same files.  dicomsdl and gdcm are probed in a child
process (``rapidicom.benchmark.isolate``), because dicomsdl crashes the
interpreter (SIGSEGV) on a truncated file.  The files left out are listed
with their reasons (``excluded()``).

Files are never read into memory beforehand; the benchmarks open them by
path.  The probing here and the checks before timing read each file, so
every timed round finds them in the page cache: "warm page cache" results.
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import data_store
import pydicom
from rapidicom.benchmark import corpus as benchmark_corpus
from rapidicom.benchmark.corpus import walk
from rapidicom.benchmark.isolate import run_isolated

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"
PYDICOM_DATA_STORE = Path(data_store.__file__).parent / "data"
ROOTS = (
    PYDICOM_DATA / "test_files",        # includes test_files/dicomdirtests
    PYDICOM_DATA / "charset_files",
    PYDICOM_DATA_STORE,
)


def candidates() -> list[Path]:
    """Every file under ROOTS that is not obviously something else, sorted."""
    return [Path(p) for root in ROOTS for p in walk(root)]


def file_id(path: Path) -> str:
    """A short, stable name: relative to pydicom's or pydicom-data's data folder."""
    return benchmark_corpus.file_id(str(path))


# In-process checks (pure Python or well-behaved on bad input) and the checks
# run in a child process: dicomsdl crashes the interpreter (SIGSEGV) on at
# least one truncated file, so a crash must cost one file, not the session.
_IN_PROCESS = ("rapidicom_12", "rapidicom_all", "pydicom_12", "pydicom_all")
_IN_CHILD = ("dicomsdl_12", "dicomsdl_all", "gdcm_12")
_REPO = Path(__file__).resolve().parent.parent


def _check(path: str, names) -> dict[str, str]:
    """{library: reason} for each library whose workload raises on `path`, or
    (dicomsdl, gdcm) whose "open+12 attrs" UIDs/Rows/Columns differ from pydicom's."""
    from bench import workloads

    reasons: dict[str, str] = {}
    for name in names:
        lib, what = name.split("_")
        if lib in reasons:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(workloads, name)(path)
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else ""
            reasons[lib] = f"{lib} {what}: {type(exc).__name__}: {msg[:100]}"
            continue
        if what == "12" and lib in ("dicomsdl", "gdcm"):
            try:
                problems = workloads.verify_open12([path], (lib,))
            except Exception:  # pydicom cannot read it: reported by _IN_PROCESS
                problems = []
            if problems:
                reasons[lib] = f"{lib} {what}: wrong values: {problems[0].split(': ', 1)[1]}"
    return reasons


def _isolated_check(context, job) -> dict[str, str]:
    """Child side of `_check_in_child`: one (workload name, path) job."""
    name, path = job
    return _check(path, (name,))


def _check_in_child(paths: list[str]) -> dict[str, dict[str, str]]:
    """`_check(p, _IN_CHILD)` for every path, surviving crashes of the child
    (``rapidicom.benchmark.isolate``: a crash costs the job it was on)."""
    out: dict[str, dict[str, str]] = {p: {} for p in paths}
    jobs = [(name, p) for p in paths for name in _IN_CHILD]
    outcomes = run_isolated("bench.corpus:_isolated_check", jobs, sys_path=[str(_REPO)],
                            cwd=str(_REPO))
    for (name, path), outcome in zip(jobs, outcomes):
        lib, what = name.split("_")
        if outcome.kind == "done":
            reasons = outcome.value
        elif outcome.kind == "crashed":
            reasons = {lib: f"{lib} {what}: crashed the interpreter "
                            f"({outcome.value.replace('killed by ', '')})"}
        else:
            reasons = {lib: f"{lib} {what}: {outcome.kind}: {outcome.value}"}
        for key, reason in reasons.items():
            out[path].setdefault(key, reason)   # a library's first failure names it
    return out


@functools.lru_cache(maxsize=None)
def _split() -> tuple[tuple[Path, ...], tuple[tuple[str, str], ...]]:
    paths = [str(p) for p in candidates()]
    in_child = _check_in_child(paths)
    kept, dropped = [], []
    for p in paths:
        reasons = {**_check(p, _IN_PROCESS), **in_child[p]}
        if reasons:
            dropped.append((file_id(Path(p)), "; ".join(reasons.values())))
        else:
            kept.append(Path(p))
    return tuple(kept), tuple(dropped)


def files() -> list[str]:
    """The benchmark file set (paths as str, sorted)."""
    return [str(p) for p in _split()[0]]


def excluded() -> list[tuple[str, str]]:
    """(file id, reason) for every candidate left out of the set."""
    return list(_split()[1])


def total_bytes(paths) -> int:
    return sum(os.path.getsize(p) for p in paths)


def describe_exclusions() -> list[str]:
    ex = excluded()
    lines = [f"bench corpus: {len(files())} files, {total_bytes(files()) / 1e6:.1f} MB; "
             f"{len(ex)} excluded (fail in at least one library):"]
    lines += [f"  - {fid}: {why}" for fid, why in ex]
    return lines
