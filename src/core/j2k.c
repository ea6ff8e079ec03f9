/*
 * j2k.c - JPEG 2000 (ISO/IEC 15444-1; transfer syntaxes
 * 1.2.840.10008.1.2.4.90 lossless, .91 lossy) and High-Throughput JPEG 2000
 * (ISO/IEC 15444-15; .201 lossless, .202 lossless RPCL, .203) frame decoder
 * on openjpeg >= 2.5 (2.5.0 decodes HT code-blocks; one entry point serves
 * both, openjpeg tells them apart by the codestream itself).
 *
 * Input: one frame's bytes, either a raw codestream (SOC FF4F then SIZ
 * FF51, what PS3.5 A.4.4 asks for) or, leniently, a JP2 file (signature box
 * 0000000C 'jP  ' 0D0A870A) as some writers (GDCM) produce.  Anything else
 * is RD_ERR_DECODE before openjpeg is touched.  openjpeg reads through an
 * opj_stream whose read/skip/seek callbacks work on (src, src_len) directly:
 * no file, no Python, no copy of the input beyond openjpeg's own buffer.
 *
 * Output (rapidicom.h contract): samples interleaved, little endian,
 * bits_allocated/8 bytes each (8, 16 or 32), rd_frame_size(desc) bytes, the
 * values pydicom 3.0.2's pixel_array gives for the frame before its colour
 * conversion.  pydicom's J2K plugins (GDCM first, then pylibjpeg-openjpeg)
 * both return openjpeg's decoded samples, so:
 *
 *   - Colour: the samples openjpeg produces, untouched.  When the codestream
 *     says so (COD multiple component transform), openjpeg undoes the
 *     RCT/ICT itself, so YBR_RCT / YBR_ICT frames come out RGB - exactly
 *     what both pydicom plugins return (pydicom then relabels them RGB and
 *     converts nothing).  RGB frames come out RGB.  YBR_FULL / YBR_FULL_422
 *     frames come out as coded (normally YCbCr, which the caller converts
 *     to RGB as pydicom does); MONOCHROME1/2 are not inverted.
 *   - Precision and sign, as pydicom's _apply_sign_correction for JPEG 2000:
 *     with P = the precision and S = the signedness of the first component
 *     (the Ssiz byte pydicom's get_j2k_parameters reads), pydicom's plugins
 *     put each sample in a C-bit container, C = 8, 16 or 32 the smallest
 *     >= P, viewed signed when Pixel Representation is 1.  For MONOCHROME1/2
 *     with S != Pixel Representation (J2K_pixelrep_mismatch.dcm: PR 1, an
 *     unsigned 13-bit codestream), the sample is then reinterpreted from P
 *     bits: sign-extended from bit P-1 (PR 1) or cut to its low P bits
 *     (PR 0).  Otherwise it is reinterpreted from C bits the same way.  The
 *     result is written sign- (PR 1) or zero-extended (PR 0) into
 *     Bits Allocated; when C < Bits Allocated pydicom's array has the
 *     narrower dtype (uint8 for P <= 8 with Bits Allocated 16) but the same
 *     values.  No Bits Stored mask is applied (pydicom applies none to JPEG
 *     2000), so P may differ from Bits Stored (emri_small_jpeg_2k_lossless:
 *     Bits Stored 12, P 16) but may not exceed Bits Allocated.
 *
 * Why it is fast: openjpeg does the work; this file adds one pass over the
 * decoded planes that interleaves, reconciles sign/precision (mask, xor,
 * subtract - branch-free) and narrows to the output width.  Codec-internal
 * threads are opt-in (options->threads > 1); by default openjpeg runs on the
 * calling thread with no pool (opj_codec_set_threads(codec, 0): openjpeg's
 * opj_thread_pool_create(1) would start one worker and hand it every
 * code-block).  The call is always made, so OPJ_NUM_THREADS never decides
 * how many threads decode (opj_create_decompress still starts that many
 * when it is set, and the call stops them again before any work).
 *
 * Invariants:
 *   - the desc is checked (sizes, dst_cap, rows*columns against max_pixels)
 *     before anything is created;
 *   - the SIZ marker segment is read here first (every read bounds-checked
 *     as `need <= len - pos`): image size and component count must equal
 *     the desc, and a tile grid too fine for its size is refused
 *     (rd_codec_options.max_tiles), all before openjpeg allocates anything;
 *   - the tile-parts are walked by their lengths (check_tile_parts), so a
 *     codestream missing a tile or tile-part, or cut inside a last
 *     tile-part of unknown length, is RD_ERR_DECODE instead of the partly
 *     zero image openjpeg 2.5 returns for it even in strict mode (which is
 *     on: a tile-part longer than the data left is openjpeg's own error);
 *   - after opj_read_header and before opj_decode, openjpeg's image is
 *     checked against the desc again, with subsampling (must be 1 x 1,
 *     else RD_ERR_UNSUPPORTED) and precision (<= Bits Allocated), so
 *     openjpeg never allocates planes larger than the desc allows;
 *   - the decoded image is checked again after opj_decode (a JP2 palette or
 *     channel definition box may change it) before a byte of dst is written;
 *   - one codec, stream and image per call, all destroyed at the single
 *     cleanup label; openjpeg's messages go to a per-call struct (the first
 *     error is kept), never to stderr and never to global state, so calls
 *     are reentrant;
 *   - err->offset for openjpeg's own errors is how far openjpeg had read
 *     into src, a hint rather than the exact byte;
 *   - dst is written only after everything else succeeded: on failure it is
 *     untouched.
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include <openjpeg.h>

#include "rd_common.h"

/* openjpeg's stream buffer: the input size, within these bounds. */
#define J2K_MIN_CHUNK ((uint64_t)4096)
#define J2K_MAX_CHUNK ((uint64_t)1 << 20)
/*
 * A fine tile grid is refused before openjpeg sees it: openjpeg keeps about
 * 10 KB of tables per tile from opj_read_header on (it accepts up to 65535
 * tiles: 1x1-pixel tiles of a 255x255 image took 615 MB here).  More than
 * max_tiles tiles (rd_codec_options, default RD_DEFAULT_MAX_J2K_TILES) are
 * accepted only when they average at least J2K_MIN_TILE_AREA pixels, so the
 * tables stay small next to the planes.  Real encoders use one tile per
 * DICOM frame, or a few large ones.
 */
