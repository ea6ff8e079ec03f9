"""Mutation fuzzing: damaged real files may only raise rapidicom.DicomError.

Each case takes one of ~20 varied corpus files (tests/fuzz_mutate.py,
FUZZ_FILES), applies one to four mutations (byte flips, 4-byte overwrites
with 0xFFFFFFFF / 0x7FFFFFFF / 0, truncation, duplicated or deleted spans,
a changed length field), opens the result strictly and leniently, and reads
every value: nested items, lazily parsed private and UN sequences, and the
JSON form.  Any exception other than a DicomError subclass fails.

Two runners:
- hypothesis, in process, derandomized so CI is reproducible; a failure
  shrinks to a short list of mutations that ``fuzz_mutate.apply`` replays;
- a fixed-seed batch of a few thousand cases in a subprocess, because a C
  crash would kill pytest itself.  A crash shows up as a negative exit code
  (the signal); the offending case is rebuilt and saved, and the message
  gives its path and the command that replays it.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_mutate as fm
import rapidicom

HERE = Path(__file__).parent
BATCH_SEED = 20240601
BATCH_COUNT = 4000

# ---------------------------------------------------------------------------
# hypothesis
# ---------------------------------------------------------------------------

position = st.integers(0, 1 << 20)          # taken modulo the buffer length
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("set4"), position, st.sampled_from(fm.SET4_VALUES),
              st.sampled_from("<>")),
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("dup"), position, st.integers(1, 512), position),
    st.tuples(st.just("delete"), position, st.integers(1, 512)),
    st.tuples(st.just("length"), st.integers(0, 1 << 16),
              st.one_of(st.sampled_from((1, 2, 0x100, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)),
                        st.integers(0, (1 << 32) - 1))),
)


@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st.sampled_from(fm.FUZZ_FILES), ops=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_files_raise_only_dicom_errors(name, ops):
    fm.exercise(fm.apply(name, ops))


# ---------------------------------------------------------------------------
# The harness itself
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", fm.FUZZ_FILES)
def test_seed_files_open_and_read(name):
    """Unmutated seeds read cleanly, so mutations start from valid data."""
    ds = rapidicom.open(fm.seeds()[name])
    assert fm.read_everything(ds) > 0
    assert fm.length_fields(name)


def test_mutations_do_what_they_say():
    name = "test_files/rtplan.dcm"
    orig = fm.seeds()[name]
    n = len(orig)
    assert fm.apply(name, []) == orig
    assert fm.apply(name, [("truncate", 100)]) == orig[:100]
    assert fm.apply(name, [("delete", 10, 4)]) == orig[:10] + orig[14:]
    assert fm.apply(name, [("dup", 10, 4, 0)]) == orig[10:14] + orig
    assert fm.apply(name, [("set4", n + 5, 0x7FFFFFFF, ">")])[5:9] == b"\x7f\xff\xff\xff"
    flipped = fm.apply(name, [("flip", 7, 0x80)])
    assert flipped[7] == orig[7] ^ 0x80 and flipped[:7] + flipped[8:] == orig[:7] + orig[8:]
    pos, width, order = fm.length_fields(name)[0]
    changed = fm.apply(name, [("length", 0, 1)])
    assert int.from_bytes(changed[pos:pos + width], "little" if order == "<" else "big") == \
        int.from_bytes(orig[pos:pos + width], "little" if order == "<" else "big") + 1


def test_exercise_lets_other_exceptions_through(monkeypatch):
    """The property fails on a non-DicomError (so it can fail at all)."""
    def broken_open(buf, **kw):
        raise IndexError("simulated bug")
    monkeypatch.setattr(rapidicom, "open", broken_open)
    with pytest.raises(IndexError):
        fm.exercise(b"")
    monkeypatch.setattr(rapidicom, "open",
                        lambda buf, **kw: (_ for _ in ()).throw(rapidicom.TruncatedError("x")))
    fm.exercise(b"")


# ---------------------------------------------------------------------------
# Subprocess batch
# ---------------------------------------------------------------------------

def run_batch(tmp_path: Path, seed: int, count: int, *extra: str) -> str | None:
    """Run a batch in a child interpreter; None when it passes, else a report
    naming the signal or exception, the case, and the saved input."""
    progress = tmp_path / "progress.json"
    cmd = [sys.executable, str(HERE / "fuzz_mutate.py"), "--seed", str(seed),
           "--count", str(count), "--progress", str(progress), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode == 0:
        return None
    if proc.returncode < 0:
        how = f"killed by {signal.Signals(-proc.returncode).name}"
    else:
        how = f"exit status {proc.returncode}"
    desc = json.loads(progress.read_text()) if progress.exists() else {}
    saved = "(no case recorded)"
    if "file" in desc:
        crash = tmp_path / f"fuzz_seed{seed}_case{desc['case']}.dcm"
        crash.write_bytes(fm.apply(desc["file"], [tuple(op) for op in desc["ops"]]))
        saved = str(crash)
    return (f"fuzz batch {how}: seed={seed} case={desc.get('case')} "
            f"file={desc.get('file')} ops={desc.get('ops')}\n"
            f"input saved to {saved}\n"
            f"replay: {sys.executable} {HERE / 'fuzz_mutate.py'} --replay {progress}\n"
            f"stderr:\n{proc.stderr[-3000:]}")


def test_batch_in_subprocess(tmp_path):
    failure = run_batch(tmp_path, BATCH_SEED, BATCH_COUNT)
    assert failure is None, failure


def test_batch_reports_a_crash(tmp_path):
    """A segfault in the child is caught, named, and its input saved."""
    failure = run_batch(tmp_path, BATCH_SEED, 5, "--crash-at", "3")
    assert failure is not None
    assert "killed by SIGSEGV" in failure
    assert "case=3" in failure
    name, ops = fm.case(BATCH_SEED, 3)
    saved = tmp_path / "fuzz_seed20240601_case3.dcm"
    assert f"input saved to {saved}" in failure
    assert saved.read_bytes() == fm.apply(name, ops)
