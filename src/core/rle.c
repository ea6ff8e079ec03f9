/*
 * rle.c - RLE Lossless (PS3.5 Annex G) frame decoder.
 *
 * Stream layout (Annex G.3, G.5): a 64-byte header of sixteen little-endian
 * uint32 - the number of segments (1..15), then the byte offset of each
 * segment from the start of the frame (unused entries are 0 and ignored
 * here) - followed by the segments.  Segment k ends where segment k+1
 * starts; the last one ends at the end of the frame.  Each segment is
 * PackBits (G.3.1): a control byte n read as int8 says
 *     0..127     copy the next n+1 bytes literally,
 *     -1..-127   repeat the next byte 1-n times,
 *     -128       nothing (skip the control byte).
 * A segment holds one byte of every pixel, so it decodes to exactly
 * rows*columns bytes.  Segments go sample by sample; within a sample, the
 * most significant byte first (G.2): segment k carries byte
 * (bps - 1 - k % bps) (little-endian numbering) of sample k / bps, where
 * bps = bits_allocated / 8.
 *
 * Output (rapidicom.h contract): samples interleaved, each bps bytes little
 * endian, rd_frame_size(desc) bytes in all.
 *
 * Why it is fast: nothing is allocated and dst is written in one pass.
 * For stride 1 (8-bit monochrome) the segment decodes straight into dst,
 * runs copied and filled in whole 16-byte blocks (decode_segment_contiguous).
 * For 2 to 4 segments (16-bit, RGB, 32-bit) all segments decode side by
 * side, 2048 pixels at a time, into small contiguous buffers (runs become
 * memcpy/memset) that are then interleaved into dst (decode_interleaved).
 * Other layouts decode each segment into place, one byte every stride.
 * The header is read once.
 *
 * Invariants:
 *   - before anything is written, dst_cap >= rd_frame_size(desc) and the
 *     header (count, offsets) has been checked: offsets[0] == 64, strictly
 *     increasing, each < src_len; so segment k is the non-empty range
 *     [offsets[k], seg_end(k)) inside src.
 *   - in decode_segment: `pos <= len` (input consumed) and `got <= want`
 *     (output bytes written); a run is clamped to both `len - pos` and
 *     `want - got` before it is copied, so no read leaves the segment and no
 *     write goes past byte want*stride - 1 of the segment's first byte.
 *     (The stride-1 block copies may run ahead of a run, but only inside
 *     the part of the frame the segment has still to write; see there.)
 *   - input left over once a segment is full is ignored: real files pad a
 *     segment to even length, and some encoders end with a run that is too
 *     long.  (pydicom likewise keeps only the first rows*columns bytes.)
 *     Too little output is an error naming the segment and the shortfall.
 *   - on failure dst may be partly written.
 */
#include "rd_common.h"

#define RLE_HEADER_SIZE 64u
#define RLE_MAX_SEGMENTS 15u

#if defined(__GNUC__) || defined(__clang__)
#define RLE_INLINE static inline __attribute__((always_inline))
#else
#define RLE_INLINE static inline
#endif

/* ------------------------------------------------------------------------- */
/* PackBits segment                                                           */
/* ------------------------------------------------------------------------- */

/*
 * Decode `len` bytes at `in` into `out`, one byte every `stride` bytes, and
 * stop once `want` bytes are out.  Returns the bytes written (< want only
 * when the input ran out).  `stride` is a compile-time constant at each call
 * site below except the generic one, so the loops specialise.
 */