#define J2K_MIN_TILE_AREA 4096u

static const uint8_t JP2_SIGNATURE[12] = {
    0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A
};

/* ------------------------------------------------------------------------- */
/* Memory stream                                                              */
/* ------------------------------------------------------------------------- */

typedef struct j2k_source {
    const uint8_t *data;
    uint64_t len;
    uint64_t pos; /* invariant: pos <= len */
} j2k_source;

static OPJ_SIZE_T
source_read(void *buf, OPJ_SIZE_T n, void *user)
{
    j2k_source *s = (j2k_source *)user;
    uint64_t left = s->len - s->pos;

    if (left == 0)
        return (OPJ_SIZE_T)-1; /* end of stream */
    if ((uint64_t)n > left)
        n = (OPJ_SIZE_T)left;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return n;
}

/* openjpeg clamps skips to the length set with opj_stream_set_user_data_length,
 * so a skip past the end only happens on misuse; it fails (-1) rather than
 * returning a short count that openjpeg would loop on. */
static OPJ_OFF_T
source_skip(OPJ_OFF_T n, void *user)
{
    j2k_source *s = (j2k_source *)user;

    if (n < 0 || (uint64_t)n > s->len - s->pos)
        return -1;
    s->pos += (uint64_t)n;
    return n;
}

static OPJ_BOOL
source_seek(OPJ_OFF_T off, void *user)
{
    j2k_source *s = (j2k_source *)user;

    if (off < 0 || (uint64_t)off > s->len)
        return OPJ_FALSE;
    s->pos = (uint64_t)off;
    return OPJ_TRUE;
}

