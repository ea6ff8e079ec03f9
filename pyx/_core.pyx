# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin bindings over the C scanner: buffers, the element index, Dataset and
Element.  Values are converted only when asked for; bytes values are
read-only views of the scanned memory.

Lifetime: every view (a bytes value, a Dataset, an Element) keeps the
BufferOwner alive through its _Index, so the mapping outlives the Dataset
that made it.  Dataset.close() drops the Dataset's own reference only.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int16_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, strlen
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE,
                             PyBUF_WRITABLE, PyBuffer_FillInfo)
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_DecodeASCII
from posix.mman cimport mmap, munmap, PROT_READ, MAP_PRIVATE, MAP_FAILED
from posix.fcntl cimport open as posix_open, O_RDONLY
from posix.unistd cimport close as posix_close, pread
from libc.stdlib cimport malloc, free
from libc.errno cimport errno
from posix.stat cimport struct_stat, fstat

cimport rapidicom_c as c
from rapidicom_c cimport rd_index, rd_record, rd_error, rd_status, rd_scan_options

import os
import re
import struct

from rapidicom import errors as _errors
from rapidicom import charset as _charset

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

_ERROR_CLASSES = {
    c.RD_ERR_TRUNCATED: _errors.TruncatedError,
    c.RD_ERR_INVALID: _errors.InvalidDicomError,
    c.RD_ERR_LIMIT: _errors.LimitExceededError,
    c.RD_ERR_UNSUPPORTED: _errors.UnsupportedError,
    c.RD_ERR_DECODE: _errors.DecodeError,
    c.RD_ERR_NOT_DICOM: _errors.InvalidDicomError,
}


cdef str _tag_str(uint32_t tag):
    return "(%04X,%04X)" % (tag >> 16, tag & 0xFFFF)


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

# Every resource limit: its rapidicom.Limits field, the field of the C
# options struct that carries it ("" when only the pixel engine checks it),
# and its default, the RD_DEFAULT_* table of rapidicom.h.
LIMIT_TABLE = (
    ("max_depth", "max_depth", c.RD_DEFAULT_MAX_DEPTH),
    ("max_elements", "max_elements", c.RD_DEFAULT_MAX_ELEMENTS),
    ("max_inflated", "max_inflated", c.RD_DEFAULT_MAX_INFLATED),
    ("max_frames", "", c.RD_DEFAULT_MAX_FRAMES),
    ("max_frame_pixels", "max_pixels", c.RD_DEFAULT_MAX_PIXELS),
    ("max_decoded_bytes", "", c.RD_DEFAULT_MAX_DECODED_BYTES),
    ("max_jpeg_scans", "max_scans", c.RD_DEFAULT_MAX_JPEG_SCANS),
    ("max_j2k_tiles", "max_tiles", c.RD_DEFAULT_MAX_J2K_TILES),
)
_LIMIT_OF_C_FIELD = {cname: name for name, cname, _ in LIMIT_TABLE if cname}
# C messages end a limit failure with "(limit <C field>)" (rapidicom.h).
_C_LIMIT_MENTION = re.compile(r"\(limit (\w+)\)")


def limit_of_message(str message):
    """The rapidicom.Limits field a C limit failure names, or None."""
    m = _C_LIMIT_MENTION.search(message)
    return _LIMIT_OF_C_FIELD.get(m.group(1)) if m else None


# The process-wide default Limits and its scan options, set by
# rapidicom.limits when the package is imported (and by set_default_limits).
cdef object _limits_class = None
cdef object _default_limits = None
cdef rd_scan_options _default_scan


def _set_default_limits(limits):
    """Make `limits` (a rapidicom.Limits) the default of open()."""
    global _limits_class, _default_limits, _default_scan
    _limits_class = type(limits)
    _default_scan = _limit_scan_options(limits)
    _default_limits = limits


def _get_default_limits():
    return _default_limits


cdef rd_scan_options _limit_scan_options(object limits) except *:
    cdef rd_scan_options opt
    c.rd_scan_options_default(&opt)
    opt.max_depth = limits.max_depth
    opt.max_elements = limits.max_elements
    opt.max_inflated = limits.max_inflated
    return opt


# Limits derived with the max_depth / max_inflated keywords, by (limits,
# max_depth, max_inflated): building and validating a new Limits costs more
# than a whole small open().  Kept small; a miss only costs that building.
cdef dict _keyword_limits = {}


cdef object _open_limits(object limits, object max_depth, object max_inflated):
    """The Limits of one open() call: `limits` or the default, with the
    older max_depth / max_inflated keywords applied on top."""
    if limits is None:
        if _default_limits is None:
            import rapidicom.limits  # sets the defaults on import
        limits = _default_limits
    elif not isinstance(limits, _limits_class):
        raise TypeError("limits must be a rapidicom.Limits, not %s" % type(limits).__name__)
    if max_depth is None and max_inflated is None:
        return limits
    key = (limits, type(max_depth), max_depth, type(max_inflated), max_inflated)
    derived = _keyword_limits.get(key)
    if derived is None:
        changes = {}
        if max_depth is not None:
            changes["max_depth"] = max_depth
        if max_inflated is not None:
            changes["max_inflated"] = max_inflated
        derived = limits.replace(**changes)
        if len(_keyword_limits) >= 64:
            _keyword_limits.clear()
        _keyword_limits[key] = derived
    return derived


