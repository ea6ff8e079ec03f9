/*
 * jlsdec.c - JPEG-LS lossless and near-lossless frame decoder (ITU-T T.87 /
 * ISO/IEC 14495-1; DICOM transfer syntaxes 1.2.840.10008.1.2.4.80 and .81),
 * written from the standard: Annex A (the coding procedures), Annex B (the
 * interleave modes), Annex C (marker syntax, preset parameters), Annex D
 * (restart).
 *
 * What is decoded:
 *   SOI; SOF55 (precision P 2..16, 1..4 components, sampling factors 1x1);
 *   LSE id 1 (preset coding parameters MAXVAL, T1, T2, T3, RESET; a zero
 *   field means the default of C.2.4.1.1; MAXVAL only sets the default
 *   thresholds, as in CharLS - see setup_scan); DRI and RSTm; SOS with NEAR 0
 *   (lossless) or > 0 (near-lossless), interleave mode 0 (one component per
 *   scan), 1 (line) or 2 (sample), in any split of the components over
 *   scans; APPn / COM skipped; EOI.  Mapping tables (LSE 2 and 3, a table
 *   selector in SOS), oversize dimensions (LSE 4), a point transform,
 *   a colour transform announced in an APP8 "mrfx" segment and any other
 *   frame type are RD_ERR_UNSUPPORTED.
 *
 * Coding procedure, per scan (A.2 - A.7): contexts A, B, C, N for the 365
 * regular contexts and A, N, Nn for the two run-interruption contexts, all
 * reset at the start of each scan and after each restart marker; the line
 * buffers are reset there too (the next line is predicted as the first
 * one).  Components of a scan share the contexts; in line-interleaved mode
 * each component keeps its own RUNindex.  In sample-interleaved mode a run
 * needs every component in run state, and a run is interrupted for all
 * components at once, each coded in run-interruption context 0 with Rb as
 * the prediction (the behaviour of CharLS, which produced the reference
 * data; the 1999 text leaves this case open).
 *
 * Output (rapidicom.h contract), the same as rd_jls_decode_frame (jls.c),
 * equal to pydicom 3.0.2's pixel_array for the frame:
 *   - samples interleaved in SOF55 component order, bits_allocated/8 bytes
 *     each (8 or 16), little endian; each is the decoded value (<= MAXVAL);
 *   - Pixel Representation 1: sign-extended from bit P-1 (P as pydicom's
 *     header walk reads it, or Bits Stored where that walk fails), as
 *     pydicom's _apply_sign_correction does for JPEG-LS;
 *   - colour: samples as coded, except pydicom's JFIF rule of
 *     _conform_jpg_colorspace (8-bit unsigned 3-sample data with a "JFIF"
 *     APPn and a Photometric Interpretation without "YBR" is converted
 *     YBR_FULL -> RGB unless RD_CODEC_KEEP_YBR is set).  jls.c explains
 *     each of these rules in full.
 *
 * Why it is fast:
 *   - the bit reader keeps a 64-bit MSB-first buffer, refilled with one
 *     unaligned 8-byte load when those bytes hold no 0xFF (JPEG-LS stuffs a
 *     zero bit after each 0xFF, so only then is the byte-wise path needed);
 *   - a Golomb code is read with one count-leading-zeros and one shift;
 *   - gradient quantisation is one table lookup per gradient (the table is
 *     part of the one allocation); the context index and sign come from
 *     the three lookups with a multiply-add;
 *   - samples live in int32 line buffers with one guard sample on each
 *     side, so the neighbourhood a, b, c, d needs no edge tests; each
 *     finished line is written to dst in one pass (width and sign fix-up
 *     included).
 *
 * Invariants:
 *   - the frame description is checked (sizes, dst_cap, rows*columns
 *     against max_pixels) before anything is read, SOF55's width, height,
 *     component count and precision against it before the one allocation
 *     (line buffers + quantisation table), freed at the single cleanup
 *     label; contexts live on the stack; there is no global state;
 *   - every marker-segment read is bounds-checked as `need <= len - pos`;
 *     the bit reader never reads at or past `end` nor past a marker, and
 *     after one appends zero bits, counting them in `zeros`: consuming any
 *     of them (count < zeros) means the scan ended early, an error checked
 *     after every line, as is `bad` (an impossible code);
 *   - every sample written to a line buffer is in 0..MAXVAL, so gradients
 *     index the quantisation table inside its bounds;
 *   - on failure dst may be partly written.
 */
#include <stddef.h>
#include <stdlib.h>

#include "rd_common.h"
#include "rd_jls_rules.h"

#define JD_MAX_COMPONENTS 4u
#define JD_RUN_CONTEXT0 365u           /* run-interruption contexts 365 (RItype 0), 366 */
#define JD_CONTEXTS 367u
#define JD_MIN_C (-128)
#define JD_MAX_C 127

#if defined(__GNUC__) || defined(__clang__)
#define JD_INLINE static inline __attribute__((always_inline))
#define JD_NOINLINE static __attribute__((noinline))
#else
#define JD_INLINE static inline
#define JD_NOINLINE static
#endif

