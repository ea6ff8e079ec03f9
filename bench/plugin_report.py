"""pydicom's pixel_array with and without the rapidicom plugin: a table.

    .venv/bin/python bench/plugin_report.py [--rounds N] [--json PATH]

The workload is what a pydicom user runs: ``pydicom.dcmread(path).pixel_array``
for every compressed file of the benchmark set (bench/corpus.py) whose
transfer syntax rapidicom.pydicom registers for.  It runs twice per round:
with pydicom's own plugins (its default order: GDCM, pylibjpeg, ... ) and
with ``rapidicom.pydicom`` installed (rapidicom first, pydicom's
post-processing unchanged).  Before anything is timed, every file's two
arrays are compared: equal, except 12-bit JPEG, where pydicom's own result
comes from pylibjpeg-libjpeg, whose IDCT differs from IJG's by at most 1
(tests/test_pixels_parity.py); a file that differs more, or that pydicom's
own plugins refuse, is left out with the reason.

Rounds are interleaved (default, plugin, default, plugin, ...; one untimed
warm-up round first) so that load from elsewhere hits both alike.  Printed
per family of syntaxes and in total: median round, MB/s of decoded output,
and the speed-up without the plugin / with it, of the median rounds, of the
best rounds, and of the median CPU time of this process (all threads; less
disturbed by other processes on a shared machine, and it charges openjpeg's
extra threads to the plugin).

Also the shared code of bench/test_bench_plugin.py (pytest-benchmark).
"""
from __future__ import annotations

import os
import sys

# Pinned before numpy or any codec loads, as in bench/conftest.py: pydicom's
# colour conversion (numpy/OpenBLAS) and GDCM then run on one thread each.
# The plugin sets openjpeg's threads itself (all cores for frames >= 1 MiB,
# like rapidicom.Pixels).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
import pydicom  # noqa: E402

from bench import corpus  # noqa: E402
from bench.harness import machine, source_revision  # noqa: E402

from rapidicom.benchmark.adapters.with_pydicom import quiet  # noqa: E402
import rapidicom.pydicom as plugin  # noqa: E402  (installs it: undone at once)

plugin.uninstall()

SPEEDUP_TARGET = 2.0
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
TWELVE_BIT_JPEG_TOLERANCE = 1
FAMILIES = {
    "1.2.840.10008.1.2.5": "RLE",
    "1.2.840.10008.1.2.4.50": "JPEG", JPEG_EXTENDED: "JPEG",
    "1.2.840.10008.1.2.4.57": "JPEG lossless", "1.2.840.10008.1.2.4.70": "JPEG lossless",
    "1.2.840.10008.1.2.4.80": "JPEG-LS", "1.2.840.10008.1.2.4.81": "JPEG-LS",
    "1.2.840.10008.1.2.4.90": "JPEG 2000", "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.201": "HTJ2K", "1.2.840.10008.1.2.4.202": "HTJ2K",
    "1.2.840.10008.1.2.4.203": "HTJ2K",
}
MODES = ("pydicom", "pydicom+rapidicom")


@contextmanager
def plugin_installed(on: bool):
    """pydicom with (True) or without (False) the rapidicom plugin."""
    if on:
        plugin.install()
    try:
        yield
    finally:
        plugin.uninstall()


def pixel_array(path: str) -> np.ndarray:
    """The timed workload: what a pydicom user writes."""
    return pydicom.dcmread(path).pixel_array


def decode_all(paths) -> None:
    for path in paths:
        pixel_array(path)


@dataclass
class FileSet:
    """Compressed benchmark files, checked, by family."""
    files: list[str] = field(default_factory=list)
    family: dict[str, str] = field(default_factory=dict)
    decoded_bytes: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def of(self, family: str) -> list[str]:
        return [p for p in self.files if family in ("all", self.family[p])]

    def families(self) -> list[str]:
        return sorted(set(self.family.values()))

    def bytes_of(self, family: str) -> int:
        return sum(self.decoded_bytes[p] for p in self.of(family))


def _syntax(path: str) -> str | None:
    try:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
    except Exception:
        return None
    return str(meta.get("TransferSyntaxUID", ""))


def _mismatch(ours: np.ndarray, theirs: np.ndarray, path: str) -> str | None:
    """Why the plugin's array is not pydicom's own, or None."""
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return f"{ours.shape} {ours.dtype} with the plugin, {theirs.shape} {theirs.dtype} without"
    diff = int(np.abs(ours.astype(np.int64) - theirs.astype(np.int64)).max()) if ours.size else 0
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    twelve_bit = str(ds.file_meta.TransferSyntaxUID) == JPEG_EXTENDED and ds.BitsAllocated > 8
    allowed = TWELVE_BIT_JPEG_TOLERANCE if twelve_bit else 0
    return None if diff <= allowed else f"max |difference| {diff} (allowed {allowed})"


