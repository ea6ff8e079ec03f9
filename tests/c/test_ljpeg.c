/*
 * test_ljpeg.c - checks of the JPEG lossless decoder (src/core/ljpeg.c).
 *
 * Build and run:
 *   cc -Isrc/core src/core/ljpeg.c src/core/frame.c src/core/colour.c \
 *      tests/c/test_ljpeg.c && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.
 *
 * Streams are built here from ITU-T T.81: marker segments written out byte
 * by byte, and entropy-coded data produced by a small bit writer from a
 * list of DIFFERENCES chosen by the test (not from pixels), so a test can
 * ask for exactly the difference values it is about - a wrap past 2^16, the
 * SSSS = 16 code, runs of 1-bits that force FF00 stuffing.  The Huffman
 * table is T.81 Table K.3 (luminance DC, SSSS 0..11) extended by one code
 * length per category up to SSSS 16 (lengths 10..14), so codes longer than
 * the decoder's 11-bit lookup are exercised too.  Expected pixels are
 * computed by ref_decode(), a plain transcription of Annex H.1.2.  test_pairs
 * drives the decoder's two-differences-per-lookup path for one-component
 * lines and its switches to and from the one-at-a-time loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapidicom.h"
#include "check.h"

#define CANARY 0xA5
#define SOF_AT 40          /* SOF3 offset in build()'s streams: SOI 2 + DHT 38 */
#define MAX_OUT 65536
#define MAX_STREAM 65536

/* ------------------------------------------------------------------------- */
/* The Huffman table: K.3 extended to SSSS 16                                 */
/* ------------------------------------------------------------------------- */

/* BITS: number of codes of each length 1..16 (length 2: SSSS 0; length 3:
 * SSSS 1-5; then one per length: 6 at 4 bits ... 16 at 14 bits). */
