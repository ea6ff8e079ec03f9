/*
 * test_jls.c - checks of the JPEG-LS decoder (src/core/jls.c).
 *
 * Build and run (colour.c provides rd_ybr_full_to_rgb_u8):
 *   cc -Isrc/core src/core/jls.c src/core/frame.c src/core/colour.c \
 *      tests/c/test_jls.c $(pkg-config --cflags --libs charls) && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.
 *
 * Codestreams are made here with CharLS's own encoder (C API), so every
 * case is a valid ISO/IEC 14495-1 stream with known samples:
 *   - round trips over precision 2..16, 1 and 3 components, interleave
 *     modes none/line/sample, lossless and NEAR = 1..3, Pixel
 *     Representation 0 and 1, Bits Allocated 8 and 16 (one-byte samples
 *     widened), sizes 1x1 to 17x33; the output is checked sample by sample
 *     (lossless: equal, or sign-extended from the precision when signed;
 *     near-lossless: within NEAR), and 64 canary bytes after the frame must
 *     survive;
 *   - one case per error path (arguments, limits, desc/codestream
 *     mismatches, damaged streams), each with the status it must give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <charls/charls.h>

#include "rapidicom.h"
#include "check.h"

#define CANARY 0xA5
#define MAX_SAMPLES (17 * 33 * 3)

/* ------------------------------------------------------------------------- */
/* Encoding with CharLS                                                       */
/* ------------------------------------------------------------------------- */

/*
 * Encode `src` (CharLS layout: planes for interleave none with 3
 * components, else pixel-interleaved; 1 byte per sample for bits <= 8,
 * else 2, native order) into `out`; returns the length or 0.
 */
static size_t
encode(const void *src, size_t src_len, uint32_t w, uint32_t h, int32_t bits, int32_t comps,
       int ilv, int32_t near, uint8_t *out, size_t cap)
{
    charls_jpegls_encoder *enc = charls_jpegls_encoder_create();
    charls_frame_info fi;
    size_t written = 0;

    if (enc == NULL)
        return 0;
    fi.width = w;
    fi.height = h;
    fi.bits_per_sample = bits;
    fi.component_count = comps;
    if (charls_jpegls_encoder_set_frame_info(enc, &fi) != CHARLS_JPEGLS_ERRC_SUCCESS
        || charls_jpegls_encoder_set_interleave_mode(enc, (charls_interleave_mode)ilv)
               != CHARLS_JPEGLS_ERRC_SUCCESS
        || charls_jpegls_encoder_set_near_lossless(enc, near) != CHARLS_JPEGLS_ERRC_SUCCESS
        || charls_jpegls_encoder_set_destination_buffer(enc, out, cap) != CHARLS_JPEGLS_ERRC_SUCCESS
        || charls_jpegls_encoder_encode_from_buffer(enc, src, src_len, 0) != CHARLS_JPEGLS_ERRC_SUCCESS
        || charls_jpegls_encoder_get_bytes_written(enc, &written) != CHARLS_JPEGLS_ERRC_SUCCESS)
        written = 0;
    charls_jpegls_encoder_destroy(enc);
    return written;
}

static uint32_t rng_state = 12345u;

static uint32_t
rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static rd_frame_desc
make_desc(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t ba, uint32_t bs, uint32_t pr)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = rows;
    d.columns = cols;
    d.samples_per_pixel = spp;
    d.bits_allocated = ba;
    d.bits_stored = bs;
    d.pixel_representation = pr;
    d.photometric = spp == 3 ? RD_PI_RGB : RD_PI_MONOCHROME2;
    return d;
}

/* Sample i of our output (little endian, `ob` bytes) as a signed value
 * when `pr`, else unsigned. */
static long
out_sample(const uint8_t *out, size_t i, uint32_t ob, uint32_t pr)
{
    if (ob == 1)
        return pr ? (long)(int8_t)out[i] : (long)out[i];
    {
        uint16_t v = (uint16_t)(out[2 * i] | (out[2 * i + 1] << 8));
        return pr ? (long)(int16_t)v : (long)v;
    }
}

