# Mirror of src/core/rd_lut.h, nothing else.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t, intptr_t

from rapidicom_c cimport rd_error, rd_status

cdef extern from "rd_lut.h" nogil:
    ctypedef enum rd_dtype:
        RD_DT_U8
        RD_DT_I8
        RD_DT_U16
        RD_DT_I16
        RD_DT_U32
        RD_DT_I32
        RD_DT_U64
        RD_DT_I64
        RD_DT_F32
        RD_DT_F64

    ctypedef void (*rd_unary_loop)(char **args, const intptr_t *dimensions,
                                   const intptr_t *steps, void *data) noexcept nogil

    enum: RD_LUT_MAX_SEGMENT_DEPTH
    enum: RD_LUT_MAX_EXPANDED

    rd_status rd_lut_rescale(const void *inp, rd_dtype type, size_t count, double slope,
                             double intercept, double *out, size_t out_count,
                             rd_error *err)

    ctypedef enum rd_voi_function:
        RD_VOI_LINEAR
        RD_VOI_LINEAR_EXACT
        RD_VOI_SIGMOID

    ctypedef struct rd_window:
        size_t size
        rd_voi_function function
        double center
        double width
        double y_min
        double y_max
        double y_range
        rd_unary_loop exp_loop
        void *exp_data

    rd_status rd_lut_window(const void *inp, rd_dtype type, size_t count,
                            const rd_window *window, double *out, size_t out_count,
                            rd_error *err)

    ctypedef enum rd_lut_rule:
        RD_LUT_RULE_MODALITY
        RD_LUT_RULE_VOI
        RD_LUT_RULE_PALETTE

    ctypedef struct rd_lut_map:
        size_t size
        rd_lut_rule rule
        uint32_t index_bits
        int64_t first_map
        uint32_t nr_entries

    rd_status rd_lut_apply(const void *inp, rd_dtype type, size_t count,
                           const rd_lut_map *map, const void *const *luts,
                           uint32_t channels, size_t lut_len, uint32_t entry_size,
                           void *out, size_t out_capacity, rd_error *err)

    rd_status rd_lut_expand_segmented(const uint8_t *data, size_t len, uint32_t entry_size,
                                      int little_endian, uint16_t *out, size_t capacity,
                                      size_t *out_len, rd_error *err)
