/*
 * colour.c - YBR_FULL to RGB for 8-bit samples, bit-identical to pydicom.
 *
 * pydicom 3.0.2 (pixels/processing.py, _convert_YBR_FULL_to_RGB) converts in
 * float32: it subtracts 128 from Cb and Cr, multiplies the (N, 3) array by
 * the float32 matrix
 *        R      G                     B
 *   Y    1      1                     1
 *   Cb   0      -0.114*1.772/0.587    1.772
 *   Cr   1.402  -0.299*1.402/0.587    0
 * with np.matmul, adds 0.5, floors and clips to 0..255.  np.matmul hands
 * float32 to OpenBLAS sgemm, whose kernels on every x86-64 CPU with FMA
 * (Haswell, Zen, SkylakeX, ...) accumulate k = 0, 1, 2 in order with fused
 * multiply-adds: out = fma(Cr, m2, fma(Cb, m1, Y * m0)).  Y * 1 is exact and
 * a term with coefficient 0 adds a signed zero, which changes nothing, so
 *     R = fl(Y + Cr*1.402f)
 *     G = fl(fl(Y + Cb*cbg) + Cr*crg)
 *     B = fl(Y + Cb*1.772f)
 * where fl() rounds the exact value once to float32.  (On CPUs without FMA,
 * OpenBLAS rounds every product and sum; 42 of the 2^24 inputs then give a G
 * one lower or higher.  We match the FMA result, which is what any current
 * machine produces; tests/test_rle_kernel.py checks all 2^24 inputs against
 * the numpy installed.)
 *
 * How fl() is computed without an FMA instruction: every term is exact in
 * double.  Y and Cb, Cr are integers below 2^9, each coefficient has a
 * 24-bit significand, so a product needs at most 33 bits and
 * Y + Cb*c at most 35 bits (terms of magnitude < 2^9 on a grid of 2^-25).
 * In G's second step the float32 t = fl(Y + Cb*cbg) is 0 or, over all
 * 256 x 256 (Y, Cb), at least 0.0047 > 2^-8 in magnitude (found by
 * enumeration), so t lies on a grid of 2^-31 or coarser and t + Cr*crg
 * (magnitude < 2^9) needs at most 40 bits.  So each double expression is
 * exact and its one conversion
 * to float is the single rounding fl() asks for - the same value fmaf()
 * gives, whether or not the compiler contracts the (exact) double multiply
 * and add.  The conversion back to 8 bits repeats numpy's float32 "+ 0.5",
 * then floor and clip.  (Default round-to-nearest is assumed, and the file
 * must not be built with -ffast-math, which would reassociate the sums.)
 *
 * R needs no float at all: over the 256 values of Cr, frac(Cr*1.402f + 0.5)
 * stays at least 0.0019 away from 0 and 1 (found by enumeration), while the
 * two float32 roundings move Y + Cr*1.402f + 0.5 by at most 2 * 2^-15, so
 * floor(fl(fl(Y + Cr*1.402f) + 0.5f)) = Y + floor(Cr*1.402f + 0.5) exactly,
 * an integer offset per Cr.  B and G have no such margin (inputs come within
 * 6e-6 and 3e-7 of a rounding boundary), so they follow numpy's roundings.
 *
 * Why it is fast: one pass in place, no allocation, no calls (not even
 * floorf), branch-free scalar code that needs only SSE2: per pixel three
 * table loads of exact products, three float roundings and clamps.  On
 * x86-64 CPUs with AVX2 and FMA (checked at run time) blocks of 16 pixels
 * go through the vector path below instead, about four times faster: an
 * FMA instruction rounds a*b + c once, which is fl() by definition, so the
 * vector path computes numpy's exact values with no double arithmetic.
 * Building with -DRD_NO_SIMD leaves only the scalar path (tests use it to
 * check both paths on every input).
 *
 * Invariants: reads 3 * count bytes at `src` and writes as many at `dst`
 * (the same buffer for the in-place call); each pixel is read before it is
 * written and depends only on itself, so the result does not depend on how
 * an image is split into calls.
 */
