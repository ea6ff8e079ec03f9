/*
 * test_jpeg.c - checks of the JPEG baseline / extended 8-bit decoder
 * (src/core/jpeg.c): the output contract per Photometric Interpretation,
 * limits, and error paths.
 *
 * Build and run (libjpeg-turbo's libjpeg: pkg-config module "libjpeg"):
 *   cc -Isrc/core src/core/jpeg.c src/core/frame.c src/core/colour.c \
 *      tests/c/test_jpeg.c -ljpeg && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.
 *
 * Frames are made here with libjpeg's own compressor (jpeg_mem_dest), which
 * lets the test choose what no image library exposes: component ids, the
 * JFIF marker, raw YCbCr input, arithmetic coding, and a progressive scan
 * script of more than a thousand scans.  Pixel values against pydicom are
 * checked by tests/test_jpeg_kernel.py; here the checks are about shapes,
 * statuses, messages, and the relations between the output modes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "rapidicom.h"
#include "check.h"

#define EXPECT_ERROR(st, err, want, text)                                        \
    do {                                                                         \
        CHECK((st) == (want));                                                   \
        if ((st) != (want) || strstr((err)->msg, (text)) == NULL)                \
            fprintf(stderr, "%s:%d: status %d (want %d), message \"%s\" (want " \
                    "\"%s\")\n", __FILE__, __LINE__, (int)(st), (int)(want),     \
                    (err)->msg, (text));                                         \
        CHECK(strstr((err)->msg, (text)) != NULL);                               \
    } while (0)

#define CANARY 0xA5

/* ------------------------------------------------------------------------- */
/* Making frames                                                              */
/* ------------------------------------------------------------------------- */

typedef struct enc_params {
    J_COLOR_SPACE in_space;     /* JCS_GRAYSCALE, JCS_RGB, JCS_YCbCr */
    J_COLOR_SPACE jpeg_space;   /* coded space: GRAYSCALE, YCbCr or RGB */
    int quality;
    int progressive;
    int restart_rows;
    int arith;
    int jfif;                   /* write the JFIF APP0 marker */
    int ids_rgb;                /* component ids 'R','G','B' */
    int h_samp;                 /* luma sampling factors (1 or 2) */
    int v_samp;
    int many_scans;             /* > 0: bands of one coefficient, Al 5 -> 0 */
} enc_params;

static enc_params
params_default(int ncomp)
{
    enc_params p;
    memset(&p, 0, sizeof(p));
    p.in_space = ncomp == 1 ? JCS_GRAYSCALE : JCS_RGB;
    p.jpeg_space = ncomp == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
    p.quality = 90;
    p.jfif = 1;
    p.h_samp = p.v_samp = 1;
    return p;
}

static jpeg_scan_info scans[4096];

/* Progressive script with a band per AC coefficient, each first coded with
 * Al 5 and then refined five times: 1 + 6 * 63 scans per component. */
static int
many_scan_script(int ncomp)
{
    int n = 0, c, k, al;

    scans[n].comps_in_scan = ncomp;
    for (c = 0; c < ncomp; c++)
        scans[n].component_index[c] = c;
    scans[n].Ss = scans[n].Se = 0;
    scans[n].Ah = 0;
    scans[n].Al = 0;
    n++;
    for (c = 0; c < ncomp; c++) {
        for (k = 1; k < 64; k++) {
            for (al = 5; al >= 0; al--) {
                scans[n].comps_in_scan = 1;
                scans[n].component_index[0] = c;
                scans[n].Ss = scans[n].Se = k;
                scans[n].Ah = al == 5 ? 0 : al + 1;
                scans[n].Al = al;
                n++;
            }
        }
    }
    return n;
}

/* Encode w x h pixels of ncomp interleaved samples; returns a malloc'd
 * frame and its size (libjpeg's mem destination). */
