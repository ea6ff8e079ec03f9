"""One library's side of ``rapidicom bench``, run in a worker process.

``run_job`` is called by ``rapidicom.benchmark.isolate`` once per (stage,
file) with ``context = {"library": name, "repeat": n}`` and ``job =
{"stage", "kind", "path", "expected"}``.  It calls the library's workload
once untimed (the warm-up, whose result is checked) and then `repeat`
times with a timer, and answers with the times and a check:

- rapidicom: the digests of its views (``expected`` of every other job
  for the file), and its output size;
- any other library: ``"ok"`` when its result equals rapidicom's --
  digests first, then, when they differ, the arrays (within the lossy
  tolerance) or the values themselves, to say what differs --, ``"wrong"``
  with the first difference, ``"unverified"`` when rapidicom has no result
  for the file, ``"error"`` when the library raised.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import functools
import os
import time
import warnings

import numpy as np

import rapidicom
from rapidicom.benchmark import adapters
from rapidicom.benchmark.adapters import with_rapidicom
from rapidicom.benchmark.adapters.common import VIEW_ITEMS
from rapidicom.benchmark.arrays import array_digest, compare_arrays, tolerance_for
from rapidicom.benchmark.values import digest, same

__all__ = ["run_job"]

OURS = "rapidicom"
_MESSAGE_CHARS = 300


@functools.lru_cache(maxsize=None)
def _workload(library: str, kind: str):
    return adapters.library(library).workload(kind)


def run_job(context: dict, job: dict) -> dict:
    """Time and check one library on one file (see the module docstring)."""
    library, kind, path = context["library"], job["kind"], job["path"]
    timed, views = _workload(library, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = timed(path)
            times = _time(timed, path, context["repeat"])
        except Exception as exc:
            return {"status": "error", "message": _message(exc),
                    "restart": adapters.library(library).fragile}
        if library == OURS:
            return {"status": "ok", "times": times, **_describe_ours(kind, path, result, views)}
        return {"times": times, **_check(kind, path, result, views, job.get("expected"))}


def _time(fn, path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t0)
    return times


def _message(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_CHARS]


# ---------------------------------------------------------------------------
# rapidicom: the answers
# ---------------------------------------------------------------------------

def _describe_ours(kind, path, result, views) -> dict:
    if kind == "pixels":
        refs = with_rapidicom.pixel_references(path, result)
        return {"digests": {name: array_digest(a) for name, a in refs.items()},
                "bytes": int(np.asarray(result).nbytes)}
    return {"digests": {name: digest(v) for name, v in views(path, result).items()},
            "bytes": os.path.getsize(path)}


# ---------------------------------------------------------------------------
# every other library: checked against rapidicom
# ---------------------------------------------------------------------------

def _check(kind, path, result, views, expected) -> dict:
    if not expected:
        return {"status": "unverified", "message": "rapidicom has no result to compare with"}
    if kind == "pixels":
        return _check_pixels(path, result, expected)
    theirs = views(path, result)
    common = [name for name in theirs if name in expected]
    if not common:
        return {"status": "unverified", "message": "nothing comparable with rapidicom's result"}
    if all(digest(theirs[name]) == expected[name] for name in common):
        return {"status": "ok", "checked": common}
    return {"status": "wrong", "checked": common,
            "message": _explain_values(kind, path, theirs, common)}


def _check_pixels(path, result, expected) -> dict:
    keeps_ybr = "keeps YBR (no colour conversion)"
    mine = array_digest(result)
    if mine == expected.get(with_rapidicom.PIXEL_ARRAY):
        return {"status": "ok", "max_diff": 0}
    if mine == expected.get(with_rapidicom.YBR_AS_STORED):
        return {"status": "ok", "max_diff": 0, "note": keeps_ybr}
    tolerance = tolerance_for(rapidicom.open(path).pixels)
    first = None
    for name, ref in with_rapidicom.pixel_references(path).items():
        c = compare_arrays(result, ref, tolerance)
        if c.ok:
            return {"status": "ok", "max_diff": c.max_diff, "mean_diff": c.mean_diff,
                    "note": keeps_ybr if name == with_rapidicom.YBR_AS_STORED else None}
        first = first or c
    return {"status": "wrong", "max_diff": first.max_diff, "mean_diff": first.mean_diff,
            "message": f"differs from rapidicom's pixel_array: {first.why}"[:_MESSAGE_CHARS]}


def _explain_values(kind, path, theirs: dict, common: list[str]) -> str:
    """The first difference from rapidicom's views, in words."""
    ours_fn = with_rapidicom.open12 if kind == "open12" else with_rapidicom.all_values
    ours_views = (with_rapidicom.open12_views if kind == "open12"
                  else with_rapidicom.all_values_views)(path, ours_fn(path))
    for name in common:
        a, b = theirs[name], ours_views[name]
        if same(a, b):
            continue
        return f"{name}: {_first_difference(a, b, VIEW_ITEMS.get(name))}"[:_MESSAGE_CHARS]
    return "digests differ (values compare equal)"


def _first_difference(theirs, ours, labels=None) -> str:
    if isinstance(theirs, dict) and isinstance(ours, dict):
        missing, extra = sorted(ours.keys() - theirs.keys()), sorted(theirs.keys() - ours.keys())
        if missing or extra:
            return (f"elements differ: {len(missing)} missing (e.g. {missing[:3]}), "
                    f"{len(extra)} extra (e.g. {extra[:3]})")
        key = next(k for k in sorted(ours) if not same(theirs[k], ours[k]))
        return f"{key}: {theirs[key]!r:.80} != rapidicom {ours[key]!r:.80}"
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        i = next(i for i, (a, b) in enumerate(zip(theirs, ours)) if not same(a, b))
        label = labels[i] if labels else f"item {i}"
        return f"{label} {theirs[i]!r:.80} != rapidicom {ours[i]!r:.80}"
    return f"{theirs!r:.80} != rapidicom {ours!r:.80}"
