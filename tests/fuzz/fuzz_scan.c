/*
 * fuzz_scan.c - libFuzzer target: the scanner and the element index
 * (scan.c, index.c, inflate.c for deflated datasets), then what the Python
 * layer does with an index: rd_scan_sequence() on values that may be
 * sequences (private SQ, UN), and the frame table of encapsulated Pixel
 * Data built from the scanned fragments.
 *
 * Input: a whole Part 10 file (or any bytes), scanned strictly and then
 * leniently, each from an exact-size copy.
 *
 * Checked for every index (rapidicom.h):
 *   - records lie in the buffer: offset <= value_offset and
 *     value_offset + length <= size (the index's own buffer when inflated);
 *   - nesting: a record's parent comes before it and its descendants
 *     (i+1 .. end-1) lie inside the parent's range, both as records and as
 *     bytes (a child's bytes inside the parent's value);
 *   - the child lists hold every record exactly once, in file order, their
 *     bytes not overlapping, and the sorted lists are sorted by tag;
 *   - rd_index_find() finds the last occurrence of every child's tag;
 *   - a failure returns no index and fills err.
 */
#include "fuzz_common.h"

#define RD_TAG_EXTENDED_OFFSET_TABLE 0x7FE00001u
#define RD_TAG_EXTENDED_OFFSET_LENGTHS 0x7FE00002u
#define RD_TAG_PIXEL_DATA_ 0x7FE00010u
#define MAX_SUB_SCANS 16
#define MAX_FRAGMENTS 4096u

static void
check_record(const rd_index *ix, uint32_t i)
{
    const rd_record *r = &ix->records[i];
    fuzz_check(r->offset <= r->value_offset, "record %u: value at %llu before its tag at %llu",
               i, (unsigned long long)r->value_offset, (unsigned long long)r->offset);
    fuzz_check(r->value_offset <= ix->size && r->length <= ix->size - r->value_offset,
               "record %u (%08x): value %llu + %llu past the buffer's %llu bytes", i, r->tag,
               (unsigned long long)r->value_offset, (unsigned long long)r->length,
               (unsigned long long)ix->size);
    fuzz_check(r->end > i && r->end <= ix->count, "record %u: end %u (count %u)", i, r->end,
               ix->count);
    if (r->parent == RD_NONE)
        return;
    const rd_record *p = &ix->records[r->parent];
    fuzz_check(r->parent < i, "record %u: parent %u after it", i, r->parent);
    fuzz_check(i < p->end && r->end <= p->end, "record %u (end %u) outside parent %u (end %u)",
               i, r->end, r->parent, p->end);
    fuzz_check(r->offset >= p->value_offset
               && r->value_offset + r->length <= p->value_offset + p->length,
               "record %u (%08x) bytes %llu..%llu outside parent %u's value %llu..%llu", i,
               r->tag, (unsigned long long)r->offset,
               (unsigned long long)(r->value_offset + r->length), r->parent,
               (unsigned long long)p->value_offset,
               (unsigned long long)(p->value_offset + p->length));
}

/* One child list: its records' parent is `container`, in file order, bytes
 * not overlapping; the sorted copy is sorted; lookup finds each tag. */
static uint32_t
check_list(const rd_index *ix, uint32_t container, uint32_t start, uint32_t count)
{
    fuzz_check(start <= ix->children_count && count <= ix->children_count - start,
               "list of container %u: %u + %u past %u entries", container, start, count,
               ix->children_count);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t c = ix->children[start + k], s = ix->sorted[start + k], found;
        fuzz_check(c < ix->count && s < ix->count, "list entry out of range");
        fuzz_check(ix->records[c].parent == (container >= RD_META ? RD_NONE : container),
                   "record %u listed under %u but its parent is %u", c, container,
                   ix->records[c].parent);
        if (k > 0) {
            const rd_record *prev = &ix->records[ix->children[start + k - 1]];
            fuzz_check(ix->children[start + k - 1] < c, "child list of %u not in file order",
                       container);
            fuzz_check(prev->value_offset + prev->length <= ix->records[c].offset,
                       "record %u starts at %llu inside its previous sibling", c,
                       (unsigned long long)ix->records[c].offset);
            fuzz_check(ix->records[ix->sorted[start + k - 1]].tag <= ix->records[s].tag,
                       "sorted list of %u not sorted", container);
        }
        found = rd_index_find(ix, container, ix->records[c].tag);
        fuzz_check(found != RD_NONE && ix->records[found].tag == ix->records[c].tag
                   && found >= c, "rd_index_find(%u, %08x) gave %u, child %u has it",
                   container, ix->records[c].tag, found, c);
    }
    return count;
}

static void
check_index(const rd_index *ix, const uint8_t *buf, uint64_t len)
{
    uint64_t listed = 0;
    fuzz_check(ix->count <= ix->capacity || ix->capacity == 0, "count %u > capacity %u",
               ix->count, ix->capacity);
    if (ix->inflated == NULL)
        fuzz_check(ix->data == buf && ix->size == len, "index does not refer to the buffer");
    else
        fuzz_check(ix->data == ix->inflated, "inflated index does not refer to its copy");
    fuzz_check(memchr(ix->transfer_syntax, '\0', sizeof(ix->transfer_syntax)) != NULL,
               "transfer syntax not NUL-terminated");
    for (uint32_t i = 0; i < ix->count; i++)
        check_record(ix, i);
    fuzz_check(ix->children_count == ix->count, "%u list entries for %u records",
               ix->children_count, ix->count);
    listed += check_list(ix, RD_META, ix->meta_start, ix->meta_count);
    listed += check_list(ix, RD_ROOT, ix->root_start, ix->root_count);
    for (uint32_t i = 0; i < ix->count; i++)
        listed += check_list(ix, i, ix->records[i].child_start, ix->records[i].child_count);
    fuzz_check(listed == ix->count, "%llu records listed, %u recorded",
               (unsigned long long)listed, ix->count);
}

