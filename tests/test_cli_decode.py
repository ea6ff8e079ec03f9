"""`rapidicom decode FILE -o OUT` as a user runs it."""
from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import numpy as np
import pydicom

from corpus import PYDICOM_DATA

RLE_RGB = PYDICOM_DATA / "test_files" / "SC_rgb_rle_2frame.dcm"
CT = PYDICOM_DATA / "test_files" / "CT_small.dcm"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "rapidicom", "decode", *map(str, args)],
                          capture_output=True, text=True)


def _read_png(path):
    """Decode the PNGs our writer produces (filter 0 rows, no interlace)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    cols, rows, depth, colour, *_ = header
    channels = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(rows, -1)
    assert (raw[:, 0] == 0).all()
    pixels = raw[:, 1:].copy().view(">u2" if depth == 16 else np.uint8)
    return pixels.reshape(rows, cols, channels).squeeze()


def test_decode_all_frames_to_npy(tmp_path):
    out = tmp_path / "frames.npy"
    result = _run(RLE_RGB, "-o", out, "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(out), pydicom.dcmread(RLE_RGB).pixel_array)


def test_decode_one_frame_to_png(tmp_path):
    out = tmp_path / "frame.png"
    assert _run(RLE_RGB, "-o", out, "--frame", "1").returncode == 0
    assert np.array_equal(_read_png(out), pydicom.dcmread(RLE_RGB).pixel_array[1])


def test_signed_data_is_scaled_to_16_bits(tmp_path):
    out = tmp_path / "ct.png"
    assert _run(CT, "-o", out).returncode == 0
    image = _read_png(out).astype(np.int64)
    arr = pydicom.dcmread(CT).pixel_array.astype(np.int64)
    assert image.min() == 0 and image.max() == 65535
    assert np.array_equal(np.argsort(image, axis=None, kind="stable"),
                          np.argsort(arr, axis=None, kind="stable"))


def test_bad_output_name_and_missing_frame(tmp_path):
    assert _run(CT, "-o", tmp_path / "x.txt").returncode == 1
    result = _run(CT, "-o", tmp_path / "x.png", "--frame", "3")
    assert result.returncode == 1 and "frame 3" in result.stderr
