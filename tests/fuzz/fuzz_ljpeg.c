/*
 * fuzz_ljpeg.c - libFuzzer target: JPEG lossless process 14 / SV1, our own decoder (ljpeg.c),
 * reached through rd_codec_decoder().
 * Input layout and checks: fuzz_decoder.h.
 */
#include "fuzz_decoder.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_run_decoder(rd_codec_decoder(RD_CODEC_JPEG_LOSSLESS), "ljpeg", data, size);
}
