/*
 * jpeg12.c - JPEG extended, 12-bit samples (ITU-T T.81 process 4: Huffman
 * sequential DCT; DICOM transfer syntax 1.2.840.10008.1.2.4.51 with Bits
 * Allocated 16) frame decoder, written from the standard: Annex B (marker
 * syntax), Annex C and F.2.2 (Huffman tables and decoding), A.3.3 (the
 * inverse DCT).  Our own because Debian's libjpeg-turbo 2.1 has no 12-bit
 * support; 8-bit JPEG stays with libjpeg-turbo (jpeg.c).
 *
 * What is decoded:
 *   SOI, SOF1 (or SOF0) with precision P = 12, 1..4 components; one
 *   component may carry any sampling factors (its scan is non-interleaved,
 *   they do not matter), several components must all be 1x1.  DQT (8- and
 *   16-bit tables), DHT (tables 0..3 of both classes), DRI and RSTn, SOS
 *   (interleaved or not; the components may be split over several scans),
 *   APPn / COM / other segments skipped, EOI.  Everything else - progressive
 *   and lossless SOFn, arithmetic coding, hierarchical mode, P = 8 (that is
 *   libjpeg-turbo's job), subsampled colour, a height given by DNL - is
 *   RD_ERR_UNSUPPORTED.  For sequential DCT T.81 requires Ss = 0, Se = 63,
 *   Ah = Al = 0; like IJG libjpeg (and so GDCM) we ignore other values with
 *   no error: pydicom's corpus file JPEG-lossy.dcm writes Se = 0 and is
 *   otherwise identical to JPGExtended.dcm (pylibjpeg-libjpeg refuses it).
 *
 * Reconstruction, bit-exact with IJG libjpeg's "islow" method built for
 * 12-bit samples (GDCM's bundled IJG 6b; libjpeg 9's regrouped version
 * computes the same integers):
 *   - coefficients are kept as 16-bit values (IJG's JCOEF), the DC
 *     prediction in wrapping 32-bit arithmetic; dequantisation is the plain
 *     product with the table entry, in 64 bits (IJG's INT32 is `long`);
 *   - the separable Loeffler-Ligtenberg-Moschytz IDCT with 13-bit
 *     fixed-point constants (CONST_BITS 13), PASS1_BITS 1 for 12-bit data:
 *     columns first, descaled by 2^(13-1) with rounding into a 32-bit
 *     workspace, then rows, descaled by 2^(13+1+3) with rounding;
 *     columns / rows whose AC terms are all zero take the exact shortcut;
 *   - range limiting as IJG's table does it: the result x (before the level
 *     shift) maps through u = (x + 2048) mod 16384 to u when u < 4096,
 *     4095 when u < 10240, else 0 - i.e. ordinary clamping to 0..4095 for
 *     |x| < 8192 and IJG's wrap-around for absurd values.
 *   pylibjpeg-libjpeg (Thomas Richter's libjpeg, pydicom's only plugin that
 *   decodes 12-bit JPEG: pydicom's gdcm plugin refuses P = 12) uses a
 *   different integer IDCT and differs from this (and from GDCM) by at most
 *   1 on some samples; see tests/test_jpeg12_kernel.py.
 *
 * Output (rapidicom.h contract): samples interleaved in SOF component
 * order, 2 bytes little endian; each decoded sample (0..4095) cut to Bits
 * Stored and zero-extended (Pixel Representation 0) or sign-extended (1) -
 * pydicom's _correct_unused_bits; for Bits Stored >= 12 and unsigned data
 * this changes nothing.  No colour transform for any Photometric
 * Interpretation: three-component data is returned as coded (RGB stays
 * RGB, YBR_FULL stays YCbCr; pydicom cannot convert 16-bit YBR either).
 *
 * Why it is fast:
 *   - a 64-bit MSB-first bit buffer refilled with one unaligned 8-byte load
 *     when those bytes hold no 0xFF; byte-wise (stuffing, markers) otherwise;
 *   - a 9-bit lookahead table decodes nearly every Huffman code in one
 *     lookup; longer codes use the canonical maxcode walk (F.2.2.3);
 *   - with 1x1 sampling every MCU is one block per component, so each block
 *     is inverse-transformed straight into the caller's buffer: no
 *     coefficient or sample planes, one small allocation (the tables);
 *   - blocks with only a DC term (most of a typical image) skip the IDCT;
 *   - on CPUs with AVX2 the IDCT runs eight columns, then eight rows, at a
 *     time in exact double arithmetic (see idct_block_avx2), and whole
 *     8x8 blocks of one-component images are stored eight samples a step.
 *
 * Invariants:
 *   - the frame description is checked (sizes, dst_cap, rows*columns
 *     against max_pixels) before anything is read, and SOF's size,
 *     component count and precision against it before the one allocation,
 *     freed at the single cleanup label;
 *   - every marker-segment read is checked as `need <= len - pos`; the bit
 *     reader never reads at or past `end` nor past a marker; after either it
 *     appends zero bytes counted in `zeros`, and consuming any of them
 *     (count < zeros) is an error, checked after every MCU row and restart
 *     interval;
 *   - an AC run that would pass coefficient 63 and an invalid Huffman code
 *     are errors (IJG only warns);
 *   - on failure dst may be partly written.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rd_common.h"

#define J12_MAX_COMPONENTS 4u
#define J12_FAST_BITS 9u
#define J12_FAST_SIZE (1u << J12_FAST_BITS)

#if defined(__GNUC__) || defined(__clang__)
#define J12_INLINE static inline __attribute__((always_inline))
#define J12_NOINLINE static __attribute__((noinline))
#else
#define J12_INLINE static inline
#define J12_NOINLINE static
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define J12_LITTLE_ENDIAN 1
#else
#define J12_LITTLE_ENDIAN 0
#endif

/* Zig-zag index -> natural (row-major) index (T.81 Figure A.6). */
static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

/* ------------------------------------------------------------------------- */
/* Huffman tables                                                             */
/* ------------------------------------------------------------------------- */

