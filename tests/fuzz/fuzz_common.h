/*
 * fuzz_common.h - what the libFuzzer targets in tests/fuzz share.
 *
 * Each target turns the fuzzer's bytes into one or more calls of the C core
 * and checks the contract of rapidicom.h.  A broken invariant calls
 * fuzz_fail(), which prints what went wrong and aborts, so libFuzzer saves
 * the input as a crash like any sanitizer report.
 *
 * Inputs are copied into malloc'd buffers of exactly their size
 * (fuzz_exact_copy) and outputs are allocated at exactly the size the call
 * may write, so AddressSanitizer reports any read or write one byte past
 * either end.  Sizes are bounded (FUZZ_MAX_FRAME_BYTES) so that each run
 * stays small and fast; inputs asking for more are skipped.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapidicom.h"

/* Largest decoded frame a target allocates (bytes) and the pixel limit the
 * codecs are given: both far above the seed frames, far below the RSS limit. */
#define FUZZ_MAX_FRAME_BYTES ((uint64_t)4 << 20)
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 20)

/* Report a broken invariant and abort (libFuzzer keeps the input). */
#define fuzz_fail(...)                                                   \
    do {                                                                 \
        fprintf(stderr, "\nINVARIANT BROKEN (%s:%d): ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                    \
        fprintf(stderr, "\n");                                           \
        abort();                                                         \
    } while (0)

#define fuzz_check(cond, ...)      \
    do {                           \
        if (!(cond))               \
            fuzz_fail(__VA_ARGS__); \
    } while (0)

/* A copy of data[0, size) in a buffer of exactly `size` bytes (one byte,
 * never read, for size 0 so the pointer is valid).  Free with free(). */
static inline uint8_t *
fuzz_exact_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    if (size)
        memcpy(copy, data, size);
    return copy;
}

/* A buffer of exactly `size` bytes (one when size is 0). */
static inline uint8_t *
fuzz_alloc(uint64_t size)
{
    uint8_t *p = malloc(size ? (size_t)size : 1);
    if (p == NULL)
        abort();
    return p;
}

/* A failed call must name its status in err->code and say why. */
static inline void
fuzz_check_failure(rd_status status, const rd_error *err, const char *what)
{
    fuzz_check(status > RD_OK && status <= RD_ERR_NOT_DICOM, "%s: status %d out of range",
               what, (int)status);
    fuzz_check(err->code == status, "%s: status %d but err.code %d", what, (int)status,
               (int)err->code);
    fuzz_check(err->msg[0] != '\0', "%s: status %d without a message", what, (int)status);
    fuzz_check(memchr(err->msg, '\0', sizeof(err->msg)) != NULL,
               "%s: message not NUL-terminated", what);
}

/* An rd_error whose fields show whether a call filled them. */
static inline void
fuzz_clear_error(rd_error *err)
{
    memset(err, 0, sizeof(*err));
    err->code = RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Frame descriptions drawn from the input                                    */
/* ------------------------------------------------------------------------- */

/*
 * The first FUZZ_DESC_BYTES of a decoder target's input describe the frame
 * (make_seeds.py writes them for each real frame):
 *
 *   0-1  rows (uint16 little endian)      2-3  columns
 *   4    bits 0-1: samples per pixel - 1; bits 2-4: Bits Allocated, an index
 *        into FUZZ_BITS_ALLOCATED; bit 5: Pixel Representation; bit 6:
 *        Planar Configuration; bit 7: a target-specific flag (codecs: keep YBR)
 *   5    Bits Stored (any byte value, so invalid ones are explored)
 *   6    photometric interpretation (rd_photometric, modulo 10)
 *   7    bit 0: give the decoder one byte less than the frame needs;
 *        other bits: target-specific
 */
#define FUZZ_DESC_BYTES 8

static const uint32_t FUZZ_BITS_ALLOCATED[8] = {8, 16, 1, 32, 64, 12, 0, 24};

typedef struct fuzz_frame {
    rd_frame_desc desc;
    int flag;            /* byte 4, bit 7 */
    int short_output;    /* byte 7, bit 0 */
    uint8_t extra;       /* byte 7 >> 1 */
} fuzz_frame;

static inline void
fuzz_read_frame(const uint8_t *p, fuzz_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->desc.rows = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
    f->desc.columns = (uint32_t)p[2] | ((uint32_t)p[3] << 8);
    f->desc.samples_per_pixel = (uint32_t)(p[4] & 3) + 1;
    f->desc.bits_allocated = FUZZ_BITS_ALLOCATED[(p[4] >> 2) & 7];
    f->desc.pixel_representation = (p[4] >> 5) & 1;
    f->desc.planar_configuration = (p[4] >> 6) & 1;
    f->flag = (p[4] >> 7) & 1;
    f->desc.bits_stored = p[5];
    f->desc.photometric = p[6] % 10;
    f->short_output = p[7] & 1;
    f->extra = p[7] >> 1;
}

/* rows x columns x samples x bytes per sample (1-bit: one byte), computed
 * independently of rd_frame_size(); 0 for an invalid Bits Allocated. */
static inline uint64_t
fuzz_expected_frame_size(const rd_frame_desc *d)
{
    uint64_t bytes;
    if (d->bits_allocated == 1)
        bytes = 1;
    else if (d->bits_allocated != 0 && d->bits_allocated % 8 == 0)
        bytes = d->bits_allocated / 8;
    else
        return 0;
    /* rows, columns < 2^16 and samples, bytes <= 8: no overflow in 64 bits */
    return (uint64_t)d->rows * d->columns * d->samples_per_pixel * bytes;
}

/* rd_frame_size() must agree with the independent computation. */
static inline uint64_t
fuzz_frame_size(const rd_frame_desc *d)
{
    uint64_t size = rd_frame_size(d), expected = fuzz_expected_frame_size(d);
    fuzz_check(size == expected, "rd_frame_size %llu, expected rows x columns x samples x "
               "bytes = %llu", (unsigned long long)size, (unsigned long long)expected);
    return size;
}

/*
 * Read the frame description that opens an input of `size` bytes, which must
 * have at least `after` more bytes behind it, and the frame's size, checked
 * by fuzz_frame_size().  Returns 0 when the input is to be skipped: too
 * short, or a frame larger than FUZZ_MAX_FRAME_BYTES.
 */
static inline int
fuzz_read_input_frame(const uint8_t *data, size_t size, size_t after, fuzz_frame *f,
                      uint64_t *frame)
{
    if (size < FUZZ_DESC_BYTES + after)
        return 0;
    fuzz_read_frame(data, f);
    *frame = fuzz_frame_size(&f->desc);
    return *frame <= FUZZ_MAX_FRAME_BYTES;
}

/*
 * Call a decoder twice into the same exact-size output, first filled with
 * 0x00 then with 0xFF: a decoder that succeeds must write every byte, and
 * deterministically, so both outputs must be equal.  `call` runs one decode
 * into `dst` and returns its status; the first status is returned.
 */
typedef rd_status (*fuzz_decode_call)(void *ctx, uint8_t *dst, uint64_t dst_cap,
                                      rd_error *err);

static inline rd_status
fuzz_decode_checked(fuzz_decode_call call, void *ctx, uint8_t *dst, uint64_t size,
                    uint64_t cap, const char *what)
{
    rd_error err;
    rd_status first, second;
    uint8_t *copy;

    memset(dst, 0x00, size ? size : 1);
    fuzz_clear_error(&err);
    first = call(ctx, dst, cap, &err);
    if (getenv("FUZZ_TRACE"))  /* see what a seed or a crash input does */
        fprintf(stderr, "%s: status %d, %llu-byte output: %s\n", what, (int)first,
                (unsigned long long)cap, first == RD_OK ? "" : err.msg);
    if (first != RD_OK) {
        fuzz_check_failure(first, &err, what);
        return first;
    }
    fuzz_check(cap >= size, "%s: succeeded with %llu bytes of output for a %llu-byte frame",
               what, (unsigned long long)cap, (unsigned long long)size);
    copy = fuzz_exact_copy(dst, size);
    memset(dst, 0xFF, size ? size : 1);
    fuzz_clear_error(&err);
    second = call(ctx, dst, cap, &err);
    fuzz_check(second == RD_OK, "%s: second decode of the same input gave status %d (%s)",
               what, (int)second, err.msg);
    for (uint64_t i = 0; i < size; i++)
        fuzz_check(copy[i] == dst[i], "%s: output byte %llu of %llu not written "
                   "(or not deterministic): %u then %u", what, (unsigned long long)i,
                   (unsigned long long)size, copy[i], dst[i]);
    free(copy);
    return first;
}

/* One rd_native_frame() call for fuzz_decode_checked (fuzz_native.c, and
 * fuzz_deflate.c on the inflated frame). */
typedef struct fuzz_native_call {
    const uint8_t *src;
    uint64_t src_len;
    const rd_frame_desc *desc;
    rd_native_layout layout;
} fuzz_native_call;

static inline rd_status
fuzz_native_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    const fuzz_native_call *c = ctx;
    return rd_native_frame(c->src, c->src_len, c->desc, &c->layout, dst, dst_cap, err);
}

/*
 * What pixels.py does after a successful decode: the unused-bits fix-up
 * and, for 8-bit YBR_FULL / YBR_FULL_422 with three samples, YBR -> RGB.
 * Both work in place on exactly the frame's bytes.
 */
static inline void
fuzz_post_process(uint8_t *frame, uint64_t size, const rd_frame_desc *d)
{
    uint64_t bytes = d->bits_allocated <= 8 ? 1 : d->bits_allocated / 8;
    if (d->bits_allocated >= 8 && d->bits_stored > 0 && d->bits_stored < d->bits_allocated)
        rd_fix_unused_bits(frame, size / bytes, d);
    if (d->bits_allocated == 8 && d->samples_per_pixel == 3
        && (d->photometric == RD_PI_YBR_FULL || d->photometric == RD_PI_YBR_FULL_422))
        rd_ybr_full_to_rgb_u8(frame, size / 3);
}

#endif /* FUZZ_COMMON_H */
