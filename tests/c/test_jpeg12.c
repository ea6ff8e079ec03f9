/*
 * test_jpeg12.c - hand-built 12-bit JPEG codestreams for jpeg12.c: one
 * valid DC-only stream with a known result, and one stream per error path.
 * Built and run by tests/test_jpeg12_kernel.py (plainly and under
 * ASan/UBSan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapidicom.h"
#include "check.h"

/*
 * A 1x1 (or w x h) 12-bit frame, one component:
 *   SOI
 *   DQT  table 0, 8-bit, every entry `q`
 *   SOF1 P=12, Y=h, X=w, Nf=1, C=1 H=V=1 Tq=0
 *   DHT  DC table 0: one code '0' for SSSS=s_dc (0 or 4);
 *        AC table 0: one code '0' for EOB
 *   SOS  Ns=1, C=1 Td=Ta=0, Ss=0 Se=63 AhAl=0
 *   data: per block DC code '0' (+ 4 extra bits if s_dc=4), EOB '0'
 *   EOI
 */
static size_t
build(uint8_t *b, unsigned w, unsigned h, unsigned q, unsigned s_dc, unsigned extra4,
      unsigned blocks)
{
    size_t n = 0;
    unsigned i;
    uint32_t acc = 0, nbits = 0;

    b[n++] = 0xFF; b[n++] = 0xD8;
    b[n++] = 0xFF; b[n++] = 0xDB; b[n++] = 0; b[n++] = 67; b[n++] = 0x00;
    for (i = 0; i < 64; i++)
        b[n++] = (uint8_t)q;
    b[n++] = 0xFF; b[n++] = 0xC1; b[n++] = 0; b[n++] = 11; b[n++] = 12;
    b[n++] = (uint8_t)(h >> 8); b[n++] = (uint8_t)h;
    b[n++] = (uint8_t)(w >> 8); b[n++] = (uint8_t)w;
    b[n++] = 1; b[n++] = 1; b[n++] = 0x11; b[n++] = 0;
    b[n++] = 0xFF; b[n++] = 0xC4; b[n++] = 0; b[n++] = 2 + 2 * 17 + 2;
    b[n++] = 0x00; b[n++] = 1;
    for (i = 2; i <= 16; i++)
        b[n++] = 0;
    b[n++] = (uint8_t)s_dc;
    b[n++] = 0x10; b[n++] = 1;
    for (i = 2; i <= 16; i++)
        b[n++] = 0;
    b[n++] = 0x00;
    b[n++] = 0xFF; b[n++] = 0xDA; b[n++] = 0; b[n++] = 8;
    b[n++] = 1; b[n++] = 1; b[n++] = 0x00; b[n++] = 0; b[n++] = 63; b[n++] = 0;
    for (i = 0; i < blocks; i++) {
        acc <<= 1; nbits++;                              /* DC code '0' */
        if (s_dc == 4) {
            acc = (acc << 4) | (i == 0 ? extra4 : 0u);   /* later diffs: category 4 again */
            nbits += 4;
        }
        acc <<= 1; nbits++;                              /* EOB '0' */
        while (nbits >= 8) {
            uint8_t byte = (uint8_t)(acc >> (nbits - 8));
            b[n++] = byte;
            if (byte == 0xFF)
                b[n++] = 0;
            nbits -= 8;
            acc &= (1u << nbits) - 1u;
        }
    }
    if (nbits) {
        b[n++] = (uint8_t)((acc << (8 - nbits)) | ((1u << (8 - nbits)) - 1u));
    }
    b[n++] = 0xFF; b[n++] = 0xD9;
    return n;
}

static rd_frame_desc
desc_of(unsigned w, unsigned h, unsigned bs, unsigned pr)
{
    rd_frame_desc d;
    memset(&d, 0, sizeof(d));
    d.rows = h;
    d.columns = w;
    d.samples_per_pixel = 1;
    d.bits_allocated = 16;
    d.bits_stored = bs;
    d.pixel_representation = pr;
    d.photometric = RD_PI_MONOCHROME2;
    return d;
}

static rd_status
run(const uint8_t *b, size_t n, rd_frame_desc d, uint16_t *out, size_t cap, rd_error *e)
{
    memset(e, 0, sizeof(*e));
    return rd_jpeg12_decode_frame(b, n, &d, NULL, (uint8_t *)out, cap, e);
}