RLE_INLINE uint64_t
decode_segment(const uint8_t *in, uint64_t len, uint8_t *out, uint64_t stride,
               uint64_t want)
{
    uint64_t pos = 0, got = 0;

    while (got < want && pos < len) {
        uint8_t control = in[pos++];
        uint64_t n, i;

        if (control < 128) {
            /* Literal run of control + 1 bytes; a run cut short by the end
             * of the segment copies what is there (the shortfall is then
             * reported by the caller). */
            n = (uint64_t)control + 1;
            if (n > len - pos)
                n = len - pos;
            if (n > want - got)
                n = want - got;
            if (stride == 1) {
                memcpy(out + got, in + pos, (size_t)n);
            } else {
                uint8_t *o = out + got * stride;
                for (i = 0; i < n; i++)
                    o[i * stride] = in[pos + i];
            }
            pos += n;
            got += n;
        } else if (control > 128) {
            /* Replicate run: the next byte 257 - control (2..128) times. */
            uint8_t value;
            if (pos == len)
                break;
            value = in[pos++];
            n = 257u - control;
            if (n > want - got)
                n = want - got;
            if (stride == 1) {
                memset(out + got, value, (size_t)n);
            } else {
                uint8_t *o = out + got * stride;
                for (i = 0; i < n; i++)
                    o[i * stride] = value;
            }
            got += n;
        }
        /* control == 128 (-128): no operation. */
    }
    return got;
}

/*
 * decode_segment() for stride 1 (one segment per frame: 8-bit, 1 sample),
 * the most common RLE layout, with runs copied in whole 16-byte blocks.
 * A block may write up to 15 bytes past the end of its run; that is allowed
 * only while those bytes are still inside [got, want), i.e. bytes this
 * segment has yet to write.  The runs that follow write every one of them
 * again, in order, so a successful decode leaves no trace of the overshoot
 * (and a failed one may leave any bytes, as documented).  Reads overshoot
 * the same way, and only within the segment.
 */
static uint64_t
decode_segment_contiguous(const uint8_t *in, uint64_t len, uint8_t *out, uint64_t want)
{
    uint64_t pos = 0, got = 0;

    while (got < want && pos < len) {
        uint8_t control = in[pos++];
        uint64_t n, blocks, i;

        if (control < 128) {
            n = (uint64_t)control + 1;
            blocks = (n + 15) & ~(uint64_t)15;
            if (blocks <= len - pos && blocks <= want - got) {
                for (i = 0; i < blocks; i += 16)
                    memcpy(out + got + i, in + pos + i, 16);
            } else {
                if (n > len - pos)
                    n = len - pos;
                if (n > want - got)
                    n = want - got;
                memcpy(out + got, in + pos, (size_t)n);
            }
            pos += n;
            got += n;
        } else if (control > 128) {
            uint8_t value;
            if (pos == len)
                break;
            value = in[pos++];
            n = 257u - control;
            blocks = (n + 15) & ~(uint64_t)15;
            if (blocks <= want - got) {
                for (i = 0; i < blocks; i += 16)
                    memset(out + got + i, value, 16);
            } else {
                if (n > want - got)
                    n = want - got;
                memset(out + got, value, (size_t)n);
            }
            got += n;
        }
    }
    return got;
}

static uint64_t
decode_segment_strided(const uint8_t *in, uint64_t len, uint8_t *out, uint64_t stride,
                       uint64_t want)
{
    switch (stride) {
    case 1:
        return decode_segment_contiguous(in, len, out, want);
    case 2:
        return decode_segment(in, len, out, 2, want);
    case 3:
        return decode_segment(in, len, out, 3, want);
    case 4:
        return decode_segment(in, len, out, 4, want);
    default:
        return decode_segment(in, len, out, stride, want);
    }
}

/* ------------------------------------------------------------------------- */
/* Several segments at once (strides 2 to 4)                                  */
/* ------------------------------------------------------------------------- */

/*
 * Where a segment's decoding stands, so that it can stop after any byte and
 * go on later: the input position and the rest of the run under way.
 */
typedef struct rle_cursor {
    const uint8_t *in;
    uint64_t len, pos;
    uint64_t pending;    /* bytes of the current run not yet written */
    int literal;         /* the run copies input bytes (else repeats `value`) */
    uint8_t value;
} rle_cursor;

/*
 * The next `want` bytes of the cursor's segment into `out`, contiguous;
 * returns how many (fewer only when the input ran out).  The same PackBits
 * rules as decode_segment(), one piece at a time.
 */
