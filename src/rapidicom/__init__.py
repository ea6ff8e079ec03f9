"""rapidicom: fast, correct DICOM parsing and pixel decoding.

>>> import rapidicom
>>> ds = rapidicom.open("image.dcm")
>>> ds.PatientName, ds["Rows"], ds.transfer_syntax
"""
from rapidicom.errors import (
    DecodeError,
    DicomError,
    InvalidDicomError,
    LimitExceededError,
    TruncatedError,
    UnsupportedError,
)
from rapidicom._core import (
    Dataset,
    Element,
    dictionary_entry,
    dictionary_vr,
    keyword_for_tag,
    open,
    tag_for_keyword,
)
from rapidicom.limits import Limits, get_default_limits, set_default_limits

from rapidicom.lut import (
    apply_modality_lut,
    apply_palette,
    apply_voi,
    apply_voi_lut,
    apply_windowing,
)
from rapidicom.pixels import Pixels, available_decoders
from rapidicom.series import SeriesError, SeriesFiles, Volume, find_series, read_series

__version__ = "0.2.0"

__all__ = [
    "Dataset",
    "DecodeError",
    "DicomError",
    "Element",
    "InvalidDicomError",
    "LimitExceededError",
    "Limits",
    "Pixels",
    "SeriesError",
    "SeriesFiles",
    "TruncatedError",
    "UnsupportedError",
    "Volume",
    "apply_modality_lut",
    "apply_palette",
    "apply_voi",
    "apply_voi_lut",
    "apply_windowing",
    "available_decoders",
    "dictionary_entry",
    "dictionary_vr",
    "find_series",
    "get_default_limits",
    "keyword_for_tag",
    "open",
    "read_series",
    "set_default_limits",
    "tag_for_keyword",
]