static unsigned char *
encode(const uint8_t *pixels, unsigned w, unsigned h, int ncomp, const enc_params *p,
       unsigned long *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    JSAMPROW row;

    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, size);
    c.image_width = w;
    c.image_height = h;
    c.input_components = ncomp;
    c.in_color_space = p->in_space;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, p->jpeg_space);
    jpeg_set_quality(&c, p->quality, TRUE);
    c.write_JFIF_header = p->jfif ? TRUE : FALSE;
    c.write_Adobe_marker = FALSE;
    c.arith_code = p->arith ? TRUE : FALSE;
    c.restart_in_rows = p->restart_rows;
    if (ncomp == 3) {
        c.comp_info[0].h_samp_factor = p->h_samp;
        c.comp_info[0].v_samp_factor = p->v_samp;
        if (p->ids_rgb) {
            c.comp_info[0].component_id = 'R';
            c.comp_info[1].component_id = 'G';
            c.comp_info[2].component_id = 'B';
        }
    }
    if (p->progressive)
        jpeg_simple_progression(&c);
    if (p->many_scans) {
        c.num_scans = many_scan_script(ncomp);
        c.scan_info = scans;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * ncomp);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}

/* Smooth gradients plus a little noise. */
static void
fill_image(uint8_t *img, unsigned w, unsigned h, int ncomp, unsigned seed)
{
    unsigned x, y;
    int k;

    srand(seed);
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++)
            for (k = 0; k < ncomp; k++) {
                int v = (int)((x * 5 + y * 3 + 60 * (unsigned)k) % 256) + rand() % 9 - 4;
                img[((size_t)y * w + x) * ncomp + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

static rd_frame_desc
desc_of(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t pi)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = rows;
    d.columns = cols;
    d.samples_per_pixel = spp;
    d.bits_allocated = 8;
    d.bits_stored = 8;
    d.photometric = pi;
    return d;
}

static rd_codec_options
opts_of(uint32_t flags, uint64_t max_pixels)
{
    rd_codec_options o;
    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.flags = flags;
    o.max_pixels = max_pixels;
    return o;
}

#define MAXW 96
#define MAXH 80
static uint8_t img[MAXW * MAXH * 3];
static uint8_t out[MAXW * MAXH * 3 + 64];
static uint8_t out2[MAXW * MAXH * 3 + 64];

/* Decode into `buf` with a canary after the frame; checks the canary. */
static rd_status
decode(const unsigned char *src, unsigned long len, rd_frame_desc d, uint32_t flags,
       uint8_t *buf, rd_error *err)
{
    rd_codec_options o = opts_of(flags, 0);
    uint64_t size = rd_frame_size(&d);
    rd_status st;

    memset(err, 0, sizeof(*err));
    memset(buf + size, CANARY, 64);
    st = rd_jpeg_decode_frame(src, len, &d, &o, buf, size, err);
    {
        int k;
        for (k = 0; k < 64; k++)
            CHECK(buf[size + k] == CANARY);
    }
    return st;
}

static int
max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    int m = 0;
    for (i = 0; i < n; i++) {
        int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > m)
            m = d;
    }
    return m;
}

static double
mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    double sum = 0;
    for (i = 0; i < n; i++)
        sum += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return n ? sum / (double)n : 0.0;
}

/* ------------------------------------------------------------------------- */
/* Output contract                                                            */
/* ------------------------------------------------------------------------- */

