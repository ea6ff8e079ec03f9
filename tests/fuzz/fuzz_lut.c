/*
 * fuzz_lut.c - libFuzzer target: the LUT stages (lut.c, rd_lut.h), whose
 * lengths all come from the file: segmented palette data, LUT Descriptors
 * (entries, first mapped value) against LUT data of another length, and
 * windowing / rescale parameters.
 *
 * Input: byte 0 picks the function (modulo 4), the next bytes its
 * parameters, the rest its data:
 *   0  rd_lut_expand_segmented   byte 1: bit 0 entry size 1/2, bit 1 little endian
 *   1  rd_lut_apply              bytes 1-9: input type, rule | index bits |
 *                                channels, entry size, First Mapped (int16),
 *                                entries (uint16, 0 = 65536), LUT length
 *                                (uint16 entries, cut to the data there is);
 *                                then the LUTs, then the pixel values
 *   2  rd_lut_window             bytes 1-2: input type, function; then
 *                                centre, width, y_min, y_max as doubles
 *   3  rd_lut_rescale            byte 1: input type; then slope, intercept
 *
 * Checked: a failure fills err; a success wrote all of its exact-size
 * output, deterministically (fuzz_decode_checked); segmented expansion
 * counts what it then writes, and refuses a capacity one entry short.
 */
#include "fuzz_common.h"
#include "rd_lut.h"

static const size_t DTYPE_SIZE[10] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
static const uint32_t ENTRY_SIZE[4] = {1, 2, 4, 8};

/* Reads from the input, front to back. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint64_t
take_uint(reader *r, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && r->left; i++, r->left--)
        v |= (uint64_t)*r->p++ << (8 * i);
    return v;
}

static double
take_double(reader *r)
{
    uint64_t bits = take_uint(r, 8);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* ------------------------------------------------------------------------- */

typedef struct segmented_call {
    const uint8_t *data;
    size_t len;
    uint32_t entry_size;
    int little;
    size_t produced;
} segmented_call;

static rd_status
segmented_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    segmented_call *c = ctx;
    return rd_lut_expand_segmented(c->data, c->len, c->entry_size, c->little,
                                   (uint16_t *)dst, dst_cap / 2, &c->produced, err);
}

static void
fuzz_segmented(reader *r)
{
    uint32_t mode = (uint32_t)take_uint(r, 1);
    uint8_t *data = fuzz_exact_copy(r->p, r->left), *out;
    segmented_call call = {data, r->left, 1 + (mode & 1), (mode >> 1) & 1, 0};
    size_t count = 0;
    rd_error err;
    rd_status st;

    fuzz_clear_error(&err);
    st = rd_lut_expand_segmented(data, call.len, call.entry_size, call.little, NULL, 0, &count,
                                 &err);
    if (st != RD_OK) {
        fuzz_check_failure(st, &err, "segmented count");
    } else {
        fuzz_check(count <= RD_LUT_MAX_EXPANDED, "expanded to %zu entries", count);
        out = fuzz_alloc(count * 2);
        st = fuzz_decode_checked(segmented_once, &call, out, count * 2, count * 2, "segmented");
        fuzz_check(st == RD_OK && call.produced == count,
                   "segmented: counted %zu entries, then status %d with %zu", count, (int)st,
                   call.produced);
        if (count > 0) {
            fuzz_clear_error(&err);
            st = rd_lut_expand_segmented(data, call.len, call.entry_size, call.little,
                                         (uint16_t *)out, count - 1, &call.produced, &err);
            fuzz_check(st != RD_OK, "segmented: %zu entries fit in %zu", count, count - 1);
            fuzz_check_failure(st, &err, "segmented short");
        }
        free(out);
    }
    free(data);
}

/* ------------------------------------------------------------------------- */

typedef struct apply_call {
    const void *in;
    rd_dtype type;
    size_t count;
    rd_lut_map map;
    const void *luts[4];
    uint32_t channels;
    size_t lut_len;
    uint32_t entry_size;
} apply_call;

static rd_status
apply_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    const apply_call *c = ctx;
    return rd_lut_apply(c->in, c->type, c->count, &c->map, c->luts, c->channels, c->lut_len,
                        c->entry_size, dst, dst_cap, err);
}

