/*
 * lut.c - Modality LUT / rescale, VOI LUT / windowing and Palette Color LUTs.
 *
 * Each stage reads the input array once and writes the caller's output once,
 * with no temporaries: the numpy formulation (mask arrays, an index array, a
 * gather) needs four or five full passes and as many allocations.  The
 * results are those of pydicom 3.0's pixels.processing functions, bit for
 * bit, which fixes how the arithmetic is written here:
 *
 *   - float64 operations happen one at a time in numpy's order and are
 *     never contracted into fused multiply-adds or reassociated
 *     (CMakeLists.txt builds this file with -ffp-contract=off, and
 *     -fno-trapping-math, which changes no value, only lets selects
 *     vectorize);
 *   - SIGMOID calls numpy's own exp loop when the caller passes it, in
 *     blocks of EXP_BLOCK values on the stack, since numpy's SIMD exp and
 *     the C library's differ in the last place for a few percent of inputs;
 *   - the LUT index of a pixel is formed in the integer type pydicom's
 *     arrays hold it in, so out-of-range differences wrap exactly as there
 *     (see rd_lut_rule in rd_lut.h).
 *
 * Tables: for 8-bit inputs, and 16-bit inputs of at least TABLE_MIN_COUNT
 * values, the LUT index of every possible value is computed first (256 or
 * 65536 int32), so the pixel loop is a single table read and gather.  An
 * index past the LUT data is stored as -1 and reported only if a pixel has
 * that value, as pydicom raises IndexError only then.  Windowing does the
 * same with the float64 result of every possible value when the input is
 * large enough to pay for it; every kernel is elementwise, so a table
 * entry is exactly what the direct computation gives.
 *
 * Invariants: every LUT read is at an index < lut_len, checked per pixel or
 * by the -1 marks of the table; output sizes are checked against the
 * caller's capacities before the first write; segmented expansion never
 * reads past `len` and is bounded in depth, entries and segments.
 */
#include <math.h>
#include <stdlib.h>

#include "rd_common.h"
#include "rd_lut.h"

#define EXP_BLOCK 256
#define TABLE_MIN_COUNT 16384u

/* ------------------------------------------------------------------------- */
/* Shared checks                                                              */
/* ------------------------------------------------------------------------- */

static int
valid_type(rd_dtype type)
{
    return (int)type >= (int)RD_DT_U8 && (int)type <= (int)RD_DT_F64;
}

static rd_status
check_io(const void *in, rd_dtype type, size_t count, size_t out_count,
         rd_error *err)
{
    if (!valid_type(type))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "unknown input type %d",
                       (int)type);
    if (count && !in)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "no input buffer");
    if (out_count < count)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "output holds %llu values, %llu needed",
                       (unsigned long long)out_count, (unsigned long long)count);
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Rescale                                                                    */
/* ------------------------------------------------------------------------- */

#define RESCALE_LOOP(T)                                   \
    do {                                                  \
        const T *src = (const T *)in;                     \
        for (i = 0; i < count; i++) {                     \
            double y = (double)src[i] * slope;            \
            out[i] = y + intercept;                       \
        }                                                 \
    } while (0)

rd_status
rd_lut_rescale(const void *in, rd_dtype type, size_t count, double slope,
               double intercept, double *out, size_t out_count, rd_error *err)
{
    size_t i;
    rd_status st = check_io(in, type, count, out_count, err);

    if (st != RD_OK)
        return st;
    if (count && !out)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "no output buffer");
    switch (type) {
    case RD_DT_U8: RESCALE_LOOP(uint8_t); break;
    case RD_DT_I8: RESCALE_LOOP(int8_t); break;
    case RD_DT_U16: RESCALE_LOOP(uint16_t); break;
    case RD_DT_I16: RESCALE_LOOP(int16_t); break;
    case RD_DT_U32: RESCALE_LOOP(uint32_t); break;
    case RD_DT_I32: RESCALE_LOOP(int32_t); break;
    case RD_DT_U64: RESCALE_LOOP(uint64_t); break;
    case RD_DT_I64: RESCALE_LOOP(int64_t); break;
    case RD_DT_F32: RESCALE_LOOP(float); break;
    case RD_DT_F64: RESCALE_LOOP(double); break;
    }
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Windowing                                                                  */
/* ------------------------------------------------------------------------- */