cdef object _make_error(rd_error *err, object name, str prefix=""):
    """The exception for a failed scan; `prefix` is the path of the element
    whose value was scanned (for sequences parsed on demand)."""
    if err.code == c.RD_ERR_NOMEM:
        return MemoryError(err.msg.decode("utf-8", "replace"))
    cls = _ERROR_CLASSES.get(err.code, _errors.InvalidDicomError)
    msg = err.msg.decode("utf-8", "replace")
    path = prefix + err.path.decode("ascii", "replace")
    tag = None if err.tag == c.RD_NO_TAG else err.tag
    where = "at offset %d" % err.offset
    if path or tag is not None:
        where += " in " + path + (_tag_str(err.tag) if tag is not None else "")
    if name:
        where += " of " + str(name)
    if cls is _errors.LimitExceededError:
        return cls("%s (%s)" % (msg, where), offset=err.offset, tag=tag, path=path,
                   limit=limit_of_message(msg))
    return cls("%s (%s)" % (msg, where), offset=err.offset, tag=tag, path=path)


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------

cdef class BufferOwner:
    """The scanned memory: a read-only mapping of a file or a borrowed buffer."""

    def __init__(self):
        raise TypeError("BufferOwner objects are created by rapidicom.open()")

    def __dealloc__(self):
        if self.mapping != NULL:
            munmap(self.mapping, self.mapping_size)
            self.mapping = NULL
        if self.heap != NULL:
            free(self.heap)
            self.heap = NULL
        if self.view_acquired:
            PyBuffer_Release(&self.view)
            self.view_acquired = False

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("rapidicom buffers are read-only")
        cdef const uint8_t *p = self.ptr if self.ptr != NULL else <const uint8_t *>b""
        PyBuffer_FillInfo(buffer, self, <void *>p, <Py_ssize_t>self.size, 1, flags)

    @property
    def nbytes(self):
        return self.size

    @property
    def is_mapped(self):
        return self.mapping != NULL


# Files up to this size are read into memory: one read() costs less than
# setting up, faulting in and tearing down a mapping (most DICOM headers and
# many whole files are a few KiB).  Larger files are mapped, so opening them
# never reads the pixel data.
DEF SMALL_FILE = 65536


