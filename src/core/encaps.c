/*
 * encaps.c - the frame table of encapsulated Pixel Data: which fragments
 * make up each frame.
 *
 * Sources, in order of trust: the Extended Offset Table (one fragment per
 * frame, offsets of item tags), the Basic Offset Table (offsets of each
 * frame's first item tag), else a walk of the fragments: one fragment per
 * frame, all fragments for a single frame, or frames ended by a JPEG/J2K
 * EOI/EOC marker (FFD9) in the last bytes of a fragment.  Tables are checked
 * (in range, increasing, on an item boundary); a bad table is ignored with a
 * flag and the walk is used instead.
 *
 * Offsets here are those of item tags in the scanned buffer, as recorded by
 * the scanner; item 0 is the Basic Offset Table.  Nothing is copied.
 */
#include "rd_common.h"

/* Index of the fragment whose item tag is at `offset`, or UINT32_MAX. */
static uint32_t
fragment_at(const uint64_t *item_offsets, uint32_t nitems, uint64_t offset)
{
    uint32_t lo = 1, hi = nitems;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (item_offsets[mid] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nitems && item_offsets[lo] == offset ? lo : UINT32_MAX;
}

/* Frames from a table of offsets (relative to the first fragment's item). */
static int
spans_from_offsets(const uint64_t *item_offsets, uint32_t nitems, const uint8_t *table,
                   uint64_t entry_size, uint64_t nframes, rd_frame_span *out)
{
    uint64_t base = item_offsets[1];
    uint32_t prev = 0;
    for (uint64_t i = 0; i < nframes; i++) {
        uint64_t rel = entry_size == 4 ? rd_u32(table + i * 4, 1)
                                       : ((uint64_t)rd_u32(table + i * 8 + 4, 1) << 32)
                                             | rd_u32(table + i * 8, 1);
        uint32_t frag;
        if (rel > UINT64_MAX - base)
            return 0;
        frag = fragment_at(item_offsets, nitems, base + rel);
        if (frag == UINT32_MAX || frag <= prev)
            return 0;
        out[i].first = frag;
        if (i > 0)
            out[i - 1].count = frag - out[i - 1].first;
        prev = frag;
    }
    if (nframes)
        out[nframes - 1].count = nitems - out[nframes - 1].first;
    return 1;
}

static int
ends_with_eoi(const uint8_t *data, uint64_t value_offset, uint64_t length)
{
    uint64_t n = length < 10 ? length : 10;
    const uint8_t *p = data + value_offset + length - n;
    for (uint64_t i = 0; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xD9)
            return 1;
    return 0;
}

rd_status
rd_encaps_frame_table(const uint8_t *data, const uint64_t *item_offsets,
                      const uint64_t *item_lengths, uint32_t nitems,
                      const uint8_t *eot, uint64_t eot_len, uint64_t nframes,
                      rd_frame_span *out, uint32_t *flags, rd_error *err)
{
    uint32_t nfrag;

    *flags = 0;
    if (nitems < 1)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_TAG_PIXEL_DATA,
                       "encapsulated Pixel Data has no Basic Offset Table item");
    nfrag = nitems - 1;
    if (nframes == 0)
        return RD_OK;
    for (uint64_t i = 0; i < nframes; i++)
        out[i].first = out[i].count = 0;

    /* Extended Offset Table: 8 bytes per frame. */
    if (eot && eot_len) {
        if (eot_len == nframes * 8 && nfrag > 0
            && spans_from_offsets(item_offsets, nitems, eot, 8, nframes, out)) {
            *flags |= RD_FT_EXTENDED_TABLE;
            return RD_OK;
        }
        *flags |= RD_FT_TABLE_IGNORED;
    }
    /* Basic Offset Table: the value of item 0, 4 bytes per frame. */
    if (item_lengths[0] > 0) {
        const uint8_t *bot = data + item_offsets[0] + 8;
        if (item_lengths[0] == nframes * 4 && nfrag > 0 && rd_u32(bot, 1) == 0
            && spans_from_offsets(item_offsets, nitems, bot, 4, nframes, out)) {
            *flags |= RD_FT_BASIC_TABLE;
            return RD_OK;
        }
        *flags |= RD_FT_TABLE_IGNORED;
    }
    /* No usable table: walk the fragments.  A table that failed part way
     * has filled some spans; the walk must not inherit them. */
    for (uint64_t i = 0; i < nframes; i++)
        out[i].first = out[i].count = 0;
    if (nfrag == 0)
        return rd_fail(err, RD_ERR_INVALID, item_offsets[0], RD_TAG_PIXEL_DATA,
                       "encapsulated Pixel Data has no fragments for %llu frame(s)",
                       (unsigned long long)nframes);
    if (nfrag == nframes) {
        for (uint64_t i = 0; i < nframes; i++) {
            out[i].first = (uint32_t)(i + 1);
            out[i].count = 1;
        }
        return RD_OK;
    }
    if (nframes == 1) {
        out[0].first = 1;
        out[0].count = nfrag;
        return RD_OK;
    }
    if (nfrag > nframes) {
        uint64_t frame = 0;
        uint32_t start = 1;
        for (uint32_t f = 1; f < nitems && frame < nframes; f++) {
            if (ends_with_eoi(data, item_offsets[f] + 8, item_lengths[f]) || f == nitems - 1) {
                out[frame].first = start;
                out[frame].count = f - start + 1;
                frame++;
                start = f + 1;
            }
        }
        if (frame < nframes)
            *flags |= RD_FT_FEWER_FRAMES;
        else if (start < nitems) {
            /* Fragments left after the last frame's end marker: pydicom
             * appends them to a further frame that is never read. */
            *flags |= RD_FT_FEWER_FRAMES;
        }
        return RD_OK;
    }
    return rd_fail(err, RD_ERR_INVALID, item_offsets[0], RD_TAG_PIXEL_DATA,
                   "encapsulated Pixel Data has %u fragments for %llu frames and no "
                   "offset table", nfrag, (unsigned long long)nframes);
}
