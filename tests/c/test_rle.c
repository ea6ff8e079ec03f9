/*
 * test_rle.c - checks of the RLE Lossless decoder (src/core/rle.c) and of
 * rd_frame_size (src/core/frame.c).
 *
 * Build and run:
 *   cc -Isrc/core src/core/rle.c src/core/frame.c tests/c/test_rle.c && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.
 *
 * Every frame here is built by hand from PS3.5 Annex G: a 64-byte header
 * (segment count, then 15 little-endian offsets) and PackBits segments,
 * each commented with what its control bytes mean.  A small PackBits
 * encoder written for this test adds round trips over every output stride.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapidicom.h"
#include "check.h"

#define CANARY 0xA5
#define MAX_FRAME 65536

/* ------------------------------------------------------------------------- */
/* Building frames                                                            */
/* ------------------------------------------------------------------------- */

typedef struct seg {
    const uint8_t *bytes;
    size_t len;
} seg;

#define SEG(...) { (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }) }

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Header + segments laid end to end; returns the frame length. */
static size_t
build(uint8_t *out, const seg *segs, unsigned n)
{
    size_t pos = 64;
    unsigned k;

    memset(out, 0, 64);
    put_u32(out, n);
    for (k = 0; k < n; k++) {
        put_u32(out + 4 + 4 * k, (uint32_t)pos);
        memcpy(out + pos, segs[k].bytes, segs[k].len);
        pos += segs[k].len;
    }
    return pos;
}

static rd_frame_desc
desc_of(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t bits)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = rows;
    d.columns = cols;
    d.samples_per_pixel = spp;
    d.bits_allocated = bits;
    d.bits_stored = bits;
    d.photometric = spp == 3 ? RD_PI_RGB : RD_PI_MONOCHROME2;
    return d;
}

/* Decode into a canary-filled buffer; checks nothing past `want` bytes of
 * output was touched (and, on failure, nothing outside the frame). */
static rd_status
decode(const uint8_t *src, size_t len, rd_frame_desc d, uint8_t *dst, rd_error *err)
{
    uint64_t size = rd_frame_size(&d);
    rd_status st;
    size_t i;

    memset(dst, CANARY, MAX_FRAME + 16);
    memset(err, 0, sizeof(*err));
    st = rd_rle_decode_frame(src, len, &d, dst, MAX_FRAME, err);
    for (i = (size_t)(size < MAX_FRAME ? size : MAX_FRAME); i < MAX_FRAME + 16; i++)
        if (dst[i] != CANARY) {
            fprintf(stderr, "write past the frame at byte %zu\n", i);
            failures++;
            break;
        }
    return st;
}

static void
expect_bytes(const uint8_t *got, const uint8_t *want, size_t n, int line)
{
    if (memcmp(got, want, n) != 0) {
        size_t i;
        fprintf(stderr, "line %d: output differs:", line);
        for (i = 0; i < n; i++)
            fprintf(stderr, " %02x/%02x", got[i], want[i]);
        fprintf(stderr, " (got/want)\n");
        failures++;
    }
}

#define EXPECT_BYTES(got, ...)                                                  \
    expect_bytes(got, (const uint8_t[]){ __VA_ARGS__ },                         \
                 sizeof((const uint8_t[]){ __VA_ARGS__ }), __LINE__)

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

static uint8_t src[MAX_FRAME * 2 + 1024];
static uint8_t dst[MAX_FRAME + 16];

/* ------------------------------------------------------------------------- */
/* Valid frames                                                               */
/* ------------------------------------------------------------------------- */

static void
test_8bit_mono(void)
{
    /* 2 x 3 pixels, one segment. */
    seg s[] = { SEG(0x02, 10, 20, 30,   /* literal: 3 bytes */
                    0xFE, 7,            /* replicate: 7 three times (-2) */
                    0x00) };            /* pad to even length: ignored, segment full */
    rd_error err;
    size_t len = build(src, s, 1);
    rd_status st = decode(src, len, desc_of(2, 3, 1, 8), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 10, 20, 30, 7, 7, 7);
}

static void
test_runs_and_noop(void)
{
    /* 1 x 10: literal, -128 no-op, replicate of 2 (-1), no-op, literal 1,
     * a full 128-byte replicate clipped to what is left (4 bytes). */
    seg s[] = { SEG(0x01, 1, 2,        /* literal 2 */
                    0x80,              /* -128: no operation */
                    0xFF, 9,           /* replicate 9 twice */
                    0x80, 0x80,        /* two more no-ops */
                    0x00, 5,           /* literal 1 */
                    0x81, 4) };        /* replicate 4 x 128, only 5 needed */
    rd_error err;
    size_t len = build(src, s, 1);
    rd_status st = decode(src, len, desc_of(1, 10, 1, 8), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 1, 2, 9, 9, 5, 4, 4, 4, 4, 4);
}

