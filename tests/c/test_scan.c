/*
 * test_scan.c - the scanner's allocations under LeakSanitizer: every index
 * a scan returns is released by rd_index_free(), and every failing scan
 * (truncated input, a limit hit, a corrupt deflated dataset) releases what
 * it had built and returns a NULL index.
 *
 * Build and run (make sanitize builds it with ASan + UBSan and runs it with
 * leak detection on, over the hand-built cases and the whole corpus):
 *   cc -Isrc/core src/core/scan.c src/core/index.c src/core/inflate.c \
 *      tests/c/test_scan.c -lz && ./a.out [FILE...]
 * Without arguments it runs the hand-built cases; each FILE is also scanned
 * whole and cut short at 33 places, strictly and leniently, and every
 * sequence found is scanned again with rd_scan_sequence().  Exits 0 when
 * every check passes; otherwise prints each failure to stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "rapidicom.h"
#include "check.h"

/* ------------------------------------------------------------------------- */
/* Building explicit VR little endian data                                    */
/* ------------------------------------------------------------------------- */

typedef struct bytes {
    uint8_t data[4096];
    size_t len;
} bytes;

static void
put(bytes *b, const void *p, size_t n)
{
    if (n > sizeof(b->data) - b->len) {
        fprintf(stderr, "test buffer too small\n");
        exit(2);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void
put_u16(bytes *b, uint32_t v)
{
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, p, 2);
}

static void
put_u32(bytes *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, p, 4);
}

/* Tag, VR and a 2-byte length, then the value (short VRs). */
static void
element(bytes *b, uint32_t tag, const char *vr, const char *value, size_t n)
{
    put_u16(b, tag >> 16);
    put_u16(b, tag & 0xFFFF);
    put(b, vr, 2);
    put_u16(b, (uint32_t)n);
    put(b, value, n);
}

/* A sequence of undefined length holding one item of undefined length that
 * holds `inner` levels more, the innermost item a Patient Name. */
static void
nested(bytes *b, int levels)
{
    put_u16(b, 0x0040);
    put_u16(b, 0x0275);     /* Request Attributes Sequence */
    put(b, "SQ\0\0", 4);
    put_u32(b, 0xFFFFFFFFu);
    put_u32(b, 0xE000FFFEu); /* item, undefined length */
    put_u32(b, 0xFFFFFFFFu);
    if (levels > 1)
        nested(b, levels - 1);
    else
        element(b, 0x00100010, "PN", "AB", 2);
    put_u32(b, 0xE00DFFFEu); /* item delimiter */
    put_u32(b, 0);
    put_u32(b, 0xE0DDFFFEu); /* sequence delimiter */
    put_u32(b, 0);
}

/* Preamble, "DICM", a File Meta group naming `ts`. */
static void
part10(bytes *b, const char *ts)
{
    bytes meta = {.len = 0};
    size_t n = strlen(ts);

    memset(b->data, 0, 128);
    b->len = 128;
    put(b, "DICM", 4);
    element(&meta, 0x00020010, "UI", ts, n + (n & 1)); /* the NUL pads an odd UID */
    put_u16(b, 0x0002);                               /* (0002,0000) UL: group length */
    put_u16(b, 0x0000);
    put(b, "UL", 2);
    put_u16(b, 4);
    put_u32(b, (uint32_t)meta.len);
    put(b, meta.data, meta.len);
}

static rd_scan_options
options(uint32_t flags, uint32_t max_depth, uint32_t max_elements, uint64_t max_inflated)
{
    rd_scan_options o;

    rd_scan_options_default(&o);
    o.flags = flags;
    if (max_depth)
        o.max_depth = max_depth;
    if (max_elements)
        o.max_elements = max_elements;
    if (max_inflated)
        o.max_inflated = max_inflated;
    return o;
}

/* Scan and check the status; a failure must leave *out NULL. */
static rd_index *
scan(const uint8_t *buf, uint64_t len, const rd_scan_options *o, rd_status want)
{
    rd_index *index = (rd_index *)&index;   /* not NULL: the scan must set it */
    rd_error err;
    rd_status st = rd_scan_file(buf, len, o, &index, &err);

    if (st != want)
        fprintf(stderr, "scan: status %d (%s), expected %d\n", (int)st,
                st == RD_OK ? "" : err.msg, (int)want);
    CHECK(st == want);
    CHECK((st == RD_OK) == (index != NULL));
    return index;
}

/* Scan with any outcome allowed (real or damaged input); the index must be
 * NULL exactly when the scan failed.  The caller frees it. */
static rd_status
scan_any(const uint8_t *buf, uint64_t len, const rd_scan_options *o, rd_index **out)
{
    rd_error err;
    rd_status st = rd_scan_file(buf, len, o, out, &err);

    CHECK((st == RD_OK) == (*out != NULL));
    return st;
}

/* ------------------------------------------------------------------------- */
/* Hand-built cases                                                           */
/* ------------------------------------------------------------------------- */

