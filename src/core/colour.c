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
 * table loads of exact products, three float roundings and clamps.
 *
 * Invariants: reads and writes exactly 3 * count bytes at `pixels`; each
 * pixel depends only on itself, so the result does not depend on how an
 * image is split into calls.
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

void
rd_ybr_full_to_rgb_u8(uint8_t *pixels, uint64_t count)
{
    /* Per-call tables of the exact products (1 KiB of work, 4.5 KiB of
     * stack); nothing global, so the function stays reentrant. */
    double cb_g[256], cr_g[256], cb_b[256];
    int cr_r[256];
    uint8_t *p = pixels;
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
    for (i = 0; i < count; i++, p += 3) {
        int y = p[0];
        double yd = (double)y;
        float t = (float)(yd + cb_g[p[1]]);
        float g = (float)((double)t + cr_g[p[2]]);
        float b = (float)(yd + cb_b[p[1]]);

        p[0] = clamp_u8(y + cr_r[p[2]]);
        p[1] = round_clip(g);
        p[2] = round_clip(b);
    }
}
