/*
 * scan.c - one pass over a DICOM buffer that records where every element,
 * item and fragment is, without copying or converting any value.
 *
 * Layout handled: optional 128-byte preamble + "DICM"; File Meta Information
 * (group 0002, explicit VR little endian, group length not trusted); an
 * optional command set (group 0000, implicit VR little endian); then the
 * dataset in the encoding the Transfer Syntax UID names (implicit/explicit
 * VR, little/big endian, deflated), or, with no meta, the encoding guessed
 * from the first element.  Sequences and items of defined and undefined
 * length nest to rd_scan_options.max_depth.  Encapsulated Pixel Data is
 * walked item by item (fragments are recorded, their bytes never read).
 *
 * Why it is fast: a single forward cursor, no allocation but the growing
 * record table, and a dictionary lookup only for implicit-VR elements.
 *
 * Invariants: every read is preceded by rd_has(end, pos, need) against the
 * end of the innermost enclosing container; records are appended in file
 * order and refer to each other by position, never by pointer (the table may
 * move while it grows).  Values whose VR is only known later (private
 * sequences in implicit VR, UN holding a sequence) are left unparsed here;
 * rd_scan_sequence() parses them on demand.
 *
 * Where real files bend the rules, we accept what pydicom accepts: a dataset
 * or item whose first element shows the other VR encoding switches to it, an
 * explicit-VR element with a non-alphabetic VR is read as implicit, and
 * undefined-length UN is a sequence (PS3.5 6.2.2).
 */
#include <stdlib.h>

#include "rd_common.h"

#define TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define TS_EXPLICIT_BE "1.2.840.10008.1.2.2"
#define TS_DEFLATED_LE "1.2.840.10008.1.2.1.99"

void
rd_scan_options_default(rd_scan_options *options)
{
    memset(options, 0, sizeof(*options));
    options->size = sizeof(*options);
    options->max_depth = RD_DEFAULT_MAX_DEPTH;
    options->max_elements = RD_DEFAULT_MAX_ELEMENTS;
    options->max_inflated = RD_DEFAULT_MAX_INFLATED;
}

typedef struct scan_state {
    const uint8_t *buf;
    uint64_t size;
    rd_index *index;
    rd_scan_options opt;
    rd_error *err;
} scan_state;

/* What an element header said. */
typedef struct header {
    uint32_t tag;
    uint32_t length;        /* as written; RD_UNDEFINED_LENGTH possible */
    uint64_t value_offset;
    char vr[2];             /* {0,0} when read as implicit */
    int implicit;
} header;

/* ------------------------------------------------------------------------- */
/* VR helpers                                                                 */
/* ------------------------------------------------------------------------- */

#define VR2(a, b) (((uint16_t)(a) << 8) | (uint16_t)(b))

/* 0: not a standard VR; 1: 16-bit length; 2: 32-bit length (after 2 reserved bytes). */
static int
vr_kind(const uint8_t *vr)
{
    switch (VR2(vr[0], vr[1])) {
    case VR2('A', 'E'): case VR2('A', 'S'): case VR2('A', 'T'): case VR2('C', 'S'):
    case VR2('D', 'A'): case VR2('D', 'S'): case VR2('D', 'T'): case VR2('F', 'D'):
    case VR2('F', 'L'): case VR2('I', 'S'): case VR2('L', 'O'): case VR2('L', 'T'):
    case VR2('P', 'N'): case VR2('S', 'H'): case VR2('S', 'L'): case VR2('S', 'S'):
    case VR2('S', 'T'): case VR2('T', 'M'): case VR2('U', 'I'): case VR2('U', 'L'):
    case VR2('U', 'S'):
        return 1;
    case VR2('O', 'B'): case VR2('O', 'D'): case VR2('O', 'F'): case VR2('O', 'L'):
    case VR2('O', 'V'): case VR2('O', 'W'): case VR2('S', 'Q'): case VR2('S', 'V'):
    case VR2('U', 'C'): case VR2('U', 'N'): case VR2('U', 'R'): case VR2('U', 'T'):
    case VR2('U', 'V'):
        return 2;
    default:
        return 0;
    }
}