typedef struct j12_htab {
    uint16_t fast[J12_FAST_SIZE]; /* (len << 8) | symbol; 0: not in the table */
    int32_t maxcode[18];          /* largest code of length l, -1 if none; [17] sentinel */
    int32_t valoff[17];           /* vals index of code c of length l: c + valoff[l] */
    uint8_t vals[256];
    uint8_t defined;
} j12_htab;

/*
 * Build the decoding form of a DHT table (Annex C canonical codes).
 * Returns 0 when the lengths over-fill the code space.
 */
static int
build_htab(j12_htab *t, const uint8_t counts[17], const uint8_t *vals, uint32_t nvals)
{
    uint32_t code = 0, k = 0, l, i, j;

    memset(t->fast, 0, sizeof(t->fast));
    memset(t->vals, 0, sizeof(t->vals));
    memcpy(t->vals, vals, nvals);
    t->maxcode[0] = -1;
    t->valoff[0] = 0;
    for (l = 1; l <= 16; l++) {
        uint32_t n = counts[l];
        t->valoff[l] = (int32_t)k - (int32_t)code;
        for (i = 0; i < n; i++, k++, code++) {
            if (code >= (1u << l))
                return 0;
            if (l <= J12_FAST_BITS) {
                uint32_t span = 1u << (J12_FAST_BITS - l);
                uint32_t base = code << (J12_FAST_BITS - l);
                for (j = 0; j < span; j++)
                    t->fast[base + j] = (uint16_t)((l << 8) | vals[k]);
            }
        }
        t->maxcode[l] = n ? (int32_t)code - 1 : -1;
        code <<= 1;
    }
    t->maxcode[17] = 0x7FFFFFFF;
    t->defined = 1;
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Bit reader                                                                 */
/* ------------------------------------------------------------------------- */

typedef struct j12_bits {
    uint64_t buf;            /* next bits, most significant first */
    uint64_t zeros;          /* zero bits appended after the data ended */
    uint32_t count;          /* valid bits at the top of buf */
    int ended;               /* a marker or the end of the input was reached */
    const uint8_t *pos;      /* next byte; at the marker's 0xFF once ended */
    const uint8_t *end;
} j12_bits;

static void
bits_start(j12_bits *b, const uint8_t *pos, const uint8_t *end)
{
    b->buf = 0;
    b->zeros = 0;
    b->count = 0;
    b->ended = 0;
    b->pos = pos;
    b->end = end;
}

/* Byte-wise refill to > 56 bits: FF00 stuffing, stop at a marker, then
 * zero bytes. */
J12_NOINLINE void
bits_refill_slow(j12_bits *b)
{
    while (b->count <= 56) {
        uint32_t byte = 0;
        if (!b->ended) {
            if (b->pos == b->end) {
                b->ended = 1;
                continue;
            }
            byte = *b->pos;
            if (byte == 0xFF) {
                if (b->end - b->pos >= 2 && b->pos[1] == 0x00) {
                    b->pos += 2;
                } else {
                    b->ended = 1;
                    continue;
                }
            } else {
                b->pos++;
            }
        } else {
            b->zeros += 8;
        }
        b->buf |= (uint64_t)byte << (56 - b->count);
        b->count += 8;
    }
}

/* Top the buffer up (count < 32 on entry).  Fast path: the next 8 bytes
 * hold no 0xFF; take the whole bytes that fit. */
J12_INLINE void
bits_refill(j12_bits *b)
{
    if (RD_LIKELY(b->end - b->pos >= 8)) {
        uint64_t w = rd_be64(b->pos);
        if (RD_LIKELY(rd_no_ff_byte(w))) {
            uint32_t k = (63 - b->count) >> 3;          /* 4..7 bytes */
            w &= ~(UINT64_MAX >> (8 * k));
            b->buf |= w >> b->count;
            b->pos += k;
            b->count += 8 * k;
            return;
        }
    }
    bits_refill_slow(b);
}

/* Decode one Huffman symbol; -1 for an invalid code.  count >= 16. */
J12_INLINE int
decode_sym(j12_bits *b, const j12_htab *t)
{
    uint32_t e = t->fast[b->buf >> (64 - J12_FAST_BITS)];
    if (RD_LIKELY(e != 0)) {
        uint32_t l = e >> 8;
        b->buf <<= l;
        b->count -= l;
        return (int)(e & 0xFFu);
    } else {
        uint32_t c16 = (uint32_t)(b->buf >> 48), l;
        for (l = J12_FAST_BITS + 1; l <= 16; l++) {
            int32_t code = (int32_t)(c16 >> (16 - l));
            if (code <= t->maxcode[l]) {
                b->buf <<= l;
                b->count -= l;
                return t->vals[(code + t->valoff[l]) & 0xFF];
            }
        }
        return -1;
    }
}

/* The s (1..15) extra bits as a signed value (F.2.2.1 EXTEND). */
J12_INLINE int32_t
receive_extend(j12_bits *b, uint32_t s)
{
    uint32_t v = (uint32_t)(b->buf >> (64 - s));
    b->buf <<= s;
    b->count -= s;
    return (int32_t)v - (int32_t)((((v >> (s - 1)) & 1u) ^ 1u) * ((1u << s) - 1u));
}

/* ------------------------------------------------------------------------- */
/* Inverse DCT (IJG islow, 12-bit parameters)                                 */
/* ------------------------------------------------------------------------- */

#define CONST_BITS 13
#define PASS1_BITS 1
#define FIX_0_298631336 ((int64_t)2446)
#define FIX_0_390180644 ((int64_t)3196)
#define FIX_0_541196100 ((int64_t)4433)
#define FIX_0_765366865 ((int64_t)6270)
#define FIX_0_899976223 ((int64_t)7373)
#define FIX_1_175875602 ((int64_t)9633)
#define FIX_1_501321110 ((int64_t)12299)
#define FIX_1_847759065 ((int64_t)15137)
#define FIX_1_961570560 ((int64_t)16069)
#define FIX_2_053119869 ((int64_t)16819)
#define FIX_2_562915447 ((int64_t)20995)
#define FIX_3_072711026 ((int64_t)25172)

/* x / 2^n rounded half up (arithmetic shift of a 64-bit value). */
#define DESCALE(x, n) (((x) + ((int64_t)1 << ((n) - 1))) >> (n))

/* IJG's post-IDCT range limit for 12-bit samples (see the file header). */
J12_INLINE uint32_t
range_limit(int64_t x)
{
    uint32_t u = (uint32_t)((uint64_t)(x + 2048) & 16383u);
    return u < 4096 ? u : (u < 10240 ? 4095u : 0u);
}

/*
 * One 8-point LL&M butterfly on (d0..d7), the even part rotated by
 * sqrt(2)c6 and the odd part by the four-multiplier network; leaves the
 * eight outputs, still scaled by 2^CONST_BITS, in o[0..7].
 */
J12_INLINE void
idct_1d(int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t d4, int64_t d5,
        int64_t d6, int64_t d7, int64_t o[8])
{
    int64_t z1, z2, z3, z4, z5, tmp0, tmp1, tmp2, tmp3, tmp10, tmp11, tmp12, tmp13;

    /* Even part: rotator on d2, d6; d0 +- d4. */
    z1 = (d2 + d6) * FIX_0_541196100;
    tmp2 = z1 - d6 * FIX_1_847759065;
    tmp3 = z1 + d2 * FIX_0_765366865;
    tmp0 = (d0 + d4) * ((int64_t)1 << CONST_BITS);
    tmp1 = (d0 - d4) * ((int64_t)1 << CONST_BITS);
    tmp10 = tmp0 + tmp3;
    tmp13 = tmp0 - tmp3;
    tmp11 = tmp1 + tmp2;
    tmp12 = tmp1 - tmp2;

    /* Odd part on d7, d5, d3, d1. */
    z1 = d7 + d1;
    z2 = d5 + d3;
    z3 = d7 + d3;
    z4 = d5 + d1;
    z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 = d7 * FIX_0_298631336;
    tmp1 = d5 * FIX_2_053119869;
    tmp2 = d3 * FIX_3_072711026;
    tmp3 = d1 * FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;

    o[0] = tmp10 + tmp3;
    o[7] = tmp10 - tmp3;
    o[1] = tmp11 + tmp2;
    o[6] = tmp11 - tmp2;
    o[2] = tmp12 + tmp1;
    o[5] = tmp12 - tmp1;
    o[3] = tmp13 + tmp0;
    o[4] = tmp13 - tmp0;
}

/* The scalar IDCT: any input, IJG's 64-bit products and 32-bit workspace. */
static void
idct_block_scalar(const int32_t *in, uint16_t out[64])
{
    int32_t ws[64];
    int64_t o[8];
    int i, j;

    for (i = 0; i < 8; i++) {             /* columns */
        const int32_t *c = in + i;
        if (c[8] == 0 && c[16] == 0 && c[24] == 0 && c[32] == 0 && c[40] == 0
            && c[48] == 0 && c[56] == 0) {
            int32_t dc = (int32_t)(uint32_t)((uint64_t)c[0] << PASS1_BITS);
            for (j = 0; j < 8; j++)
                ws[i + 8 * j] = dc;
            continue;
        }
        idct_1d(c[0], c[8], c[16], c[24], c[32], c[40], c[48], c[56], o);
        for (j = 0; j < 8; j++)
            ws[i + 8 * j] = (int32_t)(uint32_t)(uint64_t)DESCALE(o[j], CONST_BITS - PASS1_BITS);
    }
    for (i = 0; i < 8; i++) {             /* rows */
        const int32_t *r = ws + 8 * i;
        if (r[1] == 0 && r[2] == 0 && r[3] == 0 && r[4] == 0 && r[5] == 0 && r[6] == 0
            && r[7] == 0) {
            uint16_t v = (uint16_t)range_limit(DESCALE((int64_t)r[0], PASS1_BITS + 3));
            for (j = 0; j < 8; j++)
                out[8 * i + j] = v;
            continue;
        }
        idct_1d(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], o);
        for (j = 0; j < 8; j++)
            out[8 * i + j] = (uint16_t)range_limit(DESCALE(o[j], CONST_BITS + PASS1_BITS + 3));
    }
}

