"""Transfer syntax UIDs the benchmarks group files by.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR_LOSSLESS = "1.2.840.10008.1.2.4.81"
JPEG_2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
JPEG_2000 = "1.2.840.10008.1.2.4.91"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
HTJ2K_LOSSLESS_RPCL = "1.2.840.10008.1.2.4.202"
HTJ2K = "1.2.840.10008.1.2.4.203"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
DEFLATED_IMAGE_FRAME = "1.2.840.10008.1.2.8.1"

# Pixel Data stored as is: the dataset's encoding decides, nothing is decoded.
NATIVE = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN,
                    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN})

# Streams that two correct decoders may decode to slightly different values.
LOSSY = frozenset({JPEG_BASELINE, JPEG_EXTENDED, JPEG_LS_NEAR_LOSSLESS, JPEG_2000, HTJ2K})

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float


def pixel_syntax(ds) -> str | None:
    """The transfer syntax of `ds`'s pixel data, or None when it has none.

    A dataset without a Transfer Syntax UID (no File Meta) is named after
    the encoding it was read in.
    """
    if not any(tag in ds for tag in PIXEL_DATA_TAGS):
        return None
    ts = ds.transfer_syntax
    if ts:
        return ts
    if not ds.is_little_endian:
        return EXPLICIT_VR_BIG_ENDIAN
    return IMPLICIT_VR_LITTLE_ENDIAN if ds.is_implicit_vr else EXPLICIT_VR_LITTLE_ENDIAN