static uint64_t
cursor_read(rle_cursor *c, uint8_t *out, uint64_t want)
{
    uint64_t got = 0;

    while (got < want) {
        uint64_t n;

        if (c->pending == 0) {
            uint8_t control;
            if (c->pos >= c->len)
                break;
            control = c->in[c->pos++];
            if (control < 128) {
                c->literal = 1;
                c->pending = (uint64_t)control + 1;
            } else if (control > 128) {
                if (c->pos == c->len)
                    break;
                c->literal = 0;
                c->value = c->in[c->pos++];
                c->pending = 257u - control;
            }
            continue;   /* control == 128: no operation */
        }
        n = c->pending < want - got ? c->pending : want - got;
        if (c->literal) {
            if (n > c->len - c->pos)
                n = c->len - c->pos;
            if (n == 0)
                break;   /* a literal run cut short by the end of the input */
            memcpy(out + got, c->in + c->pos, (size_t)n);
            c->pos += n;
        } else {
            memset(out + got, c->value, (size_t)n);
        }
        c->pending -= n;
        got += n;
    }
    return got;
}

#define RLE_CHUNK 2048u  /* pixels decoded per segment before interleaving */

/*
 * Decode `nseg` segments (2 to 4, one byte of each pixel each) a chunk of
 * pixels at a time into small contiguous buffers, where runs are plain
 * memcpy/memset, and interleave the chunk into dst: one pass over dst
 * instead of one per segment, with no single-byte strided stores.
 * `place[k]` is segment k's byte within a pixel of `stride` = nseg bytes.
 * Returns 1 when every segment gave `pixels` bytes, else 0 (dst partly
 * written; the caller decodes again segment by segment for the error).
 */