#include "rd_common.h"

/* pydicom's float32 matrix entries, written out exactly (hex floats). */
#define CR_TO_R 0x1.66e978p+0    /* (float)1.402 */
#define CB_TO_G (-0x1.606544p-2) /* (float)(-0.114 * 1.772 / 0.587) */
#define CR_TO_G (-0x1.6da346p-1) /* (float)(-0.299 * 1.402 / 0.587) */
#define CB_TO_B 0x1.c5a1cap+0    /* (float)1.772 */

static inline uint8_t
clamp_u8(int v)
{
    v = v < 0 ? 0 : v;
    return (uint8_t)(v > 255 ? 255 : v);
}

/*
 * numpy's  clip(floor(v + 0.5f), 0, 255)  for a float32 v with |v| < 2^10.
 * Truncation differs from floor only for negative non-integers, and those
 * clip to 0 either way.
 */
static inline uint8_t
round_clip(float v)
{
    return clamp_u8((int)(v + 0.5f)); /* float32 add, rounded like numpy's */
}

static void
ybr_full_to_rgb_scalar(const uint8_t *src, uint8_t *dst, uint64_t count)
{
    /* Per-call tables of the exact products (1 KiB of work, 4.5 KiB of
     * stack); nothing global, so the function stays reentrant. */
    double cb_g[256], cr_g[256], cb_b[256];
    int cr_r[256];
    uint64_t i;
    int k;

    for (k = 0; k < 256; k++) {
        double d = (double)(k - 128);
        double h = d * CR_TO_R + 0.5; /* exact */
        int f = (int)h;
        cb_g[k] = d * CB_TO_G;
        cr_g[k] = d * CR_TO_G;
        cb_b[k] = d * CB_TO_B;
        cr_r[k] = f - (h < (double)f); /* floor(h) */
    }
    for (i = 0; i < count; i++, src += 3, dst += 3) {
        int y = src[0], cb = src[1], cr = src[2]; /* read before dst is written */
        double yd = (double)y;
        float t = (float)(yd + cb_g[cb]);
        float g = (float)((double)t + cr_g[cr]);
        float b = (float)(yd + cb_b[cb]);

        dst[0] = clamp_u8(y + cr_r[cr]);
        dst[1] = round_clip(g);
        dst[2] = round_clip(b);
    }
}

/* ------------------------------------------------------------------------ */
/* AVX2 + FMA: 16 pixels (48 bytes) a step                                   */
/* ------------------------------------------------------------------------ */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(RD_NO_SIMD)
#include <immintrin.h>
#define RD_YBR_SIMD 1
#define RD_TARGET_AVX2 __attribute__((target("avx2,fma")))

/* 8 bytes -> 8 floats */
RD_TARGET_AVX2 static inline __m256
widen8(__m128i bytes)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

/* numpy's clip(floor(v + 0.5f), 0, 255), as round_clip() above */
RD_TARGET_AVX2 static inline __m256i
round_clip8(__m256 v)
{
    v = _mm256_add_ps(v, _mm256_set1_ps(0.5f));
    v = _mm256_max_ps(v, _mm256_setzero_ps());
    v = _mm256_min_ps(v, _mm256_set1_ps(255.0f));
    return _mm256_cvttps_epi32(v);
}

/* Two vectors of 8 values in 0..255 -> 16 bytes in the same order. */
RD_TARGET_AVX2 static inline __m128i
narrow16(__m256i lo, __m256i hi)
{
    /* packus works per 128-bit lane; the permute puts the quarters back. */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
    return _mm_packus_epi16(_mm256_castsi256_si128(w),
                            _mm256_extracti128_si256(w, 1));
}

/*
 * Converts the leading multiple of 16 pixels; returns how many it did.
 * Three byte shuffles per channel split 48 interleaved bytes into Y, Cb
 * and Cr vectors, and three per output vector interleave R, G, B again.
 */
