"""The fixed benchmark file set.

Every DICOM file shipped in pydicom's ``test_files`` (``dicomdirtests``
included) and ``charset_files``, and in pydicom-data's ``data_store/data``,
that every library reads: rapidicom (strict, the default), pydicom and
dicomsdl must run both workloads of ``bench/workloads.py`` ("open+12 attrs",
"open+all values") without an exception, gdcm its "open+12 attrs"; and
dicomsdl's and gdcm's UIDs/Rows/Columns must equal pydicom's, so that every
library is timed on the same files.  dicomsdl and gdcm are probed in a child
process, because dicomsdl crashes the interpreter (SIGSEGV) on a truncated
file.  The files left out are listed with their reasons (``excluded()``).

Files are never read into memory beforehand; the benchmarks open them by
path.  The probing here and the checks before timing read each file, so
every timed round finds them in the page cache: "warm page cache" results.
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import data_store
import pydicom

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"
PYDICOM_DATA_STORE = Path(data_store.__file__).parent / "data"
ROOTS = (
    PYDICOM_DATA / "test_files",        # includes test_files/dicomdirtests
    PYDICOM_DATA / "charset_files",
    PYDICOM_DATA_STORE,
)

# Files in those folders that are not DICOM Part 10 / raw datasets at all.
NOT_DICOM_SUFFIXES = {".txt", ".md", ".json", ".dump", ".gz", ".icc", ".py", ".pyc"}
NOT_DICOM_NAMES = {"README"}


def candidates() -> list[Path]:
    """Every file under ROOTS that is not obviously something else, sorted."""
    out = []
    for root in ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if p.suffix.lower() in NOT_DICOM_SUFFIXES or p.name in NOT_DICOM_NAMES:
                    continue
                out.append(p)
    return out


def file_id(path: Path) -> str:
    """A short, stable name: relative to pydicom's or pydicom-data's data folder."""
    for root, prefix in ((PYDICOM_DATA, ""), (PYDICOM_DATA_STORE, "pydicom-data/")):
        try:
            return prefix + str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


# In-process checks (pure Python or well-behaved on bad input) and the checks
# run in a child process: dicomsdl crashes the interpreter (SIGSEGV) on at
# least one truncated file, so a crash must cost one file, not the session.
_IN_PROCESS = ("rapidicom_12", "rapidicom_all", "pydicom_12", "pydicom_all")
_IN_CHILD = ("dicomsdl_12", "dicomsdl_all", "gdcm_12")
_REPO = Path(__file__).resolve().parent.parent


def _check(path: str, names, announce=None) -> dict[str, str]:
    """{library: reason} for each library whose workload raises on `path`, or
    (dicomsdl, gdcm) whose "open+12 attrs" UIDs/Rows/Columns differ from pydicom's."""
    from bench import workloads

    reasons: dict[str, str] = {}
    for name in names:
        lib, what = name.split("_")
        if lib in reasons:
            continue
        if announce:
            announce(name)
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


def _child_main() -> None:
    """Child side of `_check_in_child`: one path per stdin line."""
    for line in sys.stdin:
        path = line.rstrip("\n")
        print("START", flush=True)
        for reason in _check(path, _IN_CHILD, lambda n: print("TRY", n, flush=True)).values():
            print("ERR", reason, flush=True)
        print("DONE", flush=True)


def _check_in_child(paths: list[str]) -> dict[str, dict[str, str]]:
    """`_check(p, _IN_CHILD)` for every path, surviving crashes of the child."""
    out: dict[str, dict[str, str]] = {p: {} for p in paths}
    todo = list(paths)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(_REPO)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]))
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", "from bench.corpus import _child_main; _child_main()"],
            input="".join(p + "\n" for p in todo), capture_output=True, text=True,
            env=env, cwd=str(_REPO))
        done = 0
        current = trying = None
        for line in proc.stdout.splitlines():
            if line == "START":
                current = todo[done]
            elif line.startswith("TRY "):
                trying = line[4:]
            elif line == "DONE":
                done += 1
                current = None
            elif line.startswith("ERR ") and current is not None:
                reason = line[4:]
                out[current][reason.split(" ", 1)[0]] = reason
        if proc.returncode == 0 and done == len(todo):
            break
        if current is None:  # died outside a file: report, do not loop forever
            raise RuntimeError(f"corpus probe child failed: {proc.stderr[-2000:]}")
        sig = -proc.returncode if proc.returncode < 0 else None
        how = f"signal {signal.Signals(sig).name}" if sig else f"exit status {proc.returncode}"
        lib, what = trying.split("_") if trying else ("dicomsdl/gdcm", "probe")
        out[current][lib] = f"{lib} {what}: crashed the interpreter ({how})"
        todo = todo[done + 1:]
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
