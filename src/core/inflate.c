/*
 * inflate.c - Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99).
 *
 * The dataset after the File Meta Information is one raw deflate stream
 * (RFC 1951, no zlib header).  It is inflated once into a single buffer that
 * starts with a copy of the bytes before the dataset (preamble and meta), so
 * that every offset of the index refers to one buffer.  The output grows
 * geometrically and never beyond `max_inflated`, which guards against
 * decompression bombs.
 */
#include <stdlib.h>
#include <zlib.h>

#include "rd_common.h"

rd_status
rd_inflate_dataset(const uint8_t *buf, uint64_t len, uint64_t dataset_offset,
                   uint64_t max_inflated, uint8_t **out, uint64_t *out_len,
                   rd_error *err)
{
    z_stream zs;
    uint8_t *dst = NULL;
    uint64_t cap, used = dataset_offset;
    uint64_t in_pos = dataset_offset;
    rd_status status = RD_OK;
    int zret;

    *out = NULL;
    *out_len = 0;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return rd_fail(err, RD_ERR_NOMEM, dataset_offset, RD_NO_TAG,
                       "cannot start the deflate decoder");

    cap = dataset_offset + (len - dataset_offset) * 4 + 4096;
    if (cap > dataset_offset + max_inflated)
        cap = dataset_offset + max_inflated;
    dst = malloc(cap ? cap : 1);
    if (!dst) {
        status = rd_fail(err, RD_ERR_NOMEM, dataset_offset, RD_NO_TAG,
                         "out of memory inflating the dataset");
        goto cleanup;
    }
    memcpy(dst, buf, dataset_offset);

    for (;;) {
        uInt in_chunk, out_chunk;
        if (used == cap) {
            uint64_t grown_cap;
            uint8_t *grown;
            if (cap - dataset_offset >= max_inflated) {
                status = rd_fail(err, RD_ERR_LIMIT, in_pos, RD_NO_TAG,
                                 "deflated dataset inflates past %llu bytes (limit max_inflated)",
                                 (unsigned long long)max_inflated);
                goto cleanup;
            }
            grown_cap = cap * 2;
            if (grown_cap > dataset_offset + max_inflated)
                grown_cap = dataset_offset + max_inflated;
            grown = realloc(dst, grown_cap);
            if (!grown) {
                status = rd_fail(err, RD_ERR_NOMEM, in_pos, RD_NO_TAG,
                                 "out of memory inflating the dataset");
                goto cleanup;
            }
            dst = grown;
            cap = grown_cap;
        }
        /* zlib counts in uInt: feed at most 1 GiB per call. */
        in_chunk = (uInt)((len - in_pos) > (1u << 30) ? (1u << 30) : (len - in_pos));
        out_chunk = (uInt)((cap - used) > (1u << 30) ? (1u << 30) : (cap - used));
        zs.next_in = (Bytef *)(buf + in_pos);
        zs.avail_in = in_chunk;
        zs.next_out = dst + used;
        zs.avail_out = out_chunk;
        zret = inflate(&zs, Z_NO_FLUSH);
        in_pos += in_chunk - zs.avail_in;
        used += out_chunk - zs.avail_out;
        if (zret == Z_STREAM_END)
            break;
        if (zret == Z_BUF_ERROR && zs.avail_in == 0 && in_pos >= len) {
            status = rd_fail(err, RD_ERR_TRUNCATED, in_pos, RD_NO_TAG,
                             "deflated dataset ends before its final block");
            goto cleanup;
        }
        if (zret != Z_OK && zret != Z_BUF_ERROR) {
            status = rd_fail(err, RD_ERR_DECODE, in_pos, RD_NO_TAG,
                             "corrupt deflate stream: %s", zs.msg ? zs.msg : "error");
            goto cleanup;
        }
    }
    *out = dst;
    *out_len = used;
    dst = NULL;

cleanup:
    inflateEnd(&zs);
    free(dst);
    return status;
}