static void
test_grey_round_trips(void)
{
    static const unsigned sizes[][2] = { { 1, 1 }, { 7, 13 }, { 33, 17 }, { 64, 64 },
                                         { 96, 80 }, { 1, 95 }, { 80, 1 } };
    size_t i;
    int prog;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (prog = 0; prog < 3; prog++) {
            unsigned w = sizes[i][0], h = sizes[i][1];
            enc_params p = params_default(1);
            unsigned long len;
            unsigned char *src;
            rd_error err;
            rd_status st;

            p.quality = 100;
            p.progressive = prog == 1;
            p.restart_rows = prog == 2 ? 1 : 0;
            fill_image(img, w, h, 1, (unsigned)i);
            src = encode(img, w, h, 1, &p, &len);
            st = decode(src, len, desc_of(h, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
            CHECK(st == RD_OK);
            if (st != RD_OK)
                fprintf(stderr, "grey %ux%u mode %d: %s\n", w, h, prog, err.msg);
            CHECK(max_abs_diff(out, img, (size_t)w * h) <= 3);
            /* MONOCHROME1: the same samples (no inversion by the decoder) */
            st = decode(src, len, desc_of(h, w, 1, RD_PI_MONOCHROME1), 0, out2, &err);
            CHECK(st == RD_OK && memcmp(out, out2, (size_t)w * h) == 0);
            free(src);
        }
    }
}

/*
 * JFIF + YCbCr coded: PI YBR_FULL* gives YCbCr (the caller converts);
 * PI RGB gives what pydicom gives, its own YBR_FULL -> RGB of those
 * samples; RD_CODEC_KEEP_YBR gives YCbCr whatever the PI.
 */
static void
test_colour_modes(void)
{
    const unsigned w = 37, h = 29;
    const size_t n = (size_t)w * h * 3;
    int sub;

    for (sub = 0; sub < 3; sub++) {
        enc_params p = params_default(3);
        unsigned long len;
        unsigned char *src;
        rd_error err;
        rd_status st;
        static uint8_t ybr[MAXW * MAXH * 3 + 64], conv[MAXW * MAXH * 3];

        p.quality = 95;
        p.h_samp = sub == 0 ? 1 : 2;
        p.v_samp = sub == 2 ? 2 : 1;
        fill_image(img, w, h, 3, 7u + (unsigned)sub);
        src = encode(img, w, h, 3, &p, &len);

        st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, ybr, &err);
        CHECK(st == RD_OK);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL), RD_CODEC_KEEP_YBR, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        /* YCbCr is not RGB: far from the input */
        CHECK(max_abs_diff(ybr, img, n) > 40);

        memcpy(conv, ybr, n);
        rd_ybr_full_to_rgb_u8(conv, (uint64_t)w * h);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, conv, n) == 0);
        /* near the input (the image has sharp colour edges, so subsampled
         * chroma costs more) */
        CHECK(mean_abs_diff(out, img, n) < (sub == 0 ? 4.0 : 10.0));
        st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), RD_CODEC_KEEP_YBR, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        /* NULL options: the defaults (convert) */
        memset(&err, 0, sizeof(err));
        {
            rd_frame_desc d = desc_of(h, w, 3, RD_PI_RGB);
            st = rd_jpeg_decode_frame(src, len, &d, NULL, out2, n, &err);
            CHECK(st == RD_OK && memcmp(out2, conv, n) == 0);
        }
        /* PALETTE-less odd labels follow pydicom too: MONOCHROME2 with 3
         * samples and JFIF is converted like RGB. */
        st = decode(src, len, desc_of(h, w, 3, RD_PI_MONOCHROME2), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, conv, n) == 0);
        /* ... but a PI naming another YBR space is left alone. */
        st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_PARTIAL_420), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        free(src);

        /* Without JFIF, PI RGB: no conversion (pydicom leaves it). */
        p.jfif = 0;
        src = encode(img, w, h, 3, &p, &len);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        free(src);

        /* JFIF and ids 'R','G','B': pydicom reads the ids only when the PI
         * is not RGB.  PI RGB: still converted (JFIF wins); PI MONOCHROME2
         * (or YBR_FULL, left to the caller): called RGB, not converted. */
        p.jfif = 1;
        p.ids_rgb = 1;
        src = encode(img, w, h, 3, &p, &len);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, conv, n) == 0);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_MONOCHROME2), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL), 0, out, &err);
        CHECK(st == RD_OK && memcmp(out, ybr, n) == 0);
        free(src);
    }
}

/* RGB coded as RGB (no colour transform in the encoder): returned as is. */
static void
test_rgb_coded(void)
{
    const unsigned w = 21, h = 19;
    enc_params p = params_default(3);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;

    p.jpeg_space = JCS_RGB;
    p.jfif = 0;
    p.quality = 100;
    fill_image(img, w, h, 3, 3);
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), 0, out, &err);
    CHECK(st == RD_OK);
    CHECK(max_abs_diff(out, img, (size_t)w * h * 3) <= 3);
    free(src);
}

static void
test_arithmetic_and_restart(void)
{
    const unsigned w = 45, h = 33;
    enc_params p = params_default(3);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;
    static uint8_t ref[MAXW * MAXH * 3 + 64];
    const size_t n = (size_t)w * h * 3;

    fill_image(img, w, h, 3, 11);
    p.h_samp = p.v_samp = 2;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, ref, &err);
    CHECK(st == RD_OK);
    free(src);

    /* Same image, same quantisation: restart markers and arithmetic coding
     * change the entropy coding only, so the samples are identical. */
    p.restart_rows = 1;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, ref, n) == 0);
    free(src);
    p.restart_rows = 0;
    p.arith = 1;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, ref, n) == 0);
    /* arithmetic data cut short: refused (the arithmetic decoder reports
     * nothing but the end of input) */
    st = decode(src, len * 2 / 3, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    free(src);
    p.arith = 0;
    p.progressive = 1;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL_422), 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, ref, n) == 0);
    free(src);
}

