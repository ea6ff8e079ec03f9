/*
 * unpack.c - native (uncompressed) frames to the decoder output contract:
 * samples interleaved, little endian, 1-bit data one byte per pixel,
 * YBR_FULL_422 expanded to three samples per pixel, and the bits above Bits
 * Stored cleared (unsigned) or filled with the sign bit (signed), exactly as
 * pydicom's pixel_array does.
 *
 * Why it is fast: the common layouts (little endian, interleaved) are one
 * memcpy plus, only when Bits Stored < Bits Allocated, one in-cache pass;
 * the general path reads each byte once and writes it once.  Callers that
 * can use a zero-copy view skip this file entirely (rd_native_bits_clean
 * tells them whether the view already shows the corrected values).
 *
 * Invariant: every read is within src[0, src_len); the caller's `src` is the
 * whole Pixel Data value and the frame starts layout->bit_offset bits in.
 */
#include "rd_common.h"

/* rows x columns x samples x bytes per sample (1-bit: one byte), 0 on overflow. */
static uint64_t
frame_bytes(const rd_frame_desc *d, uint64_t samples_per_pixel)
{
    uint64_t bytes = d->bits_allocated <= 8 ? 1 : d->bits_allocated / 8;
    uint64_t n = (uint64_t)d->rows * d->columns;
    if (samples_per_pixel && n > UINT64_MAX / samples_per_pixel)
        return 0;
    n *= samples_per_pixel;
    if (n > UINT64_MAX / bytes)
        return 0;
    return n * bytes;
}

uint64_t
rd_native_frame_bytes(const rd_frame_desc *d)
{
    uint64_t pixels = (uint64_t)d->rows * d->columns;
    if (d->bits_allocated == 1) {
        uint64_t bits = frame_bytes(d, d->samples_per_pixel);
        return bits / 8 + (bits % 8 != 0);
    }
    if (d->photometric == RD_PI_YBR_FULL_422) {
        /* Y1 Y2 Cb Cr for each pair of pixels: two samples per pixel. */
        if (pixels > UINT64_MAX / 2)
            return 0;
        return frame_bytes(d, 2);
    }
    return frame_bytes(d, d->samples_per_pixel);
}

/* ------------------------------------------------------------------------- */
/* Unused bits                                                                */
/* ------------------------------------------------------------------------- */

/* Sign-extend or mask `count` little-endian samples in place. */
/* Shift left then right in the sample type: logical for unsigned (clears
 * the high bits), arithmetic for signed (copies the sign bit).  One loop per
 * case keeps each one branch-free and vectorisable. */
#define FIX_BITS(UT, T)                                                         \
    for (uint64_t i = 0; i < count; i++) {                                      \
        UT v;                                                                   \
        memcpy(&v, p + i * sizeof(UT), sizeof(UT));                             \
        v = (UT)((T)(UT)(v << shift) >> shift);                                 \
        memcpy(p + i * sizeof(UT), &v, sizeof(UT));                             \
    }

static void
fix_unused_bits(uint8_t *p, uint64_t count, uint32_t bits_allocated, uint32_t bits_stored,
                int is_signed)
{
    uint32_t shift = bits_allocated - bits_stored;
    switch (bits_allocated * 2 + (is_signed ? 1 : 0)) {
    case 16: FIX_BITS(uint8_t, uint8_t) break;
    case 17: FIX_BITS(uint8_t, int8_t) break;
    case 32: FIX_BITS(uint16_t, uint16_t) break;
    case 33: FIX_BITS(uint16_t, int16_t) break;
    case 64: FIX_BITS(uint32_t, uint32_t) break;
    case 65: FIX_BITS(uint32_t, int32_t) break;
    case 128: FIX_BITS(uint64_t, uint64_t) break;
    case 129: FIX_BITS(uint64_t, int64_t) break;
    default: break;
    }
}

void
rd_fix_unused_bits(uint8_t *samples, uint64_t count, const rd_frame_desc *d)
{
    if (d->bits_stored > 0 && d->bits_stored < d->bits_allocated)
        fix_unused_bits(samples, count, d->bits_allocated, d->bits_stored,
                        d->pixel_representation != 0);
}

/*
 * One pass per width with fixed-size loads (vectorisable): unsigned samples
 * are clean when no bit above Bits Stored is set in any of them; signed ones
 * when the sign bit and everything above it are all equal, i.e. the sample
 * shifted right (arithmetically) by Bits Stored - 1 is 0 or -1.
 */
