"""``rapidicom bench`` run as a user runs it, on a few corpus files.

One run (``--quick``: one timed call per file) over four files of the
pydicom wheel, chosen because the reference libraries really fail on some
of them:

- ``rtdose_1frame.dcm``: GDCM aborts the process decoding its pixels
  (SIGABRT) and dicomsdl returns uint16 where the data is 32-bit;
- ``SC_rgb_small_odd_big_endian.dcm``: dicomsdl returns wrong values
  (8-bit big endian RGB);
- ``CT_small.dcm`` and ``MR_small_RLE.dcm``: every library gets them right.

The run must finish, rapidicom must be verified on every file, the crash
must cost GDCM that one file only (its worker restarts and goes on), and
dicomsdl's wrong answers must be counted as wrong and left out of its
timings.  Nothing here asserts a time.
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from corpus import PYDICOM_DATA

from rapidicom.benchmark.arrays import compare_arrays
from rapidicom.benchmark.values import digest, normalise, same

TEST_FILES = PYDICOM_DATA / "test_files"
CRASHES_GDCM = "test_files/rtdose_1frame.dcm"
WRONG_IN_DICOMSDL = {"test_files/rtdose_1frame.dcm", "test_files/SC_rgb_small_odd_big_endian.dcm"}
FILES = [TEST_FILES / name for name in (
    "rtdose_1frame.dcm", "CT_small.dcm", "SC_rgb_small_odd_big_endian.dcm", "MR_small_RLE.dcm")]
STAGES = ("open", "values", "native", "rle")
# --quick keeps at most 3 files per stage (smallest, middle and largest).
STAGE_FILES = {"open": 3, "values": 3, "native": 3, "rle": 1}
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _bench(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rapidicom", "bench", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = [*FILES, "--quick", "--stages", ",".join(STAGES), "--json", out / "bench.json"]
    if HAS_MATPLOTLIB:
        args += ["--png", out / "bench.png"]
    proc = _bench(*args)
    assert proc.returncode == 0, proc.stderr
    with open(out / "bench.json", encoding="utf-8") as f:
        summary = json.load(f)
    return proc, summary, out


def _row(stdout: str, stage_title: str, library: str) -> str:
    """The table line of `library` in the block of `stage_title`."""
    block = stdout.split(f"== {stage_title} ", 1)[1].split("\n\n", 1)[0]
    return next(line for line in block.splitlines() if line.split()[0] == library)


def test_table_has_every_stage_with_medians_rates_and_ratios(run):
    proc, summary, _ = run
    for name in STAGES:
        title = summary["stages"][name]["title"]
        assert f"== {title} ({name}): {STAGE_FILES[name]} files" in proc.stdout
        row = _row(proc.stdout, title, "rapidicom")
        assert row.split()[1] == f"{STAGE_FILES[name]}/{STAGE_FILES[name]}"
    assert "median/file" in proc.stdout and "MB/s" in proc.stdout and "ratio" in proc.stdout
    pydicom_row = _row(proc.stdout, "native pixels", "pydicom")
    ratio = float(pydicom_row.split()[5])
    assert ratio == pytest.approx(summary["stages"]["native"]["libraries"]["pydicom"]["ratio"],
                                  rel=0.01)


def test_rapidicom_is_verified_on_every_file(run):
    _, summary, _ = run
    for name in STAGES:
        ours = summary["stages"][name]["libraries"]["rapidicom"]
        assert ours["files"] == STAGE_FILES[name]
        assert ours["verified"] == ours["files"], ours
        assert (ours["wrong"], ours["errors"], ours["crashes"], ours["disputed"]) == (0, 0, 0, 0)
        assert ours["ratio"] == 1.0 and ours["MB_per_s"] > 0
        for entry in ours["per_file"].values():
            assert entry["status"] == "verified"
            assert len(entry["times_s"]) == 1 and entry["median_s"] > 0   # --quick: 1 call


def test_every_reference_is_accounted_for(run):
    _, summary, _ = run
    assert set(summary["stages"]["rle"]["libraries"]) >= {"rapidicom", "pydicom+numpy"}
    for name in STAGES:
        for lib, entry in summary["stages"][name]["libraries"].items():
            counts = (entry["verified"] + entry["wrong"] + entry["errors"] + entry["crashes"]
                      + entry["unverified"])
            assert counts == entry["files"], (name, lib, entry)
            assert entry["crashed"] == bool(entry["crashes"])
            assert len(entry["error_files"]) == entry["errors"]
            if lib != "rapidicom" and entry["verified"]:
                assert entry["ratio"] > 0 and entry["ratio_files"] == entry["verified"]
    # pydicom is the reference of the references: right on every file here.
    for name in ("open", "values", "native"):
        pydicom = summary["stages"][name]["libraries"]["pydicom"]
        assert pydicom["verified"] == STAGE_FILES[name], pydicom


def test_a_crashing_reference_costs_one_file(run):
    pytest.importorskip("gdcm")
    proc, summary, _ = run
    gdcm = summary["stages"]["native"]["libraries"]["gdcm"]
    assert gdcm["crashed"] is True
    assert list(gdcm["crash_files"]) == [CRASHES_GDCM]
    assert "SIGABRT" in gdcm["crash_files"][CRASHES_GDCM]
    # The files after the crashed one ran in a fresh worker and were checked.
    assert gdcm["verified"] == 2 and gdcm["timed_files"] == 2
    assert summary["stages"]["rle"]["libraries"]["gdcm"]["verified"] == 1
    assert "crashed (1 file)" in _row(proc.stdout, "native pixels", "gdcm")
    assert f"native / gdcm: crashed: {CRASHES_GDCM}" in proc.stdout


def test_a_wrong_answer_is_reported_and_not_timed(run):
    pytest.importorskip("dicomsdl")
    proc, summary, _ = run
    sdl = summary["stages"]["native"]["libraries"]["dicomsdl"]
    assert sdl["wrong"] == 2 and set(sdl["wrong_files"]) == WRONG_IN_DICOMSDL
    assert all("differs from rapidicom" in m for m in sdl["wrong_files"].values())
    assert "uint16 != uint32" in sdl["wrong_files"]["test_files/rtdose_1frame.dcm"]
    assert sdl["verified"] == 1 and sdl["timed_files"] == 1 and sdl["ratio_files"] == 1
    assert {f: e["status"] for f, e in sdl["per_file"].items()
            if e["status"] != "ok"} == dict.fromkeys(WRONG_IN_DICOMSDL, "wrong")
    # Only the verified file counts in its MB/s.
    assert sdl["bytes"] == sdl["per_file"]["test_files/CT_small.dcm"]["bytes"]
    assert "wrong (2 files)" in _row(proc.stdout, "native pixels", "dicomsdl")


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="--png needs matplotlib")
def test_png_chart_is_written(run):
    _, _, out = run
    data = (out / "bench.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_bad_arguments_are_reported(tmp_path):
    proc = _bench(FILES[1], "--stages", "open,nosuch")
    assert proc.returncode == 1 and "unknown stage 'nosuch'" in proc.stderr
    proc = _bench(tmp_path / "missing")
    assert proc.returncode == 1 and "no such file or folder" in proc.stderr
    (tmp_path / "notes.bin").write_bytes(b"not a DICOM file at all" * 10)
    proc = _bench(tmp_path, "--stages", "open")
    assert proc.returncode == 1 and "no file falls in the selected stages" in proc.stderr


# ---------------------------------------------------------------------------
# the comparisons the verification rests on
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    (1, 1.0), ("1", 1), (b"a", "a"), ([1, 2], [2, 1]), (None, ""), (0.1, 0.1000001),
    ({"00100010": "A"}, {"00100010": "B"}), ([[1]], [1]),
])
def test_digest_tells_apart_what_same_tells_apart(a, b):
    assert not same(a, b) and digest(a) != digest(b)


@pytest.mark.parametrize("a, b", [
    (math.nan, math.nan), (-0.0, 0.0), ([1, "x", None, 2.5], [1, "x", None, 2.5]),
    ({"b": [1.0], "a": b"\x00"}, {"a": b"\x00", "b": [1.0]}),
])
def test_digest_agrees_where_same_agrees(a, b):
    assert same(a, b) and digest(a) == digest(b)


def test_normalise_turns_pydicom_types_into_plain_ones():
    import pydicom

    import rapidicom

    theirs = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    ours = rapidicom.open(TEST_FILES / "CT_small.dcm")
    for keyword, kind in (("PatientName", str), ("ImagePositionPatient", list),
                          ("SliceThickness", float), ("Rows", int), ("SOPInstanceUID", str)):
        value = normalise(getattr(theirs, keyword))
        assert type(value) is kind
        assert same(value, normalise(ours[keyword]))


def test_compare_arrays_on_a_decoded_image():
    import numpy as np

    import rapidicom

    ours = rapidicom.open(TEST_FILES / "SC_rgb_jpeg_dcmd.dcm").pixel_array
    assert ours.dtype == np.uint8
    one_off = ours.copy()
    one_off.flat[7] ^= 1
    exact = compare_arrays(one_off, ours)
    assert not exact.ok and exact.why.startswith("1 of ") and exact.max_diff == 1
    within = compare_arrays(one_off, ours, tolerance=16)
    assert within.ok and within.max_diff == 1
    shifted = ((ours.astype(np.int16) + 128) % 256).astype(np.uint8)   # wrong sign, say
    assert not compare_arrays(shifted, ours, tolerance=16).ok
    assert compare_arrays(ours[:-1], ours).why.startswith("shape")
    assert compare_arrays(ours.astype(np.uint16), ours).why.startswith("dtype")
    assert compare_arrays(ours.astype(np.int8), ours.astype(np.int8)).ok
