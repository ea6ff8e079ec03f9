"""Resource limits (rapidicom.Limits, docs/LIMITS.md): one table of defaults
shared with the C core, each limit enforced where it is documented, before
anything is allocated, with an error that names the limit and how to raise
it, and defaults that read every real file.

Files come from the corpus (tests/corpus.py) or are encoded here by Pillow
and wrapped by pydicom; decoded pixels are compared with pydicom's.
"""
from __future__ import annotations

import dataclasses
import io
import re
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest

import kernel_support as ks
import rapidicom
from corpus import PYDICOM_DATA, PYDICOM_DATA_STORE
from rapidicom import LimitExceededError, Limits

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "src" / "core" / "rapidicom.h"
LIMITS_DOC = ROOT / "docs" / "LIMITS.md"

CT_SMALL = PYDICOM_DATA / "test_files" / "CT_small.dcm"
DEFLATED = PYDICOM_DATA / "test_files" / "image_dfl.dcm"
NESTED = PYDICOM_DATA / "test_files" / "rtplan.dcm"
MULTIFRAME_RLE = PYDICOM_DATA / "test_files" / "SC_rgb_rle_16bit_2frame.dcm"
MULTIFRAME_NATIVE = PYDICOM_DATA_STORE / "emri_small.dcm"

# Limits field -> macro of rapidicom.h holding its default.
C_MACROS = {
    "max_depth": "RD_DEFAULT_MAX_DEPTH",
    "max_elements": "RD_DEFAULT_MAX_ELEMENTS",
    "max_inflated": "RD_DEFAULT_MAX_INFLATED",
    "max_frames": "RD_DEFAULT_MAX_FRAMES",
    "max_frame_pixels": "RD_DEFAULT_MAX_PIXELS",
    "max_decoded_bytes": "RD_DEFAULT_MAX_DECODED_BYTES",
    "max_jpeg_scans": "RD_DEFAULT_MAX_JPEG_SCANS",
    "max_j2k_tiles": "RD_DEFAULT_MAX_J2K_TILES",
}
FIELDS = [f.name for f in dataclasses.fields(Limits)]


def header_defaults() -> dict[str, int]:
    """The RD_DEFAULT_* macros of rapidicom.h, evaluated (they are integer
    constants, shifts and casts to uint64_t)."""
    found = {}
    for name, expr in re.findall(r"^#define (RD_DEFAULT_\w+) (.+?)\s*(?:/\*.*)?$",
                                 HEADER.read_text(), re.M):
        expr = expr.replace("(uint64_t)", "").replace("u", "")
        assert re.fullmatch(r"[\d\s()<]+", expr), f"{name}: unexpected form {expr!r}"
        found[name] = eval(expr)  # digits, parentheses and << only (checked above)
    return found


def assert_names_limit(exc: LimitExceededError, field: str):
    assert exc.limit == field
    assert f"rapidicom.Limits({field}=...)" in str(exc)
    assert f"set_default_limits({field}=...)" in str(exc)


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

def test_defaults_are_the_c_table():
    macros = header_defaults()
    assert set(FIELDS) == set(C_MACROS)
    assert set(C_MACROS.values()) == set(macros), "every RD_DEFAULT_* macro is a Limits field"
    for field in FIELDS:
        assert getattr(Limits(), field) == macros[C_MACROS[field]], field


def test_docs_list_every_limit_with_its_default():
    """docs/LIMITS.md has a row per field: `name` | default | ..., the default
    written as a number or a power of two with its unit."""
    text = LIMITS_DOC.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M))
    assert set(rows) == set(FIELDS)
    for field in FIELDS:
        cell = rows[field].replace(",", "").replace(" ", "")
        numbers = [int(n) for n in re.findall(r"\d+", cell)]
        assert getattr(Limits(), field) in numbers, f"{field}: {rows[field]}"
    readme = (ROOT / "README.md").read_text()
    assert "docs/LIMITS.md" in readme