static void
test_16bit(void)
{
    /* 1 x 3 pixels 0x1234, 0xABCD, 0x00FF: segment 1 = high bytes,
     * segment 2 = low bytes; output little endian. */
    seg s[] = { SEG(0x02, 0x12, 0xAB, 0x00, 0x00),   /* literal 3 + pad */
                SEG(0x02, 0x34, 0xCD, 0xFF) };       /* odd length, last segment */
    rd_error err;
    size_t len = build(src, s, 2);
    rd_status st = decode(src, len, desc_of(1, 3, 1, 16), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 0x34, 0x12, 0xCD, 0xAB, 0xFF, 0x00);
}

static void
test_32bit(void)
{
    /* 2 pixels 0x11223344 and 0xAABBCCDD: four segments, MSB first. */
    seg s[] = { SEG(0x01, 0x11, 0xAA), SEG(0x01, 0x22, 0xBB),
                SEG(0x01, 0x33, 0xCC), SEG(0x01, 0x44, 0xDD) };
    rd_error err;
    size_t len = build(src, s, 4);
    rd_status st = decode(src, len, desc_of(1, 2, 1, 32), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 0x44, 0x33, 0x22, 0x11, 0xDD, 0xCC, 0xBB, 0xAA);
}

static void
test_rgb8(void)
{
    /* 2 x 2 RGB: R, G, B planes as segments 1..3; output interleaved. */
    seg s[] = { SEG(0xFD, 200),                 /* R: 200 x 4 */
                SEG(0x03, 1, 2, 3, 4),          /* G: literal 4 */
                SEG(0xFF, 7, 0xFF, 8) };        /* B: 7, 7, 8, 8 */
    rd_error err;
    size_t len = build(src, s, 3);
    rd_status st = decode(src, len, desc_of(2, 2, 3, 8), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 200, 1, 7, 200, 2, 7, 200, 3, 8, 200, 4, 8);
}

static void
test_one_pixel(void)
{
    seg s[] = { SEG(0x00, 42) };
    rd_error err;
    size_t len = build(src, s, 1);
    rd_status st = decode(src, len, desc_of(1, 1, 1, 8), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 42);

    /* 1 x 1 RGB 16-bit: six one-pixel segments. */
    {
        seg s6[] = { SEG(0x00, 0x01), SEG(0x00, 0x02), SEG(0x00, 0x03),
                     SEG(0x00, 0x04), SEG(0x00, 0x05), SEG(0x00, 0x06) };
        len = build(src, s6, 6);
        st = decode(src, len, desc_of(1, 1, 3, 16), dst, &err);
        CHECK(st == RD_OK);
        EXPECT_BYTES(dst, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05);
    }
}

static void
test_many_segments(void)
{
    rd_error err;
    rd_status st;
    size_t len;
    unsigned k;

    /* 3 samples x 32 bits: 12 segments, the most real data uses.
     * Segment k holds value 0x10 * sample + (MSB-first byte index). */
    {
        seg s[12];
        uint8_t bytes[12][2];
        for (k = 0; k < 12; k++) {
            bytes[k][0] = 0xFF;                                   /* replicate x2 */
            bytes[k][1] = (uint8_t)(0x10 * (k / 4) + k % 4);
            s[k].bytes = bytes[k];
            s[k].len = 2;
        }
        len = build(src, s, 12);
        st = decode(src, len, desc_of(1, 2, 3, 32), dst, &err);
        CHECK(st == RD_OK);
        EXPECT_BYTES(dst, 0x03, 0x02, 0x01, 0x00, 0x13, 0x12, 0x11, 0x10,
                     0x23, 0x22, 0x21, 0x20,
                     0x03, 0x02, 0x01, 0x00, 0x13, 0x12, 0x11, 0x10,
                     0x23, 0x22, 0x21, 0x20);
    }
    /* 1 sample x 64 bits: 8 segments. */
    {
        seg s[8];
        uint8_t bytes[8][2];
        for (k = 0; k < 8; k++) {
            bytes[k][0] = 0x00;                                   /* literal 1 */
            bytes[k][1] = (uint8_t)(0x80 + k);
            s[k].bytes = bytes[k];
            s[k].len = 2;
        }
        len = build(src, s, 8);
        st = decode(src, len, desc_of(1, 1, 1, 64), dst, &err);
        CHECK(st == RD_OK);
        EXPECT_BYTES(dst, 0x87, 0x86, 0x85, 0x84, 0x83, 0x82, 0x81, 0x80);
    }
    /* 15 segments, every header slot used: 15 samples of 8 bits (not a
     * DICOM photometric interpretation, but a valid RLE header). */
    {
        seg s[15];
        uint8_t bytes[15][3];
        for (k = 0; k < 15; k++) {
            bytes[k][0] = 0x01;                                   /* literal 2 */
            bytes[k][1] = (uint8_t)k;
            bytes[k][2] = (uint8_t)(100 + k);
            s[k].bytes = bytes[k];
            s[k].len = 3;
        }
        len = build(src, s, 15);
        st = decode(src, len, desc_of(2, 1, 15, 8), dst, &err);
        CHECK(st == RD_OK);
        for (k = 0; k < 15; k++) {
            CHECK(dst[k] == k);
            CHECK(dst[15 + k] == 100 + k);
        }
    }
    /* 2 samples x 64 bits would need 16 segments: unsupported. */
    {
        st = decode(src, len, desc_of(1, 1, 2, 64), dst, &err);
        EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "16 segments");
    }
}