/* ------------------------------------------------------------------------- */
/* openjpeg's messages                                                        */
/* ------------------------------------------------------------------------- */

typedef struct j2k_messages {
    char error[RD_ERROR_MSG_SIZE];   /* first error, "" if none */
    char warning[RD_ERROR_MSG_SIZE]; /* first warning, "" if none */
} j2k_messages;

/* Keep the first message in `slot`, without openjpeg's trailing newline. */
static void
keep_first(char *slot, const char *msg)
{
    size_t n;

    if (slot[0] != '\0' || msg == NULL)
        return;
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    if (n >= RD_ERROR_MSG_SIZE)
        n = RD_ERROR_MSG_SIZE - 1;
    memcpy(slot, msg, n);
    slot[n] = '\0';
    if (n == 0) {
        slot[0] = '?';
        slot[1] = '\0';
    }
}

static void
on_error(const char *msg, void *client_data)
{
    keep_first(((j2k_messages *)client_data)->error, msg);
}

static void
on_warning(const char *msg, void *client_data)
{
    keep_first(((j2k_messages *)client_data)->warning, msg);
}

static void
on_info(const char *msg, void *client_data)
{
    (void)msg;
    (void)client_data;
}

/* What openjpeg said, or `fallback` when it said nothing. */
static const char *
opj_said(const j2k_messages *m, const char *fallback)
{
    if (m->error[0])
        return m->error;
    if (m->warning[0])
        return m->warning;
    return fallback;
}

/* ------------------------------------------------------------------------- */
/* Container and SIZ                                                          */
/* ------------------------------------------------------------------------- */

/* Big-endian reads for the JPEG 2000 marker segments and boxes. */
static uint32_t
be32(const uint8_t *p)
{
    return rd_u32(p, 0);
}

/* Where the codestream lies in src, and what SIZ says about tiles. */
typedef struct j2k_layout {
    int jp2;       /* 1: JP2 file, 0: raw codestream */
    uint64_t cs;   /* offset of SOC */
    uint64_t end;  /* end of the codestream (of the 'jp2c' box for JP2) */
    uint64_t tiles; /* number of tiles; 0 when SIZ's tiling is invalid */
} j2k_layout;

/*
 * Find the codestream.  A JP2 file is walked box by box (LBox 1: 64-bit
 * XLBox; LBox 0: to the end) to its first 'jp2c' box.
 */
static rd_status
find_codestream(const uint8_t *src, uint64_t len, j2k_layout *lay, rd_error *err)
{
    uint64_t pos;

    if (4 <= len && src[0] == 0xFF && src[1] == 0x4F && src[2] == 0xFF && src[3] == 0x51) {
        lay->jp2 = 0;
        lay->cs = 0;
        lay->end = len;
        return RD_OK;
    }
    if (!(sizeof(JP2_SIGNATURE) <= len && memcmp(src, JP2_SIGNATURE, sizeof(JP2_SIGNATURE)) == 0)) {
        uint8_t head[4] = { 0, 0, 0, 0 };
        if (len > 0)
            memcpy(head, src, (size_t)(len < 4 ? len : 4));
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 2000: the frame (%llu bytes) starts with %02X %02X %02X %02X, "
                       "neither a codestream (FF 4F FF 51) nor a JP2 signature box",
                       (unsigned long long)len, head[0], head[1], head[2], head[3]);
    }
    pos = sizeof(JP2_SIGNATURE);
    while (8 <= len - pos) {
        uint64_t box = be32(src + pos), header = 8;
        if (box == 1) {
            if (!(16 <= len - pos))
                break;
            box = ((uint64_t)be32(src + pos + 8) << 32) | be32(src + pos + 12);
            header = 16;
        } else if (box == 0) {
            box = len - pos;
        }
        if (box < header || box > len - pos)
            return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                           "JPEG 2000: JP2 box at offset %llu claims %llu bytes, %llu are left",
                           (unsigned long long)pos, (unsigned long long)box,
                           (unsigned long long)(len - pos));
        if (memcmp(src + pos + 4, "jp2c", 4) == 0) {
            lay->jp2 = 1;
            lay->cs = pos + header;
            lay->end = pos + box;
            return RD_OK;
        }
        pos += box;
    }
    return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                   "JPEG 2000: JP2 file without a contiguous codestream ('jp2c') box");
}

