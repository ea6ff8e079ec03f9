"""``rapidicom bench``: the command line over the benchmark package.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from rapidicom.benchmark import corpus, stages as stage_table
from rapidicom.benchmark.adapters import LIBRARIES
from rapidicom.benchmark.runner import Plan, run_plan

__all__ = ["add_parser", "run"]

QUICK_FILES = 3         # files per stage with --quick
DEFAULT_REPEAT = 5
DEFAULT_TIMEOUT = 300.0

DESCRIPTION = """\
Time rapidicom and every installed reference library (pydicom 3 with each
of its decoding plugins, python-gdcm, dicomsdl) side by side on the same
files, stage by stage: open + 12 attributes, open + every value, native
pixels and one stage per compressed transfer syntax family.  Every
library's result is checked against rapidicom's before its time counts
(lossy codecs within a small tolerance); wrong answers, errors and crashes
are counted and shown, not fatal: each library runs in worker processes,
and a worker that dies costs only the file it was on.

Prints a table of median times per file, MB/s and ratios (library time /
rapidicom time on the files both got right).  --json writes every number
(per file too), --png a bar chart of the ratios (needs matplotlib).  Each
library runs alone, one after another; rapidicom decodes frames on its own
thread pool, the references with their defaults.  Exit status 0 when the
run finished, whatever the libraries did; 1 on bad arguments.
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``bench`` on the subparsers `sub` of the ``rapidicom`` parser."""
    p = sub.add_parser(
        "bench", help="time rapidicom against the installed reference libraries",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="DICOM files or folders (default: the files shipped with "
                        "pydicom and pydicom-data)")
    p.add_argument("--stages", metavar="LIST",
                   help="comma-separated stages: " + ", ".join(stage_table.STAGE)
                        + ", or all, pixels, codecs (default: all)")
    p.add_argument("--libraries", metavar="LIST",
                   help="comma-separated libraries besides rapidicom: pydicom (all its "
                        "plugins) or pydicom+PLUGIN, gdcm, dicomsdl (default: every "
                        "installed one)")
    p.add_argument("--repeat", type=int, metavar="N",
                   help=f"timed calls per file and library (default {DEFAULT_REPEAT}; "
                        "1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"at most {QUICK_FILES} files per stage (small to large), "
                        "one timed call each")
    p.add_argument("--max-files", type=int, metavar="N",
                   help="at most N files per stage")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"time one library may spend on one file (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--json", metavar="OUT", help="write every number to this JSON file")
    p.add_argument("--png", metavar="OUT", help="write a bar chart to this PNG file")
    p.add_argument("--chart", choices=("ratio", "mbps"), default="ratio",
                   help="what the bars show: ratio to rapidicom (default) or MB/s")
    p.add_argument("--list", action="store_true",
                   help="list the stages and libraries (installed or not) and exit")
    p.set_defaults(func=run)
    return p


def _fail(message: str) -> int:
    print(f"rapidicom bench: error: {message}", file=sys.stderr)
    return 1


def _selected(lib_name: str, spec: str | None) -> bool:
    if lib_name == "rapidicom" or not spec:
        return True
    for word in (w.strip() for w in spec.split(",") if w.strip()):
        if lib_name == word or (word == "pydicom" and lib_name.startswith("pydicom+")):
            return True
    return False


def _check_library_names(spec: str | None) -> None:
    known = set(LIBRARIES)
    for word in (w.strip() for w in (spec or "").split(",") if w.strip()):
        if word not in known and not word.startswith("pydicom+"):
            raise ValueError(f"unknown library {word!r}; choose from "
                             f"{', '.join(sorted(known))} or pydicom+PLUGIN")


def _plan(args, chosen, files) -> Plan:
    libraries, missing = {}, {}
    limit = QUICK_FILES if args.quick else args.max_files
    for stage in chosen:
        candidates = [lib for lib in stage_table.libraries_for(stage)
                      if _selected(lib.name, args.libraries)]
        libraries[stage.name] = [lib for lib in candidates if lib.installed()]
        missing[stage.name] = [lib.name for lib in candidates if not lib.installed()]
        if limit:
            files[stage.name] = stage_table.spread(files[stage.name], limit)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else DEFAULT_REPEAT)
    return Plan(chosen, files, libraries, missing, repeat=repeat, timeout=args.timeout)


def _list() -> int:
    for stage in stage_table.STAGES:
        libs = stage_table.libraries_for(stage)
        names = [lib.name + ("" if lib.installed() else " (not installed)") for lib in libs]
        print(f"{stage.name:<15} {stage.title:<22} {', '.join(names)}")
    return 0


def run(args) -> int:
    """``rapidicom bench``; returns the exit status."""
    if args.list:
        return _list()
    if args.repeat is not None and args.repeat < 1:
        return _fail("--repeat must be at least 1")
    try:
        chosen = stage_table.select_stages(args.stages)
        _check_library_names(args.libraries)
        paths = corpus.collect(args.paths)
    except (ValueError, corpus.NoFilesError) as exc:
        return _fail(str(exc))
    if args.png:
        try:
            import matplotlib  # noqa: F401  (fail before the run, not after)
        except ImportError:
            return _fail("--png needs matplotlib (pip install matplotlib)")
    from rapidicom._progress import Progress
    from rapidicom.benchmark import report

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    load_before = report.load_average()
    t0 = time.perf_counter()
    with Progress(len(paths), "bench: reading headers", unit="files") as progress:
        files, skipped = stage_table.classify(paths, chosen, progress)
    plan = _plan(args, chosen, files)
    if plan.job_count == 0:
        return _fail("no file falls in the selected stages")
    with Progress(plan.job_count, "bench", unit="files") as progress:
        results = run_plan(plan, progress)
    descriptions = {lib.name: lib.description for libs in plan.libraries.values()
                    for lib in libs}
    summary = report.summarise(plan, results, skipped=skipped,
                               elapsed_s=time.perf_counter() - t0, started=started,
                               descriptions=descriptions, load_before=load_before)
    print("\n".join(report.table(summary)))
    print(f"\n{summary['files']} files in {summary['elapsed_s']:.1f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    if args.png:
        from rapidicom.benchmark.chart import write_png

        write_png(summary, args.png, args.chart)
    return 0
