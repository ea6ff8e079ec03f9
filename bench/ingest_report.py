"""Speed of ``rapidicom ingest`` against the same job done with pydicom.

    .venv/bin/python bench/ingest_report.py [--files N] [--workers W] [--rounds R]
                                            [--cold] [--json PATH]

The tree: the benchmark file set (bench/corpus.py, every file that all
libraries read) replicated as hard links (copies where the file system has
none) into a temporary folder until it holds about N files (default 6000),
spread over subfolders of 500 files like a real archive.

The two jobs, each with W worker processes (default 2) and a Parquet file
at the end:

  rapidicom  ``rapidicom.ingest.write(tree, out, workers=W, force=True)``:
             walk, header scan, columns, row groups.
  pydicom    what one writes without rapidicom: ``os.walk``, then a
             ``ProcessPoolExecutor`` (same start method) mapping batches of
             256 paths to a function that runs
             ``pydicom.dcmread(path, stop_before_pixels=True)`` on each file
             and extracts the same columns, converted the same way
             (``pyarrow.Table.from_pylist`` with the same schema); the parent
             writes the batches with one ``ParquetWriter``.

Both outputs are read back and compared column by column (rows sorted by
path) before any timing counts.  Rounds alternate between the two jobs, so a
burst of load from elsewhere hits both alike; everything runs on a warm page
cache (the check reads every file first).  Reported: files/s per job (median
round) and the ratio.

Each round starts a new pool of W processes, from the start-method server
that the first round started (as a long-running program would); that
server has imported what either job needs (``PRELOAD``), so no worker pays
for imports.  With ``--cold`` each job also runs as a fresh process, as
from a shell: ``python -m rapidicom ingest TREE -o OUT --workers W --force``
against this script's pydicom job (``--pydicom-job TREE OUT``); that adds
the interpreter and import time of both, a fixed cost that weighs more on
small trees.
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
import multiprocessing  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

from collections.abc import MutableSequence  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from rapidicom import ingest  # noqa: E402

# pydicom is imported by the functions that use it: worker processes run this
# module again when they start (forkserver and spawn do), and the rapidicom
# job's workers should not pay for importing pydicom.

FILES_PER_FOLDER = 500
BATCH_SIZE = 256
PRELOAD = ["rapidicom.ingest", "pydicom", "pyarrow", "pandas"]

# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------


def build_tree(root: str, files: list[str], count: int) -> list[str]:
    """Hard-link (or copy) `files` round-robin into `root` until it holds
    `count` files; returns the paths made."""
    made = []
    for i in range(count):
        source = files[i % len(files)]
        folder = os.path.join(root, f"series{i // FILES_PER_FOLDER:04d}")
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, f"{i:07d}_{os.path.basename(source)}")
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        made.append(target)
    return made


# ---------------------------------------------------------------------------
# The pydicom job
# ---------------------------------------------------------------------------

def _text(value):
    if isinstance(value, MutableSequence):
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(value):
    if isinstance(value, MutableSequence):
        if len(value) != 1:
            raise ValueError(f"{len(value)} values where one was expected")
        value = value[0]
    return None if value == "" else int(value)


def _float(value):
    return None if value == "" else float(value)


def _floats(value):
    if isinstance(value, MutableSequence):
        return [None if v == "" or v is None else float(v) for v in value]
    return None if value == "" else [float(value)]


CONVERT = {ingest.TEXT: _text, ingest.INT: _int, ingest.FLOAT: _float,
           ingest.FLOAT_LIST: _floats}


def preload_imports() -> None:
    """Have the forkserver import what both jobs' workers need (takes effect
    only if it has not started yet)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.set_forkserver_preload(PRELOAD)