static const uint8_t K3_BITS[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
static const uint8_t K3_VALS[17] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static uint32_t code_of[17], len_of[17];

/* Canonical codes (T.81 Annex C) for K3_BITS/K3_VALS. */
static void
make_codes(void)
{
    uint32_t code = 0, k = 0, l, i;
    for (l = 1; l <= 16; l++) {
        for (i = 0; i < K3_BITS[l - 1]; i++, k++, code++) {
            code_of[K3_VALS[k]] = code;
            len_of[K3_VALS[k]] = l;
        }
        code <<= 1;
    }
}

/* ------------------------------------------------------------------------- */
/* Writing streams                                                            */
/* ------------------------------------------------------------------------- */

typedef struct stream {
    uint8_t b[MAX_STREAM];
    size_t n;
    uint32_t acc;      /* pending bits, right-aligned */
    uint32_t nacc;
} stream;

static void
put(stream *s, const void *bytes, size_t n)
{
    memcpy(s->b + s->n, bytes, n);
    s->n += n;
}

#define PUT(s, ...) put((s), (const uint8_t[]){ __VA_ARGS__ }, \
                        sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* Entropy-coded bits, most significant first; a written 0xFF is followed
 * by a stuffed 0x00 (F.1.2.3). */
static void
put_bits(stream *s, uint32_t v, uint32_t nbits)
{
    while (nbits > 0) {
        uint32_t take = nbits > 8 ? 8 : nbits;
        nbits -= take;
        s->acc = (s->acc << take) | ((v >> nbits) & ((1u << take) - 1));
        s->nacc += take;
        if (s->nacc >= 8) {
            uint8_t byte = (uint8_t)(s->acc >> (s->nacc - 8));
            s->nacc -= 8;
            s->b[s->n++] = byte;
            if (byte == 0xFF)
                s->b[s->n++] = 0x00;
        }
    }
}

/* Pad the last byte with 1-bits (F.1.2.3). */
static void
flush_bits(stream *s)
{
    if (s->nacc > 0)
        put_bits(s, (1u << (8 - s->nacc)) - 1, 8 - s->nacc);
    s->acc = 0;
}

/* One difference: SSSS code, then SSSS low bits of diff (diff - 1 when
 * negative); SSSS 16 (difference 32768) has no extra bits (H.1.2.2). */
static void
put_diff(stream *s, int32_t diff)
{
    uint32_t mag = (uint32_t)(diff < 0 ? -diff : diff), ssss = 0;
    while (mag >> ssss)
        ssss++;
    put_bits(s, code_of[ssss], len_of[ssss]);
    if (ssss > 0 && ssss < 16)
        put_bits(s, (uint32_t)(diff < 0 ? diff - 1 : diff) & ((1u << ssss) - 1), ssss);
}

static void
put_dht(stream *s, uint32_t table_id)
{
    PUT(s, 0xFF, 0xC4, 0x00, 2 + 1 + 16 + 17, (uint8_t)table_id);
    put(s, K3_BITS, 16);
    put(s, K3_VALS, 17);
}

typedef struct params {
    uint32_t precision, rows, cols, nf, psv, pt, restart;
} params;

static void
put_sof3(stream *s, const params *p)
{
    uint32_t c;
    PUT(s, 0xFF, 0xC3, 0x00, (uint8_t)(8 + 3 * p->nf), (uint8_t)p->precision,
        (uint8_t)(p->rows >> 8), (uint8_t)p->rows, (uint8_t)(p->cols >> 8), (uint8_t)p->cols,
        (uint8_t)p->nf);
    for (c = 0; c < p->nf; c++)
        PUT(s, (uint8_t)(c + 1), 0x11, 0x00);   /* id, H=V=1, Tq */
}

/* SOS for all components, then the differences (in MCU order) with an
 * RSTn after every `restart` MCUs. */
static void
put_scan(stream *s, const params *p, const int32_t *diffs)
{
    uint32_t c, mcus = p->rows * p->cols, m, k = 0;
    PUT(s, 0xFF, 0xDA, 0x00, (uint8_t)(6 + 2 * p->nf), (uint8_t)p->nf);
    for (c = 0; c < p->nf; c++)
        PUT(s, (uint8_t)(c + 1), 0x00);          /* id, Td=0 Ta=0 */
    PUT(s, (uint8_t)p->psv, 0x00, (uint8_t)p->pt);
    for (m = 0; m < mcus; m++) {
        if (p->restart && m > 0 && m % p->restart == 0) {
            flush_bits(s);
            PUT(s, 0xFF, (uint8_t)(0xD0 + (k++ & 7)));
        }
        for (c = 0; c < p->nf; c++)
            put_diff(s, diffs[m * p->nf + c]);
    }
    flush_bits(s);
}

/* SOI, DHT, SOF3, [DRI], SOS + data, EOI. */
static void
build(stream *s, const params *p, const int32_t *diffs)
{
    memset(s, 0, sizeof(*s));
    PUT(s, 0xFF, 0xD8);
    put_dht(s, 0);
    put_sof3(s, p);
    if (p->restart)
        PUT(s, 0xFF, 0xDD, 0x00, 0x04, (uint8_t)(p->restart >> 8), (uint8_t)p->restart);
    put_scan(s, p, diffs);
    PUT(s, 0xFF, 0xD9);
}

/* ------------------------------------------------------------------------- */
/* Reference reconstruction (H.1.2.1, modulo 2^16)                            */
/* ------------------------------------------------------------------------- */

static int32_t
floor_half(int32_t v)
{
    return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

/* Samples (rows*cols*nf, before the point transform is undone). */
static void
ref_decode(const params *p, const int32_t *diffs, uint32_t *out)
{
    uint32_t r, x, c, n = p->nf, w = p->cols;
    for (r = 0; r < p->rows; r++)
        for (x = 0; x < w; x++)
            for (c = 0; c < n; c++) {
                uint32_t m = r * w + x, i = m * n + c;
                int restart_line = p->restart && (m / w) % (p->restart / w) == 0;
                int32_t ra = x ? (int32_t)out[i - n] : 0;
                int32_t rb = r ? (int32_t)out[i - w * n] : 0;
                int32_t rc = (x && r) ? (int32_t)out[i - w * n - n] : 0;
                int32_t px;
                if ((r == 0 || restart_line) && x == 0)
                    px = 1 << (p->precision - p->pt - 1);
                else if (r == 0 || restart_line)
                    px = ra;
                else if (x == 0)
                    px = rb;
                else if (p->psv == 1) px = ra;
                else if (p->psv == 2) px = rb;
                else if (p->psv == 3) px = rc;
                else if (p->psv == 4) px = ra + rb - rc;
                else if (p->psv == 5) px = ra + floor_half(rb - rc);
                else if (p->psv == 6) px = rb + floor_half(ra - rc);
                else px = (ra + rb) / 2;
                out[i] = (uint32_t)(px + diffs[i]) & 0xFFFFu;
            }
}

/* ------------------------------------------------------------------------- */
/* Decoding                                                                   */
/* ------------------------------------------------------------------------- */

static rd_frame_desc
desc_of(uint32_t rows, uint32_t cols, uint32_t spp, uint32_t bits, uint32_t stored,
        uint32_t signed_)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = rows;
    d.columns = cols;
    d.samples_per_pixel = spp;
    d.bits_allocated = bits;
    d.bits_stored = stored;
    d.pixel_representation = signed_;
    d.photometric = spp == 3 ? RD_PI_RGB : RD_PI_MONOCHROME2;
    return d;
}

static uint8_t out_buf[MAX_OUT + 64];
static rd_error err;

/* Decode into out_buf (canary after the frame); check nothing was written
 * past the frame. */
static rd_status
decode(const uint8_t *src, size_t len, const rd_frame_desc *d)
{
    uint64_t size = rd_frame_size(d);
    rd_status st;
    memset(out_buf, CANARY, sizeof(out_buf));
    memset(&err, 0, sizeof(err));
    st = rd_jpeg_lossless_decode_frame(src, len, d, NULL, out_buf, size, &err);
    if (size <= MAX_OUT) {
        size_t i;
        for (i = size; i < size + 64; i++)
            CHECK(out_buf[i] == CANARY);
    }
    if (st != RD_OK)
        CHECK(err.msg[0] != '\0');
    return st;
}

static uint32_t
sample(const rd_frame_desc *d, size_t i)
{
    return d->bits_allocated == 16 ? (uint32_t)(out_buf[2 * i] | out_buf[2 * i + 1] << 8)
                                   : out_buf[i];
}

/* Build from diffs, decode, compare with ref_decode (<< pt, cut to bits). */
static void
round_trip(const params *p, const int32_t *diffs, uint32_t bits_allocated)
{
    static stream s;
    static uint32_t want[MAX_OUT];
    rd_frame_desc d = desc_of(p->rows, p->cols, p->nf, bits_allocated,
                              bits_allocated < p->precision ? bits_allocated : p->precision, 0);
    size_t i, n = (size_t)p->rows * p->cols * p->nf;
    rd_status st;

    d.bits_stored = bits_allocated;       /* keep every bit the decoder produces */
    build(&s, p, diffs);
    ref_decode(p, diffs, want);
    st = decode(s.b, s.n, &d);
    CHECK(st == RD_OK);
    if (st != RD_OK) {
        fprintf(stderr, "  P=%u psv=%u pt=%u nf=%u restart=%u: %s\n", p->precision, p->psv,
                p->pt, p->nf, p->restart, err.msg);
        return;
    }
    for (i = 0; i < n; i++) {
        uint32_t w = (want[i] << p->pt) & (bits_allocated == 16 ? 0xFFFFu : 0xFFu);
        if (sample(&d, i) != w) {
            fprintf(stderr, "  P=%u psv=%u pt=%u nf=%u restart=%u: sample %zu is %u, want %u\n",
                    p->precision, p->psv, p->pt, p->nf, p->restart, i, sample(&d, i), w);
            failures++;
            return;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Tests                                                                      */
/* ------------------------------------------------------------------------- */

/*
 * H.1.2.1: "the difference is decoded and added, modulo 2^16, to the
 * prediction".  A decoder that clamps to 0..2^P-1 gets these wrong.
 */
static void
test_modulo_wrap(void)
{
    static stream s;
    /* P = 16, 1 x 3.  Sample 0: 32768 + 32768 (SSSS 16) = 65536 -> 0 (clamp:
     * 65535).  Sample 1: Ra 0 - 1 -> 65535 (clamp: 0).  Sample 2: Ra 65535
     * + 2 -> 1 (clamp: 65535). */
    params p16 = {16, 1, 3, 1, 1, 0, 0};
    const int32_t d16[] = {32768, -1, 2};
    /* P = 8, 1 x 4, differences taken modulo 2^8 by the encoder, as some
     * ultrasound writers do: 128 + 122 = 250; 250 + 11 = 261 -> low byte 5
     * (the pixel 5 that was encoded; a clamping decoder gives 255);
     * 261 - 9 = 252; 252 + 7 = 259 -> 3. */
    params p8 = {8, 1, 4, 1, 1, 0, 0};
    const int32_t d8[] = {122, 11, -9, 7};
    rd_frame_desc d;

    make_codes();
    build(&s, &p16, d16);
    d = desc_of(1, 3, 1, 16, 16, 0);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 0) == 0);
    CHECK(sample(&d, 1) == 65535);
    CHECK(sample(&d, 2) == 1);

    build(&s, &p8, d8);
    d = desc_of(1, 4, 1, 8, 8, 0);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(out_buf[0] == 250);
    CHECK(out_buf[1] == 5);
    CHECK(out_buf[2] == 252);
    CHECK(out_buf[3] == 3);

    /* The same P = 8 stream into 16-bit samples with Bits Stored 8: the
     * reconstructed 261 is cut to its 8 stored bits, as pydicom does. */
    d = desc_of(1, 4, 1, 16, 8, 0);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 1) == 5);
}

