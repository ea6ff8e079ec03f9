"""Per-codec decode speed, side by side, verified: tables without pytest.

    .venv/bin/python bench/codecs_report.py [--rounds N] [--group TEXT] [--json PATH]

Same groups, workloads and checks as bench/test_bench_codecs.py (built by
bench/codec_workloads.py): corpus files of each compressed transfer syntax
plus synthetic 2048² images and multi-frame files written to a temporary
folder.  Every library's array is checked against rapidicom's before anything
is timed (and rapidicom's against the encoded array or the references).

Libraries take turns: round r runs every library once over the group's files
before round r+1 starts (one untimed warm-up round first), so a burst of load
from elsewhere hits all of them alike; medians of the rounds are reported.
Each call is timed on its own (wall clock and this process's CPU time, all
threads), so a round over any subset of files can be summed afterwards.

Printed per group: who is wrong (raises, crashes) on which file; on the files
every working library gets right ("common set"): median and best round, MB/s
of decoded output, CPU time / wall time (> 1: more than one thread busy), the
ratio library/rapidicom of the medians (> 1: slower than rapidicom) and a
correctness flag ("exact", or the max/mean |difference| for lossy streams);
each library on all the files it gets right; rapidicom's speed-up over the
best reference; thread speed-ups.  Then a summary and the targets.

All rounds run after the checks have read every file: warm page cache.
"""
from __future__ import annotations

import os
import sys

# Pinned before numpy or any codec loads (STYLE.md, Benchmarks).  rapidicom
# ignores OPJ_NUM_THREADS (it always sets openjpeg's thread count itself);
# for the references 1 means what they do by default, one decoding thread.
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

from bench import codec_workloads as cw  # noqa: E402
from bench import corpus  # noqa: E402
from bench.harness import machine, source_revision  # noqa: E402

SPEEDUP_TARGET = 1.7


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for name in ("rapidicom", "pydicom", "pylibjpeg", "pylibjpeg-libjpeg",
                 "pylibjpeg-openjpeg", "pyjpegls", "pillow", "python-gdcm", "dicomsdl",
                 "numpy"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "missing"
    return out


def _busy_s() -> float | None:
    """CPU seconds all processes have spent since boot (/proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    t = os.times()
    return t.user + t.system


class OtherLoad:
    """Cores that other processes kept busy meanwhile: system-wide busy time
    minus this process's own, over the wall time."""

    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), _busy_s(), _own_s()
        return self

    def __exit__(self, *exc):
        wall, busy = time.perf_counter() - self.t, _busy_s()
        self.cores = None if busy is None or self.busy is None or wall <= 0 else \
            max(0.0, (busy - self.busy) - (_own_s() - self.own)) / wall


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------

