"""Run jobs in a child process that may crash, and carry on after a crash.

Some reference libraries abort or segfault on some files (GDCM aborts on a
few RT Dose files, dicomsdl segfaults on a truncated one).  ``run_isolated``
hands a list of jobs to a child interpreter that calls one function per
job.  The child announces each job before it starts it, so when it dies the
parent knows which job killed it: that job is recorded as crashed (with the
signal and the last lines the child wrote to stderr) and the jobs after it
go to a fresh child.

Protocol (one JSON document per line): the parent writes a header
``{"function": "module:name", "context": ..., "sys_path": [...]}`` and then
one line per job; the child answers ``{"start": i}`` and then
``{"done": i, "result": ...}`` (or ``"exception"``) for its i-th job.  A
result that is a dict with a true ``"restart"`` entry makes the child exit
after sending it, so the next job starts in a fresh process (for libraries
whose heap may be left corrupt by an error); so does an exception.  The
child's file descriptor 1 is sent to stderr, so a C library that prints
cannot garble the protocol.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Outcome", "run_isolated"]

_STDERR_TAIL = 4000     # bytes of the child's stderr kept for crash reports


@dataclass
class Outcome:
    """What became of one job.

    ``kind``: ``"done"`` (``value`` is the function's result),
    ``"exception"`` (the function raised; ``value`` is its message),
    ``"crashed"`` (the child died during the job; ``value`` says how) or
    ``"timeout"`` (the job ran past the time limit and the child was killed).
    ``stderr``: the last lines the child wrote to stderr, for crashes.
    """
    kind: str
    value: Any = None
    stderr: str = ""


def run_isolated(function: str, jobs: list, *, context: Any = None,
                 timeout: float | None = None, sys_path=(),
                 on_start: Callable[[int], None] | None = None,
                 on_outcome: Callable[[int, Outcome], None] | None = None,
                 env: dict | None = None, cwd: str | None = None) -> list[Outcome]:
    """Call ``function(context, job)`` for every job in a child process.

    Parameters
    ----------
    function : str
        ``"package.module:name"``, importable in the child (`sys_path`
        entries are put in front of its ``sys.path``).
    jobs : list
        JSON-serialisable jobs, run in order.
    context : JSON-serialisable, optional
        Passed to every call.
    timeout : float, optional
        Seconds one job may take; the child is killed after that.
    on_start, on_outcome : callable, optional
        Called with the job's index when it starts, and with the index and
        its `Outcome` when it ends (in the parent, in job order).

    Returns
    -------
    list of Outcome
        One per job, in order.

    Raises
    ------
    RuntimeError
        When a child dies before it starts any job (it cannot import the
        function, say): retrying would fail the same way.
    """
    outcomes: list[Outcome | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    header = {"function": function, "context": context, "sys_path": list(sys_path)}
    while todo:
        finished = _one_child(header, jobs, todo, outcomes, timeout, on_start,
                              on_outcome, env, cwd)
        todo = todo[finished:]
    return outcomes  # type: ignore[return-value]


def _one_child(header, jobs, todo, outcomes, timeout, on_start, on_outcome, env, cwd) -> int:
    """Run `todo` in one child until it ends; returns how many of them it settled."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapidicom.benchmark.isolate"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    lines = [json.dumps(header)] + [json.dumps(jobs[i]) for i in todo]
    threading.Thread(target=_feed, args=(proc.stdin, lines), daemon=True).start()
    stderr = _Tail(proc.stderr)
    messages = _Lines(proc.stdout)
    settled, current, started_at = 0, None, 0.0
    while True:
        wait = None
        if current is not None and timeout is not None:
            wait = max(0.0, timeout - (time.monotonic() - started_at))
        try:
            line = messages.get(wait)
        except queue.Empty:                     # the running job is over time
            proc.kill()
            proc.wait()
            stderr.join()
            _settle(outcomes, todo[current], Outcome(
                "timeout", f"still running after {timeout:g} s", stderr.text()), on_outcome)
            return current + 1
        if line is None:
            break
        message = json.loads(line)
        if "start" in message:
            current, started_at = message["start"], time.monotonic()
            if on_start:
                on_start(todo[current])
            continue
        index = message["done"]
        outcome = Outcome("exception", message["exception"]) if "exception" in message \
            else Outcome("done", message["result"])
        _settle(outcomes, todo[index], outcome, on_outcome)
        settled, current = index + 1, None
    rc = proc.wait()
    stderr.join()
    if current is not None:                     # died during a job
        _settle(outcomes, todo[current], Outcome("crashed", _how(rc), stderr.text()),
                on_outcome)
        return current + 1
    if settled == 0:
        raise RuntimeError(f"benchmark worker exited ({_how(rc)}) before its first job:\n"
                           f"{stderr.text()}")
    # Ran out of jobs, asked for a fresh process, or died between two jobs
    # (a corrupt heap found at exit): what it reported stands.
    return settled


def _settle(outcomes, index, outcome, on_outcome) -> None:
    outcomes[index] = outcome
    if on_outcome:
        on_outcome(index, outcome)


def _how(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _feed(stream, lines) -> None:
    try:
        for line in lines:
            stream.write(line.encode() + b"\n")
        stream.close()
    except (BrokenPipeError, OSError):          # the child is gone: nothing to tell it
        pass


class _Lines:
    """The child's protocol lines, read on a thread so they can be waited
    for with a timeout; None at the end."""

    def __init__(self, stream) -> None:
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self._queue.put(raw.decode())
        self._queue.put(None)

    def get(self, timeout: float | None):
        return self._queue.get(timeout=timeout)


class _Tail:
    """The last bytes the child wrote to stderr."""

    def __init__(self, stream) -> None:
        self._data = b""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            self._data = (self._data + chunk)[-_STDERR_TAIL:]

    def join(self) -> None:
        self._thread.join(timeout=5)

    def text(self) -> str:
        return self._data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# child side
# ---------------------------------------------------------------------------

def _child_main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                   # anything printed goes to stderr
    sys.stdout = sys.stderr
    header = json.loads(sys.stdin.readline())
    for entry in reversed(header["sys_path"]):
        sys.path.insert(0, entry)
    module, name = header["function"].split(":")
    function = getattr(importlib.import_module(module), name)
    context = header["context"]
    for index, line in enumerate(sys.stdin):
        protocol.write(json.dumps({"start": index}) + "\n")
        try:
            result = function(context, json.loads(line))
        except Exception as exc:
            protocol.write(json.dumps({"done": index,
                                       "exception": f"{type(exc).__name__}: {exc}"}) + "\n")
            return 0
        protocol.write(json.dumps({"done": index, "result": result}) + "\n")
        if isinstance(result, dict) and result.get("restart"):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