/* Run-length order of each RUNindex (A.7.1.1, table J). */
static const uint8_t run_order[32] = {
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
    4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* ------------------------------------------------------------------------- */
/* Bit reader                                                                 */
/* ------------------------------------------------------------------------- */

typedef struct jd_bits {
    uint64_t buf;            /* next bits, most significant first */
    uint64_t zeros;          /* zero bits appended after the data ended */
    uint32_t count;          /* valid bits at the top of buf */
    int after_ff;            /* the last byte taken was 0xFF: the next has 7 data bits */
    int ended;               /* a marker or the end of the input was reached */
    int bad;                 /* an impossible code was met */
    const uint8_t *pos;      /* next byte; at the marker's 0xFF once ended */
    const uint8_t *end;
} jd_bits;

static void
bits_start(jd_bits *b, const uint8_t *pos, const uint8_t *end)
{
    memset(b, 0, sizeof(*b));
    b->pos = pos;
    b->end = end;
}

/*
 * Byte-wise refill to more than 56 bits.  A 0xFF byte is data; the byte
 * after it carries 7 data bits below a zero stuffed bit, and a set top bit
 * there means the 0xFF starts a marker (C.1.2), where the data ends.  The
 * state goes in and out by value, so that the sample loops' copy is never
 * address-taken and stays in registers.
 */
JD_NOINLINE jd_bits
bits_refill_slow(jd_bits b)
{
    while (b.count <= 56) {
        uint32_t byte;
        if (b.ended) {
            b.zeros += 8;
            b.count += 8;
            continue;
        }
        if (b.pos == b.end) {
            b.ended = 1;
            continue;
        }
        byte = *b.pos;
        if (b.after_ff) {
            /* The 0xFF before was taken only when this byte is < 0x80. */
            b.buf |= (uint64_t)byte << (57 - b.count);
            b.count += 7;
            b.after_ff = 0;
            b.pos++;
            continue;
        }
        if (byte == 0xFF && (b.end - b.pos < 2 || b.pos[1] >= 0x80)) {
            b.ended = 1;            /* a marker, or a lone 0xFF at the end */
            continue;
        }
        b.after_ff = byte == 0xFF;
        b.buf |= (uint64_t)byte << (56 - b.count);
        b.count += 8;
        b.pos++;
    }
    return b;
}

/*
 * Top the buffer up to more than 56 bits.  Fast path: no stuffing pending
 * and the next 8 bytes hold no 0xFF, so they are plain data; OR all 64 of
 * their bits in below the valid ones and advance by the whole bytes that
 * fitted.  The partly fitted byte's bits are the ones the next refill ORs
 * in again at the same place, so OR-ing is idempotent.
 */
JD_INLINE void
bits_refill(jd_bits *b)
{
    if (RD_LIKELY(!b->after_ff && b->end - b->pos >= 8)) {
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

JD_INLINE uint32_t
bits_take(jd_bits *b, uint32_t n)
{
    uint32_t v;
    if (n == 0)
        return 0;
    if (b->count < n)
        bits_refill(b);
    v = (uint32_t)(b->buf >> (64 - n));
    b->buf <<= n;
    b->count -= n;
    return v;
}

/*
 * A limited-length Golomb code (A.5.3): unary prefix of z zeros and a one;
 * z < limit - qbpp - 1: the value is z << k plus k more bits; z equal to
 * that: qbpp bits hold value - 1; more zeros are impossible (b->bad).
 *
 * The common case is a short code already in the buffer: one clz and two
 * shifts, with a refill only below 32 buffered bits.  The rest - the
 * escape, or a code longer than the bits at hand - refills to more than
 * 56 bits first.  Everything is inline so that the reader stays in
 * registers (the only call, bits_refill_slow, takes it by value).
 */
JD_INLINE uint32_t
decode_golomb(jd_bits *b, uint32_t k, uint32_t limit, uint32_t qbpp)
{
    const uint32_t escape = limit - qbpp - 1;
    uint64_t top;
    uint32_t zeros;

    if (b->count < 32)
        bits_refill(b);
    zeros = b->buf ? (uint32_t)__builtin_clzll(b->buf) : 64;
    if (RD_UNLIKELY(zeros + 1 + k > b->count || zeros >= escape)) {
        if (b->count <= 56)
            bits_refill(b);
        zeros = b->buf ? (uint32_t)__builtin_clzll(b->buf) : 64;
        if (zeros >= escape) {
            if (zeros > escape) {
                b->bad = 1;
                return 0;
            }
            b->buf <<= zeros + 1;
            b->count -= zeros + 1;
            return bits_take(b, qbpp) + 1;
        }
        b->buf <<= zeros + 1;
        b->count -= zeros + 1;
        return (zeros << k) | bits_take(b, k);
    }
    top = b->buf << zeros;          /* the terminating one at bit 63 */
    b->buf = top << (1 + k);
    b->count -= zeros + 1 + k;
    /* the k bits below the one; for k = 0 the shifts leave nothing */
    return (zeros << k) | (uint32_t)((top << 1) >> 1 >> (63 - k));
}

/* ------------------------------------------------------------------------- */
/* Scan state                                                                 */
/* ------------------------------------------------------------------------- */

typedef struct jd_params {
    int32_t maxval, t1, t2, t3, reset;
} jd_params;

/* One context's variables, together so that a sample touches one cache line.
 * a <= RESET * (RANGE/2 + 1) < 2^32 because |Errval| is checked. */
typedef struct jd_context {
    uint32_t a;
    int32_t b, c, n;
} jd_context;

/* The adaptive state of a scan. */
typedef struct jd_contexts {
    jd_context ctx[JD_CONTEXTS];
    int32_t nn[2];           /* Nn of the two run-interruption contexts */
} jd_contexts;

/* A scan's parameters and bit reader.  Small and holding the contexts by
 * pointer, so that the line loops copy it into a local that lives in
 * registers (no store to a line buffer can alias it). */
typedef struct jd_scan {
    jd_context *ctx;
    int32_t *nn;
    int32_t maxval, near, range, qbpp, limit, reset, step;   /* step = 2*NEAR + 1 */
    const int8_t *quant;     /* quant[d] = Q(d) for -maxval <= d <= maxval */
    jd_bits bits;
} jd_scan;

/* ceil(log2(v)) for v >= 1. */
static int32_t
log2_ceil(int32_t v)
{
    int32_t n = 0;
    while ((1 << n) < v)
        n++;
    return n;
}

static int32_t
clamp_threshold(int32_t i, int32_t j, int32_t maxval)
{
    return (i > maxval || i < j) ? j : i;
}

/* Default T1, T2, T3 (C.2.4.1.1) where the preset leaves them 0. */
static void
default_thresholds(jd_params *p, int32_t near)
{
    int32_t t1, t2, t3;
    if (p->maxval >= 128) {
        int32_t factor = ((p->maxval < 4095 ? p->maxval : 4095) + 128) >> 8;
        t1 = clamp_threshold(factor * (3 - 2) + 2 + 3 * near, near + 1, p->maxval);
        t2 = clamp_threshold(factor * (7 - 3) + 3 + 5 * near, t1, p->maxval);
        t3 = clamp_threshold(factor * (21 - 4) + 4 + 7 * near, t2, p->maxval);
    } else {
        int32_t factor = 256 / (p->maxval + 1);
        int32_t v1 = 3 / factor + 3 * near, v2 = 7 / factor + 5 * near, v3 = 21 / factor + 7 * near;
        t1 = clamp_threshold(v1 > 2 ? v1 : 2, near + 1, p->maxval);
        t2 = clamp_threshold(v2 > 3 ? v2 : 3, t1, p->maxval);
        t3 = clamp_threshold(v3 > 4 ? v3 : 4, t2, p->maxval);
    }
    if (p->t1 == 0)
        p->t1 = t1;
    if (p->t2 == 0)
        p->t2 = t2;
    if (p->t3 == 0)
        p->t3 = t3;
}

/* Q(d) of A.3.3 for every gradient -top <= d <= top, into table[0..2*top],
 * so that a lookup needs no clamp (samples are 0..top).  Beyond +-T3 it is
 * +-4 throughout: two memsets. */
static void
build_quantizer(int8_t *table, const jd_params *p, int32_t near, int32_t top)
{
    int32_t d;
    memset(table, -4, (size_t)(top - p->t3 + 1));
    memset(table + top + p->t3, 4, (size_t)(top - p->t3 + 1));
    for (d = -p->t3 + 1; d < p->t3; d++) {      /* strictly between -T3 and T3 */
        int8_t q;
        if (d <= -p->t2)
            q = -3;
        else if (d <= -p->t1)
            q = -2;
        else if (d < -near)
            q = -1;
        else if (d <= near)
            q = 0;
        else if (d < p->t1)
            q = 1;
        else if (d < p->t2)
            q = 2;
        else
            q = 3;
        table[d + top] = q;
    }
}

/* Context variables at the start of a scan or restart interval (A.2.1). */
static void
reset_contexts(jd_scan *s)
{
    uint32_t a0 = (uint32_t)(s->range + 32) / 64;
    uint32_t i;
    if (a0 < 2)
        a0 = 2;
    for (i = 0; i < JD_CONTEXTS; i++) {
        s->ctx[i].a = a0;
        s->ctx[i].b = 0;
        s->ctx[i].c = 0;
        s->ctx[i].n = 1;
    }
    s->nn[0] = s->nn[1] = 0;
}

/* ------------------------------------------------------------------------- */
/* Sample coding                                                              */
/* ------------------------------------------------------------------------- */

/*
 * Rx from the prediction and the signed, still quantised error (A.4.4).
 * `lossless` is a compile-time constant in the specialised line loops.
 */
JD_INLINE int32_t
reconstruct(const jd_scan *s, int32_t px, int32_t err, const int lossless)
{
    int32_t v;
    if (lossless)   /* RANGE = MAXVAL + 1 = 2^P: the modulo is a mask, no clamp needed */
        return (px + err) & s->maxval;
    v = px + err * s->step;
    if (v < -s->near)
        v += s->range * s->step;
    else if (v > s->maxval + s->near)
        v -= s->range * s->step;
    if (v < 0)
        v = 0;
    else if (v > s->maxval)
        v = s->maxval;
    return v;
}

/* floor(v / 2), without the implementation-defined >> of a negative int. */
JD_INLINE int32_t
half_floor(int32_t v)
{
    return v >= 0 ? v >> 1 : -((1 - v) >> 1);
}

/* The smallest k with n << k >= a (A.5.1), at most 24; n >= 1.  Without
 * the standard's loop or a branch: n << k0 has the top bit of a, one more
 * step may be needed; a <= n gives k0 <= 0.  A can halve down to 0 (a
 * context whose errors are all 0), and a | 1 has a's top bit for a >= 2. */
JD_INLINE uint32_t
golomb_k(int32_t n, uint32_t a)
{
    int32_t k0 = __builtin_clz((uint32_t)n) - __builtin_clz(a | 1);
    uint32_t k = k0 > 0 ? (uint32_t)k0 : 0;
    k += ((uint64_t)(uint32_t)n << k) < a;
    return k < 24 ? k : 24;
}

/* One sample in regular mode (A.4 - A.6); q is the signed context number.
 * Signs are applied as (v ^ sign) - sign with sign 0 or -1, and the error
 * mapping is undone without branches: the data decide those, so a branch
 * would be mispredicted half the time. */
JD_INLINE int32_t
decode_regular(jd_scan *s, jd_bits *bits, int32_t q, int32_t ra, int32_t rb, int32_t rc,
               const int lossless)
{
    const int32_t sign = q >> 31;
    jd_context *cx = &s->ctx[(q ^ sign) - sign];
    int32_t px, err, lo = ra < rb ? ra : rb, hi = ra < rb ? rb : ra;
    uint32_t k, m;

    /* median edge detector (A.4.1): the median of Ra, Rb and Ra + Rb - Rc,
     * which is Ra + Rb - Rc clamped to [min, max] of Ra and Rb; then the
     * bias correction */
    px = ra + rb - rc;
    px = px < lo ? lo : px > hi ? hi : px;
    px += (cx->c ^ sign) - sign;
    px = px < 0 ? 0 : px > s->maxval ? s->maxval : px;

    k = golomb_k(cx->n, cx->a);
    m = decode_golomb(bits, k, (uint32_t)s->limit, (uint32_t)s->qbpp);
    if (RD_UNLIKELY(m > (uint32_t)s->range + 1)) {
        bits->bad = 1;              /* |Errval| beyond RANGE / 2: no encoder makes it */
        m = 0;
    }
    /* inverse error mapping (A.5.2): even m -> m/2, odd m -> -(m+1)/2; for
     * k = 0 in lossless mode with 2B <= -N the mapping is the other way
     * round, err -> -err - 1 = ~err */
    err = (int32_t)(m >> 1) ^ -(int32_t)(m & 1);
    if (lossless)
        err ^= -(int32_t)(k == 0) & ((2 * cx->b + cx->n - 1) >> 31);

    /* context update and bias correction (A.6) */
    cx->b += lossless ? err : err * s->step;
    cx->a += (uint32_t)(err < 0 ? -err : err);
    if (RD_UNLIKELY(cx->n == s->reset)) {
        cx->a >>= 1;
        cx->b = half_floor(cx->b);
        cx->n >>= 1;
    }
    cx->n++;
    {
        /* B back into (-N, 0], C one step towards the bias; as selects,
         * since the data decide which way */
        const int32_t n = cx->n, b = cx->b, c = cx->c;
        const int down = b <= -n, up = b > 0;
        const int32_t b_down = b + n <= -n ? -n + 1 : b + n;
        const int32_t b_up = b - n > 0 ? 0 : b - n;
        cx->b = down ? b_down : up ? b_up : b;
        cx->c = c + (up & (c < JD_MAX_C)) - (down & (c > JD_MIN_C));
    }
    return reconstruct(s, px, (err ^ sign) - sign, lossless);
}

/*
 * The error of a run-interruption sample (A.7.2) in context 365 + ritype,
 * with the code length limit shortened by the run's J + 1.
 */
JD_INLINE int32_t
decode_interruption_error(jd_scan *s, jd_bits *bits, uint32_t ritype, uint32_t run_index)
{
    jd_context *cx = &s->ctx[JD_RUN_CONTEXT0 + ritype];
    int32_t *nn = &s->nn[ritype];
    uint32_t temp = cx->a + (ritype ? (uint32_t)cx->n >> 1 : 0);
    uint32_t k = golomb_k(cx->n, temp), m, map;
    int32_t err, mag;

    m = decode_golomb(bits, k, (uint32_t)s->limit - run_order[run_index] - 1,
                      (uint32_t)s->qbpp);
    if (RD_UNLIKELY(m > (uint32_t)s->range + 1)) {
        bits->bad = 1;
        m = 0;
    }
    /* EMErrval = 2|Errval| - RItype - map; the sign follows from map (A.7.2.2) */
    map = (m + ritype) & 1;
    mag = (int32_t)((m + ritype + map) >> 1);
    err = ((k != 0 || 2 * *nn >= cx->n) == (map != 0)) ? -mag : mag;

    if (err < 0)
        (*nn)++;
    cx->a += (m + 1 - ritype) >> 1;
    if (cx->n == s->reset) {
        cx->a >>= 1;
        cx->n >>= 1;
        *nn >>= 1;
    }
    cx->n++;
    return err;
}

/*
 * Run length (A.7.1.2) of at most `left` samples: ones each stand for
 * 2^J[RUNindex] samples (fewer at the end of the line), a zero is followed
 * by J[RUNindex] bits of remainder.  Sets *interrupted when the run stops
 * before the end of the line.
 */
JD_INLINE uint32_t
decode_run_length(jd_bits *b, uint32_t *run_index, uint32_t left, int *interrupted)
{
    uint32_t len = 0;

    for (;;) {
        uint32_t seg, full;
        if (!bits_take(b, 1))
            break;
        full = 1u << run_order[*run_index];
        seg = full < left - len ? full : left - len;
        len += seg;
        if (seg == full && *run_index < 31)
            (*run_index)++;
        if (len == left) {
            *interrupted = 0;
            return len;
        }
        if (RD_UNLIKELY(b->count < b->zeros))
            break;
    }
    len += bits_take(b, run_order[*run_index]);
    if (RD_UNLIKELY(len >= left)) {
        b->bad = 1;                 /* a run past the end of the line */
        len = left - 1;
    }
    *interrupted = 1;
    return len;
}

/* ------------------------------------------------------------------------- */
/* Lines                                                                      */
/* ------------------------------------------------------------------------- */

/* Q(d); |d| <= maxval because every sample is 0..maxval. */
JD_INLINE int32_t
quantize(const jd_scan *s, int32_t d)
{
    return s->quant[d];
}

JD_INLINE int32_t
context_of(const jd_scan *s, int32_t ra, int32_t rb, int32_t rc, int32_t rd)
{
    return (quantize(s, rd - rb) * 9 + quantize(s, rb - rc)) * 9 + quantize(s, rc - ra);
}

/*
 * One line of one component: cur[0..width) from prev[-1..width] and
 * cur[-1] (the guard samples are set by the caller).  The bit reader is a
 * local copy for the line, so that it lives in registers.
 */
JD_INLINE void
decode_line_single_impl(jd_scan *scan, const int32_t *prev, int32_t *cur, uint32_t width,
                        uint32_t *run_index, const int lossless)
{
    jd_scan local = *scan, *s = &local;
    jd_bits bits = s->bits;
    uint32_t x = 0;
    int32_t ra = cur[-1], rb = prev[0], rc = prev[-1];

    while (x < width) {
        int32_t rd = prev[x + 1];
        int32_t q = context_of(s, ra, rb, rc, rd);
        if (RD_LIKELY(q != 0)) {
            ra = cur[x] = decode_regular(s, &bits, q, ra, rb, rc, lossless);
            rc = rb;
            rb = rd;
            x++;
            continue;
        }
        {
            int interrupted;
            uint32_t len = decode_run_length(&bits, run_index, width - x, &interrupted), i;
            for (i = 0; i < len; i++)
                cur[x + i] = ra;
            x += len;
            if (!interrupted || RD_UNLIKELY(bits.bad))
                break;
            rb = prev[x];
            if ((ra > rb ? ra - rb : rb - ra) <= s->near) {
                ra = reconstruct(s, ra, decode_interruption_error(s, &bits, 1, *run_index),
                                 lossless);
            } else {
                int32_t e = decode_interruption_error(s, &bits, 0, *run_index);
                ra = reconstruct(s, rb, rb > ra ? e : -e, lossless);
            }
            cur[x] = ra;
            if (*run_index > 0)
                (*run_index)--;
            rc = prev[x];
            rb = prev[x + 1];
            x++;
        }
    }
    scan->bits = bits;
}

/* One line of `nc` sample-interleaved components (interleave mode 2). */
JD_INLINE void
decode_line_interleaved_impl(jd_scan *scan, const int32_t *prev, int32_t *cur, uint32_t width,
                             uint32_t nc, uint32_t *run_index, const int lossless)
{
    jd_scan local = *scan, *s = &local;
    jd_bits bits = s->bits;
    uint32_t x = 0, c;

    while (x < width) {
        int32_t q[JD_MAX_COMPONENTS];
        int any = 0;
        const int64_t at = (int64_t)x * nc;
        for (c = 0; c < nc; c++) {
            q[c] = context_of(s, cur[at - nc + c], prev[at + c], prev[at - nc + c],
                              prev[at + nc + c]);
            any |= q[c];
        }
        if (any) {
            for (c = 0; c < nc; c++)
                cur[at + c] = decode_regular(s, &bits, q[c], cur[at - nc + c], prev[at + c],
                                             prev[at - nc + c], lossless);
            x++;
            continue;
        }
        {
            int interrupted;
            uint32_t len = decode_run_length(&bits, run_index, width - x, &interrupted), i;
            for (i = 0; i < len; i++)
                for (c = 0; c < nc; c++)
                    cur[at + (int64_t)i * nc + c] = cur[at - nc + c];
            x += len;
            if (!interrupted || RD_UNLIKELY(bits.bad))
                break;
            for (c = 0; c < nc; c++) {
                const int64_t p = (int64_t)x * nc + c;
                int32_t ra = cur[p - nc], rb = prev[p];
                int32_t e = decode_interruption_error(s, &bits, 0, *run_index);
                cur[p] = reconstruct(s, rb, rb >= ra ? e : -e, lossless);
            }
            if (*run_index > 0)
                (*run_index)--;
            x++;
        }
    }
    scan->bits = bits;
}

/*
 * The line decoders a scan calls, each specialised by the compiler for its
 * constants: lossless or not, and 3 components (RGB, YBR) or any number.
 * They are built twice on x86-64 with GCC: for any CPU, and for CPUs with
 * BMI1/2 and LZCNT (Intel since 2013, AMD since 2015), whose shifts by any
 * register and count of leading zeros (without BSR's dependency on its
 * output register) the bit reader is made of (LZCNT alone measured 8-30%
 * faster than the same loops with BSR on a Xeon VM).  clang 14's
 * __builtin_cpu_supports does not know "lzcnt", so clang builds (the
 * fuzzers) have the first only; the sanitizer build uses GCC and both.
 */
typedef struct jd_line_decoders {
    void (*single)(jd_scan *, const int32_t *, int32_t *, uint32_t, uint32_t, uint32_t *);
    void (*single_near)(jd_scan *, const int32_t *, int32_t *, uint32_t, uint32_t, uint32_t *);
    void (*interleaved)(jd_scan *, const int32_t *, int32_t *, uint32_t, uint32_t, uint32_t *);
    void (*interleaved_near)(jd_scan *, const int32_t *, int32_t *, uint32_t, uint32_t,
                             uint32_t *);
} jd_line_decoders;

#define JD_LINE_DECODERS(name, attr)                                                        \
    attr static void name##_single(jd_scan *s, const int32_t *prev, int32_t *cur,          \
                                   uint32_t width, uint32_t nc, uint32_t *run_index)       \
    {                                                                                       \
        (void)nc;                                                                           \
        decode_line_single_impl(s, prev, cur, width, run_index, 1);                         \
    }                                                                                       \
    attr static void name##_single_near(jd_scan *s, const int32_t *prev, int32_t *cur,     \
                                        uint32_t width, uint32_t nc, uint32_t *run_index)  \
    {                                                                                       \
        (void)nc;                                                                           \
        decode_line_single_impl(s, prev, cur, width, run_index, 0);                         \
    }                                                                                       \
    attr static void name##_interleaved(jd_scan *s, const int32_t *prev, int32_t *cur,     \
                                        uint32_t width, uint32_t nc, uint32_t *run_index)  \
    {                                                                                       \
        if (nc == 3)                                                                        \
            decode_line_interleaved_impl(s, prev, cur, width, 3, run_index, 1);             \
        else                                                                                \
            decode_line_interleaved_impl(s, prev, cur, width, nc, run_index, 1);            \
    }                                                                                       \
    attr static void name##_interleaved_near(jd_scan *s, const int32_t *prev, int32_t *cur,\
                                             uint32_t width, uint32_t nc,                   \
                                             uint32_t *run_index)                           \
    {                                                                                       \
        if (nc == 3)                                                                        \
            decode_line_interleaved_impl(s, prev, cur, width, 3, run_index, 0);             \
        else                                                                                \
            decode_line_interleaved_impl(s, prev, cur, width, nc, run_index, 0);            \
    }                                                                                       \
    static const jd_line_decoders name = {name##_single, name##_single_near,                \
                                          name##_interleaved, name##_interleaved_near};

JD_LINE_DECODERS(lines_generic, )

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RD_NO_SIMD)
#define JD_HAVE_BMI2_LINES
JD_LINE_DECODERS(lines_bmi2, __attribute__((target("bmi,bmi2,lzcnt"))))
#endif