/* Every predictor, precision, point transform, component count and
 * restart interval against the reference reconstruction, with differences
 * covering every SSSS (0..16) and the fast / partial / slow decode paths. */
static void
test_round_trips(void)
{
    static int32_t diffs[MAX_OUT];
    static const uint32_t precisions[] = {2, 5, 8, 12, 16};
    uint32_t pi, psv, pt, nf, ri, i;
    uint32_t seed = 12345;

    for (pi = 0; pi < 5; pi++)
        for (psv = 1; psv <= 7; psv++)
            for (pt = 0; pt <= 1; pt++)
                for (nf = 1; nf <= 4; nf++)
                    for (ri = 0; ri <= 2; ri++) {
                        params p = {precisions[pi], 9, 11, nf, psv, pt, ri * 11};
                        uint32_t n = p.rows * p.cols * nf;
                        if (pt >= p.precision - 1)
                            continue;
                        for (i = 0; i < n; i++) {
                            /* SSSS from 0 to 16 (the magnitudes are in range for
                             * any precision: reconstruction is modulo 2^16) */
                            uint32_t ssss;
                            seed = seed * 1103515245u + 12345u;
                            ssss = (seed >> 16) % 17;
                            if (ssss == 0)
                                diffs[i] = 0;
                            else if (ssss == 16)
                                diffs[i] = 32768;
                            else {
                                int32_t mag = (int32_t)((1u << (ssss - 1))
                                                        + ((seed >> 3) & ((1u << (ssss - 1)) - 1)));
                                diffs[i] = (seed & 0x100) ? -mag : mag;
                            }
                        }
                        round_trip(&p, diffs, 16);
                        if (p.precision <= 8)
                            round_trip(&p, diffs, 8);
                    }
}