static void
test_nested_and_limits(void)
{
    bytes b;
    rd_scan_options o;
    rd_index *index;

    part10(&b, "1.2.840.10008.1.2.1");
    element(&b, 0x00080060, "CS", "CT", 2);
    nested(&b, 5);
    element(&b, 0x00100020, "LO", "ID01", 4);

    index = scan(b.data, b.len, NULL, RD_OK);
    if (index) {
        /* 2 File Meta elements, CS, 5 x (SQ, item), PN, LO */
        CHECK(index->count == 2 + 1 + 5 * 2 + 1 + 1);
        CHECK(index->root_count == 3 && index->meta_count == 2);
        CHECK(rd_index_find(index, RD_ROOT, 0x00100020) != RD_NONE);
        CHECK(strcmp(index->transfer_syntax, "1.2.840.10008.1.2.1") == 0);
    }
    rd_index_free(index);

    o = options(0, 5, 0, 0);
    rd_index_free(scan(b.data, b.len, &o, RD_OK));
    o = options(0, 4, 0, 0);                     /* five levels, four allowed */
    rd_index_free(scan(b.data, b.len, &o, RD_ERR_LIMIT));
    o = options(0, 0, 8, 0);                     /* fails while the index grows */
    rd_index_free(scan(b.data, b.len, &o, RD_ERR_LIMIT));
    rd_index_free(NULL);
}

static void
test_truncated(void)
{
    bytes b;
    rd_scan_options lenient = options(RD_SCAN_LENIENT, 0, 0, 0);
    rd_index *index;

    part10(&b, "1.2.840.10008.1.2.1");
    nested(&b, 3);
    element(&b, 0x00100020, "LO", "ID01", 4);
    b.len -= 2;                                  /* the last value is cut short */
    rd_index_free(scan(b.data, b.len, NULL, RD_ERR_TRUNCATED));
    index = scan(b.data, b.len, &lenient, RD_OK);
    if (index)
        CHECK(index->flags & RD_IDX_TRUNCATED);
    rd_index_free(index);
    b.len -= 12;                                 /* now inside a sequence delimiter */
    rd_index_free(scan(b.data, b.len, NULL, RD_ERR_TRUNCATED));
}

/* A Deflated Explicit VR Little Endian file: the dataset raw-deflated; with
 * `cut`, the deflate stream loses its last bytes. */
static size_t
deflated_file(uint8_t *out, size_t cap, int cut)
{
    bytes b, dataset = {.len = 0};
    z_stream zs;
    size_t n;

    part10(&b, "1.2.840.10008.1.2.1.99");
    for (int i = 0; i < 40; i++)
        element(&dataset, 0x00100010, "PN", "DEFLATED^NAME", 14);
    nested(&dataset, 3);
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    memcpy(out, b.data, b.len);
    zs.next_in = dataset.data;
    zs.avail_in = (uInt)dataset.len;
    zs.next_out = out + b.len;
    zs.avail_out = (uInt)(cap - b.len);
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    n = b.len + zs.total_out;
    deflateEnd(&zs);
    return cut ? n - 8 : n;
}

static void
test_deflated(void)
{
    uint8_t file[8192];
    size_t n = deflated_file(file, sizeof(file), 0);
    rd_scan_options small = options(0, 0, 0, 100);
    rd_index *index = scan(file, n, NULL, RD_OK);

    if (index) {
        CHECK(index->flags & RD_IDX_DEFLATED);
        CHECK(index->inflated != NULL);
    }
    rd_index_free(index);
    rd_index_free(scan(file, n, &small, RD_ERR_LIMIT)); /* inflates past 100 bytes */
    n = deflated_file(file, sizeof(file), 1);
    CHECK(scan_any(file, n, NULL, &index) != RD_OK);
    rd_index_free(index);
}

/* ------------------------------------------------------------------------- */
/* Files                                                                      */
/* ------------------------------------------------------------------------- */

static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc(size ? (size_t)size : 1);
        if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return data;
}

/* Each sequence of the index scanned again on its own, as the bindings do
 * for private and UN sequences. */
static void
rescan_sequences(const rd_index *index)
{
    uint32_t done = 0;

    for (uint32_t i = 0; i < index->count && done < 50; i++) {
        const rd_record *r = &index->records[i];
        rd_index *sub = NULL;
        rd_error err;
        rd_status st;

        if (!(r->flags & RD_REC_SEQUENCE))
            continue;
        st = rd_scan_sequence(index->data, index->size, r->value_offset,
                              (r->flags & RD_REC_UNDEFINED_LENGTH) ? 0xFFFFFFFFu : r->length,
                              (r->flags & RD_REC_IMPLICIT_VR) != 0,
                              (r->flags & RD_REC_BIG_ENDIAN) == 0, NULL, &sub, &err);
        CHECK((st == RD_OK) == (sub != NULL));
        rd_index_free(sub);
        done++;
    }
}

static void
test_file(const char *path)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    rd_scan_options lenient = options(RD_SCAN_LENIENT, 0, 0, 0);
    rd_index *index;

    if (data == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        failures++;
        return;
    }
    if (scan_any(data, len, NULL, &index) == RD_OK)
        rescan_sequences(index);
    rd_index_free(index);
    if (scan_any(data, len, &lenient, &index) == RD_OK)
        rescan_sequences(index);
    rd_index_free(index);
    for (size_t k = 0; k <= 32; k++) {
        size_t cut = k == 32 ? (len ? len - 1 : 0) : len / 32 * k;
        scan_any(data, cut, NULL, &index);
        rd_index_free(index);
        scan_any(data, cut, &lenient, &index);
        rd_index_free(index);
    }
    free(data);
}

int
main(int argc, char **argv)
{
    test_nested_and_limits();
    test_truncated();
    test_deflated();
    for (int i = 1; i < argc; i++)
        test_file(argv[i]);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_scan: all checks passed (%d file(s))\n", argc - 1);
    return 0;
}