static void
test_bits_stored(void)
{
    const unsigned w = 16, h = 9;
    enc_params p = params_default(1);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;
    rd_frame_desc d = desc_of(h, w, 1, RD_PI_MONOCHROME2);
    size_t i, n = (size_t)w * h;

    fill_image(img, w, h, 1, 5);
    src = encode(img, w, h, 1, &p, &len);
    st = decode(src, len, d, 0, out2, &err);
    CHECK(st == RD_OK);
    /* unsigned 6 bits: high two bits cleared */
    d.bits_stored = 6;
    st = decode(src, len, d, 0, out, &err);
    CHECK(st == RD_OK);
    for (i = 0; i < n; i++)
        CHECK(out[i] == (out2[i] & 0x3F));
    /* signed 6 bits: sign-extended from bit 5 */
    d.pixel_representation = 1;
    st = decode(src, len, d, 0, out, &err);
    CHECK(st == RD_OK);
    for (i = 0; i < n; i++) {
        int v = out2[i] & 0x3F;
        if (v & 0x20)
            v -= 64;
        CHECK((int8_t)out[i] == v);
    }
    /* signed 8 bits: bytes unchanged */
    d.bits_stored = 8;
    st = decode(src, len, d, 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, out2, n) == 0);
    free(src);
}

/* ------------------------------------------------------------------------- */
/* Limits and errors                                                          */
/* ------------------------------------------------------------------------- */

static void
test_scan_limit(void)
{
    const unsigned w = 24, h = 16;
    enc_params p = params_default(1);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;
    static uint8_t ref[MAXW * MAXH * 3 + 64];

    /* One component: 1 + 378 scans, within the limit, same samples as the
     * standard progression. */
    fill_image(img, w, h, 3, 9);
    p.quality = 100;
    p.many_scans = 1;
    {
        uint8_t grey[24 * 16];
        size_t i;
        for (i = 0; i < (size_t)w * h; i++)
            grey[i] = img[3 * i];
        src = encode(grey, w, h, 1, &p, &len);
        st = decode(src, len, desc_of(h, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
        CHECK(st == RD_OK);
        CHECK(max_abs_diff(out, grey, (size_t)w * h) <= 3);
        free(src);
    }
    /* Three components: 1 + 1134 scans - over the limit of 1000. */
    p = params_default(3);
    p.many_scans = 1;
    p.quality = 100;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL), 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "more than 1000 scans");
    free(src);
    /* ... while the usual 10-scan progression of the same image decodes. */
    p.many_scans = 0;
    p.progressive = 1;
    src = encode(img, w, h, 3, &p, &len);
    st = decode(src, len, desc_of(h, w, 3, RD_PI_YBR_FULL), 0, ref, &err);
    CHECK(st == RD_OK);
    free(src);
}

