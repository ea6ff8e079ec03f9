# Declarations of the cdef classes of _core.pyx (bodies live there).
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from cpython.buffer cimport Py_buffer

from rapidicom_c cimport rd_index, rd_record, rd_scan_options


cdef class BufferOwner:
    """Holds the only strong reference to the scanned memory."""
    cdef const uint8_t *ptr
    cdef uint64_t size
    cdef void *mapping          # mmap'd region, or NULL
    cdef uint8_t *heap          # malloc'd copy of a small file, or NULL
    cdef uint64_t mapping_size
    cdef Py_buffer view         # borrowed buffer, when view_acquired
    cdef bint view_acquired
    cdef object source          # the object the buffer came from, if any
    cdef object name
    cdef object __weakref__


cdef class _Index:
    """One element index and the memory its offsets refer to."""
    cdef rd_index *ptr
    cdef object base            # BufferOwner or parent _Index: keeps memory alive
    cdef dict sub_indexes       # record -> _Index of a lazily parsed sequence
    cdef rd_scan_options opt    # the options of the scan, reused for lazy ones
    cdef object limits          # the rapidicom.Limits of the open() call
    cdef object __weakref__
    cdef object memory(self)


cdef class Dataset:
    cdef _Index idx
    cdef uint32_t container     # RD_ROOT, RD_META or an item record
    cdef Dataset parent
    cdef tuple _encodings
    cdef dict _cache
    cdef bint implicit_vr
    cdef bint little_endian
    cdef object __weakref__

    cdef void _children(self, const uint32_t **files, const uint32_t **sorted_,
                        uint32_t *count)
    cdef uint32_t _find(self, uint32_t tag)
    cdef bint _record_implicit(self, uint32_t rec)
    cdef bint _record_little(self, uint32_t rec)
    cdef str _raw_text(self, uint32_t tag)
    cdef str _vr(self, uint32_t rec)
    cdef object _int_attr(self, uint32_t tag)
    cdef str _resolve_ambiguous(self, uint32_t rec, str vr)
    cdef int _pixel_representation(self)
    cdef object _value(self, uint32_t rec)
    cdef object _convert(self, uint32_t rec, str vr)
    cdef uint32_t _depth(self)
    cdef object _lut_fix(self, uint32_t tag, object value)
    cdef list _sequence(self, uint32_t rec)
    cdef Dataset _item(self, _Index idx, uint32_t item)


cdef class Element:
    cdef Dataset ds
    cdef uint32_t rec
    cdef object __weakref__