/* Element i of an input array as float64, as numpy's astype(float64). */
static inline double
value_f64(const void *in, rd_dtype type, size_t i)
{
    switch (type) {
    case RD_DT_U8: return (double)((const uint8_t *)in)[i];
    case RD_DT_I8: return (double)((const int8_t *)in)[i];
    case RD_DT_U16: return (double)((const uint16_t *)in)[i];
    case RD_DT_I16: return (double)((const int16_t *)in)[i];
    case RD_DT_U32: return (double)((const uint32_t *)in)[i];
    case RD_DT_I32: return (double)((const int32_t *)in)[i];
    case RD_DT_U64: return (double)((const uint64_t *)in)[i];
    case RD_DT_I64: return (double)((const int64_t *)in)[i];
    case RD_DT_F32: return (double)((const float *)in)[i];
    case RD_DT_F64: return ((const double *)in)[i];
    }
    return 0.0;
}

/* Resolved parameters of one window (after pydicom's LINEAR adjustments). */
typedef struct window_params {
    rd_voi_function function;
    double c, w, lo, hi, y_min, y_max, y_range;
    rd_unary_loop exp_loop;
    void *exp_data;
} window_params;

/* LINEAR / LINEAR_EXACT written branch-free so that it vectorizes: the
 * formula is computed for every value and replaced where pydicom's masks
 * say so (GCC if-converts the selects because CMakeLists.txt builds this
 * file with -fno-trapping-math, clang's default).  lo <= hi, so no value is
 * both below and above; NaN is neither and keeps the formula's NaN, as in
 * pydicom. */
#define LINEAR_LOOP(T)                                                   \
    do {                                                                 \
        const T *src = (const T *)in;                                    \
        for (i = 0; i < count; i++) {                                    \
            double x = (double)src[i];                                   \
            double v = (x - c) / w;                                      \
            v = v + 0.5;                                                 \
            v = v * y_range;                                             \
            v = v + y_min;                                               \
            v = x > hi ? y_max : v;                                      \
            out[i] = x <= lo ? y_min : v;                                \
        }                                                                \
    } while (0)

static void
window_linear(const void *in, rd_dtype type, size_t count, const window_params *p,
              double *out)
{
    const double c = p->c, w = p->w, lo = p->lo, hi = p->hi;
    const double y_min = p->y_min, y_max = p->y_max, y_range = p->y_range;
    size_t i;

    switch (type) {
    case RD_DT_U8: LINEAR_LOOP(uint8_t); break;
    case RD_DT_I8: LINEAR_LOOP(int8_t); break;
    case RD_DT_U16: LINEAR_LOOP(uint16_t); break;
    case RD_DT_I16: LINEAR_LOOP(int16_t); break;
    case RD_DT_U32: LINEAR_LOOP(uint32_t); break;
    case RD_DT_I32: LINEAR_LOOP(int32_t); break;
    case RD_DT_U64: LINEAR_LOOP(uint64_t); break;
    case RD_DT_I64: LINEAR_LOOP(int64_t); break;
    case RD_DT_F32: LINEAR_LOOP(float); break;
    case RD_DT_F64: LINEAR_LOOP(double); break;
    }
}

/* SIGMOID, EXP_BLOCK values at a time through the exp loop. */
static void
window_sigmoid(const void *in, rd_dtype type, size_t count, const window_params *p,
               double *out)
{
    double t[EXP_BLOCK], e[EXP_BLOCK];
    const double c = p->c, w = p->w, y_min = p->y_min, y_range = p->y_range;
    size_t start, k, n;

    for (start = 0; start < count; start += n) {
        n = count - start < EXP_BLOCK ? count - start : EXP_BLOCK;
        for (k = 0; k < n; k++) {
            double d = value_f64(in, type, start + k) - c;
            d = -4.0 * d;
            t[k] = d / w;
        }
        if (p->exp_loop) {
            char *args[2];
            intptr_t dims[1], steps[2];
            args[0] = (char *)t;
            args[1] = (char *)e;
            dims[0] = (intptr_t)n;
            steps[0] = steps[1] = (intptr_t)sizeof(double);
            p->exp_loop(args, dims, steps, p->exp_data);
        } else {
            for (k = 0; k < n; k++)
                e[k] = exp(t[k]);
        }
        for (k = 0; k < n; k++) {
            double q = y_range / (1.0 + e[k]);
            out[start + k] = q + y_min;
        }
    }
}