/* The decoders for this CPU. */
static const jd_line_decoders *
line_decoders(void)
{
#ifdef JD_HAVE_BMI2_LINES
    if (__builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")
        && __builtin_cpu_supports("lzcnt"))
        return &lines_bmi2;
#endif
    return &lines_generic;
}

/* ------------------------------------------------------------------------- */
/* Output                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct jd_output {
    uint8_t *dst;
    uint32_t width, ncomp, obytes;
    uint32_t sign_bits;      /* sign-extend from this many bits; 0: no */
} jd_output;

/*
 * `count` samples from `line` (every `step`-th) into row `row`, component
 * `comp` of dst.
 */
static void
write_line(const jd_output *o, uint32_t row, uint32_t comp, const int32_t *line,
           uint32_t step)
{
    const uint64_t stride = (uint64_t)o->ncomp * o->obytes;
    uint8_t *out = o->dst + ((uint64_t)row * o->width * o->ncomp + comp) * o->obytes;
    uint32_t x, mask = 0xFFFFu, sign = 0;

    if (o->sign_bits) {
        mask = (1u << o->sign_bits) - 1;
        sign = 1u << (o->sign_bits - 1);
    }
    if (stride == o->obytes && step == 1) {
        /* one component: contiguous, a loop the compiler vectorises */
        if (o->obytes == 1) {
            for (x = 0; x < o->width; x++)
                out[x] = (uint8_t)((((uint32_t)line[x] & mask) ^ sign) - sign);
        } else {
            for (x = 0; x < o->width; x++) {
                uint32_t v = (((uint32_t)line[x] & mask) ^ sign) - sign;
                out[2 * x] = (uint8_t)v;
                out[2 * x + 1] = (uint8_t)(v >> 8);
            }
        }
    } else if (o->obytes == 1) {
        for (x = 0; x < o->width; x++)
            out[x * stride] = (uint8_t)((((uint32_t)line[x * step] & mask) ^ sign) - sign);
    } else {
        for (x = 0; x < o->width; x++) {
            uint32_t v = (((uint32_t)line[x * step] & mask) ^ sign) - sign;
            out[x * stride] = (uint8_t)v;
            out[x * stride + 1] = (uint8_t)(v >> 8);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* Markers                                                                    */
/* ------------------------------------------------------------------------- */

typedef struct jd_frame {
    uint32_t width, height, precision, ncomp;
    uint8_t ids[JD_MAX_COMPONENTS];
    int seen;                /* SOF55 read */
    jd_params preset;        /* from LSE 1; zero fields: defaults */
    uint32_t restart;        /* DRI interval in lines; 0: none */
} jd_frame;

/* Offset of the next marker at or after pos, or len: 0xFF, then a byte
 * with its top bit set (in a scan a smaller one is stuffed data, C.1.2)
 * other than 0xFF (a fill byte). */
static uint64_t
next_marker(const uint8_t *src, uint64_t len, uint64_t pos)
{
    while (pos < len) {
        const uint8_t *p = (const uint8_t *)memchr(src + pos, 0xFF, (size_t)(len - pos));
        if (p == NULL)
            return len;
        pos = (uint64_t)(p - src);
        if (len - pos >= 2 && p[1] >= 0x80 && p[1] != 0xFF)
            return pos;
        pos++;
    }
    return len;
}

static rd_status
read_sof55(const uint8_t *seg, uint32_t seglen, uint64_t at, jd_frame *f, rd_error *err)
{
    uint32_t i;
    if (f->seen)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG, "JPEG-LS: a second SOF55 segment");
    if (seglen < 6 || seglen != 6 + 3u * seg[5])
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: SOF55 segment of %u bytes is malformed", (unsigned)seglen);
    f->precision = seg[0];
    f->height = rd_u16(seg + 1, 0);
    f->width = rd_u16(seg + 3, 0);
    f->ncomp = seg[5];
    if (f->precision < 2 || f->precision > 16)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS codestream has %u-bit samples (2..16 allowed)",
                       (unsigned)f->precision);
    if (f->ncomp < 1 || f->ncomp > JD_MAX_COMPONENTS)
        return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                       "JPEG-LS codestream has %u components (1..4 supported)",
                       (unsigned)f->ncomp);
    if (f->height == 0 || f->width == 0)
        return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                       "JPEG-LS: SOF55 size %u x %u (a size set by DNL or LSE is not supported)",
                       (unsigned)f->width, (unsigned)f->height);
    for (i = 0; i < f->ncomp; i++) {
        uint32_t j;
        f->ids[i] = seg[6 + 3 * i];
        if (seg[7 + 3 * i] != 0x11)
            return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                           "JPEG-LS: component %u has sampling factors 0x%02X (only 1x1)",
                           (unsigned)i, (unsigned)seg[7 + 3 * i]);
        for (j = 0; j < i; j++)
            if (f->ids[j] == f->ids[i])
                return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                               "JPEG-LS: component id %u appears twice", (unsigned)f->ids[i]);
    }
    f->seen = 1;
    return RD_OK;
}