/* ------------------------------------------------------------------------- */
/* Round trips                                                                */
/* ------------------------------------------------------------------------- */

static void
round_trip(uint32_t rows, uint32_t cols, int32_t bits, uint32_t spp, int ilv, int32_t near,
           uint32_t pr, uint32_t ba)
{
    static uint16_t orig[MAX_SAMPLES];       /* [pixel][component] */
    static uint8_t raw[2 * MAX_SAMPLES];     /* CharLS input layout */
    static uint8_t code[4 * MAX_SAMPLES + 1024];
    static uint8_t out[2 * MAX_SAMPLES + 64];
    const size_t pixels = (size_t)rows * cols, n = pixels * spp;
    const uint32_t cb = bits <= 8 ? 1 : 2, ob = ba / 8;
    const uint32_t maxval = (1u << bits) - 1;
    rd_frame_desc desc = make_desc(rows, cols, spp, ba, (uint32_t)bits, pr);
    rd_error err;
    size_t len, p, i;
    uint32_t c;
    rd_status st;
    int bad = 0;

    /* A smooth ramp with a little noise, so that runs, regular mode and
     * the value range's ends all occur. */
    for (p = 0; p < pixels; p++)
        for (c = 0; c < spp; c++) {
            uint32_t v = (uint32_t)((p % cols) * 3 + (p / cols) * 5 + c * 7 + rnd() % 3);
            if (rnd() % 17 == 0)
                v = rnd() % 2 ? 0 : maxval;
            orig[p * spp + c] = (uint16_t)(v & maxval);
        }
    for (p = 0; p < pixels; p++)
        for (c = 0; c < spp; c++) {
            size_t at = (spp > 1 && ilv == 0) ? c * pixels + p : p * spp + c;
            uint16_t v = orig[p * spp + c];
            if (cb == 1)
                raw[at] = (uint8_t)v;
            else
                memcpy(raw + 2 * at, &v, 2);
        }
    len = encode(raw, n * cb, cols, rows, bits, (int32_t)spp, ilv, near, code, sizeof(code));
    CHECK(len > 0);
    if (len == 0)
        return;

    memset(out, CANARY, sizeof(out));
    st = rd_jls_decode_frame(code, len, &desc, NULL, out, n * ob, &err);
    if (st != RD_OK) {
        fprintf(stderr, "round trip %ux%u bits %d spp %u ilv %d near %d pr %u ba %u: %s\n",
                (unsigned)rows, (unsigned)cols, (int)bits, (unsigned)spp, ilv, (int)near,
                (unsigned)pr, (unsigned)ba, err.msg);
        failures++;
        return;
    }
    for (i = 0; i < n && !bad; i++) {
        long got = out_sample(out, i, ob, pr);
        long u = got & (long)maxval;                 /* the coded P-bit value */
        long want_signed = u >= (1L << (bits - 1)) ? u - (1L << bits) : u;
        long diff = u - (long)orig[i];
        if (diff < 0)
            diff = -diff;
        if (diff > near)
            bad = 1;
        if (pr ? got != want_signed : got != u)
            bad = 1;
        if (bad)
            fprintf(stderr, "round trip %ux%u bits %d spp %u ilv %d near %d pr %u ba %u: "
                    "sample %zu is %ld, coded %u\n",
                    (unsigned)rows, (unsigned)cols, (int)bits, (unsigned)spp, ilv, (int)near,
                    (unsigned)pr, (unsigned)ba, i, got, (unsigned)orig[i]);
    }
    if (bad)
        failures++;
    for (i = n * ob; i < n * ob + 64; i++)
        CHECK(out[i] == CANARY);
}

