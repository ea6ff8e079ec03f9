"""Peak-RSS check: ``rapidicom.open`` on a 500 MiB file must not read Pixel Data.

``build()`` writes a native (uncompressed) Explicit VR Little Endian file: a
small header made with pydicom's ``dcmwrite`` (a few dozen elements and a
sequence), then a 500 MiB OW Pixel Data element (1000 frames of 512x512
16-bit) appended in 8 MiB chunks, so building it never holds 500 MiB in
memory.  ``measure(path, mode)`` runs a fresh ``python`` that imports only
what the mode needs, records its peak RSS, does the work, and records it
again; the difference is what the work added to the peak resident set.

Peak RSS is VmHWM from /proc/self/status (Linux).  ``ru_maxrss`` is reported
too, but on Linux it carries over the parent's peak through fork+exec (the
child of a 300 MiB process starts with ru_maxrss = 300 MiB), so a small
child's growth can hide under it; VmHWM belongs to the child's own memory
map.  Without /proc, ru_maxrss is all there is.
File-backed pages of an mmap count toward RSS as soon as they are touched, so
reading the pixel bytes would show up as ~500 MiB (the "touch" control
proves it).

Run alone:  python bench/memcheck.py
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile

ROWS = COLS = 512
FRAMES = 1000
PIXEL_BYTES = ROWS * COLS * 2 * FRAMES          # 524_288_000 = 500 MiB
CHUNK = bytes(range(256)) * (8 * 2**20 // 256)  # 8 MiB of non-zero bytes

MODES = {
    "rapidicom": "rapidicom.open + every header value (meta, dataset, items; "
                 "Pixel Data value is a view)",
    "rapidicom+touch": "control: the same, then read one byte of every 4 KiB page "
                       "of the Pixel Data view",
    "pydicom-header": "pydicom dcmread(stop_before_pixels=True) + every value",
    "pydicom-full": "pydicom dcmread (full) + every value",
}

_CHILD = r'''
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # KiB on Linux, bytes on macOS
def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
def status():
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        pass
    return out
if mode.startswith("rapidicom"):
    import rapidicom
    def walk(ds):
        n, pixels = 0, None
        for el in ds:
            v = el.value
            n += 1
            if el.tag == 0x7FE00010:
                pixels = v
            if type(v) is list and v and type(v[0]) is rapidicom.Dataset:
                for item in v:
                    n += walk(item)[0]
        return n, pixels
else:
    import warnings
    import pydicom
    warnings.simplefilter("ignore")
st0, rss0 = status(), maxrss_mib()
t0 = time.perf_counter()
if mode.startswith("rapidicom"):
    ds = rapidicom.open(path)
    n_meta = walk(ds.meta)[0]
    n, pixels = walk(ds)
    n += n_meta
    pixel_len = len(pixels)
    if mode == "rapidicom+touch":
        touched = bytes(memoryview(pixels).cast("B")[::4096])
else:
    ds = pydicom.dcmread(path, stop_before_pixels=(mode == "pydicom-header"))
    n = len(ds.file_meta)
    for elem in ds.iterall():
        elem.value
        n += 1
    pixel_len = len(ds.PixelData) if "PixelData" in ds else 0
seconds = time.perf_counter() - t0
st1, rss1 = status(), maxrss_mib()
res = dict(mode=mode, elements=n, pixel_len=pixel_len, seconds=seconds,
           maxrss_before_mib=rss0, maxrss_after_mib=rss1, maxrss_delta_mib=rss1 - rss0)
if "VmHWM" in st0:
    res.update(hwm_before_mib=st0["VmHWM"], hwm_after_mib=st1["VmHWM"],
               delta_mib=st1["VmHWM"] - st0["VmHWM"],
               rss_after_mib=st1.get("VmRSS"), rss_file_after_mib=st1.get("RssFile"))
else:  # no /proc: ru_maxrss, which may include the parent's peak (see above)
    res.update(hwm_before_mib=rss0, hwm_after_mib=rss1, delta_mib=rss1 - rss0)
print(json.dumps(res))
'''


def build(path, pixel_bytes: int = PIXEL_BYTES) -> int:
    """Write the test file at `path`; return its size in bytes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    frames = pixel_bytes // (ROWS * COLS * 2)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = "Memory^Check"
    ds.PatientID = "RSS-500MB"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20240101"
    ds.StudyTime = "120000"
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [-250.0, -250.0, 0.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.976562, 0.976562]
    ds.SliceThickness = 1.0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = [40, 400]
    ds.WindowWidth = [400, 2000]
    item = Dataset()
    item.CodeValue = "113691"
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = "IEC Body Dosimetry Phantom"
    ds.AnatomicRegionSequence = [item]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = ROWS, COLS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.save_as(path, enforce_file_format=True)
    with open(path, "ab") as f:
        # (7FE0,0010) OW, 2 reserved bytes, 32-bit length (PS3.5 7.1.2)
        f.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes))
        left = pixel_bytes
        while left:
            n = min(left, len(CHUNK))
            f.write(CHUNK[:n])
            left -= n
    return os.path.getsize(path)


def measure(path, mode: str) -> dict:
    """Run one mode in a fresh interpreter; return its JSON result."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_all(modes=tuple(MODES)) -> dict:
    """Build the file in a temporary folder, measure every mode, delete it."""
    with tempfile.TemporaryDirectory(prefix="rapidicom-memcheck-") as tmp:
        path = os.path.join(tmp, "big_native.dcm")
        size = build(path)
        results = {mode: measure(path, mode) for mode in modes}
    return {"file_bytes": size, "pixel_bytes": PIXEL_BYTES, "results": results}


def format_results(res: dict) -> list[str]:
    lines = [f"memory: {res['file_bytes'] / 2**20:.1f} MiB native file "
             f"({res['pixel_bytes'] / 2**20:.0f} MiB OW Pixel Data); peak RSS growth "
             f"in a fresh process (VmHWM; ru_maxrss growth shown too):"]
    for mode, r in res["results"].items():
        lines.append(f"  {mode:<16} {r['delta_mib']:8.1f} MiB  "
                     f"(peak {r['hwm_before_mib']:.1f} -> {r['hwm_after_mib']:.1f}; "
                     f"ru_maxrss +{r['maxrss_delta_mib']:.1f}; {r['elements']} elements, "
                     f"{r['seconds'] * 1e3:.1f} ms)  {MODES[mode]}")
    return lines


if __name__ == "__main__":
    print("\n".join(format_results(run_all())))
