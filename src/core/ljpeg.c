/*
 * ljpeg.c - JPEG lossless, ITU-T T.81 process 14 (Huffman coding, any
 * predictor 1-7, point transform; DICOM transfer syntaxes
 * 1.2.840.10008.1.2.4.57 and its first-order-prediction subset .70) frame
 * decoder, written from the standard: Annex B (marker syntax), Annex C and
 * F.2.2 (Huffman tables and decoding), Annex H (lossless coding).
 *
 * What is decoded:
 *   SOI, SOF3 (precision P 2..16, 1..4 components, sampling factors 1x1),
 *   DHT (tables 0..3; AC-class tables are accepted and ignored), DRI and
 *   RSTn, SOS (Ns 1..4, predictor Ss 1..7, point transform Al), APPn / COM /
 *   DQT / other segments skipped, EOI.  Interleaved scans and any split of
 *   the components over several scans (one scan per component, ...).
 *   Everything else - other SOFn processes, arithmetic coding (DAC, SOF11),
 *   hierarchical mode (DHP, EXP), sampling factors other than 1, a height
 *   given by DNL - is RD_ERR_UNSUPPORTED.
 *
 * Reconstruction (H.1.2): Px from Table H.1 in full int arithmetic (">> 1"
 * an arithmetic shift, i.e. floor), Rx = (Px + difference) mod 2^16, as
 * H.1.2.1 says ("the difference is decoded and added, modulo 2^16, to the
 * prediction").  Decoders that clamp Px + diff to 0..2^P-1 instead give
 * different pixels wherever an encoder wrapped a 16-bit difference (e.g.
 * 0 after 65535); tests/c/test_ljpeg.c holds a hand-built stream proving
 * the wrap.  SSSS = 16 means a difference of 32768 with no extra bits
 * (H.1.2.2).  The first sample of a scan and of each restart interval is
 * predicted by 2^(P-Pt-1); the rest of that line by Ra; the first sample of
 * every other line by Rb; everything else by the scan's predictor.  A
 * restart interval (DRI, in MCUs = pixels here) must be a whole number of
 * lines, since the predictor rules above only make sense for restarts at
 * line starts; other intervals are RD_ERR_UNSUPPORTED (GDCM's libjpeg
 * refuses them as well; pylibjpeg-libjpeg decodes them to clamped
 * garbage).
 *
 * Output (rapidicom.h contract), equal to pydicom 3.0.2's pixel_array for
 * the frame (its gdcm and pylibjpeg plugins both return the samples as
 * decoded; for JPEG lossless pydicom then only applies its Bits Stored
 * correction):
 *   - samples interleaved (component order of SOF3), one byte each when
 *     Bits Allocated is 8, two bytes little endian when it is 16;
 *   - each sample is Rx << Pt, cut to its Bits Stored low bits and then
 *     zero-extended (Pixel Representation 0) or sign-extended (1) - what
 *     pydicom's _correct_unused_bits does with its left/right shift pair.
 *     JPEG lossless has no signed samples: signed data is the two's
 *     complement bit pattern, and sign extension from Bits Stored gives
 *     pydicom's value;
 *   - colour: samples as coded, no transform.  RGB stays RGB, YBR_FULL /
 *     YBR_FULL_422 stay YCbCr (the caller converts, as pydicom does).  One
 *     exception follows pydicom's _conform_jpg_colorspace: with three
 *     samples, an APPn segment before the SOF whose payload starts "JFIF",
 *     and a Photometric Interpretation without "YBR" (and not: component
 *     ids 'R','G','B' / 'r','g','b' with a PI other than RGB), pydicom
 *     relabels the data YBR_FULL and converts it to RGB; for 8-bit
 *     unsigned data (the only kind pydicom can convert) this decoder does
 *     the same with rd_ybr_full_to_rgb_u8, unless RD_CODEC_KEEP_YBR is set.
 *     (The reverse case - PI YBR_FULL but component ids 'R','G','B', where
 *     pydicom does not convert - is left to the caller.)
 *   - Planar Configuration is ignored: for JPEG the codestream fixes the
 *     layout (PS3.5 8.2.1).  pydicom instead reads a PC=1 dataset's
 *     interleaved decoder output as planar (scrambled pixels); we do not
 *     copy that.
 *
 * Why it is fast:
 *   - the bit reader keeps a 64-bit MSB-first buffer and refills it with
 *     one unaligned 8-byte load whenever those 8 bytes hold no 0xFF (the
 *     common case), taking 7 bytes at once; only near an 0xFF (stuffing or
 *     a marker) does it go byte by byte.  A refill happens when fewer than
 *     32 bits are left, which covers any one difference (<= 16 + 15 bits);
 *   - one lookup in an 11-bit table decodes a whole difference - the
 *     Huffman code AND its extra bits - whenever both fit in 11 bits (nearly
 *     always); longer ones get the code length and SSSS from the same
 *     lookup and read the extra bits directly; only codes longer than 11
 *     bits take the canonical slow path (F.2.2.3), out of line;
 *   - one-component lines (nearly all DICOM data) use a second, 12-bit
 *     "pair" table that decodes TWO small differences per lookup, halving
 *     the serial bit-reader chain on low-entropy images (the corpus's 8-bit
 *     and 16-bit files decode ~1.5x faster); both samples are reconstructed
 *     and the loop advances by one or two with selects, not branches.  A
 *     line where fewer than a quarter of the samples came in pairs switches
 *     to the one-difference loop for 32 lines (noisy 16-bit data rarely
 *     pairs, and there the pair bookkeeping would only cost);
 *   - the sample loops are specialised at compile time for each predictor
 *     (1-7) and for one and three components: no per-sample switch, no
 *     function pointers (two and four components share one generic loop).
 *     Two rows of 16-bit samples are kept (the predictor needs the row
 *     above); each finished row is written to dst in one pass that applies
 *     the point transform and the Bits Stored fix.
 *
 * Invariants:
 *   - the frame description is checked (sizes, dst_cap, rows*columns
 *     against max_pixels) before anything is read, and SOF3's width,
 *     height, component count and precision are checked against it before
 *     the one allocation (Huffman tables + two rows), freed at the single
 *     cleanup label;
 *   - every marker-segment read is bounds-checked as `need <= len - pos`;
 *     the bit reader never reads at or past `end`, never reads past a
 *     marker, and after one appends zero bits, counting them in `zeros`;
 *     consuming any of them (count < zeros) means the entropy-coded data
 *     ended early, which is an error, checked after every row;
 *   - the bit buffer always holds >= 32 valid bits before a difference is
 *     decoded; bits below `count` in `buf` are zero or equal to the data
 *     bits that later refills OR in again (so OR-ing is idempotent);
 *   - on failure dst may be partly written.
 */
#include <stddef.h>
#include <stdlib.h>

#include "rd_common.h"

#define LJ_MAX_COMPONENTS 4u
#ifndef LJ_FAST_BITS
#define LJ_FAST_BITS 11u
#endif
#define LJ_FAST_SIZE (1u << LJ_FAST_BITS)

