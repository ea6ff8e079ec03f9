"""Turning raw benchmark results into numbers, a table and a JSON document.

``summarise`` condenses ``runner.run_plan``'s results per stage and library:
how many files were verified, wrong, raised or crashed (with the messages),
the median time per file, MB/s and the ratio to rapidicom.  ``table`` lays
the summary out for a terminal.

Numbers are computed on a library's *verified* files only: a fast wrong
answer does not count, and the check column says how many there were.  The
ratio of a library is its time over rapidicom's time on the files both got
right (> 1: rapidicom is faster).  Times are per file: the median of the
timed calls (``--repeat``) after one untimed call.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import os
import platform
import statistics
from importlib.metadata import PackageNotFoundError, version

from rapidicom.benchmark.corpus import file_id

__all__ = ["summarise", "table", "machine", "versions"]

OURS = "rapidicom"
# Statuses of a file: rapidicom's, and every other library's.
OURS_OK = ("verified", "disputed", "unverified")
COUNTED = ("verified", "ok")
DISTRIBUTIONS = ("rapidicom", "numpy", "pydicom", "pylibjpeg", "pylibjpeg-libjpeg",
                 "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls", "pillow", "python-gdcm",
                 "dicomsdl", "matplotlib")


def machine() -> str:
    """CPU model, core count, Python and OS, on one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def versions() -> dict[str, str]:
    """Installed versions of rapidicom and the reference libraries."""
    out = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work competing for the CPUs)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------

def _median_time(result: dict) -> float | None:
    times = result.get("times")
    return statistics.median(times) if times else None


def _file_entry(result: dict, size: int | None) -> dict:
    entry = {"status": result["status"]}
    median = _median_time(result)
    if median is not None:
        entry["median_s"] = median
        entry["times_s"] = result["times"]
    if size is not None:
        entry["bytes"] = size
    for key in ("message", "max_diff", "note"):
        if result.get(key) is not None:
            entry[key] = result[key]
    return entry


def _library_summary(name: str, results: dict[str, dict], sizes: dict[str, int],
                     ours: dict[str, dict], description: str) -> dict:
    def with_status(*statuses):
        return {file_id(p): r.get("message", "") for p, r in results.items()
                if r["status"] in statuses}

    counted = [p for p, r in results.items() if r["status"] in (OURS_OK if name == OURS
                                                                   else COUNTED)]
    medians = {p: _median_time(results[p]) for p in counted}
    total = sum(medians.values())
    nbytes = sum(sizes.get(p, 0) for p in counted)
    crashes = with_status("crashed")
    out = {
        "description": description,
        "files": len(results),
        "verified": sum(r["status"] in ("verified", "ok") for r in results.values()),
        "wrong": len(with_status("wrong")), "wrong_files": with_status("wrong"),
        "errors": len(with_status("error", "timeout")),
        "error_files": with_status("error", "timeout"),
        "crashed": bool(crashes), "crashes": len(crashes), "crash_files": crashes,
        "unverified": sum(r["status"] == "unverified" for r in results.values()),
        "timed_files": len(counted),
        "median_s": statistics.median(medians.values()) if medians else None,
        "total_s": total if counted else None,
        "bytes": nbytes,
        "MB_per_s": nbytes / total / 1e6 if counted and total > 0 else None,
    }
    if name == OURS:
        out["disputed"] = len(with_status("disputed"))
        out["disputed_files"] = with_status("disputed")
        out["ratio"] = 1.0 if counted else None
    else:
        out.update(_ratio(results, ours, counted))
    diffs = [r["max_diff"] for p, r in results.items() if p in counted and r.get("max_diff")]
    if diffs:
        out["max_diff"] = max(diffs)
    notes: dict[str, int] = {}
    for p in counted:
        if results[p].get("note"):
            notes[results[p]["note"]] = notes.get(results[p]["note"], 0) + 1
    out["notes"] = [f"{note} ({_files(n)})" for note, n in notes.items()]
    out["per_file"] = {file_id(p): _file_entry(r, sizes.get(p)) for p, r in results.items()}
    return out


def _ratio(results, ours, counted) -> dict:
    """This library's time over rapidicom's on the files both got right."""
    common = [p for p in counted if ours.get(p, {}).get("status") in OURS_OK]
    theirs = sum(_median_time(results[p]) for p in common)
    mine = sum(_median_time(ours[p]) for p in common)
    ratio = theirs / mine if common and mine > 0 else None
    return {"ratio": ratio, "ratio_files": len(common)}


