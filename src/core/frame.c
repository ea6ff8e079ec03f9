/*
 * frame.c - sizes of decoded frames, shared by every pixel decoder.
 *
 * A decoded frame is rows x columns pixels of samples_per_pixel interleaved
 * samples, each bits_allocated/8 bytes wide; 1-bit data is unpacked to one
 * byte per pixel.  Decoders size and check their output with
 * rd_frame_size() so that "the caller's buffer is big enough" means the same
 * thing everywhere.
 *
 * Why it is cheap: four multiplications, each checked for 64-bit overflow
 * by division before it is done (TurboJPEG's MAXPIXELS check, done in 64
 * bits).
 *
 * Invariants: a non-zero result is the exact product and fits in 64 bits;
 * 0 means "no valid size": a product that would overflow, a zero dimension,
 * or a bits_allocated that is neither 1 nor a positive multiple of 8 (the
 * only values DICOM allows, PS3.3 C.7.6.3.1).
 */
#include "rd_common.h"

/* *acc *= factor; 0 when the product would not fit in 64 bits. */
static int
mul_checked(uint64_t *acc, uint64_t factor)
{
    if (factor != 0 && *acc > UINT64_MAX / factor)
        return 0;
    *acc *= factor;
    return 1;
}

uint64_t
rd_frame_size(const rd_frame_desc *desc)
{
    uint64_t size = 1, bytes;

    if (desc == NULL)
        return 0;
    if (desc->bits_allocated == 1)
        bytes = 1;
    else if (desc->bits_allocated != 0 && desc->bits_allocated % 8 == 0)
        bytes = desc->bits_allocated / 8;
    else
        return 0;
    if (!mul_checked(&size, desc->rows) || !mul_checked(&size, desc->columns)
        || !mul_checked(&size, desc->samples_per_pixel) || !mul_checked(&size, bytes))
        return 0;
    return size;
}