/* Fast-table entries (uint32):
 *   full     ((diff + 65536) << 8) | len   len = code + extra bits, 1..11
 *   partial  (ssss << 8) | 0x40 | len      len = code bits; ssss 1..15
 *   slow     0x40                          code longer than 11 bits, or bad */
#define LJ_PARTIAL 0x40u
#define LJ_SLOW LJ_PARTIAL
#define LJ_DIFF_BIAS 65536

/* Pair-table entries (uint32), for one-component scans, indexed by the
 * next LJ_PAIR_BITS bits:
 *   bits 0-3    bits taken by the one or two differences; 0: no entry
 *               (decode one difference the ordinary way)
 *   bit 4       set when the entry holds two differences
 *   bits 5-16   second difference + 2048
 *   bits 17-28  first difference + 2048
 * Only differences whose code and extra bits fit (|diff| <= 2047) are
 * paired; the bit count needs LJ_PAIR_BITS <= 15. */
#ifndef LJ_PAIR_BITS
#define LJ_PAIR_BITS 12u
#endif
#define LJ_PAIR_SIZE (1u << LJ_PAIR_BITS)
#if LJ_FAST_BITS < 8 || LJ_FAST_BITS > LJ_PAIR_BITS || LJ_PAIR_BITS > 15
#error "need 8 <= LJ_FAST_BITS <= LJ_PAIR_BITS <= 15"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LJ_INLINE static inline __attribute__((always_inline))
#define LJ_NOINLINE static __attribute__((noinline))
#else
#define LJ_INLINE static inline
#define LJ_NOINLINE static
#endif

/* floor(v / 2) - T.81's "arithmetic shift right" - for -65535 <= v <= 65535,
 * without the implementation-defined >> of a negative int and without a
 * branch: v + 65536 is positive and 65536 is even. */
#define LJ_ASR1(v) ((((v) + 65536) >> 1) - 32768)

/* ------------------------------------------------------------------------- */
/* Huffman tables                                                             */
/* ------------------------------------------------------------------------- */

/* A table as DHT defines it (B.2.4.2). */
typedef struct lj_hspec {
    uint8_t defined;
    uint8_t counts[17];      /* counts[l]: codes of length l, l = 1..16 */
    uint8_t vals[256];       /* HUFFVAL, in code order */
    uint32_t nvals;
} lj_hspec;

/* The decoding form of a table. */
typedef struct lj_htab {
    uint32_t fast[LJ_FAST_SIZE];
    uint32_t pair[LJ_PAIR_SIZE];  /* built only for one-component scans */
    int32_t maxcode[17];     /* largest code of length l, -1 if none (F.2.2.3) */
    int32_t valoff[17];      /* vals index of code c of length l: c + valoff[l] */
    uint8_t vals[256];
} lj_htab;

/* Difference for SSSS = s (1..15) and the s extra bits v (F.2.2.1, H.1.2.2):
 * v's top bit set means v itself, else v - (2^s - 1). */
LJ_INLINE int32_t
extend(uint32_t v, uint32_t s)
{
    uint32_t negative = ((v >> (s - 1)) & 1u) ^ 1u;
    return (int32_t)v - (int32_t)(negative * ((1u << s) - 1u));
}

/*
 * Build the decoding table of `spec` (Annex C: canonical codes, lengths in
 * order).  Returns 0 when the code lengths over-fill the code space.
 */
static int
build_htab(lj_htab *t, const lj_hspec *spec)
{
    uint32_t code = 0, k = 0, l, i, j;

    for (i = 0; i < LJ_FAST_SIZE; i++)
        t->fast[i] = LJ_SLOW;
    memcpy(t->vals, spec->vals, sizeof(t->vals));
    t->maxcode[0] = -1;
    t->valoff[0] = 0;
    for (l = 1; l <= 16; l++) {
        uint32_t n = spec->counts[l];
        t->valoff[l] = (int32_t)k - (int32_t)code;
        for (i = 0; i < n; i++, k++, code++) {
            uint32_t s = spec->vals[k];
            uint32_t extra, span, base;

            if (code >= (1u << l))
                return 0;
            if (l > LJ_FAST_BITS || s > 16)
                continue;                      /* slow path decodes / rejects it */
            extra = s == 16 ? 0 : s;
            span = 1u << (LJ_FAST_BITS - l);
            base = code << (LJ_FAST_BITS - l);
            if (l + extra <= LJ_FAST_BITS) {
                for (j = 0; j < span; j++) {
                    int32_t diff;
                    if (s == 0)
                        diff = 0;
                    else if (s == 16)
                        diff = 32768;
                    else
                        diff = extend((j >> (LJ_FAST_BITS - l - extra)) & ((1u << extra) - 1u),
                                      extra);
                    t->fast[base + j] = ((uint32_t)(diff + LJ_DIFF_BIAS) << 8) | (l + extra);
                }
            } else {
                for (j = 0; j < span; j++)
                    t->fast[base + j] = (s << 8) | LJ_PARTIAL | l;
            }
        }
        t->maxcode[l] = n ? (int32_t)code - 1 : -1;
        code <<= 1;
    }
    return 1;
}

/*
 * The pair table of `t` from its fast table: for each LJ_PAIR_BITS-bit
 * index, the difference that the leading bits fully decode to, and a second
 * one if the bits left decode fully too.  A fast-table entry of length L is
 * the same for every index sharing those L bits, so looking the remaining
 * bits up (zero-filled) is exact whenever the second length fits in them.
 */
static void
build_pairs(lj_htab *t)
{
    uint32_t i;

    for (i = 0; i < LJ_PAIR_SIZE; i++) {
        uint32_t e1 = t->fast[i >> (LJ_PAIR_BITS - LJ_FAST_BITS)], e2, l1, l2, rest;
        int32_t d1, d2;

        t->pair[i] = 0;
        if (e1 & LJ_PARTIAL)
            continue;
        l1 = e1 & 0x3Fu;
        d1 = (int32_t)(e1 >> 8) - LJ_DIFF_BIAS;
        if (d1 < -2047 || d1 > 2047)
            continue;
        t->pair[i] = ((uint32_t)(d1 + 2048) << 17) | (2048u << 5) | l1;
        rest = (i << l1) & (LJ_PAIR_SIZE - 1);
        e2 = t->fast[rest >> (LJ_PAIR_BITS - LJ_FAST_BITS)];
        if (e2 & LJ_PARTIAL)
            continue;
        l2 = e2 & 0x3Fu;
        d2 = (int32_t)(e2 >> 8) - LJ_DIFF_BIAS;
        if (l1 + l2 > LJ_PAIR_BITS || d2 < -2047 || d2 > 2047)
            continue;
        t->pair[i] = ((uint32_t)(d1 + 2048) << 17) | ((uint32_t)(d2 + 2048) << 5) | 16u
                     | (l1 + l2);
    }
}

/* ------------------------------------------------------------------------- */
/* Bit reader                                                                 */
/* ------------------------------------------------------------------------- */

