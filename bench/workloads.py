"""The per-library workloads that the benchmarks time, and their verification.

Each workload takes one path (str) and returns what it read, so the very
function that is timed is also the one whose results are checked.

"open+12 attrs": open the file and read KEYWORDS (missing -> None).
  rapidicom  rapidicom.open(path) (mmap; header scan only) + Dataset.get
  pydicom    dcmread(path, stop_before_pixels=True) + Dataset.get
  dicomsdl   dicomsdl.open(path, load_until=(7FE0,000F)) + DataSet.getValues
             (its batch getter; stops before Pixel Data like pydicom)
  gdcm       gdcm.Reader.ReadSelectedTags(the 12 tags) + gdcm.StringFilter.ToString
             (values stay strings: that is what gdcm's string API gives)

"open+all values": open the file and convert every element value, recursing
into sequence items; returns the number of elements visited.
  rapidicom  rapidicom.open(path), ``for el in ds: el.value``, recurse into SQ items
  pydicom    dcmread(path) (full read), ``for elem in ds.iterall(): elem.value``
  dicomsdl   dicomsdl.open(path), ``for de in ds: de.value()`` (toSequence /
             toPixelSequence for SQ / encapsulated Pixel Data), recurse into items
             (its root DataSet also yields the File Meta elements: a few more values)
"""
from __future__ import annotations

import math
import warnings

import dicomsdl
import gdcm
import pydicom
import rapidicom
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

KEYWORDS = (
    "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID",
    "Modality", "InstanceNumber", "Rows", "Columns", "ImagePositionPatient",
    "PixelSpacing", "SliceThickness", "AcquisitionDate",
)
TAGS = tuple(pydicom.datadict.tag_for_keyword(k) for k in KEYWORDS)
# Checked against dicomsdl and gdcm (and everything against pydicom for rapidicom).
CORE = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "Rows", "Columns")

dicomsdl.set_loglevel(dicomsdl.LogLevel.DISABLE)
gdcm.Trace.SetWarning(False)
gdcm.Trace.SetDebug(False)
gdcm.Trace.SetError(False)

_RD_DATASET = rapidicom.Dataset
_SDL_SQ = dicomsdl.VR.SQ
_SDL_PIXSEQ = dicomsdl.VR.PIXSEQ
_SDL_STOP_BEFORE_PIXELS = 0x7FE0000F
_GDCM_TAGS = [gdcm.Tag(t >> 16, t & 0xFFFF) for t in TAGS]
_GDCM_TAGSET = gdcm.TagSetType()
for _t in _GDCM_TAGS:
    _GDCM_TAGSET.insert(_t)


# ---------------------------------------------------------------------------
# open + 12 attributes
# ---------------------------------------------------------------------------

def rapidicom_12(path):
    ds = rapidicom.open(path)
    get = ds.get
    return [get(k) for k in KEYWORDS]


def pydicom_12(path):
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    get = ds.get
    return [get(k) for k in KEYWORDS]


def dicomsdl_12(path):
    ds = dicomsdl.open(path, _SDL_STOP_BEFORE_PIXELS)
    return ds.getValues(list(KEYWORDS))


def gdcm_12(path):
    reader = gdcm.Reader()
    reader.SetFileName(path)
    if not reader.ReadSelectedTags(_GDCM_TAGSET):
        raise ValueError("gdcm.Reader.ReadSelectedTags returned False")
    sf = gdcm.StringFilter()
    sf.SetFile(reader.GetFile())
    to_string = sf.ToString
    return [to_string(t) for t in _GDCM_TAGS]


OPEN12 = {
    "rapidicom": rapidicom_12,
    "pydicom": pydicom_12,
    "dicomsdl": dicomsdl_12,
    "gdcm": gdcm_12,
}


# ---------------------------------------------------------------------------
# open + all values
# ---------------------------------------------------------------------------

def _rd_walk(ds):
    n = 0
    for el in ds:
        v = el.value
        n += 1
        if type(v) is list and v and type(v[0]) is _RD_DATASET:
            for item in v:
                n += _rd_walk(item)
    return n


def rapidicom_all(path):
    return _rd_walk(rapidicom.open(path))


def pydicom_all(path):
    ds = pydicom.dcmread(path)
    n = 0
    for elem in ds.iterall():
        elem.value
        n += 1
    return n


def _sdl_walk(ds):
    n = 0
    for de in ds:
        n += 1
        vr = de.vr()
        if vr == _SDL_SQ:
            seq = de.toSequence()
            for i in range(len(seq)):
                n += _sdl_walk(seq.getDataSet(i))
        elif vr == _SDL_PIXSEQ:
            de.toPixelSequence()
        else:
            de.value()
    return n