/*
 * One-component lines are decoded two differences per lookup where both
 * fit in the pair table, with a switch to the one-at-a-time loop for 32
 * lines after a line with few pairs.  Blocks of lines with small
 * differences (pairs), large ones (no pairs), and both mixed, at odd and
 * even widths (the last sample of a line is decoded alone), make every
 * predictor take both loops and both switches.
 */
static void
test_pairs(void)
{
    static int32_t diffs[120 * 9];
    uint32_t psv, cols, r, x, seed = 777;

    for (psv = 1; psv <= 7; psv++)
        for (cols = 2; cols <= 9; cols += 7) {     /* 2 (one pair per line) and 9 */
            params p = {16, 120, cols, 1, psv, 0, 0};
            for (r = 0; r < p.rows; r++)
                for (x = 0; x < cols; x++) {
                    uint32_t block = (r / 10) % 3;   /* small, large, mixed */
                    int32_t v;
                    seed = seed * 1103515245u + 12345u;
                    if (block == 0 || (block == 2 && (seed >> 20) & 1))
                        v = (int32_t)((seed >> 8) % 7) - 3;               /* SSSS <= 2 */
                    else
                        v = (int32_t)((seed >> 8) % 60001) - 30000;       /* SSSS ~15 */
                    diffs[r * cols + x] = v;
                }
            round_trip(&p, diffs, 16);
            p.restart = cols * 7;                  /* first lines inside the blocks */
            round_trip(&p, diffs, 16);
        }
}

/* A 1x1 frame, a single line, a single column. */
static void
test_small_shapes(void)
{
    params one = {12, 1, 1, 1, 1, 0, 0};
    params line = {16, 1, 7, 1, 7, 0, 0};
    params column = {16, 7, 1, 3, 4, 0, 0};
    const int32_t d1[] = {-2048};
    const int32_t d7[] = {5, -5, 300, -300, 32768, 0, 1};
    int32_t d21[21];
    uint32_t i;
    for (i = 0; i < 21; i++)
        d21[i] = (int32_t)i * 37 - 300;
    round_trip(&one, d1, 16);
    round_trip(&line, d7, 16);
    round_trip(&column, d21, 16);
}

/* Runs of large differences give 0xFF bytes: FF00 stuffing, and 0xFF
 * fill bytes before a marker (B.1.1.2), and RST markers right after. */