static void
test_overrun_tolerated(void)
{
    /* Output stops at rows*columns even when a run or the input goes on. */
    seg s[] = { SEG(0x05, 1, 2, 3, 4, 5, 6,     /* literal 6, only 3 needed */
                    0xF0, 9, 0x02, 1, 2, 3) };  /* further runs: ignored */
    rd_error err;
    size_t len = build(src, s, 1);
    rd_status st = decode(src, len, desc_of(1, 3, 1, 8), dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 1, 2, 3);

    /* The same with 20 more input bytes, so that a whole 16-byte block of
     * the literal is readable: the block copy must still stop at the frame
     * (decode() checks the bytes after it). */
    {
        seg t[] = { SEG(0x05, 1, 2, 3, 4, 5, 6,
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) };
        len = build(src, t, 1);
        st = decode(src, len, desc_of(1, 3, 1, 8), dst, &err);
        CHECK(st == RD_OK);
        EXPECT_BYTES(dst, 1, 2, 3);
        /* ... and a replicate run ending the frame, 16-bit (stride 2). */
        {
            seg u[] = { SEG(0x81, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                        SEG(0x81, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) };
            len = build(src, u, 2);
            st = decode(src, len, desc_of(1, 3, 1, 16), dst, &err);
            CHECK(st == RD_OK);
            EXPECT_BYTES(dst, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Round trips through a test encoder, every stride                           */
/* ------------------------------------------------------------------------- */

/* PackBits: replicate runs for 3+ equal bytes, literals otherwise.  With
 * `noise`, sprinkles -128 no-ops between runs. */
static size_t
packbits(const uint8_t *in, size_t n, uint8_t *out, int noise)
{
    size_t i = 0, o = 0;

    while (i < n) {
        size_t run = 1;
        while (i + run < n && run < 128 && in[i + run] == in[i])
            run++;
        if (noise && (i % 7) == 3)
            out[o++] = 0x80;
        if (run >= 3) {
            out[o++] = (uint8_t)(257 - run);
            out[o++] = in[i];
            i += run;
        } else {
            size_t lit = 0;
            while (i + lit < n && lit < 128) {
                if (i + lit + 2 < n && in[i + lit] == in[i + lit + 1]
                    && in[i + lit] == in[i + lit + 2])
                    break;
                lit++;
            }
            out[o++] = (uint8_t)(lit - 1);
            memcpy(out + o, in + i, lit);
            o += lit;
            i += lit;
        }
    }
    if (o % 2)
        out[o++] = 0; /* even-length padding, as the standard asks */
    return o;
}

static void
round_trip(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t bits, unsigned seed)
{
    rd_frame_desc d = desc_of(rows, cols, spp, bits);
    uint32_t bps = bits / 8, nseg = spp * bps, k;
    size_t pixels = (size_t)rows * cols, frame = pixels * spp * bps, pos = 64, i;
    static uint8_t want[MAX_FRAME], plane[MAX_FRAME];
    rd_error err;
    rd_status st;

    /* Data with runs and noise. */
    srand(seed);
    for (i = 0; i < frame; i++)
        want[i] = (rand() % 4 == 0) ? (uint8_t)rand() : (uint8_t)(i / 37);
    memset(src, 0, 64);
    put_u32(src, nseg);
    for (k = 0; k < nseg; k++) {
        uint32_t sample = k / bps, byte_le = bps - 1 - k % bps;
        for (i = 0; i < pixels; i++)
            plane[i] = want[i * spp * bps + sample * bps + byte_le];
        put_u32(src + 4 + 4 * k, (uint32_t)pos);
        pos += packbits(plane, pixels, src + pos, (int)(seed & 1));
    }
    st = decode(src, pos, d, dst, &err);
    if (st != RD_OK || memcmp(dst, want, frame) != 0) {
        fprintf(stderr, "round trip %ux%u spp %u bits %u: status %d %s\n",
                (unsigned)rows, (unsigned)cols, (unsigned)spp, (unsigned)bits,
                (int)st, err.msg);
        failures++;
    }
}

static void
test_round_trips(void)
{
    static const uint32_t cases[][4] = {
        { 37, 23, 1, 8 },  { 64, 64, 1, 8 },  { 17, 31, 1, 16 }, { 19, 13, 3, 8 },
        { 11, 29, 2, 8 },  { 12, 12, 4, 8 },  { 13, 7, 3, 16 },  { 9, 9, 1, 32 },
        { 5, 7, 3, 32 },   { 6, 5, 1, 64 },   { 3, 4, 1, 24 },   { 1, 300, 1, 8 },
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        round_trip(cases[i][0], cases[i][1], cases[i][2], cases[i][3], (unsigned)i + 1);
}

/* ------------------------------------------------------------------------- */
/* Bad input: one hand-built frame per error path                              */
/* ------------------------------------------------------------------------- */

static void
test_short_segment(void)
{
    /* 16-bit, 1 x 4: segment 2 decodes to 1 byte only. */
    seg s[] = { SEG(0xFD, 0x01),           /* 4 high bytes */
                SEG(0x00, 0x02) };         /* 1 low byte: 3 missing */
    rd_error err;
    size_t len = build(src, s, 2);
    rd_status st = decode(src, len, desc_of(1, 4, 1, 16), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "segment 2 of 2");
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "3 bytes missing");
    CHECK(err.offset == len);
    CHECK(err.tag == RD_NO_TAG);
}

static void
test_truncated_runs(void)
{
    rd_error err;
    rd_status st;
    size_t len;

    /* A literal run of 4 with only 2 bytes left in the segment. */
    {
        seg s[] = { SEG(0x03, 1, 2) };
        len = build(src, s, 1);
        st = decode(src, len, desc_of(1, 4, 1, 8), dst, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "2 bytes missing");
    }
    /* A replicate run whose value byte is missing. */
    {
        seg s[] = { SEG(0x00, 1, 0xFE) };
        len = build(src, s, 1);
        st = decode(src, len, desc_of(1, 4, 1, 8), dst, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "3 bytes missing");
    }
    /* Only no-ops. */
    {
        seg s[] = { SEG(0x80, 0x80) };
        len = build(src, s, 1);
        st = decode(src, len, desc_of(1, 1, 1, 8), dst, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "segment 1 of 1");
    }
    /* The first segment is fine, the next one (of another sample) short. */
    {
        seg s[] = { SEG(0xFF, 1), SEG(0xFF, 2), SEG(0x00, 3) };
        len = build(src, s, 3);
        st = decode(src, len, desc_of(1, 2, 3, 8), dst, &err);
        EXPECT_ERROR(st, &err, RD_ERR_DECODE, "segment 3 of 3 (sample 2");
    }
}

static void
test_bad_header(void)
{
    seg s[] = { SEG(0x01, 1, 2), SEG(0x01, 3, 4) };
    rd_frame_desc d16 = desc_of(1, 2, 1, 16);
    rd_error err;
    rd_status st;
    size_t len;

    /* Header shorter than 64 bytes. */
    len = build(src, s, 2);
    st = decode(src, 63, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "header truncated");
    st = decode(src, 0, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "header truncated");

    /* Segment count: 1 for 16-bit data (needs 2), 0, and 16. */
    len = build(src, s, 2);
    put_u32(src, 1);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "gives 1 segments, expected 2");
    put_u32(src, 0);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "gives 0 segments");
    put_u32(src, 16);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "gives 16 segments");

    /* First offset not 64. */
    len = build(src, s, 2);
    put_u32(src + 4, 66);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "segment 1 starts at offset 66, must be 64");
    CHECK(err.offset == 4);

    /* Second offset before the first, and equal to it (empty segment). */
    len = build(src, s, 2);
    put_u32(src + 8, 10);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "segment 2 starts at offset 10, not after");
    CHECK(err.offset == 8);
    put_u32(src + 8, 64);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "not after segment 1");

    /* Second offset at and past the end of the frame, and huge. */
    len = build(src, s, 2);
    put_u32(src + 8, (uint32_t)len);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "past the end");
    put_u32(src + 8, 0xFFFFFFFFu);
    st = decode(src, len, d16, dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_DECODE, "past the end");

    /* Unused offsets after the count are ignored (they should be 0). */
    len = build(src, s, 2);
    put_u32(src + 12, 12345);
    st = decode(src, len, d16, dst, &err);
    CHECK(st == RD_OK);
    EXPECT_BYTES(dst, 3, 1, 4, 2);
}