static void
window_values(const void *in, rd_dtype type, size_t count, const window_params *p,
              double *out)
{
    if (p->function == RD_VOI_SIGMOID)
        window_sigmoid(in, type, count, p, out);
    else
        window_linear(in, type, count, p, out);
}

rd_status
rd_lut_window(const void *in, rd_dtype type, size_t count, const rd_window *window,
              double *out, size_t out_count, rd_error *err)
{
    window_params p;
    size_t i, table_size = 0;
    rd_status st = check_io(in, type, count, out_count, err);

    if (st != RD_OK)
        return st;
    if (!window || window->size != sizeof(rd_window))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "bad rd_window");
    if (count && !out)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "no output buffer");
    p.function = window->function;
    p.c = window->center;
    p.w = window->width;
    p.y_min = window->y_min;
    p.y_max = window->y_max;
    p.y_range = window->y_range;
    p.exp_loop = window->exp_loop;
    p.exp_data = window->exp_data;
    switch (window->function) {
    case RD_VOI_LINEAR:
        if (p.w < 1.0)
            return rd_fail(err, RD_ERR_INVALID, 0, 0x00281051u,
                           "The (0028,1051) Window Width must be greater than or "
                           "equal to 1 for a 'LINEAR' windowing operation");
        p.c -= 0.5;
        p.w -= 1.0;
        break;
    case RD_VOI_LINEAR_EXACT:
        if (p.w <= 0.0)
            return rd_fail(err, RD_ERR_INVALID, 0, 0x00281051u,
                           "The (0028,1051) Window Width must be greater than 0 "
                           "for a 'LINEAR_EXACT' windowing operation");
        break;
    case RD_VOI_SIGMOID:
        if (p.w <= 0.0)
            return rd_fail(err, RD_ERR_INVALID, 0, 0x00281051u,
                           "The (0028,1051) Window Width must be greater than 0 "
                           "for a 'SIGMOID' windowing operation");
        break;
    default:
        return rd_fail(err, RD_ERR_INVALID, 0, 0x00281056u,
                       "unknown VOI LUT function %d", (int)window->function);
    }
    p.lo = p.c - p.w / 2.0;
    p.hi = p.c + p.w / 2.0;

    /* 8/16-bit input with many values: window each possible value once
     * (the kernels are elementwise, so the results are the same), then
     * gather from the table (512 KiB at most). */
    if ((type == RD_DT_U8 || type == RD_DT_I8) && count >= 1024)
        table_size = 256;
    else if ((type == RD_DT_U16 || type == RD_DT_I16) && count >= 2 * 65536u)
        table_size = 65536;
    if (table_size) {
        double *tab = malloc(table_size * sizeof(double));
        uint16_t *all = malloc(table_size * sizeof(uint16_t));
        uint8_t *all8 = (uint8_t *)all;
        if (tab && all) {
            for (i = 0; i < table_size; i++) {
                if (table_size == 256)
                    all8[i] = (uint8_t)i;
                else
                    all[i] = (uint16_t)i;
            }
            window_values(all, type, table_size, &p, tab);
            if (table_size == 256) {
                const uint8_t *src = (const uint8_t *)in;
                for (i = 0; i < count; i++)
                    out[i] = tab[src[i]];
            } else {
                const uint16_t *src = (const uint16_t *)in;
                for (i = 0; i < count; i++)
                    out[i] = tab[src[i]];
            }
            free(tab);
            free(all);
            return RD_OK;
        }
        free(tab);
        free(all);      /* out of memory: compute directly */
    }
    window_values(in, type, count, &p, out);
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* LUT index of a pixel value                                                 */
/* ------------------------------------------------------------------------- */

typedef struct index_rule {
    rd_lut_rule rule;
    rd_dtype type;
    uint64_t mask;        /* VOI, PALETTE: 2^index_bits - 1 */
    int64_t first_map;
    int64_t last;         /* nr_entries - 1 */
    int first_map_fits;   /* first_map is a value of the input type */
} index_rule;

/* A float converted to an unsigned integer of mask's width the way numpy's
 * casts do on x86-64: truncation to int32 (cvttsd2si), INT32_MIN when out of
 * range or NaN, then the low bits. */
