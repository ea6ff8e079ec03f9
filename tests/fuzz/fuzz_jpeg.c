/*
 * fuzz_jpeg.c - libFuzzer target: JPEG baseline / extended 8-bit, the
 * libjpeg-turbo wrapper (jpeg.c), reached through rd_codec_decoder() as
 * pixels.py reaches it.
 * Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rd_codec_decoder(RD_CODEC_JPEG), "jpeg", data, size);
}