#define BITS_CLEAN(UT, ST)                                                      \
    do {                                                                        \
        UT acc = 0;                                                             \
        for (uint64_t i = 0; i < count; i++) {                                  \
            UT v;                                                               \
            memcpy(&v, src + i * sizeof(UT), sizeof(UT));                       \
            if (d->pixel_representation)                                        \
                acc |= (UT)((UT)((ST)v >> (bs - 1)) + 1) > 1;                   \
            else                                                                \
                acc |= v;                                                       \
        }                                                                       \
        return d->pixel_representation ? acc == 0 : (acc >> bs) == 0;          \
    } while (0)

int
rd_native_bits_clean(const uint8_t *src, uint64_t count, const rd_frame_desc *d)
{
    uint32_t ba = d->bits_allocated, bs = d->bits_stored;
    if (bs >= ba || bs == 0)
        return 1;
    switch (ba) {  /* little-endian host assumed: the samples are little endian */
    case 8:
        BITS_CLEAN(uint8_t, int8_t);
    case 16:
        BITS_CLEAN(uint16_t, int16_t);
    case 32:
        BITS_CLEAN(uint32_t, int32_t);
    case 64:
        BITS_CLEAN(uint64_t, int64_t);
    default:
        return 1;
    }
}

/* ------------------------------------------------------------------------- */
/* Frames                                                                     */
/* ------------------------------------------------------------------------- */

/* Reverse the bytes of `count` samples of `bytes` each (big to little endian). */
static void
swap_bytes(uint8_t *dst, const uint8_t *src, uint64_t count, uint32_t bytes)
{
    switch (bytes) {
    case 2:
        for (uint64_t i = 0; i < count; i++) {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            v = (uint16_t)((v >> 8) | (v << 8));
            memcpy(dst + 2 * i, &v, 2);
        }
        break;
    case 4:
        for (uint64_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            v = ((v >> 24) & 0xFFu) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
            memcpy(dst + 4 * i, &v, 4);
        }
        break;
    default:  /* 8 */
        for (uint64_t i = 0; i < count; i++)
            for (int b = 0; b < 8; b++)
                dst[8 * i + (uint64_t)b] = src[8 * i + 7 - (uint64_t)b];
        break;
    }
}

static rd_status
unpack_bits(const uint8_t *src, uint64_t src_len, uint64_t bit_offset, uint64_t n,
            uint8_t *dst, rd_error *err)
{
    uint64_t last_bit = bit_offset + n;
    if (n && (last_bit < bit_offset || (last_bit - 1) / 8 >= src_len))
        return rd_fail(err, RD_ERR_TRUNCATED, src_len, RD_TAG_PIXEL_DATA,
                       "1-bit frame needs %llu bits from bit %llu; Pixel Data has %llu bytes",
                       (unsigned long long)n, (unsigned long long)bit_offset,
                       (unsigned long long)src_len);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t b = bit_offset + i;
        dst[i] = (src[b >> 3] >> (b & 7)) & 1;  /* DICOM packs from the least significant bit */
    }
    return RD_OK;
}

