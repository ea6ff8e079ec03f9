/*
 * fuzz_deflate.c - libFuzzer target: Deflated Image Frame Compression
 * (inflate.c, rd_deflate_decode_frame), followed by the native conversion
 * pixels.py applies to an inflated frame whose layout is not the output's.
 *
 * Input: FUZZ_DESC_BYTES describing the frame (fuzz_common.h), then the raw
 * deflate stream.  The frame must inflate to exactly its native size
 * (rd_native_frame_bytes).
 *
 * Checked: a success filled all `expected` bytes deterministically; a
 * failure fills err; then, as pixels.py does, rd_native_frame converts the
 * inflated bytes (with the same checks).
 */
#include "fuzz_common.h"

typedef struct inflate_call {
    const uint8_t *src;
    uint64_t src_len;
} inflate_call;

static rd_status
inflate_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    const inflate_call *c = ctx;
    return rd_deflate_decode_frame(c->src, c->src_len, dst, dst_cap, err);
}

/* The inflated native frame to the output contract, as pixels.py does. */
static void
convert(const uint8_t *native, uint64_t native_len, const rd_frame_desc *d)
{
    uint64_t frame = fuzz_frame_size(d);
    fuzz_native_call call = {native, native_len, d, {0, 0}};
    uint8_t *out;
    rd_status st;
    if (frame == 0 || frame > FUZZ_MAX_FRAME_BYTES)
        return;
    if (d->bits_stored < d->bits_allocated)
        call.layout.flags = RD_NATIVE_FIX_BITS;
    out = fuzz_alloc(frame);
    st = fuzz_decode_checked(fuzz_native_once, &call, out, frame, frame, "deflate/native");
    if (st == RD_OK)
        fuzz_post_process(out, frame, d);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frame f;
    inflate_call call;
    uint64_t expected;
    uint8_t *src, *dst;

    if (size < FUZZ_DESC_BYTES)
        return 0;
    fuzz_read_frame(data, &f);
    expected = rd_native_frame_bytes(&f.desc);
    if (expected > FUZZ_MAX_FRAME_BYTES)
        return 0;
    call.src_len = size - FUZZ_DESC_BYTES;
    src = fuzz_exact_copy(data + FUZZ_DESC_BYTES, call.src_len);
    call.src = src;
    dst = fuzz_alloc(expected);
    if (fuzz_decode_checked(inflate_once, &call, dst, expected, expected, "deflate") == RD_OK)
        convert(dst, expected, &f.desc);
    free(dst);
    free(src);
    return 0;
}
