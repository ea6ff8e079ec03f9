"""Pixels of every corpus file whose transfer syntax this build decodes,
against pydicom 3 (with its default plugins: GDCM first, then pylibjpeg).

For each file: ``ds.pixel_array`` must have pydicom's shape, dtype and values
-- bit-exact for lossless syntaxes, and for lossy ones within the tolerance
given per syntax with the reference named -- ``frame(i)`` must equal the
i-th frame, and ``to_array`` must give the same with 1 and 2 threads.
"""
from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest

import rapidicom
from corpus import file_id, opened_files

DECODED = set(rapidicom.available_decoders())

# Lossy syntaxes: allowed max |difference| from pydicom's pixel_array.
# JPEG baseline/extended: our libjpeg-turbo decode equals GDCM's (pydicom's
# default plugin) exactly; both use libjpeg's islow IDCT and upsampling.
LOSSY_TOLERANCE = {
    "1.2.840.10008.1.2.4.50": 0,
    "1.2.840.10008.1.2.4.51": 0,
}

# Corpus files this build does not decode, with the reason (they must raise
# UnsupportedError, not be skipped silently).
UNSUPPORTED: dict[str, str] = {}

# 12-bit JPEG extended: pydicom's GDCM plugin refuses 12-bit samples, so its
# pixel_array comes from pylibjpeg-libjpeg, whose IDCT differs from IJG's
# "islow" by at most 1.  Our decoder implements islow and is bit-exact with
# GDCM's own decode (tests/test_jpeg12_kernel.py).
LOSSY_TOLERANCE["1.2.840.10008.1.2.4.51/12"] = 1

# Files pydicom refuses that we decode, with the reason and what decides.
PYDICOM_REFUSES_WE_DECODE = {
    "test_files/JPEG-lossy.dcm":
        "the SOS segment says Se = 0 (T.81 asks 63 for sequential DCT, where the value "
        "selects nothing); IJG libjpeg and GDCM decode it, pylibjpeg refuses.  It is "
        "JPGExtended.dcm's codestream otherwise, and must decode to the same pixels.",
}

# Lossy JPEG 2000: our openjpeg decode, GDCM (pydicom's default plugin) and
# pylibjpeg-openjpeg agree exactly on every corpus frame.
LOSSY_TOLERANCE["1.2.840.10008.1.2.4.91"] = 0
# Near-lossless JPEG-LS: CharLS (ours), GDCM, pylibjpeg-libjpeg and pyjpegls
# agree exactly on the corpus (the decoder is deterministic given NEAR).
LOSSY_TOLERANCE["1.2.840.10008.1.2.4.81"] = 0

# Files whose pixel data pydicom refuses, with its reason; rapidicom must
# refuse them too (with a DicomError) unless noted.
PYDICOM_REFUSES: dict[str, str] = {}


def _pixel_files():
    out = []
    for path, ds in opened_files():
        if not any(t in ds for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
            continue
        ts = ds.transfer_syntax or "1.2.840.10008.1.2"
        if ts in DECODED:
            out.append(path)
    return out


FILES = _pixel_files()


def _reference(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            # pydicom refuses pixel data without a Transfer Syntax UID; give it
            # the one the dataset's encoding shows (as pydicom itself read it).
            ds.file_meta.TransferSyntaxUID = (
                pydicom.uid.ImplicitVRLittleEndian if ds.original_encoding[0]
                else pydicom.uid.ExplicitVRLittleEndian if ds.original_encoding[1]
                else pydicom.uid.ExplicitVRBigEndian)
        return ds.pixel_array


def test_corpus_has_native_and_rle_files():
    assert len(FILES) > 60


@pytest.mark.parametrize("path", FILES, ids=[file_id(p) for p in FILES])
def test_pixel_array_matches_pydicom(path):
    if file_id(path) in UNSUPPORTED:
        with pytest.raises(rapidicom.UnsupportedError):
            rapidicom.open(path).pixel_array
        return
    if file_id(path) in PYDICOM_REFUSES_WE_DECODE:
        twin = path.with_name("JPGExtended.dcm")
        assert np.array_equal(rapidicom.open(path).pixel_array,
                              rapidicom.open(twin).pixel_array)
        return
    try:
        expected = _reference(path)
    except Exception as exc:  # pydicom cannot decode it
        with pytest.raises(rapidicom.DicomError):
            rapidicom.open(path).pixel_array
        PYDICOM_REFUSES[file_id(path)] = repr(exc)
        return
    ds = rapidicom.open(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ds.pixel_array
    assert ours.shape == expected.shape
    # pydicom gives big-endian data a big-endian dtype ('>u2'); rapidicom's
    # output contract is native byte order.  Kind, size and values must match.
    assert ours.dtype == expected.dtype.newbyteorder("=")
    key = ds.transfer_syntax
    if key == "1.2.840.10008.1.2.4.51" and ds.pixels.bits_allocated > 8:
        key += "/12"
    tolerance = LOSSY_TOLERANCE.get(key, 0)
    if tolerance == 0:
        assert np.array_equal(ours, expected)
    else:
        diff = np.abs(ours.astype(np.int64) - expected.astype(np.int64)).max()
        assert diff <= tolerance
    expected = ours if tolerance else expected  # frames below compare with ours

    px = ds.pixels
    frames = expected if px.number_of_frames > 1 else expected[np.newaxis]
    for i in range(px.number_of_frames):
        assert np.array_equal(px.frame(i), frames[i]), f"frame {i}"
    if px.number_of_frames > 1:
        assert np.array_equal(px.to_array(threads=2), frames)
        assert np.array_equal(px.to_array(threads=1), frames)