/*
 * The same IDCT for AVX2, eight columns (then eight rows) at a time in
 * doubles.  Every intermediate value of the integer algorithm is an integer
 * below 2^49 in magnitude (inputs < 2^31 times sums of constants < 2^18),
 * so double arithmetic computes it exactly, and DESCALE's rounding shift is
 * floor((x + 2^(n-1)) / 2^n), exact with a power-of-two scale and floor.
 * The one place the integer algorithm wraps - the 32-bit workspace, and
 * range_limit's modulo for results far outside 0..4095 - is reached only
 * by absurd coefficients; the vector path checks its values stay within
 * +-2^30 and otherwise returns 0 without writing, and the caller takes the
 * scalar path.  So both paths give the same samples for every input.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(RD_NO_SIMD)
#include <immintrin.h>
#define J12_SIMD 1
#define J12_AVX2 __attribute__((target("avx2")))

/* o[j] = the j-th output of idct_1d, lane-wise, for the lanes of d[0..7]. */
J12_AVX2 static inline void
idct_1d_avx2(const __m256d d[8], __m256d o[8])
{
#define C(x) _mm256_set1_pd((double)(x))
#define ADD _mm256_add_pd
#define SUB _mm256_sub_pd
#define MUL _mm256_mul_pd
    __m256d z1 = MUL(ADD(d[2], d[6]), C(FIX_0_541196100));
    __m256d tmp2 = SUB(z1, MUL(d[6], C(FIX_1_847759065)));
    __m256d tmp3 = ADD(z1, MUL(d[2], C(FIX_0_765366865)));
    __m256d tmp0 = MUL(ADD(d[0], d[4]), C(1 << CONST_BITS));
    __m256d tmp1 = MUL(SUB(d[0], d[4]), C(1 << CONST_BITS));
    __m256d tmp10 = ADD(tmp0, tmp3), tmp13 = SUB(tmp0, tmp3);
    __m256d tmp11 = ADD(tmp1, tmp2), tmp12 = SUB(tmp1, tmp2);
    __m256d z2, z3, z4, z5;

    z1 = ADD(d[7], d[1]);
    z2 = ADD(d[5], d[3]);
    z3 = ADD(d[7], d[3]);
    z4 = ADD(d[5], d[1]);
    z5 = MUL(ADD(z3, z4), C(FIX_1_175875602));
    tmp0 = MUL(d[7], C(FIX_0_298631336));
    tmp1 = MUL(d[5], C(FIX_2_053119869));
    tmp2 = MUL(d[3], C(FIX_3_072711026));
    tmp3 = MUL(d[1], C(FIX_1_501321110));
    z1 = MUL(z1, C(-FIX_0_899976223));
    z2 = MUL(z2, C(-FIX_2_562915447));
    z3 = ADD(MUL(z3, C(-FIX_1_961570560)), z5);
    z4 = ADD(MUL(z4, C(-FIX_0_390180644)), z5);
    tmp0 = ADD(tmp0, ADD(z1, z3));
    tmp1 = ADD(tmp1, ADD(z2, z4));
    tmp2 = ADD(tmp2, ADD(z2, z3));
    tmp3 = ADD(tmp3, ADD(z1, z4));

    o[0] = ADD(tmp10, tmp3);
    o[7] = SUB(tmp10, tmp3);
    o[1] = ADD(tmp11, tmp2);
    o[6] = SUB(tmp11, tmp2);
    o[2] = ADD(tmp12, tmp1);
    o[5] = SUB(tmp12, tmp1);
    o[3] = ADD(tmp13, tmp0);
    o[4] = SUB(tmp13, tmp0);
#undef C
#undef ADD
#undef SUB
#undef MUL
}