typedef struct lj_bits {
    uint64_t buf;            /* next bits, most significant first */
    uint64_t zeros;          /* zero bits appended after the data ended */
    uint32_t count;          /* valid bits at the top of buf (< 64 between refills) */
    int ended;               /* a marker or the end of the input was reached */
    int bad;                 /* an invalid Huffman code was met */
    const uint8_t *pos;      /* next byte; at the marker's 0xFF once ended */
    const uint8_t *end;
} lj_bits;

static void
bits_start(lj_bits *b, const uint8_t *pos, const uint8_t *end)
{
    b->buf = 0;
    b->zeros = 0;
    b->count = 0;
    b->ended = 0;
    b->bad = 0;
    b->pos = pos;
    b->end = end;
}

/*
 * Byte-wise refill: handles FF00 stuffing, stops at a marker (or the end)
 * and from then on appends zero bytes, counted in `zeros`.  The state goes
 * in and out by value, so that the callers' copy is never address-taken
 * and stays in registers in the sample loops.
 */
LJ_NOINLINE lj_bits
bits_refill_slow(lj_bits b)
{
    while (b.count <= 56) {
        uint32_t byte = 0;
        if (!b.ended) {
            if (b.pos == b.end) {
                b.ended = 1;
                continue;
            }
            byte = *b.pos;
            if (byte == 0xFF) {
                if (b.end - b.pos >= 2 && b.pos[1] == 0x00) {
                    b.pos += 2;
                } else {
                    b.ended = 1;           /* a marker (or a lone 0xFF at the end) */
                    continue;
                }
            } else {
                b.pos++;
            }
        } else {
            b.zeros += 8;
        }
        b.buf |= (uint64_t)byte << (56 - b.count);
        b.count += 8;
    }
    return b;
}

/*
 * Top the buffer up to >= 56 bits.  Fast path: the next 8 bytes contain no
 * 0xFF, so they are plain data; OR all 64 of their bits in below the valid
 * ones and advance by the whole bytes that fitted (count becomes 56..63).
 * The partly fitted byte's bits are the same ones the next refill ORs in.
 */
LJ_INLINE void
bits_refill(lj_bits *b)
{
    if (RD_LIKELY(b->end - b->pos >= 8)) {
        uint64_t w = rd_be64(b->pos);
        if (RD_LIKELY(rd_no_ff_byte(w))) {
            b->buf |= w >> b->count;
            b->pos += (63 - b->count) >> 3;
            b->count |= 56;
            return;
        }
    }
    *b = bits_refill_slow(*b);
}

/* decode_diff_slow's result: the reader's new state and the difference. */
typedef struct lj_slow {
    lj_bits b;
    int32_t diff;
} lj_slow;

/* Canonical decoding (F.2.2.3) for codes longer than the fast table, and
 * for invalid codes / symbols (then b.bad is set and the difference is 0).
 * By value in and out, like bits_refill_slow. */
LJ_NOINLINE lj_slow
decode_diff_slow(lj_bits b, const lj_htab *t)
{
    lj_slow r;
    uint32_t c16 = (uint32_t)(b.buf >> 48), l;

    r.diff = 0;
    for (l = 1; l <= 16; l++) {
        int32_t code = (int32_t)(c16 >> (16 - l));
        if (code <= t->maxcode[l]) {
            uint32_t s = t->vals[code + t->valoff[l]], v;
            b.buf <<= l;
            b.count -= l;
            if (s == 16) {
                r.diff = 32768;
            } else if (s > 16) {
                b.bad = 1;
            } else if (s != 0) {
                v = (uint32_t)(b.buf >> (64 - s));
                b.buf <<= s;
                b.count -= s;
                r.diff = extend(v, s);
            }
            r.b = b;
            return r;
        }
    }
    b.bad = 1;
    b.buf <<= 16;
    b.count -= 16;
    r.b = b;
    return r;
}

/* One difference (code + extra bits). */
LJ_INLINE int32_t
decode_diff(lj_bits *b, const lj_htab *t)
{
    uint32_t e, n;

    if (b->count < 32)
        bits_refill(b);
    e = t->fast[b->buf >> (64 - LJ_FAST_BITS)];
    n = e & 0x3Fu;
    if (RD_LIKELY(!(e & LJ_PARTIAL))) {
        b->buf <<= n;
        b->count -= n;
        return (int32_t)(e >> 8) - LJ_DIFF_BIAS;
    }
    if (RD_LIKELY(n != 0)) {
        uint32_t s = e >> 8, v;
        b->buf <<= n;
        v = (uint32_t)(b->buf >> (64 - s));
        b->buf <<= s;
        b->count -= n + s;
        return extend(v, s);
    }
    {
        lj_slow r = decode_diff_slow(*b, t);
        *b = r.b;
        return r.diff;
    }
}

/* ------------------------------------------------------------------------- */
/* Sample loops                                                               */
/* ------------------------------------------------------------------------- */

/* Table H.1.  Ra, Rb, Rc are 0..65535; the result may leave that range and
 * is added to the difference modulo 2^16 by the caller. */
LJ_INLINE int32_t
predict(uint32_t psv, int32_t ra, int32_t rb, int32_t rc)
{
    switch (psv) {
    case 1: return ra;
    case 2: return rb;
    case 3: return rc;
    case 4: return ra + rb - rc;
    case 5: return ra + LJ_ASR1(rb - rc);
    case 6: return rb + LJ_ASR1(ra - rc);
    default: return (ra + rb) >> 1;
    }
}

/*
 * Samples x0..x1-1 of a line that is the first of the scan or of a restart
 * interval (x0 is 0: restarts fall between lines): the first sample of each
 * component is predicted by `initial`, the rest by Ra.  `cur` holds ns
 * samples per pixel.
 */
LJ_INLINE void
run_first(lj_bits *bp, const lj_htab *const *tab, uint16_t *cur, uint32_t x0, uint32_t x1,
          uint32_t ns, int32_t initial)
{
    lj_bits b = *bp;                    /* a local copy lives in registers */
    const lj_htab *t[LJ_MAX_COMPONENTS];
    uint32_t ra[LJ_MAX_COMPONENTS];     /* Ra, kept in registers, not re-read */
    uint32_t x, k;
    uint16_t *p = cur + (size_t)x0 * ns;

    for (k = 0; k < ns; k++) {
        t[k] = tab[k];
        ra[k] = (uint16_t)(initial + decode_diff(&b, t[k]));
        p[k] = (uint16_t)ra[k];
    }
    for (x = x0 + 1; x < x1; x++) {
        p += ns;
        for (k = 0; k < ns; k++) {
            ra[k] = (uint16_t)(ra[k] + (uint32_t)decode_diff(&b, t[k]));
            p[k] = (uint16_t)ra[k];
        }
    }
    *bp = b;
}