def pydicom_row(path: str) -> dict:
    """One index row read with pydicom (same columns, same conversions)."""
    import pydicom

    st = os.stat(path)
    row = {"path": path, "size": st.st_size, "mtime": st.st_mtime_ns, "error": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["transfer_syntax"] = ds.file_meta.get("TransferSyntaxUID") or None
    errors = []
    for keyword, kind in ingest.ATTRIBUTES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = ds.get(keyword)
            row[keyword] = None if value is None else CONVERT[kind](value)
        except Exception as exc:
            errors.append(f"{keyword}: {type(exc).__name__}: {exc}")
    row["error"] = "; ".join(errors) or None
    return row


def pydicom_batch(paths: list[str]) -> pa.Table:
    return pa.Table.from_pylist([pydicom_row(p) for p in paths], schema=ingest.schema())


def pydicom_ingest(root: str, out: str, workers: int) -> int:
    """The whole job with pydicom; returns the number of rows."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        paths += [os.path.join(dirpath, name) for name in sorted(filenames)]
    batches = [paths[i:i + BATCH_SIZE] for i in range(0, len(paths), BATCH_SIZE)]
    context = ingest._process_context()
    with ProcessPoolExecutor(workers, mp_context=context) as pool, \
            pq.ParquetWriter(out, ingest.schema()) as writer:
        for table in pool.map(pydicom_batch, batches):
            writer.write_table(table)
    return len(paths)


def rapidicom_ingest(root: str, out: str, workers: int) -> int:
    return ingest.write(root, out, workers=workers, force=True,
                        batch_size=BATCH_SIZE).indexed


JOBS = {"rapidicom": rapidicom_ingest, "pydicom": pydicom_ingest}


def cold_commands(root: str, out_dir: str, workers: int) -> dict[str, list[str]]:
    """The two jobs as fresh processes."""
    return {
        "rapidicom": [sys.executable, "-m", "rapidicom", "ingest", root, "-o",
                      os.path.join(out_dir, "rapidicom-cold.parquet"), "--workers",
                      str(workers), "--force", "--quiet"],
        "pydicom": [sys.executable, os.path.abspath(__file__), "--workers", str(workers),
                    "--pydicom-job", root, os.path.join(out_dir, "pydicom-cold.parquet")],
    }


# ---------------------------------------------------------------------------
# Check and timing
# ---------------------------------------------------------------------------

def differences(ours: str, theirs: str) -> list[str]:
    """Column-by-column differences of two index files, rows matched by path."""
    a = pq.ParquetFile(ours).read().sort_by("path")
    b = pq.ParquetFile(theirs).read().sort_by("path")
    if a.num_rows != b.num_rows:
        return [f"{a.num_rows} rows != {b.num_rows} rows"]
    problems = []
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        for path, x, y in zip(a.column("path").to_pylist(), left, right):
            if x != y:
                problems.append(f"{path} {name}: {x!r:.80} != pydicom {y!r:.80}")
    return problems


def time_jobs(root: str, out_dir: str, workers: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per round for each job, jobs alternating; one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in JOBS}
    for r in range(rounds + 1):
        for name, job in JOBS.items():
            out = os.path.join(out_dir, f"{name}.parquet")
            t0 = time.perf_counter()
            job(root, out, workers)
            if r:
                times[name].append(time.perf_counter() - t0)
    return times


def time_cold(root: str, out_dir: str, workers: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per round for each job run as a fresh process, alternating."""
    commands = cold_commands(root, out_dir, workers)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            t0 = time.perf_counter()
            subprocess.run(command, check=True)
            times[name].append(time.perf_counter() - t0)
    problems = differences(os.path.join(out_dir, "rapidicom-cold.parquet"),
                           os.path.join(out_dir, "pydicom-cold.parquet"))
    if problems:
        raise AssertionError(f"{len(problems)} values differ:\n  " + "\n  ".join(problems[:20]))
    return times


def summarise(times: dict[str, list[float]], files: int) -> dict:
    jobs = {name: {"median_s": statistics.median(ts), "best_s": min(ts), "round_times_s": ts,
                   "files_per_s": files / statistics.median(ts)} for name, ts in times.items()}
    return {"jobs": jobs,
            "ratio": jobs["rapidicom"]["files_per_s"] / jobs["pydicom"]["files_per_s"]}


def check_agree(root: str, out_dir: str, workers: int) -> None:
    """Run both jobs once and compare their outputs; raise if they differ."""
    ours = os.path.join(out_dir, "rapidicom.parquet")
    theirs = os.path.join(out_dir, "pydicom.parquet")
    rapidicom_ingest(root, ours, workers)
    pydicom_ingest(root, theirs, workers)
    problems = differences(ours, theirs)
    if problems:
        raise AssertionError(f"{len(problems)} values differ:\n  " + "\n  ".join(problems[:20]))


def run(count: int, workers: int, rounds: int, cold: bool = False) -> dict:
    """Build the tree, check both jobs agree, time them; the results as a dict."""
    from bench import corpus

    files = [str(p) for p in corpus.files()]
    with tempfile.TemporaryDirectory(prefix="rapidicom-ingest-bench-") as tmp:
        root = os.path.join(tmp, "tree")
        paths = build_tree(root, files, count)
        check_agree(root, tmp, workers)
        load0 = os.getloadavg()
        result = {"files": len(paths), "source_files": len(files), "workers": workers,
                  "rounds": rounds, "page_cache": "warm",
                  "warm_start": summarise(time_jobs(root, tmp, workers, rounds), len(paths))}
        if cold:
            result["fresh_process"] = summarise(time_cold(root, tmp, workers, rounds),
                                                len(paths))
        result["loadavg_before"], result["loadavg_after"] = load0, os.getloadavg()
    return result


def main(argv=None) -> int:
    from bench.harness import machine, source_revision, versions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=6000, help="files in the tree (6000)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes per job (2)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per job (5)")
    ap.add_argument("--cold", action="store_true",
                    help="also time both jobs as fresh processes")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--pydicom-job", nargs=2, metavar=("TREE", "OUT"),
                    help="only run the pydicom job on TREE, writing OUT (used by --cold)")
    args = ap.parse_args(argv)
    if args.pydicom_job:
        pydicom_ingest(*args.pydicom_job, args.workers)
        return 0

    preload_imports()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())
          + f", pyarrow {pa.__version__}; rapidicom source {source_revision()}")
    result = run(args.files, args.workers, args.rounds, args.cold)
    print(f"\n== ingest ==  {result['files']} files ({result['source_files']} distinct, hard "
          f"links), {args.workers} workers each, warm page cache, {args.rounds} alternating "
          f"rounds; outputs checked equal")
    sections = [("warm_start", "in one program (pool per round, +1 warm-up round)"),
                ("fresh_process", "each job a fresh process (interpreter and imports included)")]
    for key, title in sections:
        if key not in result:
            continue
        print(f"\n{title}")
        print(f"{'job':<10} {'median s':>9} {'best s':>8} {'files/s':>9}")
        for name, job in result[key]["jobs"].items():
            print(f"{name:<10} {job['median_s']:>9.2f} {job['best_s']:>8.2f} "
                  f"{job['files_per_s']:>9,.0f}")
        print(f"rapidicom / pydicom: {result[key]['ratio']:.1f}x files/s")
    l0, l1 = result["loadavg_before"], result["loadavg_after"]
    print(f"load average (1 min): before {l0[0]:.2f}, after {l1[0]:.2f} on {os.cpu_count()} cores")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
