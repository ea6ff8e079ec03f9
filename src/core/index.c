/*
 * index.c - the element index: a growable table of records plus the child
 * lists that make tag lookup a binary search.
 *
 * The scanner appends records in file order (depth-first) and sets each
 * record's `parent` and `end`.  rd_index_link() then builds, in one counting
 * pass, a contiguous child list for every container and for the two
 * top-level lists (File Meta and dataset), in file order, plus a copy of
 * each list stably sorted by tag.  DICOM requires ascending tags, so the sort
 * is skipped for lists that are already in order (nearly all of them).
 *
 * Invariants after linking: for every container c, children[c.child_start ..
 * c.child_start + c.child_count) are exactly the records whose parent is c,
 * in file order; `sorted` holds the same records ordered by (tag, position).
 */
#include <stdlib.h>

#include "rd_common.h"

rd_index *
rd_index_new(const uint8_t *data, uint64_t size)
{
    rd_index *index = calloc(1, sizeof(*index));
    if (!index)
        return NULL;
    index->data = data;
    index->size = size;
    index->root_start = index->meta_start = 0;
    return index;
}

void
rd_index_free(rd_index *index)
{
    if (!index)
        return;
    free(index->records);
    free(index->children);
    free(index->sorted);
    free(index->inflated);
    free(index);
}

/* Reserve one more record; its position is returned in *out_pos. */
rd_status
rd_index_push(rd_index *index, uint32_t max_records, uint32_t *out_pos, rd_error *err)
{
    if (RD_UNLIKELY(index->count >= index->capacity)) {
        uint32_t cap = index->capacity ? index->capacity : 64;
        rd_record *grown;
        if (index->count >= max_records)
            return rd_fail(err, RD_ERR_LIMIT, 0, RD_NO_TAG,
                           "more than %u elements (limit max_elements)", max_records);
        while (cap <= index->count)
            cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
        if (cap > max_records)
            cap = max_records;
        grown = realloc(index->records, (size_t)cap * sizeof(*grown));
        if (!grown)
            return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "out of memory for the element index");
        index->records = grown;
        index->capacity = cap;
    }
    memset(&index->records[index->count], 0, sizeof(rd_record));
    *out_pos = index->count++;
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Linking                                                                    */
/* ------------------------------------------------------------------------- */

/* Insertion sort by tag, stable; lists are short and almost always sorted. */
static void
sort_by_tag(const rd_record *records, uint32_t *list, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t item = list[i];
        uint32_t tag = records[item].tag;
        uint32_t j = i;
        while (j > 0 && records[list[j - 1]].tag > tag) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = item;
    }
}

static int
is_sorted(const rd_record *records, const uint32_t *list, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        if (records[list[i - 1]].tag > records[list[i]].tag)
            return 0;
    return 1;
}

rd_status
rd_index_link(rd_index *index, rd_error *err)
{
    rd_record *rec = index->records;
    uint32_t n = index->count;
    uint32_t next = 0, meta_fill = 0, root_fill = 0;

    free(index->children);
    free(index->sorted);
    index->children = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    index->sorted = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    if (!index->children || !index->sorted)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "out of memory for the element index");

    /* Count: child_count is already set by the scanner for containers only
     * when it knew it; recount here so the lists are exact. */
    index->meta_count = index->root_count = 0;
    for (uint32_t i = 0; i < n; i++)
        rec[i].child_count = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = rec[i].parent;
        if (p == RD_NONE) {
            if (rec[i].flags & RD_REC_META)
                index->meta_count++;
            else
                index->root_count++;
        } else {
            rec[p].child_count++;
        }
    }
    /* Place: meta list, root list, then each container's list. */
    index->meta_start = next;
    next += index->meta_count;
    index->root_start = next;
    next += index->root_count;
    for (uint32_t i = 0; i < n; i++) {
        rec[i].child_start = next;
        next += rec[i].child_count;
        rec[i].child_count = 0;  /* refilled below */
    }
    index->children_count = next;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = rec[i].parent;
        if (p == RD_NONE) {
            if (rec[i].flags & RD_REC_META)
                index->children[index->meta_start + meta_fill++] = i;
            else
                index->children[index->root_start + root_fill++] = i;
        } else {
            index->children[rec[p].child_start + rec[p].child_count++] = i;
        }
    }
    memcpy(index->sorted, index->children, (size_t)next * sizeof(uint32_t));

    if (!is_sorted(rec, index->sorted + index->meta_start, index->meta_count))
        sort_by_tag(rec, index->sorted + index->meta_start, index->meta_count);
    if (!is_sorted(rec, index->sorted + index->root_start, index->root_count))
        sort_by_tag(rec, index->sorted + index->root_start, index->root_count);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t *list = index->sorted + rec[i].child_start;
        if (rec[i].child_count > 1 && (rec[i].flags & RD_REC_ITEM)
            && !is_sorted(rec, list, rec[i].child_count))
            sort_by_tag(rec, list, rec[i].child_count);
    }
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Lookup                                                                     */
/* ------------------------------------------------------------------------- */

uint32_t
rd_index_find(const rd_index *index, uint32_t container, uint32_t tag)
{
    const uint32_t *list;
    uint32_t lo = 0, hi;

    if (container == RD_ROOT) {
        list = index->sorted + index->root_start;
        hi = index->root_count;
    } else if (container == RD_META) {
        list = index->sorted + index->meta_start;
        hi = index->meta_count;
    } else {
        if (container >= index->count)
            return RD_NONE;
        list = index->sorted + index->records[container].child_start;
        hi = index->records[container].child_count;
    }
    /* Upper bound: first entry with a tag greater than `tag`; the one before
     * it is the last occurrence of `tag`, if any. */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (index->records[list[mid]].tag <= tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && index->records[list[lo - 1]].tag == tag)
        return list[lo - 1];
    return RD_NONE;
}