static void
test_bad_description(void)
{
    seg s[] = { SEG(0x01, 1, 2) };
    rd_frame_desc d = desc_of(1, 2, 1, 8);
    rd_error err;
    rd_status st;
    size_t len = build(src, s, 1);

    /* Output buffer one byte too small: nothing is written. */
    memset(dst, CANARY, 4);
    memset(&err, 0, sizeof(err));
    st = rd_rle_decode_frame(src, len, &d, dst, 1, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "holds 1 bytes, the frame needs 2");
    CHECK(dst[0] == CANARY && dst[1] == CANARY);
    st = rd_rle_decode_frame(src, len, &d, dst, 2, &err);
    CHECK(st == RD_OK);

    st = decode(src, len, desc_of(1, 2, 1, 1), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_UNSUPPORTED, "1-bit");
    st = decode(src, len, desc_of(1, 2, 1, 12), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "not a multiple of 8");
    st = decode(src, len, desc_of(0, 2, 1, 8), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "no valid size");
    st = decode(src, len, desc_of(1, 2, 0, 8), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "no valid size");
    st = decode(src, len, desc_of(0xFFFFFFFFu, 0xFFFFFFFFu, 3, 64), dst, &err);
    EXPECT_ERROR(st, &err, RD_ERR_INVALID, "no valid size");

    st = rd_rle_decode_frame(src, len, NULL, dst, 16, &err);
    CHECK(st == RD_ERR_INVALID);
    st = rd_rle_decode_frame(src, len, &d, NULL, 16, &err);
    CHECK(st == RD_ERR_INVALID);
    st = rd_rle_decode_frame(NULL, 10, &d, dst, 16, &err);
    CHECK(st == RD_ERR_INVALID);
    /* A NULL rd_error is allowed. */
    st = rd_rle_decode_frame(src, 10, &d, dst, 16, NULL);
    CHECK(st == RD_ERR_DECODE);
}

