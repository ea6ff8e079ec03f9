"""Opening a 500 MiB native file scans the header without touching Pixel Data.

``rapidicom.open`` maps the file and indexes the elements; values are decoded
on access, and a Pixel Data value is a read-only view of the mapping.  So
opening a file with 500 MiB of native Pixel Data and reading every header
value (File Meta, dataset, sequence items, and the Pixel Data value itself as
a view) must leave the peak resident set almost where it was.

The measurement runs in a fresh interpreter that imports only rapidicom.
Peak RSS is VmHWM from /proc/self/status: ``resource.getrusage().ru_maxrss``
carries the parent's peak over fork+exec on Linux, so the growth of a small
child can hide under it (it is used only where /proc is missing).  Pages of
a file mapping count toward RSS once touched; the control test touches every
page of the Pixel Data view and must see ~500 MiB, which shows the
measurement can see a pixel read at all.

bench/memcheck.py reports the same numbers (with pydicom for comparison).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import pytest

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("resource")  # not on Windows

ROWS = COLS = 512
FRAMES = 1000
PIXEL_BYTES = ROWS * COLS * 2 * FRAMES  # 500 MiB
LIMIT_MIB = 32

CHILD = r'''
import json, resource, sys
path, touch = sys.argv[1], sys.argv[2] == "touch"
def peak_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
import rapidicom
def walk(ds, out):
    for el in ds:
        v = el.value
        out.append((el.tag, v))
        if type(v) is list and v and type(v[0]) is rapidicom.Dataset:
            for item in v:
                walk(item, out)
    return out
before = peak_mib()
ds = rapidicom.open(path)
values = walk(ds.meta, []) + walk(ds, [])
pixels = dict(values)[0x7FE00010]
if touch:
    bytes(memoryview(pixels).cast("B")[::4096])   # one byte of every page
after = peak_mib()
print(json.dumps(dict(before=before, after=after, elements=len(values),
                      pixel_len=len(pixels), rows=ds.Rows, frames=ds.NumberOfFrames)))
'''


@pytest.fixture(scope="module")
def big_file():
    tmp = tempfile.mkdtemp(prefix="rapidicom-test-memory-")
    try:
        if shutil.disk_usage(tmp).free < PIXEL_BYTES + 512 * 2**20:
            pytest.skip("not enough free disk space for a 500 MiB file")
        path = os.path.join(tmp, "big_native.dcm")
        _build(path)
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build(path):
    """Small header by pydicom, then (7FE0,0010) OW of PIXEL_BYTES in 8 MiB chunks."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = "Memory^Check"
    ds.PatientID = "RSS-500MB"
    ds.ImagePositionPatient = [-250.0, -250.0, 0.0]
    ds.PixelSpacing = [0.976562, 0.976562]
    item = Dataset()
    item.CodeValue = "113691"
    item.CodingSchemeDesignator = "DCM"
    ds.AnatomicRegionSequence = [item]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = FRAMES
    ds.Rows, ds.Columns = ROWS, COLS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    ds.save_as(path, enforce_file_format=True)
    chunk = bytes(range(256)) * (8 * 2**20 // 256)
    with open(path, "ab") as f:
        # tag (7FE0,0010), VR "OW", 2 reserved bytes, 32-bit length
        f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, PIXEL_BYTES))
        for _ in range(PIXEL_BYTES // len(chunk)):
            f.write(chunk)
        f.write(chunk[:PIXEL_BYTES % len(chunk)])


def _measure(path, mode):
    out = subprocess.run([sys.executable, "-c", CHILD, path, mode],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["pixel_len"] == PIXEL_BYTES
    assert (r["rows"], r["frames"]) == (ROWS, FRAMES)
    return r


def test_open_and_read_header_does_not_read_pixel_data(big_file):
    r = _measure(big_file, "header")
    delta = r["after"] - r["before"]
    assert delta < LIMIT_MIB, f"peak RSS grew {delta:.1f} MiB opening a 500 MiB file: {r}"


def test_control_touching_pixel_pages_is_measured(big_file):
    r = _measure(big_file, "touch")
    delta = r["after"] - r["before"]
    assert delta > 0.8 * PIXEL_BYTES / 2**20, f"touching 500 MiB added only {delta:.1f} MiB: {r}"