def build_file_set(paths) -> FileSet:
    """The compressed files among `paths`, each checked: the plugin's array
    must be pydicom's own."""
    out = FileSet()
    with quiet():
        for path in paths:
            ts = _syntax(path)
            if ts not in plugin.DECODER_DEPENDENCIES or not plugin.is_available(ts):
                continue
            try:
                theirs = pixel_array(path)
            except Exception as exc:
                out.left_out[path] = f"pydicom's own plugins refuse it: {exc!r:.120}"
                continue
            with plugin_installed(True):
                ours = pixel_array(path)
            why = _mismatch(ours, theirs, path)
            if why:
                out.left_out[path] = f"PLUGIN DIFFERS: {why}"
                continue
            out.files.append(path)
            out.family[path] = FAMILIES[ts]
            out.decoded_bytes[path] = theirs.nbytes
    return out


def time_rounds(files: FileSet, rounds: int):
    """({mode: {path: [wall s per round]}}, the same in CPU seconds of this
    process, all threads): interleaved rounds, one warm-up."""
    wall = {mode: {p: [] for p in files.files} for mode in MODES}
    cpu = {mode: {p: [] for p in files.files} for mode in MODES}
    clock, cpu_clock = time.perf_counter, time.process_time
    with quiet():
        for r in range(rounds + 1):
            for mode in MODES:
                with plugin_installed(mode != "pydicom"):
                    gc.collect()
                    for path in files.files:
                        c0, t0 = cpu_clock(), clock()
                        pixel_array(path)
                        t1, c1 = clock(), cpu_clock()
                        if r:
                            wall[mode][path].append(t1 - t0)
                            cpu[mode][path].append(c1 - c0)
    return wall, cpu


def _round_sums(times: dict[str, list[float]], paths, rounds: int) -> list[float]:
    return [sum(times[p][r] for p in paths) for r in range(rounds)]


def summarise(files: FileSet, wall, cpu, rounds: int) -> dict:
    """Per family and in total: medians, best rounds, MB/s, speed-ups (wall
    clock, and CPU time, which load from other processes disturbs less)."""
    out = {}
    for family in ["all", *files.families()]:
        paths = files.of(family)
        row = {"files": len(paths), "decoded_MB": files.bytes_of(family) / 1e6}
        for mode in MODES:
            sums = _round_sums(wall[mode], paths, rounds)
            cpu_sums = _round_sums(cpu[mode], paths, rounds)
            row[mode] = {"median_s": statistics.median(sums), "best_s": min(sums),
                         "median_cpu_s": statistics.median(cpu_sums),
                         "round_times_s": sums, "round_cpu_s": cpu_sums}
        base, ours = row["pydicom"], row["pydicom+rapidicom"]
        row["speedup"] = base["median_s"] / ours["median_s"]
        row["speedup_best"] = base["best_s"] / ours["best_s"]
        row["speedup_cpu"] = base["median_cpu_s"] / ours["median_cpu_s"]
        out[family] = row
    return out


def print_table(summary: dict) -> None:
    print(f"  {'family':<14} {'files':>5} {'MB':>6} {'pydicom ms':>11} {'+rapidicom ms':>14} "
          f"{'MB/s':>6} {'+rapidicom MB/s':>16} {'speed-up':>9} {'best':>6} {'CPU':>6}")
    for family, row in summary.items():
        base, ours = row["pydicom"]["median_s"], row["pydicom+rapidicom"]["median_s"]
        mb = row["decoded_MB"]
        print(f"  {family:<14} {row['files']:>5} {mb:>6.1f} {base * 1e3:>11.1f} "
              f"{ours * 1e3:>14.1f} {mb / base:>6.1f} {mb / ours:>16.1f} "
              f"{row['speedup']:>8.2f}x {row['speedup_best']:>5.2f}x {row['speedup_cpu']:>5.2f}x")


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for name in ("rapidicom", "pydicom", "python-gdcm", "pylibjpeg", "pylibjpeg-libjpeg",
                 "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls", "pillow", "numpy"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "missing"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}; load average {os.getloadavg()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"rapidicom source {source_revision()}")
    files = build_file_set(corpus.files())
    for path, why in files.left_out.items():
        print(f"  left out {corpus.file_id(path)}: {why}")
    print(f"{len(files.files)} compressed files checked (plugin == pydicom's own), "
          f"{files.bytes_of('all') / 1e6:.1f} MB decoded; {args.rounds} interleaved rounds "
          "(+1 warm-up), medians, warm page cache")
    summary = summarise(files, *time_rounds(files, args.rounds), args.rounds)
    print_table(summary)
    total = summary["all"]["speedup"]
    print(f"load average after: {os.getloadavg()}")
    print(f"target: pydicom + rapidicom >= {SPEEDUP_TARGET}x pydicom over the compressed "
          f"files: {total:.2f}x {'met' if total >= SPEEDUP_TARGET else 'NOT MET'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "versions": versions(), "summary": summary,
                       "left_out": {corpus.file_id(p): w for p, w in files.left_out.items()}},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