/*
 * Read the SIZ marker segment (ISO/IEC 15444-1 A.5.1: SOC, SIZ, Lsiz, Rsiz,
 * then Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz as 32-bit, Csiz as
 * 16-bit big-endian) and check the image size and component count against
 * the desc, and the tile grid against `max_tiles`, before openjpeg
 * allocates anything.  Sets lay->tiles.  The rest of SIZ is left to openjpeg
 * and checked on its image.
 */
static rd_status
check_siz(const uint8_t *src, j2k_layout *lay, const rd_frame_desc *desc, uint32_t max_tiles,
          rd_error *err)
{
    const uint64_t need = 2 + 2 + 2 + 2 + 8 * 4 + 2;
    uint64_t xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz, width, height;
    uint64_t tw, th, pixels, cs = lay->cs;
    uint32_t csiz;
    const uint8_t *p;

    lay->tiles = 0;
    if (!(need <= lay->end - cs))
        return rd_fail(err, RD_ERR_DECODE, cs, RD_NO_TAG,
                       "JPEG 2000: codestream truncated in its SIZ marker segment (%llu of "
                       "%llu bytes)",
                       (unsigned long long)(lay->end - cs), (unsigned long long)need);
    p = src + cs;
    if (!(p[0] == 0xFF && p[1] == 0x4F && p[2] == 0xFF && p[3] == 0x51))
        return rd_fail(err, RD_ERR_DECODE, cs, RD_NO_TAG,
                       "JPEG 2000: codestream at offset %llu starts with %02X %02X %02X %02X, "
                       "not SOC + SIZ (FF 4F FF 51)",
                       (unsigned long long)cs, p[0], p[1], p[2], p[3]);
    p += 8;
    xsiz = be32(p);
    ysiz = be32(p + 4);
    xosiz = be32(p + 8);
    yosiz = be32(p + 12);
    xtsiz = be32(p + 16);
    ytsiz = be32(p + 20);
    xtosiz = be32(p + 24);
    ytosiz = be32(p + 28);
    csiz = rd_u16(p + 32, 0);
    width = xsiz > xosiz ? xsiz - xosiz : 0;
    height = ysiz > yosiz ? ysiz - yosiz : 0;
    if (width != desc->columns || height != desc->rows)
        return rd_fail(err, RD_ERR_DECODE, cs + 8, RD_NO_TAG,
                       "JPEG 2000 codestream is %llu x %llu (columns x rows), the dataset "
                       "says %u x %u",
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned)desc->columns, (unsigned)desc->rows);
    if (csiz != desc->samples_per_pixel)
        return rd_fail(err, RD_ERR_DECODE, cs + 40, RD_NO_TAG,
                       "JPEG 2000 codestream has %u components, the dataset says %u "
                       "(Samples per Pixel)",
                       (unsigned)csiz, (unsigned)desc->samples_per_pixel);
    if (xtsiz == 0 || ytsiz == 0 || xtosiz > xosiz || ytosiz > yosiz)
        return RD_OK; /* invalid tiling: openjpeg says why */
    /* Both quotients are < 2^32, so the product fits in 64 bits. */
    tw = (xsiz - xtosiz + xtsiz - 1) / xtsiz;
    th = (ysiz - ytosiz + ytsiz - 1) / ytsiz;
    pixels = width * height;
    if (tw * th > max_tiles && tw * th > pixels / J2K_MIN_TILE_AREA)
        return rd_fail(err, RD_ERR_LIMIT, cs + 24, RD_NO_TAG,
                       "JPEG 2000: %llu x %llu tiles of %llu x %llu pixels; more than %u "
                       "tiles are accepted only when they average %u pixels or more "
                       "(limit max_tiles)",
                       (unsigned long long)tw, (unsigned long long)th,
                       (unsigned long long)xtsiz, (unsigned long long)ytsiz,
                       (unsigned)max_tiles, (unsigned)J2K_MIN_TILE_AREA);
    lay->tiles = tw * th;
    return RD_OK;
}

