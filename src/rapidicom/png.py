"""A minimal PNG writer for decoded frames (greyscale or RGB, 8 or 16 bits),
so ``rapidicom decode -o frame.png`` needs no imaging library.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["write_png", "to_display"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def to_display(frame: np.ndarray) -> np.ndarray:
    """Map a frame to an unsigned 8- or 16-bit image PNG can hold: unsigned
    8/16-bit data as is, anything else scaled linearly to 0..65535."""
    if frame.dtype in (np.uint8, np.uint16):
        return frame
    data = frame.astype(np.float64)
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    scale = 65535.0 / (hi - lo) if hi > lo else 0.0
    return ((data - lo) * scale).round().astype(np.uint16)


def write_png(path, frame: np.ndarray) -> None:
    """Write a (rows, columns) or (rows, columns, 3) frame as PNG."""
    image = to_display(frame)
    if image.ndim == 2:
        colour_type = 0
    elif image.ndim == 3 and image.shape[2] == 3:
        colour_type = 2
    else:
        raise ValueError(f"cannot write a frame of shape {frame.shape} as PNG")
    rows, cols = image.shape[:2]
    depth = 8 if image.dtype == np.uint8 else 16
    pixels = image.astype(">u2" if depth == 16 else np.uint8).reshape(rows, -1)
    raw = np.zeros((rows, 1 + pixels.shape[1] * pixels.itemsize), dtype=np.uint8)
    raw[:, 1:] = pixels.view(np.uint8).reshape(rows, -1)  # filter byte 0 per row
    header = struct.pack(">IIBBBBB", cols, rows, depth, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", header))
        f.write(_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)))
        f.write(_chunk(b"IEND", b""))

