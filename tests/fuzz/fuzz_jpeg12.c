/*
 * fuzz_jpeg12.c - libFuzzer target: JPEG extended 12-bit, our own DCT decoder (jpeg12.c),
 * reached through rd_codec_decoder().
 * Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rd_codec_decoder(RD_CODEC_JPEG12), "jpeg12", data, size);
}