/* floor((x + 2^(n-1)) / 2^n), with `scale` = 2^-n and `half` = 2^(n-1). */
J12_AVX2 static inline __m256d
descale_avx2(__m256d x, __m256d half, __m256d scale)
{
    return _mm256_floor_pd(_mm256_mul_pd(_mm256_add_pd(x, half), scale));
}

/* All lanes of `peak` (magnitudes) below 2^30? */
J12_AVX2 static inline int
below_2_30(__m256d peak)
{
    __m256d below = _mm256_cmp_pd(peak, _mm256_set1_pd(1073741824.0), _CMP_LT_OQ);
    return _mm256_movemask_pd(below) == 0xF;
}

/* range_limit() on eight 32-bit lanes. */
J12_AVX2 static inline __m256i
range_limit_avx2(__m256i x)
{
    __m256i u = _mm256_and_si256(_mm256_add_epi32(x, _mm256_set1_epi32(2048)),
                                 _mm256_set1_epi32(16383));
    __m256i below_4096 = _mm256_cmpgt_epi32(_mm256_set1_epi32(4096), u);
    __m256i below_10240 = _mm256_cmpgt_epi32(_mm256_set1_epi32(10240), u);
    __m256i clipped = _mm256_and_si256(below_10240, _mm256_set1_epi32(4095));
    return _mm256_blendv_epi8(clipped, u, below_4096);
}

/* 8x8 transpose of m[row][half] (two vectors of four per row). */
J12_AVX2 static inline void
transpose_avx2(__m256d m[8][2], __m256d t[8][2])
{
    int bi, bj, k;

    for (bi = 0; bi < 2; bi++)            /* 4x4 sub-blocks */
        for (bj = 0; bj < 2; bj++) {
            __m256d r0 = m[4 * bi + 0][bj], r1 = m[4 * bi + 1][bj];
            __m256d r2 = m[4 * bi + 2][bj], r3 = m[4 * bi + 3][bj];
            __m256d a0 = _mm256_unpacklo_pd(r0, r1), a1 = _mm256_unpackhi_pd(r0, r1);
            __m256d a2 = _mm256_unpacklo_pd(r2, r3), a3 = _mm256_unpackhi_pd(r2, r3);
            __m256d c[4];

            c[0] = _mm256_permute2f128_pd(a0, a2, 0x20);
            c[1] = _mm256_permute2f128_pd(a1, a3, 0x20);
            c[2] = _mm256_permute2f128_pd(a0, a2, 0x31);
            c[3] = _mm256_permute2f128_pd(a1, a3, 0x31);
            for (k = 0; k < 4; k++)
                t[4 * bj + k][bi] = c[k];
        }
}

/* Returns 1 with out[] written, or 0 (nothing written) when a value left
 * the range the double path is proved exact for. */
J12_AVX2 static int
idct_block_avx2(const int32_t *in, uint16_t out[64])
{
    const __m256d half1 = _mm256_set1_pd((double)(1 << (CONST_BITS - PASS1_BITS - 1)));
    const __m256d scale1 = _mm256_set1_pd(1.0 / (1 << (CONST_BITS - PASS1_BITS)));
    const __m256d half2 = _mm256_set1_pd((double)(1 << (CONST_BITS + PASS1_BITS + 3 - 1)));
    const __m256d scale2 = _mm256_set1_pd(1.0 / (1 << (CONST_BITS + PASS1_BITS + 3)));
    const __m256d sign_bit = _mm256_set1_pd(-0.0);
    __m256d ws[8][2], rows[8][2], res[8][2], d[8], o[8];
    __m256d peak = _mm256_setzero_pd();  /* largest magnitude so far */
    int h, j, i;

    for (h = 0; h < 2; h++) {             /* columns 4h .. 4h+3 */
        for (j = 0; j < 8; j++)
            d[j] = _mm256_cvtepi32_pd(_mm_loadu_si128((const __m128i *)(in + 8 * j + 4 * h)));
        idct_1d_avx2(d, o);
        for (j = 0; j < 8; j++) {
            ws[j][h] = descale_avx2(o[j], half1, scale1);
            peak = _mm256_max_pd(peak, _mm256_andnot_pd(sign_bit, ws[j][h]));
        }
    }
    if (!below_2_30(peak))
        return 0;
    transpose_avx2(ws, rows);             /* rows[k][h]: column k of rows 4h.. */
    for (h = 0; h < 2; h++) {             /* rows 4h .. 4h+3 */
        for (j = 0; j < 8; j++)
            d[j] = rows[j][h];
        idct_1d_avx2(d, o);
        for (j = 0; j < 8; j++) {
            res[j][h] = descale_avx2(o[j], half2, scale2);
            peak = _mm256_max_pd(peak, _mm256_andnot_pd(sign_bit, res[j][h]));
        }
    }
    if (!below_2_30(peak))
        return 0;
    transpose_avx2(res, rows);            /* rows[i][h]: samples 4h.. of row i */
    for (i = 0; i < 8; i++) {
        __m256i v = _mm256_set_m128i(_mm256_cvtpd_epi32(rows[i][1]),
                                     _mm256_cvtpd_epi32(rows[i][0]));
        __m256i x = range_limit_avx2(v);
        __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(x),
                                          _mm256_extracti128_si256(x, 1));
        _mm_storeu_si128((__m128i *)(out + 8 * i), packed);
    }
    return 1;
}
#endif

