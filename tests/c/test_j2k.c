/*
 * test_j2k.c - checks of the JPEG 2000 / HTJ2K decoder (src/core/j2k.c).
 *
 * Build and run:
 *   cc -Isrc/core $(pkg-config --cflags libopenjp2) src/core/j2k.c src/core/frame.c \
 *      tests/c/test_j2k.c $(pkg-config --libs libopenjp2) && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.
 *
 * Codestreams come from openjpeg's own encoder (opj_create_compress into a
 * memory stream written here), so sizes the Python encoders cannot make
 * (1x1, one row, one column, fewer than 32 pixels a side) are covered, as
 * are every precision 1..31, signed components, 3 and 4 components with and
 * without the RCT, several tiles, JP2 wrapping and lossy (9/7) coding.  One
 * HTJ2K codestream (ojph_compress 0.9.0, 5x3, 12-bit, reversible) is
 * embedded byte for byte, since openjpeg cannot encode HT.
 *
 * The expected output is computed by want_sample() below, which follows
 * pydicom 3.0.2 step by step (numpy semantics: a container of 8/16/32 bits
 * chosen from the precision, viewed signed or unsigned per Pixel
 * Representation, then the left/right shift of _apply_sign_correction for
 * MONOCHROME data whose signedness disagrees) rather than j2k.c's
 * mask/xor/subtract formulation.
 *
 * Error paths: one hand-edited codestream per path, the edited field named
 * in a comment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openjpeg.h>

#include "rapidicom.h"
#include "check.h"

#define CANARY 0xA5
#define MAX_CS (1 << 20)
#define MAX_PIXELS_TEST 4096
#define MAX_FRAME (MAX_PIXELS_TEST * 4 * 4)

static uint8_t cs[MAX_CS];
static uint8_t dst[MAX_FRAME + 16];

/* ------------------------------------------------------------------------- */
/* An in-memory openjpeg encoder                                             */
/* ------------------------------------------------------------------------- */

typedef struct membuf {
    uint8_t *buf;
    size_t cap, len, pos;
} membuf;

static OPJ_SIZE_T
mb_write(void *data, OPJ_SIZE_T n, void *user)
{
    membuf *m = (membuf *)user;
    if (n > m->cap - m->pos)
        return (OPJ_SIZE_T)-1;
    memcpy(m->buf + m->pos, data, n);
    m->pos += n;
    if (m->pos > m->len)
        m->len = m->pos;
    return n;
}

static OPJ_SIZE_T
mb_read(void *data, OPJ_SIZE_T n, void *user)
{
    membuf *m = (membuf *)user;
    if (m->pos >= m->len)
        return (OPJ_SIZE_T)-1;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    memcpy(data, m->buf + m->pos, n);
    m->pos += n;
    return n;
}

static OPJ_OFF_T
mb_skip(OPJ_OFF_T n, void *user)
{
    membuf *m = (membuf *)user;
    if (n < 0 || (size_t)n > m->cap - m->pos)
        return -1;
    m->pos += (size_t)n;
    if (m->pos > m->len)
        m->len = m->pos;
    return n;
}

static OPJ_BOOL
mb_seek(OPJ_OFF_T off, void *user)
{
    membuf *m = (membuf *)user;
    if (off < 0 || (size_t)off > m->cap)
        return OPJ_FALSE;
    m->pos = (size_t)off;
    return OPJ_TRUE;
}

typedef struct enc_opts {
    int mct;          /* RCT (reversible) / ICT (irreversible) on 3 components */
    int irreversible; /* 9/7 and a rate of 8:1 */
    int tile;         /* square tile size, 0: one tile */
    int jp2;          /* wrap in a JP2 file */
    uint32_t prec2;   /* precision of components 1.., 0: same as component 0 */
} enc_opts;

