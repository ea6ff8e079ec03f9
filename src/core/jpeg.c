/*
 * jpeg.c - JPEG baseline and extended 8-bit frame decoder (ISO/IEC 10918-1
 * processes 1, 2 and 4 with 8-bit samples, sequential or progressive;
 * transfer syntaxes 1.2.840.10008.1.2.4.50 and .51), on libjpeg-turbo's
 * libjpeg API.
 *
 * Why the libjpeg API and not TurboJPEG: Debian's libjpeg-turbo 2.1 has only
 * the TurboJPEG 2.x API, which can neither return three-component data
 * without a colour conversion (it has no YCbCr pixel format; tjDecompress2
 * always converts YCbCr to RGB, and tjDecompressToYUV2 returns subsampled
 * planes that would need our own upsampling), nor limit progressive scans
 * (no TJPARAM_SCANLIMIT) or memory.  The libjpeg API does all three: the
 * colour spaces are set so that libjpeg converts nothing, a progress monitor
 * counts scans, and max_memory_to_use bounds the coefficient buffers.  Its
 * errors arrive through an error manager that longjmps; the one setjmp is
 * in run_libjpeg() below, and nothing else in the core sees it.
 *
 * Output (rapidicom.h contract): Rows x Columns pixels of Samples per Pixel
 * interleaved 8-bit samples, rd_frame_size(desc) bytes, equal to pydicom
 * 3.0.2's pixel_array for the frame when the caller converts YBR_FULL /
 * YBR_FULL_422 to RGB afterwards (as pydicom's _process_color_space does):
 *
 *   - The samples are the decoded components exactly as coded: libjpeg's
 *     ISLOW inverse DCT and fancy (triangular) chroma upsampling, and NO
 *     colour transform, whatever the JFIF / Adobe APP14 markers or the
 *     component ids say.  That is what pydicom's default plugin (GDCM, tried
 *     before pylibjpeg and Pillow) returns for every marker combination; the
 *     APP14 transform flag plays no part in pydicom's result.
 *   - Which samples pydicom then converts follows its
 *     DecodeRunner._conform_jpg_colorspace(), run per frame on its own
 *     header walk (pixels.utils._get_jpg_parameters, repeated in
 *     rd_jpeg_view.h): with 3 samples per pixel, component ids
 *     'R','G','B' (or 'r','g','b') make a Photometric Interpretation other
 *     than RGB into RGB; otherwise an APPn segment before the SOF starting
 *     "JFIF" makes it YBR_FULL_422 (.50) / YBR_FULL (.51) when the PI has
 *     no "YBR" in it.  Per Photometric Interpretation (3 samples):
 *       YBR_FULL, YBR_FULL_422   YCbCr as coded; the caller converts to RGB
 *                                 unless the user keeps YBR.  (If the ids
 *                                 are 'R','G','B', pydicom does NOT convert;
 *                                 the caller has to see that itself.)
 *       RGB                       as coded, except with a JFIF marker
 *                                 (whatever the ids: pydicom tests the ids
 *                                 only for a PI other than RGB): converted
 *                                 here from YCbCr to RGB with
 *                                 rd_ybr_full_to_rgb_u8 (pydicom's own
 *                                 arithmetic), unless RD_CODEC_KEEP_YBR is
 *                                 set (then YCbCr as coded, which is
 *                                 pydicom's as_rgb=False result).
 *       any other PI without YBR  as for RGB, but ids 'R','G','B' make it
 *       (MONOCHROME2 with 3        RGB for pydicom: then as coded, even with
 *       samples, PALETTE, ...)     JFIF.
 *       YBR_ICT/RCT/PARTIAL_420   as coded (pydicom leaves them).
 *     MONOCHROME1/2 (1 sample): the grey samples as coded.
 *   - Planar Configuration is ignored: JPEG defines the component order
 *     itself (PS3.5 8.2.1), so the output is always interleaved.  (pydicom
 *     3.0.2 re-reads the decoded, interleaved samples as planes when the
 *     dataset says 1, which scrambles the image; not reproduced.)
 *   - Bits Stored < 8: pydicom's _correct_unused_bits (clear the unused high
 *     bits, or sign-extend from bit Bits Stored - 1 for Pixel Representation
 *     1), applied before the colour conversion, as pydicom orders them.
 *
 * Strictness: libjpeg reports damaged entropy data as warnings and goes on
 * with grey blocks.  Here a warning that means lost or misplaced pixel data
 * (bad Huffman/arithmetic code, a scan cut short, restart markers out of
 * sequence, an inconsistent progression, a multi-scan image that ends
 * without EOI) stops the decode with RD_ERR_DECODE.  Harmless ones are
 * ignored: stray bytes before a marker, unknown JFIF/Adobe versions, a bad
 * ICC marker, odd SOS parameters in a sequential scan, and a single-scan
 * Huffman stream whose EOI is missing (libjpeg then reads past the end only
 * to prefetch bits; a real loss shows up as "premature end of data
 * segment").
 *
 * Why it is fast: libjpeg-turbo's SIMD IDCT and upsampling write scanlines
 * straight into the caller's buffer - there is no intermediate frame and,
 * without a colour conversion, no extra pass (null colour conversion is a
 * plain interleave).  The header walk for pydicom's rules reads only the
 * segments before the SOF.
 *
 * Invariants:
 *   - the desc (sizes, Bits Allocated/Stored, dst_cap, rows*columns against
 *     max_pixels) is checked before libjpeg is touched; the codestream's
 *     width, height, component count and precision are checked against it
 *     after jpeg_read_header() and before jpeg_start_decompress(), which is
 *     where libjpeg allocates the frame-sized buffers; those buffers are
 *     bounded by max_memory_to_use and the scans by max_scans.
 *   - one decompressor per call, created and destroyed here (single cleanup
 *     in rd_jpeg_decode_frame); no global state, so calls are reentrant.
 *   - libjpeg never prints: messages are formatted into the call's state.
 *   - every read of `src` done here is bounds-checked as `need <= len - pos`;
 *     libjpeg gets (src, src_len) through jpeg_mem_src.
 *   - on failure dst may be partly written.
 */