/*
 * openjpeg 2.5 decodes a codestream that stops at a tile-part boundary, or
 * whose last tile-part runs "to EOC" (Psot 0) but is cut short, without an
 * error even in strict mode: the missing tiles or code-block bytes just
 * stay zero.  To refuse such frames, walk the main header (marker segments
 * by their lengths, A.4) to the first SOT, then the tile-parts by their
 * Psot lengths (A.4.2), counting tile-parts per tile against TNsot, and
 * require EOC at the end (before 00 / FF padding) when a tile-part has
 * Psot 0.  `counts` holds 2 bytes per tile.  Anything this walk does not
 * understand is left to openjpeg (RD_OK), which then reports it.
 */
static rd_status
check_tile_parts(const uint8_t *src, const j2k_layout *lay, uint8_t *counts, rd_error *err)
{
    uint64_t pos = lay->cs + 4, end = lay->end, t, last;
    int to_eoc = 0;

    /* SIZ: check_siz() saw its first 42 bytes; Lsiz counts itself. */
    pos += rd_u16(src + pos, 0);
    for (;;) {
        uint32_t marker, length;
        if (!(pos <= end && 2 <= end - pos))
            return RD_OK;
        marker = rd_u16(src + pos, 0);
        if (marker == 0xFF90)
            break;
        if (marker < 0xFF00)
            return RD_OK;
        if (marker >= 0xFF30 && marker <= 0xFF3F) { /* no segment */
            pos += 2;
            continue;
        }
        if (!(4 <= end - pos))
            return RD_OK;
        length = rd_u16(src + pos + 2, 0);
        if (length < 2 || !(length <= end - pos - 2))
            return RD_OK;
        pos += 2 + (uint64_t)length;
    }
    for (;;) {
        uint32_t marker, isot, psot, tnsot;
        if (!(2 <= end - pos))
            break; /* no EOC after complete tile-parts: accepted */
        marker = rd_u16(src + pos, 0);
        if (marker == 0xFFD9)
            break;
        if (marker != 0xFF90 || !(12 <= end - pos) || rd_u16(src + pos + 2, 0) != 10)
            return RD_OK;
        isot = rd_u16(src + pos + 4, 0);
        psot = be32(src + pos + 6);
        tnsot = src[pos + 11];
        if (isot >= lay->tiles)
            return RD_OK;
        if (counts[2 * isot] < 255)
            counts[2 * isot]++;
        if (tnsot != 0)
            counts[2 * isot + 1] = (uint8_t)tnsot;
        if (psot == 0) {
            to_eoc = 1;
            break;
        }
        if (psot < 14 || !(psot <= end - pos))
            return RD_OK; /* openjpeg's strict mode reports this */
        pos += psot;
    }
    for (t = 0; t < lay->tiles; t++) {
        if (counts[2 * t] == 0)
            return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                           "JPEG 2000: tile %llu of %llu is missing from the codestream "
                           "(truncated?)",
                           (unsigned long long)t + 1, (unsigned long long)lay->tiles);
        if (counts[2 * t] < counts[2 * t + 1])
            return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                           "JPEG 2000: tile %llu of %llu has %u of its %u tile-parts "
                           "(truncated?)",
                           (unsigned long long)t + 1, (unsigned long long)lay->tiles,
                           (unsigned)counts[2 * t], (unsigned)counts[2 * t + 1]);
    }
    if (to_eoc) {
        last = end;
        while (last > pos && (src[last - 1] == 0x00 || src[last - 1] == 0xFF))
            last--;
        if (!(last - pos >= 2 && src[last - 2] == 0xFF && src[last - 1] == 0xD9))
            return rd_fail(err, RD_ERR_DECODE, end, RD_NO_TAG,
                           "JPEG 2000: the last tile-part runs to the end of the codestream "
                           "(Psot 0) but no EOC marker ends it (truncated?)");
    }
    return RD_OK;
}