/* Encode `ncomp` planes of w x h samples (component c at planes[c]). */
static size_t
encode(int32_t *const *planes, uint32_t w, uint32_t h, uint32_t ncomp, uint32_t prec,
       int sgnd, enc_opts o, uint8_t *out, size_t cap)
{
    opj_cparameters_t p;
    opj_image_cmptparm_t cp[4];
    opj_image_t *image;
    opj_codec_t *codec;
    opj_stream_t *stream;
    membuf m = { out, cap, 0, 0 };
    uint32_t c, numres = 6;
    int ok;

    opj_set_default_encoder_parameters(&p);
    p.tcp_numlayers = 1;
    p.tcp_rates[0] = o.irreversible ? 8.0f : 0.0f;
    p.cp_disto_alloc = 1;
    p.irreversible = o.irreversible;
    p.tcp_mct = (char)(o.mct ? 1 : 0);
    while (numres > 1 && (w < (1u << (numres - 1)) || h < (1u << (numres - 1))))
        numres--;
    if (o.tile) {
        p.tile_size_on = OPJ_TRUE;
        p.cp_tdx = o.tile;
        p.cp_tdy = o.tile;
        while (numres > 1 && (uint32_t)o.tile < (1u << (numres - 1)))
            numres--;
    }
    p.numresolution = (int)numres;
    memset(cp, 0, sizeof(cp));
    for (c = 0; c < ncomp; c++) {
        cp[c].dx = cp[c].dy = 1;
        cp[c].w = w;
        cp[c].h = h;
        cp[c].prec = (c > 0 && o.prec2) ? o.prec2 : prec;
        cp[c].sgnd = (OPJ_UINT32)sgnd;
    }
    image = opj_image_create(ncomp, cp, ncomp >= 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
    if (image == NULL)
        return 0;
    image->x0 = image->y0 = 0;
    image->x1 = w;
    image->y1 = h;
    for (c = 0; c < ncomp; c++)
        memcpy(image->comps[c].data, planes[c], (size_t)w * h * sizeof(int32_t));
    codec = opj_create_compress(o.jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    stream = opj_stream_create(1 << 16, OPJ_FALSE);
    opj_stream_set_user_data(stream, &m, NULL);
    opj_stream_set_write_function(stream, mb_write);
    opj_stream_set_skip_function(stream, mb_skip);
    opj_stream_set_seek_function(stream, mb_seek);
    ok = opj_setup_encoder(codec, &p, image) && opj_start_compress(codec, image, stream)
         && opj_encode(codec, stream) && opj_end_compress(codec, stream);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    opj_image_destroy(image);
    return ok ? m.len : 0;
}

/* ------------------------------------------------------------------------- */
/* Expected output, pydicom's way                                             */
/* ------------------------------------------------------------------------- */

/* Two's complement value of the low `bits` bits of u. */
static int64_t
as_signed(uint64_t u, unsigned bits)
{
    uint64_t m = bits == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
    u &= m;
    return (u >> (bits - 1)) & 1 ? (int64_t)u - (int64_t)(m + 1) : (int64_t)u;
}

/*
 * pydicom 3.0.2, pylibjpeg/GDCM plugin: the decoded value v lands in a
 * C-bit container (C from the precision), viewed with the dataset's
 * signedness; for MONOCHROME data whose J2K signedness differs, the
 * container is shifted left then right by C - prec (arithmetic when
 * signed).  Returns the value numpy would then hold.
 */
static int64_t
want_sample(int64_t v, unsigned prec, int sgnd, const rd_frame_desc *d)
{
    unsigned C = prec <= 8 ? 8 : prec <= 16 ? 16 : 32;
    uint64_t mask = (C == 32 ? 0xFFFFFFFFull : ((1ull << C) - 1));
    uint64_t u = (uint64_t)v & mask;
    int mono = d->photometric == RD_PI_MONOCHROME1 || d->photometric == RD_PI_MONOCHROME2;
    unsigned shift = C - prec;

    if (mono && (sgnd != 0) != (d->pixel_representation != 0) && shift) {
        u = (u << shift) & mask; /* np.left_shift in the container */
        if (d->pixel_representation)
            return as_signed(u, C) >> shift; /* arithmetic */
        return (int64_t)(u >> shift);
    }
    return d->pixel_representation ? as_signed(u, C) : (int64_t)u;
}

static void
put_le(uint8_t *p, int64_t v, unsigned bytes)
{
    unsigned i;
    for (i = 0; i < bytes; i++)
        p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

/* ------------------------------------------------------------------------- */
/* Decoding helpers                                                           */
/* ------------------------------------------------------------------------- */

static rd_frame_desc
desc_of(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t ba, uint32_t pr,
        uint32_t photometric)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = rows;
    d.columns = cols;
    d.samples_per_pixel = spp;
    d.bits_allocated = ba;
    d.bits_stored = ba;
    d.pixel_representation = pr;
    d.photometric = photometric;
    return d;
}

/* Decode into a canary-filled buffer; checks nothing past the frame was
 * touched, and nothing at all on failure. */
static rd_status
decode_opts(const uint8_t *src, size_t len, rd_frame_desc d, const rd_codec_options *opts,
            rd_error *err)
{
    uint64_t size = rd_frame_size(&d);
    size_t i, from;
    rd_status st;

    memset(dst, CANARY, sizeof(dst));
    memset(err, 0, sizeof(*err));
    st = rd_j2k_decode_frame(src, len, &d, opts, dst, MAX_FRAME, err);
    from = st == RD_OK ? (size_t)(size < MAX_FRAME ? size : MAX_FRAME) : 0;
    for (i = from; i < sizeof(dst); i++)
        if (dst[i] != CANARY) {
            fprintf(stderr, "%s at byte %zu\n",
                    st == RD_OK ? "write past the frame" : "write on failure", i);
            failures++;
            break;
        }
    if (st != RD_OK && err->msg[0] == '\0') {
        fprintf(stderr, "status %d without a message\n", (int)st);
        failures++;
    }
    return st;
}

static rd_status
decode(const uint8_t *src, size_t len, rd_frame_desc d, rd_error *err)
{
    return decode_opts(src, len, d, NULL, err);
}

static void
expect_error(rd_status st, const rd_error *err, rd_status code, const char *needle,
             int line)
{
    if (st != code || err->code != code || strstr(err->msg, needle) == NULL) {
        fprintf(stderr, "line %d: got status %d \"%s\", want %d with \"%s\"\n", line,
                (int)st, err->msg, (int)code, needle);
        failures++;
    }
}

#define EXPECT_ERROR(st, err, code, needle) expect_error(st, err, code, needle, __LINE__)

/* Random test data in the range of `prec`-bit (signed) samples. */
static uint32_t rng_state = 12345;

static uint32_t
rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 1;
}

static int32_t *planes_buf[4];

static void
fill(uint32_t n, uint32_t ncomp, uint32_t prec, int sgnd)
{
    uint32_t c, i;
    for (c = 0; c < ncomp; c++) {
        free(planes_buf[c]);
        planes_buf[c] = (int32_t *)malloc((size_t)n * sizeof(int32_t) + 1);
        for (i = 0; i < n; i++) {
            uint64_t r = ((uint64_t)rnd() << 31 | rnd());
            uint64_t range = (uint64_t)1 << prec;
            /* Mostly random, some runs, and the extremes. */
            int64_t v = (int64_t)(i % 5 == 0 ? (i / 5) % range : r % range);
            if (i == 1)
                v = 0;
            if (i == 2)
                v = (int64_t)range - 1;
            if (sgnd)
                v -= (int64_t)(range / 2);
            planes_buf[c][i] = (int32_t)v;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Round trips                                                                */
/* ------------------------------------------------------------------------- */

/*
 * openjpeg's own decode of `cs` (J2K or JP2 by its first bytes), turned
 * into the expected frame with want_sample(): the reference for lossy
 * coding and for precisions above 24 bits, where openjpeg 2.5.0 itself does
 * not round-trip losslessly (its encoder/decoder pair differs from the input
 * from 26 bits on; pylibjpeg-openjpeg encodes at most 24).  Returns 0 when
 * openjpeg fails.
 */
static int
openjpeg_reference(const uint8_t *src, size_t len, const rd_frame_desc *d, uint8_t *want)
{
    membuf m = { (uint8_t *)src, len, len, 0 };
    opj_codec_t *codec = opj_create_decompress(src[0] == 0xFF ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
    opj_stream_t *stream = opj_stream_create(1 << 16, OPJ_TRUE);
    opj_image_t *image = NULL;
    opj_dparameters_t p;
    uint32_t n = d->rows * d->columns, i, c, bps = d->bits_allocated / 8;
    int ok;

    opj_set_default_decoder_parameters(&p);
    opj_setup_decoder(codec, &p);
    opj_stream_set_user_data(stream, &m, NULL);
    opj_stream_set_user_data_length(stream, len);
    opj_stream_set_read_function(stream, mb_read);
    opj_stream_set_skip_function(stream, mb_skip);
    opj_stream_set_seek_function(stream, mb_seek);
    ok = opj_read_header(stream, codec, &image) && opj_decode(codec, stream, image)
         && image->numcomps == d->samples_per_pixel;
    if (ok)
        for (i = 0; i < n; i++)
            for (c = 0; c < d->samples_per_pixel; c++)
                put_le(want + ((size_t)i * d->samples_per_pixel + c) * bps,
                       want_sample(image->comps[c].data[i], image->comps[0].prec,
                                   (int)image->comps[0].sgnd, d),
                       bps);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    opj_image_destroy(image);
    return ok;
}

/* Round trip; the output must equal want_sample() of the input (lossless,
 * up to 24 bits) or of openjpeg's own decode (lossy, or more bits). */
static void
round_trip(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t prec, int sgnd,
           uint32_t ba, uint32_t pr, uint32_t photometric, enc_opts o)
{
    rd_frame_desc d = desc_of(rows, cols, spp, ba, pr, photometric);
    uint32_t n = rows * cols, i, c;
    size_t len;
    rd_error err;
    rd_status st;
    uint8_t want[MAX_FRAME];

    fill(n, spp, prec, sgnd);
    len = encode(planes_buf, cols, rows, spp, prec, sgnd, o, cs, sizeof(cs));
    if (len == 0) {
        fprintf(stderr, "encoder failed: %ux%u spp %u prec %u sgnd %d\n", (unsigned)rows,
                (unsigned)cols, (unsigned)spp, (unsigned)prec, sgnd);
        failures++;
        return;
    }
    if (o.irreversible || prec > 24) {
        if (!openjpeg_reference(cs, len, &d, want)) {
            fprintf(stderr, "openjpeg cannot decode its own %u-bit codestream\n",
                    (unsigned)prec);
            failures++;
            return;
        }
    } else {
        for (i = 0; i < n; i++)
            for (c = 0; c < spp; c++)
                put_le(want + ((size_t)i * spp + c) * (ba / 8),
                       want_sample(planes_buf[c][i], prec, sgnd, &d), ba / 8);
    }
    st = decode(cs, len, d, &err);
    if (st != RD_OK || memcmp(dst, want, (size_t)n * spp * (ba / 8)) != 0) {
        fprintf(stderr,
                "round trip %ux%u spp %u prec %u %s -> BA %u PR %u PI %u (mct %d tile %d "
                "jp2 %d): status %d %s\n",
                (unsigned)rows, (unsigned)cols, (unsigned)spp, (unsigned)prec,
                sgnd ? "signed" : "unsigned", (unsigned)ba, (unsigned)pr,
                (unsigned)photometric, o.mct, o.tile, o.jp2, (int)st, err.msg);
        failures++;
    }
}

static void
test_round_trips(void)
{
    static const enc_opts plain = { 0, 0, 0, 0, 0 };
    static const enc_opts rct = { 1, 0, 0, 0, 0 };
    static const enc_opts tiled = { 0, 0, 16, 0, 0 };
    static const enc_opts jp2 = { 0, 0, 0, 1, 0 };
    static const enc_opts rct_jp2_tiled = { 1, 0, 8, 1, 0 };
    static const enc_opts ict = { 1, 1, 0, 0, 0 };
    static const enc_opts lossy = { 0, 1, 0, 0, 0 };
    uint32_t prec;

    /* Shapes. */
    round_trip(1, 1, 1, 8, 0, 8, 0, RD_PI_MONOCHROME2, plain);
    round_trip(1, 1, 3, 8, 0, 8, 0, RD_PI_RGB, plain);
    round_trip(1, 37, 1, 12, 0, 16, 0, RD_PI_MONOCHROME2, plain);
    round_trip(29, 1, 1, 16, 1, 16, 1, RD_PI_MONOCHROME2, plain);
    round_trip(23, 37, 1, 8, 0, 8, 0, RD_PI_MONOCHROME1, plain);
    round_trip(33, 47, 3, 8, 0, 8, 0, RD_PI_RGB, plain);
    round_trip(33, 47, 3, 8, 0, 8, 0, RD_PI_YBR_RCT, rct);
    round_trip(9, 11, 3, 12, 0, 16, 0, RD_PI_YBR_RCT, rct);
    round_trip(9, 11, 4, 8, 0, 8, 0, RD_PI_UNKNOWN, plain);
    round_trip(9, 11, 2, 16, 0, 16, 0, RD_PI_UNKNOWN, plain);
    round_trip(40, 50, 1, 12, 0, 16, 0, RD_PI_MONOCHROME2, tiled);
    round_trip(13, 17, 3, 8, 0, 8, 0, RD_PI_YBR_FULL, plain); /* as stored */
    round_trip(20, 21, 1, 16, 1, 16, 1, RD_PI_MONOCHROME2, jp2);
    round_trip(20, 21, 3, 8, 0, 8, 0, RD_PI_YBR_RCT, rct_jp2_tiled);
    /* Lossy (9/7, 8:1), with and without the ICT. */
    round_trip(40, 37, 3, 8, 0, 8, 0, RD_PI_YBR_ICT, ict);
    round_trip(40, 37, 1, 12, 0, 16, 0, RD_PI_MONOCHROME2, lossy);
    round_trip(33, 35, 1, 16, 1, 16, 1, RD_PI_MONOCHROME2, lossy);
    round_trip(33, 35, 1, 13, 0, 16, 1, RD_PI_MONOCHROME2, lossy);

    /* Every precision, both signednesses, matching Pixel Representation,
     * into the smallest Bits Allocated and into 32. */
    for (prec = 1; prec <= 31; prec++) {
        uint32_t ba = prec <= 8 ? 8 : prec <= 16 ? 16 : 32;
        round_trip(7, 9, 1, prec, 0, ba, 0, RD_PI_MONOCHROME2, plain);
        round_trip(7, 9, 1, prec, 1, ba, 1, RD_PI_MONOCHROME2, plain);
        round_trip(5, 3, 1, prec, 0, 32, 0, RD_PI_MONOCHROME2, plain);
        round_trip(5, 3, 1, prec, 1, 32, 1, RD_PI_MONOCHROME2, plain);
        /* Signedness disagreeing with Pixel Representation: pydicom's
         * sign correction (monochrome) or plain reinterpretation (colour). */
        round_trip(6, 5, 1, prec, 0, ba, 1, RD_PI_MONOCHROME2, plain);
        round_trip(6, 5, 1, prec, 1, ba, 0, RD_PI_MONOCHROME1, plain);
        round_trip(4, 3, 3, prec, 0, ba, 1, RD_PI_RGB, plain);
        round_trip(4, 3, 3, prec, 1, ba, 0, RD_PI_RGB, plain);
    }
    /* Container narrower than Bits Allocated (pydicom's array is uint8 /
     * int8 then; the values are what is compared). */
    round_trip(6, 7, 1, 8, 0, 16, 1, RD_PI_MONOCHROME2, plain);
    round_trip(6, 7, 1, 7, 1, 16, 0, RD_PI_MONOCHROME2, plain);
    round_trip(6, 7, 3, 8, 0, 16, 1, RD_PI_RGB, plain);
    round_trip(6, 7, 1, 13, 0, 32, 1, RD_PI_MONOCHROME2, plain);
}

/* ------------------------------------------------------------------------- */
/* HTJ2K                                                                      */
/* ------------------------------------------------------------------------- */

/* ojph_compress -i h.yuv -o h.j2c -dims {5,3} -num_comps 1 -signed false
 *   -bit_depth 12 -downsamp {1,1} -reversible true -num_decomps 2
 * of the samples 5 + 273 * i, i = 0..14.  SIZ at 2, Ssiz of component 0 at
 * byte 42 (0x0B: unsigned 12-bit); CAP (FF50) at 45; COD code-block style
 * 0x40 (HT). */
static const uint8_t HT_5X3[] = {
    0xff, 0x4f, 0xff, 0x51, 0x00, 0x29, 0x40, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0b, 0x01, 0x01, 0xff, 0x50, 0x00,
    0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0xff, 0x52, 0x00, 0x0c, 0x00,
    0x02, 0x00, 0x01, 0x00, 0x02, 0x04, 0x04, 0x40, 0x01, 0xff, 0x5c, 0x00,
    0x0a, 0x20, 0x70, 0x78, 0x78, 0x78, 0x70, 0x70, 0x78, 0xff, 0x64, 0x00,
    0x16, 0x00, 0x01, 0x4f, 0x70, 0x65, 0x6e, 0x4a, 0x50, 0x48, 0x20, 0x56,
    0x65, 0x72, 0x20, 0x30, 0x2e, 0x39, 0x2e, 0x30, 0x2e, 0xff, 0x90, 0x00,
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x01, 0xff, 0x93, 0xc0,
    0x01, 0x38, 0x4b, 0xe9, 0xfc, 0x02, 0x81, 0x74, 0x00, 0xc0, 0x00, 0x8e,
    0x00, 0x05, 0x40, 0x80, 0x03, 0x00, 0x52, 0x55, 0xaa, 0xfe, 0x00, 0xe2,
    0x34, 0x00, 0xc0, 0x01, 0x18, 0x80, 0x03, 0x00, 0xff, 0xd9
};

static void
test_htj2k(void)
{
    rd_frame_desc d = desc_of(3, 5, 1, 16, 0, RD_PI_MONOCHROME2);
    uint8_t ht[sizeof(HT_5X3)];
    rd_error err;
    rd_status st;
    int i, ok = 1;

    st = decode(HT_5X3, sizeof(HT_5X3), d, &err);
    CHECK(st == RD_OK);
    for (i = 0; i < 15; i++)
        ok &= dst[2 * i] == (uint8_t)(5 + 273 * i) && dst[2 * i + 1] == (5 + 273 * i) >> 8;
    CHECK(ok);

    /* Ssiz 0x8B: the same coefficients read as signed 12-bit skip the DC
     * level shift, so every sample comes out 2048 lower. */
    memcpy(ht, HT_5X3, sizeof(ht));
    ht[42] = 0x8B;
    d.pixel_representation = 1;
    st = decode(ht, sizeof(ht), d, &err);
    CHECK(st == RD_OK);
    for (i = 0, ok = 1; i < 15; i++) {
        int v = 5 + 273 * i - 2048;
        ok &= dst[2 * i] == (uint8_t)v && dst[2 * i + 1] == (uint8_t)((unsigned)v >> 8);
    }
    CHECK(ok);

    /* ... and into an 8-bit frame: precision 12 does not fit. */
    d = desc_of(3, 5, 1, 8, 0, RD_PI_MONOCHROME2);
    st = decode(HT_5X3, sizeof(HT_5X3), d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "precision is 12 bits in its header, more than "
                                          "Bits Allocated 8");

    /* Truncated inside the HT code-block data: strict mode refuses it. */
    d = desc_of(3, 5, 1, 16, 0, RD_PI_MONOCHROME2);
    st = decode(HT_5X3, sizeof(HT_5X3) - 20, d, &err);
    CHECK(st == RD_ERR_DECODE);
}

/* ------------------------------------------------------------------------- */
/* Bad input, one per error path                                              */
/* ------------------------------------------------------------------------- */

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A 16-bit unsigned 24 x 20 codestream in cs; returns its length. */
static size_t
base_codestream(uint32_t spp, int jp2)
{
    enc_opts o = { 0, 0, 0, jp2, 0 };
    fill(24 * 20, spp, 16, 0);
    return encode(planes_buf, 24, 20, spp, 16, 0, o, cs, sizeof(cs));
}

/* SIZ fields of a raw codestream (ISO/IEC 15444-1 A.5.1), byte offsets. */
enum { SIZ_XSIZ = 8, SIZ_YSIZ = 12, SIZ_XOSIZ = 16, SIZ_YOSIZ = 20, SIZ_XTSIZ = 24,
       SIZ_YTSIZ = 28, SIZ_CSIZ = 40, SIZ_SSIZ0 = 42, SIZ_XRSIZ0 = 43 };

static void
test_bad_description(void)
{
    size_t len = base_codestream(1, 0);
    rd_frame_desc d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    rd_codec_options o;
    rd_error err;
    rd_status st;

    CHECK(len > 0);
    CHECK(decode(cs, len, d, &err) == RD_OK);

    /* Output one byte too small: nothing written. */
    memset(dst, CANARY, sizeof(dst));
    st = rd_j2k_decode_frame(cs, len, &d, NULL, dst, 24 * 20 * 2 - 1, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "holds 959 bytes, the frame needs 960");
    CHECK(dst[0] == CANARY);

    d.bits_allocated = 12;
    EXPECT_ERROR(decode(cs, len, d, &err), &err, RD_ERR_UNSUPPORTED, "Bits Allocated 12");
    d.bits_allocated = 64;
    EXPECT_ERROR(decode(cs, len, d, &err), &err, RD_ERR_UNSUPPORTED, "Bits Allocated 64");
    d.bits_allocated = 1;
    EXPECT_ERROR(decode(cs, len, d, &err), &err, RD_ERR_UNSUPPORTED, "Bits Allocated 1");
    d = desc_of(0, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    EXPECT_ERROR(decode(cs, len, d, &err), &err, RD_ERR_INVALID, "no valid size");
    d = desc_of(20, 24, 0, 16, 0, RD_PI_MONOCHROME2);
    EXPECT_ERROR(decode(cs, len, d, &err), &err, RD_ERR_INVALID, "no valid size");

    /* max_pixels: 480 pixels against a limit of 479, then 480. */
    d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.max_pixels = 479;
    st = decode_opts(cs, len, d, &o, &err);
    EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "480 pixels exceeds the limit of 479");
    o.max_pixels = 480;
    CHECK(decode_opts(cs, len, d, &o, &err) == RD_OK);
    /* An options struct too old to have max_pixels: the default applies. */
    o.max_pixels = 1;
    o.size = offsetof(rd_codec_options, max_pixels);
    CHECK(decode_opts(cs, len, d, &o, &err) == RD_OK);
    /* A 65535 x 65535 desc is refused by the default limit (2^31 pixels)
     * before the (small) buffer would matter. */
    d = desc_of(65535, 65535, 1, 8, 0, RD_PI_MONOCHROME2);
    st = rd_j2k_decode_frame(cs, len, &d, NULL, dst, UINT64_MAX, &err);
    EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "4294836225 pixels exceeds the limit of 2147483648");

    /* Threads: a pool of 4 decodes the same bytes. */
    d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    {
        uint8_t first[24 * 20 * 2];
        CHECK(decode(cs, len, d, &err) == RD_OK);
        memcpy(first, dst, sizeof(first));
        memset(&o, 0, sizeof(o));
        o.size = sizeof(o);
        o.threads = 4;
        CHECK(decode_opts(cs, len, d, &o, &err) == RD_OK);
        CHECK(memcmp(first, dst, sizeof(first)) == 0);
    }

    /* NULL arguments; a NULL rd_error is allowed. */
    CHECK(rd_j2k_decode_frame(cs, len, NULL, NULL, dst, MAX_FRAME, &err) == RD_ERR_INVALID);
    CHECK(rd_j2k_decode_frame(cs, len, &d, NULL, NULL, MAX_FRAME, &err) == RD_ERR_INVALID);
    CHECK(rd_j2k_decode_frame(NULL, 10, &d, NULL, dst, MAX_FRAME, &err) == RD_ERR_INVALID);
    CHECK(rd_j2k_decode_frame(cs, 10, &d, NULL, dst, MAX_FRAME, NULL) == RD_ERR_DECODE);
    CHECK(rd_j2k_decode_frame(cs, len, &d, NULL, dst, MAX_FRAME, NULL) == RD_OK);
}

static void
test_bad_siz(void)
{
    rd_frame_desc d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    size_t len = base_codestream(1, 0);
    static uint8_t b[MAX_CS];
    rd_error err;
    rd_status st;

    /* Not JPEG 2000 at all; empty. */
    st = decode((const uint8_t *)"DICM\0\0\0\0", 8, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "starts with 44 49 43 4D, neither a codestream");
    st = decode(cs, 0, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "the frame (0 bytes) starts with");
    st = decode(cs, 3, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "neither a codestream");

    /* SOC + SIZ, then cut inside SIZ. */
    st = decode(cs, 30, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "truncated in its SIZ marker segment (30 of 42");

    /* Xsiz, Ysiz against the desc: 65535 x 65535 claimed. */
    memcpy(b, cs, len);
    put_be32(b + SIZ_XSIZ, 65535);
    put_be32(b + SIZ_YSIZ, 65535);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE,
                 "codestream is 65535 x 65535 (columns x rows), the dataset says 24 x 20");
    CHECK(err.offset == SIZ_XSIZ);
    /* An image offset shrinking the image: XOsiz 4 -> 20 columns. */
    memcpy(b, cs, len);
    put_be32(b + SIZ_XOSIZ, 4);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "is 20 x 20 (columns x rows), the dataset says 24");
    /* XOsiz past Xsiz: an empty image. */
    put_be32(b + SIZ_XOSIZ, 100);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "is 0 x 20");

    /* Csiz against Samples per Pixel. */
    d.samples_per_pixel = 3;
    st = decode(cs, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "has 1 components, the dataset says 3");
    CHECK(err.offset == SIZ_CSIZ);
    d.samples_per_pixel = 1;

    /* Tiles of 1 x 1 pixels: 480 tiles is fine for openjpeg, and is below
     * J2K_MAX_TILES, so openjpeg reports the missing tiles; 1 x 1 tiles of
     * a 100 x 100 desc (10000 tiles of 1 pixel) are refused first. */
    memcpy(b, cs, len);
    put_be32(b + SIZ_XTSIZ, 1);
    put_be32(b + SIZ_YTSIZ, 1);
    st = decode(b, len, d, &err);
    CHECK(st == RD_ERR_DECODE);
    put_be32(b + SIZ_XSIZ, 100);
    put_be32(b + SIZ_YSIZ, 100);
    d = desc_of(100, 100, 1, 16, 0, RD_PI_MONOCHROME2);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "100 x 100 tiles of 1 x 1 pixels");
    /* Tile size 0: openjpeg's own message. */
    d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    memcpy(b, cs, len);
    put_be32(b + SIZ_XTSIZ, 0);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "JPEG 2000 header: ");

    /* Subsampling XRsiz = 2 on the only component: unsupported. */
    memcpy(b, cs, len);
    b[SIZ_XRSIZ0] = 2;
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "component 0 is subsampled 2 x 1");

    /* Ssiz: 16-bit data into Bits Allocated 8. */
    d = desc_of(20, 24, 1, 8, 0, RD_PI_MONOCHROME2);
    st = decode(cs, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "precision is 16 bits in its header, more than "
                                          "Bits Allocated 8");
}