static inline int64_t
float_to_index_bits(double d, uint64_t mask)
{
    int32_t v = (d >= -2147483648.0 && d < 2147483648.0) ? (int32_t)d : INT32_MIN;
    return (int64_t)((uint64_t)(uint32_t)v & mask);
}

/* `diff` (exact modulo 2^64) held in the input type, as numpy stores it in
 * an array of that dtype. */
static inline int64_t
wrap_to_type(uint64_t diff, rd_dtype type)
{
    switch (type) {
    case RD_DT_U8: return (uint8_t)diff;
    case RD_DT_I8: return (int8_t)(uint8_t)diff;
    case RD_DT_U16: return (uint16_t)diff;
    case RD_DT_I16: return (int16_t)(uint16_t)diff;
    case RD_DT_U32: return (uint32_t)diff;
    case RD_DT_I32: return (int32_t)(uint32_t)diff;
    default: return (int64_t)diff;
    }
}

static inline int64_t
clamp_index(const index_rule *r, int64_t d)
{
    if (d < 0)
        return 0;
    return d > r->last ? r->last : d;
}

/* Integer input types other than uint64: `v` is the exact pixel value. */
static inline int64_t
index_of_int(const index_rule *r, int64_t v)
{
    uint64_t diff;

    if (v < r->first_map)
        return 0;
    diff = (uint64_t)v - (uint64_t)r->first_map;
    switch (r->rule) {
    case RD_LUT_RULE_MODALITY:
        return clamp_index(r, wrap_to_type(diff, r->type));
    case RD_LUT_RULE_VOI:
        /* The difference lives in the input type first; only an int8
         * difference can differ in the low 16 bits after that. */
        if (r->type == RD_DT_I8 && r->first_map_fits)
            diff = (uint64_t)(int64_t)(int8_t)(uint8_t)diff;
        return clamp_index(r, (int64_t)(diff & r->mask));
    default:
        /* int32/int64 working type: exact modulo 2^index_bits */
        return clamp_index(r, (int64_t)(diff & r->mask));
    }
}

static inline int64_t
index_of_u64(const index_rule *r, uint64_t u)
{
    uint64_t diff;

    if (r->first_map >= 0 && u < (uint64_t)r->first_map)
        return 0;
    diff = u - (uint64_t)r->first_map;
    switch (r->rule) {
    case RD_LUT_RULE_MODALITY:
        return diff > (uint64_t)r->last ? r->last : (int64_t)diff;
    case RD_LUT_RULE_VOI:
        return clamp_index(r, (int64_t)(diff & r->mask));
    default:
        /* uint64 and int32 promote to float64 */
        return clamp_index(r, float_to_index_bits((double)u - (double)r->first_map,
                                                  r->mask));
    }
}

static inline int64_t
index_of_f32(const index_rule *r, float x)
{
    if (!(x >= (float)r->first_map))
        return 0;
    if (r->rule == RD_LUT_RULE_VOI) {
        float d = x - (float)r->first_map;   /* float32 - Python int stays float32 */
        return clamp_index(r, float_to_index_bits((double)d, r->mask));
    }
    return clamp_index(r, float_to_index_bits((double)x - (double)r->first_map, r->mask));
}

static inline int64_t
index_of_f64(const index_rule *r, double x)
{
    if (!(x >= (double)r->first_map))
        return 0;
    return clamp_index(r, float_to_index_bits(x - (double)r->first_map, r->mask));
}

static inline int64_t
index_at(const index_rule *r, const void *in, size_t i)
{
    switch (r->type) {
    case RD_DT_U8: return index_of_int(r, ((const uint8_t *)in)[i]);
    case RD_DT_I8: return index_of_int(r, ((const int8_t *)in)[i]);
    case RD_DT_U16: return index_of_int(r, ((const uint16_t *)in)[i]);
    case RD_DT_I16: return index_of_int(r, ((const int16_t *)in)[i]);
    case RD_DT_U32: return index_of_int(r, ((const uint32_t *)in)[i]);
    case RD_DT_I32: return index_of_int(r, ((const int32_t *)in)[i]);
    case RD_DT_U64: return index_of_u64(r, ((const uint64_t *)in)[i]);
    case RD_DT_I64: return index_of_int(r, ((const int64_t *)in)[i]);
    case RD_DT_F32: return index_of_f32(r, ((const float *)in)[i]);
    case RD_DT_F64: return index_of_f64(r, ((const double *)in)[i]);
    }
    return 0;
}

