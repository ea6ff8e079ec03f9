# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""GIL-free entry points of the lookup stages (src/core/lut.c).

Each function takes its arrays as flat byte views, collects pointers and
sizes while holding the GIL, runs one C call without it, and turns a failed
status into a rapidicom exception.  The caller (rapidicom.lut) allocates
every output; the views keep the buffers acquired through the nogil call.

At import the module looks up numpy's own float64 exp loop and checks it
against ``numpy.exp`` on a fixed probe, so that SIGMOID windowing gives
numpy's results bit for bit; when that fails it falls back to the C
library's exp() (see :func:`exp_matches_numpy`).
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t, intptr_t

cimport numpy as cnp

cimport rapidicom_c as c
from rapidicom_c cimport rd_error, rd_status
cimport rapidicom_lut as L
from rapidicom_lut cimport rd_unary_loop, rd_window, rd_lut_map

import numpy as np

from rapidicom import errors as _errors

cnp.import_array()

_CLASSES = {
    c.RD_ERR_TRUNCATED: _errors.TruncatedError,
    c.RD_ERR_INVALID: _errors.InvalidDicomError,
    c.RD_ERR_LIMIT: _errors.LimitExceededError,
    c.RD_ERR_UNSUPPORTED: _errors.UnsupportedError,
    c.RD_ERR_DECODE: _errors.DecodeError,
}

#: numpy (kind, itemsize) -> rd_dtype code of the input arrays the kernels read
DTYPES = {
    ("u", 1): L.RD_DT_U8, ("i", 1): L.RD_DT_I8,
    ("u", 2): L.RD_DT_U16, ("i", 2): L.RD_DT_I16,
    ("u", 4): L.RD_DT_U32, ("i", 4): L.RD_DT_I32,
    ("u", 8): L.RD_DT_U64, ("i", 8): L.RD_DT_I64,
    ("f", 4): L.RD_DT_F32, ("f", 8): L.RD_DT_F64,
}

VOI_FUNCTIONS = {
    "LINEAR": L.RD_VOI_LINEAR,
    "LINEAR_EXACT": L.RD_VOI_LINEAR_EXACT,
    "SIGMOID": L.RD_VOI_SIGMOID,
}

RULE_MODALITY = L.RD_LUT_RULE_MODALITY
RULE_VOI = L.RD_LUT_RULE_VOI
RULE_PALETTE = L.RD_LUT_RULE_PALETTE


cdef object _error(rd_error *err, str where, object tag):
    msg = err.msg.decode("utf-8", "replace")
    if err.code == c.RD_ERR_NOMEM:
        return MemoryError(msg)
    cls = _CLASSES.get(err.code, _errors.InvalidDicomError)
    if err.tag != c.RD_NO_TAG:
        tag = err.tag
    return cls("%s: %s" % (where, msg) if where else msg,
               offset=err.offset if where else None, tag=tag)


cdef inline const void *_ptr(const uint8_t[::1] view) noexcept:
    return <const void *>&view[0] if view.shape[0] else NULL


# ---------------------------------------------------------------------------
# numpy's exp loop
# ---------------------------------------------------------------------------

cdef rd_unary_loop _exp_loop = NULL
cdef void *_exp_data = NULL


cdef _find_exp_loop():
    """Pick the float64 loop of numpy.exp that reproduces numpy.exp."""
    global _exp_loop, _exp_data
    cdef cnp.ufunc uf = np.exp
    cdef int i
    cdef rd_unary_loop fn
    cdef char *args[2]
    cdef intptr_t dims[1]
    cdef intptr_t steps[2]
    cdef double[::1] pv, gv
    probe = np.concatenate([np.linspace(-745.0, 709.0, 30011),
                            np.linspace(-40.0, 40.0, 8001)])
    want = np.exp(probe)
    for i in range(uf.ntypes):
        if uf.types[2 * i] != cnp.NPY_DOUBLE or uf.types[2 * i + 1] != cnp.NPY_DOUBLE:
            continue
        got = np.empty_like(probe)
        pv = probe
        gv = got
        fn = <rd_unary_loop>uf.functions[i]
        args[0] = <char *>&pv[0]
        args[1] = <char *>&gv[0]
        dims[0] = pv.shape[0]
        steps[0] = sizeof(double)
        steps[1] = sizeof(double)
        fn(args, dims, steps, uf.data[i])
        if np.array_equal(got, want):
            _exp_loop = fn
            _exp_data = uf.data[i]
            return


try:
    _find_exp_loop()
except Exception:       # any numpy layout surprise: keep the libm fallback
    _exp_loop = NULL


def exp_matches_numpy():
    """True when SIGMOID windowing uses numpy's own exp loop (bit-identical
    to ``numpy.exp``), False when it falls back to the C library's exp()."""
    return _exp_loop != NULL


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------