static void
test_stuffing_and_fill(void)
{
    static stream s;
    static int32_t diffs[64 * 8];
    params p = {16, 8, 64, 1, 1, 0, 64};
    rd_frame_desc d = desc_of(8, 64, 1, 16, 16, 0);
    size_t i, ff00 = 0;

    for (i = 0; i < 64 * 8; i++)
        diffs[i] = i % 2 ? 32767 : -32767;      /* SSSS 15, all-ones codes */
    round_trip(&p, diffs, 16);
    build(&s, &p, diffs);
    for (i = 0; i + 1 < s.n; i++)
        ff00 += s.b[i] == 0xFF && s.b[i + 1] == 0x00;
    CHECK(ff00 > 100);

    /* Fill bytes: FF FF FF before EOI and before an RST. */
    {
        static stream t;
        size_t j;
        memset(&t, 0, sizeof(t));
        for (j = 0; j < s.n; j++) {
            if (j + 1 < s.n && s.b[j] == 0xFF && (s.b[j + 1] == 0xD9 || s.b[j + 1] == 0xD3))
                PUT(&t, 0xFF, 0xFF);
            t.b[t.n++] = s.b[j];
        }
        CHECK(decode(t.b, t.n, &d) == RD_OK);
    }
}

/* APPn, COM, DQT skipped; DHT after SOF3; a scan per component with its
 * own table; components in a different order in two scans. */
static void
test_segments_and_scans(void)
{
    static stream s;
    params p = {8, 2, 3, 3, 1, 0, 0};
    /* planes: component c, pixel m -> difference */
    const int32_t plane[3][6] = {{10, 1, 1, 1, 1, 1}, {-10, 2, 2, 2, 2, 2}, {0, -1, -1, -1, -1, -1}};
    rd_frame_desc d = desc_of(2, 3, 3, 8, 8, 0);
    uint32_t c, m;

    memset(&s, 0, sizeof(s));
    PUT(&s, 0xFF, 0xD8);
    PUT(&s, 0xFF, 0xE1, 0x00, 0x06, 'E', 'x', 'i', 'f');          /* APP1 */
    PUT(&s, 0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!');                  /* COM */
    PUT(&s, 0xFF, 0xDB, 0x00, 0x43, 0x00);                           /* DQT, 64 zeros */
    s.n += 64;
    put_sof3(&s, &p);
    put_dht(&s, 1);
    put_dht(&s, 3);
    /* scan 1: component 3 alone (table 3); scan 2: components 2 then 1 (table 1) */
    PUT(&s, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x03, 0x30, 0x01, 0x00, 0x00);
    for (m = 0; m < 6; m++)
        put_diff(&s, plane[2][m]);
    flush_bits(&s);
    PUT(&s, 0xFF, 0xDA, 0x00, 0x0A, 0x02, 0x02, 0x10, 0x01, 0x10, 0x01, 0x00, 0x00);
    for (m = 0; m < 6; m++)
        for (c = 2; c-- > 0;)
            put_diff(&s, plane[c][m]);
    flush_bits(&s);
    PUT(&s, 0xFF, 0xD9);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    /* predictor 1: line 0 from 128, line 1 starts from Rb */
    {
        static const uint8_t want[18] = {138, 118, 128, 139, 120, 127, 140, 122, 126,
                                         139, 120, 127, 140, 122, 126, 141, 124, 125};
        CHECK(memcmp(out_buf, want, 18) == 0);
    }
    (void)p;
}

/*
 * Between marker segments: stray bytes, 0xFF fill bytes (B.1.1.2), a TEM
 * marker, a stray RST and an AC-class DHT (unused by lossless) are skipped,
 * as libjpeg does.  A table whose HUFFVAL holds 17 (no such category) is
 * accepted until that code is met in the data.
 */
static void
test_lenient_syntax_and_bad_category(void)
{
    static stream s;
    params p = {8, 1, 2, 1, 1, 0, 0};
    rd_frame_desc d = desc_of(1, 2, 1, 8, 8, 0);

    memset(&s, 0, sizeof(s));
    PUT(&s, 0xFF, 0xD8);
    PUT(&s, 0x12, 0x34);                                   /* stray bytes */
    PUT(&s, 0xFF, 0xFF, 0xFF, 0x01);                       /* fill + TEM */
    PUT(&s, 0xFF, 0xD3);                                   /* stray RST3 */
    PUT(&s, 0xFF, 0xC4, 0x00, 0x15, 0x10,                  /* DHT, class 1 (AC), id 0 */
        0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01);
    put_dht(&s, 0);
    put_sof3(&s, &p);
    put_scan(&s, &p, (const int32_t[]){5, -5});
    PUT(&s, 0xFF, 0xD9);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(out_buf[0] == 133 && out_buf[1] == 128);

    /* Table 0: categories 0 and 17 with 1-bit codes "0" and "1". */
    memset(&s, 0, sizeof(s));
    PUT(&s, 0xFF, 0xD8);
    PUT(&s, 0xFF, 0xC4, 0x00, 0x15, 0x00,
        2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 17);
    put_sof3(&s, &p);
    PUT(&s, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00);
    PUT(&s, 0x3F);                                         /* "0", "0": fine */
    PUT(&s, 0xFF, 0xD9);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(out_buf[0] == 128 && out_buf[1] == 128);
    s.b[s.n - 3] = 0x7F;                                   /* "0", "1": category 17 */
    CHECK(decode(s.b, s.n, &d) == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "Huffman") != NULL);
}

