/*
 * rd_lut.h - internal: the lookup stages of the greyscale and colour display
 * pipeline (PS3.3 C.11.1 Modality LUT, C.11.2 VOI LUT, C.7.6.3 / C.7.9
 * Palette Color LUTs), computed the way pydicom 3.0 computes them.
 *
 * Not installed and not part of the public interface: the Python package
 * calls these through pyx/_lut.pyx.  Every function here is reentrant, keeps
 * no global state and owns no threads; different threads may call any of
 * them concurrently on different output buffers.  Input and LUT buffers are
 * only read, so several calls may share them.
 *
 * Element arrays are passed as (pointer, count of elements) in native byte
 * order and must not overlap the output.  Output buffers belong to the
 * caller and are passed as (pointer, capacity); a capacity smaller than what
 * the call produces is RD_ERR_INVALID, checked before anything is written.
 * On failure `err` (which may be NULL) is filled and the contents of the
 * output are unspecified.
 */
#ifndef RD_LUT_H
#define RD_LUT_H

#include <stddef.h>
#include <stdint.h>

#include "rapidicom.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element type of an input array (numpy's kinds u, i, f and item sizes). */
typedef enum rd_dtype {
    RD_DT_U8 = 0,
    RD_DT_I8 = 1,
    RD_DT_U16 = 2,
    RD_DT_I16 = 3,
    RD_DT_U32 = 4,
    RD_DT_I32 = 5,
    RD_DT_U64 = 6,
    RD_DT_I64 = 7,
    RD_DT_F32 = 8,
    RD_DT_F64 = 9
} rd_dtype;

/*
 * A strided unary loop over doubles with the signature of numpy's
 * PyUFuncGenericFunction: args = {in, out}, dimensions[0] = count,
 * steps = {in stride, out stride} in bytes.  It must be plain C, must not
 * need the GIL and must be safe to call from several threads at once.
 */
typedef void (*rd_unary_loop)(char **args, const intptr_t *dimensions,
                              const intptr_t *steps, void *data);

/* Limits of rd_lut_expand_segmented (pydicom has none; these keep hostile
 * data from using unbounded time or memory). */
#define RD_LUT_MAX_SEGMENT_DEPTH 64u            /* nested indirect segments */
#define RD_LUT_MAX_EXPANDED (1u << 24)          /* entries of an expanded LUT */
#define RD_LUT_MAX_SEGMENT_STEPS (1ull << 26)   /* segments read, all levels */

/* ------------------------------------------------------------------------- */
/* Rescale                                                                    */
/* ------------------------------------------------------------------------- */

/*
 * out[i] = (double)in[i] * slope, then + intercept: two rounded float64
 * operations, never fused, exactly numpy's `arr.astype(float64) * slope`
 * followed by `+= intercept` (pydicom apply_modality_lut).
 *
 * `in` may be NULL only when count is 0.  `out` must hold `out_count`
 * doubles, at least `count`.  Returns RD_OK, or RD_ERR_INVALID for an
 * unknown type or a short output.
 */
rd_status
rd_lut_rescale(const void *in, rd_dtype type, size_t count, double slope,
               double intercept, double *out, size_t out_count, rd_error *err);

/* ------------------------------------------------------------------------- */
/* Windowing                                                                  */
/* ------------------------------------------------------------------------- */

typedef enum rd_voi_function {
    RD_VOI_LINEAR = 0,       /* PS3.3 C.11.2.1.2.1 */
    RD_VOI_LINEAR_EXACT = 1, /* PS3.3 C.11.2.1.3.2 */
    RD_VOI_SIGMOID = 2       /* PS3.3 C.11.2.1.3.1 */
} rd_voi_function;

/*
 * Parameters of one window.  `size` must be sizeof(rd_window).  center and
 * width are the Window Center / Width values as read (the LINEAR
 * adjustments c - 0.5 and w - 1 are made by the call).  y_min, y_max and
 * y_range = y_max - y_min are the output range as pydicom derives it.
 * exp_loop/exp_data: the exp used by SIGMOID; pass numpy's own float64 exp
 * loop to get numpy's results bit for bit, or NULL to use the C library's
 * exp() (which may differ from numpy's in the last place).
 */
typedef struct rd_window {
    size_t size;
    rd_voi_function function;
    double center;
    double width;
    double y_min;
    double y_max;
    double y_range;
    rd_unary_loop exp_loop;
    void *exp_data;
} rd_window;

/*
 * Windowing of `count` values into float64, with pydicom 3.0's arithmetic:
 *   LINEAR, LINEAR_EXACT: x <= c - w/2 -> y_min; x > c + w/2 -> y_max;
 *       otherwise ((x - c) / w + 0.5) * y_range + y_min  (NaN stays NaN)
 *   SIGMOID: y_range / (1 + exp(-4 * (x - c) / w)) + y_min
 * Returns RD_OK; RD_ERR_INVALID for a width the function does not allow
 * (LINEAR: width < 1; LINEAR_EXACT, SIGMOID: width <= 0), an unknown
 * function or type, a bad `size` or a short output.
 */