static rd_status
read_lse(const uint8_t *seg, uint32_t seglen, uint64_t at, jd_frame *f, rd_error *err)
{
    if (seglen < 1)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG, "JPEG-LS: empty LSE segment");
    if (seg[0] != 1)
        return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                       "JPEG-LS: LSE segment of type %u (mapping tables, oversize images) "
                       "is not supported", (unsigned)seg[0]);
    if (seglen != 11)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: preset parameters segment of %u bytes (11 expected)",
                       (unsigned)seglen);
    f->preset.maxval = rd_u16(seg + 1, 0);
    f->preset.t1 = rd_u16(seg + 3, 0);
    f->preset.t2 = rd_u16(seg + 5, 0);
    f->preset.t3 = rd_u16(seg + 7, 0);
    f->preset.reset = rd_u16(seg + 9, 0);
    return RD_OK;
}

static rd_status
read_dri(const uint8_t *seg, uint32_t seglen, uint64_t at, jd_frame *f, rd_error *err)
{
    uint32_t i, v = 0;
    if (seglen < 1 || seglen > 4)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: DRI segment of %u bytes is malformed", (unsigned)seglen);
    for (i = 0; i < seglen; i++)
        v = (v << 8) | seg[i];
    f->restart = v;
    return RD_OK;
}