/* Check the image openjpeg describes against the desc; `when` names the step. */
static rd_status
check_image(const opj_image_t *image, const rd_frame_desc *desc, const char *when,
            rd_error *err)
{
    uint32_t width, height, c;
    const opj_image_comp_t *c0;

    if (image == NULL || image->comps == NULL || image->numcomps == 0)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 2000: openjpeg gave no image %s", when);
    width = image->x1 - image->x0;
    height = image->y1 - image->y0;
    if (image->x1 < image->x0 || image->y1 < image->y0 || width != desc->columns
        || height != desc->rows)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 2000 image is %u x %u (columns x rows) %s, the dataset says "
                       "%u x %u",
                       (unsigned)width, (unsigned)height, when, (unsigned)desc->columns,
                       (unsigned)desc->rows);
    if (image->numcomps != desc->samples_per_pixel)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 2000 image has %u components %s, the dataset says %u "
                       "(Samples per Pixel)",
                       (unsigned)image->numcomps, when, (unsigned)desc->samples_per_pixel);
    c0 = &image->comps[0];
    for (c = 0; c < image->numcomps; c++) {
        const opj_image_comp_t *comp = &image->comps[c];
        if (comp->dx != 1 || comp->dy != 1)
            return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                           "JPEG 2000 component %u is subsampled %u x %u; only 1 x 1 is "
                           "supported",
                           (unsigned)c, (unsigned)comp->dx, (unsigned)comp->dy);
        if (comp->w != width || comp->h != height)
            return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                           "JPEG 2000 component %u is %u x %u %s, the image %u x %u",
                           (unsigned)c, (unsigned)comp->w, (unsigned)comp->h, when,
                           (unsigned)width, (unsigned)height);
        if (comp->prec != c0->prec || comp->sgnd != c0->sgnd)
            return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                           "JPEG 2000 component %u has %u-bit %s samples, component 0 "
                           "%u-bit %s; mixed precisions are not supported",
                           (unsigned)c, (unsigned)comp->prec,
                           comp->sgnd ? "signed" : "unsigned", (unsigned)c0->prec,
                           c0->sgnd ? "signed" : "unsigned");
    }
    if (c0->prec < 1 || c0->prec > 32)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG 2000 precision %u bits is not supported", (unsigned)c0->prec);
    if (c0->prec > desc->bits_allocated)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 2000 precision is %u bits %s, more than Bits Allocated %u",
                       (unsigned)c0->prec, when, (unsigned)desc->bits_allocated);
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Output                                                                     */
/* ------------------------------------------------------------------------- */

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) \
    && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define J2K_HOST_LE 1
#else
#define J2K_HOST_LE 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define J2K_INLINE static inline __attribute__((always_inline))
#else
#define J2K_INLINE static inline
#endif

/* Store the low `bytes` bytes of v little endian (a plain store on
 * little-endian hosts). */
J2K_INLINE void
store_le(uint8_t *p, uint32_t v, unsigned bytes)
{
    if (bytes == 1) {
        *p = (uint8_t)v;
    } else if (bytes == 2) {
        if (J2K_HOST_LE) {
            uint16_t w = (uint16_t)v;
            memcpy(p, &w, 2);
        } else {
            p[0] = (uint8_t)v;
            p[1] = (uint8_t)(v >> 8);
        }
    } else {
        if (J2K_HOST_LE) {
            memcpy(p, &v, 4);
        } else {
            p[0] = (uint8_t)v;
            p[1] = (uint8_t)(v >> 8);
            p[2] = (uint8_t)(v >> 16);
            p[3] = (uint8_t)(v >> 24);
        }
    }
}

