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

/* ------------------------------------------------------------------------- */
/* Deflated Image Frame Compression (1.2.840.10008.1.2.8.1)                   */
/* ------------------------------------------------------------------------- */

/*
 * Each frame is the native little-endian frame compressed with raw deflate
 * (RFC 1951).  It must inflate to exactly `expected` bytes: fewer is
 * truncated data, more would not fit and is refused before it is written.
 */
rd_status
rd_deflate_decode_frame(const uint8_t *src, uint64_t src_len, uint8_t *dst,
                        uint64_t expected, rd_error *err)
{
    z_stream zs;
    rd_status status = RD_OK;
    uint64_t in_pos = 0, out_pos = 0;
    int zret = Z_OK;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return rd_fail(err, RD_ERR_NOMEM, 0, RD_NO_TAG, "cannot start the deflate decoder");
    while (zret != Z_STREAM_END) {
        uInt in_chunk = (uInt)((src_len - in_pos) > (1u << 30) ? (1u << 30) : (src_len - in_pos));
        uInt out_chunk = (uInt)((expected - out_pos) > (1u << 30) ? (1u << 30)
                                                                  : (expected - out_pos));
        uint8_t spare;
        zs.next_in = (Bytef *)(src + in_pos);
        zs.avail_in = in_chunk;
        /* Once the frame is full, offer one spare byte to detect excess data. */
        zs.next_out = out_chunk ? dst + out_pos : &spare;
        zs.avail_out = out_chunk ? out_chunk : 1;
        zret = inflate(&zs, Z_NO_FLUSH);
        in_pos += in_chunk - zs.avail_in;
        if (out_chunk)
            out_pos += out_chunk - zs.avail_out;
        else if (zs.avail_out == 0) {
            status = rd_fail(err, RD_ERR_DECODE, in_pos, RD_NO_TAG,
                             "deflated frame inflates to more than %llu bytes",
                             (unsigned long long)expected);
            goto cleanup;
        }
        if (zret == Z_STREAM_END)
            break;
        if (zret == Z_BUF_ERROR && in_pos >= src_len) {
            status = rd_fail(err, RD_ERR_DECODE, in_pos, RD_NO_TAG,
                             "deflated frame ends after %llu of %llu bytes",
                             (unsigned long long)out_pos, (unsigned long long)expected);
            goto cleanup;
        }
        if (zret != Z_OK && zret != Z_BUF_ERROR) {
            status = rd_fail(err, RD_ERR_DECODE, in_pos, RD_NO_TAG,
                             "corrupt deflated frame: %s", zs.msg ? zs.msg : "error");
            goto cleanup;
        }
    }
    if (out_pos != expected)
        status = rd_fail(err, RD_ERR_DECODE, in_pos, RD_NO_TAG,
                         "deflated frame holds %llu bytes, %llu expected",
                         (unsigned long long)out_pos, (unsigned long long)expected);
cleanup:
    inflateEnd(&zs);
    return status;
}
