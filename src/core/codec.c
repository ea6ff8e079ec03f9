/*
 * codec.c - which decoders this build has.
 *
 * Each codec module is compiled only when its library was found (CMake
 * defines RD_HAVE_<CODEC>), so the bindings ask here instead of naming the
 * functions: a missing codec is a clean "unsupported" at run time, never an
 * unresolved symbol at import.
 */
#include "rd_common.h"

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
        return rd_jls_decode_frame;
#endif
#ifdef RD_HAVE_J2K
    case RD_CODEC_J2K:
        return rd_j2k_decode_frame;
#endif
    default:
        return NULL;
    }
}