/* Samples 0..x1-1 of any other line: Rb first, then the predictor. */
LJ_INLINE void
run_normal(lj_bits *bp, const lj_htab *const *tab, uint16_t *cur, const uint16_t *prev,
           uint32_t x1, uint32_t ns, uint32_t psv)
{
    lj_bits b = *bp;
    const lj_htab *t[LJ_MAX_COMPONENTS];
    int32_t ra[LJ_MAX_COMPONENTS], rc[LJ_MAX_COMPONENTS];   /* carried in registers */
    uint32_t x, k;

    for (k = 0; k < ns; k++) {
        t[k] = tab[k];
        rc[k] = prev[k];
        ra[k] = (uint16_t)(rc[k] + decode_diff(&b, t[k]));
        cur[k] = (uint16_t)ra[k];
    }
    for (x = 1; x < x1; x++) {
        uint16_t *c = cur + (size_t)x * ns;
        const uint16_t *u = prev + (size_t)x * ns;        /* Rb */
        for (k = 0; k < ns; k++) {
            int32_t rb = u[k];
            int32_t px = predict(psv, ra[k], rb, rc[k]);
            ra[k] = (uint16_t)(px + decode_diff(&b, t[k]));
            rc[k] = rb;
            c[k] = (uint16_t)ra[k];
        }
    }
    *bp = b;
}

/*
 * run_normal() for one component, two samples per table lookup where the
 * pair table has them: both are reconstructed (the second from the first
 * as its Ra) and stored, then Ra / Rc and x move on by one or two - with
 * selects, not branches, so mixing pairs and singles costs nothing.  (When
 * only one difference was decoded the second store is overwritten by the
 * next step; x + 1 < x1 keeps it inside the line.)
 */
LJ_INLINE uint32_t
run_normal_pairs(lj_bits *bp, const lj_htab *t, uint16_t *cur, const uint16_t *prev,
                 uint32_t x1, uint32_t psv)
{
    lj_bits b = *bp;
    int32_t ra, rc = prev[0];
    uint32_t x = 1, paired = 0;

    ra = (uint16_t)(rc + decode_diff(&b, t));
    cur[0] = (uint16_t)ra;
    while (x + 1 < x1) {
        uint32_t e;
        if (b.count < 32)
            bits_refill(&b);
        e = t->pair[b.buf >> (64 - LJ_PAIR_BITS)];
        if (RD_LIKELY(e & 15u)) {
            uint32_t n = e & 15u, two = (e >> 4) & 1u;
            int32_t rb1 = prev[x], rb2 = prev[x + 1];
            int32_t s1 = (uint16_t)(predict(psv, ra, rb1, rc) + ((int32_t)(e >> 17) - 2048));
            int32_t s2 = (uint16_t)(predict(psv, s1, rb2, rb1)
                                    + ((int32_t)((e >> 5) & 0xFFFu) - 2048));
            b.buf <<= n;
            b.count -= n;
            cur[x] = (uint16_t)s1;
            cur[x + 1] = (uint16_t)s2;
            ra = two ? s2 : s1;
            rc = two ? rb2 : rb1;
            x += 1 + two;
            paired += two;
        } else {
            int32_t rb = prev[x];
            ra = (uint16_t)(predict(psv, ra, rb, rc) + decode_diff(&b, t));
            rc = rb;
            cur[x++] = (uint16_t)ra;
        }
    }
    for (; x < x1; x++) {
        int32_t rb = prev[x];
        ra = (uint16_t)(predict(psv, ra, rb, rc) + decode_diff(&b, t));
        rc = rb;
        cur[x] = (uint16_t)ra;
    }
    *bp = b;
    return paired;
}

/*
 * The dispatchers: one compiled copy of each loop per predictor for one
 * and three components (monochrome, RGB / YBR: every real DICOM case), and
 * one generic copy (component count and predictor read at run time) for
 * two and four.
 */
static void
decode_first(lj_bits *b, const lj_htab *const *tab, uint16_t *cur, uint32_t x0, uint32_t x1,
             uint32_t ns, int32_t initial)
{
    switch (ns) {
    case 1: run_first(b, tab, cur, x0, x1, 1, initial); break;
    case 3: run_first(b, tab, cur, x0, x1, 3, initial); break;
    default: run_first(b, tab, cur, x0, x1, ns, initial); break;
    }
}

#define LJ_PAIR_CASES                                                                  \
    case 64 + 8 + 1: return run_normal_pairs(b, tab[0], cur, prev, x1, 1);            \
    case 64 + 8 + 2: return run_normal_pairs(b, tab[0], cur, prev, x1, 2);            \
    case 64 + 8 + 3: return run_normal_pairs(b, tab[0], cur, prev, x1, 3);            \
    case 64 + 8 + 4: return run_normal_pairs(b, tab[0], cur, prev, x1, 4);            \
    case 64 + 8 + 5: return run_normal_pairs(b, tab[0], cur, prev, x1, 5);            \
    case 64 + 8 + 6: return run_normal_pairs(b, tab[0], cur, prev, x1, 6);            \
    case 64 + 8 + 7: return run_normal_pairs(b, tab[0], cur, prev, x1, 7);

#define LJ_NORMAL_CASES(NS)                                                            \
    case NS * 8 + 1: run_normal(b, tab, cur, prev, x1, NS, 1); break;                  \
    case NS * 8 + 2: run_normal(b, tab, cur, prev, x1, NS, 2); break;                  \
    case NS * 8 + 3: run_normal(b, tab, cur, prev, x1, NS, 3); break;                  \
    case NS * 8 + 4: run_normal(b, tab, cur, prev, x1, NS, 4); break;                  \
    case NS * 8 + 5: run_normal(b, tab, cur, prev, x1, NS, 5); break;                  \
    case NS * 8 + 6: run_normal(b, tab, cur, prev, x1, NS, 6); break;                  \
    case NS * 8 + 7: run_normal(b, tab, cur, prev, x1, NS, 7); break;

