"""The main job on sample data: dump a corpus file, then open every file of the
pydicom / pydicom-data corpus and read the attributes an ingestion pipeline
indexes, then decode every frame, with rapidicom and with pydicom, checking
they agree and timing both.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom

import rapidicom

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import PYDICOM_DATA, dicom_files  # noqa: E402

KEYWORDS = ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID",
            "Modality", "InstanceNumber", "Rows", "Columns", "ImagePositionPatient",
            "PixelSpacing", "SliceThickness", "AcquisitionDate"]


def with_rapidicom(path):
    ds = rapidicom.open(path)
    return [ds.get(k) for k in KEYWORDS]


def with_pydicom(path):
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return [ds.get(k) for k in KEYWORDS]


def plain(values):
    out = []
    for v in values:
        if isinstance(v, (list, pydicom.multival.MultiValue)):
            out.append([float(x) for x in v])
        elif isinstance(v, float):
            out.append(float(v))
        elif isinstance(v, int):
            out.append(int(v))
        else:
            out.append(None if v is None else str(v))
    return out


def best_of(fn, files, rounds=5):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for f in files:
            fn(f)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    sample = PYDICOM_DATA / "test_files" / "CT_small.dcm"
    print(f"$ rapidicom dump {sample.name}   (first 25 lines)")
    out = subprocess.run([sys.executable, "-m", "rapidicom", "dump", str(sample)],
                         capture_output=True, text=True)
    print("\n".join((out.stdout or out.stderr).splitlines()[:25]))
    print()

    files = []
    warnings.simplefilter("ignore")
    for f in dicom_files():
        try:
            ours = plain(with_rapidicom(f))
            theirs = plain(with_pydicom(f))
        except Exception:
            continue  # truncated or non-conformant files are covered by the tests
        if ours != theirs:
            raise SystemExit(f"MISMATCH on {f}: {ours} != {theirs}")
        files.append(f)
    size = sum(Path(f).stat().st_size for f in files)
    print(f"{len(files)} corpus files ({size / 1e6:.1f} MB): open + read "
          f"{len(KEYWORDS)} indexing attributes, results identical in both libraries")
    t_ours = best_of(with_rapidicom, files)
    t_theirs = best_of(with_pydicom, files)
    n = len(files)
    print(f"  rapidicom : {t_ours / n * 1e6:8.1f} µs per file")
    print(f"  pydicom   : {t_theirs / n * 1e6:8.1f} µs per file")
    print(f"  speed-up  : {t_theirs / t_ours:8.1f}x")
    print()

    # Decode every frame of every corpus file both libraries decode.
    pixel_files, exact, near = [], 0, 0
    for f in files:
        try:
            ours = rapidicom.open(f).pixel_array
            theirs = pydicom.dcmread(f).pixel_array
        except Exception:
            continue
        if ours.shape != theirs.shape:
            raise SystemExit(f"MISMATCH on {f}: shape {ours.shape} != {theirs.shape}")
        diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64)).max() if ours.size else 0
        if diff > 1:
            raise SystemExit(f"MISMATCH on {f}: pixels differ by {diff}")
        exact += diff == 0
        near += diff == 1
        pixel_files.append(f)
    decoded = sum(rapidicom.open(f).pixel_array.nbytes for f in pixel_files)
    print(f"{len(pixel_files)} files with pixel data ({decoded / 1e6:.1f} MB decoded): "
          f"{exact} identical to pydicom, {near} within 1 (12-bit JPEG, lossy IDCT)")
    t_ours = best_of(lambda f: rapidicom.open(f).pixel_array, pixel_files, rounds=3)
    t_theirs = best_of(lambda f: pydicom.dcmread(f).pixel_array, pixel_files, rounds=3)
    print(f"  rapidicom : {decoded / t_ours / 1e6:8.1f} MB/s")
    print(f"  pydicom   : {decoded / t_theirs / 1e6:8.1f} MB/s")
    print(f"  speed-up  : {t_theirs / t_ours:8.1f}x")


if __name__ == "__main__":
    main()