int
main(void)
{
    uint8_t b[512];
    uint16_t out[64 * 4];
    rd_error e;
    rd_status st;
    size_t n;

    /* DC 0 -> level shift only: 2048. */
    n = build(b, 1, 1, 1, 0, 0, 1);
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_OK && out[0] == 2048, "DC 0: st %d value %u (%s)", st, out[0], e.msg);

    /* DC diff 15 (SSSS 4, bits 1111), q 4: dequantised 60 -> pass 1 gives 120 ->
     * (120 + 8) >> 4 = 8, sample 2056. */
    n = build(b, 1, 1, 4, 4, 0xF, 1);
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_OK && out[0] == 2048 + 8, "DC 60: st %d value %u (%s)", st, out[0],
              e.msg);

    /* DC diff -15 (bits 0000), q 255: -15*255*2 = -7650 -> (-7650+8)>>4 = -478 -> 1570. */
    n = build(b, 1, 1, 255, 4, 0x0, 1);
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_OK && out[0] == 1570, "DC -15*255: st %d value %u (%s)", st, out[0],
              e.msg);

    /* Signed, Bits Stored 12: 2056 has bit 11 set -> 2056 - 4096. */
    n = build(b, 1, 1, 4, 4, 0xF, 1);
    st = run(b, n, desc_of(1, 1, 12, 1), out, 2, &e);
    CHECK_MSG(st == RD_OK && (int16_t)out[0] == 2056 - 4096, "signed: st %d value %d", st,
              (int16_t)out[0]);

    /* Bits Stored 8 unsigned: 2056 & 0xFF. */
    st = run(b, n, desc_of(1, 1, 8, 0), out, 2, &e);
    CHECK_MSG(st == RD_OK && out[0] == (2056 & 0xFF), "bits stored 8: %u", out[0]);

    /* Two blocks (16 x 1), second diff -15 again wraps the prediction back. */
    n = build(b, 16, 1, 4, 4, 0xF, 2);
    st = run(b, n, desc_of(16, 1, 12, 0), out, 32, &e);
    CHECK_MSG(st == RD_OK && out[0] == 2056 && out[15] == 2048, "two blocks: %d %u %u (%s)",
              st, out[0], out[15], e.msg);

    /* --- error paths --- */
    n = build(b, 1, 1, 1, 0, 0, 1);
    st = run(b + 1, n - 1, desc_of(1, 1, 12, 0), out, 2, &e);      /* no SOI */
    CHECK_MSG(st == RD_ERR_DECODE && e.msg[0], "no SOI: %d", st);

    st = run(b, n, desc_of(2, 1, 12, 0), out, 4, &e);               /* size mismatch */
    CHECK_MSG(st == RD_ERR_DECODE && strstr(e.msg, "1 x 1") && strstr(e.msg, "2 x 1"),
              "mismatch: %d %s", st, e.msg);

    st = run(b, n, desc_of(1, 1, 12, 0), out, 1, &e);               /* dst too small */
    CHECK_MSG(st == RD_ERR_INVALID, "small dst: %d", st);

    {
        rd_frame_desc d = desc_of(1, 1, 12, 0);
        d.bits_allocated = 8;
        memset(&e, 0, sizeof(e));
        st = rd_jpeg12_decode_frame(b, n, &d, NULL, (uint8_t *)out, 2, &e);
        CHECK_MSG(st == RD_ERR_UNSUPPORTED, "bits allocated 8: %d", st);
        st = rd_jpeg12_decode_frame(b, n, NULL, NULL, (uint8_t *)out, 2, &e);
        CHECK_MSG(st == RD_ERR_INVALID, "NULL desc: %d", st);
    }
    {
        rd_codec_options o;
        rd_frame_desc d = desc_of(65535, 65535, 12, 0);
        memset(&o, 0, sizeof(o));
        o.size = sizeof(o);
        st = rd_jpeg12_decode_frame(b, n, &d, &o, (uint8_t *)out, (uint64_t)1 << 40, &e);
        CHECK_MSG(st == RD_ERR_LIMIT, "65535^2: %d", st);
    }

    b[2 + 69 + 1] = 0xC2;                                            /* SOF1 -> SOF2 */
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_ERR_UNSUPPORTED, "SOF2: %d", st);

    n = build(b, 1, 1, 1, 0, 0, 1);
    b[2 + 69 + 4] = 8;                                               /* precision 8 */
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_ERR_UNSUPPORTED, "P=8: %d (%s)", st, e.msg);

    n = build(b, 1, 1, 1, 0, 0, 1);
    st = run(b, n - 5, desc_of(1, 1, 12, 0), out, 2, &e);            /* cut in the scan */
    CHECK_MSG(st == RD_ERR_DECODE, "truncated: %d", st);

    n = build(b, 1, 1, 1, 0, 0, 1);
    b[2 + 69 + 13 + 4] = 0x00;                                       /* DHT: no codes */
    b[2 + 69 + 13 + 5] = 0x00;
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_ERR_DECODE, "empty DC table: %d (%s)", st, e.msg);

    n = build(b, 1, 1, 1, 0, 0, 1);
    b[2 + 69 + 13 + 4 + 17] = 16;                                    /* DC symbol 16 */
    st = run(b, n, desc_of(1, 1, 12, 0), out, 2, &e);
    CHECK_MSG(st == RD_ERR_DECODE, "DC category 16: %d (%s)", st, e.msg);

    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