cdef BufferOwner _owner_from_fd(int fd, object name):
    cdef struct_stat st
    cdef BufferOwner owner = BufferOwner.__new__(BufferOwner)
    cdef void *m
    cdef uint8_t *heap
    cdef Py_ssize_t got, n, r
    owner.name = name
    if fstat(fd, &st) != 0:
        raise OSError("cannot stat %s" % (name,))
    if 0 < st.st_size <= SMALL_FILE:
        n = <Py_ssize_t>st.st_size
        heap = <uint8_t *>malloc(n)
        if heap == NULL:
            raise MemoryError()
        owner.heap = heap
        got = 0
        with nogil:
            while got < n:
                r = pread(fd, heap + got, n - got, got)
                if r <= 0:
                    break
                got += r
        if got != n:
            raise OSError("cannot read %s" % (name,))
        owner.ptr = heap
        owner.size = <uint64_t>n
    elif st.st_size > 0:
        with nogil:
            m = mmap(NULL, <size_t>st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
        if m == MAP_FAILED:
            raise OSError("cannot map %s" % (name,))
        owner.mapping = m
        owner.mapping_size = <uint64_t>st.st_size
        owner.ptr = <const uint8_t *>m
        owner.size = <uint64_t>st.st_size
    return owner


cdef extern from "Python.h":
    bytes PyUnicode_EncodeFSDefault(object unicode)


cdef BufferOwner _owner_from_path(object path):
    cdef bytes fs = PyUnicode_EncodeFSDefault(path) if isinstance(path, str) else bytes(path)
    cdef const char *cpath = fs
    cdef int fd
    with nogil:
        fd = posix_open(cpath, O_RDONLY)
    if fd < 0:
        # OSError(errno, ...) becomes FileNotFoundError, PermissionError, ...
        raise OSError(errno, os.strerror(errno), path)
    try:
        return _owner_from_fd(fd, path)
    finally:
        posix_close(fd)


cdef BufferOwner _owner_from_buffer(object obj):
    cdef BufferOwner owner = BufferOwner.__new__(BufferOwner)
    PyObject_GetBuffer(obj, &owner.view, PyBUF_SIMPLE)
    owner.view_acquired = True
    owner.ptr = <const uint8_t *>owner.view.buf
    owner.size = <uint64_t>owner.view.len
    # view.obj holds the reference that keeps `obj` alive.
    return owner


cdef BufferOwner _owner_from_source(object source):
    if isinstance(source, str):
        return _owner_from_path(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _owner_from_buffer(source)
    if hasattr(type(source), "__fspath__"):
        return _owner_from_path(os.fspath(source))
    if hasattr(source, "read"):
        fileno = getattr(source, "fileno", None)
        if fileno is not None:
            try:
                fd = fileno()
                pos = source.tell()
            except Exception:
                fd = -1
            if fd >= 0 and pos == 0:
                return _owner_from_fd(fd, getattr(source, "name", None))
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("file object must be opened in binary mode")
        return _owner_from_buffer(data)
    try:
        return _owner_from_buffer(source)
    except TypeError:
        raise TypeError("rapidicom.open() takes a path, bytes-like object or binary "
                        "file, not %s" % type(source).__name__) from None


# ---------------------------------------------------------------------------
# Index
# ---------------------------------------------------------------------------

cdef class _Index:

    def __init__(self):
        raise TypeError("_Index objects are created by rapidicom.open()")

    def __dealloc__(self):
        c.rd_index_free(self.ptr)
        self.ptr = NULL

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("rapidicom buffers are read-only")
        cdef const uint8_t *p = self.ptr.data if self.ptr.data != NULL else <const uint8_t *>b""
        PyBuffer_FillInfo(buffer, self, <void *>p, <Py_ssize_t>self.ptr.size, 1, flags)

    cdef object memory(self):
        # A new view each time: caching it on self would make a reference
        # cycle (index -> view -> index) that only the garbage collector
        # could free, keeping whole files in memory until it runs.
        return memoryview(self)


cdef rd_scan_options _options(bint lenient, object limits) except *:
    cdef rd_scan_options opt
    if limits is _default_limits:
        opt = _default_scan
    else:
        opt = _limit_scan_options(limits)
    if lenient:
        opt.flags |= c.RD_SCAN_LENIENT
    return opt


def open(source, *, bint lenient=False, limits=None, max_depth=None, max_inflated=None):
    """Open DICOM data and index its elements without copying them.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file
        A path is memory-mapped; a buffer is borrowed (not copied) and must
        not change while the dataset is in use.
    lenient : bool, optional
        Accept values that run past the end of the data (clamped, with
        ``ds.warnings`` noting it) instead of raising.
    limits : rapidicom.Limits, optional
        Resource limits for scanning this data and decoding its pixels
        (default: ``rapidicom.get_default_limits()``); see docs/LIMITS.md.
    max_depth : int, optional
        Shorthand for ``limits.max_depth``, the maximum sequence nesting
        depth (default 64).
    max_inflated : int, optional
        Shorthand for ``limits.max_inflated``, the maximum size in bytes of
        a deflated dataset once inflated (default 4 GiB).

    Returns
    -------
    Dataset

    Raises
    ------
    rapidicom.DicomError
        When the data is not valid DICOM; the message names the byte
        offset and the element path.  A limit that is exceeded raises
        LimitExceededError, whose ``.limit`` names the Limits field.

        .. versionchanged:: 0.2.0
           ``limits`` added.
    """
    limits = _open_limits(limits, max_depth, max_inflated)
    cdef rd_scan_options opt = _options(lenient, limits)
    cdef BufferOwner owner = _owner_from_source(source)
    cdef rd_index *index = NULL
    cdef rd_error err
    cdef rd_status status
    cdef const uint8_t *ptr = owner.ptr
    cdef uint64_t size = owner.size
    with nogil:
        status = c.rd_scan_file(ptr, size, &opt, &index, &err)
    if status != c.RD_OK:
        raise _make_error(&err, owner.name)
    cdef _Index idx = _Index.__new__(_Index)
    idx.ptr = index
    idx.base = owner
    idx.opt = opt
    idx.limits = limits
    cdef Dataset ds = _new_dataset(idx, c.RD_ROOT, None,
                                   (index.flags & c.RD_IDX_IMPLICIT_VR) != 0,
                                   (index.flags & c.RD_IDX_BIG_ENDIAN) == 0)
    return ds


cdef _Index _sub_index(_Index idx, uint32_t rec, bint implicit, bint little,
                       uint32_t depth):
    """Parse a value found to be a sequence after the scan (private SQ, UN).
    `depth` is the nesting depth of the dataset holding it: the sequence
    counts towards the same max_depth as the rest of the file."""
    cdef _Index sub
    if idx.sub_indexes is None:
        idx.sub_indexes = {}
    sub = idx.sub_indexes.get(rec)
    if sub is not None:
        return sub
    cdef rd_record *r = &idx.ptr.records[rec]
    cdef rd_index *out = NULL
    cdef rd_error err
    cdef rd_status status
    cdef rd_scan_options opt = idx.opt
    opt.max_depth = opt.max_depth - depth if opt.max_depth > depth else 0
    cdef uint64_t length = r.length
    if r.flags & c.RD_REC_UNDEFINED_LENGTH:
        length = 0xFFFFFFFF
    with nogil:
        status = c.rd_scan_sequence(idx.ptr.data, idx.ptr.size, r.value_offset, length,
                                    implicit, little, &opt, &out, &err)
    if status != c.RD_OK:
        raise _make_error(&err, None, _tag_str(idx.ptr.records[rec].tag))
    sub = _Index.__new__(_Index)
    sub.ptr = out
    sub.base = idx
    sub.opt = idx.opt
    sub.limits = idx.limits
    idx.sub_indexes[rec] = sub
    return sub


# ---------------------------------------------------------------------------
# Dictionary
# ---------------------------------------------------------------------------

cdef dict _KEYWORD_TO_TAG = {}
cdef dict _TAG_TO_KEYWORD = {}


cdef _build_keyword_tables():
    cdef size_t i
    cdef const c.rd_dict_entry *e
    for i in range(c.rd_dict_count()):
        e = c.rd_dict_at(i)
        kw = e.keyword.decode("ascii")
        if kw:
            _KEYWORD_TO_TAG[kw] = e.tag
            _TAG_TO_KEYWORD[e.tag] = kw


_build_keyword_tables()


def tag_for_keyword(str keyword):
    """Return the tag of a DICOM keyword, or None."""
    return _KEYWORD_TO_TAG.get(keyword)


def keyword_for_tag(uint32_t tag):
    """Return the keyword of a tag ('' for unknown tags and repeaters)."""
    kw = _TAG_TO_KEYWORD.get(tag)
    if kw is not None:
        return kw
    cdef const c.rd_dict_entry *e = c.rd_dict_find(tag)
    return e.keyword.decode("ascii") if e != NULL else ""


def dictionary_vr(uint32_t tag):
    """The VR the data dictionary gives a tag (may be ambiguous, "US or SS")."""
    cdef const c.rd_dict_entry *e = c.rd_dict_find(tag)
    return e.vr.decode("ascii") if e != NULL else None


def dictionary_entry(uint32_t tag):
    """(VR, VM, name, keyword, retired) for a tag, or None."""
    cdef const c.rd_dict_entry *e = c.rd_dict_find(tag)
    if e == NULL:
        return None
    return (e.vr.decode("ascii"), e.vm.decode("ascii"), e.name.decode("utf-8"),
            e.keyword.decode("ascii"), bool(e.retired))


cdef inline uint32_t _tag_of(object key) except? 0xFFFFFFFF:
    """Tag from an int, a (group, element) pair or a keyword; RD_NONE if unknown."""
    if isinstance(key, str):
        t = _KEYWORD_TO_TAG.get(key)
        return c.RD_NONE if t is None else <uint32_t>t
    if isinstance(key, int):
        if key < 0 or key > 0xFFFFFFFF:
            raise ValueError("tag out of range: %r" % (key,))
        return <uint32_t>key
    if isinstance(key, tuple) and len(key) == 2:
        g, e = key
        if not (0 <= g <= 0xFFFF and 0 <= e <= 0xFFFF):
            raise ValueError("tag out of range: %r" % (key,))
        return (<uint32_t>g << 16) | <uint32_t>e
    raise TypeError("a tag is an int, a (group, element) tuple or a keyword, not %s"
                    % type(key).__name__)


# ---------------------------------------------------------------------------
# Value conversion
# ---------------------------------------------------------------------------

# Tags whose VR is "US or SS" and depends on Pixel Representation.
_US_SS_TAGS = frozenset((
    0x00189810, 0x00221452, 0x00280104, 0x00280105, 0x00280106, 0x00280107,
    0x00280108, 0x00280109, 0x00280110, 0x00280111, 0x00280120, 0x00280121,
    0x00281101, 0x00281102, 0x00281103, 0x00283002, 0x00409211, 0x00409216,
    0x00603004, 0x00603006))
_WAVEFORM_OB_OW_TAGS = frozenset((0x54000110, 0x54000112, 0x5400100A, 0x54001010))
_LUT_DESCRIPTOR_TAGS = frozenset((0x00281101, 0x00281102, 0x00281103, 0x00283002))
_TEXT_EMPTY_STR = frozenset(("AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH",
                             "ST", "TM", "UC", "UI", "UR", "UT"))
_STRUCT_FORMATS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d",
                   "SV": "q", "UV": "Q"}
_BYTES_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "UN"))