/* Dequantised coefficients (natural order) -> 8x8 samples 0..4095. */
J12_INLINE void
idct_block(const int32_t *in, uint16_t out[64], int simd)
{
#ifdef J12_SIMD
    if (simd && idct_block_avx2(in, out))
        return;
#else
    (void)simd;
#endif
    idct_block_scalar(in, out);
}

/* ------------------------------------------------------------------------- */
/* Frame state                                                                */
/* ------------------------------------------------------------------------- */

typedef struct j12_comp {
    uint32_t id;
    uint32_t h, v;
    uint32_t tq;             /* quantisation table selector */
    int decoded;             /* appeared in a scan */
} j12_comp;

typedef struct j12_ctx {
    j12_htab dc[4];
    j12_htab ac[4];
    uint16_t qt[4][64];      /* natural order */
    uint8_t qdefined[4];
    j12_comp comp[J12_MAX_COMPONENTS];
    uint32_t nf;
    uint32_t width, height;
    uint32_t restart;        /* DRI interval in MCUs, 0: none */
} j12_ctx;

/* Output layout and the Bits Stored fix. */
typedef struct j12_out {
    uint8_t *dst;
    uint32_t width, height, nf;
    uint32_t mask;           /* Bits Stored low bits */
    uint32_t sign;           /* sign bit for Pixel Representation 1, else 0 */
    int simd;                /* the CPU has AVX2: idct_block may use it */
} j12_out;

/*
 * Store block (bx, by) of component c, cut at the image edge.  The layout
 * is read into locals first: stores through a uint8_t pointer may alias
 * anything, so fields read through `out` would be reloaded per sample.
 */
static void
put_block(const j12_out *out, uint32_t c, uint32_t bx, uint32_t by, const uint16_t s[64])
{
    const uint32_t width = out->width, nf = out->nf, mask = out->mask, sign = out->sign;
    const uint32_t x0 = bx * 8, y0 = by * 8;
    const uint32_t w = width - x0 < 8 ? width - x0 : 8;
    const uint32_t h = out->height - y0 < 8 ? out->height - y0 : 8;
    const uint64_t stride = (uint64_t)width * nf * 2; /* bytes per output row */
    uint8_t *row = out->dst + (uint64_t)y0 * stride + ((uint64_t)x0 * nf + c) * 2;
    uint32_t x, y;

    if (nf == 1 && w == 8 && h == 8 && J12_LITTLE_ENDIAN) {
        /* The common case, in a form the compiler turns into 8-lane code. */
        const uint16_t m = (uint16_t)mask, sg = (uint16_t)sign;
        for (y = 0; y < 8; y++, row += stride) {
            uint16_t v[8];
            for (x = 0; x < 8; x++)
                v[x] = (uint16_t)(((s[8 * y + x] & m) ^ sg) - sg);
            memcpy(row, v, 16);
        }
        return;
    }
    for (y = 0; y < h; y++, row += stride) {
        const uint16_t *src = s + 8 * y;
        uint16_t v[8];

        for (x = 0; x < 8; x++)                        /* cut, sign-extend */
            v[x] = (uint16_t)(((src[x] & mask) ^ sign) - sign);
        if (nf == 1 && J12_LITTLE_ENDIAN) {
            memcpy(row, v, (size_t)w * 2);
            continue;
        }
        for (x = 0; x < w; x++) {
            row[x * nf * 2] = (uint8_t)v[x];
            row[x * nf * 2 + 1] = (uint8_t)(v[x] >> 8);
        }
    }
}

/* Scan state of one component in the current scan. */
typedef struct j12_scomp {
    uint32_t c;              /* index into ctx->comp */
    const j12_htab *dc, *ac;
    const uint16_t *q;
    int32_t pred;            /* DC prediction (wrapping) */
} j12_scomp;

/*
 * Decode one block's coefficients (F.2.2) and store its samples.
 * Returns 0 on corrupt data (message in *why).
 */
