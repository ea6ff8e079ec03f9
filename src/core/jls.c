/*
 * jls.c - JPEG-LS lossless and near-lossless (ISO/IEC 14495-1, transfer
 * syntaxes 1.2.840.10008.1.2.4.80 and .81) frame decoder, on CharLS 2.x's C
 * API (charls_jpegls_decoder_*).
 *
 * Output (rapidicom.h contract): samples interleaved, little endian,
 * bits_allocated/8 bytes each (8 or 16), rd_frame_size(desc) bytes in all,
 * equal to pydicom 3.0.2's pixel_array for the frame:
 *
 *   - CharLS returns a P-bit sample (P = the SOF55 precision, 2..16) in one
 *     byte when P <= 8, otherwise in two; interleave mode "none" as planes,
 *     "line" and "sample" pixel by pixel; colour transforms HP1-3 undone.
 *     Planes are interleaved here and one-byte samples widened to 16 bits
 *     when Bits Allocated is 16 (as pydicom's array, which keeps the
 *     dataset's dtype).
 *   - Pixel Representation 1: JPEG-LS has no signed samples, so, as
 *     pydicom's _apply_sign_correction does for JPEG-LS, every sample is
 *     sign-extended from bit P-1 into the output sample (P as pydicom's
 *     _get_jpg_parameters reads it, or Bits Stored if that parser gives up;
 *     nothing when that width is not below 8 * the output sample bytes,
 *     where pydicom's shift is 0).
 *     Pixel Representation 0: samples as decoded (pydicom applies no
 *     Bits Stored mask to JPEG-LS).
 *   - Colour: samples as coded.  YBR_FULL / YBR_FULL_422 stay YCbCr (the
 *     caller converts, as pydicom does).  pydicom's _conform_jpg_colorspace
 *     is followed where it changes the result without the caller knowing:
 *     three samples, a Photometric Interpretation without "YBR", component
 *     ids other than 'R','G','B' / 'r','g','b' (or the PI already RGB), and
 *     an APPn segment before SOF55 starting "JFIF" make pydicom treat the
 *     data as YBR_FULL and convert it to RGB; this decoder then does the
 *     same (rd_ybr_full_to_rgb_u8) unless RD_CODEC_KEEP_YBR is set.  pydicom
 *     can only convert uint8 arrays (it raises otherwise), so this applies
 *     to Bits Allocated 8, Pixel Representation 0.  The opposite case - PI
 *     YBR_FULL(_422) but component ids 'R','G','B', where pydicom does NOT
 *     convert - cannot be expressed in this output and is left to the
 *     caller (samples as coded).
 *
 * Why it is fast: CharLS decodes straight into the caller's buffer whenever
 * its layout is already ours (one component, or pixel-interleaved, with the
 * sample width of Bits Allocated) - the common case, for which the only
 * extra pass is the sign extension of signed data.  Otherwise one temporary
 * buffer of the decoded size is used and a single pass interleaves, widens,
 * and sign-extends.  The pydicom-compatible header walk reads only the
 * marker segments before the scan.
 *
 * Invariants:
 *   - nothing is allocated (no decoder, no buffer) before the desc is
 *     checked (sizes, dst_cap, rows*columns against max_pixels); the
 *     codestream's width, height, component count and precision are checked
 *     against the desc before any pixel buffer is allocated, and CharLS's
 *     own destination size must equal the size computed here.
 *   - one CharLS decoder per call, destroyed at the single cleanup label;
 *     no global state, so calls are reentrant.
 *   - every read of `src` done here (the header walk, the EOI search) is
 *     bounds-checked as `need <= len - pos`; CharLS gets (src, src_len) and
 *     does its own.
 *   - CharLS only decodes scans followed by a marker (see
 *     scan_has_end_marker: without one CharLS 2.4 spins for seconds).
 *   - on failure dst may be partly written.
 */
#include <stddef.h>
#include <stdlib.h>

#include <charls/charls.h>

#include "rd_common.h"
#include "rd_jls_rules.h"


/* ------------------------------------------------------------------------- */
/* Guard against CharLS's endless unary code                                  */
/* ------------------------------------------------------------------------- */

/*
 * CharLS 2.4 (and its 3.x main branch) reads a Golomb unary prefix with an
 * unbounded loop (read_high_bits / read_unary_code).  Its bit reader stops
 * cleanly at a marker (0xFF followed by a byte >= 0x80) but, at the end of
 * the buffer with the bit count already negative, returns zero bits without
 * an error, so a scan cut off before any marker spins until a 32-bit
 * counter overflows: ~10 s of CPU per frame here, for a 51-byte stream.
 * A scan cannot run off the end when a marker follows its start, so the
 * decoder is only given streams where one does:
 *   - the common case, checked in O(1): the stream ends with EOI (FF D9),
 *     possibly followed by 0x00 padding;
 *   - otherwise an EOI must come after the last SOS (FF DA) in the buffer
 *     (any real SOS is at or before that one).
 * CharLS refuses every stream without an EOI after its last scan anyway
 * ("source buffer too small"), so this changes only how fast it fails.
 */