/* Offset of the k-th SOT marker segment (FF 90 00 0A) in a codestream,
 * 0 if none; FF 90 cannot occur inside packet data (bit stuffing). */
static size_t
find_sot(const uint8_t *b, size_t len, unsigned k)
{
    size_t i;
    for (i = 0; i + 4 <= len; i++)
        if (b[i] == 0xFF && b[i + 1] == 0x90 && b[i + 2] == 0x00 && b[i + 3] == 0x0A) {
            if (k == 0)
                return i;
            k--;
        }
    return 0;
}

static void
test_bad_data(void)
{
    rd_frame_desc d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    size_t len = base_codestream(1, 0), cut;
    rd_error err;
    rd_status st;

    /* Cut anywhere after the main header: strict mode makes every cut an
     * error with openjpeg's message, never a partial image. */
    for (cut = 45; cut < len; cut += (len - 45) / 23 + 1) {
        st = decode(cs, cut, d, &err);
        if (st != RD_ERR_DECODE) {
            fprintf(stderr, "cut at %zu of %zu: status %d %s\n", cut, len, (int)st, err.msg);
            failures++;
        }
        CHECK(strncmp(err.msg, "JPEG 2000", 9) == 0);
    }
    /* No EOC but everything else: openjpeg accepts this in 2.5.0. */
    st = decode(cs, len - 2, d, &err);
    CHECK(st == RD_OK || st == RD_ERR_DECODE);

    /* Psot 0 ("to EOC") on the only tile-part: fine while EOC ends the
     * data (also before a padding byte), a truncation without it is not. */
    {
        size_t sot = find_sot(cs, len, 0);
        static uint8_t b[MAX_CS];
        CHECK(sot > 0);
        memcpy(b, cs, len);
        put_be32(b + sot + 6, 0);
        CHECK(decode(b, len, d, &err) == RD_OK);
        b[len] = 0x00;
        CHECK(decode(b, len + 1, d, &err) == RD_OK);
        b[len] = 0xFF;
        CHECK(decode(b, len + 1, d, &err) == RD_OK);
        st = decode(b, len - 40, d, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "(Psot 0) but no EOC marker ends it");
        st = decode(b, len - 2, d, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "no EOC marker");
    }

    /* Four tiles: cut after the second tile-part (openjpeg alone would
     * return the image with two tiles of zeros); TNsot promising a second
     * tile-part that never comes. */
    {
        enc_opts o = { 0, 0, 16, 0, 0 };
        rd_frame_desc d4 = desc_of(32, 32, 1, 8, 0, RD_PI_MONOCHROME2);
        size_t sot2;
        static uint8_t b[MAX_CS];
        fill(32 * 32, 1, 8, 0);
        len = encode(planes_buf, 32, 32, 1, 8, 0, o, cs, sizeof(cs));
        CHECK(len > 0);
        CHECK(decode(cs, len, d4, &err) == RD_OK);
        sot2 = find_sot(cs, len, 2);
        CHECK(sot2 > 0);
        st = decode(cs, sot2, d4, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "tile 3 of 4 is missing from the codestream");
        memcpy(b, cs, sot2);
        b[sot2] = 0xFF; /* EOC right after tile 2 */
        b[sot2 + 1] = 0xD9;
        st = decode(b, sot2 + 2, d4, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "tile 3 of 4 is missing");
        memcpy(b, cs, len);
        b[find_sot(cs, len, 1) + 11] = 2; /* TNsot of tile 2 */
        st = decode(b, len, d4, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "tile 2 of 4 has 1 of its 2 tile-parts");
    }

    /* Components of different precision (8 and 12): unsupported. */
    {
        enc_opts o = { 0, 0, 0, 0, 12 };
        rd_frame_desc d3 = desc_of(10, 10, 3, 16, 0, RD_PI_RGB);
        fill(100, 3, 8, 0);
        len = encode(planes_buf, 10, 10, 3, 8, 0, o, cs, sizeof(cs));
        CHECK(len > 0);
        st = decode(cs, len, d3, &err);
        EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "component 1 has 12-bit unsigned samples");
    }
}