static int
type_range(rd_dtype type, int64_t *lo, int64_t *hi)
{
    switch (type) {
    case RD_DT_U8: *lo = 0; *hi = UINT8_MAX; return 1;
    case RD_DT_I8: *lo = INT8_MIN; *hi = INT8_MAX; return 1;
    case RD_DT_U16: *lo = 0; *hi = UINT16_MAX; return 1;
    case RD_DT_I16: *lo = INT16_MIN; *hi = INT16_MAX; return 1;
    case RD_DT_U32: *lo = 0; *hi = UINT32_MAX; return 1;
    case RD_DT_I32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
    case RD_DT_U64: *lo = 0; *hi = INT64_MAX; return 1;
    case RD_DT_I64: *lo = INT64_MIN; *hi = INT64_MAX; return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------------------- */
/* Table lookup                                                               */
/* ------------------------------------------------------------------------- */

static rd_status
index_error(rd_error *err, const void *in, rd_dtype type, size_t i, int64_t j,
            size_t lut_len)
{
    double v = value_f64(in, type, i);
    return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                   "pixel value %.17g (element %llu) maps to LUT entry %lld, "
                   "but the LUT data has only %llu entries",
                   v, (unsigned long long)i, (long long)j, (unsigned long long)lut_len);
}

static inline void
store_entry(void *out, size_t i, uint32_t channels, const void *const *luts,
            size_t j, uint32_t entry_size)
{
    uint32_t c;
    size_t o = i * channels;

    switch (entry_size) {
    case 1:
        for (c = 0; c < channels; c++)
            ((uint8_t *)out)[o + c] = ((const uint8_t *)luts[c])[j];
        break;
    case 2:
        for (c = 0; c < channels; c++)
            ((uint16_t *)out)[o + c] = ((const uint16_t *)luts[c])[j];
        break;
    case 4:
        for (c = 0; c < channels; c++)
            ((uint32_t *)out)[o + c] = ((const uint32_t *)luts[c])[j];
        break;
    default:
        for (c = 0; c < channels; c++)
            ((uint64_t *)out)[o + c] = ((const uint64_t *)luts[c])[j];
        break;
    }
}

/* The table path: tab[raw bits of the pixel] is the LUT index or -1. */
#define GATHER_LOOP(IN_T, OUT_T)                                              \
    do {                                                                      \
        const IN_T *src = (const IN_T *)in;                                   \
        OUT_T *dst = (OUT_T *)out;                                            \
        if (channels == 1) {                                                  \
            const OUT_T *l0 = (const OUT_T *)luts[0];                         \
            for (i = 0; i < count; i++) {                                     \
                int32_t t = tab[src[i]];                                      \
                if (RD_UNLIKELY(t < 0))                                       \
                    goto bad_index;                                           \
                dst[i] = l0[t];                                               \
            }                                                                 \
        } else if (channels == 3) {                                           \
            const OUT_T *l0 = (const OUT_T *)luts[0];                         \
            const OUT_T *l1 = (const OUT_T *)luts[1];                         \
            const OUT_T *l2 = (const OUT_T *)luts[2];                         \
            for (i = 0; i < count; i++) {                                     \
                int32_t t = tab[src[i]];                                      \
                if (RD_UNLIKELY(t < 0))                                       \
                    goto bad_index;                                           \
                dst[3 * i] = l0[t];                                           \
                dst[3 * i + 1] = l1[t];                                       \
                dst[3 * i + 2] = l2[t];                                       \
            }                                                                 \
        } else {                                                              \
            for (i = 0; i < count; i++) {                                     \
                int32_t t = tab[src[i]];                                      \
                uint32_t ch;                                                  \
                if (RD_UNLIKELY(t < 0))                                       \
                    goto bad_index;                                           \
                for (ch = 0; ch < channels; ch++)                             \
                    dst[(size_t)channels * i + ch] = ((const OUT_T *)luts[ch])[t]; \
            }                                                                 \
        }                                                                     \
    } while (0)

#define GATHER_BY_ENTRY(IN_T)                                                 \
    do {                                                                      \
        switch (entry_size) {                                                 \
        case 1: GATHER_LOOP(IN_T, uint8_t); break;                            \
        case 2: GATHER_LOOP(IN_T, uint16_t); break;                           \
        case 4: GATHER_LOOP(IN_T, uint32_t); break;                           \
        default: GATHER_LOOP(IN_T, uint64_t); break;                          \
        }                                                                     \
    } while (0)

rd_status
rd_lut_apply(const void *in, rd_dtype type, size_t count, const rd_lut_map *map,
             const void *const *luts, uint32_t channels, size_t lut_len,
             uint32_t entry_size, void *out, size_t out_capacity, rd_error *err)
{
    index_rule r;
    int32_t *tab = NULL;
    size_t i = 0, table_size = 0;
    int64_t lo, hi, j = 0;
    uint32_t c;
    rd_status st = RD_OK;

    if (!valid_type(type))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "unknown input type %d",
                       (int)type);
    if (!map || map->size != sizeof(rd_lut_map))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "bad rd_lut_map");
    if (map->rule != RD_LUT_RULE_MODALITY && map->rule != RD_LUT_RULE_VOI &&
        map->rule != RD_LUT_RULE_PALETTE)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "unknown LUT rule %d",
                       (int)map->rule);
    if (map->nr_entries < 1 || map->nr_entries > 65536)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "LUT Descriptor gives %u entries (1 to 65536 allowed)",
                       map->nr_entries);
    if (map->rule != RD_LUT_RULE_MODALITY && map->index_bits != 8 && map->index_bits != 16)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "LUT entries of %u bits (8 or 16 allowed)", map->index_bits);
    if (map->rule == RD_LUT_RULE_MODALITY && (type == RD_DT_F32 || type == RD_DT_F64))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "a Modality LUT needs integer pixel values, not floating point");
    if (channels < 1 || channels > 4 || !luts)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "%u LUTs (1 to 4 allowed)",
                       channels);
    for (c = 0; c < channels; c++)
        if (!luts[c] && lut_len)
            return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "LUT %u missing", c);
    if (entry_size != 1 && entry_size != 2 && entry_size != 4 && entry_size != 8)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "LUT entries of %u bytes (1, 2, 4 or 8 allowed)", entry_size);
    if (count && !in)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "no input buffer");
    if (count > SIZE_MAX / channels / entry_size ||
        count * channels * entry_size > out_capacity || (count && !out))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "output of %llu bytes is too small for %llu values",
                       (unsigned long long)out_capacity, (unsigned long long)count);

    r.rule = map->rule;
    r.type = type;
    r.mask = map->rule == RD_LUT_RULE_MODALITY ? UINT64_MAX
                                               : ((uint64_t)1 << map->index_bits) - 1;
    r.first_map = map->first_map;
    r.last = (int64_t)map->nr_entries - 1;
    r.first_map_fits = type_range(type, &lo, &hi) && map->first_map >= lo &&
                       map->first_map <= hi;

    if (type == RD_DT_U8 || type == RD_DT_I8)
        table_size = 256;
    else if ((type == RD_DT_U16 || type == RD_DT_I16) && count >= TABLE_MIN_COUNT)
        table_size = 65536;

    if (table_size) {
        size_t k;
        tab = malloc(table_size * sizeof(*tab));
        if (!tab)
            return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG,
                           "out of memory for the LUT index table");
        for (k = 0; k < table_size; k++) {
            int64_t v;
            switch (type) {
            case RD_DT_I8: v = (int8_t)(uint8_t)k; break;
            case RD_DT_I16: v = (int16_t)(uint16_t)k; break;
            default: v = (int64_t)k; break;
            }
            j = index_of_int(&r, v);
            tab[k] = (uint64_t)j < lut_len ? (int32_t)j : -1;
        }
        if (table_size == 256)
            GATHER_BY_ENTRY(uint8_t);
        else
            GATHER_BY_ENTRY(uint16_t);
        goto cleanup;
    }

    for (i = 0; i < count; i++) {
        j = index_at(&r, in, i);
        if (RD_UNLIKELY((uint64_t)j >= lut_len))
            goto bad_index;
        store_entry(out, i, channels, luts, (size_t)j, entry_size);
    }
    goto cleanup;