/* Returns the samples decoded in pairs (0 unless `pairs` and ns == 1). */
static uint32_t
decode_normal(lj_bits *b, const lj_htab *const *tab, uint16_t *cur, const uint16_t *prev,
              uint32_t x1, uint32_t ns, uint32_t psv, int pairs)
{
    switch ((pairs && ns == 1 ? 64 : 0) + ns * 8 + psv) {
    LJ_PAIR_CASES
    LJ_NORMAL_CASES(1)
    LJ_NORMAL_CASES(3)
    default: run_normal(b, tab, cur, prev, x1, ns, psv); break;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Output                                                                     */
/* ------------------------------------------------------------------------- */

/* How decoded samples become output samples. */
typedef struct lj_out {
    uint8_t *dst;
    uint32_t bytes;          /* 1 or 2 */
    uint32_t nf;             /* samples per pixel in dst */
    uint32_t mask;           /* Bits Stored low bits */
    uint32_t sign;           /* 1 << (Bits Stored - 1) when signed, else 0 */
} lj_out;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LJ_LITTLE_ENDIAN 1
#else
#define LJ_LITTLE_ENDIAN 0
#endif

/* Output value of one decoded sample: (Rx << pt) cut to Bits Stored,
 * zero- or sign-extended (as an unsigned 32-bit pattern). */
LJ_INLINE uint32_t
out_value(uint32_t rx, uint32_t pt, uint32_t mask, uint32_t sign)
{
    return (((rx << pt) & mask) ^ sign) - sign;
}

/* n samples, all components of the frame in order, to 16-bit output. */
static void
put16_contiguous(uint8_t *restrict d, const uint16_t *restrict c, uint64_t n, uint32_t pt,
                 uint32_t mask, uint32_t sign)
{
    uint64_t i;

    if (LJ_LITTLE_ENDIAN && pt == 0 && mask == 0xFFFFu) {
        memcpy(d, c, (size_t)n * 2);       /* Bits Stored 16: nothing to change */
        return;
    }
    for (i = 0; i < n; i++) {
        uint16_t v = (uint16_t)out_value(c[i], pt, mask, sign);
#if LJ_LITTLE_ENDIAN
        memcpy(d + 2 * i, &v, 2);
#else
        d[2 * i] = (uint8_t)v;
        d[2 * i + 1] = (uint8_t)(v >> 8);
#endif
    }
}

static void
put8_contiguous(uint8_t *restrict d, const uint16_t *restrict c, uint64_t n, uint32_t pt,
                uint32_t mask, uint32_t sign)
{
    uint64_t i;

    for (i = 0; i < n; i++)
        d[i] = (uint8_t)out_value(c[i], pt, mask, sign);
}

/* Write line `row` of a scan (ns samples per pixel, scan component j going
 * to output sample comp[j]) to dst. */
static void
put_row(const lj_out *o, const uint16_t *cur, uint32_t width, uint32_t row, uint32_t ns,
        const uint32_t *comp, uint32_t pt)
{
    uint64_t line = (uint64_t)width * o->nf, x;
    uint32_t mask = o->mask, sign = o->sign, nf = o->nf, j;
    uint8_t *d = o->dst + (uint64_t)row * line * o->bytes;
    int identity = ns == nf;

    for (j = 0; j < ns; j++)
        identity &= comp[j] == j;
    if (identity) {                 /* scan components are the frame's, in order */
        if (o->bytes == 2)
            put16_contiguous(d, cur, line, pt, mask, sign);
        else
            put8_contiguous(d, cur, line, pt, mask, sign);
        return;
    }
    for (x = 0; x < width; x++)
        for (j = 0; j < ns; j++) {
            uint32_t v = out_value(cur[x * ns + j], pt, mask, sign);
            uint64_t at = x * nf + comp[j];
            if (o->bytes == 2) {
                d[2 * at] = (uint8_t)v;
                d[2 * at + 1] = (uint8_t)(v >> 8);
            } else {
                d[at] = (uint8_t)v;
            }
        }
}

/* ------------------------------------------------------------------------- */
/* Markers                                                                    */
/* ------------------------------------------------------------------------- */

/*
 * Offset of the 0xFF that starts the next marker at or after `pos` in
 * entropy-coded data (FF00 is data, FFFF is fill before a marker); `len`
 * when there is none.
 */
static uint64_t
next_marker(const uint8_t *src, uint64_t len, uint64_t pos)
{
    while (pos < len) {
        const uint8_t *p = memchr(src + pos, 0xFF, (size_t)(len - pos));
        if (p == NULL)
            return len;
        pos = (uint64_t)(p - src);
        if (!(2 <= len - pos))
            return len;
        if (src[pos + 1] == 0x00 || src[pos + 1] == 0xFF)
            pos += src[pos + 1] == 0x00 ? 2u : 1u;
        else
            return pos;
    }
    return len;
}

/*
 * pydicom 3.0.2's _get_jpg_parameters + _conform_jpg_colorspace for JPEG:
 * true when pydicom would relabel this 3-sample frame YBR_FULL (an APPn
 * before the SOF whose payload - as the last APPn of its number - starts
 * "JFIF", PI without "YBR", and not [component ids 'RGB'/'rgb' with a PI
 * other than RGB]) and so convert it to RGB.  Mirrors that parser exactly: it trusts segment lengths, slices
 * (clamped) APP payloads, and gives up - no relabelling - on any read past
 * the end.
 */
static int
pydicom_relabels_ybr(const uint8_t *src, uint64_t len, const rd_frame_desc *desc)
{
    uint8_t jfif[16] = {0};
    uint64_t off = 2, i;
    uint32_t ncomp, ids[3] = {0, 0, 0};

    if (desc->samples_per_pixel != 3 || desc->photometric == RD_PI_UNKNOWN)
        return 0;
    if (desc->photometric == RD_PI_YBR_FULL || desc->photometric == RD_PI_YBR_FULL_422
        || desc->photometric == RD_PI_YBR_ICT || desc->photometric == RD_PI_YBR_RCT
        || desc->photometric == RD_PI_YBR_PARTIAL_420)
        return 0;
    if (len < 2 || src[0] != 0xFF || src[1] != 0xD8)
        return 0;
    for (;;) {
        uint32_t m, seglen;
        if (off > len || !(4 <= len - off))      /* marker + length must be there */
            return 0;
        m = (uint32_t)src[off] << 8 | src[off + 1];
        if (m == 0xFFC0 || m == 0xFFC1 || m == 0xFFC2 || m == 0xFFC3 || m == 0xFFC5
            || m == 0xFFC6 || m == 0xFFC7 || m == 0xFFC9 || m == 0xFFCA || m == 0xFFCB
            || m == 0xFFCD || m == 0xFFCE || m == 0xFFCF || m == 0xFFF7)
            break;
        seglen = (uint32_t)src[off + 2] << 8 | src[off + 3];
        if (m >= 0xFFE0 && m <= 0xFFEF) {
            /* payload = src[off+4 : off+2+seglen], clamped like a slice */
            uint64_t a = off + 4, e = off + 2 + seglen;
            if (e > len)
                e = len;
            jfif[m - 0xFFE0] = e > a && e - a >= 4 && memcmp(src + a, "JFIF", 4) == 0;
        }
        off += (uint64_t)seglen + 2;
    }
    /* SOF at off: marker, length, precision, height, width, component count
     * (off + 9), then 3 bytes per component starting with its id. */
    if (!(10 <= len - off))
        return 0;
    ncomp = src[off + 9];
    for (i = 0; i < ncomp; i++) {
        uint64_t p = off + 10 + 3 * i;
        if (!(p < len))
            return 0;
        if (i < 3)
            ids[i] = src[p];
    }
    /* ids 'RGB'/'rgb' make pydicom relabel a non-RGB PI as RGB and stop */
    if (ncomp == 3 && desc->photometric != RD_PI_RGB
        && ((ids[0] == 'R' && ids[1] == 'G' && ids[2] == 'B')
            || (ids[0] == 'r' && ids[1] == 'g' && ids[2] == 'b')))
        return 0;
    for (i = 0; i < 16; i++)
        if (jfif[i])
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Frame                                                                      */
/* ------------------------------------------------------------------------- */

typedef struct lj_frame {
    uint32_t precision, rows, cols, nf;
    uint8_t ids[LJ_MAX_COMPONENTS];
    uint8_t done[LJ_MAX_COMPONENTS];
    uint32_t ndone;
    uint32_t restart;        /* DRI interval in MCUs, 0: none */
    lj_hspec spec[4];
    lj_htab *tab;            /* 4 decoding tables, then the two rows */
    uint16_t *rows_buf;
} lj_frame;

/*
 * Decode the entropy-coded data of one scan starting at *pos; on success
 * *pos is the offset of the marker after it (or src_len).  Restart
 * intervals are whole lines (checked at SOS), so a restart falls between
 * lines: every `lines_per_interval` lines an RSTn must follow, the bit
 * reader starts afresh after it, and the next line is a first line.
 */
static rd_status
decode_scan(lj_frame *f, const uint8_t *src, uint64_t src_len, uint64_t *pos,
            const lj_htab *const *tab, const uint32_t *comp, uint32_t ns, uint32_t psv,
            uint32_t pt, const lj_out *out, rd_error *err)
{
    lj_bits b;
    uint16_t *cur = f->rows_buf, *prev = f->rows_buf + (size_t)f->cols * LJ_MAX_COMPONENTS;
    int32_t initial = (int32_t)1 << (f->precision - pt - 1);
    uint32_t lines_per_interval = f->restart ? f->restart / f->cols : 0;
    uint32_t r, rst = 0, left = lines_per_interval;
    /* Pair decoding (one component) pays off when differences are small
     * enough to come two per lookup; a line where fewer than a quarter of
     * the samples did switches to the single loop for 32 lines, then the
     * pair loop is tried again. */
    uint32_t pair_pause = ns == 1 ? 0 : UINT32_MAX;

    bits_start(&b, src + *pos, src + src_len);
    for (r = 0; r < f->rows; r++) {
        uint16_t *t = cur;
        int first = r == 0;
        cur = prev;
        prev = t;
        if (lines_per_interval && r > 0 && left == 0) {
            /* RSTn: drop the interval's padding bits, find the marker,
             * check its number, start the bit reader after it. */
            uint64_t at = next_marker(src, src_len, (uint64_t)(b.pos - src));
            if (at >= src_len)
                return rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                               "JPEG lossless: data ends where RST%u should follow "
                               "restart interval %u (before line %u)",
                               (unsigned)(rst & 7), (unsigned)rst + 1, (unsigned)r + 1);
            if (src[at + 1] != 0xD0 + (rst & 7))
                return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                               "JPEG lossless: expected RST%u after restart interval %u "
                               "(before line %u), found marker FF%02X",
                               (unsigned)(rst & 7), (unsigned)rst + 1, (unsigned)r + 1,
                               (unsigned)src[at + 1]);
            bits_start(&b, src + at + 2, src + src_len);
            rst++;
            left = lines_per_interval;
            first = 1;
        }
        if (first) {
            decode_first(&b, tab, cur, 0, f->cols, ns, initial);
        } else if (pair_pause == 0) {
            uint32_t paired = decode_normal(&b, tab, cur, prev, f->cols, ns, psv, 1);
            if (paired < f->cols / 4)
                pair_pause = 32;
        } else {
            decode_normal(&b, tab, cur, prev, f->cols, ns, psv, 0);
            if (pair_pause != UINT32_MAX)
                pair_pause--;
        }
        left--;
        if (RD_UNLIKELY(b.bad))
            return rd_fail(err, RD_ERR_DECODE, (uint64_t)(b.pos - src), RD_NO_TAG,
                           "JPEG lossless: invalid Huffman code in line %u of %u",
                           (unsigned)r + 1, (unsigned)f->rows);
        if (RD_UNLIKELY(b.count < b.zeros))
            return rd_fail(err, RD_ERR_DECODE, (uint64_t)(b.pos - src), RD_NO_TAG,
                           "JPEG lossless: entropy-coded data ends early, in line %u "
                           "of %u", (unsigned)r + 1, (unsigned)f->rows);
        put_row(out, cur, f->cols, r, ns, comp, pt);
    }
    *pos = next_marker(src, src_len, (uint64_t)(b.pos - src));
    return RD_OK;
}

/* Read a DHT segment's tables (B.2.4.2) at src[pos..pos+len). */
static rd_status
read_dht(lj_frame *f, const uint8_t *src, uint64_t pos, uint64_t len, rd_error *err)
{
    uint64_t p = pos, end = pos + len;

    while (p < end) {
        uint32_t tc, th, total = 0, l;
        if (!(17 <= end - p))
            return rd_fail(err, RD_ERR_DECODE, p, RD_NO_TAG,
                           "JPEG lossless: DHT segment truncated in a table header");
        tc = src[p] >> 4;
        th = src[p] & 15;
        if (tc > 1 || th > 3)
            return rd_fail(err, RD_ERR_DECODE, p, RD_NO_TAG,
                           "JPEG lossless: DHT table class %u / id %u (class 0-1, id 0-3)",
                           (unsigned)tc, (unsigned)th);
        for (l = 1; l <= 16; l++)
            total += src[p + l];
        if (total > 256 || !(total <= end - p - 17))
            return rd_fail(err, RD_ERR_DECODE, p, RD_NO_TAG,
                           "JPEG lossless: DHT table %u/%u has %u codes, %s",
                           (unsigned)tc, (unsigned)th, (unsigned)total,
                           total > 256 ? "more than 256" : "more than the segment holds");
        if (tc == 0) {                /* AC-class tables are not used by lossless */
            lj_hspec *s = &f->spec[th];
            s->defined = 1;
            s->counts[0] = 0;
            memcpy(s->counts + 1, src + p + 1, 16);
            memset(s->vals, 0, sizeof(s->vals));
            memcpy(s->vals, src + p + 17, total);
            s->nvals = total;
        }
        p += 17 + total;
    }
    return RD_OK;
}

/* Read SOF3 (B.2.2) and check it against desc. */
static rd_status
read_sof(lj_frame *f, const uint8_t *src, uint64_t pos, uint64_t len,
         const rd_frame_desc *desc, rd_error *err)
{
    uint32_t i, j;

    if (!(6 <= len))
        return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG, "JPEG lossless: SOF3 truncated");
    f->precision = src[pos];
    f->rows = (uint32_t)src[pos + 1] << 8 | src[pos + 2];
    f->cols = (uint32_t)src[pos + 3] << 8 | src[pos + 4];
    f->nf = src[pos + 5];
    if (f->precision < 2 || f->precision > 16)
        return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                       "JPEG lossless: sample precision %u (2 to 16)", (unsigned)f->precision);
    if (f->rows == 0)
        return rd_fail(err, RD_ERR_UNSUPPORTED, pos + 1, RD_NO_TAG,
                       "JPEG lossless: number of lines 0 (height set by a DNL marker) "
                       "is not supported");
    if (f->nf == 0 || f->nf > LJ_MAX_COMPONENTS)
        return rd_fail(err, RD_ERR_DECODE, pos + 5, RD_NO_TAG,
                       "JPEG lossless: %u components in SOF3 (1 to 4)", (unsigned)f->nf);
    if (len != 6 + 3 * (uint64_t)f->nf)
        return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                       "JPEG lossless: SOF3 length %llu for %u components (needs %u)",
                       (unsigned long long)len + 2, (unsigned)f->nf, 8 + 3 * (unsigned)f->nf);
    for (i = 0; i < f->nf; i++) {
        uint32_t id = src[pos + 6 + 3 * i], hv = src[pos + 7 + 3 * i];
        if (hv != 0x11)
            return rd_fail(err, RD_ERR_UNSUPPORTED, pos + 7 + 3 * i, RD_NO_TAG,
                           "JPEG lossless: component %u has sampling factors %ux%u; only "
                           "1x1 is supported", (unsigned)i + 1, (unsigned)(hv >> 4),
                           (unsigned)(hv & 15));
        for (j = 0; j < i; j++)
            if (f->ids[j] == id)
                return rd_fail(err, RD_ERR_DECODE, pos + 6 + 3 * i, RD_NO_TAG,
                               "JPEG lossless: component id %u appears twice in SOF3",
                               (unsigned)id);
        f->ids[i] = (uint8_t)id;
    }
    if (f->cols != desc->columns || f->rows != desc->rows)
        return rd_fail(err, RD_ERR_DECODE, pos + 1, RD_NO_TAG,
                       "JPEG lossless: codestream is %u x %u (columns x rows), the dataset "
                       "says %u x %u", (unsigned)f->cols, (unsigned)f->rows,
                       (unsigned)desc->columns, (unsigned)desc->rows);
    if (f->nf != desc->samples_per_pixel)
        return rd_fail(err, RD_ERR_DECODE, pos + 5, RD_NO_TAG,
                       "JPEG lossless: codestream has %u components, the dataset says "
                       "%u samples per pixel", (unsigned)f->nf,
                       (unsigned)desc->samples_per_pixel);
    if (f->precision > desc->bits_allocated)
        return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                       "JPEG lossless: sample precision %u exceeds Bits Allocated %u",
                       (unsigned)f->precision, (unsigned)desc->bits_allocated);
    return RD_OK;
}

