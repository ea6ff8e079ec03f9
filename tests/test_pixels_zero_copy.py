"""Native frames are views of the file: no copy, the mapping kept alive, and
64-bit sizes for Pixel Data beyond 2 GiB."""
from __future__ import annotations

import gc
import os
import struct
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import rapidicom

ROWS, COLS = 512, 512


def _element(tag, vr, value):
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in ("OB", "OW", "UN", "SQ", "UT"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def _header(frames, pixel_bytes, bits=16, signed=0):
    meta_body = _element(0x00020010, "UI", b"1.2.840.10008.1.2.1\x00")
    meta = _element(0x00020000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    ds = b"".join([
        _element(0x00280002, "US", struct.pack("<H", 1)),
        _element(0x00280004, "CS", b"MONOCHROME2 "),
        _element(0x00280008, "IS", str(frames).encode().ljust(2 * ((len(str(frames)) + 1) // 2))),
        _element(0x00280010, "US", struct.pack("<H", ROWS)),
        _element(0x00280011, "US", struct.pack("<H", COLS)),
        _element(0x00280100, "US", struct.pack("<H", bits)),
        _element(0x00280101, "US", struct.pack("<H", bits)),
        _element(0x00280102, "US", struct.pack("<H", bits - 1)),
        _element(0x00280103, "US", struct.pack("<H", signed)),
    ])
    pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes)
    return b"\0" * 128 + b"DICM" + meta + ds + pixel_header


def _write_multiframe(path, frames):
    """A native 16-bit file whose frame k is filled with the value k."""
    frame_bytes = ROWS * COLS * 2
    with open(path, "wb") as f:
        f.write(_header(frames, frame_bytes * frames))
        for k in range(frames):
            f.write(np.full(ROWS * COLS, k, dtype="<u2").tobytes())


def test_frames_are_views_of_the_mapping(tmp_path):
    path = tmp_path / "multi.dcm"
    _write_multiframe(path, 8)
    ds = rapidicom.open(path)
    px = ds.pixels
    buffer = np.frombuffer(ds.buffer, dtype=np.uint8)
    for k in range(8):
        frame = px.frame(k, zero_copy_only=True)
        assert frame.shape == (ROWS, COLS) and frame.dtype == np.uint16
        assert not frame.flags.writeable
        assert np.shares_memory(frame, buffer)
        assert frame[0, 0] == k and frame[-1, -1] == k
    whole = px.to_array()
    assert np.shares_memory(whole, buffer) and whole.shape == (8, ROWS, COLS)


def test_views_keep_the_file_alive_after_close(tmp_path):
    path = tmp_path / "multi.dcm"
    _write_multiframe(path, 3)
    ds = rapidicom.open(path)
    frames = [ds.pixels.frame(k) for k in range(3)]
    owner = weakref.ref(ds.buffer.obj)
    ds.close()
    del ds
    gc.collect()
    assert owner() is not None
    assert [int(f[5, 5]) for f in frames] == [0, 1, 2]
    del frames
    gc.collect()
    assert owner() is None


def test_zero_copy_only_refuses_a_copy(tmp_path):
    # Bits Stored 12 of 16 with values using the top bits: a view would show
    # uncorrected values, so a copy is needed and zero_copy_only refuses it.
    path = tmp_path / "dirty.dcm"
    data = np.full(ROWS * COLS, 0xF123, dtype="<u2").tobytes()
    header = bytearray(_header(1, len(data)))
    at = header.find(struct.pack("<HH2sH", 0x0028, 0x0101, b"US", 2))
    header[at + 8:at + 10] = struct.pack("<H", 12)
    path.write_bytes(bytes(header) + data)
    px = rapidicom.open(path).pixels
    with pytest.raises(rapidicom.DicomError, match="unused high bits"):
        px.frame(0, zero_copy_only=True)
    assert px.frame(0)[0, 0] == 0x0123


RSS_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, rapidicom
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    before = hwm()
    ds = rapidicom.open(sys.argv[1])
    px = ds.pixels
    total = 0
    for k in range(px.number_of_frames):
        frame = px.frame(k, zero_copy_only=True)
        total += int(frame[0, 0])           # touch one page of each frame
    assert total == sum(range(px.number_of_frames)), total
    print(hwm() - before)
""")


def test_reading_every_frame_does_not_copy_the_file(tmp_path):
    frames = 400  # 400 x 512 KiB = 200 MiB
    path = tmp_path / "big.dcm"
    _write_multiframe(path, frames)
    size = path.stat().st_size
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(path)],
                         capture_output=True, text=True, check=True)
    growth = int(out.stdout.strip())
    # Touching one pixel maps that page and, with the kernel's fault-around,
    # up to 15 neighbours: 400 frames x 64 KiB = 25 MiB.  A copy of each frame
    # would grow it by the whole 200 MiB.
    assert growth < size / 4, f"peak RSS grew {growth / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"


@pytest.mark.skipif(sys.platform != "linux", reason="sparse files")
def test_pixel_data_beyond_2_gib(tmp_path):
    """A 2.25 GiB Pixel Data value (sparse on disk): frame offsets past 2**31
    and 2**32 - 1 lengths work, and the last frame is a view."""
    frame_bytes = ROWS * COLS * 2
    frames = 4500  # 4500 x 512 KiB = 2.2 GiB
    path = tmp_path / "huge.dcm"
    header = _header(frames, frame_bytes * frames)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + frame_bytes * frames)
        f.seek(len(header) + frame_bytes * (frames - 1))
        f.write(np.full(ROWS * COLS, 7, dtype="<u2").tobytes())
    ds = rapidicom.open(path)
    px = ds.pixels
    assert px.number_of_frames == frames
    assert ds.element("PixelData").length == frame_bytes * frames > 2**31
    last = px.frame(frames - 1, zero_copy_only=True)
    assert last[0, 0] == 7 and px.frame(0)[0, 0] == 0
    os.remove(path)
