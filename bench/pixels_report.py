"""The pixel benchmarks without pytest, as tables.

    .venv/bin/python bench/pixels_report.py [--rounds N] [--json PATH] [--group TEXT]

Same groups, workloads and checks as bench/test_bench_pixels.py (built by
bench/pixel_workloads.py).  Libraries take turns: round r runs every library
once before round r+1 starts (one untimed warm-up round first), so a burst of
load from elsewhere hits all of them alike.  Every call is timed on its own,
so the round time over any subset of files can be summed afterwards.

Printed per group:

* which libraries are wrong on (raise on, crash on) which files;
* on the files every library gets right ("common set"): per library the
  median and best round in ms, MB/s of decoded output (GB/s for ybr→rgb),
  the ratio "lib / rapidicom" of the medians (> 1: slower than rapidicom), and
  a correctness flag over the whole group;
* where a library is right on more files than the common set: its median on
  all of those files against rapidicom's median on the same files;
* the files where rapidicom is slower than another library, per file;
* for "multi-frame RLE threads": rapidicom's speed-up from 1 to 2 threads.

All rounds run after the checks have read every file: warm page cache.
"""
from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from bench import corpus  # noqa: E402
from bench import pixel_workloads as pw  # noqa: E402
from bench.harness import machine, source_revision, versions  # noqa: E402

SPEEDUP_TARGET = 1.7


def _busy_s() -> float | None:
    """CPU seconds all processes have spent since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)     # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How many cores other processes kept busy while a group was timed:
    system-wide busy CPU time minus this process's own, over the wall time."""

    def __enter__(self):
        self.wall, self.busy, self.own = time.perf_counter(), _busy_s(), _own_s()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        busy = _busy_s()
        if busy is None or self.busy is None or wall <= 0:
            self.cores = None
        else:
            self.cores = max(0.0, (busy - self.busy) - (_own_s() - self.own)) / wall


def _own_s() -> float:
    t = os.times()
    return t.user + t.system


def time_group(group: pw.Group, rounds: int) -> dict[str, dict[str, list[float]]]:
    """{lib: {path: [seconds per round]}} over each library's own files."""
    own = {lib: group.own_files(lib) for lib in group.libs}
    times = {lib: {p: [] for p in own[lib]} for lib in group.libs}
    clock = time.perf_counter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds + 1):
            for lib, fn in group.libs.items():
                per_file = times[lib]
                gc.collect()  # the previous library's garbage is not this one's cost
                for p in own[lib]:
                    t0 = clock()
                    fn(p)
                    dt = clock() - t0
                    if r:  # round 0 is the warm-up
                        per_file[p].append(dt)
    return times


def round_times(times: dict[str, list[float]], paths) -> list[float]:
    """Round r's time over `paths`: the sum of each file's r-th time."""
    paths = list(paths)
    rounds = len(times[paths[0]])
    return [sum(times[p][r] for p in paths) for r in range(rounds)]