/* Point transform: output is Rx << Pt; prediction starts at 2^(P-Pt-1). */
static void
test_point_transform(void)
{
    static stream s;
    params p = {12, 1, 3, 1, 1, 3, 0};
    const int32_t diffs[] = {1, 1, -2};
    rd_frame_desc d = desc_of(1, 3, 1, 16, 12, 0);
    build(&s, &p, diffs);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 0) == (256u + 1) << 3);
    CHECK(sample(&d, 1) == (256u + 2) << 3);
    CHECK(sample(&d, 2) == (256u + 0) << 3);
}

/* Bits Stored < Bits Allocated: samples cut to Bits Stored, then zero- or
 * sign-extended - pydicom's _correct_unused_bits. */
static void
test_bits_stored_and_sign(void)
{
    static stream s;
    params p = {16, 1, 3, 1, 1, 0, 0};
    /* 0x8000 + 0x7FF = 0x87FF; + 1 = 0x8800; - 0x1000 = 0x7800 */
    const int32_t diffs[] = {0x7FF, 1, -0x1000};
    rd_frame_desc d = desc_of(1, 3, 1, 16, 12, 0);
    build(&s, &p, diffs);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 0) == 0x7FF);
    CHECK(sample(&d, 1) == 0x800);
    CHECK(sample(&d, 2) == 0x800);
    d.pixel_representation = 1;
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 0) == 0x07FF);
    CHECK(sample(&d, 1) == 0xF800);     /* -2048 */
    CHECK(sample(&d, 2) == 0xF800);
    d.bits_stored = 16;
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(sample(&d, 0) == 0x87FF);
    CHECK(sample(&d, 2) == 0x7800);
}

/* Restart intervals: the predictor restarts at 2^(P-1) on each line that
 * begins an interval. */
static void
test_restart_reset(void)
{
    static stream s;
    params p = {8, 3, 2, 1, 7, 0, 2};
    const int32_t diffs[] = {1, 1, 1, 1, 1, 1};
    rd_frame_desc d = desc_of(3, 2, 1, 8, 8, 0);
    build(&s, &p, diffs);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    CHECK(out_buf[0] == 129 && out_buf[1] == 130);
    CHECK(out_buf[2] == 129 && out_buf[3] == 130);   /* not 130 from Rb */
    CHECK(out_buf[4] == 129 && out_buf[5] == 130);
}