#include <limits.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>

#include "rd_common.h"
#include "rd_jpeg_view.h"


/* Progressive JPEG lets a small file drive many full passes over the
 * coefficient buffer (one per scan): the progressive-JPEG DoS of cure53's
 * libjpeg-turbo audit.  libjpeg-turbo's advice (its note on CVE-2019-13960)
 * is to limit scans and treat warnings as fatal, as done here.  Real
 * encoders write about 10 scans; the default limit of 1000
 * (rd_codec_options.max_scans) leaves room for unusual scripts (a full
 * one-coefficient-per-band successive-approximation script has 1 + 6 * 63
 * scans per component). */

/* Rows handed to jpeg_read_scanlines() per call (libjpeg returns at most
 * rec_outbuf_height <= 4 anyway; more costs nothing). */
#define JPG_ROWS_PER_CALL 16

/* True when pydicom would convert this frame from YCbCr to RGB although the
 * dataset's Photometric Interpretation does not say YBR_FULL(_422), i.e. the
 * caller will not: 3 samples, a PI without "YBR", a JFIF APPn segment, and
 * - unless the PI is RGB - component ids other than R,G,B (which would make
 * it RGB first). */
static int
pydicom_converts_unlabelled(const rd_jpeg_view *view, const rd_frame_desc *desc)
{
    int pi_has_ybr;

    if (desc->samples_per_pixel != 3 || !view->parsed)
        return 0;
    pi_has_ybr = desc->photometric == RD_PI_YBR_FULL || desc->photometric == RD_PI_YBR_FULL_422
                 || desc->photometric == RD_PI_YBR_ICT || desc->photometric == RD_PI_YBR_RCT
                 || desc->photometric == RD_PI_YBR_PARTIAL_420;
    /* pydicom checks the ids first but acts on them only when the PI is
     * not already RGB; an RGB PI then still falls through to the JFIF test. */
    if (view->rgb_ids && desc->photometric != RD_PI_RGB)
        return 0;
    return view->jfif && !pi_has_ybr;
}

