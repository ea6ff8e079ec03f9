"""The corpus workload the thread-stress and soak tests repeat: open a file,
read every value (nested items and lazily parsed sequences included) and
decode its pixels, folding everything read into one digest.

Two runs that read the same things give the same digest, so results from
many threads, or from the thousandth open, are compared with one
single-threaded reading by comparing short strings.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

import rapidicom
from corpus import dicom_files

JPEG_2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
             "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
# Pixel decoding repeated many times stays within these output sizes: a few
# large JPEG 2000 images (openjpeg decodes ~10 MB/s here) would otherwise take
# most of the time.  Larger images are still opened and read every time.
LIGHT_BYTES = 8 << 20
LIGHT_J2K_BYTES = 1 << 20


def open_file(source):
    """Open as the parity tests do: strictly, or leniently for files whose
    last value is cut short."""
    try:
        return rapidicom.open(source)
    except rapidicom.TruncatedError:
        return rapidicom.open(source, lenient=True)


def readable_files() -> list[Path]:
    """Corpus files rapidicom opens (the others raise DicomError by design,
    see test_parity.py)."""
    found = []
    for path in dicom_files():
        try:
            open_file(path)
        except rapidicom.DicomError:
            continue
        found.append(path)
    return found


def decoded_bytes(px) -> int:
    return px.number_of_frames * px.rows * px.columns * px.samples_per_pixel \
        * px.dtype.itemsize


def is_light(ds) -> bool:
    """True when decoding all of `ds`'s pixels is cheap enough to repeat."""
    try:
        px = ds.pixels
    except rapidicom.DicomError:
        return True                   # fails at once, on the description
    if px is None:
        return True
    limit = LIGHT_J2K_BYTES if px.transfer_syntax in JPEG_2000 else LIGHT_BYTES
    return decoded_bytes(px) <= limit


def feed(h, value) -> None:
    """Fold one converted value into the hash `h`."""
    if isinstance(value, list):
        h.update(b"[%d" % len(value))
        for item in value:
            feed(h, item)
        h.update(b"]")
    elif isinstance(value, rapidicom.Dataset):
        feed_dataset(h, value)
    elif isinstance(value, (memoryview, bytes, bytearray)):
        h.update(b"b%d:" % len(value))
        h.update(value)
    elif isinstance(value, np.ndarray):
        feed_array(h, value)
    else:
        h.update(repr(value).encode())
    h.update(b";")


def feed_dataset(h, ds) -> None:
    """Every element of `ds`, in file order: tag, VR and value (or the
    error its conversion raises)."""
    for element in ds:
        h.update(b"%08X%s" % (element.tag, str(element.vr).encode()))
        try:
            feed(h, element.value)
        except rapidicom.DicomError as exc:
            h.update(f"!{type(exc).__name__}: {exc}".encode())


def feed_array(h, array: np.ndarray) -> None:
    h.update(f"{array.shape}{array.dtype.str}".encode())
    h.update(np.ascontiguousarray(array).tobytes())


def feed_pixels(h, ds, *, threads: int = 1, by_frame: bool = False) -> None:
    """All frames of `ds` (or the error decoding raises), with to_array or
    frame by frame; both give the same digest."""
    try:
        px = ds.pixels
        if px is None:
            h.update(b"no pixels")
            return
        if by_frame:
            frames = [px.frame(i) for i in range(px.number_of_frames)]
            feed_array(h, np.stack(frames))
        else:
            feed_array(h, px.to_array(threads=threads))
    except rapidicom.DicomError as exc:
        h.update(f"!{type(exc).__name__}: {exc}".encode())


def digest(ds, *, pixels: bool = True, threads: int = 1, by_frame: bool = False) -> str:
    """Hex digest of everything read from `ds`: its File Meta, its values
    and (with `pixels`) all its frames."""
    h = hashlib.sha256()
    feed_dataset(h, ds.meta)
    feed_dataset(h, ds)
    if pixels:
        feed_pixels(h, ds, threads=threads, by_frame=by_frame)
    return h.hexdigest()