/* pydicom's test for "looks like a VR at all": b"AA" <= vr <= b"ZZ". */
static int
vr_in_letter_range(const uint8_t *vr)
{
    uint16_t v = VR2(vr[0], vr[1]);
    return v >= VR2('A', 'A') && v <= VR2('Z', 'Z');
}

/* The first-element test that decides a dataset's VR encoding. */
static int
looks_implicit(const uint8_t *vr)
{
    return !(vr[0] > 0x40 && vr[0] < 0x5B && vr[1] > 0x40 && vr[1] < 0x5B);
}

/* Dictionary VR of a tag, or NULL.  Private tags are resolved later, with
 * their Private Creator, by the bindings (a private SQ is parsed lazily). */
static const char *
dict_vr(uint32_t tag)
{
    const rd_dict_entry *e = rd_dict_find(tag);
    return e ? e->vr : NULL;
}

static int
vr_is(const char *vr, char a, char b)
{
    return vr && vr[0] == a && vr[1] == b && vr[2] == '\0';
}

/* ------------------------------------------------------------------------- */
/* Element headers                                                            */
/* ------------------------------------------------------------------------- */

static rd_status
read_header(scan_state *st, uint64_t pos, uint64_t end, int implicit, int little,
            header *h)
{
    const uint8_t *p = st->buf + pos;

    if (!rd_has(end, pos, 8))
        return rd_fail(st->err, RD_ERR_TRUNCATED, pos, RD_NO_TAG,
                       "element header at offset %llu needs 8 bytes, %llu left",
                       (unsigned long long)pos, (unsigned long long)(end - pos));
    h->tag = rd_tag(p, little);
    h->vr[0] = h->vr[1] = 0;
    h->implicit = implicit;
    /* Items and delimiters have no VR in any encoding. */
    if (implicit || (h->tag >> 16) == 0xFFFE || !vr_in_letter_range(p + 4)) {
        if (!implicit && (h->tag >> 16) != 0xFFFE)
            h->implicit = 1;  /* non-alphabetic VR: read as implicit (pydicom does) */
        else if ((h->tag >> 16) == 0xFFFE)
            h->implicit = implicit;
        h->length = rd_u32(p + 4, little);
        h->value_offset = pos + 8;
        return RD_OK;
    }
    h->vr[0] = (char)p[4];
    h->vr[1] = (char)p[5];
    if (vr_kind(p + 4) == 2) {
        if (!rd_has(end, pos, 12))
            return rd_fail(st->err, RD_ERR_TRUNCATED, pos, h->tag,
                           "element header at offset %llu needs 12 bytes, %llu left",
                           (unsigned long long)pos, (unsigned long long)(end - pos));
        h->length = rd_u32(p + 8, little);
        h->value_offset = pos + 12;
    } else {
        /* Standard short VRs, and unknown ones (read with a 16-bit length). */
        h->length = rd_u16(p + 6, little);
        h->value_offset = pos + 8;
    }
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Recursive descent                                                          */
/* ------------------------------------------------------------------------- */

static rd_status scan_sequence(scan_state *st, uint32_t seq, uint64_t pos, uint64_t end,
                               int undefined, int implicit, int little, uint32_t depth,
                               uint64_t *out_pos);

static rd_status
push_record(scan_state *st, uint32_t *out)
{
    return rd_index_push(st->index, st->opt.max_elements, out, st->err);
}

/* Clamp or reject a value that runs past `end`. */
static rd_status
check_value_fits(scan_state *st, uint32_t rec, uint64_t end)
{
    rd_record *r = &st->index->records[rec];
    if (rd_has(end, r->value_offset, r->length))
        return RD_OK;
    if (st->opt.flags & RD_SCAN_LENIENT) {
        r->length = end > r->value_offset ? end - r->value_offset : 0;
        st->index->flags |= RD_IDX_TRUNCATED;
        return RD_OK;
    }
    return rd_fail(st->err, RD_ERR_TRUNCATED, r->offset, r->tag,
                   "value of %llu bytes at offset %llu runs past the end of its "
                   "container (%llu bytes left)",
                   (unsigned long long)r->length, (unsigned long long)r->value_offset,
                   (unsigned long long)(end > r->value_offset ? end - r->value_offset : 0));
}

/* Encapsulated value: items of defined length up to a sequence delimiter. */
static rd_status
scan_fragments(scan_state *st, uint32_t owner, uint64_t pos, uint64_t end, int little,
               uint64_t *out_pos)
{
    for (;;) {
        uint32_t tag, length, frag;
        rd_status s;
        if (!rd_has(end, pos, 8)) {
            if (st->opt.flags & RD_SCAN_LENIENT) {
                st->index->records[owner].length = end - st->index->records[owner].value_offset;
                st->index->flags |= RD_IDX_TRUNCATED;
                *out_pos = end;
                return RD_OK;
            }
            return rd_fail(st->err, RD_ERR_TRUNCATED, pos, st->index->records[owner].tag,
                           "encapsulated value has no sequence delimiter before the "
                           "end of the data");
        }
        tag = rd_tag(st->buf + pos, little);
        length = rd_u32(st->buf + pos + 4, little);
        if (tag == RD_TAG_SEQUENCE_DELIMITER) {
            st->index->records[owner].length = pos - st->index->records[owner].value_offset;
            *out_pos = pos + 8;
            return RD_OK;
        }
        if (tag != RD_TAG_ITEM)
            return rd_fail(st->err, RD_ERR_INVALID, pos, st->index->records[owner].tag,
                           "expected a fragment item (FFFE,E000) at offset %llu, found "
                           "(%04X,%04X)", (unsigned long long)pos, tag >> 16, tag & 0xFFFF);
        if (length == RD_UNDEFINED_LENGTH)
            return rd_fail(st->err, RD_ERR_INVALID, pos, st->index->records[owner].tag,
                           "fragment item at offset %llu has undefined length",
                           (unsigned long long)pos);
        if ((s = push_record(st, &frag)) != RD_OK)
            return s;
        {
            rd_record *r = &st->index->records[frag];
            r->tag = tag;
            r->offset = pos;
            r->value_offset = pos + 8;
            r->length = length;
            r->parent = owner;
            r->flags = RD_REC_ITEM | RD_REC_FRAGMENT | (little ? 0 : RD_REC_BIG_ENDIAN);
            r->end = frag + 1;
        }
        if ((s = check_value_fits(st, frag, end)) != RD_OK)
            return s;
        pos = st->index->records[frag].value_offset + st->index->records[frag].length;
    }
}

/*
 * Elements of one dataset: the top level, or the contents of an item.
 * `end` bounds the read (item end or buffer end).  For an undefined-length
 * item the loop ends at its Item Delimitation Item; `stop_group` >= 0 stops
 * before the first element of another group (File Meta, command set).
 * *out_pos receives the position after the dataset (after the delimiter).
 */
static rd_status
scan_dataset(scan_state *st, uint32_t parent, uint64_t pos, uint64_t end, int undefined_item,
             int implicit, int little, uint32_t depth, int top_level, int stop_group,
             uint16_t extra_flags, uint64_t *out_pos)
{
    int first = 1;
    rd_status s;

    for (;;) {
        header h = {0};
        uint32_t rec;
        uint16_t flags;

        if (pos == end && !undefined_item)
            break;
        if (!rd_has(end, pos, 8)) {
            if (top_level && stop_group < 0) {
                /* A few stray bytes after the last element: ignored, noted. */
                st->index->flags |= RD_IDX_TRAILING_BYTES;
                pos = end;
                break;
            }
            if (top_level)
                break;
            return rd_fail(st->err, RD_ERR_TRUNCATED, pos, RD_NO_TAG,
                           undefined_item ? "item has no Item Delimitation Item before "
                                            "the end of the data"
                                          : "element header runs past the end of its item");
        }
        h.tag = rd_tag(st->buf + pos, little);
        if (stop_group >= 0 && (h.tag >> 16) != (uint32_t)stop_group)
            break;
        if (first) {
            /* pydicom's rule: the first element's VR bytes decide the encoding. */
            int found = looks_implicit(st->buf + pos + 4);
            if ((h.tag >> 16) == 0xFFFE) {
                /* empty item: nothing to decide */
            } else if (found != implicit) {
                if (top_level) {
                    implicit = found;
                    st->index->flags |= RD_IDX_VR_SWITCHED;
                    extra_flags |= RD_REC_VR_SWITCHED;
                } else if (found) {
                    implicit = 1;  /* items may be implicit inside explicit data */
                }
            }
            first = 0;
        }
        if (h.tag == RD_TAG_ITEM_DELIMITER) {
            if (top_level)
                return rd_fail(st->err, RD_ERR_INVALID, pos, h.tag,
                               "Item Delimitation Item at offset %llu outside an item",
                               (unsigned long long)pos);
            pos += 8;  /* ends this item, defined length or not (pydicom agrees) */
            *out_pos = pos;
            return RD_OK;
        }
        if (h.tag == RD_TAG_ITEM || h.tag == RD_TAG_SEQUENCE_DELIMITER)
            return rd_fail(st->err, RD_ERR_INVALID, pos, h.tag,
                           "%s at offset %llu outside a sequence",
                           h.tag == RD_TAG_ITEM ? "item tag (FFFE,E000)"
                                                : "Sequence Delimitation Item",
                           (unsigned long long)pos);
        if ((s = read_header(st, pos, end, implicit, little, &h)) != RD_OK)
            return s;
        if ((s = push_record(st, &rec)) != RD_OK)
            return s;

        flags = extra_flags | (little ? 0 : RD_REC_BIG_ENDIAN)
              | (h.implicit ? RD_REC_IMPLICIT_VR : 0)
              | (h.implicit && !implicit ? RD_REC_VR_SWITCHED : 0);
        {
            rd_record *r = &st->index->records[rec];
            r->tag = h.tag;
            r->offset = pos;
            r->value_offset = h.value_offset;
            r->length = h.length;
            r->parent = parent;
            r->vr[0] = h.vr[0];
            r->vr[1] = h.vr[1];
            r->flags = flags;
        }

        if (h.length == RD_UNDEFINED_LENGTH) {
            const char *vr = h.implicit ? dict_vr(h.tag) : NULL;
            int is_sq;
            st->index->records[rec].flags |= RD_REC_UNDEFINED_LENGTH;
            if (!h.implicit)
                is_sq = (h.vr[0] == 'S' && h.vr[1] == 'Q') || (h.vr[0] == 'U' && h.vr[1] == 'N');
            else if (vr)
                is_sq = vr_is(vr, 'S', 'Q') || vr_is(vr, 'U', 'N');
            else  /* unknown tag: a sequence if it starts with an item */
                is_sq = rd_has(end, h.value_offset, 4)
                     && rd_tag(st->buf + h.value_offset, little) == RD_TAG_ITEM;
            if (is_sq) {
                st->index->records[rec].flags |= RD_REC_SEQUENCE;
                s = scan_sequence(st, rec, h.value_offset, end, 1, implicit, little,
                                  depth + 1, &pos);
            } else if (h.tag == RD_TAG_PIXEL_DATA) {
                st->index->records[rec].flags |= RD_REC_ENCAPSULATED;
                s = scan_fragments(st, rec, h.value_offset, end, little, &pos);
            } else {
                s = rd_fail(st->err, RD_ERR_INVALID, pos, h.tag,
                            "undefined length on (%04X,%04X), which is neither a sequence "
                            "nor Pixel Data", h.tag >> 16, h.tag & 0xFFFF);
            }
            if (s != RD_OK)
                return s;
        } else {
            int is_sq;
            if ((s = check_value_fits(st, rec, end)) != RD_OK)
                return s;
            if (h.tag == 0x00020000 && h.length != 4)
                return rd_fail(st->err, RD_ERR_INVALID, pos, h.tag,
                               "File Meta Information Group Length has %u bytes, not 4",
                               h.length);
            is_sq = h.implicit ? vr_is(dict_vr(h.tag), 'S', 'Q')
                               : (h.vr[0] == 'S' && h.vr[1] == 'Q');
            if (is_sq) {
                const rd_record *r = &st->index->records[rec];
                uint64_t value_end = r->value_offset + r->length;
                uint64_t after;
                st->index->records[rec].flags |= RD_REC_SEQUENCE;
                s = scan_sequence(st, rec, r->value_offset, value_end, 0, implicit, little,
                                  depth + 1, &after);
                if (s != RD_OK)
                    return s;
            }
            pos = st->index->records[rec].value_offset + st->index->records[rec].length;
        }
        st->index->records[rec].end = st->index->count;
    }
    if (undefined_item)
        return rd_fail(st->err, RD_ERR_TRUNCATED, pos, RD_NO_TAG,
                       "item has no Item Delimitation Item before the end of the data");
    *out_pos = pos;
    return RD_OK;
}

/*
 * Items of a sequence value, from `pos` to `end` (defined length) or to the
 * Sequence Delimitation Item (undefined: `end` is then the enclosing limit).
 */
static rd_status
scan_sequence(scan_state *st, uint32_t seq, uint64_t pos, uint64_t end, int undefined,
              int implicit, int little, uint32_t depth, uint64_t *out_pos)
{
    uint32_t seq_tag = seq == RD_NONE ? RD_NO_TAG : st->index->records[seq].tag;
    uint64_t start = pos;
    rd_status s;

    if (depth > st->opt.max_depth)
        return rd_fail(st->err, RD_ERR_LIMIT,
                       seq == RD_NONE ? pos : st->index->records[seq].offset, seq_tag,
                       "sequences nested deeper than %u (limit max_depth)", st->opt.max_depth);
    for (;;) {
        uint32_t tag, length, item;
        uint64_t item_end;
        if (!undefined && pos == end)
            break;
        if (!rd_has(end, pos, 8))
            return rd_fail(st->err, RD_ERR_TRUNCATED, pos, seq_tag,
                           undefined ? "sequence has no Sequence Delimitation Item before "
                                       "the end of the data"
                                     : "item header runs past the end of its sequence");
        tag = rd_tag(st->buf + pos, little);
        length = rd_u32(st->buf + pos + 4, little);
        if (tag == RD_TAG_SEQUENCE_DELIMITER) {
            if (undefined && seq != RD_NONE)
                st->index->records[seq].length = pos - start;
            pos += 8;
            break;
        }
        if (tag != RD_TAG_ITEM)
            return rd_fail(st->err, RD_ERR_INVALID, pos, seq_tag,
                           "expected an item (FFFE,E000) at offset %llu in a sequence, "
                           "found (%04X,%04X)", (unsigned long long)pos, tag >> 16,
                           tag & 0xFFFF);
        if ((s = push_record(st, &item)) != RD_OK)
            return s;
        {
            rd_record *r = &st->index->records[item];
            r->tag = tag;
            r->offset = pos;
            r->value_offset = pos + 8;
            r->length = length;
            r->parent = seq;
            r->flags = RD_REC_ITEM | (little ? 0 : RD_REC_BIG_ENDIAN)
                     | (length == RD_UNDEFINED_LENGTH ? RD_REC_UNDEFINED_LENGTH : 0);
        }
        if (length == RD_UNDEFINED_LENGTH) {
            s = scan_dataset(st, item, pos + 8, end, 1, implicit, little, depth, 0, -1, 0,
                             &item_end);
            if (s != RD_OK)
                return s;
            /* The value stops before the 8-byte Item Delimitation Item. */
            st->index->records[item].length = item_end - 8 - (pos + 8);
        } else {
            const rd_record *r;
            if ((s = check_value_fits(st, item, end)) != RD_OK)
                return s;
            r = &st->index->records[item];
            s = scan_dataset(st, item, r->value_offset, r->value_offset + r->length, 0,
                             implicit, little, depth, 0, -1, 0, &item_end);
            if (s != RD_OK)
                return s;
            item_end = st->index->records[item].value_offset + st->index->records[item].length;
        }
        st->index->records[item].end = st->index->count;
        pos = item_end;
    }
    *out_pos = pos;
    return RD_OK;
}

/* ------------------------------------------------------------------------- */
/* Files                                                                      */
/* ------------------------------------------------------------------------- */

static void
init_state(scan_state *st, const uint8_t *buf, uint64_t len, const rd_scan_options *options,
           rd_error *err)
{
    st->buf = buf;
    st->size = len;
    rd_scan_options_default(&st->opt);
    if (options) {
        /* Copy only the fields the caller's struct has. */
        size_t n = options->size < sizeof(st->opt) ? options->size : sizeof(st->opt);
        memcpy(&st->opt, options, n);
        st->opt.size = sizeof(st->opt);
    }
    st->err = err;
    if (err) {
        err->code = RD_OK;
        err->offset = 0;
        err->tag = RD_NO_TAG;
        err->msg[0] = '\0';
        err->path[0] = '\0';
    }
}

/*
 * Describe where a failed scan stood: the chain of records still open (their
 * `end` is not yet set), outermost first, as "(0040,0275)[2].".  The
 * innermost one is left out when it is the element err->tag names (the
 * failing element itself, or the sequence whose items failed): the bindings
 * print that tag after the path.  A chain too long for err->path keeps its
 * inner end and starts with "...".
 */
static void
describe_open_path(const rd_index *index, rd_error *err)
{
    char parts[64][16];     /* parts[0] is the innermost record */
    uint32_t depth = 0, keep, i = index->count, r;
    size_t used = 0, need = 0;

    if (!err)
        return;
    err->path[0] = '\0';
    while (i > 0 && index->records[i - 1].end != 0)
        i--;
    r = i ? i - 1 : RD_NONE;
    if (r != RD_NONE && !(index->records[r].flags & RD_REC_ITEM)
        && index->records[r].tag == err->tag)
        r = index->records[r].parent;
    for (; r != RD_NONE && depth < 64; r = index->records[r].parent) {
        const rd_record *rec = &index->records[r];
        if (rec->flags & RD_REC_ITEM) {
            /* Count the earlier items; root items of rd_scan_sequence start at 0. */
            uint32_t k = 0;
            for (uint32_t j = rec->parent != RD_NONE ? rec->parent + 1 : 0; j < r;
                 j = index->records[j].end)
                k++;
            snprintf(parts[depth], sizeof(parts[depth]), "[%u].", k);
        } else {
            snprintf(parts[depth], sizeof(parts[depth]), "(%04X,%04X)", rec->tag >> 16,
                     rec->tag & 0xFFFF);
        }
        depth++;
    }
    for (keep = 0; keep < depth; keep++) {
        size_t n = strlen(parts[keep]);
        if (n > sizeof(err->path) - 4 - need)  /* room for "..." and the NUL */
            break;
        need += n;
    }
    if (keep < depth || r != RD_NONE)
        used += (size_t)snprintf(err->path, sizeof(err->path), "...");
    while (keep > 0) {
        keep--;
        used += (size_t)snprintf(err->path + used, sizeof(err->path) - used, "%s", parts[keep]);
    }
}

/* The Transfer Syntax UID from the meta records, trailing NUL/space removed. */
static void
read_transfer_syntax(scan_state *st)
{
    rd_index *index = st->index;
    index->transfer_syntax[0] = '\0';
    for (uint32_t i = 0; i < index->count; i++) {
        const rd_record *r = &index->records[i];
        if ((r->flags & RD_REC_META) && r->parent == RD_NONE && r->tag == 0x00020010) {
            uint64_t n = r->length;
            while (n > 0 && (st->buf[r->value_offset + n - 1] == 0
                             || st->buf[r->value_offset + n - 1] == ' '))
                n--;
            if (n >= sizeof(index->transfer_syntax))
                n = sizeof(index->transfer_syntax) - 1;
            memcpy(index->transfer_syntax, st->buf + r->value_offset, n);
            index->transfer_syntax[n] = '\0';
            return;
        }
    }
}

rd_status
rd_scan_file(const uint8_t *buf, uint64_t len, const rd_scan_options *options,
             rd_index **out, rd_error *err)
{
    scan_state st;
    uint64_t pos = 0;
    int implicit = 0, little = 1;
    const char *ts;
    rd_status s;

    init_state(&st, buf, len, options, err);
    *out = NULL;
    if (!buf && len)
        return rd_fail(err, RD_ERR_INVALID, 0, RD_NO_TAG, "no buffer given");
    st.index = rd_index_new(buf, len);
    if (!st.index)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "out of memory for the element index");

    if (len >= 132 && memcmp(buf + 128, "DICM", 4) == 0) {
        st.index->flags |= RD_IDX_HAS_PREAMBLE;
        pos = 132;
    } else if (len > 0 && (len < 8 || memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0)) {
        /* No "DICM" and no element at offset 0 (eight zero bytes are no
         * element in any encoding): a preamble cut short, or not DICOM. */
        s = rd_fail(err, RD_ERR_NOT_DICOM, 0, RD_NO_TAG,
                    "no 'DICM' prefix at offset 128 and no element at offset 0 "
                    "(%llu bytes)", (unsigned long long)len);
        goto fail;
    }
    /* File Meta Information: explicit VR little endian, group 0002 only. */
    s = scan_dataset(&st, RD_NONE, pos, len, 0, 0, 1, 0, 1, 0x0002, RD_REC_META, &pos);
    if (s != RD_OK)
        goto fail;
    /* A command set (group 0000) is implicit VR little endian. */
    s = scan_dataset(&st, RD_NONE, pos, len, 0, 1, 1, 0, 1, 0x0000, 0, &pos);
    if (s != RD_OK)
        goto fail;
    read_transfer_syntax(&st);
    st.index->dataset_offset = pos;

    ts = st.index->transfer_syntax;
    if (ts[0] == '\0') {
        /* No Transfer Syntax: guess from the first element, as pydicom does. */
        implicit = 1;
        if (rd_has(len, pos, 6) && vr_kind(buf + pos + 4) != 0) {
            implicit = 0;
            if (rd_u16(buf + pos, 1) >= 1024)
                little = 0;
        }
    } else if (strcmp(ts, TS_IMPLICIT_LE) == 0) {
        implicit = 1;
    } else if (strcmp(ts, TS_EXPLICIT_BE) == 0) {
        little = 0;
    } else if (strcmp(ts, TS_DEFLATED_LE) == 0) {
        uint8_t *inflated;
        uint64_t inflated_len;
        s = rd_inflate_dataset(buf, len, pos, st.opt.max_inflated, &inflated, &inflated_len, err);
        if (s != RD_OK)
            goto fail;
        st.index->inflated = inflated;
        st.index->data = inflated;
        st.index->size = inflated_len;
        st.index->flags |= RD_IDX_DEFLATED;
        st.buf = inflated;
        st.size = len = inflated_len;
    }
    /* Every other syntax (explicit LE and all encapsulated ones) is explicit LE. */

    s = scan_dataset(&st, RD_NONE, pos, len, 0, implicit, little, 0, 1, -1, 0, &pos);
    if (s != RD_OK)
        goto fail;
    if (implicit)
        st.index->flags |= RD_IDX_IMPLICIT_VR;
    if (!little)
        st.index->flags |= RD_IDX_BIG_ENDIAN;
    /* The encoding actually found may differ from the announced one. */
    for (uint32_t i = 0; i < st.index->count; i++) {
        const rd_record *r = &st.index->records[i];
        if (r->parent == RD_NONE && !(r->flags & RD_REC_META) && (r->tag >> 16) != 0) {
            if (r->flags & RD_REC_IMPLICIT_VR)
                st.index->flags |= RD_IDX_IMPLICIT_VR;
            else
                st.index->flags &= ~(uint32_t)RD_IDX_IMPLICIT_VR;
            break;
        }
    }
    if ((s = rd_index_link(st.index, err)) != RD_OK)
        goto fail;
    *out = st.index;
    return RD_OK;

fail:
    describe_open_path(st.index, err);
    rd_index_free(st.index);
    return s;
}

rd_status
rd_scan_sequence(const uint8_t *buf, uint64_t len, uint64_t offset, uint64_t length,
                 int implicit_vr, int little_endian, const rd_scan_options *options,
                 rd_index **out, rd_error *err)
{
    scan_state st;
    uint64_t end, pos;
    int undefined = length == RD_UNDEFINED_LENGTH;
    rd_status s;

    init_state(&st, buf, len, options, err);
    *out = NULL;
    if (offset > len || (!undefined && length > len - offset))
        return rd_fail(err, RD_ERR_TRUNCATED, offset, RD_NO_TAG,
                       "sequence value of %llu bytes at offset %llu runs past the end",
                       (unsigned long long)length, (unsigned long long)offset);
    end = undefined ? len : offset + length;
    st.index = rd_index_new(buf, len);
    if (!st.index)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "out of memory for the element index");
    s = scan_sequence(&st, RD_NONE, offset, end, undefined, implicit_vr ? 1 : 0,
                      little_endian ? 1 : 0, 1, &pos);
    if (s == RD_OK)
        s = rd_index_link(st.index, err);
    if (s != RD_OK) {
        describe_open_path(st.index, err);
        rd_index_free(st.index);
        return s;
    }
    *out = st.index;
    return RD_OK;
}