J12_INLINE int
decode_block(j12_bits *b, j12_scomp *sc, const j12_out *out, uint32_t bx, uint32_t by,
             const char **why)
{
    int32_t coef[64];        /* |JCOEF x quantiser| <= 32768 * 65535 < 2^31 */
    uint16_t samples[64];
    int s, k;
    int ac_any = 0;

    if (b->count < 32)
        bits_refill(b);
    s = decode_sym(b, sc->dc);
    if (RD_UNLIKELY(s < 0 || s > 15)) {
        *why = s < 0 ? "invalid DC Huffman code" : "DC magnitude category above 15";
        return 0;
    }
    if (s) {
        if (b->count < 16)
            bits_refill(b);
        sc->pred = (int32_t)((uint32_t)sc->pred + (uint32_t)receive_extend(b, (uint32_t)s));
    }
    memset(coef, 0, sizeof(coef));
    coef[0] = (int32_t)((int64_t)(int16_t)(uint16_t)(uint32_t)sc->pred * sc->q[0]);
    for (k = 1; k < 64; k++) {
        int r;
        if (b->count < 32)
            bits_refill(b);
        s = decode_sym(b, sc->ac);
        if (RD_UNLIKELY(s < 0)) {
            *why = "invalid AC Huffman code";
            return 0;
        }
        r = s >> 4;
        s &= 15;
        if (s) {
            int32_t v;
            k += r;
            if (RD_UNLIKELY(k > 63)) {
                *why = "AC run past coefficient 63";
                return 0;
            }
            v = receive_extend(b, (uint32_t)s);
            coef[zigzag[k]] = (int32_t)((int64_t)(int16_t)v * sc->q[zigzag[k]]);
            ac_any = 1;
        } else if (r == 15) {
            k += 15;
            if (RD_UNLIKELY(k > 63)) {
                *why = "ZRL run past coefficient 63";
                return 0;
            }
        } else {
            break;
        }
    }
    if (!ac_any) {
        /* DC only: both passes take their shortcuts. */
        int32_t dc = (int32_t)(uint32_t)((uint64_t)coef[0] << PASS1_BITS);
        uint16_t v = (uint16_t)range_limit(DESCALE((int64_t)dc, PASS1_BITS + 3));
        for (k = 0; k < 64; k++)
            samples[k] = v;
    } else {
        idct_block(coef, samples, out->simd);
    }
    put_block(out, sc->c, bx, by, samples);
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Marker segments                                                            */
/* ------------------------------------------------------------------------- */

static const char *
unsupported_process(uint32_t m)
{
    switch (m) {
    case 0xC2: return "progressive DCT (SOF2)";
    case 0xC3: return "lossless (SOF3)";
    case 0xC5: case 0xC6: case 0xC7: return "hierarchical (SOF5-7)";
    case 0xC9: case 0xCA: case 0xCB: case 0xCD: case 0xCE: case 0xCF:
        return "arithmetic coding (SOF9-15)";
    case 0xCC: return "arithmetic coding (DAC)";
    case 0xDC: return "a height given by DNL";
    case 0xDE: case 0xDF: return "hierarchical (DHP/EXP)";
    default: return NULL;
    }
}

static rd_status
parse_dqt(j12_ctx *ctx, const uint8_t *p, uint64_t n, uint64_t at, rd_error *err)
{
    uint64_t pos = 0;
    while (pos < n) {
        uint32_t pq = p[pos] >> 4, tq = p[pos] & 15, i;
        uint64_t need = pq ? 128 : 64;
        if (pq > 1 || tq > 3)
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DQT with precision %u, table %u", pq, tq);
        pos++;
        if (!(need <= n - pos))
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DQT table %u truncated", tq);
        for (i = 0; i < 64; i++)
            ctx->qt[tq][zigzag[i]] = pq ? (uint16_t)((p[pos + 2 * i] << 8) | p[pos + 2 * i + 1])
                                        : p[pos + i];
        ctx->qdefined[tq] = 1;
        pos += need;
    }
    return RD_OK;
}

static rd_status
parse_dht(j12_ctx *ctx, const uint8_t *p, uint64_t n, uint64_t at, rd_error *err)
{
    uint64_t pos = 0;
    while (pos < n) {
        uint32_t tc = p[pos] >> 4, th = p[pos] & 15, l, total = 0;
        uint8_t counts[17];
        if (tc > 1 || th > 3)
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DHT with class %u, table %u", tc, th);
        pos++;
        if (!(16 <= n - pos))
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DHT code counts truncated");
        counts[0] = 0;
        for (l = 1; l <= 16; l++) {
            counts[l] = p[pos + l - 1];
            total += counts[l];
        }
        pos += 16;
        if (total > 256 || !(total <= n - pos))
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DHT with %u symbols in %llu bytes", total,
                           (unsigned long long)(n - pos));
        if (!build_htab(tc ? &ctx->ac[th] : &ctx->dc[th], counts, p + pos, total))
            return rd_fail(err, RD_ERR_DECODE, at + pos, RD_NO_TAG,
                           "JPEG 12-bit: DHT code lengths over-fill the code space");
        pos += total;
    }
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Scan decoding                                                              */
/* ------------------------------------------------------------------------- */

/*
 * Decode one scan's entropy-coded data starting at src[pos]; *next receives
 * where the marker search continues.
 */
static rd_status
decode_scan(j12_ctx *ctx, j12_scomp *sc, uint32_t ns, const j12_out *out,
            const uint8_t *src, uint64_t src_len, uint64_t pos, uint64_t *next, rd_error *err)
{
    j12_bits b;
    uint32_t bw = (ctx->width + 7) / 8, bh = (ctx->height + 7) / 8;
    uint32_t bx, by, i, togo = ctx->restart, rst = 0;
    const char *why = NULL;

    bits_start(&b, src + pos, src + src_len);
    for (i = 0; i < ns; i++)
        sc[i].pred = 0;
    for (by = 0; by < bh; by++) {
        for (bx = 0; bx < bw; bx++) {
            if (ctx->restart && togo == 0) {
                /* RSTn (B.2.1): drop the padding bits, find the marker. */
                const uint8_t *q;
                if (b.count < b.zeros)
                    goto ran_out;
                q = b.pos;
                while (!(q < b.end && *q == 0xFF && b.end - q >= 2 && q[1] != 0x00)) {
                    if (q >= b.end)
                        return rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                                       "JPEG 12-bit: data ends where RST%u is due", rst);
                    q++;
                }
                while (b.end - q >= 2 && q[1] == 0xFF)
                    q++;
                if (!(b.end - q >= 2) || q[1] != 0xD0 + rst)
                    return rd_fail(err, RD_ERR_DECODE, (uint64_t)(q - src), RD_NO_TAG,
                                   "JPEG 12-bit: expected RST%u, found marker FF%02X", rst,
                                   b.end - q >= 2 ? (unsigned)q[1] : 0u);
                rst = (rst + 1) & 7;
                bits_start(&b, q + 2, src + src_len);
                for (i = 0; i < ns; i++)
                    sc[i].pred = 0;
                togo = ctx->restart;
            }
            if (ns == 1) {
                if (!decode_block(&b, &sc[0], out, bx, by, &why))
                    goto corrupt;
            } else {
                for (i = 0; i < ns; i++)
                    if (!decode_block(&b, &sc[i], out, bx, by, &why))
                        goto corrupt;
            }
            togo--;
        }
        if (b.count < b.zeros)
            goto ran_out;
    }
    *next = (uint64_t)(b.pos - src);
    return RD_OK;

corrupt:
    return rd_fail(err, RD_ERR_DECODE, (uint64_t)(b.pos - src), RD_NO_TAG,
                   "JPEG 12-bit: %s in block (%u, %u)", why, bx, by);
ran_out:
    return rd_fail(err, RD_ERR_DECODE, (uint64_t)(b.pos - src), RD_NO_TAG,
                   "JPEG 12-bit: entropy-coded data ends early (block row %u of %u)", by, bh);
}