/* ------------------------------------------------------------------------- */
/* libjpeg plumbing: error manager, progress monitor                          */
/* ------------------------------------------------------------------------- */

/* Where the decode is, for classifying warnings. */
enum jpg_stage { STAGE_HEADER, STAGE_DECODE, STAGE_FINISH };

/*
 * Everything libjpeg's callbacks reach, and everything that must survive
 * the longjmp.  It lives in rd_jpeg_decode_frame's frame and is handed down
 * by pointer, so no local of the function that calls setjmp changes between
 * setjmp and longjmp.  `cinfo` comes first: the callbacks get &cinfo and
 * convert it back to the whole struct.
 */
typedef struct jpg_state {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf env;
    const rd_frame_desc *desc;
    uint32_t max_scans;      /* rd_codec_options.max_scans */
    int created;             /* jpeg_create_decompress was called */
    int multi_scan;          /* progressive, or components in several scans */
    int input_ended;         /* libjpeg read past the end of src */
    enum jpg_stage stage;
    rd_status status;        /* what a longjmp reports */
    char msg[RD_ERROR_MSG_SIZE];
} jpg_state;

static jpg_state *
state_of(j_common_ptr cinfo)
{
    return (jpg_state *)(void *)cinfo;  /* cinfo is the first member */
}

/* Leave the decode: record `status` and message, jump back to run_libjpeg. */
static void
bail_out(jpg_state *s, rd_status status)
{
    s->status = status;
    longjmp(s->env, 1);
}

static void
on_error_exit(j_common_ptr cinfo)
{
    jpg_state *s = state_of(cinfo);
    int code = cinfo->err->msg_code;
    rd_status status = RD_ERR_DECODE;
    char text[JMSG_LENGTH_MAX];

    (*cinfo->err->format_message)(cinfo, text);
    snprintf(s->msg, sizeof(s->msg), "%s", text);
    if (code == JERR_BAD_PRECISION) {
        snprintf(s->msg, sizeof(s->msg), "%.150s (12-bit extended JPEG: separate decoder)",
                 text);
        status = RD_ERR_UNSUPPORTED;
    } else if (code == JERR_IMAGE_TOO_BIG) {
        /* get_sof() has stored the dimensions before this check. */
        snprintf(s->msg, sizeof(s->msg),
                 "the codestream is %u x %u (rows x columns), the dataset says %u x %u: %.120s",
                 (unsigned)s->cinfo.image_height, (unsigned)s->cinfo.image_width,
                 (unsigned)s->desc->rows, (unsigned)s->desc->columns, text);
    } else if (code == JERR_SOF_UNSUPPORTED || code == JERR_NOT_COMPILED
               || code == JERR_ARITH_NOTIMPL) {
        status = RD_ERR_UNSUPPORTED;     /* SOF3 lossless etc.: other decoders */
    } else if (code == JERR_OUT_OF_MEMORY) {
        status = RD_ERR_NOMEM;
    } else if (code == JERR_NO_BACKING_STORE) {
        /* libjpeg's answer to buffers over max_memory_to_use */
        snprintf(s->msg, sizeof(s->msg),
                 "the coefficient buffers would exceed the memory limit of %ld bytes (%.100s)",
                 cinfo->mem->max_memory_to_use, text);
        status = RD_ERR_LIMIT;
    }
    bail_out(s, status);
}