def dicomsdl_all(path):
    return _sdl_walk(dicomsdl.open(path))


ALL_VALUES = {
    "rapidicom": rapidicom_all,
    "pydicom": pydicom_all,
    "dicomsdl": dicomsdl_all,
}


def run(fn, paths):
    """One benchmark round: `fn` over every path (pydicom's warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            fn(p)


# ---------------------------------------------------------------------------
# verification (never timed)
# ---------------------------------------------------------------------------

def normalise(value):
    """Plain Python types: str / int / float / list / bytes / None."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, (MultiValue, list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _quiet(fn, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(path)


def _gdcm_core(strings):
    """gdcm's strings for CORE, as the types pydicom gives."""
    d = dict(zip(KEYWORDS, strings))
    out = []
    for k in CORE:
        s = d[k].rstrip("\x00 ")
        out.append(None if s == "" else int(s) if k in ("Rows", "Columns") else s)
    return out


def _core(values):
    """CORE values as plain types; bytes (dicomsdl gives raw bytes for some
    UIDs, e.g. when the VR is UN) are decoded and stripped of padding."""
    d = dict(zip(KEYWORDS, values))
    out = []
    for k in CORE:
        v = d[k]
        if isinstance(v, (bytes, bytearray)):
            v = bytes(v).decode("latin-1").rstrip("\x00 ")
        out.append(None if v == "" else normalise(v))
    return out


def verify_open12(paths, libraries=tuple(OPEN12)) -> list[str]:
    """Differences from pydicom: all 12 values for rapidicom, CORE for dicomsdl/gdcm."""
    problems = []
    for p in paths:
        ref = [normalise(v) for v in _quiet(pydicom_12, p)]
        for lib in libraries:
            if lib == "pydicom":
                continue
            got = _quiet(OPEN12[lib], p)
            if lib == "rapidicom":
                for k, a, b in zip(KEYWORDS, (normalise(v) for v in got), ref):
                    if not _same(a, b):
                        problems.append(f"{p}: rapidicom {k}={a!r:.80} != pydicom {b!r:.80}")
                continue
            mine = _gdcm_core(got) if lib == "gdcm" else _core(got)
            for k, a, b in zip(CORE, mine, _core(ref)):
                if not _same(a, b):
                    problems.append(f"{p}: {lib} {k}={a!r:.80} != pydicom {b!r:.80}")
    return problems


def _rd_values(ds, prefix, out):
    for el in ds:
        v = el.value
        key = f"{prefix}{el.tag:08X}"
        if el.vr == "SQ":
            out[key] = len(v)
            for i, item in enumerate(v):
                _rd_values(item, f"{key}[{i}].", out)
        else:
            out[key] = normalise(v)
    return out


def _pd_values(ds, prefix, out):
    for elem in ds:
        key = f"{prefix}{int(elem.tag):08X}"
        if elem.VR == "SQ":
            out[key] = len(elem.value)
            for i, item in enumerate(elem.value):
                _pd_values(item, f"{key}[{i}].", out)
        else:
            out[key] = normalise(elem.value)
    return out


def verify_all_values(paths, libraries=tuple(ALL_VALUES)) -> list[str]:
    """rapidicom: every value equals pydicom's (sequence items by position);
    every library: the workload visits as many elements as pydicom's iterall."""
    problems = []
    for p in paths:
        counts = {lib: _quiet(ALL_VALUES[lib], p) for lib in libraries}
        ref_count = counts.get("pydicom", _quiet(pydicom_all, p))
        for lib, n in counts.items():
            expected = ref_count
            if lib == "dicomsdl":  # its root DataSet holds the File Meta elements too
                expected += len(_quiet(lambda q: pydicom.dcmread(q, stop_before_pixels=True), p)
                                .file_meta)
            if n != expected:
                problems.append(f"{p}: {lib} visits {n} elements, expected {expected}")
        if "rapidicom" in libraries:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = _pd_values(pydicom.dcmread(p), "", {})
            ours = _rd_values(rapidicom.open(p), "", {})
            if ours.keys() != theirs.keys():
                problems.append(f"{p}: element paths differ: "
                                f"{sorted(ours.keys() ^ theirs.keys())[:6]}")
            for key in ours.keys() & theirs.keys():
                if not _same(ours[key], theirs[key]):
                    problems.append(f"{p}: {key} rapidicom {ours[key]!r:.60} "
                                    f"!= pydicom {theirs[key]!r:.60}")
    return problems