/*
 * One plane into every `spp`-th sample of dst.  Each sample becomes
 * ((v & mask) ^ sign) - sign in 32-bit unsigned arithmetic: with sign = 0
 * that keeps the low k bits (unsigned), with sign = 2^(k-1) it sign-extends
 * from bit k-1 (k as explained at the top of the file).  `bytes` and, at
 * the common call sites, `spp` are constants, so the loop specialises (and
 * vectorises for one sample per pixel).
 */
J2K_INLINE void
put_plane(const OPJ_INT32 *in, uint64_t n, uint8_t *out, uint32_t spp, unsigned bytes,
          uint32_t mask, uint32_t sign)
{
    uint64_t i;
    for (i = 0; i < n; i++)
        store_le(out + i * spp * bytes, (((uint32_t)in[i] & mask) ^ sign) - sign, bytes);
}

static void
write_samples(const opj_image_t *image, const rd_frame_desc *desc, uint8_t *dst)
{
    const opj_image_comp_t *c0 = &image->comps[0];
    uint32_t prec = c0->prec, k, mask, sign, c;
    uint32_t spp = desc->samples_per_pixel;
    unsigned bytes = desc->bits_allocated / 8;
    uint64_t n = (uint64_t)c0->w * c0->h;
    int mono = desc->photometric == RD_PI_MONOCHROME1 || desc->photometric == RD_PI_MONOCHROME2;

    k = prec <= 8 ? 8 : prec <= 16 ? 16 : 32;
    if (mono && (uint32_t)(c0->sgnd != 0) != (desc->pixel_representation != 0))
        k = prec;
    mask = k == 32 ? 0xFFFFFFFFu : (((uint32_t)1 << k) - 1);
    sign = desc->pixel_representation ? (uint32_t)1 << (k - 1) : 0;

    for (c = 0; c < spp; c++) {
        const OPJ_INT32 *in = image->comps[c].data;
        uint8_t *out = dst + (uint64_t)c * bytes;
        switch (bytes * 16 + (spp == 1 ? 1 : spp == 3 ? 3 : 0)) {
        case 1 * 16 + 1: put_plane(in, n, out, 1, 1, mask, sign); break;
        case 1 * 16 + 3: put_plane(in, n, out, 3, 1, mask, sign); break;
        case 2 * 16 + 1: put_plane(in, n, out, 1, 2, mask, sign); break;
        case 2 * 16 + 3: put_plane(in, n, out, 3, 2, mask, sign); break;
        case 4 * 16 + 1: put_plane(in, n, out, 1, 4, mask, sign); break;
        case 1 * 16: put_plane(in, n, out, spp, 1, mask, sign); break;
        case 2 * 16: put_plane(in, n, out, spp, 2, mask, sign); break;
        default: put_plane(in, n, out, spp, 4, mask, sign); break;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Frame                                                                      */
/* ------------------------------------------------------------------------- */

rd_status
rd_j2k_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                    rd_error *err)
{
    uint64_t max_pixels = RD_DEFAULT_MAX_PIXELS, chunk;
    uint32_t threads = 0;
    j2k_layout layout;
    uint8_t *counts;
    j2k_source source;
    j2k_messages messages;
    opj_dparameters_t params;
    opj_codec_t *codec = NULL;
    opj_stream_t *stream = NULL;
    opj_image_t *image = NULL;
    rd_status st = RD_OK;

    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "JPEG 2000: NULL %s", desc == NULL ? "frame description"
                                             : dst == NULL ? "output buffer" : "input");
    rd_read_codec_options(options, NULL, &threads, &max_pixels);
    if (desc->bits_allocated != 8 && desc->bits_allocated != 16 && desc->bits_allocated != 32)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG 2000: Bits Allocated %u is not supported (8, 16 or 32)",
                       (unsigned)desc->bits_allocated);
    st = rd_check_frame_fits("JPEG 2000", desc, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    if (desc->samples_per_pixel > 16384)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG 2000: %u samples per pixel (at most 16384 components)",
                       (unsigned)desc->samples_per_pixel);
    if (threads > INT_MAX)
        threads = INT_MAX;

    memset(&layout, 0, sizeof(layout));
    st = find_codestream(src, src_len, &layout, err);
    if (st != RD_OK)
        return st;
    st = check_siz(src, &layout, desc,
                   RD_CODEC_LIMIT(options, max_tiles, RD_DEFAULT_MAX_J2K_TILES), err);
    if (st != RD_OK)
        return st;
    if (layout.tiles > 0 && layout.tiles <= 65535) {
        counts = (uint8_t *)calloc((size_t)layout.tiles, 2);
        if (counts == NULL)
            return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG,
                           "JPEG 2000: no memory for %llu tiles",
                           (unsigned long long)layout.tiles);
        st = check_tile_parts(src, &layout, counts, err);
        free(counts);
        if (st != RD_OK)
            return st;
    }

    /* --- codec --- */
    memset(&messages, 0, sizeof(messages));
    codec = opj_create_decompress(layout.jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    if (codec == NULL) {
        st = rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "JPEG 2000: cannot create a decoder");
        goto cleanup;
    }
    opj_set_error_handler(codec, on_error, &messages);
    opj_set_warning_handler(codec, on_warning, &messages);
    opj_set_info_handler(codec, on_info, &messages);
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params)) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG, "JPEG 2000 decoder setup: %s",
                     opj_said(&messages, "failed"));
        goto cleanup;
    }
    opj_decoder_set_strict_mode(codec, OPJ_TRUE);
    /* 0: decode on this thread, no pool (see the top of the file). */
    opj_codec_set_threads(codec, threads > 1 ? (int)threads : 0);

    /* --- stream over (src, src_len) --- */
    source.data = src;
    source.len = src_len;
    source.pos = 0;
    chunk = src_len < J2K_MIN_CHUNK ? J2K_MIN_CHUNK
          : src_len > J2K_MAX_CHUNK ? J2K_MAX_CHUNK : src_len;
    stream = opj_stream_create((OPJ_SIZE_T)chunk, OPJ_TRUE);
    if (stream == NULL) {
        st = rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "JPEG 2000: cannot create a stream");
        goto cleanup;
    }
    opj_stream_set_user_data(stream, &source, NULL);
    opj_stream_set_user_data_length(stream, src_len);
    opj_stream_set_read_function(stream, source_read);
    opj_stream_set_skip_function(stream, source_skip);
    opj_stream_set_seek_function(stream, source_seek);

    /* --- header, checked against the desc before any plane exists --- */
    if (!opj_read_header(stream, codec, &image)) {
        st = rd_fail(err, RD_ERR_DECODE, source.pos, RD_NO_TAG, "JPEG 2000 header: %s",
                     opj_said(&messages, "unreadable"));
        goto cleanup;
    }
    st = check_image(image, desc, "in its header", err);
    if (st != RD_OK)
        goto cleanup;

    /* --- decode --- */
    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        st = rd_fail(err, RD_ERR_DECODE, source.pos, RD_NO_TAG, "JPEG 2000 decode: %s",
                     opj_said(&messages, "failed"));
        goto cleanup;
    }
    st = check_image(image, desc, "after decoding", err);
    if (st != RD_OK)
        goto cleanup;
    {
        uint32_t c;
        for (c = 0; c < image->numcomps; c++) {
            if (image->comps[c].data == NULL) {
                st = rd_fail(err, RD_ERR_DECODE, source.pos, RD_NO_TAG,
                             "JPEG 2000 decode: component %u has no samples: %s",
                             (unsigned)c, opj_said(&messages, "no data"));
                goto cleanup;
            }
        }
    }

    write_samples(image, desc, dst);

cleanup:
    if (codec != NULL)
        opj_destroy_codec(codec);
    if (stream != NULL)
        opj_stream_destroy(stream);
    if (image != NULL)
        opj_image_destroy(image);
    return st;
}