/* Values the Python layer may parse as sequences after the scan. */
static int
maybe_sequence(const rd_record *r)
{
    if (r->flags & (RD_REC_SEQUENCE | RD_REC_ENCAPSULATED | RD_REC_ITEM | RD_REC_FRAGMENT))
        return 0;
    return (r->vr[0] == 0 && r->vr[1] == 0) || (r->vr[0] == 'U' && r->vr[1] == 'N')
        || (r->vr[0] == 'S' && r->vr[1] == 'Q') || (r->flags & RD_REC_UNDEFINED_LENGTH);
}

static void
scan_sub_sequences(const rd_index *ix, const rd_scan_options *opt)
{
    int done = 0;
    for (uint32_t i = 0; i < ix->count && done < MAX_SUB_SCANS; i++) {
        const rd_record *r = &ix->records[i];
        uint64_t length = r->flags & RD_REC_UNDEFINED_LENGTH ? 0xFFFFFFFFu : r->length;
        rd_index *sub = NULL;
        rd_error err;
        rd_status st;
        if (!maybe_sequence(r))
            continue;
        done++;
        fuzz_clear_error(&err);
        st = rd_scan_sequence(ix->data, ix->size, r->value_offset, length,
                              (r->flags & RD_REC_IMPLICIT_VR) != 0,
                              (r->flags & RD_REC_BIG_ENDIAN) == 0, opt, &sub, &err);
        if (st == RD_OK) {
            fuzz_check(sub != NULL, "rd_scan_sequence: RD_OK without an index");
            check_index(sub, ix->data, ix->size);
            rd_index_free(sub);
        } else {
            fuzz_check(sub == NULL, "rd_scan_sequence failed but returned an index");
            fuzz_check_failure(st, &err, "rd_scan_sequence");
        }
    }
}

/* The frame table pixels.py builds from the scanned fragments. */
static void
locate_frames(const rd_index *ix, uint64_t nframes)
{
    static uint64_t offsets[MAX_FRAGMENTS], lengths[MAX_FRAGMENTS];
    uint32_t px = rd_index_find(ix, RD_ROOT, RD_TAG_PIXEL_DATA_), n, eot_rec;
    const uint8_t *eot = NULL;
    uint64_t eot_len = 0;
    rd_frame_span spans[4];
    uint32_t flags;
    rd_error err;
    rd_status st;

    if (px == RD_NONE || !(ix->records[px].flags & RD_REC_ENCAPSULATED))
        return;
    n = ix->records[px].child_count;
    if (n > MAX_FRAGMENTS)
        return;
    for (uint32_t k = 0; k < n; k++) {
        const rd_record *frag = &ix->records[ix->children[ix->records[px].child_start + k]];
        offsets[k] = frag->offset;
        lengths[k] = frag->length;
    }
    eot_rec = rd_index_find(ix, RD_ROOT, RD_TAG_EXTENDED_OFFSET_TABLE);
    if (eot_rec != RD_NONE
        && rd_index_find(ix, RD_ROOT, RD_TAG_EXTENDED_OFFSET_LENGTHS) != RD_NONE) {
        eot = ix->data + ix->records[eot_rec].value_offset;
        eot_len = ix->records[eot_rec].length;
    }
    fuzz_clear_error(&err);
    st = rd_encaps_frame_table(ix->data, offsets, lengths, n, eot, eot_len, nframes, spans,
                               &flags, &err);
    if (st != RD_OK) {
        fuzz_check_failure(st, &err, "frame table");
        return;
    }
    for (uint64_t f = 0; f < nframes; f++)
        fuzz_check(spans[f].count == 0 || (spans[f].first >= 1 && spans[f].count <= n
                                           && spans[f].first <= n - spans[f].count),
                   "frame %llu: fragments %u + %u of %u", (unsigned long long)f,
                   spans[f].first, spans[f].count, n);
}

static void
scan_once(const uint8_t *buf, uint64_t len, uint32_t flags)
{
    rd_scan_options opt;
    rd_index *ix = (rd_index *)1;
    rd_error err;
    rd_status st;

    rd_scan_options_default(&opt);
    opt.flags = flags;
    opt.max_inflated = 64u << 20;  /* keeps a deflate bomb within -rss_limit_mb */
    fuzz_clear_error(&err);
    st = rd_scan_file(buf, len, &opt, &ix, &err);
    if (st != RD_OK) {
        fuzz_check(ix == NULL, "rd_scan_file failed but returned an index");
        fuzz_check_failure(st, &err, "rd_scan_file");
        return;
    }
    fuzz_check(ix != NULL, "rd_scan_file: RD_OK without an index");
    check_index(ix, buf, len);
    scan_sub_sequences(ix, &opt);
    locate_frames(ix, 1 + len % 4);
    rd_index_free(ix);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    scan_once(buf, size, 0);
    scan_once(buf, size, RD_SCAN_LENIENT);
    free(buf);
    return 0;
}