rd_status
rd_lut_window(const void *in, rd_dtype type, size_t count, const rd_window *window,
              double *out, size_t out_count, rd_error *err);

/* ------------------------------------------------------------------------- */
/* Table lookup: Modality LUT, VOI LUT, Palette Color LUTs                    */
/* ------------------------------------------------------------------------- */

/*
 * How a pixel value x becomes a LUT index.  For every rule: values below
 * first_map use entry 0, others use x - first_map, then the index is clamped
 * to [0, nr_entries - 1].  The rules differ in the integer type the
 * difference is held in before clamping, which decides how out-of-range
 * differences wrap (pydicom keeps them in these types):
 *   MODALITY: the input's own type (x must be an integer type);
 *   VOI:      computed in the input's type, then converted to the unsigned
 *             LUT entry type of index_bits bits (8 or 16);
 *   PALETTE:  computed after promotion with int32, then converted to the
 *             unsigned LUT entry type of index_bits bits.
 * Conversions from floating point truncate toward zero through int32, and
 * values outside int32 (and NaN) become INT32_MIN, as numpy's casts do on
 * x86-64.
 */
typedef enum rd_lut_rule {
    RD_LUT_RULE_MODALITY = 0,
    RD_LUT_RULE_VOI = 1,
    RD_LUT_RULE_PALETTE = 2
} rd_lut_rule;

/* `size` must be sizeof(rd_lut_map). */
typedef struct rd_lut_map {
    size_t size;
    rd_lut_rule rule;
    uint32_t index_bits;   /* VOI and PALETTE: 8 or 16; ignored for MODALITY */
    int64_t first_map;     /* second value of the LUT Descriptor */
    uint32_t nr_entries;   /* first value of the LUT Descriptor, 0 read as 65536 */
} rd_lut_map;

/*
 * out[i * channels + c] = luts[c][index(in[i])] for `channels` LUTs (1 for
 * Modality and VOI LUTs, 3 or 4 for RGB / RGBA palettes) of `lut_len`
 * entries of `entry_size` bytes (1, 2, 4 or 8) each.  `out_capacity` is in
 * bytes and must be at least count * channels * entry_size.
 *
 * Every index is checked against lut_len: an index that falls past the LUT
 * data (lut_len < nr_entries) is RD_ERR_INVALID naming the pixel value, and
 * nothing is ever read out of bounds.  Other errors: RD_ERR_INVALID for bad
 * arguments (unknown rule or type, a floating point input with MODALITY,
 * nr_entries outside 1..65536, index_bits not 8 or 16, no LUTs, a short
 * output), RD_ERR_NOMEM when the 256 KiB index table for a large 16-bit
 * input cannot be allocated.
 */
rd_status
rd_lut_apply(const void *in, rd_dtype type, size_t count, const rd_lut_map *map,
             const void *const *luts, uint32_t channels, size_t lut_len,
             uint32_t entry_size, void *out, size_t out_capacity, rd_error *err);

/* ------------------------------------------------------------------------- */
/* Segmented Palette Color LUT Data (PS3.3 C.7.9.2)                           */
/* ------------------------------------------------------------------------- */

/*
 * Expands segmented palette data of `len` bytes, made of entries of
 * `entry_size` bytes (1: 8-bit palettes, read byte by byte as stored; 2:
 * 16-bit words in the given byte order), the way pydicom 3.0's
 * _expand_segmented_lut does: discrete, linear and indirect segments; a
 * final lone entry is padding; linear segments are numpy.linspace values
 * rounded half to even; the offset of an indirect segment counts entries
 * from the start of the data being expanded.
 *
 * With out == NULL only counts.  Otherwise writes the entries to out, which
 * holds `capacity` of them.  Either way *out_len receives the number of
 * entries of the expanded table.  Returns RD_OK; RD_ERR_INVALID for
 * malformed data (unknown segment type, a linear or indirect segment
 * without a previous value, a segment cut short, a zero-length linear
 * segment between different values), a bad entry_size or a capacity below
 * the count; RD_ERR_LIMIT past RD_LUT_MAX_SEGMENT_DEPTH,
 * RD_LUT_MAX_EXPANDED or RD_LUT_MAX_SEGMENT_STEPS.  err->offset is the byte
 * offset in `data` of the segment at fault.
 */
rd_status
rd_lut_expand_segmented(const uint8_t *data, size_t len, uint32_t entry_size,
                        int little_endian, uint16_t *out, size_t capacity,
                        size_t *out_len, rd_error *err);

#ifdef __cplusplus
}
#endif

#endif /* RD_LUT_H */