static void
test_mismatches_and_limits(void)
{
    const unsigned w = 30, h = 20;
    enc_params p = params_default(1);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;
    rd_frame_desc d = desc_of(h, w, 1, RD_PI_MONOCHROME2);
    rd_codec_options o;

    fill_image(img, w, h, 1, 1);
    src = encode(img, w, h, 1, &p, &len);

    st = decode(src, len, desc_of(h + 1, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "is 20 x 30 (rows x columns), the dataset says 21 x 30");
    st = decode(src, len, desc_of(h, w - 1, 1, RD_PI_MONOCHROME2), 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "the dataset says 20 x 29");
    st = decode(src, len, desc_of(h, w, 3, RD_PI_RGB), 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "has 1 components, the dataset says 3 samples");

    /* max_pixels: 600 pixels */
    o = opts_of(0, 599);
    st = rd_jpeg_decode_frame(src, len, &d, &o, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "= 600 pixels exceeds the limit of 599");
    o = opts_of(0, 600);
    st = rd_jpeg_decode_frame(src, len, &d, &o, out, sizeof(out), &err);
    CHECK(st == RD_OK);
    /* an old, shorter options struct (size without max_pixels): defaults */
    o = opts_of(0, 1);
    o.size = offsetof(rd_codec_options, max_pixels);
    st = rd_jpeg_decode_frame(src, len, &d, &o, out, sizeof(out), &err);
    CHECK(st == RD_OK);
    /* default limit 2^31 against a 65535 x 65535 dataset */
    {
        rd_frame_desc big = desc_of(65535, 65535, 1, RD_PI_MONOCHROME2);
        st = rd_jpeg_decode_frame(src, len, &big, NULL, out, UINT64_MAX, &err);
        EXPECT_ERROR(st, &err, RD_ERR_LIMIT, "exceeds the limit of 2147483648");
        big = desc_of(65535, 30000, 1, RD_PI_MONOCHROME2);
        st = rd_jpeg_decode_frame(src, len, &big, NULL, out, UINT64_MAX, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "larger than any JPEG frame");
    }

    /* output buffer: one byte short, nothing written */
    memset(out, CANARY, 8);
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, 599, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "holds 599 bytes, the frame needs 600");
    CHECK(out[0] == CANARY);

    /* the description */
    d.bits_allocated = 16;
    d.bits_stored = 12;
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "12-bit extended JPEG: separate decoder");
    d.bits_stored = 8;
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "Bits Allocated 16");
    d = desc_of(h, w, 1, RD_PI_MONOCHROME2);
    d.bits_stored = 0;
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "Bits Stored is 0");
    d = desc_of(0, w, 1, RD_PI_MONOCHROME2);
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "no valid size");
    d = desc_of(h, w, 5, RD_PI_MONOCHROME2);
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "5 samples per pixel");

    /* NULL arguments; a NULL rd_error is allowed */
    d = desc_of(h, w, 1, RD_PI_MONOCHROME2);
    st = rd_jpeg_decode_frame(src, len, NULL, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "NULL frame description");
    st = rd_jpeg_decode_frame(src, len, &d, NULL, NULL, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "NULL output buffer");
    st = rd_jpeg_decode_frame(NULL, 10, &d, NULL, out, sizeof(out), &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "NULL input");
    st = rd_jpeg_decode_frame(src, len, &d, NULL, out, sizeof(out), NULL);
    CHECK(st == RD_OK);
    st = rd_jpeg_decode_frame(src, len / 2, &d, NULL, out, sizeof(out), NULL);
    CHECK(st == RD_ERR_DECODE);
    free(src);
}

/* Patch the first SOF's precision / height / width. */
static void
patch_sof(unsigned char *src, unsigned long len, int precision, int rows, int cols)
{
    unsigned long i;
    for (i = 2; i + 9 < len; i++) {
        if (src[i] == 0xFF && (src[i + 1] == 0xC0 || src[i + 1] == 0xC1 || src[i + 1] == 0xC2)) {
            if (precision >= 0)
                src[i + 4] = (unsigned char)precision;
            if (rows >= 0) {
                src[i + 5] = (unsigned char)(rows >> 8);
                src[i + 6] = (unsigned char)rows;
            }
            if (cols >= 0) {
                src[i + 7] = (unsigned char)(cols >> 8);
                src[i + 8] = (unsigned char)cols;
            }
            return;
        }
    }
}