/* APP8 "mrfx" + transform byte: a colour transform (HP1-3) other than none. */
static int
has_colour_transform(const uint8_t *seg, uint32_t seglen)
{
    return seglen >= 5 && memcmp(seg, "mrfx", 4) == 0 && seg[4] != 0;
}

/* ------------------------------------------------------------------------- */
/* Scans                                                                      */
/* ------------------------------------------------------------------------- */

/* What one SOS segment says. */
typedef struct jd_sos {
    uint32_t ns;                        /* components in the scan */
    uint32_t comp[JD_MAX_COMPONENTS];   /* their frame indices */
    uint32_t near, ilv;
} jd_sos;

static rd_status
read_sos(const uint8_t *seg, uint32_t seglen, uint64_t at, const jd_frame *f,
         uint32_t *done_mask, jd_sos *sos, rd_error *err)
{
    uint32_t i, ns, pt;
    if (!f->seen)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG, "JPEG-LS: SOS before SOF55");
    if (seglen < 1 || seglen != 4 + 2u * seg[0] || seg[0] == 0)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: SOS segment of %u bytes is malformed", (unsigned)seglen);
    ns = seg[0];
    if (ns > f->ncomp)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: scan of %u components in a frame of %u", (unsigned)ns,
                       (unsigned)f->ncomp);
    for (i = 0; i < ns; i++) {
        uint32_t id = seg[1 + 2 * i], c;
        for (c = 0; c < f->ncomp && f->ids[c] != id; c++)
            ;
        if (c == f->ncomp || (*done_mask & (1u << c)))
            return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                           "JPEG-LS: scan names component id %u, which is %s", (unsigned)id,
                           c == f->ncomp ? "not in the frame" : "already decoded");
        if (seg[2 + 2 * i] != 0)
            return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                           "JPEG-LS: mapping table %u is not supported", (unsigned)seg[2 + 2 * i]);
        sos->comp[i] = c;
        *done_mask |= 1u << c;
    }
    sos->ns = ns;
    sos->near = seg[1 + 2 * ns];
    sos->ilv = seg[2 + 2 * ns];
    pt = seg[3 + 2 * ns];
    if (sos->ilv > 2)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: interleave mode %u (0..2 allowed)", (unsigned)sos->ilv);
    if (sos->ilv == 0 && ns != 1)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: interleave mode 0 with %u components in the scan", (unsigned)ns);
    if (pt != 0)
        return rd_fail(err, RD_ERR_UNSUPPORTED, at, RD_NO_TAG,
                       "JPEG-LS: point transform %u is not supported", (unsigned)pt);
    return RD_OK;
}