# Conversion kinds, so that values dispatch on a C switch, not string compares.
cdef enum Kind:
    K_BYTES = 0
    K_UI
    K_STR
    K_US
    K_IS
    K_DS
    K_NUMBERS
    K_TEXT
    K_SINGLE_TEXT
    K_PN
    K_AE
    K_UR
    K_AT
    K_SQ

_KIND = {
    "UI": K_UI, "CS": K_STR, "DA": K_STR, "TM": K_STR, "DT": K_STR, "AS": K_STR,
    "US": K_US, "IS": K_IS, "DS": K_DS, "SS": K_NUMBERS, "UL": K_NUMBERS,
    "SL": K_NUMBERS, "FL": K_NUMBERS, "FD": K_NUMBERS, "SV": K_NUMBERS,
    "UV": K_NUMBERS, "SH": K_TEXT, "LO": K_TEXT, "UC": K_TEXT, "ST": K_SINGLE_TEXT,
    "LT": K_SINGLE_TEXT, "UT": K_SINGLE_TEXT, "PN": K_PN, "AE": K_AE, "UR": K_UR,
    "AT": K_AT, "SQ": K_SQ,
}

# Interned standard VR strings indexed by their two letters (26 x 26), so
# that reading a VR never builds a new string.
cdef list _VR_TABLE = [None] * (26 * 26)
for _vr_name in ("AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL "
                 "SQ SS ST SV TM UC UI UL UN UR US UT UV").split():
    _VR_TABLE[(ord(_vr_name[0]) - 65) * 26 + ord(_vr_name[1]) - 65] = _vr_name


cdef inline object _standard_vr(const char *vr):
    """The interned VR string for two letters, or None when not a standard VR."""
    cdef int a = vr[0] - 65, b = vr[1] - 65
    if 0 <= a < 26 and 0 <= b < 26:
        return _VR_TABLE[a * 26 + b]
    return None


cdef str _dict_vr_str(const c.rd_dict_entry *e):
    if e.vr[0] != 0 and e.vr[1] != 0 and e.vr[2] == 0:
        vr = _standard_vr(e.vr)
        if vr is not None:
            return vr
    return e.vr.decode("ascii")


cdef inline bint _is_private(uint32_t tag):
    return (tag >> 16) & 1


cdef object _private_vr(Dataset ds, uint32_t tag):
    """VR of a private tag from its Private Creator, like pydicom: LO for the
    creator itself, the private dictionary's VR, else UN."""
    cdef uint32_t elem = tag & 0xFFFF
    if 0x0010 <= elem <= 0x00FF:
        return "LO"
    if elem & 0xFF00:
        creator = ds._raw_text((tag & 0xFFFF0000) | (elem >> 8))
        if creator:
            enc = creator.encode("latin-1", "replace")
            vr = c.rd_private_dict_vr(enc, len(enc), tag)
            if vr != NULL:
                return vr.decode("ascii")
    return "UN"


