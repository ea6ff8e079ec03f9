"""Run the libFuzzer targets one after the other and summarise each run.

Each target in BUILD (default build/fuzz), and last the atheris harness
fuzz_python.py (run by this interpreter), runs for SECONDS with its working
corpus (BUILD/corpus/<name>, kept between runs, so coverage accumulates),
its seeds (BUILD/seeds/<name>, from make_seeds.py) and tests/fuzz/dicom.dict,
under -rss_limit_mb and -timeout.  Crash, leak, timeout and out-of-memory
inputs are written to BUILD/crashes/<name>/.  At the end one table gives,
per target: seconds, executions, executions per second, coverage (cov:
instrumented edges reached, also after half the executions, so a plateau
shows; ft: libFuzzer's features) and the inputs found.

Usage (``make fuzz`` runs this)::

    python tests/fuzz/run_fuzzers.py [--seconds 60] [--build build/fuzz] [TARGET ...]
    python tests/fuzz/run_fuzzers.py --report      # the table of the last runs' logs

Exit status: 0 when no target found anything, 1 otherwise.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DICT = HERE / "dicom.dict"
TARGETS = ("scan", "frame_table", "rle", "ljpeg", "jpeg12", "jpeg", "jls", "j2k", "deflate",
           "native", "lut", "python")
# The atheris harness of the Python layer runs under the interpreter that has
# rapidicom installed; the others are programs in BUILD.
PYTHON_HARNESS = HERE / "fuzz_python.py"

STATUS_LINE = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)(?: corp: (\d+)/)?")
FINAL_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
FOUND = re.compile(r"Test unit written to (\S+)")
DONE = re.compile(r"^Done \d+ runs in (\d+) second")


@dataclass
class Result:
    target: str
    seconds: float
    execs: int = 0
    cov: int = 0
    ft: int = 0
    cov_half: int = 0       # coverage after half the executions: a plateau shows
    corpus: int = 0
    found: tuple[str, ...] = ()

    @property
    def exec_per_s(self) -> int:
        return round(self.execs / self.seconds) if self.seconds else 0


def fuzzer_args(name: str, build: Path, seconds: int, rss_mb: int, timeout: int) -> list[str]:
    corpus = build / "corpus" / name
    crashes = build / "crashes" / name
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = build / "seeds" / name
    program = [sys.executable, str(PYTHON_HARNESS)] if name == "python" \
        else [str(build / f"fuzz_{name}")]
    return [*program, str(corpus), *([str(seeds)] if seeds.is_dir() else []),
            f"-dict={DICT}", f"-max_total_time={seconds}", f"-rss_limit_mb={rss_mb}",
            f"-timeout={timeout}", f"-artifact_prefix={crashes}/", "-print_final_stats=1"]


def run_target(name: str, build: Path, seconds: int, rss_mb: int, timeout: int) -> Result:
    """One target for `seconds`; its log goes to BUILD/logs/<name>.log."""
    logs = build / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    start = time.monotonic()
    with open(log_path, "w") as log:
        subprocess.run(fuzzer_args(name, build, seconds, rss_mb, timeout), stdout=log,
                       stderr=subprocess.STDOUT, cwd=ROOT, timeout=seconds + 600)
    result = parse_log(name, log_path)
    result.seconds = time.monotonic() - start
    return result


def parse_log(name: str, log_path: Path) -> Result:
    """The numbers of one run from its libFuzzer log."""
    result = Result(name, 0.0)
    found, progress = [], []
    for line in log_path.read_text(errors="replace").splitlines():
        if m := STATUS_LINE.match(line):
            result.execs, result.cov, result.ft = int(m[1]), int(m[2]), int(m[3])
            result.corpus = int(m[4]) if m[4] else result.corpus
            progress.append((result.execs, result.cov))
        elif m := FINAL_STAT.match(line):
            if m[1] == "number_of_executed_units":
                result.execs = int(m[2])
        elif m := DONE.match(line):
            result.seconds = float(m[1])
        elif m := FOUND.search(line):
            found.append(m[1])
    result.found = tuple(found)
    result.cov_half = max((c for n, c in progress if n <= result.execs // 2), default=0)
    return result


def table(results: list[Result]) -> str:
    rows = ["| target | seconds | executions | exec/s | cov at half | cov | ft | corpus | found |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        found = ", ".join(Path(f).name for f in r.found) or "none"
        rows.append(f"| {r.target} | {r.seconds:.0f} | {r.execs} | {r.exec_per_s} "
                    f"| {r.cov_half} | {r.cov} | {r.ft} | {r.corpus} | {found} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "fuzz")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input")
    parser.add_argument("--report", action="store_true",
                        help="only print the table of the last runs' logs")
    args = parser.parse_args(argv)
    names = args.targets or [t for t in TARGETS
                             if t == "python" or (args.build / f"fuzz_{t}").exists()]
    if args.report:
        results = [parse_log(n, args.build / "logs" / f"{n}.log") for n in names
                   if (args.build / "logs" / f"{n}.log").exists()]
        print(table(results))
        return 1 if any(r.found for r in results) else 0
    results = []
    for name in names:
        print(f"fuzz_{name}: {args.seconds} s ...", flush=True)
        r = run_target(name, args.build, args.seconds, args.rss_limit_mb, args.timeout)
        print(f"  {r.execs} executions, cov {r.cov}, ft {r.ft}"
              + "".join(f"\n  FOUND: {f}" for f in r.found), flush=True)
        results.append(r)
    print(table(results))
    return 1 if any(r.found for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