@pytest.mark.parametrize("field", FIELDS)
def test_values_are_checked(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: -1})
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 1 << 64})
    with pytest.raises(TypeError, match=field):
        Limits(**{field: 2.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(Limits(), field, 5)


def test_open_takes_limits_and_the_older_keywords():
    ds = rapidicom.open(CT_SMALL)
    assert ds.limits == Limits() == rapidicom.get_default_limits()
    small = Limits(max_depth=3, max_frames=7)
    assert rapidicom.open(CT_SMALL, limits=small).limits is small
    both = rapidicom.open(CT_SMALL, limits=small, max_depth=5, max_inflated=1 << 20)
    assert both.limits == small.replace(max_depth=5, max_inflated=1 << 20)
    with pytest.raises(TypeError, match="rapidicom.Limits"):
        rapidicom.open(CT_SMALL, limits={"max_depth": 3})


def test_set_default_limits_applies_and_restores():
    previous = rapidicom.set_default_limits(max_depth=1)
    try:
        assert previous == Limits()
        assert rapidicom.get_default_limits() == Limits(max_depth=1)
        with pytest.raises(LimitExceededError) as info:
            rapidicom.open(NESTED)
        assert_names_limit(info.value, "max_depth")
        # An explicit Limits overrides the default.
        rapidicom.open(NESTED, limits=Limits())
    finally:
        rapidicom.set_default_limits(previous)
    assert rapidicom.get_default_limits() == Limits()
    rapidicom.open(NESTED)


def test_items_and_pixels_carry_the_limits():
    limits = Limits(max_frames=5)
    ds = rapidicom.open(NESTED, limits=limits)
    item = ds.BeamSequence[0]
    assert item.limits is limits
    assert rapidicom.open(MULTIFRAME_NATIVE, limits=limits).pixels.limits is limits


# ---------------------------------------------------------------------------
# Scan limits
# ---------------------------------------------------------------------------

def test_max_depth():
    with pytest.raises(LimitExceededError) as info:
        rapidicom.open(NESTED, limits=Limits(max_depth=1))
    assert_names_limit(info.value, "max_depth")
    # rtplan.dcm nests three deep: (300A,00B0)[0].(300A,0111)[0].(300A,011A)
    with pytest.raises(LimitExceededError):
        rapidicom.open(NESTED, limits=Limits(max_depth=2))
    deepest = rapidicom.open(NESTED, limits=Limits(max_depth=3))
    reference = pydicom.dcmread(NESTED)
    assert (deepest.BeamSequence[0].ControlPointSequence[0].BeamLimitingDevicePositionSequence[0]
            .RTBeamLimitingDeviceType
            == reference.BeamSequence[0].ControlPointSequence[0]
            .BeamLimitingDevicePositionSequence[0].RTBeamLimitingDeviceType)


def test_max_elements():
    count = sum(1 for _ in rapidicom.open(CT_SMALL))
    with pytest.raises(LimitExceededError) as info:
        rapidicom.open(CT_SMALL, limits=Limits(max_elements=count - 1))
    assert_names_limit(info.value, "max_elements")


def test_max_inflated():
    with pytest.raises(LimitExceededError) as info:
        rapidicom.open(DEFLATED, limits=Limits(max_inflated=1000))
    assert_names_limit(info.value, "max_inflated")
    reference = pydicom.dcmread(DEFLATED)
    assert rapidicom.open(DEFLATED).PatientName == str(reference.PatientName)


# ---------------------------------------------------------------------------
# Pixel limits
# ---------------------------------------------------------------------------

def reference_pixels(path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


@pytest.mark.parametrize("path", [MULTIFRAME_RLE, MULTIFRAME_NATIVE], ids=lambda p: p.name)
def test_max_frames(path):
    px = rapidicom.open(path, limits=Limits(max_frames=1)).pixels
    for call in (lambda: px.frame(0), lambda: px.to_array()):
        with pytest.raises(LimitExceededError) as info:
            call()
        assert_names_limit(info.value, "max_frames")
    frames = px.number_of_frames
    ok = rapidicom.open(path, limits=Limits(max_frames=frames)).pixels
    np.testing.assert_array_equal(ok.to_array(), reference_pixels(path))


def test_max_frame_pixels():
    rows, columns = pydicom.dcmread(MULTIFRAME_RLE).pixel_array.shape[1:3]
    px = rapidicom.open(MULTIFRAME_RLE, limits=Limits(max_frame_pixels=rows * columns - 1)).pixels
    with pytest.raises(LimitExceededError) as info:
        px.frame(1)
    assert_names_limit(info.value, "max_frame_pixels")
    px = rapidicom.open(MULTIFRAME_RLE, limits=Limits(max_frame_pixels=rows * columns)).pixels
    np.testing.assert_array_equal(px.frame(1), reference_pixels(MULTIFRAME_RLE)[1])


def test_max_decoded_bytes_counts_what_is_allocated():
    expected = reference_pixels(MULTIFRAME_RLE)
    tight = rapidicom.open(MULTIFRAME_RLE, limits=Limits(max_decoded_bytes=expected.nbytes))
    np.testing.assert_array_equal(tight.pixel_array, expected)
    short = rapidicom.open(MULTIFRAME_RLE,
                           limits=Limits(max_decoded_bytes=expected.nbytes - 1)).pixels
    with pytest.raises(LimitExceededError) as info:
        short.to_array()
    assert_names_limit(info.value, "max_decoded_bytes")
    np.testing.assert_array_equal(short.frame(1), expected[1])  # one frame fits
    # A caller's own output array is not an allocation of ours.
    out = np.empty(expected.shape, expected.dtype)
    np.testing.assert_array_equal(short.to_array(out=out), expected)


def test_out_must_be_c_contiguous():
    """pydicom's RLE arrays are strided views; decoding into one used to
    write a discarded copy and return garbage."""
    expected = reference_pixels(MULTIFRAME_RLE)
    assert not expected.flags.c_contiguous
    px = rapidicom.open(MULTIFRAME_RLE).pixels
    with pytest.raises(ValueError, match="C-contiguous"):
        px.to_array(out=np.empty_like(expected))
    with pytest.raises(ValueError, match="C-contiguous"):
        px.frame(1, out=np.empty_like(expected[1]))
    with pytest.raises(ValueError, match="shape"):
        px.frame(1, out=np.empty(expected.shape, expected.dtype))


def test_max_decoded_bytes_leaves_views_alone():
    expected = reference_pixels(MULTIFRAME_NATIVE)
    px = rapidicom.open(MULTIFRAME_NATIVE, limits=Limits(max_decoded_bytes=1)).pixels
    view = px.to_array()
    assert not view.flags.writeable  # a view of the file: nothing allocated
    np.testing.assert_array_equal(view, expected)


def _file_bytes(ds) -> bytes:
    """`ds` written as a Part 10 file, with the UIDs save_as wants."""
    from pydicom.uid import generate_uid

    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _encapsulated_bytes(frames, number_of_frames, rows=512, columns=512):
    """A file whose header claims `number_of_frames` RLE frames of
    rows x columns 16-bit samples, with only `frames` present."""
    ds = ks.encapsulated_dataset(frames, rows=rows, columns=columns, samples_per_pixel=1,
                                 bits_allocated=16, bits_stored=16, pixel_representation=0,
                                 photometric="MONOCHROME2", syntax="1.2.840.10008.1.2.5",
                                 number_of_frames=number_of_frames)
    return _file_bytes(ds)


@pytest.mark.parametrize("claimed,field", [
    (3_000_000, "max_decoded_bytes"),    # 3e6 x 512 KiB: 1.5 TB of output
    (1 << 30, "max_frames"),             # a frame table of 2**30 entries
])
def test_small_file_claiming_huge_output_is_refused_before_allocating(claimed, field):
    data = _encapsulated_bytes([b"\0" * 64], claimed)
    assert len(data) < 2000
    px = rapidicom.open(data).pixels
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as info:
            px.to_array()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_names_limit(info.value, field)
    assert peak < 1 << 20, f"{peak} bytes were allocated before the refusal"


def _pillow_encoded(fmt: str, image: np.ndarray, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def _gradient(rows: int, columns: int) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:columns]
    return ((x * 3 + y * 5 + (x * y) % 7) % 256).astype(np.uint8)


def _codec_case(fmt: str, syntax: str, **options):
    """(bytes of a one-frame 8-bit file, pydicom's pixels of it)."""
    image = _gradient(128, 128)
    encoded = _pillow_encoded(fmt, image, **options)
    ds = ks.encapsulated_dataset([encoded], rows=128, columns=128, samples_per_pixel=1,
                                 bits_allocated=8, bits_stored=8, pixel_representation=0,
                                 photometric="MONOCHROME2", syntax=syntax)
    data = _file_bytes(ds)
    reference, _ = ks.pydicom_array(ds)
    return data, reference


def test_max_jpeg_scans():
    data, reference = _codec_case("JPEG", "1.2.840.10008.1.2.4.50", progressive=True,
                                  quality=90)
    np.testing.assert_array_equal(rapidicom.open(data).pixel_array, reference)
    px = rapidicom.open(data, limits=Limits(max_jpeg_scans=2)).pixels
    with pytest.raises(LimitExceededError) as info:
        px.frame(0)
    assert_names_limit(info.value, "max_jpeg_scans")


def test_max_j2k_tiles():
    # 64 tiles of 16 x 16: more than 32, and smaller than 4096 pixels each.
    data, reference = _codec_case("JPEG2000", "1.2.840.10008.1.2.4.90", tile_size=(16, 16),
                                  irreversible=False)
    np.testing.assert_array_equal(rapidicom.open(data).pixel_array, reference)
    px = rapidicom.open(data, limits=Limits(max_j2k_tiles=32)).pixels
    with pytest.raises(LimitExceededError) as info:
        px.frame(0)
    assert_names_limit(info.value, "max_j2k_tiles")
    assert rapidicom.open(data, limits=Limits(max_j2k_tiles=64)).pixel_array.shape == (128, 128)


# ---------------------------------------------------------------------------
# The defaults read a file beyond 2 GiB
# ---------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform != "linux", reason="sparse files")
def test_defaults_read_a_multiframe_file_beyond_2_gib(tmp_path):
    """The 2.2 GiB file of test_pixels_zero_copy.py (sparse on disk), read
    with the default limits: every frame's view, and a copy of some."""
    from test_pixels_zero_copy import COLS, ROWS, _header

    frames, frame_bytes = 4500, ROWS * COLS * 2
    path = tmp_path / "huge.dcm"
    header = _header(frames, frame_bytes * frames)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + frame_bytes * frames)
        for k in (0, 2500, frames - 1):
            f.seek(len(header) + frame_bytes * k)
            f.write(np.full(ROWS * COLS, k + 1, dtype="<u2").tobytes())
    px = rapidicom.open(path).pixels
    assert px.number_of_frames * frame_bytes > 2**31
    assert Limits().max_decoded_bytes > px.number_of_frames * frame_bytes
    whole = px.to_array()
    assert whole.shape == (frames, ROWS, COLS)
    for k in (0, 2500, frames - 1):
        assert whole[k, 0, 0] == k + 1
        copy = px.frame(k, out=np.empty((ROWS, COLS), np.uint16))
        assert copy[-1, -1] == k + 1
    assert whole[1].max() == 0
    del whole, px
    path.unlink()
