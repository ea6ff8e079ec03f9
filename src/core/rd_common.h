/*
 * rd_common.h - internal helpers shared by the core's modules.
 *
 * Not installed and not part of the public interface.  Everything that reads
 * input goes through the bounds checks written here, always in the form
 * `need <= end - pos` so that no addition can overflow.
 */
#ifndef RD_COMMON_H
#define RD_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rapidicom.h"

#if defined(__GNUC__) || defined(__clang__)
#define RD_LIKELY(x) __builtin_expect(!!(x), 1)
#define RD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RD_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define RD_LIKELY(x) (x)
#define RD_UNLIKELY(x) (x)
#define RD_PRINTF_LIKE(f, a)
#endif

#ifdef RD_ENABLE_ASSERTIONS
#include <assert.h>
#define RD_ASSERT(x) assert(x)
#else
#define RD_ASSERT(x) ((void)0)
#endif

#define RD_UNDEFINED_LENGTH 0xFFFFFFFFu

#define RD_TAG_ITEM 0xFFFEE000u
#define RD_TAG_ITEM_DELIMITER 0xFFFEE00Du
#define RD_TAG_SEQUENCE_DELIMITER 0xFFFEE0DDu
#define RD_TAG_PIXEL_DATA 0x7FE00010u

/* True when `need` bytes are available at `pos` in a buffer of `size`. */
static inline int
rd_has(uint64_t size, uint64_t pos, uint64_t need)
{
    return pos <= size && need <= size - pos;
}

static inline uint16_t
rd_u16(const uint8_t *p, int little_endian)
{
    return little_endian ? (uint16_t)(p[0] | (p[1] << 8))
                         : (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rd_u32(const uint8_t *p, int little_endian)
{
    return little_endian
        ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)
        : ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Eight bytes as one big-endian number: the entropy decoders' bit readers
 * take a whole word at a time. */
static inline uint64_t
rd_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#elif !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
    v = ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40)
        | ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16)
        | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
#endif
    return v;
}

/* True when none of the 8 bytes of w is 0xFF: where JPEG and JPEG-LS
 * entropy-coded data holds no stuffing and no marker, so a bit reader may
 * take all 8 bytes as they are. */
static inline int
rd_no_ff_byte(uint64_t w)
{
    const uint64_t x = ~w;          /* a 0xFF byte of w is a zero byte of x */
    return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) == 0;
}

/* Tag as (group << 16 | element), each half read in the given byte order. */
static inline uint32_t
rd_tag(const uint8_t *p, int little_endian)
{
    return ((uint32_t)rd_u16(p, little_endian) << 16) | rd_u16(p + 2, little_endian);
}

/* Fill `err` (which may be NULL) and return `code`. */
static inline rd_status RD_PRINTF_LIKE(5, 6)
rd_fail(rd_error *err, rd_status code, uint64_t offset, uint32_t tag,
        const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->offset = offset;
        err->tag = tag;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The checks every frame decoder makes before it reads its input: the
 * frame has a size in 64 bits, at most max_pixels pixels (UINT64_MAX: no
 * limit) and fits the dst_cap bytes given for it.  Messages start with
 * `codec`. */
static inline rd_status
rd_check_frame_fits(const char *codec, const rd_frame_desc *desc, uint64_t dst_cap,
                    uint64_t max_pixels, rd_error *err)
{
    const uint64_t frame_size = rd_frame_size(desc);
    const uint64_t pixels = (uint64_t)desc->rows * desc->columns;

    if (frame_size == 0)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "%s: frame of %u x %u pixels, %u samples of %u bits has no valid size "
                       "(zero or over 64 bits)", codec, (unsigned)desc->rows,
                       (unsigned)desc->columns, (unsigned)desc->samples_per_pixel,
                       (unsigned)desc->bits_allocated);
    if (pixels > max_pixels)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                       "%s: frame of %u x %u = %llu pixels exceeds the limit of %llu "
                       "(limit max_pixels)", codec, (unsigned)desc->rows,
                       (unsigned)desc->columns, (unsigned long long)pixels,
                       (unsigned long long)max_pixels);
    if (frame_size > dst_cap)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "%s: output buffer holds %llu bytes, the frame needs %llu", codec,
                       (unsigned long long)dst_cap, (unsigned long long)frame_size);
    return RD_OK;
}

/* True when the caller's options struct (of `o->size` bytes) has `field`. */
#define RD_OPTIONS_HAVE(o, field) \
    ((o)->size >= offsetof(rd_codec_options, field) + sizeof((o)->field))

/* A limit of the caller's codec options (NULL allowed), or `fallback` (its
 * RD_DEFAULT_* value) when the struct is older than the field or holds 0. */
#define RD_CODEC_LIMIT(o, field, fallback) \
    ((o) != NULL && RD_OPTIONS_HAVE(o, field) && (o)->field != 0 ? (o)->field : (fallback))

/*
 * Read a codec call's options into the caller's locals, which hold the
 * defaults: NULL options, or an older and shorter struct, leave them as
 * they are; max_pixels 0 means the default.  Any output pointer may be NULL.
 */
static inline void
rd_read_codec_options(const rd_codec_options *o, uint32_t *flags, uint32_t *threads,
                      uint64_t *max_pixels)
{
    if (o == NULL)
        return;
    if (flags && RD_OPTIONS_HAVE(o, flags))
        *flags = o->flags;
    if (threads && RD_OPTIONS_HAVE(o, threads))
        *threads = o->threads;
    if (max_pixels && RD_OPTIONS_HAVE(o, max_pixels) && o->max_pixels != 0)
        *max_pixels = o->max_pixels;
}

/* index.c: building an index */
rd_index *rd_index_new(const uint8_t *data, uint64_t size);
rd_status rd_index_push(rd_index *index, uint32_t max_records, uint32_t *out_pos,
                        rd_error *err);
rd_status rd_index_link(rd_index *index, rd_error *err);

/* inflate.c: Deflated Explicit VR Little Endian */
rd_status rd_inflate_dataset(const uint8_t *buf, uint64_t len, uint64_t dataset_offset,
                             uint64_t max_inflated, uint8_t **out, uint64_t *out_len,
                             rd_error *err);

#endif /* RD_COMMON_H */