static void
test_bad_streams(void)
{
    const unsigned w = 40, h = 48;
    enc_params p = params_default(1);
    unsigned long len;
    unsigned char *src;
    rd_error err;
    rd_status st;
    rd_frame_desc d = desc_of(h, w, 1, RD_PI_MONOCHROME2);
    static unsigned char buf[1 << 16];
    unsigned long i;

    fill_image(img, w, h, 1, 2);
    src = encode(img, w, h, 1, &p, &len);
    CHECK(len < sizeof(buf));
    st = decode(src, len, d, 0, out2, &err);
    CHECK(st == RD_OK);

    /* not a JPEG, empty, tiny */
    memset(buf, 0, 64);
    st = decode(buf, 64, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "does not start with an SOI marker");
    st = decode(buf, 0, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "SOI");
    st = decode(src, 2, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "SOI");
    /* cut in the headers */
    st = decode(src, 100, d, 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    /* cut in the entropy-coded data: a premature end, offset at the end */
    st = decode(src, len - 40, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "premature end");
    CHECK(err.offset == len - 40);
    /* only the EOI missing: accepted, same samples */
    st = decode(src, len - 2, d, 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, out2, (size_t)w * h) == 0);
    /* junk before EOI: a harmless warning */
    memcpy(buf, src, len - 2);
    memcpy(buf + len - 2, "\x01\x02\x03", 3);
    memcpy(buf + len + 1, src + len - 2, 2);
    st = decode(buf, len + 3, d, 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, out2, (size_t)w * h) == 0);
    /* trailing bytes after EOI: ignored */
    memcpy(buf, src, len);
    memset(buf + len, 0x5A, 100);
    st = decode(buf, len + 100, d, 0, out, &err);
    CHECK(st == RD_OK && memcmp(out, out2, (size_t)w * h) == 0);

    /* precision 12 in the SOF: unsupported, named */
    memcpy(buf, src, len);
    patch_sof(buf, len, 12, -1, -1);
    st = decode(buf, len, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "12-bit extended JPEG: separate decoder");
    /* a SOF claiming 65535 x 65535: mismatch, before any frame buffer */
    memcpy(buf, src, len);
    patch_sof(buf, len, -1, 65535, 65535);
    st = decode(buf, len, d, 0, out, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "65535 x 65535");
    /* height 0 (DNL): refused by libjpeg */
    memcpy(buf, src, len);
    patch_sof(buf, len, -1, 0, -1);
    st = decode(buf, len, d, 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    /* SOF3 (lossless): the lossless decoder's job */
    memcpy(buf, src, len);
    for (i = 2; i + 1 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
            buf[i + 1] = 0xC3;
            break;
        }
    st = decode(buf, len, d, 0, out, &err);
    CHECK(st == RD_ERR_UNSUPPORTED);
    /* entropy data overwritten with stuffed FF bytes (all one bits): longer
     * than any Huffman code */
    memcpy(buf, src, len);
    for (i = len - 200; i < len - 50; i += 2) {
        buf[i] = 0xFF;
        buf[i + 1] = 0x00;
    }
    st = decode(buf, len, d, 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    free(src);

    /* tables only (an abbreviated table-specification stream) */
    {
        struct jpeg_compress_struct c;
        struct jpeg_error_mgr e;
        unsigned char *tables = NULL;
        unsigned long tlen = 0;

        c.err = jpeg_std_error(&e);
        jpeg_create_compress(&c);
        jpeg_mem_dest(&c, &tables, &tlen);
        c.image_width = w;
        c.image_height = h;
        c.input_components = 1;
        c.in_color_space = JCS_GRAYSCALE;
        jpeg_set_defaults(&c);
        jpeg_write_tables(&c);
        jpeg_destroy_compress(&c);
        st = decode(tables, tlen, d, 0, out, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "contains no image");
        free(tables);
    }
}

/* Progressive frames cut between scans lose data with no warning but the
 * end of input: refused. */
static void
test_progressive_truncated(void)
{
    const unsigned w = 40, h = 48;
    enc_params p = params_default(1);
    unsigned long len, i, last_sos = 0;
    unsigned char *src;
    rd_error err;
    rd_status st;

    p.progressive = 1;
    fill_image(img, w, h, 1, 4);
    src = encode(img, w, h, 1, &p, &len);
    for (i = 2; i + 1 < len; i++)
        if (src[i] == 0xFF && src[i + 1] == 0xDA)
            last_sos = i;
    CHECK(last_sos > 0);
    st = decode(src, last_sos, desc_of(h, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    /* missing EOI of a multi-scan image: refused as well (indistinguishable
     * from missing scans) */
    st = decode(src, len - 2, desc_of(h, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
    CHECK(st == RD_ERR_DECODE);
    st = decode(src, len, desc_of(h, w, 1, RD_PI_MONOCHROME2), 0, out, &err);
    CHECK(st == RD_OK);
    free(src);
}

int
main(void)
{
    test_grey_round_trips();
    test_colour_modes();
    test_rgb_coded();
    test_arithmetic_and_restart();
    test_bits_stored();
    test_scan_limit();
    test_mismatches_and_limits();
    test_bad_streams();
    test_progressive_truncated();
    if (failures) {
        fprintf(stderr, "test_jpeg: %d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