cdef inline bint _plain_ascii(const uint8_t *p, uint64_t n) nogil:
    """True when every byte is 7-bit and none is ESC: every character set a
    DICOM file can name then decodes the bytes as ASCII."""
    cdef uint64_t i
    for i in range(n):
        if p[i] >= 0x80 or p[i] == 0x1B:
            return False
    return True


cdef inline str _latin1(const uint8_t *p, uint64_t n):
    return PyUnicode_DecodeLatin1(<const char *>p, <Py_ssize_t>n, NULL)


cdef object _multi(str s, object valtype):
    """pydicom's multi_string: strip trailing spaces/NULs, split on backslash."""
    s = s.rstrip(" \x00")
    if "\\" not in s:
        return valtype(s) if valtype is not None else s
    items = s.split("\\")
    if len(items) == 1:
        return valtype(items[0]) if valtype is not None else items[0]
    if valtype is None:
        return items
    return [valtype(x) for x in items]


cdef object _split_text(str s):
    """SH/LO/UC text: split on backslash, trailing NULs and spaces removed."""
    if "\\" not in s:
        return s.rstrip("\x00 ")
    return [x.rstrip("\x00 ") for x in s.split("\\")]


cdef object _ds_value(str s):
    """DS item: a float; blank or unparseable text stays text, as in pydicom."""
    if s.strip() == "":
        return s
    try:
        return float(s)
    except ValueError:
        return s


cdef object _is_value(str s):
    """IS item: an int ("1.0" accepted), a float when not integral, else text."""
    if s.strip() == "":
        return s
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        return s
    return int(f) if f == int(f) else f


cdef inline uint64_t _load(const uint8_t *p, int size, bint little) nogil:
    """An unsigned integer of `size` bytes in the given byte order."""
    cdef uint64_t v = 0
    cdef int i
    if little:
        for i in range(size - 1, -1, -1):
            v = (v << 8) | p[i]
    else:
        for i in range(size):
            v = (v << 8) | p[i]
    return v


cdef object _number(const uint8_t *p, char code, bint little):
    cdef uint64_t v
    cdef uint32_t u32
    cdef float f32
    cdef double f64
    if code == b"H":
        return <uint16_t>_load(p, 2, little)
    if code == b"h":
        return <int16_t><uint16_t>_load(p, 2, little)
    if code == b"L":
        return <uint32_t>_load(p, 4, little)
    if code == b"l":
        return <int32_t><uint32_t>_load(p, 4, little)
    if code == b"Q":
        return _load(p, 8, little)
    if code == b"q":
        return <int64_t>_load(p, 8, little)
    if code == b"f":
        u32 = <uint32_t>_load(p, 4, little)
        memcpy(&f32, &u32, 4)
        return f32
    v = _load(p, 8, little)
    memcpy(&f64, &v, 8)
    return f64


cdef object _numbers(const uint8_t *p, uint64_t n, str vr, bint little, rd_record *r):
    """Binary numbers (US SS UL SL FL FD SV UV): one value, or a list."""
    cdef str fmt = _STRUCT_FORMATS[vr]
    cdef char code = ord(fmt)
    cdef uint64_t size = 2 if code in b"Hh" else (4 if code in b"Llf" else 8)
    cdef uint64_t i
    if n % size:
        raise _errors.InvalidDicomError(
            "value of %d bytes is not a multiple of %d for VR %s (at offset %d in %s)"
            % (n, size, vr, r.offset, _tag_str(r.tag)), offset=r.offset, tag=r.tag)
    if n == size:
        return _number(p, code, little)
    return [_number(p + i, code, little) for i in range(0, n, size)]


cdef object _tags(const uint8_t *p, uint64_t n, bint little):
    cdef uint64_t i
    cdef uint32_t g, e
    out = []
    for i in range(0, n - n % 4, 4):
        if little:
            g = p[i] | (p[i + 1] << 8)
            e = p[i + 2] | (p[i + 3] << 8)
        else:
            g = (p[i] << 8) | p[i + 1]
            e = (p[i + 2] << 8) | p[i + 3]
        out.append((g << 16) | e)
    if n == 4:
        return out[0]
    return out


# ---------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------

cdef Dataset _new_dataset(_Index idx, uint32_t container, Dataset parent,
                          bint implicit_vr, bint little_endian):
    cdef Dataset ds = Dataset.__new__(Dataset)
    ds.idx = idx
    ds.container = container
    ds.parent = parent
    ds.implicit_vr = implicit_vr
    ds.little_endian = little_endian
    return ds