/* Warnings that do not change a single decoded sample. */
static int
warning_is_harmless(const jpg_state *s, int code)
{
    switch (code) {
    case JWRN_EXTRANEOUS_DATA:   /* bytes skipped before a marker */
    case JWRN_ADOBE_XFORM:       /* transform code unknown: we convert nothing */
    case JWRN_JFIF_MAJOR:
    case JWRN_BOGUS_ICC:
    case JWRN_NOT_SEQUENTIAL:    /* Ss/Se/Ah/Al ignored by a sequential scan */
        return 1;
    case JWRN_JPEG_EOF:
        /* The source ran dry and libjpeg inserted an EOI.  After the last
         * scanline that is only a missing EOI.  In one Huffman scan it is
         * at worst the decoder prefetching bits it never uses (needed bits
         * give JWRN_HIT_MARKER).  In a multi-scan image whole scans may be
         * missing without any other warning, and the arithmetic decoder
         * reports nothing more, so there it is a loss. */
        if (s->stage == STAGE_FINISH)
            return 1;
        return s->stage == STAGE_DECODE && !s->multi_scan && !s->cinfo.arith_code;
    default:
        return 0;
    }
}

static void
on_emit_message(j_common_ptr cinfo, int msg_level)
{
    jpg_state *s = state_of(cinfo);
    int code = cinfo->err->msg_code;

    if (msg_level >= 0)
        return;                  /* trace messages */
    if (code == JWRN_JPEG_EOF)
        s->input_ended = 1;
    cinfo->err->num_warnings++;
    if (warning_is_harmless(s, code))
        return;
    (*cinfo->err->format_message)(cinfo, s->msg);
    bail_out(s, RD_ERR_DECODE);
}

static void
on_output_message(j_common_ptr cinfo)
{
    (void)cinfo;                 /* never print */
}

/* Called between input chunks: stop runaway progressive streams. */
static void
on_progress(j_common_ptr cinfo)
{
    jpg_state *s = state_of(cinfo);

    if ((uint32_t)s->cinfo.input_scan_number > s->max_scans) {
        snprintf(s->msg, sizeof(s->msg),
                 "more than %u scans (limit max_scans)", (unsigned)s->max_scans);
        bail_out(s, RD_ERR_LIMIT);
    }
}

/* ------------------------------------------------------------------------- */
/* Decoding                                                                   */
/* ------------------------------------------------------------------------- */

/* Bytes of src libjpeg has consumed, for error offsets. */
static uint64_t
consumed(const jpg_state *s, uint64_t src_len)
{
    if (s->input_ended || s->cinfo.src == NULL)
        return src_len;
    return src_len - (uint64_t)s->cinfo.src->bytes_in_buffer;
}

/*
 * Decode the whole frame into dst (rows of columns * samples bytes).  The
 * only function with a setjmp: it changes no local variable after the
 * setjmp, everything lives in *s.  Returns RD_OK or the failing status with
 * s->msg set; the caller destroys the decompressor.
 */
