/*
 * fuzz_frame_table.c - libFuzzer target: the frame locator of encapsulated
 * Pixel Data (encaps.c, rd_encaps_frame_table).
 *
 * Input:
 *   byte 0   Number of Frames (0..255)
 *   byte 1   bit 0: an Extended Offset Table is present; bit 1: its length
 *            is byte 1 >> 2 instead of 8 bytes per frame
 *   then     the Extended Offset Table's bytes (when present), then the
 *            value of encapsulated Pixel Data: items (FE FF 00 E0, length),
 *            item 0 being the Basic Offset Table.  The walk stops at the
 *            first thing that is not an item tag; an item running past the
 *            end is cut to what is there, as a lenient scan records it.
 *
 * Checked: a failure fills err; on success every frame's fragment run lies
 * within the items after the Basic Offset Table, runs do not overlap and
 * come in order, and only known flags are set (the extended-table flag only
 * with a table).
 */
#include "fuzz_common.h"

#define MAX_ITEMS 4096u
#define KNOWN_FLAGS (RD_FT_EXTENDED_TABLE | RD_FT_BASIC_TABLE | RD_FT_TABLE_IGNORED \
                     | RD_FT_FEWER_FRAMES)

/* Item tag offsets and value lengths of the value `data[0, size)`. */
static uint32_t
walk_items(const uint8_t *data, uint64_t size, uint64_t *offsets, uint64_t *lengths)
{
    uint64_t pos = 0;
    uint32_t n = 0;
    while (n < MAX_ITEMS && size - pos >= 8) {
        const uint8_t *p = data + pos;
        uint64_t len;
        if (p[0] != 0xFE || p[1] != 0xFF || p[2] != 0x00 || p[3] != 0xE0)
            break;
        len = (uint64_t)p[4] | ((uint64_t)p[5] << 8) | ((uint64_t)p[6] << 16)
            | ((uint64_t)p[7] << 24);
        if (len > size - pos - 8)
            len = size - pos - 8;
        offsets[n] = pos;
        lengths[n] = len;
        n++;
        pos += 8 + len;
    }
    return n;
}

static void
check_spans(const rd_frame_span *spans, uint64_t nframes, uint32_t nitems)
{
    uint64_t next = 1;  /* first fragment a frame may start at */
    for (uint64_t i = 0; i < nframes; i++) {
        if (spans[i].count == 0)
            continue;
        fuzz_check(spans[i].first >= next, "frame %llu starts at fragment %u, before %llu",
                   (unsigned long long)i, spans[i].first, (unsigned long long)next);
        fuzz_check(spans[i].count <= nitems && spans[i].first <= nitems - spans[i].count,
                   "frame %llu: fragments %u + %u past the %u items", (unsigned long long)i,
                   spans[i].first, spans[i].count, nitems);
        next = (uint64_t)spans[i].first + spans[i].count;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t offsets[MAX_ITEMS], lengths[MAX_ITEMS];
    uint64_t nframes, eot_len = 0, pos = 2;
    uint8_t *eot = NULL, *value;
    rd_frame_span *spans;
    uint32_t nitems, flags = 0xDEADu;
    rd_error err;
    rd_status st;

    if (size < 2)
        return 0;
    nframes = data[0];
    if (data[1] & 1) {
        eot_len = data[1] & 2 ? (uint64_t)(data[1] >> 2) : nframes * 8;
        if (eot_len > size - pos)
            return 0;
        eot = fuzz_exact_copy(data + pos, eot_len);
        pos += eot_len;
    }
    value = fuzz_exact_copy(data + pos, size - pos);
    nitems = walk_items(value, size - pos, offsets, lengths);
    spans = (rd_frame_span *)fuzz_alloc((nframes ? nframes : 1) * sizeof(rd_frame_span));

    fuzz_clear_error(&err);
    st = rd_encaps_frame_table(value, offsets, lengths, nitems, eot, eot_len, nframes, spans,
                               &flags, &err);
    if (st != RD_OK) {
        fuzz_check_failure(st, &err, "frame table");
    } else {
        fuzz_check((flags & ~KNOWN_FLAGS) == 0, "unknown flags 0x%x", flags);
        fuzz_check(!(flags & RD_FT_EXTENDED_TABLE) || eot_len > 0,
                   "extended table used without one");
        check_spans(spans, nframes, nitems);
    }
    free(spans);
    free(value);
    free(eot);
    return 0;
}