bad_index:
    if (tab)
        j = index_at(&r, in, i);
    st = index_error(err, in, type, i, j, lut_len);
cleanup:
    free(tab);
    return st;
}

/* ------------------------------------------------------------------------- */
/* Segmented palette expansion                                                */
/* ------------------------------------------------------------------------- */

typedef struct seg_state {
    const uint8_t *data;
    size_t n;                /* entries in data */
    uint32_t esize;          /* 1 or 2 bytes per entry */
    int little;
    uint16_t *out;           /* NULL while counting */
    size_t cap;
    size_t len;              /* entries produced so far */
    uint64_t steps;          /* segments read, all levels */
    rd_error *err;
} seg_state;

static inline uint32_t
seg_entry(const seg_state *s, size_t i)
{
    return s->esize == 1 ? s->data[i] : rd_u16(s->data + 2 * i, s->little);
}

static inline rd_status
seg_emit(seg_state *s, uint32_t v, size_t at)
{
    if (RD_UNLIKELY(s->len >= RD_LUT_MAX_EXPANDED))
        return rd_fail(s->err, RD_ERR_LIMIT, (uint64_t)at * s->esize, RD_NO_TAG,
                       "segmented palette expands past %u entries",
                       (unsigned)RD_LUT_MAX_EXPANDED);
    if (s->out) {
        if (RD_UNLIKELY(s->len >= s->cap))
            return rd_fail(s->err, RD_ERR_INVALID, 0, RD_NO_TAG,
                           "output holds %llu entries, more needed",
                           (unsigned long long)s->cap);
        s->out[s->len] = (uint16_t)v;
    }
    s->len++;
    return RD_OK;
}