static rd_status
run_libjpeg(jpg_state *s, const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
            uint8_t *dst)
{
    struct jpeg_decompress_struct *cinfo = &s->cinfo;
    const size_t stride = (size_t)desc->columns * desc->samples_per_pixel;

    if (setjmp(s->env))
        return s->status;

    cinfo->err = jpeg_std_error(&s->jerr);
    s->jerr.error_exit = on_error_exit;
    s->jerr.emit_message = on_emit_message;
    s->jerr.output_message = on_output_message;
    s->created = 1;
    jpeg_create_decompress(cinfo);
    s->progress.progress_monitor = on_progress;
    cinfo->progress = &s->progress;
    jpeg_mem_src(cinfo, src, (unsigned long)src_len);

    s->stage = STAGE_HEADER;
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
        snprintf(s->msg, sizeof(s->msg), "the stream holds tables only, no image");
        return RD_ERR_DECODE;
    }
    /* --- the codestream against the desc, before any frame-sized buffer --- */
    if (cinfo->data_precision != 8) {
        snprintf(s->msg, sizeof(s->msg),
                 "%d-bit samples (SOF precision); this decoder reads 8-bit JPEG only "
                 "(12-bit extended JPEG: separate decoder)", cinfo->data_precision);
        return RD_ERR_UNSUPPORTED;
    }
    if (cinfo->image_width != desc->columns || cinfo->image_height != desc->rows) {
        snprintf(s->msg, sizeof(s->msg),
                 "the codestream is %u x %u (rows x columns), the dataset says %u x %u",
                 (unsigned)cinfo->image_height, (unsigned)cinfo->image_width,
                 (unsigned)desc->rows, (unsigned)desc->columns);
        return RD_ERR_DECODE;
    }
    if ((uint32_t)cinfo->num_components != desc->samples_per_pixel) {
        snprintf(s->msg, sizeof(s->msg),
                 "the codestream has %d components, the dataset says %u samples per pixel",
                 cinfo->num_components, (unsigned)desc->samples_per_pixel);
        return RD_ERR_DECODE;
    }
    s->multi_scan = cinfo->progressive_mode || cinfo->comps_in_scan < cinfo->num_components;

    /* --- no colour conversion, libjpeg's standard quality settings --- */
    if (cinfo->num_components == 1) {
        cinfo->jpeg_color_space = JCS_GRAYSCALE;
        cinfo->out_color_space = JCS_GRAYSCALE;
    } else {
        /* Same space in and out: libjpeg's null conversion, any count. */
        cinfo->jpeg_color_space = JCS_UNKNOWN;
        cinfo->out_color_space = JCS_UNKNOWN;
    }
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    cinfo->do_block_smoothing = TRUE;
    cinfo->quantize_colors = FALSE;
    cinfo->scale_num = 1;
    cinfo->scale_denom = 1;
    cinfo->buffered_image = FALSE;
    {
        /* Coefficient buffers (progressive, multi-scan): 2 bytes per
         * coefficient, one block per 8x8 samples of each component padded
         * to whole MCUs; four times that plus 16 MiB is ample. */
        uint64_t w = (uint64_t)desc->columns + 64, h = (uint64_t)desc->rows + 64;
        uint64_t bound = 4 * 2 * (uint64_t)cinfo->num_components * w * h + ((uint64_t)16 << 20);
        cinfo->mem->max_memory_to_use = bound > (uint64_t)LONG_MAX ? LONG_MAX : (long)bound;
    }

    s->stage = STAGE_DECODE;
    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != desc->columns || cinfo->output_height != desc->rows
        || (uint32_t)cinfo->output_components != desc->samples_per_pixel) {
        snprintf(s->msg, sizeof(s->msg),
                 "libjpeg would output %u x %u x %d, the dataset says %u x %u x %u",
                 (unsigned)cinfo->output_height, (unsigned)cinfo->output_width,
                 cinfo->output_components, (unsigned)desc->rows, (unsigned)desc->columns,
                 (unsigned)desc->samples_per_pixel);
        return RD_ERR_DECODE;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW rows[JPG_ROWS_PER_CALL];
        JDIMENSION first = cinfo->output_scanline, n, i, got;

        n = cinfo->output_height - first;
        if (n > JPG_ROWS_PER_CALL)
            n = JPG_ROWS_PER_CALL;
        for (i = 0; i < n; i++)
            rows[i] = dst + (size_t)(first + i) * stride;
        got = jpeg_read_scanlines(cinfo, rows, n);
        if (got == 0) {
            /* Only a suspending source returns no rows; the memory source
             * never suspends.  Guard against a loop all the same. */
            snprintf(s->msg, sizeof(s->msg), "libjpeg returned no scanlines at row %u",
                     (unsigned)first);
            return RD_ERR_DECODE;
        }
    }
    s->stage = STAGE_FINISH;
    jpeg_finish_decompress(cinfo);
    return RD_OK;
}