cdef class Dataset:
    """A DICOM dataset backed by the element index of a scanned buffer.

    Values are converted when read.  Bytes values (OB, OW, UN, ...) are
    read-only memoryviews of the scanned memory: they keep it alive and
    reflect it; use ``bytes(value)`` to detach a copy.
    """

    def __init__(self):
        raise TypeError("Dataset objects are created by rapidicom.open()")

    # -- list of direct children ------------------------------------------

    cdef void _children(self, const uint32_t **files, const uint32_t **sorted_,
                               uint32_t *count):
        cdef rd_index *ix = self.idx.ptr
        cdef uint32_t start
        if self.container == c.RD_ROOT:
            start = ix.root_start
            count[0] = ix.root_count
        elif self.container == c.RD_META:
            start = ix.meta_start
            count[0] = ix.meta_count
        else:
            start = ix.records[self.container].child_start
            count[0] = ix.records[self.container].child_count
        files[0] = ix.children + start
        sorted_[0] = ix.sorted + start

    cdef uint32_t _find(self, uint32_t tag):
        return c.rd_index_find(self.idx.ptr, self.container, tag)

    cdef bint _record_implicit(self, uint32_t rec):
        return (self.idx.ptr.records[rec].flags & c.RD_REC_IMPLICIT_VR) != 0

    cdef bint _record_little(self, uint32_t rec):
        return (self.idx.ptr.records[rec].flags & c.RD_REC_BIG_ENDIAN) == 0

    cdef str _raw_text(self, uint32_t tag):
        """A tag's value as stripped latin-1 text, or None (no conversion rules)."""
        cdef uint32_t rec = self._find(tag)
        if rec == c.RD_NONE:
            return None
        cdef rd_record *r = &self.idx.ptr.records[rec]
        return _latin1(self.idx.ptr.data + r.value_offset, r.length).strip(" \x00")

    # -- character sets -------------------------------------------------

    @property
    def encodings(self):
        """Python codec names for the text values of this dataset."""
        if self._encodings is None:
            rec = self._find(0x00080005)
            if rec != c.RD_NONE:
                value = self._value(rec)
                self._encodings = tuple(_charset.python_encodings(value))
            elif self.parent is not None:
                self._encodings = self.parent.encodings
            else:
                self._encodings = _charset.DEFAULT_ENCODINGS
        return self._encodings

    # -- VR resolution ----------------------------------------------------

    cdef str _vr(self, uint32_t rec):
        """The VR of a record as pydicom reports it after reading."""
        cdef rd_record *r = &self.idx.ptr.records[rec]
        cdef uint32_t tag = r.tag
        cdef const c.rd_dict_entry *e
        cdef str vr
        if r.flags & c.RD_REC_SEQUENCE:
            return "SQ"
        if r.vr[0] != 0:
            vr = _standard_vr(r.vr)
            if vr is None:
                return PyUnicode_DecodeLatin1(r.vr, 2, NULL)
            if vr != "UN":
                return vr
            # UN with a known VR is read as that VR.
            if _is_private(tag):
                vr = _private_vr(self, tag)
            elif r.length < 0xFFFF:
                e = c.rd_dict_find(tag)
                if e != NULL:
                    vr = _dict_vr_str(e)
        else:
            e = c.rd_dict_find(tag)
            if e != NULL:
                vr = _dict_vr_str(e)
            elif _is_private(tag):
                vr = _private_vr(self, tag)
            elif (tag & 0xFFFF) == 0:
                vr = "UL"
            else:
                vr = "UN"
        if len(vr) > 2:
            vr = self._resolve_ambiguous(rec, vr)
        return vr

    cdef object _int_attr(self, uint32_t tag):
        rec = self._find(tag)
        if rec == c.RD_NONE:
            return None
        return self._value(rec)

    cdef str _resolve_ambiguous(self, uint32_t rec, str vr):
        cdef rd_record *r = &self.idx.ptr.records[rec]
        cdef uint32_t tag = r.tag
        if tag == 0x7FE00010:
            if r.flags & c.RD_REC_UNDEFINED_LENGTH:
                return "OB"
            if self.implicit_vr:
                return "OW"
            bits = self._int_attr(0x00280100)
            return "OW" if bits is not None and bits > 8 else "OB"
        if tag in _US_SS_TAGS:
            return "US" if self._pixel_representation() == 0 else "SS"
        if tag in _WAVEFORM_OB_OW_TAGS:
            if self.implicit_vr:
                return "OW"
            bits = self._int_attr(0x003A021A)
            return "OW" if bits is not None and bits > 8 else "OB"
        if tag == 0x00283006:
            desc = self._int_attr(0x00283002)
            if isinstance(desc, list) and desc and desc[0] == 1:
                return "US"
            return "OW"
        if (tag & 0xFFE1FFFF) == 0x60003000 and (tag >> 16) <= 0x601E:
            return "OW"
        return vr

    cdef int _pixel_representation(self):
        """Pixel Representation governing this dataset: its own, else the
        nearest ancestor's, else 0 unless Pixel Data without it is present."""
        cdef Dataset d = self
        while d is not None:
            rec = d._find(0x00280103)
            if rec != c.RD_NONE:
                v = d._value(rec)
                if isinstance(v, int):
                    return v
            d = d.parent
        if self._find(0x7FE00010) != c.RD_NONE:
            return 1
        return 0

    # -- values -----------------------------------------------------------

    cdef object _value(self, uint32_t rec):
        return self._convert(rec, self._vr(rec))

    cdef object _convert(self, uint32_t rec, str vr):
        cdef rd_index *ix = self.idx.ptr
        cdef rd_record *r = &ix.records[rec]
        cdef const uint8_t *p = ix.data + r.value_offset
        cdef uint64_t n = r.length
        cdef bint little = (r.flags & c.RD_REC_BIG_ENDIAN) == 0
        cdef int kind = _KIND.get(vr, K_BYTES)
        if kind == K_SQ:
            return self._sequence(rec)
        if n == 0 and not (r.flags & c.RD_REC_UNDEFINED_LENGTH):
            if vr in _TEXT_EMPTY_STR:
                return ""
            return None
        if kind == K_UI:
            return _multi(_latin1(p, n).rstrip("\x00 "), None)
        if kind == K_STR:
            return _multi(_latin1(p, n), None)
        if kind == K_US:
            if n == 2:
                return <uint16_t>(p[0] | (p[1] << 8)) if little else <uint16_t>((p[0] << 8) | p[1])
            return self._lut_fix(r.tag, _numbers(p, n, vr, little, r))
        if kind == K_IS:
            return _multi(_latin1(p, n), _is_value)
        if kind == K_DS:
            return _multi(_latin1(p, n).strip(), _ds_value)
        if kind == K_NUMBERS:
            return self._lut_fix(r.tag, _numbers(p, n, vr, little, r))
        if kind == K_TEXT:
            if _plain_ascii(p, n):
                return _split_text(_latin1(p, n))
            return _charset.convert_text(PyBytes_FromStringAndSize(<const char *>p, n),
                                         self.encodings)
        if kind == K_SINGLE_TEXT:
            if _plain_ascii(p, n):
                return _latin1(p, n).rstrip("\x00 ")
            return _charset.convert_single_text(
                PyBytes_FromStringAndSize(<const char *>p, n), self.encodings)
        if kind == K_PN:
            return _charset.convert_pn(PyBytes_FromStringAndSize(<const char *>p, n),
                                       self.encodings)
        if kind == K_AE:
            items = [x.strip() for x in _latin1(p, n).split("\\")]
            return items[0] if len(items) == 1 else items
        if kind == K_UR:
            return _latin1(p, n).rstrip()
        if kind == K_AT:
            return _tags(p, n, little)
        # OB, OW, UN, OF, ... and unresolved ambiguous VRs: a zero-copy view.
        return self.idx.memory()[r.value_offset:r.value_offset + n]

    cdef uint32_t _depth(self):
        """Number of sequences enclosing this dataset."""
        cdef uint32_t d = 0
        cdef Dataset p = self.parent
        while p is not None:
            d += 1
            p = p.parent
        return d

    cdef object _lut_fix(self, uint32_t tag, object value):
        if tag in _LUT_DESCRIPTOR_TAGS and isinstance(value, list) and value and value[0] < 0:
            value[0] += 65536
        return value

    cdef list _sequence(self, uint32_t rec):
        if self._cache is not None and rec in self._cache:
            return self._cache[rec]
        cdef rd_record *r = &self.idx.ptr.records[rec]
        cdef _Index idx = self.idx
        cdef uint32_t i, item
        items = []
        if r.flags & c.RD_REC_SEQUENCE:
            for i in range(r.child_count):
                item = idx.ptr.children[r.child_start + i]
                items.append(self._item(idx, item))
        elif r.length:
            idx = _sub_index(self.idx, rec, self._record_implicit(rec),
                             self._record_little(rec), self._depth())
            for i in range(idx.ptr.root_count):
                item = idx.ptr.children[idx.ptr.root_start + i]
                items.append(self._item(idx, item))
        if self._cache is None:
            self._cache = {}
        self._cache[rec] = items
        return items

    cdef Dataset _item(self, _Index idx, uint32_t item):
        cdef rd_index *ix = idx.ptr
        cdef bint implicit = self.implicit_vr
        cdef uint32_t first
        if ix.records[item].child_count:
            first = ix.children[ix.records[item].child_start]
            implicit = (ix.records[first].flags & c.RD_REC_IMPLICIT_VR) != 0
        return _new_dataset(idx, item, self, implicit,
                            (ix.records[item].flags & c.RD_REC_BIG_ENDIAN) == 0)

    # -- mapping interface -------------------------------------------------

    def __getitem__(self, key):
        cdef uint32_t tag = _tag_of(key)
        cdef uint32_t rec = self._find(tag) if tag != c.RD_NONE else c.RD_NONE
        if rec == c.RD_NONE:
            raise KeyError(key)
        return self._value(rec)

    def __getattr__(self, str name):
        t = _KEYWORD_TO_TAG.get(name)
        if t is not None:
            rec = self._find(<uint32_t>t)
            if rec != c.RD_NONE:
                return self._value(rec)
        raise AttributeError("%s has no attribute %r" % (type(self).__name__, name))

    def get(self, key, default=None):
        """The value of `key` (keyword, tag or (group, element)), or `default`."""
        cdef uint32_t tag = _tag_of(key)
        cdef uint32_t rec = self._find(tag) if tag != c.RD_NONE else c.RD_NONE
        if rec == c.RD_NONE:
            return default
        return self._value(rec)

    def __contains__(self, key):
        try:
            tag = _tag_of(key)
        except (TypeError, ValueError):
            return False
        return tag != c.RD_NONE and self._find(tag) != c.RD_NONE

    def __len__(self):
        cdef const uint32_t *files
        cdef const uint32_t *sorted_
        cdef uint32_t count
        self._children(&files, &sorted_, &count)
        return count

    def __iter__(self):
        """Elements in file order."""
        cdef const uint32_t *files
        cdef const uint32_t *sorted_
        cdef uint32_t count, i
        self._children(&files, &sorted_, &count)
        recs = [files[i] for i in range(count)]
        for rec in recs:
            yield _new_element(self, rec)

    def tags(self):
        """The tags of this dataset's elements, in file order."""
        cdef const uint32_t *files
        cdef const uint32_t *sorted_
        cdef uint32_t count, i
        self._children(&files, &sorted_, &count)
        return [self.idx.ptr.records[files[i]].tag for i in range(count)]

    def keys(self):
        return self.tags()

    def element(self, key):
        """The Element for `key`; KeyError when absent."""
        cdef uint32_t tag = _tag_of(key)
        cdef uint32_t rec = self._find(tag) if tag != c.RD_NONE else c.RD_NONE
        if rec == c.RD_NONE:
            raise KeyError(key)
        return _new_element(self, rec)

    # -- file-level properties ---------------------------------------------

    @property
    def meta(self):
        """The File Meta Information as a Dataset (empty when there is none)."""
        if self.container != c.RD_ROOT:
            return None
        return _new_dataset(self.idx, c.RD_META, None, False, True)

    @property
    def transfer_syntax(self):
        """The Transfer Syntax UID, or None when the file has none."""
        ts = self.idx.ptr.transfer_syntax.decode("ascii", "replace")
        return ts or None

    @property
    def is_implicit_vr(self):
        return self.implicit_vr

    @property
    def is_little_endian(self):
        return self.little_endian

    @property
    def preamble(self):
        """The 128-byte preamble as a memoryview, or None."""
        if not (self.idx.ptr.flags & c.RD_IDX_HAS_PREAMBLE):
            return None
        return self.idx.memory()[:128]

    @property
    def warnings(self):
        """Notes on the ways the data bent the standard and was accepted."""
        cdef uint32_t f = self.idx.ptr.flags
        out = []
        if f & c.RD_IDX_VR_SWITCHED:
            out.append("the VR encoding found differs from the one announced")
        if f & c.RD_IDX_TRUNCATED:
            out.append("a value ran past the end of the data and was clamped")
        if f & c.RD_IDX_TRAILING_BYTES:
            out.append("stray bytes after the last element were ignored")
        return out

    @property
    def buffer(self):
        """A read-only memoryview of the whole scanned buffer."""
        return self.idx.memory()

    @property
    def limits(self):
        """The rapidicom.Limits this dataset was opened with; its pixel
        engine honours them too."""
        return self.idx.limits

    @property
    def pixels(self):
        """The pixel engine for this dataset's Pixel Data (or Float / Double
        Float Pixel Data), or None when it has none.  See rapidicom.pixels."""
        from rapidicom.pixels import pixels_of
        return pixels_of(self)

    @property
    def pixel_array(self):
        """All frames with the shape, dtype and values of pydicom 3's default
        ``Dataset.pixel_array`` (YBR_FULL / YBR_FULL_422 become RGB)."""
        from rapidicom.pixels import pixel_array
        return pixel_array(self)

    def to_json(self, bulk_data_threshold=None, bulk_data_element_handler=None):
        """The dataset as a DICOM JSON Model object (PS3.18 Annex F).

        Binary values become ``InlineBinary`` (base64), except those longer
        than the threshold when a handler is given: the handler's return
        value is then used as their ``BulkDataURI`` (as in pydicom).  Group
        lengths are left out and empty values are ``null`` (F.2.2, F.2.5).
        The File Meta Information is not part of a dataset's JSON model; use
        ``ds.meta.to_json()``.
        """
        from rapidicom._json import dataset_to_json
        return dataset_to_json(self, bulk_data_threshold,
                               bulk_data_element_handler=bulk_data_element_handler)

    def close(self):
        """Drop this Dataset's reference to the memory.  Views handed out
        earlier (values, frames, items) stay valid and keep it alive."""
        self.idx = None
        self._cache = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<rapidicom.Dataset with %d elements>" % len(self)