static int
decode_interleaved(rle_cursor *cur, const uint32_t *place, uint32_t nseg,
                   uint64_t pixels, uint8_t *dst)
{
    uint8_t chunk[4][RLE_CHUNK];
    uint64_t done, i;
    uint32_t k;

    for (done = 0; done < pixels; done += RLE_CHUNK) {
        uint64_t n = pixels - done < RLE_CHUNK ? pixels - done : RLE_CHUNK;
        uint8_t *out = dst + done * nseg;

        for (k = 0; k < nseg; k++)
            if (cursor_read(&cur[k], chunk[k], n) != n)
                return 0;
        switch (nseg) {   /* constant strides let the compiler vectorise */
        case 2:
            for (i = 0; i < n; i++) {
                out[2 * i + place[0]] = chunk[0][i];
                out[2 * i + place[1]] = chunk[1][i];
            }
            break;
        case 3:
            for (i = 0; i < n; i++) {
                out[3 * i + place[0]] = chunk[0][i];
                out[3 * i + place[1]] = chunk[1][i];
                out[3 * i + place[2]] = chunk[2][i];
            }
            break;
        default:
            for (i = 0; i < n; i++) {
                out[4 * i + place[0]] = chunk[0][i];
                out[4 * i + place[1]] = chunk[1][i];
                out[4 * i + place[2]] = chunk[2][i];
                out[4 * i + place[3]] = chunk[3][i];
            }
            break;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Frame                                                                      */
/* ------------------------------------------------------------------------- */

rd_status
rd_rle_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    uint64_t offsets[RLE_MAX_SEGMENTS];
    uint64_t pixels, stride;
    uint32_t bps, nseg, expected, k;
    rd_status st;

    if (desc == NULL || dst == NULL || (src == NULL && src_len != 0))
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "RLE: NULL %s", desc == NULL ? "frame description"
                                       : dst == NULL ? "output buffer" : "input");
    if (desc->bits_allocated == 1)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "RLE Lossless with 1-bit Bits Allocated is not supported");
    if (desc->bits_allocated == 0 || desc->bits_allocated % 8 != 0)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG,
                       "RLE: Bits Allocated %u is not a multiple of 8",
                       (unsigned)desc->bits_allocated);
    st = rd_check_frame_fits("RLE", desc, dst_cap, UINT64_MAX, err);
    if (st != RD_OK)
        return st;

    bps = desc->bits_allocated / 8;
    /* frame_size did not overflow, so neither do its factors. */
    pixels = (uint64_t)desc->rows * desc->columns;
    stride = (uint64_t)desc->samples_per_pixel * bps;
    if (stride > RLE_MAX_SEGMENTS)
        return rd_fail(err, RD_ERR_UNSUPPORTED, 0, RD_NO_TAG,
                       "RLE: %u samples of %u bits need %llu segments, "
                       "more than the 15 an RLE header can describe",
                       (unsigned)desc->samples_per_pixel, (unsigned)desc->bits_allocated,
                       (unsigned long long)stride);
    expected = (uint32_t)stride;

    /* --- header --- */
    if (!(RLE_HEADER_SIZE <= src_len))
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "RLE header truncated: %llu of 64 bytes",
                       (unsigned long long)src_len);
    nseg = rd_u32(src, 1);
    if (nseg != expected)
        return rd_fail(err, RD_ERR_DECODE, 0, RD_NO_TAG,
                       "RLE header gives %u segments, expected %u "
                       "(%u samples x %u bytes)",
                       (unsigned)nseg, (unsigned)expected,
                       (unsigned)desc->samples_per_pixel, (unsigned)bps);
    for (k = 0; k < nseg; k++) {
        uint64_t off = rd_u32(src + 4 + 4 * k, 1);
        uint64_t lower = k == 0 ? RLE_HEADER_SIZE : offsets[k - 1] + 1;
        if (k == 0 && off != RLE_HEADER_SIZE)
            return rd_fail(err, RD_ERR_DECODE, 4, RD_NO_TAG,
                           "RLE segment 1 starts at offset %llu, must be 64",
                           (unsigned long long)off);
        if (off < lower)
            return rd_fail(err, RD_ERR_DECODE, 4 + 4 * (uint64_t)k, RD_NO_TAG,
                           "RLE segment %u starts at offset %llu, not after "
                           "segment %u (offset %llu)",
                           (unsigned)k + 1, (unsigned long long)off, (unsigned)k,
                           (unsigned long long)offsets[k - 1]);
        if (!(off < src_len))
            return rd_fail(err, RD_ERR_DECODE, 4 + 4 * (uint64_t)k, RD_NO_TAG,
                           "RLE segment %u starts at offset %llu, at or past the end "
                           "of the %llu-byte frame",
                           (unsigned)k + 1, (unsigned long long)off,
                           (unsigned long long)src_len);
        offsets[k] = off;
    }

    /* --- segments --- */
    if (nseg >= 2 && nseg <= 4) {
        rle_cursor cur[4];
        uint32_t place[4];
        for (k = 0; k < nseg; k++) {
            cur[k].in = src + offsets[k];
            cur[k].len = (k + 1 < nseg ? offsets[k + 1] : src_len) - offsets[k];
            cur[k].pos = cur[k].pending = 0;
            cur[k].literal = 0;
            cur[k].value = 0;
            place[k] = (k / bps) * bps + (bps - 1 - k % bps);
        }
        if (decode_interleaved(cur, place, nseg, pixels, dst))
            return RD_OK;
        /* A segment fell short: decode one by one below to name it. */
    }
    for (k = 0; k < nseg; k++) {
        uint64_t start = offsets[k];
        uint64_t end = k + 1 < nseg ? offsets[k + 1] : src_len;
        uint32_t sample = k / bps;
        uint32_t byte_le = bps - 1 - k % bps;
        uint8_t *out = dst + (uint64_t)sample * bps + byte_le;
        uint64_t got = decode_segment_strided(src + start, end - start, out, stride, pixels);

        if (got < pixels)
            return rd_fail(err, RD_ERR_DECODE, end, RD_NO_TAG,
                           "RLE segment %u of %u (sample %u, byte %u of %u, most "
                           "significant first) ends after %llu of %llu bytes: "
                           "%llu bytes missing",
                           (unsigned)k + 1, (unsigned)nseg, (unsigned)sample,
                           (unsigned)(k % bps) + 1, (unsigned)bps, (unsigned long long)got,
                           (unsigned long long)pixels,
                           (unsigned long long)(pixels - got));
    }
    return RD_OK;
}