/* ------------------------------------------------------------------------- */
/* Entry point                                                                */
/* ------------------------------------------------------------------------- */

rd_status
rd_jpeg12_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                       const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                       rd_error *err)
{
    j12_ctx *ctx = NULL;
    j12_out out;
    uint64_t max_pixels = RD_DEFAULT_MAX_PIXELS, pos;
    uint32_t bits_stored, ndone = 0;
    int have_sof = 0, nscans = 0;
    rd_status st = RD_OK;

    /* --- arguments and the frame description (nothing allocated yet) --- */
    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "JPEG 12-bit: NULL %s",
                       desc == NULL ? "frame description"
                       : dst == NULL ? "output buffer" : "input");
    rd_read_codec_options(options, NULL, NULL, &max_pixels);
    if (desc->bits_allocated != 16)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG 12-bit: Bits Allocated %u is not supported (12-bit JPEG "
                       "needs 16)", (unsigned)desc->bits_allocated);
    bits_stored = desc->bits_stored;
    if (bits_stored == 0 || bits_stored > 16)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "JPEG 12-bit: Bits Stored %u with Bits Allocated 16",
                       (unsigned)bits_stored);
    if (desc->samples_per_pixel == 0 || desc->samples_per_pixel > J12_MAX_COMPONENTS)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG 12-bit: %u samples per pixel (1 to 4 are supported)",
                       (unsigned)desc->samples_per_pixel);
    st = rd_check_frame_fits("JPEG 12-bit", desc, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    if (src_len > SIZE_MAX)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                       "JPEG 12-bit: %llu-byte codestream is too large for this platform",
                       (unsigned long long)src_len);
    out.dst = dst;
    out.width = desc->columns;
    out.height = desc->rows;
    out.nf = desc->samples_per_pixel;
    out.mask = bits_stored >= 16 ? 0xFFFFu : (1u << bits_stored) - 1u;
    out.sign = desc->pixel_representation ? 1u << (bits_stored - 1) : 0u;
#ifdef J12_SIMD
    out.simd = __builtin_cpu_supports("avx2");
#else
    out.simd = 0;
