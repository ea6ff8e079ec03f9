/*
 * fuzz_rle.c - libFuzzer target: RLE Lossless frames (rle.c,
 * rd_rle_decode_frame).  Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

/* rd_rle_decode_frame takes no options; give it the codecs' signature. */
static rd_status
rle_decode(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
           const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    (void)options;
    return rd_rle_decode_frame(src, src_len, desc, dst, dst_cap, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rle_decode, "rle", data, size);
}