def rescale(const uint8_t[::1] src, int dtype, size_t count, double slope,
            double intercept, uint8_t[::1] out):
    """out (float64) = src * slope + intercept, as numpy computes it."""
    cdef rd_error err
    cdef rd_status status
    cdef const void *sp = _ptr(src)
    cdef double *dp = <double *>&out[0] if out.shape[0] else NULL
    cdef size_t out_count = <size_t>out.shape[0] // sizeof(double)
    with nogil:
        status = L.rd_lut_rescale(sp, <L.rd_dtype>dtype, count, slope, intercept,
                                  dp, out_count, &err)
    if status != c.RD_OK:
        raise _error(&err, "", None)


def window(const uint8_t[::1] src, int dtype, size_t count, int function,
           double center, double width, double y_min, double y_max, double y_range,
           uint8_t[::1] out):
    """out (float64) = windowed src, as pydicom's apply_windowing computes it."""
    cdef rd_error err
    cdef rd_status status
    cdef rd_window w
    cdef const void *sp = _ptr(src)
    cdef double *dp = <double *>&out[0] if out.shape[0] else NULL
    cdef size_t out_count = <size_t>out.shape[0] // sizeof(double)
    w.size = sizeof(rd_window)
    w.function = <L.rd_voi_function>function
    w.center = center
    w.width = width
    w.y_min = y_min
    w.y_max = y_max
    w.y_range = y_range
    w.exp_loop = _exp_loop
    w.exp_data = _exp_data
    with nogil:
        status = L.rd_lut_window(sp, <L.rd_dtype>dtype, count, &w, dp, out_count, &err)
    if status != c.RD_OK:
        raise _error(&err, "", None)


def apply(const uint8_t[::1] src, int dtype, size_t count, int rule, uint32_t index_bits,
          int64_t first_map, uint32_t nr_entries, tuple luts, size_t lut_len,
          uint32_t entry_size, uint8_t[::1] out, str where="", object tag=None):
    """out[i, c] = luts[c][index(src[i])]; `luts` holds 1 to 4 byte views of
    `lut_len` entries of `entry_size` bytes."""
    cdef rd_error err
    cdef rd_status status
    cdef rd_lut_map m
    cdef const uint8_t[::1] l0, l1, l2, l3
    cdef const void *ptrs[4]
    cdef uint32_t channels = <uint32_t>len(luts)
    cdef const void *sp = _ptr(src)
    cdef void *dp = <void *>&out[0] if out.shape[0] else NULL
    if channels < 1 or channels > 4:
        raise ValueError("1 to 4 LUTs are needed, not %d" % channels)
    for i, lut in enumerate(luts):
        if len(lut) < lut_len * entry_size:
            raise ValueError("LUT %d holds %d bytes, %d needed"
                             % (i, len(lut), lut_len * entry_size))
    l0 = luts[0]
    ptrs[0] = _ptr(l0)
    if channels > 1:
        l1 = luts[1]
        ptrs[1] = _ptr(l1)
    if channels > 2:
        l2 = luts[2]
        ptrs[2] = _ptr(l2)
    if channels > 3:
        l3 = luts[3]
        ptrs[3] = _ptr(l3)
    m.size = sizeof(rd_lut_map)
    m.rule = <L.rd_lut_rule>rule
    m.index_bits = index_bits
    m.first_map = first_map
    m.nr_entries = nr_entries
    with nogil:
        status = L.rd_lut_apply(sp, <L.rd_dtype>dtype, count, &m, ptrs, channels,
                                lut_len, entry_size, dp, <size_t>out.shape[0], &err)
    if status != c.RD_OK:
        raise _error(&err, where, tag)


def expand_segmented(const uint8_t[::1] data, uint32_t entry_size, bint little_endian,
                     str where="", object tag=None):
    """The expanded table of Segmented Palette Color LUT Data, as a uint16
    array (counted in one pass, written in a second)."""
    cdef rd_error err
    cdef rd_status status
    cdef size_t n = 0, written = 0
    cdef const uint8_t *dp = &data[0] if data.shape[0] else NULL
    cdef size_t length = <size_t>data.shape[0]
    cdef uint16_t[::1] ov
    cdef uint16_t *op
    with nogil:
        status = L.rd_lut_expand_segmented(dp, length, entry_size, little_endian,
                                           NULL, 0, &n, &err)
    if status != c.RD_OK:
        raise _error(&err, where, tag)
    out = np.empty(n, dtype=np.uint16)
    if n == 0:
        return out
    ov = out
    op = &ov[0]
    with nogil:
        status = L.rd_lut_expand_segmented(dp, length, entry_size, little_endian,
                                           op, n, &written, &err)
    if status != c.RD_OK:
        raise _error(&err, where, tag)
    return out