/* Linear segment: numpy.around(numpy.linspace(y0 + step, y1, length)) with
 * step = (y1 - y0) / length, each operation rounded as numpy does. */
static rd_status
seg_linear(seg_state *s, uint32_t y0, uint32_t y1, uint32_t length, size_t at)
{
    double step = (double)((int64_t)y1 - (int64_t)y0) / (double)length;
    double start = (double)y0 + step;
    double stop = (double)y1;
    rd_status st;
    uint32_t k;

    if (length == 1)
        return seg_emit(s, (uint32_t)nearbyint(start), at);
    {
        double delta = stop - start;
        double div = (double)(length - 1);
        double dstep = delta / div;
        for (k = 0; k < length; k++) {
            double y;
            if (k == length - 1) {
                y = stop;
            } else if (dstep == 0.0) {
                y = (double)k / div;
                y = y * delta;
                y = y + start;
            } else {
                y = (double)k * dstep;
                y = y + start;
            }
            if ((st = seg_emit(s, (uint32_t)nearbyint(y), at)) != RD_OK)
                return st;
        }
    }
    return RD_OK;
}

/*
 * Expands the data from entry `start` on (pydicom's data[start:]),
 * reading at most nr_segments segments (< 0: no limit; 0 also never stops
 * early, as in pydicom).  last_value is the previous value of the enclosing
 * expansion, 0 when there is none (pydicom tests it for truth, so a
 * previous value of 0 counts as none).  *produced and *last receive what
 * this level appended.
 */