/* The scan's coding parameters from the preset (defaults filled in) and
 * NEAR, checked as C.2.4.1.1 requires. */
static rd_status
setup_scan(jd_scan *s, const jd_frame *f, uint32_t near, int8_t *quant, uint64_t at,
           rd_error *err)
{
    jd_params p = f->preset;
    const int32_t top = (int32_t)((1u << f->precision) - 1);
    int32_t bpp;

    if (p.maxval == 0)
        p.maxval = top;
    if (p.maxval > top)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: MAXVAL %d exceeds %u-bit samples", (int)p.maxval,
                       (unsigned)f->precision);
    if ((int32_t)near > (p.maxval / 2 < 255 ? p.maxval / 2 : 255))
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: NEAR %u is too large for MAXVAL %d", (unsigned)near,
                       (int)p.maxval);
    if (p.reset == 0)
        p.reset = 64;
    default_thresholds(&p, (int32_t)near);
    if (p.t1 < (int32_t)near + 1 || p.t2 < p.t1 || p.t3 < p.t2 || p.t3 > p.maxval
        || p.reset < 3 || p.reset > (p.maxval > 255 ? p.maxval : 255))
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS: invalid preset parameters (T1 %d, T2 %d, T3 %d, RESET %d, "
                       "MAXVAL %d, NEAR %u)", (int)p.t1, (int)p.t2, (int)p.t3, (int)p.reset,
                       (int)p.maxval, (unsigned)near);
    /* MAXVAL of the preset sets the default thresholds (and bounds the
     * explicit ones) above; the coding itself - RANGE, qbpp, LIMIT, the
     * sample clamp - uses 2^P - 1, as CharLS 2.x (encoder and decoder)
     * does.  ISO/IEC 14495-1 would use MAXVAL there too, but the JPEG-LS
     * data in DICOM is overwhelmingly CharLS-made, and its decoders are
     * the reference this decoder must equal bit for bit. */
    p.maxval = top;
    s->maxval = p.maxval;
    s->near = (int32_t)near;
    s->step = 2 * s->near + 1;
    s->range = (p.maxval + 2 * s->near) / s->step + 1;
    s->qbpp = log2_ceil(s->range);
    bpp = log2_ceil(p.maxval + 1);
    if (bpp < 2)
        bpp = 2;
    s->limit = 2 * (bpp + (bpp > 8 ? bpp : 8));
    s->reset = p.reset;
    build_quantizer(quant, &p, s->near, top);
    s->quant = quant + top;
    reset_contexts(s);
    return RD_OK;
}

