/*
 * fuzz_j2k.c - libFuzzer target: JPEG 2000 and HTJ2K, the openjpeg wrapper (j2k.c),
 * reached through rd_codec_decoder().
 * Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rd_codec_decoder(RD_CODEC_J2K), "j2k", data, size);
}