static rd_status
seg_expand(seg_state *s, uint64_t start, int64_t nr_segments, uint32_t last_value,
           uint32_t depth, size_t *produced, uint32_t *last)
{
    size_t n = start < s->n ? s->n - (size_t)start : 0;
    size_t off = 0, local = 0;
    uint32_t local_last = 0;
    int64_t segments_read = 0;
    rd_status st;

    *produced = 0;
    *last = 0;
    if (depth > RD_LUT_MAX_SEGMENT_DEPTH)
        return rd_fail(s->err, RD_ERR_LIMIT, start * s->esize, RD_NO_TAG,
                       "indirect segments nested deeper than %u",
                       (unsigned)RD_LUT_MAX_SEGMENT_DEPTH);
    while (n >= 2 && off < n - 1) {
        size_t at = (size_t)start + off;
        uint32_t opcode = seg_entry(s, at);
        uint32_t length = seg_entry(s, at + 1);
        size_t k;

        if (++s->steps > RD_LUT_MAX_SEGMENT_STEPS)
            return rd_fail(s->err, RD_ERR_LIMIT, (uint64_t)at * s->esize, RD_NO_TAG,
                           "segmented palette needs more than %llu segment reads",
                           (unsigned long long)RD_LUT_MAX_SEGMENT_STEPS);
        off += 2;
        if (opcode == 0) {
            /* Discrete: a segment cut short keeps what is there (slicing). */
            size_t take = off < n ? n - off : 0;
            if (take > length)
                take = length;
            for (k = 0; k < take; k++) {
                local_last = seg_entry(s, (size_t)start + off + k);
                if ((st = seg_emit(s, local_last, at)) != RD_OK)
                    return st;
            }
            local += take;
            off += length;
        } else if (opcode == 1) {
            uint32_t y0, y1;
            if (local)
                y0 = local_last;
            else if (last_value)
                y0 = last_value;
            else
                return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                               RD_NO_TAG,
                               "Error expanding a segmented palette color lookup "
                               "table: the first segment cannot be a linear segment");
            if (off >= n)
                return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                               RD_NO_TAG, "linear segment cut short by the end of the data");
            y1 = seg_entry(s, (size_t)start + off);
            off += 1;
            if (y0 == y1) {
                for (k = 0; k < length; k++)
                    if ((st = seg_emit(s, y1, at)) != RD_OK)
                        return st;
            } else {
                if (length == 0)
                    return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                                   RD_NO_TAG,
                                   "linear segment of length 0 between different values");
                if ((st = seg_linear(s, y0, y1, length, at)) != RD_OK)
                    return st;
            }
            if (length) {
                local += length;
                local_last = y1;
            }
        } else if (opcode == 2) {
            uint64_t offset;
            size_t sub;
            uint32_t sub_last;
            if (!local)
                return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                               RD_NO_TAG,
                               "Error expanding a segmented palette color lookup "
                               "table: the first segment cannot be an indirect segment");
            if (s->esize == 1) {
                /* four 8-bit entries hold a 32-bit offset, in the order of
                 * the two 16-bit words they were written as */
                uint32_t b[4];
                size_t p = (size_t)start + off;
                if (n - off < 4)
                    return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                                   RD_NO_TAG,
                                   "indirect segment cut short by the end of the data");
                if (s->little) {
                    b[0] = s->data[p + 3]; b[1] = s->data[p + 2];
                    b[2] = s->data[p + 1]; b[3] = s->data[p];
                } else {
                    b[0] = s->data[p + 2]; b[1] = s->data[p + 3];
                    b[2] = s->data[p]; b[3] = s->data[p + 1];
                }
                offset = ((uint64_t)((b[0] << 8) | b[1]) << 16) | ((b[2] << 8) | b[3]);
                off += 4;
            } else {
                if (n - off < 2)
                    return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize,
                                   RD_NO_TAG,
                                   "indirect segment cut short by the end of the data");
                offset = ((uint64_t)seg_entry(s, (size_t)start + off + 1) << 16) |
                         seg_entry(s, (size_t)start + off);
                off += 2;
            }
            /* the offset counts entries from this level's start */
            st = seg_expand(s, start + offset, (int64_t)length, local_last, depth + 1,
                            &sub, &sub_last);
            if (st != RD_OK)
                return st;
            if (sub) {
                local += sub;
                local_last = sub_last;
            }
        } else {
            return rd_fail(s->err, RD_ERR_INVALID, (uint64_t)at * s->esize, RD_NO_TAG,
                           "Error expanding a segmented palette lookup table: "
                           "unknown segment type '%u'", opcode);
        }
        segments_read++;
        if (segments_read == nr_segments)
            break;
    }
    *produced = local;
    *last = local_last;
    return RD_OK;
}

rd_status
rd_lut_expand_segmented(const uint8_t *data, size_t len, uint32_t entry_size,
                        int little_endian, uint16_t *out, size_t capacity,
                        size_t *out_len, rd_error *err)
{
    seg_state s;
    size_t produced;
    uint32_t last;
    rd_status st;

    if (out_len)
        *out_len = 0;
    if (!out_len || (len && !data))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "bad arguments");
    if (entry_size != 1 && entry_size != 2)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "segmented LUT entries of %u bytes (1 or 2 allowed)", entry_size);
    if (len % entry_size)
        return rd_fail(err, RD_ERR_INVALID, len, RD_NO_TAG,
                       "segmented LUT data of %llu bytes is not a whole number of "
                       "%u-byte entries", (unsigned long long)len, entry_size);
    s.data = data;
    s.n = len / entry_size;
    s.esize = entry_size;
    s.little = little_endian;
    s.out = out;
    s.cap = out ? capacity : 0;
    s.len = 0;
    s.steps = 0;
    s.err = err;
    st = seg_expand(&s, 0, -1, 0, 0, &produced, &last);
    *out_len = s.len;
    return st;
}