static void
fuzz_apply(reader *r)
{
    apply_call c;
    uint32_t shape;
    uint64_t entries, out_size;
    uint8_t *luts[4] = {NULL, NULL, NULL, NULL}, *in, *out;

    memset(&c, 0, sizeof(c));
    c.type = (rd_dtype)(take_uint(r, 1) % 10);
    shape = (uint32_t)take_uint(r, 1);
    c.map.size = sizeof(c.map);
    c.map.rule = (rd_lut_rule)(shape % 3);
    c.map.index_bits = (shape >> 2) & 1 ? 16 : 8;
    c.channels = ((shape >> 3) & 3) + 1;
    c.entry_size = ENTRY_SIZE[take_uint(r, 1) & 3];
    c.map.first_map = (int16_t)take_uint(r, 2);
    entries = take_uint(r, 2);
    c.map.nr_entries = entries ? (uint32_t)entries : 65536;
    c.lut_len = take_uint(r, 2);
    if (c.lut_len > r->left / (c.channels * c.entry_size))
        c.lut_len = r->left / (c.channels * c.entry_size);
    for (uint32_t k = 0; k < c.channels; k++) {
        luts[k] = fuzz_exact_copy(r->p, c.lut_len * c.entry_size);
        c.luts[k] = luts[k];
        r->p += c.lut_len * c.entry_size;
        r->left -= c.lut_len * c.entry_size;
    }
    c.count = r->left / DTYPE_SIZE[c.type];
    in = fuzz_exact_copy(r->p, c.count * DTYPE_SIZE[c.type]);
    c.in = in;
    out_size = (uint64_t)c.count * c.channels * c.entry_size;
    out = fuzz_alloc(out_size);
    (void)fuzz_decode_checked(apply_once, &c, out, out_size, out_size, "lut apply");
    free(out);
    free(in);
    for (uint32_t k = 0; k < c.channels; k++)
        free(luts[k]);
}

/* ------------------------------------------------------------------------- */

typedef struct window_call {
    const void *in;
    rd_dtype type;
    size_t count;
    rd_window window;
    double slope, intercept;
    int rescale;
} window_call;

static rd_status
window_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    const window_call *c = ctx;
    if (c->rescale)
        return rd_lut_rescale(c->in, c->type, c->count, c->slope, c->intercept, (double *)dst,
                              dst_cap / sizeof(double), err);
    return rd_lut_window(c->in, c->type, c->count, &c->window, (double *)dst,
                         dst_cap / sizeof(double), err);
}

static void
fuzz_window(reader *r, int rescale)
{
    window_call c;
    uint8_t *in, *out;
    uint64_t out_size;

    memset(&c, 0, sizeof(c));
    c.rescale = rescale;
    c.type = (rd_dtype)(take_uint(r, 1) % 10);
    if (rescale) {
        c.slope = take_double(r);
        c.intercept = take_double(r);
    } else {
        c.window.size = sizeof(c.window);
        c.window.function = (rd_voi_function)(take_uint(r, 1) % 3);
        c.window.center = take_double(r);
        c.window.width = take_double(r);
        c.window.y_min = take_double(r);
        c.window.y_max = take_double(r);
        c.window.y_range = c.window.y_max - c.window.y_min;
    }
    c.count = r->left / DTYPE_SIZE[c.type];
    in = fuzz_exact_copy(r->p, c.count * DTYPE_SIZE[c.type]);
    c.in = in;
    out_size = (uint64_t)c.count * sizeof(double);
    out = fuzz_alloc(out_size);
    (void)fuzz_decode_checked(window_once, &c, out, out_size, out_size,
                              rescale ? "rescale" : "window");
    free(out);
    free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    if (size < 1)
        return 0;
    switch (take_uint(&r, 1) % 4) {
    case 0:
        fuzz_segmented(&r);
        break;
    case 1:
        fuzz_apply(&r);
        break;
    case 2:
        fuzz_window(&r, 0);
        break;
    default:
        fuzz_window(&r, 1);
        break;
    }
    return 0;
}
