/*
 * codec.c - which decoders this build has.
 *
 * Each codec module is compiled only when its library was found (CMake
 * defines RD_HAVE_<CODEC>), so the bindings ask here instead of naming the
 * functions: a missing codec is a clean "unsupported" at run time, never an
 * unresolved symbol at import.
 */
#include "rd_common.h"

/*
 * JPEG-LS: our decoder first - Debian's CharLS is built with its internal
 * assertions on and decodes at about half the speed - and CharLS for the
 * streams ours does not take (mapping tables, CharLS's colour transforms).
 */
static rd_status
decode_jpeg_ls(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
               const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    rd_status st = rd_jls_own_decode_frame(src, src_len, desc, options, dst, dst_cap, err);
#ifdef RD_HAVE_CHARLS
    if (st == RD_ERR_UNSUPPORTED)
        st = rd_jls_decode_frame(src, src_len, desc, options, dst, dst_cap, err);
#endif
    return st;
}

rd_codec_fn
rd_codec_decoder(rd_codec_id codec)
{
    switch (codec) {
#ifdef RD_HAVE_JPEG
    case RD_CODEC_JPEG:
        return rd_jpeg_decode_frame;
#endif
#ifdef RD_HAVE_JPEG12
    case RD_CODEC_JPEG12:
        return rd_jpeg12_decode_frame;
#endif
#ifdef RD_HAVE_JPEG_LOSSLESS
    case RD_CODEC_JPEG_LOSSLESS:
        return rd_jpeg_lossless_decode_frame;
#endif
#ifdef RD_HAVE_JPEG_LS
    case RD_CODEC_JPEG_LS:
        return decode_jpeg_ls;
#endif
#ifdef RD_HAVE_J2K
    case RD_CODEC_J2K:
        return rd_j2k_decode_frame;
#endif
    default:
        return NULL;
    }
}
