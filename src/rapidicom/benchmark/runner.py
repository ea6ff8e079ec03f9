"""Runs a benchmark plan: every library over its stages' files, each library
in worker processes of its own, rapidicom first.

rapidicom's run gives, per (stage, file), the digests every other library's
result is checked against; those go to the other libraries' workers with
their jobs.  A worker that crashes costs the file it was on (recorded as
crashed) and the run goes on in a fresh worker (``isolate.run_isolated``).
Libraries run one after another, never at the same time, so they do not
compete for the CPUs.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from rapidicom.benchmark.adapters import Library
from rapidicom.benchmark.isolate import Outcome, run_isolated
from rapidicom.benchmark.stages import Stage

__all__ = ["Plan", "run_plan", "THREAD_VARIABLES"]

OURS = "rapidicom"
WORKER = "rapidicom.benchmark.worker:run_job"

# Thread pools the references would otherwise size by themselves (openjpeg
# reads OPJ_NUM_THREADS; numpy's BLAS starts a spinning pool).  Pinned to 1
# unless the user set them: each reference then runs the way it does by
# default, on one thread.  rapidicom sizes its own pool (os.cpu_count()).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPJ_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Plan:
    """What to run: the stages, each stage's files and (installed, selected)
    libraries, and the libraries a stage would have had but are missing."""
    stages: list[Stage]
    files: dict[str, list[str]]
    libraries: dict[str, list[Library]]
    missing: dict[str, list[str]] = field(default_factory=dict)
    repeat: int = 5
    timeout: float | None = None

    def library_order(self) -> list[Library]:
        """Every library of the plan once, rapidicom first."""
        seen: dict[str, Library] = {}
        for stage in self.stages:
            for lib in self.libraries[stage.name]:
                seen.setdefault(lib.name, lib)
        return sorted(seen.values(), key=lambda lib: lib.name != OURS)

    def jobs_of(self, library: str) -> list[tuple[Stage, str]]:
        return [(stage, path) for stage in self.stages
                if any(lib.name == library for lib in self.libraries[stage.name])
                for path in self.files[stage.name]]

    @property
    def job_count(self) -> int:
        return sum(len(self.files[s.name]) * len(self.libraries[s.name]) for s in self.stages)


def worker_env() -> dict:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    return env


def run_plan(plan: Plan, progress=None) -> dict[str, dict[str, dict[str, dict]]]:
    """Run `plan`; returns ``{stage: {library: {path: result}}}``.

    A result is the worker's answer (``status``, ``times``, ...) or, for a
    file whose worker died, ``{"status": "crashed" | "timeout", "message":
    ...}``.  rapidicom's results get ``status`` ``"verified"`` (a reference
    agrees), ``"disputed"`` (references answered, none agrees) or
    ``"unverified"`` (no reference has a comparable answer) afterwards.
    `progress` (a ``Progress``) counts files and names the current one.
    """
    results: dict[str, dict[str, dict[str, dict]]] = {s.name: {} for s in plan.stages}
    expected: dict[tuple[str, str], dict] = {}      # rapidicom's digests per (stage, path)
    env = worker_env()
    for lib in plan.library_order():
        jobs = plan.jobs_of(lib.name)
        for (stage, path), result in zip(jobs, _run_library(plan, lib, jobs, expected,
                                                             env, progress)):
            results[stage.name].setdefault(lib.name, {})[path] = result
            if lib.name == OURS and result["status"] == "ok":
                expected[(stage.name, path)] = result["digests"]
    _confirm_ours(results)
    return results


def _run_library(plan, lib, jobs, expected, env, progress) -> list[dict]:
    """`lib`'s results for `jobs` ((stage, path) pairs), from its workers."""
    payload = [{"stage": stage.name, "kind": stage.kind, "path": path,
                "expected": expected.get((stage.name, path))} for stage, path in jobs]

    def started(i):
        stage, path = jobs[i]
        progress.note(f"{stage.name}: {lib.name} {os.path.basename(path)}")

    def finished(i, outcome):
        status = _result(outcome)["status"]
        progress.update(1, failed=status in ("wrong", "error", "crashed", "timeout"))

    outcomes = run_isolated(
        WORKER, payload, context={"library": lib.name, "repeat": plan.repeat},
        timeout=plan.timeout, env=env,
        on_start=started if progress is not None else None,
        on_outcome=finished if progress is not None else None)
    return [_result(outcome) for outcome in outcomes]


def _result(outcome: Outcome) -> dict:
    if outcome.kind == "done":
        return outcome.value
    if outcome.kind == "exception":
        return {"status": "error", "message": f"worker failed: {outcome.value}"}
    last = [line for line in outcome.stderr.splitlines() if line.strip()][-1:]
    message = outcome.value + (f" ({last[0].strip()[:200]})" if last else "")
    return {"status": outcome.kind, "message": message}


def _confirm_ours(results) -> None:
    """Turn rapidicom's "ok" into verified / disputed / unverified by what
    the references said about the same file."""
    for by_library in results.values():
        ours = by_library.get(OURS, {})
        for path, result in ours.items():
            if result["status"] != "ok":
                continue
            theirs = [r[path]["status"] for lib, r in by_library.items()
                      if lib != OURS and path in r]
            if "ok" in theirs:
                result["status"] = "verified"
            elif "wrong" in theirs:
                result["status"] = "disputed"
                result["message"] = "every reference that answered differs from rapidicom"
            else:
                result["status"] = "unverified"