/* pydicom's _correct_unused_bits on 8-bit samples: keep the low `bits`
 * bits, sign-extended when `is_signed`. */
static void
fix_unused_bits_u8(uint8_t *p, uint64_t count, uint32_t bits, uint32_t is_signed)
{
    const uint8_t mask = (uint8_t)((1u << bits) - 1);
    uint64_t i;

    if (is_signed) {
        const uint8_t sign = (uint8_t)(1u << (bits - 1));
        for (i = 0; i < count; i++)
            p[i] = (uint8_t)(((p[i] & mask) ^ sign) - sign);
    } else {
        for (i = 0; i < count; i++)
            p[i] &= mask;
    }
}

rd_status
rd_jpeg_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                     const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                     rd_error *err)
{
    jpg_state s;
    rd_jpeg_view view;
    uint64_t frame_size, pixels, max_pixels = RD_DEFAULT_MAX_PIXELS;
    uint32_t flags = 0;
    rd_status st;

    /* --- arguments and the frame description (nothing allocated yet) --- */
    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "JPEG: NULL %s",
                       desc == NULL ? "frame description"
                       : dst == NULL ? "output buffer" : "input");
    rd_read_codec_options(options, &flags, NULL, &max_pixels);
    if (desc->bits_stored > 8)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG: Bits Stored %u: this decoder reads 8-bit JPEG only "
                       "(12-bit extended JPEG: separate decoder)", (unsigned)desc->bits_stored);
    if (desc->bits_allocated != 8)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG: Bits Allocated %u with 8-bit JPEG samples is not supported "
                       "(must be 8)", (unsigned)desc->bits_allocated);
    if (desc->bits_stored == 0)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "JPEG: Bits Stored is 0");
    st = rd_check_frame_fits("JPEG", desc, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    if (desc->samples_per_pixel > 4)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG: %u samples per pixel (libjpeg decodes at most 4 components "
                       "here)", (unsigned)desc->samples_per_pixel);
    frame_size = rd_frame_size(desc);
    pixels = (uint64_t)desc->rows * desc->columns;
    if (desc->rows > JPEG_MAX_DIMENSION || desc->columns > JPEG_MAX_DIMENSION)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG: the dataset says %u x %u, larger than any JPEG frame "
                       "(at most 65500 x 65500)", (unsigned)desc->rows, (unsigned)desc->columns);
    if (src_len > ULONG_MAX)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                       "JPEG: %llu-byte codestream is too large for libjpeg on this "
                       "platform", (unsigned long long)src_len);
    if (src_len < 4 || src[0] != 0xFF || src[1] != 0xD8)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG: the frame (%llu bytes) does not start with an SOI marker "
                       "(FF D8)", (unsigned long long)src_len);

    /* --- decode --- */
    memset(&s, 0, sizeof(s));
    s.desc = desc;
    s.max_scans = RD_CODEC_LIMIT(options, max_scans, RD_DEFAULT_MAX_JPEG_SCANS);
    st = run_libjpeg(&s, src, src_len, desc, dst);
    if (st != RD_OK)
        st = rd_fail(err, st, consumed(&s, src_len), RD_NO_TAG, "JPEG: %s", s.msg);
    if (s.created)
        jpeg_destroy_decompress(&s.cinfo);
    if (st != RD_OK)
        return st;

    /* --- pydicom's post-processing --- */
    if (desc->bits_stored < 8)
        fix_unused_bits_u8(dst, frame_size, desc->bits_stored, desc->pixel_representation);
    if (desc->samples_per_pixel == 3 && !(flags & RD_CODEC_KEEP_YBR)) {
        rd_jpeg_view_read(src, src_len, &view);
        if (pydicom_converts_unlabelled(&view, desc))
            rd_ybr_full_to_rgb_u8(dst, pixels);
    }
    return RD_OK;
}