static void
test_jp2(void)
{
    rd_frame_desc d = desc_of(20, 24, 1, 16, 0, RD_PI_MONOCHROME2);
    size_t len = base_codestream(1, 1), pos;
    static uint8_t b[MAX_CS];
    rd_error err;
    rd_status st;

    CHECK(len > 0);
    CHECK(decode(cs, len, d, &err) == RD_OK);

    /* Find the jp2c box by hand to damage it. */
    for (pos = 12; pos + 8 <= len; ) {
        uint32_t box = (uint32_t)cs[pos] << 24 | cs[pos + 1] << 16 | cs[pos + 2] << 8 | cs[pos + 3];
        if (memcmp(cs + pos + 4, "jp2c", 4) == 0)
            break;
        pos += box;
    }
    CHECK(pos + 8 <= len);

    /* A box longer than the file. */
    memcpy(b, cs, len);
    put_be32(b + 12, 0x7FFFFFFF);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "JP2 box at offset 12 claims 2147483647 bytes");
    /* A box shorter than its header. */
    put_be32(b + 12, 4);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "claims 4 bytes");
    /* No jp2c: renamed. */
    memcpy(b, cs, len);
    memcpy(b + pos + 4, "jp2x", 4);
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "without a contiguous codestream");
    /* jp2c that does not start with SOC + SIZ. */
    memcpy(b, cs, len);
    b[pos + 8 + 1] = 0x00;
    st = decode(b, len, d, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "not SOC + SIZ");
    /* jp2c with LBox 0 (to the end of the file) and with an XLBox. */
    memcpy(b, cs, len);
    put_be32(b + pos, 0);
    CHECK(decode(b, len, d, &err) == RD_OK);
    memcpy(b, cs, pos);
    put_be32(b + pos, 1);
    memcpy(b + pos + 4, "jp2c", 4);
    put_be32(b + pos + 8, 0);
    put_be32(b + pos + 12, (uint32_t)(len - pos + 8));
    memcpy(b + pos + 16, cs + pos + 8, len - pos - 8);
    st = decode(b, len + 8, d, &err);
    /* openjpeg 2.5.0 reads XLBox itself; only the walk here is checked. */
    CHECK(st == RD_OK || st == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "JP2 box") == NULL);
}

int
main(void)
{
    unsigned c;

    test_round_trips();
    test_htj2k();
    test_bad_description();
    test_bad_siz();
    test_bad_data();
    test_jp2();
    for (c = 0; c < 4; c++)
        free(planes_buf[c]);
    if (failures) {
        fprintf(stderr, "test_j2k: %d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