/* One hand-built stream per error path. */
static void
test_errors(void)
{
    static stream s, t;
    params p = {8, 2, 4, 1, 1, 0, 0};
    const int32_t diffs[8] = {0};
    rd_frame_desc d = desc_of(2, 4, 1, 8, 8, 0);
    rd_codec_options opt;
    size_t sos;
    uint64_t size = rd_frame_size(&d);

    build(&s, &p, diffs);
    CHECK(decode(s.b, s.n, &d) == RD_OK);
    /* SOI at 0, DHT at 2 (38 bytes), SOF3 at SOF_AT (13 bytes), SOS at 53 */
    sos = SOF_AT + 13;
    CHECK(s.b[sos] == 0xFF && s.b[sos + 1] == 0xDA);

    /* Not JPEG: no SOI. */
    CHECK(decode(s.b + 2, s.n - 2, &d) == RD_ERR_DECODE);
    /* Empty input, and NULL with length 0. */
    CHECK(decode(s.b, 0, &d) == RD_ERR_DECODE);
    CHECK(rd_jpeg_lossless_decode_frame(NULL, 0, &d, NULL, out_buf, size, &err)
          == RD_ERR_DECODE);
    /* Truncated anywhere: an error, never a crash. */
    {
        size_t cut;
        for (cut = 0; cut + 2 < s.n; cut++)   /* keeping only EOI off still decodes */
            CHECK(decode(s.b, cut, &d) != RD_OK);
    }
    /* Missing EOI: accepted once every component is decoded. */
    CHECK(decode(s.b, s.n - 2, &d) == RD_OK);

    /* The frame disagrees with the description: width, height, components,
     * precision above Bits Allocated.  The message names both values. */
    {
        rd_frame_desc w = desc_of(2, 5, 1, 8, 8, 0);
        CHECK(decode(s.b, s.n, &w) == RD_ERR_DECODE);
        CHECK(strstr(err.msg, "4 x 2") != NULL && strstr(err.msg, "5 x 2") != NULL);
        w = desc_of(3, 4, 1, 8, 8, 0);
        CHECK(decode(s.b, s.n, &w) == RD_ERR_DECODE);
        w = desc_of(2, 4, 3, 8, 8, 0);
        CHECK(decode(s.b, s.n, &w) == RD_ERR_DECODE);
        CHECK(strstr(err.msg, "1 components") != NULL && strstr(err.msg, "3 samples") != NULL);
    }
    {
        static stream u;
        params p12 = {12, 2, 4, 1, 1, 0, 0};
        build(&u, &p12, diffs);
        CHECK(decode(u.b, u.n, &d) == RD_ERR_DECODE);      /* 12 bits into 8 */
        CHECK(strstr(err.msg, "precision 12") != NULL);
    }

    /* Description problems, caught before the stream is read. */
    {
        rd_frame_desc bad = d;
        bad.bits_allocated = 32;
        CHECK(decode(s.b, s.n, &bad) == RD_ERR_UNSUPPORTED);
        bad = d;
        bad.bits_stored = 9;
        CHECK(decode(s.b, s.n, &bad) == RD_ERR_INVALID);
        CHECK(rd_jpeg_lossless_decode_frame(s.b, s.n, &d, NULL, out_buf, size - 1, &err)
              == RD_ERR_INVALID);
        CHECK(rd_jpeg_lossless_decode_frame(s.b, s.n, NULL, NULL, out_buf, size, &err)
              == RD_ERR_INVALID);
    }

    /* Limits: 65535 x 65535 refused before anything is allocated. */
    {
        rd_frame_desc huge = desc_of(65535, 65535, 1, 16, 16, 0);
        CHECK(rd_jpeg_lossless_decode_frame(s.b, s.n, &huge, NULL, out_buf, UINT64_MAX, &err)
              == RD_ERR_LIMIT);
        memset(&opt, 0, sizeof(opt));
        opt.size = sizeof(opt);
        opt.max_pixels = 7;
        CHECK(rd_jpeg_lossless_decode_frame(s.b, s.n, &d, &opt, out_buf, size, &err)
              == RD_ERR_LIMIT);
        opt.max_pixels = 8;
        CHECK(rd_jpeg_lossless_decode_frame(s.b, s.n, &d, &opt, out_buf, size, &err)
              == RD_OK);
        /* A SOF3 claiming 65535 x 65535 against a 4 x 2 description. */
        t = s;
        t.b[SOF_AT + 5] = 0xFF; t.b[SOF_AT + 6] = 0xFF;   /* Y */
        t.b[SOF_AT + 7] = 0xFF; t.b[SOF_AT + 8] = 0xFF;   /* X */
        CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
        CHECK(strstr(err.msg, "65535 x 65535") != NULL);
    }

    /* Other processes: SOF0 (baseline), SOF11 (arithmetic lossless),
     * SOF55 (JPEG-LS) are unsupported here. */
    {
        static const uint8_t others[] = {0xC0, 0xC1, 0xC2, 0xCB, 0xF7};
        size_t i;
        for (i = 0; i < sizeof(others); i++) {
            t = s;
            t.b[SOF_AT + 1] = others[i];
            CHECK(decode(t.b, t.n, &d) == RD_ERR_UNSUPPORTED);
        }
    }
    /* Sampling factors 2x1: unsupported. */
    t = s;
    t.b[SOF_AT + 11] = 0x21;                            /* H=2, V=1 */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_UNSUPPORTED);
    /* Height 0 (set by DNL): unsupported. */
    t = s;
    t.b[SOF_AT + 5] = 0; t.b[SOF_AT + 6] = 0;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_UNSUPPORTED);
    /* Precision 1 and 17. */
    t = s;
    t.b[SOF_AT + 4] = 1;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t.b[SOF_AT + 4] = 17;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);

    /* SOS: predictor 0 (hierarchical only), predictor 8, Pt >= P, a table
     * that was never defined, a component not in the frame, Ns 2 > Nf 1. */
    t = s;
    t.b[sos + 7] = 0;                                   /* Ss */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_UNSUPPORTED);
    t.b[sos + 7] = 8;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t = s;
    t.b[sos + 9] = 8;                                   /* Al = P */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t = s;
    t.b[sos + 6] = 0x20;                                /* Td = 2 */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    CHECK(strstr(err.msg, "table 2") != NULL);
    t = s;
    t.b[sos + 5] = 9;                                   /* Cs = 9 */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t = s;
    t.b[sos + 4] = 2;                                   /* Ns = 2 */
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);

    /* DHT: more codes than the lengths allow: 3 codes of length 1 (the
     * BITS bytes start at offset 2 + 5; total kept at 17). */
    t = s;
    t.b[2 + 5] = 3;
    t.b[2 + 7] = 2;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    /* DHT: table id 4. */
    t = s;
    t.b[2 + 4] = 0x04;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    /* A segment length running past the end, and one below 2. */
    t = s;
    t.b[2 + 2] = 0xFF;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t = s;
    t.b[2 + 2] = 0; t.b[2 + 3] = 1;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    /* Second SOI, EOI before any scan, SOS before SOF3. */
    t = s;
    t.b[sos + 1] = 0xD8;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    t.b[sos + 1] = 0xD9;
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);
    memset(&t, 0, sizeof(t));
    PUT(&t, 0xFF, 0xD8);
    put(&t, s.b + sos, s.n - sos);
    CHECK(decode(t.b, t.n, &d) == RD_ERR_DECODE);

    /* Entropy-coded data cut short by EOI. */
    {
        static stream u;
        params q = {16, 8, 8, 1, 1, 0, 0};
        static int32_t big[64];
        size_t i;
        for (i = 0; i < 64; i++)
            big[i] = 1000;
        build(&u, &q, big);
        memmove(u.b + u.n - 12, u.b + u.n - 2, 2);       /* drop 10 data bytes */
        u.n -= 10;
        {
            rd_frame_desc e = desc_of(8, 8, 1, 16, 16, 0);
            CHECK(decode(u.b, u.n, &e) == RD_ERR_DECODE);
            CHECK(strstr(err.msg, "ends early") != NULL);
        }
    }

    /* An invalid Huffman code: all-ones 16 bits is not in the table. */
    {
        static stream u;
        params q = {8, 1, 2, 1, 1, 0, 0};
        memset(&u, 0, sizeof(u));
        PUT(&u, 0xFF, 0xD8);
        put_dht(&u, 0);
        put_sof3(&u, &q);
        PUT(&u, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00);
        PUT(&u, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00);
        PUT(&u, 0xFF, 0xD9);
        {
            rd_frame_desc e = desc_of(1, 2, 1, 8, 8, 0);
            CHECK(decode(u.b, u.n, &e) == RD_ERR_DECODE);
            CHECK(strstr(err.msg, "Huffman") != NULL);
        }
    }

    /* Restarts: an interval that is not whole lines (unsupported); a
     * missing RST; a wrong RST number. */
    {
        static stream u;
        params q = {8, 4, 4, 1, 1, 0, 4};
        static const int32_t z[16] = {0};
        rd_frame_desc e = desc_of(4, 4, 1, 8, 8, 0);
        size_t i, rst = 0;
        build(&u, &q, z);
        CHECK(decode(u.b, u.n, &e) == RD_OK);
        for (i = 0; i + 1 < u.n; i++)
            if (u.b[i] == 0xFF && u.b[i + 1] == 0xDD)
                break;
        t = u;
        t.b[i + 5] = 3;                                 /* Ri = 3 */
        CHECK(decode(t.b, t.n, &e) == RD_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "restart interval of 3") != NULL);
        for (i = 0; i + 1 < u.n; i++)
            if (u.b[i] == 0xFF && u.b[i + 1] == 0xD1) {
                rst = i;
                break;
            }
        CHECK(rst != 0);
        t = u;
        t.b[rst + 1] = 0xD5;                            /* RST5 where RST1 belongs */
        CHECK(decode(t.b, t.n, &e) == RD_ERR_DECODE);
        CHECK(strstr(err.msg, "expected RST1") != NULL);
        t = u;
        memmove(t.b + rst, t.b + rst + 2, t.n - rst - 2);   /* RST1 removed */
        t.n -= 2;
        CHECK(decode(t.b, t.n, &e) == RD_ERR_DECODE);
    }
}

int
main(void)
{
    make_codes();
    test_modulo_wrap();
    test_round_trips();
    test_pairs();
    test_small_shapes();
    test_stuffing_and_fill();
    test_segments_and_scans();
    test_lenient_syntax_and_bad_category();
    test_point_transform();
    test_bits_stored_and_sign();
    test_restart_reset();
    test_errors();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_ljpeg: all checks passed\n");
    return 0;
}