# ---------------------------------------------------------------------------
# Element
# ---------------------------------------------------------------------------

cdef Element _new_element(Dataset ds, uint32_t rec):
    cdef Element el = Element.__new__(Element)
    el.ds = ds
    el.rec = rec
    return el


cdef class Element:
    """One element: its tag, VR, position and (converted on access) value."""

    def __init__(self):
        raise TypeError("Element objects are created by a Dataset")

    @property
    def tag(self):
        return self.ds.idx.ptr.records[self.rec].tag

    @property
    def vr(self):
        return self.ds._vr(self.rec)

    @property
    def keyword(self):
        return keyword_for_tag(self.ds.idx.ptr.records[self.rec].tag)

    @property
    def name(self):
        entry = dictionary_entry(self.ds.idx.ptr.records[self.rec].tag)
        return entry[2] if entry else ""

    @property
    def length(self):
        """Value length in bytes (for undefined length, up to the delimiter)."""
        return self.ds.idx.ptr.records[self.rec].length

    @property
    def is_undefined_length(self):
        return (self.ds.idx.ptr.records[self.rec].flags & c.RD_REC_UNDEFINED_LENGTH) != 0

    @property
    def offset(self):
        """Byte offset of the element's tag in the scanned buffer."""
        return self.ds.idx.ptr.records[self.rec].offset

    @property
    def value_offset(self):
        return self.ds.idx.ptr.records[self.rec].value_offset

    @property
    def value(self):
        return self.ds._value(self.rec)

    @property
    def raw(self):
        """The value bytes as a read-only memoryview (no copy)."""
        cdef rd_record *r = &self.ds.idx.ptr.records[self.rec]
        return self.ds.idx.memory()[r.value_offset:r.value_offset + r.length]

    @property
    def fragments(self):
        """For encapsulated Pixel Data: (offset, length) of each fragment's bytes."""
        cdef rd_index *ix = self.ds.idx.ptr
        cdef rd_record *r = &ix.records[self.rec]
        cdef uint32_t i, f
        if not (r.flags & c.RD_REC_ENCAPSULATED):
            return None
        out = []
        for i in range(r.child_count):
            f = ix.children[r.child_start + i]
            out.append((ix.records[f].value_offset, ix.records[f].length))
        return out

    def __repr__(self):
        return "<Element %s %s %d bytes>" % (_tag_str(self.tag), self.vr, self.length)
