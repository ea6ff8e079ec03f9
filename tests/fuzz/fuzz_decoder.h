/*
 * fuzz_decoder.h - the one harness behind every codec target (RLE, JPEG,
 * 12-bit JPEG, JPEG lossless, JPEG-LS, JPEG 2000).
 *
 * Input: FUZZ_DESC_BYTES describing the frame (fuzz_common.h), then the
 * frame's codestream.  The codestream is copied into a buffer of exactly its
 * size and the output buffer holds exactly rd_frame_size() bytes (one less
 * when the input asks for a short output), so ASan sees any byte read or
 * written outside them.
 *
 * Checked for every input:
 *   - rd_frame_size() is rows x columns x samples x bytes per sample;
 *   - the status is one a codec may return (never NOT_DICOM or TRUNCATED
 *     from a codec, which has no file around it) and a failure fills err;
 *   - a short output buffer is always refused;
 *   - a success wrote every byte of the frame, the same bytes each time
 *     (fuzz_decode_checked), and the pixels.py fix-ups then run on it.
 */
#ifndef FUZZ_DECODER_H
#define FUZZ_DECODER_H

#include "fuzz_common.h"

typedef struct fuzz_codec_call {
    rd_codec_fn fn;
    const uint8_t *src;
    uint64_t src_len;
    const rd_frame_desc *desc;
    const rd_codec_options *options;
} fuzz_codec_call;

static rd_status
fuzz_codec_once(void *ctx, uint8_t *dst, uint64_t dst_cap, rd_error *err)
{
    const fuzz_codec_call *c = ctx;
    return c->fn(c->src, c->src_len, c->desc, c->options, dst, dst_cap, err);
}

/* Run one input through `fn` (a function with the rd_codec_fn signature). */
static int
fuzz_run_decoder(rd_codec_fn fn, const char *name, const uint8_t *data, size_t size)
{
    fuzz_frame f;
    rd_codec_options options;
    fuzz_codec_call call;
    uint64_t frame, cap;
    uint8_t *src, *dst;
    rd_status st;

    if (fn == NULL)
        fuzz_fail("%s: this build has no such decoder", name);
    if (!fuzz_read_input_frame(data, size, 0, &f, &frame))
        return 0;

    memset(&options, 0, sizeof(options));
    options.size = sizeof(options);
    options.flags = f.flag ? RD_CODEC_KEEP_YBR : 0;
    options.threads = 1;
    options.max_pixels = FUZZ_MAX_PIXELS;

    src = fuzz_exact_copy(data + FUZZ_DESC_BYTES, size - FUZZ_DESC_BYTES);
    cap = f.short_output && frame > 0 ? frame - 1 : frame;
    dst = fuzz_alloc(cap);
    call = (fuzz_codec_call){fn, src, size - FUZZ_DESC_BYTES, &f.desc, &options};

    st = fuzz_decode_checked(fuzz_codec_once, &call, dst, cap, cap, name);
    fuzz_check(st != RD_ERR_NOT_DICOM && st != RD_ERR_TRUNCATED,
               "%s: status %d is not a codec's", name, (int)st);
    if (st == RD_OK) {
        fuzz_check(frame > 0, "%s: succeeded for a frame of no valid size", name);
        fuzz_check(cap == frame, "%s: succeeded into %llu bytes, the frame needs %llu", name,
                   (unsigned long long)cap, (unsigned long long)frame);
        fuzz_post_process(dst, frame, &f.desc);
    }
    free(dst);
    free(src);
    return 0;
}

#endif /* FUZZ_DECODER_H */