def summarise(plan, results, *, skipped: dict[str, str], elapsed_s: float,
              started: str, descriptions: dict[str, str],
              load_before: list[float] | None = None) -> dict:
    """The JSON document of a run (see ``rapidicom bench --help``)."""
    stages = {}
    for stage in plan.stages:
        by_library = results[stage.name]
        ours = by_library.get(OURS, {})
        sizes = {p: r["bytes"] for p, r in ours.items() if r.get("bytes") is not None}
        if stage.kind != "pixels":
            sizes = {p: os.path.getsize(p) for p in plan.files[stage.name]}
        libraries = {name: _library_summary(name, by_library[name], sizes, ours,
                                            descriptions.get(name, ""))
                     for name in [lib.name for lib in plan.libraries[stage.name]]
                     if name in by_library}
        stages[stage.name] = {
            "title": stage.title, "kind": stage.kind, "measures": stage.measures,
            "note": stage.note,
            "files": len(plan.files[stage.name]),
            "bytes": sum(sizes.get(p, 0) for p in plan.files[stage.name]),
            "libraries": libraries,
            "missing_libraries": plan.missing.get(stage.name, []),
        }
    return {
        "rapidicom_version": versions().get("rapidicom"),
        "started": started, "elapsed_s": round(elapsed_s, 2),
        "machine": machine(), "cpu_count": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "versions": versions(), "repeat": plan.repeat,
        "timing": ("per file: median of `repeat` timed calls after one untimed call whose "
                   "result is checked; totals and MB/s over a library's verified files; "
                   "ratio = library time / rapidicom time on the files both got right"),
        "threads": ("rapidicom decodes frames on its own pool (os.cpu_count() threads); "
                    "the references run with their defaults, OPJ_NUM_THREADS etc. = 1 "
                    "unless set"),
        "files": len({p for files in plan.files.values() for p in files}),
        "skipped_files": {file_id(p): why for p, why in skipped.items()},
        "stages": stages,
    }


# ---------------------------------------------------------------------------
# table
# ---------------------------------------------------------------------------

def format_time(seconds: float | None) -> str:
    """``1.5e-05`` -> ``'15.0 µs'``; ``0.0021`` -> ``'2.10 ms'``; ``1.5`` -> ``'1.50 s'``."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def check_text(entry: dict) -> str:
    """The check column: "ok" or "wrong (3 files), crashed (1 file)"."""
    counts = (("wrong", entry["wrong"]), ("disputed", entry.get("disputed", 0)),
              ("error", entry["errors"]), ("crashed", entry["crashes"]),
              ("unverified", entry["unverified"]))
    parts = [f"{kind} ({_files(n)})" for kind, n in counts if n]
    if entry["verified"] and not parts:
        parts.append("ok")
    if entry.get("max_diff"):
        parts.append(f"max |diff| {entry['max_diff']:g}")
    parts += entry.get("notes", [])
    return ", ".join(parts) if parts else "-"


def _ratio_text(name: str, entry: dict) -> str:
    if name == OURS:
        return "1.00" if entry.get("ratio") else "-"
    ratio = entry.get("ratio")
    return "-" if ratio is None else f"{ratio:.2f}"


def table(summary: dict, *, failures: int = 3) -> list[str]:
    """The lines printed at the end of a run."""
    lines = [f"rapidicom bench: {summary['files']} files, median of {summary['repeat']} "
             f"timed calls per file, {summary['machine']}"]
    if summary["skipped_files"]:
        lines.append(f"({len(summary['skipped_files'])} files skipped: not DICOM, or in no "
                     f"selected stage; see the JSON output)")
    head = f"{'library':<20} {'ok/files':>9} {'median/file':>12} {'MB/s':>9} " \
           f"{'ratio':>7}  check"
    for name, stage in summary["stages"].items():
        if not stage["files"]:
            continue
        lines += ["", f"== {stage['title']} ({name}): {stage['files']} files, "
                      f"{stage['bytes'] / 1e6:.1f} MB of {stage['measures']} ==", head]
        for lib, e in stage["libraries"].items():
            mbps = "-" if e["MB_per_s"] is None else f"{e['MB_per_s']:.1f}"
            ok = f"{e['timed_files']}/{e['files']}"
            lines.append(f"{lib:<20} {ok:>9} {format_time(e['median_s']):>12} {mbps:>9} "
                         f"{_ratio_text(lib, e):>7}  {check_text(e)}")
        if stage["missing_libraries"]:
            lines.append(f"(not installed: {', '.join(stage['missing_libraries'])})")
        if stage["note"]:
            lines.append(f"({stage['note']})")
    lines += ["", "ratio = library time / rapidicom time on the files both got right "
                  "(> 1: rapidicom is faster); numbers count verified files only."]
    lines += _failure_lines(summary, failures)
    return lines


def _failure_lines(summary: dict, per_library: int) -> list[str]:
    out = []
    for name, stage in summary["stages"].items():
        for lib, e in stage["libraries"].items():
            problems = [("wrong", e["wrong_files"]), ("error", e["error_files"]),
                        ("crashed", e["crash_files"]), ("disputed", e.get("disputed_files", {}))]
            items = [(kind, f, m) for kind, files in problems for f, m in files.items()]
            for kind, f, m in items[:per_library]:
                out.append(f"  {name} / {lib}: {kind}: {f}: {m}")
            if len(items) > per_library:
                out.append(f"  {name} / {lib}: ... and {len(items) - per_library} more "
                           f"(see the JSON output)")
    return (["", "Failures (first few per library):"] + out) if out else []
