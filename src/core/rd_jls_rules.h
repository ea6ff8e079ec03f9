/*
 * rd_jls_rules.h - internal: what both JPEG-LS decoders (jlsdec.c, ours,
 * and jls.c, CharLS's) check before decoding and how they shape their
 * output, so that the fallback gives exactly what the first choice gives.
 *
 *   - rd_jls_check_desc: the arguments and the frame description, before
 *     anything is read or allocated;
 *   - rd_jls_pydicom_rules: pydicom 3.0.2's sign-extension width and its
 *     YCbCr -> RGB decision for a frame, from its own walk of the header
 *     (rd_jpeg_view.h); jls.c's file comment gives the reasons.
 *
 * Reentrant, no state.
 */
#ifndef RD_JLS_RULES_H
#define RD_JLS_RULES_H

#include "rd_common.h"
#include "rd_jpeg_view.h"

static inline rd_status
rd_jls_check_desc(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                  const uint8_t *dst, uint64_t dst_cap, uint64_t max_pixels, rd_error *err)
{
    rd_status st;

    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "JPEG-LS: NULL %s",
                       desc == NULL ? "frame description"
                       : dst == NULL ? "output buffer" : "input");
    if (desc->bits_allocated != 8 && desc->bits_allocated != 16)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG-LS: Bits Allocated %u is not supported (8 or 16; "
                       "JPEG-LS samples have 2 to 16 bits)", (unsigned)desc->bits_allocated);
    st = rd_check_frame_fits("JPEG-LS", desc, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    if (src_len > SIZE_MAX)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                       "JPEG-LS: %llu-byte codestream is too large for this platform",
                       (unsigned long long)src_len);
    if (src_len == 0)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG, "JPEG-LS: empty codestream");
    return RD_OK;
}

/*
 * pydicom's output rules for the frame `src`: *sign_bits, the width its
 * sign extension works from (its "jls_precision": the SOF precision, or
 * Bits Stored where its header walk fails; no extension where that is the
 * full sample), and *ybr_to_rgb, whether 8-bit unsigned 3-sample data with
 * a JFIF APPn and a Photometric Interpretation without "YBR" is converted
 * YBR_FULL -> RGB (not with RD_CODEC_KEEP_YBR).
 */
static inline void
rd_jls_pydicom_rules(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                     uint32_t flags, uint32_t *sign_bits, int *ybr_to_rgb)
{
    const uint32_t bits = 8 * (desc->bits_allocated / 8);
    const uint32_t pi = desc->photometric;
    rd_jpeg_view view;

    rd_jpeg_view_read(src, src_len, &view);
    *sign_bits = view.parsed ? view.precision : desc->bits_stored;
    if (*sign_bits == 0 || *sign_bits > bits)
        *sign_bits = bits;          /* pydicom: no shift, a plain signed view */
    *ybr_to_rgb = !(flags & RD_CODEC_KEEP_YBR) && view.parsed && desc->samples_per_pixel == 3
                  && bits == 8 && desc->pixel_representation == 0
                  && !(view.rgb_ids && pi != RD_PI_RGB) && view.jfif
                  && pi != RD_PI_YBR_FULL && pi != RD_PI_YBR_FULL_422 && pi != RD_PI_YBR_ICT
                  && pi != RD_PI_YBR_RCT && pi != RD_PI_YBR_PARTIAL_420;
}

#endif /* RD_JLS_RULES_H */