def report_group(group: pw.Group, rounds: int) -> dict:
    print(f"\n== {group.name} ==")
    for note in group.notes:
        print(f"  {note}")
    for p, why in group.dropped.items():
        print(f"  left out {pw.fid(p)}: {why}")
    for lib in group.libs:
        for p, why in group.marks.get(lib, {}).items():
            print(f"  {lib} marked on {pw.fid(p)} [{pw.describe(p)}]: {why}")
    if not group.timed:
        print("  nothing timed: no file that every library gets right")
        return {"timed": 0}
    with OtherLoad() as load:
        times = time_group(group, rounds)
    nbytes = group.decoded_bytes()
    base = statistics.median(round_times(times[group.baseline], group.timed))
    gb = group.name == pw.YBR_GROUP
    unit = "GB/s" if gb else "MB/s"
    print(f"  common set: {len(group.timed)} of {len(group.files)} files, "
          f"{group.input_bytes() / 1e6:.2f} MB in files, {nbytes / 1e6:.2f} MB decoded; "
          f"{rounds} interleaved rounds (+1 warm-up), warm page cache")
    if load.cores is not None:
        print(f"  other processes kept {load.cores:.2f} of {os.cpu_count()} cores busy "
              f"while this group was timed")
    print(f"  {'library':<28} {'median ms':>10} {'best ms':>9} {unit:>8} "
          f"{'vs ' + group.baseline:>16}  correctness")
    rows = {}
    for lib in group.libs:
        ts = round_times(times[lib], group.timed)
        med, best = statistics.median(ts), min(ts)
        rate = nbytes / med / (1e9 if gb else 1e6)
        rows[lib] = {"median_s": med, "best_s": best, unit.replace("/", "_per_"): rate,
                     "ratio_vs_" + group.baseline: med / base, "correctness": group.flag(lib),
                     "marked": {pw.fid(p): w for p, w in group.marks.get(lib, {}).items()},
                     "round_times_s": ts}
    for lib, r in sorted(rows.items(), key=lambda kv: kv[1]["median_s"]):
        ratio = r["ratio_vs_" + group.baseline]
        rate = r[unit.replace("/", "_per_")]
        print(f"  {lib:<28} {r['median_s'] * 1e3:>10.3f} {r['best_s'] * 1e3:>9.3f} "
              f"{rate:>8.{3 if gb else 0}f} {ratio:>15.2f}×  {r['correctness']}")
    out = {"other_load_cores": load.cores,
           "files": [pw.fid(p) for p in group.timed], "input_bytes": group.input_bytes(),
           "decoded_bytes": nbytes, "notes": group.notes, "libraries": rows,
           "left_out": {pw.fid(p): w for p, w in group.dropped.items()}}

    # Each library on every file it gets right, against the baseline there.
    wider = [lib for lib in group.libs
             if lib != group.baseline and len(group.own_files(lib)) > len(group.timed)]
    if wider:
        print(f"  each library on every file it gets right, {group.baseline} on the same files:")
        out["own_sets"] = {}
        for lib in wider:
            own = group.own_files(lib)
            mine = statistics.median(round_times(times[lib], own))
            theirs = statistics.median(round_times(times[group.baseline], own))
            print(f"    {lib:<26} {len(own):>4} files: {mine * 1e3:9.3f} ms vs "
                  f"{theirs * 1e3:9.3f} ms  = {mine / theirs:.2f}×")
            out["own_sets"][lib] = {"files": len(own), "median_s": mine,
                                    "baseline_median_s": theirs, "ratio": mine / theirs}

    # Where rapidicom loses: per file, the median time of each faster library.
    losses = []
    for p in group.timed:
        mine = statistics.median(times[group.baseline][p])
        for lib in group.libs:
            if lib.startswith("rapidicom") or lib == "numpy_copy":  # not a reference
                continue
            theirs = statistics.median(times[lib][p])
            if theirs < mine:
                losses.append((mine - theirs, p, lib, mine, theirs))
    if losses:
        losses.sort(reverse=True)
        print(f"  files where {group.baseline} is slower than another library "
              f"(median per file; {len(losses)} file/library pairs, largest first):")
        for lost, p, lib, mine, theirs in losses[:12]:
            print(f"    {pw.fid(p):<44} [{pw.describe(p)}] {group.baseline} "
                  f"{mine * 1e6:9.1f} µs, {lib} {theirs * 1e6:9.1f} µs ({mine / theirs:.1f}×)")
        out["slower_than"] = [{"file": pw.fid(p), "library": lib, "rapidicom_s": mine,
                               "library_s": theirs} for _, p, lib, mine, theirs in losses]

    for suffix in ("", "_out"):
        one, two = f"rapidicom_t1{suffix}", f"rapidicom_t2{suffix}"
        if not {one, two} <= rows.keys():
            continue
        t1 = round_times(times[one], group.timed)
        t2 = round_times(times[two], group.timed)
        speedup = statistics.median(t1) / statistics.median(t2)
        per_round = sorted(a / b for a, b in zip(t1, t2))
        best = min(t1) / min(t2)
        verdict = "meets" if speedup >= SPEEDUP_TARGET else "misses"
        what = " into a reused out= array" if suffix else ""
        print(f"  rapidicom threads=2 speed-up over threads=1{what}: {speedup:.2f}× (medians; "
              f"{best:.2f}× best rounds; per round {per_round[0]:.2f}–{per_round[-1]:.2f}×), "
              f"{verdict} the {SPEEDUP_TARGET}× target")
        out[f"speedup_threads2{suffix}"] = speedup
        out[f"speedup_threads2{suffix}_best_rounds"] = best
    if group.name == pw.MF_RLE_GROUP and load.cores is not None and load.cores > 0.2:
        print(f"  (the second thread needs an idle second core; other processes used "
              f"{load.cores:.2f} cores meanwhile)")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=11, help="timed rounds per library (11)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--group", action="append", default=[],
                    help="only groups whose name contains this text (repeatable)")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())
          + f"; pylibjpeg-rle via pydicom plugin {pw.PYDICOM_RLE_PLUGIN or 'default'!r}"
          + f"; rapidicom source {source_revision()}")
    out = {"machine": machine(), "versions": versions(), "rapidicom_source": source_revision(),
           "page_cache": "warm", "rounds": args.rounds, "groups": {}}

    def wanted(name):
        return not args.group or any(g in name for g in args.group)

    failed = False
    with tempfile.TemporaryDirectory(prefix="rapidicom-pixels-") as folder:
        groups = []
        if wanted(pw.NATIVE_GROUP) or wanted(pw.RLE_GROUP):
            groups += pw.corpus_groups(corpus.files())
        if wanted(pw.MF_RLE_GROUP) or wanted(pw.MF_NATIVE_GROUP):
            groups += pw.multiframe_groups(folder)
        if wanted(pw.YBR_GROUP):
            groups.append(pw.ybr_group(folder))
        for group in groups:
            if not wanted(group.name):
                continue
            if any(not w.startswith("both refuse") for w in group.dropped.values()):
                failed = True  # rapidicom and pydicom disagree: printed below
            out["groups"][group.name] = report_group(group, args.rounds)

    load1 = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} cores")
    out["loadavg_before"], out["loadavg_after"] = load0, load1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