/* Guard samples of a line before it is decoded (A.2.1): Ra of the first
 * sample is Rb, Rd of the last is Rb; `nc` samples per pixel. */
static void
set_guards(int32_t *prev, int32_t *cur, uint32_t width, uint32_t nc)
{
    uint32_t c;
    for (c = 0; c < nc; c++) {
        cur[c - (int64_t)nc] = prev[c];
        prev[(int64_t)width * nc + c] = prev[(int64_t)(width - 1) * nc + c];
    }
}

typedef struct jd_buffers {
    int32_t *lines;          /* 2 * (width + 2) * ncomp samples */
} jd_buffers;

/*
 * After a restart interval: the bit reader must stand before RSTm with
 * m = `index` mod 8; restart it behind the marker.
 */
static rd_status
restart(jd_scan *s, const uint8_t *src, uint64_t len, uint32_t index, rd_error *err)
{
    uint64_t pos = next_marker(src, len, (uint64_t)(s->bits.pos - src));
    if (!rd_has(len, pos, 2) || src[pos + 1] != 0xD0 + (index & 7))
        return rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                       "JPEG-LS: restart marker RST%u missing", (unsigned)(index & 7));
    bits_start(&s->bits, src + pos + 2, src + len);
    reset_contexts(s);
    return RD_OK;
}

/*
 * Decode one scan whose entropy-coded data starts at src[pos]; returns the
 * offset just past its data (where the next marker is searched).
 */
static rd_status
decode_scan(jd_scan *s, const jd_frame *f, const jd_sos *sos, const jd_buffers *lb,
            const jd_output *out, const uint8_t *src, uint64_t len, uint64_t pos,
            uint64_t *end_pos, rd_error *err)
{
    const int interleaved = sos->ilv == 2 && sos->ns > 1;
    const uint32_t groups = interleaved ? 1 : sos->ns;         /* line buffers in use */
    const uint32_t nc = interleaved ? sos->ns : 1;             /* samples per pixel in one */
    const uint64_t line_len = (uint64_t)(f->width + 2) * nc;
    const jd_line_decoders *lines = line_decoders();
    uint32_t run_index[JD_MAX_COMPONENTS] = {0};
    uint32_t row, g, restarts = 0, since_restart = 0;

    memset(lb->lines, 0, (size_t)(2 * line_len * groups * sizeof(int32_t)));
    bits_start(&s->bits, src + pos, src + len);
    for (row = 0; row < f->height; row++) {
        if (f->restart && since_restart == f->restart) {
            rd_status st = restart(s, src, len, restarts++, err);
            if (st != RD_OK)
                return st;
            memset(lb->lines, 0, (size_t)(2 * line_len * groups * sizeof(int32_t)));
            memset(run_index, 0, sizeof(run_index));
            since_restart = 0;
        }
        for (g = 0; g < groups; g++) {
            int32_t *base = lb->lines + 2 * line_len * g;
            /* rows alternate between the two buffers of the group */
            int32_t *cur = base + (row & 1) * line_len + nc;
            int32_t *prev = base + ((row + 1) & 1) * line_len + nc;
            set_guards(prev, cur, f->width, nc);
            if (interleaved)
                (s->near == 0 ? lines->interleaved : lines->interleaved_near)(
                    s, prev, cur, f->width, nc, &run_index[0]);
            else
                (s->near == 0 ? lines->single : lines->single_near)(
                    s, prev, cur, f->width, 1, &run_index[g]);
            if (RD_UNLIKELY(s->bits.bad || s->bits.count < s->bits.zeros))
                return rd_fail(err, RD_ERR_DECODE, (uint64_t)(s->bits.pos - src), RD_NO_TAG,
                               "JPEG-LS: %s in line %u of the scan",
                               s->bits.bad ? "invalid code" : "data ended early",
                               (unsigned)row);
            if (interleaved) {
                uint32_t c;
                for (c = 0; c < nc; c++)
                    write_line(out, row, sos->comp[c], cur + c, nc);
            } else {
                write_line(out, row, sos->comp[g], cur, 1);
            }
        }
        since_restart++;
    }
    *end_pos = (uint64_t)(s->bits.pos - src);
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Frame                                                                      */
/* ------------------------------------------------------------------------- */

static rd_status
check_frame_against_desc(const jd_frame *f, const rd_frame_desc *desc, uint64_t at,
                         rd_error *err)
{
    if (f->width != desc->columns || f->height != desc->rows)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS codestream is %u x %u (columns x rows), the dataset says %u x %u",
                       (unsigned)f->width, (unsigned)f->height, (unsigned)desc->columns,
                       (unsigned)desc->rows);
    if (f->ncomp != desc->samples_per_pixel)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS codestream has %u components, the dataset says %u samples per pixel",
                       (unsigned)f->ncomp, (unsigned)desc->samples_per_pixel);
    if (f->precision > desc->bits_allocated)
        return rd_fail(err, RD_ERR_DECODE, at, RD_NO_TAG,
                       "JPEG-LS codestream has %u-bit samples, the dataset has Bits Allocated %u",
                       (unsigned)f->precision, (unsigned)desc->bits_allocated);
    return RD_OK;
}