static int
scan_has_end_marker(const uint8_t *src, uint64_t len)
{
    uint64_t end = len, i;

    while (end > 0 && src[end - 1] == 0x00)
        end--;
    if (end >= 2 && src[end - 2] == 0xFF && src[end - 1] == 0xD9)
        return 1;
    for (i = len - 1; i > 0; i--) {
        if (src[i - 1] == 0xFF && src[i] == 0xDA) {
            const uint8_t *p = src + i + 1, *stop = src + len;
            while (p < stop && (p = (const uint8_t *)memchr(p, 0xFF, (size_t)(stop - p))) != NULL) {
                if (stop - p >= 2 && p[1] == 0xD9)
                    return 1;
                p++;
            }
            return 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Sample conversion                                                          */
/* ------------------------------------------------------------------------- */

static int
host_is_big_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 0;
}

/* CharLS sample i (native width `cbytes`) of `buf`. */
static inline uint32_t
load_sample(const uint8_t *buf, uint64_t i, uint32_t cbytes)
{
    if (cbytes == 1)
        return buf[i];
    {
        uint16_t v;
        memcpy(&v, buf + 2 * i, 2);
        return v;
    }
}

/*
 * In place on `count` little-endian samples of `obytes` bytes: replace each
 * by its low `bits` bits sign-extended (two's complement) to the full
 * sample - numpy's (a << s) >> s on a signed array of `bits + s` bits.
 */
static void
sign_extend(uint8_t *buf, uint64_t count, uint32_t obytes, uint32_t bits)
{
    uint64_t i;

    if (obytes == 1) {
        const uint8_t mask = (uint8_t)((1u << bits) - 1), sign = (uint8_t)(1u << (bits - 1));
        for (i = 0; i < count; i++)
            buf[i] = (uint8_t)(((buf[i] & mask) ^ sign) - sign);
    } else {
        const uint32_t mask = (1u << bits) - 1, sign = 1u << (bits - 1);
        for (i = 0; i < count; i++) {
            uint32_t v = (uint32_t)buf[2 * i] | ((uint32_t)buf[2 * i + 1] << 8);
            v = ((v & mask) ^ sign) - sign;
            buf[2 * i] = (uint8_t)v;
            buf[2 * i + 1] = (uint8_t)(v >> 8);
        }
    }
}

/*
 * CharLS output `tmp` (planar when `planar`, else interleaved; `cbytes` per
 * sample, native order) -> interleaved little-endian `dst`, `obytes` per
 * sample (obytes >= cbytes), zero-extended.
 */
static void
convert_to_output(const uint8_t *tmp, uint8_t *dst, uint64_t pixels, uint32_t ncomp,
                  int planar, uint32_t cbytes, uint32_t obytes)
{
    uint64_t p, n = pixels * ncomp;
    uint32_t c;

    if (!planar) {
        /* Only reached to widen 8 -> 16 bits, or to swap on big-endian hosts. */
        for (p = 0; p < n; p++) {
            uint32_t v = load_sample(tmp, p, cbytes);
            dst[obytes * p] = (uint8_t)v;
            if (obytes == 2)
                dst[obytes * p + 1] = (uint8_t)(v >> 8);
        }
        return;
    }
    for (c = 0; c < ncomp; c++) {
        const uint64_t base = (uint64_t)c * pixels;
        uint8_t *out = dst + (uint64_t)c * obytes;
        const uint64_t stride = (uint64_t)ncomp * obytes;
        if (cbytes == 1 && obytes == 1) {
            const uint8_t *in = tmp + base;
            for (p = 0; p < pixels; p++)
                out[p * stride] = in[p];
        } else {
            for (p = 0; p < pixels; p++) {
                uint32_t v = load_sample(tmp, base + p, cbytes);
                out[p * stride] = (uint8_t)v;
                if (obytes == 2)
                    out[p * stride + 1] = (uint8_t)(v >> 8);
            }
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Frame                                                                      */
/* ------------------------------------------------------------------------- */

static rd_status
charls_fail(rd_error *err, charls_jpegls_errc ec, const char *step)
{
    const char *msg = charls_get_error_message(ec);
    return rd_fail(err, ec == CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY ? RD_ERR_NOMEM : RD_ERR_DECODE,
                   0, RD_NO_TAG, "JPEG-LS %s failed: %s (CharLS error %d)", step,
                   msg ? msg : "unknown error", (int)ec);
}

rd_status
rd_jls_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                    rd_error *err)
{
    charls_jpegls_decoder *decoder = NULL;
    uint8_t *tmp = NULL;
    charls_frame_info info;
    charls_interleave_mode ilv = CHARLS_INTERLEAVE_MODE_NONE;
    charls_jpegls_errc ec;
    uint64_t pixels, max_pixels = RD_DEFAULT_MAX_PIXELS, want;
    uint32_t flags = 0, obytes, cbytes, sign_bits;
    size_t need = 0;
    int planar, ybr_to_rgb;
    rd_status st = RD_OK;

    /* --- arguments and the frame description (nothing allocated yet) --- */
    rd_read_codec_options(options, &flags, NULL, &max_pixels);
    st = rd_jls_check_desc(src, src_len, desc, dst, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    pixels = (uint64_t)desc->rows * desc->columns;
    obytes = desc->bits_allocated / 8;

    /* --- header --- */
    decoder = charls_jpegls_decoder_create();
    if (decoder == NULL) {
        st = rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "JPEG-LS: cannot create a CharLS decoder");
        goto cleanup;
    }
    ec = charls_jpegls_decoder_set_source_buffer(decoder, src, (size_t)src_len);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        st = charls_fail(err, ec, "input");
        goto cleanup;
    }
    ec = charls_jpegls_decoder_read_header(decoder);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        st = charls_fail(err, ec, "header");
        goto cleanup;
    }
    ec = charls_jpegls_decoder_get_frame_info(decoder, &info);
    if (ec == CHARLS_JPEGLS_ERRC_SUCCESS)
        ec = charls_jpegls_decoder_get_interleave_mode(decoder, &ilv);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        st = charls_fail(err, ec, "header");
        goto cleanup;
    }
    if (info.width != desc->columns || info.height != desc->rows) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                     "JPEG-LS codestream is %u x %u (columns x rows), the dataset says %u x %u",
                     (unsigned)info.width, (unsigned)info.height,
                     (unsigned)desc->columns, (unsigned)desc->rows);
        goto cleanup;
    }
    if (info.component_count < 1 || (uint32_t)info.component_count != desc->samples_per_pixel) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                     "JPEG-LS codestream has %d components, the dataset says %u samples per pixel",
                     (int)info.component_count, (unsigned)desc->samples_per_pixel);
        goto cleanup;
    }
    if (info.bits_per_sample < 2 || info.bits_per_sample > 16
        || (uint32_t)info.bits_per_sample > desc->bits_allocated) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                     "JPEG-LS codestream has %d-bit samples, the dataset has Bits Allocated %u",
                     (int)info.bits_per_sample, (unsigned)desc->bits_allocated);
        goto cleanup;
    }
    cbytes = info.bits_per_sample <= 8 ? 1 : 2;
    planar = info.component_count > 1 && ilv == CHARLS_INTERLEAVE_MODE_NONE;
    want = pixels * desc->samples_per_pixel * cbytes;    /* <= frame_size */
    ec = charls_jpegls_decoder_get_destination_size(decoder, 0, &need);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        st = charls_fail(err, ec, "header");
        goto cleanup;
    }
    if ((uint64_t)need != want) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                     "JPEG-LS: CharLS needs %llu bytes for the frame, expected %llu",
                     (unsigned long long)need, (unsigned long long)want);
        goto cleanup;
    }

    /* pydicom's sign width and colour-space decision (see the file header). */
    rd_jls_pydicom_rules(src, src_len, desc, flags, &sign_bits, &ybr_to_rgb);

    /* --- pixels --- */
    if (!scan_has_end_marker(src, src_len)) {
        st = rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                     "JPEG-LS codestream has no EOI marker after its last scan (truncated?)");
        goto cleanup;
    }
    if (cbytes == obytes && !planar && !(cbytes == 2 && host_is_big_endian())) {
        ec = charls_jpegls_decoder_decode_to_buffer(decoder, dst, need, 0);
        if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
            st = charls_fail(err, ec, "decode");
            goto cleanup;
        }
    } else {
        tmp = (uint8_t *)malloc(need);
        if (tmp == NULL) {
            st = rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG,
                         "JPEG-LS: cannot allocate %llu bytes", (unsigned long long)need);
            goto cleanup;
        }
        ec = charls_jpegls_decoder_decode_to_buffer(decoder, tmp, need, 0);
        if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
            st = charls_fail(err, ec, "decode");
            goto cleanup;
        }
        convert_to_output(tmp, dst, pixels, desc->samples_per_pixel, planar, cbytes, obytes);
    }
    if (ybr_to_rgb)
        rd_ybr_full_to_rgb_u8(dst, pixels);
    if (desc->pixel_representation == 1 && sign_bits < 8 * obytes)
        sign_extend(dst, pixels * desc->samples_per_pixel, obytes, sign_bits);

cleanup:
    free(tmp);
    charls_jpegls_decoder_destroy(decoder);
    return st;
}