#endif

    if (!(2 <= src_len) || src[0] != 0xFF || src[1] != 0xD8)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG 12-bit: codestream does not start with SOI (FF D8)");
    ctx = (j12_ctx *)calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "JPEG 12-bit: out of memory");
    pos = 2;

    /* --- marker segments (B.2) until every component has been decoded --- */
    while (!(have_sof && ndone == ctx->nf)) {
        uint32_t m;
        uint64_t seglen, body;
        const uint8_t *p;
        const char *process;

        while (pos < src_len && src[pos] != 0xFF)
            pos++;
        while (pos + 1 < src_len && src[pos + 1] == 0xFF)
            pos++;
        if (pos >= src_len || !(2 <= src_len - pos)) {
            st = rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                         have_sof ? "JPEG 12-bit: codestream ends before every component "
                                    "was decoded"
                                  : "JPEG 12-bit: codestream ends before a SOF1 frame header");
            goto cleanup;
        }
        m = src[pos + 1];
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            pos += 2;                 /* FF00 / TEM / stray RSTn: no segment */
            continue;
        }
        if (m == 0xD8 || m == 0xD9) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG, "JPEG 12-bit: %s %s",
                         m == 0xD8 ? "second SOI" : "EOI",
                         have_sof ? "before every component was decoded"
                                  : "before a SOF1 frame header");
            goto cleanup;
        }
        if ((process = unsupported_process(m)) != NULL) {
            st = rd_fail(err, RD_ERR_UNSUPPORTED, pos, RD_NO_TAG,
                         "JPEG 12-bit: %s is not supported (sequential Huffman DCT only)",
                         process);
            goto cleanup;
        }
        if (!(4 <= src_len - pos)) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG 12-bit: marker FF%02X truncated", m);
            goto cleanup;
        }
        seglen = ((uint64_t)src[pos + 2] << 8) | src[pos + 3];
        if (seglen < 2 || !(seglen <= src_len - pos - 2)) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG 12-bit: segment FF%02X of length %llu does not fit", m,
                         (unsigned long long)seglen);
            goto cleanup;
        }
        body = pos + 4;
        p = src + body;
        seglen -= 2;
        pos = body + seglen;

        if (m == 0xC0 || m == 0xC1) {                          /* SOF0 / SOF1 */
            uint32_t prec, i;
            if (have_sof) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG 12-bit: second SOF marker");
                goto cleanup;
            }
            if (seglen < 6) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG, "JPEG 12-bit: SOF truncated");
                goto cleanup;
            }
            prec = p[0];
            ctx->height = ((uint32_t)p[1] << 8) | p[2];
            ctx->width = ((uint32_t)p[3] << 8) | p[4];
            ctx->nf = p[5];
            if (prec != 12) {
                st = rd_fail(err, RD_ERR_UNSUPPORTED, body, RD_NO_TAG,
                             "JPEG 12-bit: SOF%u precision %u (only 12-bit samples are "
                             "decoded here)", m - 0xC0, prec);
                goto cleanup;
            }
            if (ctx->height == 0) {
                st = rd_fail(err, RD_ERR_UNSUPPORTED, body, RD_NO_TAG,
                             "JPEG 12-bit: a height given by DNL is not supported");
                goto cleanup;
            }
            if (ctx->width != desc->columns || ctx->height != desc->rows
                || ctx->nf != desc->samples_per_pixel) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG 12-bit: codestream is %u x %u with %u components, the "
                             "dataset says %u x %u with %u samples", ctx->width, ctx->height,
                             ctx->nf, (unsigned)desc->columns, (unsigned)desc->rows,
                             (unsigned)desc->samples_per_pixel);
                goto cleanup;
            }
            if (!(3 * (uint64_t)ctx->nf <= seglen - 6)) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG 12-bit: SOF component list truncated");
                goto cleanup;
            }
            for (i = 0; i < ctx->nf; i++) {
                j12_comp *c = &ctx->comp[i];
                uint32_t j;
                c->id = p[6 + 3 * i];
                c->h = p[7 + 3 * i] >> 4;
                c->v = p[7 + 3 * i] & 15;
                c->tq = p[8 + 3 * i];
                if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) {
                    st = rd_fail(err, RD_ERR_DECODE, body + 6 + 3 * i, RD_NO_TAG,
                                 "JPEG 12-bit: component %u has sampling %ux%u, table %u",
                                 i, c->h, c->v, c->tq);
                    goto cleanup;
                }
                if (ctx->nf > 1 && (c->h != 1 || c->v != 1)) {
                    st = rd_fail(err, RD_ERR_UNSUPPORTED, body + 6 + 3 * i, RD_NO_TAG,
                                 "JPEG 12-bit: component %u has sampling factors %ux%u "
                                 "(subsampled colour is not supported)", i, c->h, c->v);
                    goto cleanup;
                }
                for (j = 0; j < i; j++)
                    if (ctx->comp[j].id == c->id) {
                        st = rd_fail(err, RD_ERR_DECODE, body + 6 + 3 * i, RD_NO_TAG,
                                     "JPEG 12-bit: component id %u used twice", c->id);
                        goto cleanup;
                    }
            }
            have_sof = 1;
        } else if (m == 0xC4) {                                 /* DHT */
            if ((st = parse_dht(ctx, p, seglen, body, err)) != RD_OK)
                goto cleanup;
        } else if (m == 0xDB) {                                 /* DQT */
            if ((st = parse_dqt(ctx, p, seglen, body, err)) != RD_OK)
                goto cleanup;
        } else if (m == 0xDD) {                                 /* DRI */
            if (seglen < 2) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG, "JPEG 12-bit: DRI truncated");
                goto cleanup;
            }
            ctx->restart = ((uint32_t)p[0] << 8) | p[1];
        } else if (m == 0xDA) {                                 /* SOS */
            j12_scomp sc[J12_MAX_COMPONENTS];
            uint32_t ns, i, j;
            if (!have_sof) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG 12-bit: SOS before the frame header");
                goto cleanup;
            }
            if (++nscans > 64) {
                st = rd_fail(err, RD_ERR_LIMIT, body, RD_NO_TAG,
                             "JPEG 12-bit: more than 64 scans");
                goto cleanup;
            }
            ns = seglen ? p[0] : 0;
            if (ns < 1 || ns > ctx->nf || !(1 + 2 * (uint64_t)ns + 3 <= seglen)) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG 12-bit: SOS with %u components in %llu bytes", ns,
                             (unsigned long long)seglen);
                goto cleanup;
            }
            for (i = 0; i < ns; i++) {
                uint32_t cid = p[1 + 2 * i], td = p[2 + 2 * i] >> 4, ta = p[2 + 2 * i] & 15;
                for (j = 0; j < ctx->nf && ctx->comp[j].id != cid; j++)
                    ;
                if (j == ctx->nf || ctx->comp[j].decoded || td > 3 || ta > 3) {
                    st = rd_fail(err, RD_ERR_DECODE, body + 1 + 2 * i, RD_NO_TAG,
                                 "JPEG 12-bit: SOS names component id %u (%s)", cid,
                                 j == ctx->nf ? "not in the frame"
                                 : ctx->comp[j].decoded ? "already decoded"
                                 : "table selector above 3");
                    goto cleanup;
                }
                if (!ctx->dc[td].defined || !ctx->ac[ta].defined
                    || !ctx->qdefined[ctx->comp[j].tq]) {
                    st = rd_fail(err, RD_ERR_DECODE, body + 1 + 2 * i, RD_NO_TAG,
                                 "JPEG 12-bit: component id %u uses an undefined %s table",
                                 cid, !ctx->dc[td].defined ? "DC Huffman"
                                      : !ctx->ac[ta].defined ? "AC Huffman" : "quantisation");
                    goto cleanup;
                }
                ctx->comp[j].decoded = 1;
                sc[i].c = j;
                sc[i].dc = &ctx->dc[td];
                sc[i].ac = &ctx->ac[ta];
                sc[i].q = ctx->qt[ctx->comp[j].tq];
            }
            /* Ss, Se, Ah/Al: ignored, as IJG does for sequential DCT. */
            st = decode_scan(ctx, sc, ns, &out, src, src_len, pos, &pos, err);
            if (st != RD_OK)
                goto cleanup;
            ndone += ns;
        } else if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE) {
            /* APPn, COM: skipped */
        } else if (m >= 0xC0 && m <= 0xCF) {
            st = rd_fail(err, RD_ERR_UNSUPPORTED, body, RD_NO_TAG,
                         "JPEG 12-bit: unsupported marker FF%02X", m);
            goto cleanup;
        }
        /* other markers (DHP-less JPEG-LS, reserved): skipped by length */
    }

cleanup:
    free(ctx);
    return st;
}