static void
test_frame_size(void)
{
    rd_frame_desc d = desc_of(512, 256, 3, 16);
    CHECK(rd_frame_size(&d) == 512u * 256u * 3u * 2u);
    d = desc_of(10, 10, 1, 1);          /* 1-bit: one byte per pixel */
    CHECK(rd_frame_size(&d) == 100);
    d = desc_of(1, 1, 1, 64);
    CHECK(rd_frame_size(&d) == 8);
    d = desc_of(0xFFFFFFFFu, 0xFFFFFFFFu, 1, 8);
    CHECK(rd_frame_size(&d) == UINT64_C(0xFFFFFFFE00000001));
    d = desc_of(0xFFFFFFFFu, 0xFFFFFFFFu, 2, 8);   /* 2^65 - ...: overflow */
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(0xFFFFFFFFu, 0xFFFFFFFFu, 1, 16);
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(0x80000000u, 0x80000000u, 3, 8);  /* 3 * 2^62 fits */
    CHECK(rd_frame_size(&d) == UINT64_C(3) << 62);
    d = desc_of(0x80000000u, 0x80000000u, 4, 8);  /* exactly 2^64: overflow */
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(0x80000000u, 0x80000000u, 3, 16); /* 3 * 2^63: overflow */
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(4, 4, 1, 12);
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(4, 4, 1, 0);
    CHECK(rd_frame_size(&d) == 0);
    d = desc_of(0, 4, 1, 8);
    CHECK(rd_frame_size(&d) == 0);
    CHECK(rd_frame_size(NULL) == 0);
}

int
main(void)
{
    test_8bit_mono();
    test_runs_and_noop();
    test_16bit();
    test_32bit();
    test_rgb8();
    test_one_pixel();
    test_many_segments();
    test_overrun_tolerated();
    test_round_trips();
    test_short_segment();
    test_truncated_runs();
    test_bad_header();
    test_bad_description();
    test_frame_size();
    if (failures) {
        fprintf(stderr, "test_rle: %d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