static const char *
unsupported_process(uint32_t m)
{
    switch (m) {
    case 0xC0: return "baseline DCT (SOF0)";
    case 0xC1: return "extended DCT (SOF1)";
    case 0xC2: return "progressive DCT (SOF2)";
    case 0xC5: return "hierarchical (SOF5)";
    case 0xC6: return "hierarchical (SOF6)";
    case 0xC7: return "hierarchical lossless (SOF7)";
    case 0xC9: return "arithmetic extended DCT (SOF9)";
    case 0xCA: return "arithmetic progressive DCT (SOF10)";
    case 0xCB: return "arithmetic lossless (SOF11)";
    case 0xCC: return "arithmetic coding (DAC)";
    case 0xCD: return "arithmetic hierarchical (SOF13)";
    case 0xCE: return "arithmetic hierarchical (SOF14)";
    case 0xCF: return "arithmetic hierarchical lossless (SOF15)";
    case 0xDE: return "hierarchical (DHP)";
    case 0xDF: return "hierarchical (EXP)";
    case 0xF7: return "JPEG-LS (SOF55)";
    default: return NULL;
    }
}

rd_status
rd_jpeg_lossless_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                              const rd_codec_options *options, uint8_t *dst,
                              uint64_t dst_cap, rd_error *err)
{
    lj_frame f;
    lj_out out;
    uint64_t pixels, max_pixels = RD_DEFAULT_MAX_PIXELS, pos;
    uint32_t flags = 0, bits_stored;
    int have_sof = 0;
    rd_status st = RD_OK;

    /* --- arguments and the frame description (nothing allocated yet) --- */
    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "JPEG lossless: NULL %s",
                       desc == NULL ? "frame description"
                       : dst == NULL ? "output buffer" : "input");
    rd_read_codec_options(options, &flags, NULL, &max_pixels);
    if (desc->bits_allocated != 8 && desc->bits_allocated != 16)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "JPEG lossless: Bits Allocated %u is not supported (8 or 16; "
                       "samples have 2 to 16 bits)", (unsigned)desc->bits_allocated);
    bits_stored = desc->bits_stored;
    if (bits_stored == 0 || bits_stored > desc->bits_allocated)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "JPEG lossless: Bits Stored %u with Bits Allocated %u",
                       (unsigned)bits_stored, (unsigned)desc->bits_allocated);
    st = rd_check_frame_fits("JPEG lossless", desc, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    pixels = (uint64_t)desc->rows * desc->columns;
    if (src_len > SIZE_MAX)
        return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                       "JPEG lossless: %llu-byte codestream is too large for this platform",
                       (unsigned long long)src_len);

    memset(&f, 0, sizeof(f));
    out.dst = dst;
    out.bytes = desc->bits_allocated / 8;
    out.nf = desc->samples_per_pixel;
    out.mask = bits_stored >= 32 ? 0xFFFFFFFFu : (1u << bits_stored) - 1u;
    out.sign = desc->pixel_representation ? 1u << (bits_stored - 1) : 0u;

    if (!(2 <= src_len) || src[0] != 0xFF || src[1] != 0xD8)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "JPEG lossless: codestream does not start with SOI (FF D8)");
    pos = 2;

    /* --- marker segments (B.2) until every component has been decoded --- */
    while (!(have_sof && f.ndone == f.nf)) {
        uint32_t m;
        uint64_t seglen, body;
        const char *process;

        /* Find the next marker; stray bytes and fill bytes are skipped. */
        while (pos < src_len && src[pos] != 0xFF)
            pos++;
        while (pos + 1 < src_len && src[pos + 1] == 0xFF)
            pos++;
        if (pos >= src_len || !(2 <= src_len - pos)) {
            if (have_sof)
                st = rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                             "JPEG lossless: codestream ends after %u of %u components "
                             "were decoded", (unsigned)f.ndone, (unsigned)f.nf);
            else
                st = rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                             "JPEG lossless: codestream ends before a SOF3 frame header");
            goto cleanup;
        }
        m = src[pos + 1];
        if (m == 0x00) {              /* FF00 outside a scan: not a marker */
            pos += 2;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {   /* TEM, stray RSTn: no length */
            pos += 2;
            continue;
        }
        if (m == 0xD8) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG lossless: second SOI marker");
            goto cleanup;
        }
        if (m == 0xD9) {
            if (have_sof)
                st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                             "JPEG lossless: EOI after %u of %u components were decoded",
                             (unsigned)f.ndone, (unsigned)f.nf);
            else
                st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                             "JPEG lossless: EOI before a SOF3 frame header");
            goto cleanup;
        }
        if ((process = unsupported_process(m)) != NULL) {
            st = rd_fail(err, RD_ERR_UNSUPPORTED, pos, RD_NO_TAG,
                         "JPEG lossless: %s is not a JPEG lossless (process 14) "
                         "codestream", process);
            goto cleanup;
        }
        if (!(4 <= src_len - pos)) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG lossless: marker FF%02X truncated", (unsigned)m);
            goto cleanup;
        }
        seglen = (uint32_t)src[pos + 2] << 8 | src[pos + 3];
        if (seglen < 2 || !(seglen <= src_len - pos - 2)) {
            st = rd_fail(err, RD_ERR_DECODE, pos + 2, RD_NO_TAG,
                         "JPEG lossless: marker FF%02X segment length %llu %s",
                         (unsigned)m, (unsigned long long)seglen,
                         seglen < 2 ? "is below 2" : "runs past the end of the codestream");
            goto cleanup;
        }
        body = pos + 4;
        seglen -= 2;                  /* bytes after the length field */

        if (m == 0xC3) {
            uint64_t need;
            if (have_sof) {
                st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                             "JPEG lossless: second SOF3 frame header");
                goto cleanup;
            }
            if ((st = read_sof(&f, src, body, seglen, desc, err)) != RD_OK)
                goto cleanup;
            have_sof = 1;
            /* 4 decoding tables + two lines of up to 4 samples per pixel */
            need = 4 * sizeof(lj_htab) + 2 * (uint64_t)f.cols * LJ_MAX_COMPONENTS * 2;
            f.tab = malloc((size_t)need);
            if (f.tab == NULL) {
                st = rd_fail(err, RD_ERR_NOMEM, pos, RD_NO_TAG,
                             "JPEG lossless: cannot allocate %llu bytes",
                             (unsigned long long)need);
                goto cleanup;
            }
            f.rows_buf = (uint16_t *)(f.tab + 4);
        } else if (m == 0xC4) {
            if ((st = read_dht(&f, src, body, seglen, err)) != RD_OK)
                goto cleanup;
        } else if (m == 0xDD) {
            if (seglen != 2) {
                st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                             "JPEG lossless: DRI length %llu (must be 4)",
                             (unsigned long long)seglen + 2);
                goto cleanup;
            }
            f.restart = (uint32_t)src[body] << 8 | src[body + 1];
        } else if (m == 0xDC) {
            /* DNL after a scan: the height is already known (SOF3 Y != 0). */
        } else if (m == 0xDA) {
            const lj_htab *tabs[LJ_MAX_COMPONENTS];
            uint32_t comp[LJ_MAX_COMPONENTS], ns, psv, pt, i, j, used = 0, seen = 0;
            uint64_t p;
            if (!have_sof) {
                st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                             "JPEG lossless: SOS before the SOF3 frame header");
                goto cleanup;
            }
            ns = seglen >= 1 ? src[body] : 0;
            if (ns == 0 || ns > f.nf || seglen != 4 + 2 * (uint64_t)ns) {
                st = rd_fail(err, RD_ERR_DECODE, body, RD_NO_TAG,
                             "JPEG lossless: SOS with %u components and length %llu "
                             "(frame has %u components)", (unsigned)ns,
                             (unsigned long long)seglen + 2, (unsigned)f.nf);
                goto cleanup;
            }
            for (i = 0; i < ns; i++) {
                uint32_t id = src[body + 1 + 2 * i], td = src[body + 2 + 2 * i] >> 4;
                for (j = 0; j < f.nf && f.ids[j] != id; j++)
                    ;
                if (j == f.nf || f.done[j] || (seen & (1u << j))) {
                    st = rd_fail(err, RD_ERR_DECODE, body + 1 + 2 * i, RD_NO_TAG,
                                 "JPEG lossless: scan component id %u is %s", (unsigned)id,
                                 j == f.nf ? "not in the frame"
                                 : f.done[j] ? "already decoded by an earlier scan"
                                             : "listed twice in the scan");
                    goto cleanup;
                }
                seen |= 1u << j;
                if (td > 3 || !f.spec[td].defined) {
                    st = rd_fail(err, RD_ERR_DECODE, body + 2 + 2 * i, RD_NO_TAG,
                                 "JPEG lossless: scan component %u uses Huffman table %u, "
                                 "which is not defined", (unsigned)id, (unsigned)td);
                    goto cleanup;
                }
                if (!(used & (1u << td))) {
                    if (!build_htab(&f.tab[td], &f.spec[td])) {
                        st = rd_fail(err, RD_ERR_DECODE, body + 2 + 2 * i, RD_NO_TAG,
                                     "JPEG lossless: Huffman table %u has more codes than "
                                     "its code lengths allow", (unsigned)td);
                        goto cleanup;
                    }
                    used |= 1u << td;
                }
                comp[i] = j;
                tabs[i] = &f.tab[td];
            }
            if (ns == 1)
                build_pairs(&f.tab[src[body + 2] >> 4]);
            psv = src[body + 1 + 2 * ns];
            pt = src[body + 3 + 2 * ns] & 15;
            if (psv < 1 || psv > 7) {
                st = rd_fail(err, psv == 0 ? RD_ERR_UNSUPPORTED : RD_ERR_DECODE,
                             body + 1 + 2 * ns, RD_NO_TAG,
                             "JPEG lossless: predictor selection value %u (1 to 7%s)",
                             (unsigned)psv, psv == 0 ? "; 0 is for hierarchical mode" : "");
                goto cleanup;
            }
            if (pt >= f.precision) {
                st = rd_fail(err, RD_ERR_DECODE, body + 3 + 2 * ns, RD_NO_TAG,
                             "JPEG lossless: point transform %u with precision %u",
                             (unsigned)pt, (unsigned)f.precision);
                goto cleanup;
            }
            if (f.restart % f.cols != 0) {
                st = rd_fail(err, RD_ERR_UNSUPPORTED, body, RD_NO_TAG,
                             "JPEG lossless: restart interval of %u MCUs is not a whole "
                             "number of lines of %u pixels (the lossless predictor is "
                             "only defined for restarts at line starts; libjpeg and "
                             "GDCM refuse this too)", (unsigned)f.restart, (unsigned)f.cols);
                goto cleanup;
            }
            p = body + seglen;
            st = decode_scan(&f, src, src_len, &p, tabs, comp, ns, psv, pt, &out, err);
            if (st != RD_OK)
                goto cleanup;
            for (i = 0; i < ns; i++)
                f.done[comp[i]] = 1;
            f.ndone += ns;
            pos = p;
            continue;
        }
        /* APPn, COM, DQT and anything else with a length: skipped. */
        pos = body + seglen;
    }

    if (f.nf == 3 && desc->bits_allocated == 8 && desc->pixel_representation == 0
        && !(flags & RD_CODEC_KEEP_YBR) && pydicom_relabels_ybr(src, src_len, desc))
        rd_ybr_full_to_rgb_u8(dst, pixels);

cleanup:
    free(f.tab);
    return st;
}
