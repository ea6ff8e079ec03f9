/*
 * rd_jpeg_view.h - internal: pydicom's view of a JPEG / JPEG-LS header.
 *
 * pydicom 3.0.2 decides the colour space of a JPEG or JPEG-LS frame (and,
 * for JPEG-LS, the sign-extension width it calls "jls_precision") from its
 * own walk of the frame's header, pixels.utils._get_jpg_parameters(), not
 * from the decoder.  To give pydicom's values, jpeg.c, jls.c and jlsdec.c
 * repeat that walk with the same rules; it lives here once, for all three.
 *
 * The rules: every segment length is trusted; the walk stops at the first
 * SOFn (C0-C3, C5-C7, C9-CB, CD-CF) or SOF55 (F7); the payload of each APPn
 * before it is kept by marker number (a later APPn of the same number
 * replaces an earlier one, as in pydicom's dict); the SOF gives precision,
 * component count and ids; after a SOF55 the walk must also reach the SOS
 * and its NEAR and ILV bytes.  Any read out of range (a Python slice or
 * index error in pydicom) makes the whole result empty: parsed == 0, and
 * then pydicom changes nothing.
 *
 * Reads only [src, src + len); reentrant, no state.
 */
#ifndef RD_JPEG_VIEW_H
#define RD_JPEG_VIEW_H

#include <string.h>

#include "rd_common.h"

typedef struct rd_jpeg_view {
    int parsed;
    uint32_t precision;
    uint32_t components;
    int rgb_ids;     /* 3 components with ids [82,71,66] or [114,103,98] */
    int jfif;        /* some kept APPn payload starts with "JFIF" */
} rd_jpeg_view;

/* The markers pydicom treats as a start of frame. */
static inline int
rd_jpeg_view_is_sof(const uint8_t *p)
{
    if (p[0] != 0xFF)
        return 0;
    if (p[1] == 0xF7)
        return 1;
    return p[1] >= 0xC0 && p[1] <= 0xCF && p[1] != 0xC4 && p[1] != 0xC8 && p[1] != 0xCC;
}

static inline void
rd_jpeg_view_read(const uint8_t *src, uint64_t len, rd_jpeg_view *view)
{
    int app_jfif[16] = {0};
    uint64_t pos = 2, ids_end;
    uint32_t k;
    int sof55;

    memset(view, 0, sizeof(*view));
    if (!rd_has(len, 0, 2) || src[0] != 0xFF || src[1] != 0xD8)
        return;
    /* Marker walk up to the first SOF. */
    for (;;) {
        uint64_t seglen;
        if (!rd_has(len, pos, 2))
            return;                     /* slice shorter than a marker: no SOF */
        if (rd_jpeg_view_is_sof(src + pos))
            break;
        if (!rd_has(len, pos, 4))
            return;                     /* unpack of a short length */
        seglen = rd_u16(src + pos + 2, 0);
        if (src[pos] == 0xFF && src[pos + 1] >= 0xE0 && src[pos + 1] <= 0xEF) {
            /* payload = src[pos + 4 : pos + 2 + seglen], clamped like a
             * slice (empty when seglen < 2). */
            uint64_t start = pos + 4;
            uint64_t end = pos + 2 + seglen < len ? pos + 2 + seglen : len;
            app_jfif[src[pos + 1] - 0xE0] =
                end > start && end - start >= 4 && memcmp(src + start, "JFIF", 4) == 0;
        }
        pos += seglen + 2;              /* pos <= len + 65537: no overflow */
    }
    sof55 = src[pos + 1] == 0xF7;
    pos += 2;                           /* at the SOF length */
    /* precision, height, width and component count: bytes pos+2 .. pos+7 */
    if (!rd_has(len, pos, 8))
        return;
    view->precision = src[pos + 2];
    view->components = src[pos + 7];
    /* ids at pos+8, pos+11, ...: the last one must exist. */
    ids_end = pos + 8 + 3 * (uint64_t)view->components;
    if (view->components > 0 && !(ids_end - 3 < len))
        return;
    if (view->components == 3) {
        const uint8_t *id = src + pos + 8;
        view->rgb_ids = (id[0] == 82 && id[3] == 71 && id[6] == 66)
                        || (id[0] == 114 && id[3] == 103 && id[6] == 98);
    }
    pos = ids_end;
    if (sof55) {
        /* Up to the SOS, then its component count, NEAR and ILV bytes. */
        for (;;) {
            if (rd_has(len, pos, 2) && src[pos] == 0xFF && src[pos + 1] == 0xDA)
                break;
            if (!rd_has(len, pos, 4))
                return;
            pos += (uint64_t)rd_u16(src + pos + 2, 0) + 2;
        }
        if (!rd_has(len, pos, 5))
            return;
        pos += 5 + 2 * (uint64_t)src[pos + 4];
        if (!rd_has(len, pos, 2))
            return;
    }
    for (k = 0; k < 16; k++)
        view->jfif |= app_jfif[k];
    view->parsed = 1;
}

#endif /* RD_JPEG_VIEW_H */
