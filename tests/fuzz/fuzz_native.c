/*
 * fuzz_native.c - libFuzzer target: native (uncompressed) frames
 * (unpack.c: rd_native_frame, rd_native_frame_bytes, rd_fix_unused_bits,
 * rd_native_bits_clean) and the YBR_FULL -> RGB conversion (colour.c).
 *
 * Input: FUZZ_DESC_BYTES describing the frame (fuzz_common.h; byte 7 bits
 * 1-3 are the RD_NATIVE_* layout flags), one byte placing the frame (bits
 * 0-6: k; bit 7 clear: frame k, at k frames into the value as pixels.py
 * places it; set: k bits in), then the Pixel Data value.
 *
 * Checked: rd_frame_size() as everywhere; a success wrote the whole frame
 * deterministically (then the unused-bits fix-up and YBR conversion run on
 * it as pixels.py runs them); a failure fills err; a short output buffer is
 * refused; rd_native_bits_clean() reads only the samples it is given.
 */
#include "fuzz_common.h"

/* Where frame k starts, in bits, as pixels.py computes it. */
static uint64_t
frame_bit_offset(const rd_frame_desc *d, uint64_t k)
{
    if (d->bits_allocated == 1)
        return k * d->rows * d->columns * d->samples_per_pixel;
    return k * rd_native_frame_bytes(d) * 8;
}

/* pixels.py asks whether a little-endian frame can be shown as a view. */
static void
check_bits_clean(const fuzz_native_call *c)
{
    const rd_frame_desc *d = c->desc;
    uint64_t start = c->layout.bit_offset / 8, bytes, count;
    if (d->bits_allocated != 8 && d->bits_allocated != 16 && d->bits_allocated != 32
        && d->bits_allocated != 64)
        return;
    if (start > c->src_len)
        return;
    bytes = d->bits_allocated / 8;
    count = (c->src_len - start) / bytes;
    (void)rd_native_bits_clean(c->src + start, count, d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frame f;
    fuzz_native_call call;
    uint64_t frame, cap, k;
    uint8_t *src, *dst;
    rd_status st;

    if (!fuzz_read_input_frame(data, size, 1, &f, &frame))
        return 0;
    (void)rd_native_frame_bytes(&f.desc);

    k = data[FUZZ_DESC_BYTES] & 0x7F;
    call.layout.flags = f.extra & 7;  /* RD_NATIVE_BIG_ENDIAN | SWAP_WORDS | FIX_BITS */
    call.layout.bit_offset = data[FUZZ_DESC_BYTES] & 0x80 ? k : frame_bit_offset(&f.desc, k);
    call.src_len = size - FUZZ_DESC_BYTES - 1;
    src = fuzz_exact_copy(data + FUZZ_DESC_BYTES + 1, call.src_len);
    call.src = src;
    call.desc = &f.desc;

    cap = f.short_output && frame > 0 ? frame - 1 : frame;
    dst = fuzz_alloc(cap);
    st = fuzz_decode_checked(fuzz_native_once, &call, dst, cap, cap, "native");
    if (st == RD_OK) {
        fuzz_check(cap >= frame, "native: succeeded into %llu bytes, the frame needs %llu",
                   (unsigned long long)cap, (unsigned long long)frame);
        fuzz_post_process(dst, frame, &f.desc);
    }
    if (!(call.layout.flags & (RD_NATIVE_BIG_ENDIAN | RD_NATIVE_SWAP_WORDS)))
        check_bits_clean(&call);
    free(dst);
    free(src);
    return 0;
}