RD_TARGET_AVX2 static uint64_t
ybr_full_to_rgb_avx2(const uint8_t *src, uint8_t *dst, uint64_t count)
{
    /* Shuffle masks [channel][16-byte vector][byte]; -128 selects zero. */
    int8_t split[3][3][16], join[3][3][16];
    __m128i split_mask[3][3], join_mask[3][3];
    const __m256 half_range = _mm256_set1_ps(128.0f);
    const __m256 cr_r = _mm256_set1_ps(CR_TO_R), cb_g = _mm256_set1_ps(CB_TO_G);
    const __m256 cr_g = _mm256_set1_ps(CR_TO_G), cb_b = _mm256_set1_ps(CB_TO_B);
    uint64_t done = 0;
    int k, s, j;

    for (k = 0; k < 3; k++)
        for (s = 0; s < 3; s++) {
            for (j = 0; j < 16; j++) {
                int from = 3 * j + k - 16 * s; /* byte of pixel j, channel k */
                int to = 16 * s + j;           /* output byte */
                split[k][s][j] = (int8_t)(from >= 0 && from < 16 ? from : -128);
                join[k][s][j] = (int8_t)(to % 3 == k ? to / 3 : -128);
            }
            split_mask[k][s] = _mm_loadu_si128((const __m128i *)split[k][s]);
            join_mask[k][s] = _mm_loadu_si128((const __m128i *)join[k][s]);
        }

    for (; count - done >= 16; done += 16) {
        const uint8_t *p = src + 3 * done;
        uint8_t *q = dst + 3 * done;
        __m128i in[3], channel[3];
        __m256i r[2], g[2], b[2];
        int half;

        for (s = 0; s < 3; s++)
            in[s] = _mm_loadu_si128((const __m128i *)(p + 16 * s));
        for (k = 0; k < 3; k++)
            channel[k] = _mm_or_si128(
                _mm_or_si128(_mm_shuffle_epi8(in[0], split_mask[k][0]),
                             _mm_shuffle_epi8(in[1], split_mask[k][1])),
                _mm_shuffle_epi8(in[2], split_mask[k][2]));
        for (half = 0; half < 2; half++) {
            __m128i y8 = half ? _mm_srli_si128(channel[0], 8) : channel[0];
            __m128i cb8 = half ? _mm_srli_si128(channel[1], 8) : channel[1];
            __m128i cr8 = half ? _mm_srli_si128(channel[2], 8) : channel[2];
            __m256 y = widen8(y8);
            __m256 cb = _mm256_sub_ps(widen8(cb8), half_range);
            __m256 cr = _mm256_sub_ps(widen8(cr8), half_range);
            __m256 t = _mm256_fmadd_ps(cb, cb_g, y);

            r[half] = round_clip8(_mm256_fmadd_ps(cr, cr_r, y));
            g[half] = round_clip8(_mm256_fmadd_ps(cr, cr_g, t));
            b[half] = round_clip8(_mm256_fmadd_ps(cb, cb_b, y));
        }
        channel[0] = narrow16(r[0], r[1]);
        channel[1] = narrow16(g[0], g[1]);
        channel[2] = narrow16(b[0], b[1]);
        for (s = 0; s < 3; s++)
            _mm_storeu_si128((__m128i *)(q + 16 * s), _mm_or_si128(
                _mm_or_si128(_mm_shuffle_epi8(channel[0], join_mask[0][s]),
                             _mm_shuffle_epi8(channel[1], join_mask[1][s])),
                _mm_shuffle_epi8(channel[2], join_mask[2][s])));
    }
    return done;
}
#endif

void
rd_ybr_full_to_rgb_u8_copy(const uint8_t *src, uint8_t *dst, uint64_t count)
{
    uint64_t done = 0;

#ifdef RD_YBR_SIMD
    /* Reads CPU flags the runtime filled in at load time; no state of ours. */
    if (count >= 16 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        done = ybr_full_to_rgb_avx2(src, dst, count);
#endif
    ybr_full_to_rgb_scalar(src + 3 * done, dst + 3 * done, count - done);
}

void
rd_ybr_full_to_rgb_u8(uint8_t *pixels, uint64_t count)
{
    rd_ybr_full_to_rgb_u8_copy(pixels, pixels, count);
}
