/*
 * fuzz_jls.c - libFuzzer target: JPEG-LS, our decoder (jlsdec.c) and, for what it
 * does not take, the CharLS wrapper (jls.c), reached through rd_codec_decoder().
 * Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rd_codec_decoder(RD_CODEC_JPEG_LS), "jls", data, size);
}