class QuietStderr:
    """fd 2 to /dev/null: GDCM's libjpeg prints "Unsupported JPEG data
    precision 12" on every 12-bit frame before it retries with its 12-bit
    build (its time is still counted; only the message goes)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        return self

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def time_group(group: cw.Group, rounds: int):
    """({lib: {path: [wall s per round]}}, {lib: {path: [cpu s per round]}}),
    each library over the files it gets right, interleaved rounds."""
    libs = group.working
    own = {lib: group.own_files(lib) for lib in libs}
    wall = {lib: {p: [] for p in own[lib]} for lib in libs}
    cpu = {lib: {p: [] for p in own[lib]} for lib in libs}
    clock, cpu_clock = time.perf_counter, time.process_time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds + 1):
            for lib in libs:
                fn = group.libs[lib]
                gc.collect()    # the previous library's garbage is not this one's cost
                for p in own[lib]:
                    c0, t0 = cpu_clock(), clock()
                    fn(p)
                    t1, c1 = clock(), cpu_clock()
                    if r:       # round 0 warms up
                        wall[lib][p].append(t1 - t0)
                        cpu[lib][p].append(c1 - c0)
    return wall, cpu


def round_sums(times: dict[str, list[float]], paths) -> list[float]:
    paths = list(paths)
    return [sum(times[p][r] for p in paths) for r in range(len(times[paths[0]]))]


def _speedup(one: list[float], two: list[float]) -> dict:
    per_round = sorted(a / b for a, b in zip(one, two))
    return {"speedup": statistics.median(one) / statistics.median(two),
            "best_rounds": min(one) / min(two), "per_round_min": per_round[0],
            "per_round_max": per_round[-1]}


def report_group(group: cw.Group, rounds: int) -> dict:
    print(f"\n== {group.name} ==")
    for note in group.notes:
        print(f"  {note}")
    out: dict = {"codec": group.codec, "notes": group.notes}
    for p, why in group.dropped.items():
        who = group.decoders_of(p)
        print(f"  left out {cw.fid(p)}: {why}; "
              + (f"RAPIDICOM FAILURE: decoded by {', '.join(who)}" if who
                 else "no reference decodes it either"))
    out["left_out"] = {cw.fid(p): w for p, w in group.dropped.items()}
    out["rapidicom_failures"] = {cw.fid(p): w for p, w in group.rapidicom_failures().items()}
    for lib in group.libs:
        for p, why in group.marks(lib).items():
            print(f"  {lib} marked on {cw.fid(p)} [{cw.describe(p)}]: {why}")
    for lib in group.failing:
        print(f"  {lib}: right on no file of this group, not timed")
    if not group.timed:
        print("  nothing timed: no file that every working library gets right")
        return out

    with OtherLoad() as load, QuietStderr():
        wall, cpu = time_group(group, rounds)
    nbytes = group.decoded_bytes()
    print(f"  common set: {len(group.timed)} of {len(group.files)} files, "
          f"{group.input_bytes() / 1e6:.2f} MB in files, {nbytes / 1e6:.2f} MB decoded; "
          f"{rounds} interleaved rounds (+1 warm-up), medians, warm page cache")
    if load.cores is not None:
        print(f"  other processes kept {load.cores:.2f} of {os.cpu_count()} cores busy meanwhile")
    base = statistics.median(round_sums(wall["rapidicom"], group.timed))
    rows = {}
    for lib in group.working:
        ts = round_sums(wall[lib], group.timed)
        cs = round_sums(cpu[lib], group.timed)
        med = statistics.median(ts)
        rows[lib] = {"median_s": med, "best_s": min(ts), "MB_per_s": nbytes / med / 1e6,
                     "cpu_per_wall": statistics.median(c / w for c, w in zip(cs, ts)),
                     "ratio_vs_rapidicom": med / base, "correctness": group.flag(lib),
                     "marked": {cw.fid(p): w for p, w in group.marks(lib).items()},
                     "round_times_s": ts}
    print(f"  {'library':<20} {'median ms':>10} {'best ms':>9} {'MB/s':>8} {'CPU/wall':>8} "
          f"{'÷ rapidicom':>12}  correctness")
    for lib, r in sorted(rows.items(), key=lambda kv: kv[1]["median_s"]):
        print(f"  {lib:<20} {r['median_s'] * 1e3:>10.2f} {r['best_s'] * 1e3:>9.2f} "
              f"{r['MB_per_s']:>8.1f} {r['cpu_per_wall']:>8.2f} "
              f"{r['ratio_vs_rapidicom']:>11.2f}×  {r['correctness']}")
    out.update(other_load_cores=load.cores, files=[cw.fid(p) for p in group.timed],
               input_bytes=group.input_bytes(), decoded_bytes=nbytes, libraries=rows,
               failing={lib: group.flag(lib) for lib in group.failing})

    refs = [lib for lib in rows if cw.is_reference(lib)]
    if refs:
        best = min(refs, key=lambda lib: rows[lib]["median_s"])
        speed = rows[best]["median_s"] / base
        out["best_reference"] = {"library": best, "MB_per_s": rows[best]["MB_per_s"],
                                 "rapidicom_speedup": speed}
        print(f"  rapidicom (pixel_array) vs the best reference, {best}: {speed:.2f}× "
              f"({rows['rapidicom']['MB_per_s']:.1f} vs {rows[best]['MB_per_s']:.1f} MB/s)")
        if "rapidicom_opj1" in rows:
            s1 = rows[best]["median_s"] / rows["rapidicom_opj1"]["median_s"]
            out["best_reference"]["rapidicom_opj1_speedup"] = s1
            print(f"  rapidicom on one thread (rapidicom_opj1) vs {best}: {s1:.2f}×")

    wider = [lib for lib in rows
             if lib != "rapidicom" and len(group.own_files(lib)) > len(group.timed)]
    if wider:
        print("  each library on every file it gets right, rapidicom on the same files:")
        out["own_sets"] = {}
        for lib in wider:
            own = group.own_files(lib)
            mine = statistics.median(round_sums(wall[lib], own))
            ours = statistics.median(round_sums(wall["rapidicom"], own))
            mb = group.decoded_bytes(own) / 1e6
            print(f"    {lib:<20} {len(own):>3} files: {mine * 1e3:9.2f} ms ({mb / mine:7.1f} "
                  f"MB/s) vs rapidicom {ours * 1e3:9.2f} ms ({mb / ours:7.1f} MB/s) = "
                  f"{mine / ours:.2f}×")
            out["own_sets"][lib] = {"files": len(own), "median_s": mine,
                                    "rapidicom_median_s": ours, "ratio": mine / ours}

    losses = []
    for p in group.timed:
        mine = statistics.median(wall["rapidicom"][p])
        for lib in refs:
            theirs = statistics.median(wall[lib][p])
            if theirs < mine:
                losses.append((mine - theirs, p, lib, mine, theirs))
    if losses:
        losses.sort(reverse=True)
        print(f"  files where rapidicom is slower than a reference ({len(losses)} "
              "file/library pairs, largest loss first):")
        for _, p, lib, mine, theirs in losses[:8]:
            print(f"    {cw.fid(p):<44} [{cw.describe(p)}] rapidicom {mine * 1e6:9.1f} µs, "
                  f"{lib} {theirs * 1e6:9.1f} µs ({mine / theirs:.2f}×)")
        out["slower_than"] = [{"file": cw.fid(p), "library": lib, "rapidicom_s": mine,
                               "library_s": theirs} for _, p, lib, mine, theirs in losses]

    def speedup(one, two, label, target=False):
        s = _speedup(round_sums(wall[one], group.timed), round_sums(wall[two], group.timed))
        verdict = ""
        if target:
            verdict = (", meets" if s["speedup"] >= SPEEDUP_TARGET else ", misses") + \
                f" the {SPEEDUP_TARGET}× target"
        print(f"  {label}: {s['speedup']:.2f}× (medians; best rounds {s['best_rounds']:.2f}×; "
              f"per round {s['per_round_min']:.2f}–{s['per_round_max']:.2f}×){verdict}")
        return s

    if {"rapidicom_t1", "rapidicom_t2"} <= rows.keys():
        out["t2_over_t1"] = speedup("rapidicom_t1", "rapidicom_t2",
                                    "rapidicom to_array threads=2 over threads=1",
                                    target=group.threads_pair == ("rapidicom_t1", "rapidicom_t2"))
    if {"rapidicom_opj1", "rapidicom_t2"} <= rows.keys():
        out["t2_over_one_thread"] = speedup(
            "rapidicom_opj1", "rapidicom_t2",
            "rapidicom to_array threads=2 over everything on one thread (rapidicom_opj1)",
            target=group.threads_pair == ("rapidicom_opj1", "rapidicom_t2"))
    if group.threads_pair:
        key = "t2_over_one_thread" if group.threads_pair[0] == "rapidicom_opj1" else "t2_over_t1"
        if key in out:
            out["threads_speedup"] = out[key]
    if "rapidicom_opj1" in rows:
        out["default_over_one_thread"] = speedup(
            "rapidicom_opj1", "rapidicom",
            "rapidicom pixel_array (default threads) over everything on one thread")
    if load.cores is not None and load.cores > 0.2 and (group.threads_pair
                                                        or group.single_frame_threads):
        print(f"  (a second thread needs an idle second core; other processes used "
              f"{load.cores:.2f} cores meanwhile)")
    return out


# ---------------------------------------------------------------------------
# summary and targets
# ---------------------------------------------------------------------------

def summary(results: dict[str, dict]) -> None:
    print("\n== summary (MB/s of decoded output, common set of each group, medians) ==")
    print(f"  {'group':<38} {'rapidicom':>9} {'best reference':>30} {'speed-up':>8}")
    for name, r in results.items():
        if "libraries" not in r:
            print(f"  {name:<38} {'—':>9}  nothing timed")
            continue
        mine = r["libraries"]["rapidicom"]["MB_per_s"]
        b = r.get("best_reference")
        ref = f"{b['library']} {b['MB_per_s']:.1f}" if b else "—"
        sp = f"{b['rapidicom_speedup']:.2f}×" if b else "—"
        print(f"  {name:<38} {mine:>9.1f} {ref:>30} {sp:>8}")


def _ratio(r: dict, lib: str) -> float | None:
    libs = r.get("libraries", {})
    if lib not in libs or "rapidicom" not in libs:
        return None
    return libs[lib]["median_s"] / libs["rapidicom"]["median_s"]


def targets(results: dict[str, dict]) -> list[dict]:
    """The issue's targets, per group: (target, group, measured, threshold, met)."""
    rows = []

    def add(target, name, value, threshold, detail=""):
        rows.append({"target": target, "group": name, "value": value, "threshold": threshold,
                     "met": None if value is None else value >= threshold, "detail": detail})

    for name, r in results.items():
        if "libraries" not in r:
            continue
        libs = r["libraries"]
        codec = r["codec"]
        refs = {lib: v for lib, v in libs.items() if cw.is_reference(lib)}
        if codec == "JPEG":
            add("JPEG ≥ dicomsdl", name, _ratio(r, "dicomsdl"), 1.0,
                "" if "dicomsdl" in libs else
                f"dicomsdl: {r.get('failing', {}).get('dicomsdl', 'not timed')}")
            pyd = {lib: v for lib, v in refs.items() if lib.startswith("pydicom_")}
            if pyd:
                fastest = min(pyd, key=lambda lib: pyd[lib]["median_s"])
                default = "pydicom_" + cw.pydicom_default_plugin(cw.JPEG_BASELINE)
                add("JPEG ≥ 3× pydicom (fastest plugin)", name, _ratio(r, fastest), 3.0,
                    f"{fastest}; pydicom default ({default}): "
                    + (f"{_ratio(r, default):.2f}×" if default in libs else "n/a"))
        elif codec == "JPEG lossless" and "best_reference" in r:
            b = r["best_reference"]
            add("JPEG lossless ≥ 2× best reference", name, b["rapidicom_speedup"], 2.0,
                b["library"])
        elif codec == "JPEG-LS":
            add("JPEG-LS ≥ dicomsdl", name, _ratio(r, "dicomsdl"), 1.0,
                "" if "dicomsdl" in libs else
                f"dicomsdl: {r.get('failing', {}).get('dicomsdl', 'not timed')}")
        elif codec in ("JPEG 2000", "HTJ2K") and "best_reference" in r:
            b = r["best_reference"]
            one = (f"; on one thread (rapidicom_opj1): {b['rapidicom_opj1_speedup']:.2f}×"
                   if "rapidicom_opj1_speedup" in b else "")
            add("J2K default settings ≥ 1.5× best reference", name, b["rapidicom_speedup"],
                1.5, b["library"] + one)
        if codec == "JPEG 2000" and "threads_speedup" in r:
            s = r["threads_speedup"]
            add("multi-frame J2K threads=2 ≥ 1.7× threads=1", name, s["speedup"],
                SPEEDUP_TARGET, f"best rounds {s['best_rounds']:.2f}×, other load "
                f"{r.get('other_load_cores') or 0:.2f} cores")
    print("\n== targets ==")
    for t in rows:
        v = "n/a" if t["value"] is None else f"{t['value']:.2f}×"
        met = {True: "met", False: "NOT MET", None: "n/a"}[t["met"]]
        print(f"  {t['target']:<44} {t['group']:<38} {v:>8} (≥ {t['threshold']}×) "
              f"{met:<8} {t['detail']}")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per library (5)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--group", action="append", default=[],
                    help="only groups whose name contains this text (repeatable)")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    start = time.perf_counter()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())
          + f"; rapidicom source {source_revision()}")
    print(f"OPJ_NUM_THREADS={os.environ.get('OPJ_NUM_THREADS')} (references); rapidicom sets "
          f"openjpeg's threads itself; os.cpu_count() = {os.cpu_count()}")
    out = {"machine": machine(), "versions": versions(), "rapidicom_source": source_revision(),
           "page_cache": "warm", "rounds": args.rounds, "groups": {}}

    def wanted(name):
        return not args.group or any(g in name for g in args.group)

    failed = False
    with tempfile.TemporaryDirectory(prefix="rapidicom-codecs-") as folder:
        builder = cw.Builder(corpus.files(), folder,
                             log=lambda s: print(f"[{time.perf_counter() - start:6.1f} s] {s}",
                                                 flush=True))
        for spec in cw.SPECS:
            if not wanted(spec.name):
                continue
            group = builder.group(spec.name)
            failed |= bool(group.rapidicom_failures())
            out["groups"][spec.name] = report_group(group, args.rounds)
            sys.stdout.flush()
    summary(out["groups"])
    out["targets"] = targets(out["groups"])
    load1 = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} cores; "
          f"total {time.perf_counter() - start:.0f} s")
    out["loadavg_before"], out["loadavg_after"] = load0, load1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