/*
 * The one allocation: line buffers for every component of the frame (two
 * lines of width + 2 samples each; enough for any scan layout) and the
 * gradient quantisation table for the largest MAXVAL of the precision.
 */
static rd_status
allocate_buffers(const jd_frame *f, void **block, jd_buffers *lb, int8_t **quant,
                 rd_error *err)
{
    const uint64_t line = (uint64_t)(f->width + 2) * f->ncomp;
    const uint64_t lines_bytes = 2 * line * sizeof(int32_t);
    const uint64_t quant_bytes = 2 * (((uint64_t)1 << f->precision) - 1) + 1;
    uint8_t *p = (uint8_t *)malloc((size_t)(lines_bytes + quant_bytes));
    if (p == NULL)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "JPEG-LS: cannot allocate %llu bytes",
                       (unsigned long long)(lines_bytes + quant_bytes));
    *block = p;
    lb->lines = (int32_t *)p;
    *quant = (int8_t *)(p + lines_bytes);
    return RD_OK;
}

rd_status
rd_jls_own_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                        const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                        rd_error *err)
{
    void *block = NULL;
    jd_frame frame;
    jd_buffers lb = {NULL};
    int8_t *quant = NULL;
    jd_scan scan;
    jd_contexts contexts;
    jd_output out;
    uint64_t max_pixels = RD_DEFAULT_MAX_PIXELS, pos;
    uint32_t flags = 0, max_scans, scans = 0, done_mask = 0, obytes, sign_bits;
    int ybr_to_rgb;
    rd_status st;

    rd_read_codec_options(options, &flags, NULL, &max_pixels);
    st = rd_jls_check_desc(src, src_len, desc, dst, dst_cap, max_pixels, err);
    if (st != RD_OK)
        return st;
    max_scans = RD_CODEC_LIMIT(options, max_scans, RD_DEFAULT_MAX_JPEG_SCANS);
    obytes = desc->bits_allocated / 8;
    memset(&frame, 0, sizeof(frame));
    memset(&scan, 0, sizeof(scan));
    scan.ctx = contexts.ctx;
    scan.nn = contexts.nn;

    if (!rd_has(src_len, 0, 2) || src[0] != 0xFF || src[1] != 0xD8) {
        st = rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG, "JPEG-LS: no SOI marker at the start");
        goto cleanup;
    }
    rd_jls_pydicom_rules(src, src_len, desc, flags, &sign_bits, &ybr_to_rgb);
    out.dst = dst;
    out.width = desc->columns;
    out.ncomp = desc->samples_per_pixel;
    out.obytes = obytes;
    out.sign_bits = desc->pixel_representation == 1 && sign_bits < 8 * obytes ? sign_bits : 0;

    pos = 2;
    for (;;) {
        uint32_t marker, seglen;
        const uint8_t *seg;
        pos = next_marker(src, src_len, pos);
        if (!rd_has(src_len, pos, 2)) {
            st = rd_fail(err, RD_ERR_DECODE, src_len, RD_NO_TAG,
                         "JPEG-LS codestream ends before its EOI marker");
            goto cleanup;
        }
        marker = src[pos + 1];
        if (marker == 0xD9)
            break;
        if (marker >= 0xD0 && marker <= 0xD7) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG-LS: RST%u marker outside a scan", (unsigned)(marker - 0xD0));
            goto cleanup;
        }
        if (!rd_has(src_len, pos, 4) || rd_u16(src + pos + 2, 0) < 2
            || !rd_has(src_len, pos + 2, rd_u16(src + pos + 2, 0))) {
            st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                         "JPEG-LS: marker segment 0xFF%02X runs past the end", (unsigned)marker);
            goto cleanup;
        }
        seglen = rd_u16(src + pos + 2, 0) - 2u;
        seg = src + pos + 4;
        switch (marker) {
        case 0xF7:
            st = read_sof55(seg, seglen, pos, &frame, err);
            if (st == RD_OK)
                st = check_frame_against_desc(&frame, desc, pos, err);
            if (st == RD_OK)
                st = allocate_buffers(&frame, &block, &lb, &quant, err);
            break;
        case 0xF8:
            st = read_lse(seg, seglen, pos, &frame, err);
            break;
        case 0xDD:
            st = read_dri(seg, seglen, pos, &frame, err);
            break;
        case 0xE8:
            st = has_colour_transform(seg, seglen)
                ? rd_fail(err, RD_ERR_UNSUPPORTED, pos, RD_NO_TAG,
                          "JPEG-LS: colour transform HP%u is not supported", (unsigned)seg[4])
                : RD_OK;
            break;
        case 0xDA: {
            jd_sos sos = {0, {0}, 0, 0};
            uint64_t end_pos = 0;
            if (++scans > max_scans) {
                st = rd_fail(err, RD_ERR_LIMIT, pos, RD_NO_TAG,
                             "JPEG-LS: more than %u scans (limit max_scans)", (unsigned)max_scans);
                break;
            }
            st = read_sos(seg, seglen, pos, &frame, &done_mask, &sos, err);
            if (st == RD_OK)
                st = setup_scan(&scan, &frame, sos.near, quant, pos, err);
            if (st == RD_OK)
                st = decode_scan(&scan, &frame, &sos, &lb, &out, src, src_len,
                                 pos + 4 + seglen, &end_pos, err);
            if (st == RD_OK) {
                pos = end_pos;
                continue;
            }
            break;
        }
        default:
            if ((marker >= 0xC0 && marker <= 0xCF) || marker == 0xF9 || marker == 0xDE
                || marker == 0xDF || marker == 0xDC)
                st = rd_fail(err, RD_ERR_UNSUPPORTED, pos, RD_NO_TAG,
                             "JPEG-LS: marker 0xFF%02X (not JPEG-LS SOF55 coding) is not "
                             "supported", (unsigned)marker);
            break;          /* APPn, COM and others: skipped */
        }
        if (st != RD_OK)
            goto cleanup;
        pos += 2 + 2 + seglen;
    }
    if (!frame.seen || done_mask != (1u << frame.ncomp) - 1) {
        st = rd_fail(err, RD_ERR_DECODE, pos, RD_NO_TAG,
                     "JPEG-LS: EOI before every component was decoded");
        goto cleanup;
    }
    if (ybr_to_rgb)
        rd_ybr_full_to_rgb_u8(dst, (uint64_t)desc->rows * desc->columns);
    st = RD_OK;

cleanup:
    free(block);
    return st;
}
