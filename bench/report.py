"""The bench/ measurements without pytest, as one table.

    .venv/bin/python bench/report.py [--rounds N] [--no-memory] [--json PATH]

Same file set (bench/corpus.py), same workloads (bench/workloads.py) and same
checks against pydicom as the pytest-benchmark suites.  For each group the
libraries take turns: round r times every library once before round r+1
starts, so a burst of load from elsewhere hits all of them alike and the
ratios stay fair on a shared machine.  One round = every file of the set.
All rounds run after the checks have read every file: warm page cache.

Printed per library: median and best round, expressed as µs per file
(round time / number of files); the median over files of each file's
best-of-3 time ("file p50"); throughput; and the ratio "lib / rapidicom" of
the medians.  Then the memory check of bench/memcheck.py.
"""
from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from bench import corpus, memcheck, workloads  # noqa: E402
from bench.harness import machine, per_file_p50_us, source_revision, versions  # noqa: E402

GROUPS = {
    "open+12 attrs": (workloads.OPEN12, workloads.verify_open12),
    "open+all values": (workloads.ALL_VALUES, workloads.verify_all_values),
}


def time_group(libs: dict, files: list[str], rounds: int) -> dict[str, list[float]]:
    """Round times in seconds per library, libraries interleaved; one warm-up round."""
    times: dict[str, list[float]] = {lib: [] for lib in libs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds + 1):
            for lib, fn in libs.items():
                t0 = time.perf_counter()
                for p in files:
                    fn(p)
                dt = time.perf_counter() - t0
                if r:  # round 0 is the warm-up
                    times[lib].append(dt)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=11, help="timed rounds per library (11)")
    ap.add_argument("--no-memory", action="store_true", help="skip the 500 MiB memory check")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    files = corpus.files()
    nbytes = corpus.total_bytes(files)
    load0 = os.getloadavg()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())
          + f"; rapidicom source {source_revision()}")
    print("\n".join(corpus.describe_exclusions()))
    out = {"machine": machine(), "versions": versions(),
           "rapidicom_source": source_revision(), "files": len(files),
           "total_bytes": nbytes, "excluded": corpus.excluded(), "page_cache": "warm",
           "rounds": args.rounds, "groups": {}}

    failed = False
    for group, (libs, verify) in GROUPS.items():
        notes = []
        for lib in libs:
            if lib == "pydicom":
                continue
            problems = verify(files, (lib,))
            if problems and lib == "dicomsdl" and group == "open+all values":
                notes.append(f"dicomsdl visits fewer elements in {len(problems)} files "
                             f"(UN-encoded sequences kept as bytes)")
            elif problems:
                print(f"\n{group}: {lib} differs from pydicom in {len(problems)} values; "
                      f"not timed:\n  " + "\n  ".join(problems[:20]))
                failed = True
        if failed:
            continue
        times = time_group(libs, files, args.rounds)
        rows = {}
        for lib, ts in times.items():
            med, best = statistics.median(ts), min(ts)
            rows[lib] = {
                "median_round_s": med, "best_round_s": best,
                "median_us_per_file": med / len(files) * 1e6,
                "best_us_per_file": best / len(files) * 1e6,
                "file_p50_us": per_file_p50_us(libs[lib], files),
                "MB_per_s": nbytes / med / 1e6,
                "round_times_s": ts,
            }
        base = rows["rapidicom"]
        print(f"\n== {group} ==  {len(files)} files, {nbytes / 1e6:.1f} MB, warm page cache, "
              f"{args.rounds} interleaved rounds (+1 warm-up)")
        print(f"{'library':<10} {'median µs/file':>15} {'best µs/file':>13} "
              f"{'file p50 µs':>12} {'MB/s':>9}  vs rapidicom (median, best)")
        for lib, r in sorted(rows.items(), key=lambda kv: kv[1]["median_round_s"]):
            ratio = r["median_round_s"] / base["median_round_s"]
            ratio_best = r["best_round_s"] / base["best_round_s"]
            r["ratio_vs_rapidicom"] = ratio
            r["ratio_best_vs_rapidicom"] = ratio_best
            tail = "" if lib == "rapidicom" else \
                f"  {lib} / rapidicom = {ratio:.1f}× (best {ratio_best:.1f}×)"
            print(f"{lib:<10} {r['median_us_per_file']:>15.1f} {r['best_us_per_file']:>13.1f} "
                  f"{r['file_p50_us']:>12.1f} {r['MB_per_s']:>9.0f}{tail}")
        for note in notes:
            print(f"note: {note}")
        out["groups"][group] = {"libraries": rows, "notes": notes}

    load1 = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} cores")
    out["loadavg_before"], out["loadavg_after"] = load0, load1

    if not args.no_memory:
        mem = memcheck.run_all()
        print()
        print("\n".join(memcheck.format_results(mem)))
        out["memory"] = mem
        delta = mem["results"]["rapidicom"]["delta_mib"]
        if delta >= 32:
            print(f"FAIL: rapidicom.open grew the peak RSS by {delta:.1f} MiB (limit 32)")
            failed = True

    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