static void
test_round_trips(void)
{
    static const int32_t bit_list[] = {2, 3, 5, 7, 8, 9, 12, 15, 16};
    static const uint32_t sizes[][2] = {{1, 1}, {3, 5}, {17, 33}, {1, 31}, {29, 1}};
    size_t b, s;
    uint32_t spp, pr;
    int ilv;

    for (b = 0; b < sizeof(bit_list) / sizeof(bit_list[0]); b++) {
        int32_t bits = bit_list[b];
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            for (spp = 1; spp <= 3; spp += 2)
                for (ilv = 0; ilv <= (spp == 3 ? 2 : 0); ilv++)
                    for (pr = 0; pr <= 1; pr++) {
                        int32_t near = (int32_t)(b % 3) + 1;  /* 1..3, always < 2^bits / 2 */
                        round_trip(sizes[s][0], sizes[s][1], bits, spp, ilv, 0, pr,
                                   bits <= 8 ? 8 : 16);
                        round_trip(sizes[s][0], sizes[s][1], bits, spp, ilv, near, pr,
                                   bits <= 8 ? 8 : 16);
                        if (bits <= 8)      /* one-byte samples into Bits Allocated 16 */
                            round_trip(sizes[s][0], sizes[s][1], bits, spp, ilv, 0, pr, 16);
                    }
    }
}

/* ------------------------------------------------------------------------- */
/* Error paths                                                                */
/* ------------------------------------------------------------------------- */

static uint8_t base_code[4096];
static size_t base_len;

/* A valid 8-bit, 4 x 6 (rows x columns), one-component lossless stream. */
static void
make_base(void)
{
    uint8_t px[24];
    size_t i;
    for (i = 0; i < sizeof(px); i++)
        px[i] = (uint8_t)(i * 10);
    base_len = encode(px, sizeof(px), 6, 4, 8, 1, 0, 0, base_code, sizeof(base_code));
}

static rd_status
dec(const uint8_t *src, uint64_t len, const rd_frame_desc *desc, const rd_codec_options *opt,
    uint64_t cap, rd_error *err)
{
    static uint8_t out[1 << 16];
    memset(err, 0, sizeof(*err));
    return rd_jls_decode_frame(src, len, desc, opt, out, cap, err);
}