rd_status
rd_native_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *d,
                const rd_native_layout *layout, uint8_t *dst, uint64_t dst_cap,
                rd_error *err)
{
    uint64_t out_size = frame_bytes(d, d->samples_per_pixel);
    uint64_t in_size = rd_native_frame_bytes(d);
    uint64_t start = layout->bit_offset / 8;
    uint32_t bytes = d->bits_allocated <= 8 ? 1 : d->bits_allocated / 8;
    uint32_t spp = d->samples_per_pixel;
    uint64_t pixels = (uint64_t)d->rows * d->columns;
    int big = (layout->flags & RD_NATIVE_BIG_ENDIAN) && bytes > 1;
    /* Word swapping concerns 8-bit samples only; wider ones would be left
     * partly unwritten by the one-byte copies of that path. */
    int swap_words = (layout->flags & RD_NATIVE_SWAP_WORDS) && d->bits_allocated == 8;
    int is_422 = d->photometric == RD_PI_YBR_FULL_422 && d->bits_allocated != 1;

    /* The copies below handle 1-, 2-, 4- and 8-byte samples only. */
    if (d->bits_allocated != 1 && d->bits_allocated != 8 && d->bits_allocated != 16
        && d->bits_allocated != 32 && d->bits_allocated != 64)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_TAG_PIXEL_DATA,
                       "Bits Allocated %u is not 1, 8, 16, 32 or 64", d->bits_allocated);
    if (out_size == 0 && pixels != 0)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_TAG_PIXEL_DATA, "frame size overflows");
    if (dst_cap < out_size)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_TAG_PIXEL_DATA,
                       "output holds %llu bytes, the frame needs %llu",
                       (unsigned long long)dst_cap, (unsigned long long)out_size);
    if (d->bits_allocated == 1)
        return unpack_bits(src, src_len, layout->bit_offset, pixels * spp, dst, err);
    if (!rd_has(src_len, start, in_size))
        return rd_fail(err, RD_ERR_TRUNCATED, start, RD_TAG_PIXEL_DATA,
                       "frame of %llu bytes at byte %llu of Pixel Data runs past its %llu bytes",
                       (unsigned long long)in_size, (unsigned long long)start,
                       (unsigned long long)src_len);
    if (is_422 && spp != 3)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_TAG_PIXEL_DATA,
                       "YBR_FULL_422 needs 3 samples per pixel, not %u", spp);
    if (is_422 && pixels % 2)  /* pairs of pixels share Cb, Cr: a lone last one has none */
        return rd_fail(err, RD_ERR_INVALID, 0, RD_TAG_PIXEL_DATA,
                       "YBR_FULL_422 needs an even number of pixels, not %llu",
                       (unsigned long long)pixels);

    int interleaved = !is_422 && (spp == 1 || d->planar_configuration == 0);
    if (!big && !swap_words && interleaved) {
        memcpy(dst, src + start, out_size);
    } else if (big && !swap_words && interleaved) {
        swap_bytes(dst, src + start, out_size / bytes, bytes);
    } else if (swap_words && interleaved && ((start + out_size + 1) & ~UINT64_C(1)) <= src_len) {
        /* 8-bit samples in big-endian OW: byte k sits at k ^ 1 of its word;
         * the check above covers the partner byte of an odd-length end.
         * From an even start that is a 16-bit byte swap. */
        uint64_t k = 0;
        if ((start & 1) == 0) {
            swap_bytes(dst, src + start, out_size / 2, 2);
            k = out_size & ~UINT64_C(1);
        }
        for (; k < out_size; k++)
            dst[k] = src[(start + k) ^ 1];
    } else {
        /* General path: output sample (p, s) comes from source sample
         * `from`; all of them lie within the in_size bytes checked above. */
        enum { INTERLEAVED, PLANAR, PAIRS_422 } order =
            is_422 ? PAIRS_422 : (spp > 1 && d->planar_configuration == 1 ? PLANAR : INTERLEAVED);
        uint8_t *out = dst;
        for (uint64_t p = 0; p < pixels; p++) {
            for (uint32_t s = 0; s < spp; s++, out += bytes) {
                uint64_t from;
                const uint8_t *in;
                if (order == INTERLEAVED)
                    from = p * spp + s;
                else if (order == PLANAR)
                    from = s * pixels + p;
                else  /* each pair of pixels is Y1 Y2 Cb Cr */
                    from = (p >> 1) * 4 + (s == 0 ? (p & 1) : s + 1);
                if (swap_words) {  /* 8-bit samples in byte-swapped 16-bit words */
                    uint64_t at = (start + from) ^ 1;
                    if (at >= src_len)
                        return rd_fail(err, RD_ERR_TRUNCATED, src_len, RD_TAG_PIXEL_DATA,
                                       "frame runs past the end of Pixel Data");
                    *out = src[at];
                    continue;
                }
                in = src + start + from * bytes;
                /* Fixed sizes, so the copies compile to plain loads/stores. */
                switch (big ? bytes : bytes + 16) {
                case 2:
                    out[0] = in[1], out[1] = in[0];
                    break;
                case 4:
                    out[0] = in[3], out[1] = in[2], out[2] = in[1], out[3] = in[0];
                    break;
                case 8:
                    for (int b = 0; b < 8; b++)
                        out[b] = in[7 - b];
                    break;
                case 17:
                    out[0] = in[0];
                    break;
                case 18:
                    memcpy(out, in, 2);
                    break;
                case 20:
                    memcpy(out, in, 4);
                    break;
                default:
                    memcpy(out, in, 8);
                    break;
                }
            }
        }
    }
    if ((layout->flags & RD_NATIVE_FIX_BITS) && d->bits_stored < d->bits_allocated
        && d->bits_stored > 0)
        fix_unused_bits(dst, pixels * spp, d->bits_allocated, d->bits_stored,
                        d->pixel_representation != 0);
    return RD_OK;
}