static void
test_errors(void)
{
    static uint8_t out[64];
    rd_frame_desc good = make_desc(4, 6, 1, 8, 8, 0), d;
    rd_codec_options opt;
    rd_error err;
    uint8_t bad[4096];
    size_t sof;

    CHECK(base_len > 0);
    CHECK(dec(base_code, base_len, &good, NULL, 24, &err) == RD_OK);

    /* NULL arguments; an empty codestream. */
    CHECK(rd_jls_decode_frame(base_code, base_len, NULL, NULL, out, 24, &err) == RD_ERR_INVALID);
    CHECK(rd_jls_decode_frame(base_code, base_len, &good, NULL, NULL, 24, &err) == RD_ERR_INVALID);
    CHECK(rd_jls_decode_frame(NULL, 5, &good, NULL, out, 24, &err) == RD_ERR_INVALID);
    CHECK(rd_jls_decode_frame(NULL, 0, &good, NULL, out, 24, &err) == RD_ERR_DECODE);
    CHECK(rd_jls_decode_frame(base_code, base_len, &good, NULL, out, 24, NULL) == RD_OK);

    /* Bits Allocated other than 8 / 16. */
    d = good;
    d.bits_allocated = 32;
    CHECK(dec(base_code, base_len, &d, NULL, 96, &err) == RD_ERR_UNSUPPORTED);
    d.bits_allocated = 1;
    CHECK(dec(base_code, base_len, &d, NULL, 24, &err) == RD_ERR_UNSUPPORTED);

    /* Output buffer one byte short. */
    CHECK(dec(base_code, base_len, &good, NULL, 23, &err) == RD_ERR_INVALID);
    CHECK(strstr(err.msg, "23") != NULL && strstr(err.msg, "24") != NULL);

    /* Limits: a desc of 65535 x 65535 is refused before anything else,
     * and options->max_pixels lowers the limit. */
    d = good;
    d.rows = d.columns = 65535;
    CHECK(dec(base_code, base_len, &d, NULL, 24, &err) == RD_ERR_LIMIT);
    memset(&opt, 0, sizeof(opt));
    opt.size = sizeof(opt);
    opt.max_pixels = 23;
    CHECK(dec(base_code, base_len, &good, &opt, 24, &err) == RD_ERR_LIMIT);
    opt.max_pixels = 24;
    CHECK(dec(base_code, base_len, &good, &opt, 24, &err) == RD_OK);
    opt.max_pixels = 0;                     /* 0: the default */
    CHECK(dec(base_code, base_len, &good, &opt, 24, &err) == RD_OK);
    opt.size = sizeof(size_t);              /* an older, shorter struct: defaults */
    opt.max_pixels = 1;
    CHECK(dec(base_code, base_len, &good, &opt, 24, &err) == RD_OK);

    /* The codestream disagrees with the desc. */
    d = good;
    d.columns = 5;
    CHECK(dec(base_code, base_len, &d, NULL, 24, &err) == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "6 x 4") != NULL && strstr(err.msg, "5 x 4") != NULL);
    d = good;
    d.rows = 5;
    CHECK(dec(base_code, base_len, &d, NULL, 30, &err) == RD_ERR_DECODE);
    d = good;
    d.samples_per_pixel = 3;
    CHECK(dec(base_code, base_len, &d, NULL, 72, &err) == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "1 components") != NULL);

    /* A header claiming 65535 x 65535 (SOF55: FF F7, length, P, Y, X). */
    memcpy(bad, base_code, base_len);
    for (sof = 0; sof + 1 < base_len; sof++)
        if (bad[sof] == 0xFF && bad[sof + 1] == 0xF7)
            break;
    CHECK(sof + 9 < base_len);
    bad[sof + 5] = bad[sof + 6] = bad[sof + 7] = bad[sof + 8] = 0xFF;
    CHECK(dec(bad, base_len, &good, NULL, 24, &err) == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "65535 x 65535") != NULL);

    /* 12-bit samples with Bits Allocated 8. */
    {
        uint16_t px[24];
        uint8_t code[1024];
        size_t i, len;
        for (i = 0; i < 24; i++)
            px[i] = (uint16_t)(i * 100);
        len = encode(px, sizeof(px), 6, 4, 12, 1, 0, 0, code, sizeof(code));
        CHECK(len > 0);
        CHECK(dec(code, len, &good, NULL, 24, &err) == RD_ERR_DECODE);
        CHECK(strstr(err.msg, "12-bit") != NULL);
        d = good;
        d.bits_allocated = 16;
        d.bits_stored = 12;
        CHECK(dec(code, len, &d, NULL, 48, &err) == RD_OK);
    }

    /* Damaged streams: no SOI, truncated anywhere, garbage. */
    memcpy(bad, base_code, base_len);
    bad[1] = 0x00;
    CHECK(dec(bad, base_len, &good, NULL, 24, &err) == RD_ERR_DECODE);
    CHECK(err.msg[0] != '\0');
    {
        size_t cut;
        for (cut = 1; cut < base_len; cut++) {
            rd_status st = dec(base_code, cut, &good, NULL, 24, &err);
            CHECK(st == RD_ERR_DECODE || st == RD_OK);
        }
        /* Without its EOI marker the stream is refused. */
        CHECK(dec(base_code, base_len - 2, &good, NULL, 24, &err) == RD_ERR_DECODE);
    }
    memset(bad, 0xFF, sizeof(bad));
    CHECK(dec(bad, sizeof(bad), &good, NULL, 24, &err) == RD_ERR_DECODE);
}

int
main(void)
{
    make_base();
    test_errors();
    test_round_trips();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
