# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""GIL-free entry points of the pixel engine.

Each function collects pointers and sizes while holding the GIL, runs one C
call without it, and turns a failed status into a rapidicom exception.  The
caller allocates every output; nothing here allocates pixel memory.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free

cimport rapidicom_c as c
from rapidicom_c cimport (rd_error, rd_status, rd_frame_desc, rd_native_layout, rd_frame_span,
                          rd_codec_options)

from rapidicom import errors as _errors
from rapidicom._core import limit_of_message

_CLASSES = {
    c.RD_ERR_TRUNCATED: _errors.TruncatedError,
    c.RD_ERR_INVALID: _errors.InvalidDicomError,
    c.RD_ERR_LIMIT: _errors.LimitExceededError,
    c.RD_ERR_UNSUPPORTED: _errors.UnsupportedError,
    c.RD_ERR_DECODE: _errors.DecodeError,
}

PHOTOMETRIC = {
    "MONOCHROME1": c.RD_PI_MONOCHROME1, "MONOCHROME2": c.RD_PI_MONOCHROME2,
    "PALETTE COLOR": c.RD_PI_PALETTE_COLOR, "RGB": c.RD_PI_RGB,
    "YBR_FULL": c.RD_PI_YBR_FULL, "YBR_FULL_422": c.RD_PI_YBR_FULL_422,
    "YBR_ICT": c.RD_PI_YBR_ICT, "YBR_RCT": c.RD_PI_YBR_RCT,
    "YBR_PARTIAL_420": c.RD_PI_YBR_PARTIAL_420,
}

NATIVE_BIG_ENDIAN = c.RD_NATIVE_BIG_ENDIAN
NATIVE_SWAP_WORDS = c.RD_NATIVE_SWAP_WORDS
NATIVE_FIX_BITS = c.RD_NATIVE_FIX_BITS
TABLE_EXTENDED = c.RD_FT_EXTENDED_TABLE
TABLE_BASIC = c.RD_FT_BASIC_TABLE
TABLE_IGNORED = c.RD_FT_TABLE_IGNORED
TABLE_FEWER_FRAMES = c.RD_FT_FEWER_FRAMES


cdef object _error(rd_error *err, str where):
    if err.code == c.RD_ERR_NOMEM:
        return MemoryError(err.msg.decode("utf-8", "replace"))
    cls = _CLASSES.get(err.code, _errors.DecodeError)
    msg = err.msg.decode("utf-8", "replace")
    if cls is _errors.LimitExceededError:
        return cls("%s (%s)" % (msg, where), offset=err.offset, tag=0x7FE00010,
                   limit=limit_of_message(msg))
    return cls("%s (%s)" % (msg, where), offset=err.offset, tag=0x7FE00010)


cdef rd_frame_desc _desc(tuple d):
    cdef rd_frame_desc desc
    (desc.rows, desc.columns, desc.samples_per_pixel, desc.bits_allocated,
     desc.bits_stored, desc.pixel_representation, desc.planar_configuration,
     desc.photometric) = d
    return desc


def native_frame_bytes(tuple desc):
    """Bytes one native frame occupies in the file (1-bit data rounded up)."""
    cdef rd_frame_desc d = _desc(desc)
    return c.rd_native_frame_bytes(&d)


def native_frame(const uint8_t[::1] src, tuple desc, uint64_t bit_offset, uint32_t flags,
                 uint8_t[::1] out, int frame):
    """Convert native frame `frame` (starting `bit_offset` bits into `src`,
    the whole Pixel Data value) into `out`, without the GIL."""
    cdef rd_frame_desc d = _desc(desc)
    cdef rd_native_layout layout
    cdef rd_error err
    cdef rd_status status
    cdef const uint8_t *sp = &src[0] if src.shape[0] else <const uint8_t *>b""
    cdef uint8_t *dp = &out[0] if out.shape[0] else NULL
    layout.bit_offset = bit_offset
    layout.flags = flags
    with nogil:
        status = c.rd_native_frame(sp, src.shape[0], &d, &layout, dp, out.shape[0], &err)
    if status != c.RD_OK:
        raise _error(&err, "frame %d" % frame)


def bits_clean(const uint8_t[::1] src, tuple desc, uint64_t count):
    """True when `count` little-endian samples need no unused-bits fix."""
    cdef rd_frame_desc d = _desc(desc)
    cdef int clean
    with nogil:
        clean = c.rd_native_bits_clean(&src[0], count, &d) if count else 1
    return bool(clean)


def rle_frame(const uint8_t[::1] src, tuple desc, uint8_t[::1] out, int frame):
    """Decode one RLE Lossless frame into `out`, without the GIL."""
    cdef rd_frame_desc d = _desc(desc)
    cdef rd_error err
    cdef rd_status status
    cdef const uint8_t *sp = &src[0] if src.shape[0] else <const uint8_t *>b""
    cdef uint8_t *dp = &out[0] if out.shape[0] else NULL
    with nogil:
        status = c.rd_rle_decode_frame(sp, src.shape[0], &d, dp, out.shape[0], &err)
    if status != c.RD_OK:
        raise _error(&err, "RLE frame %d" % frame)


def fix_unused_bits(uint8_t[::1] samples, tuple desc, uint64_t count):
    """Clear or sign-extend the bits above Bits Stored, in place."""
    cdef rd_frame_desc d = _desc(desc)
    with nogil:
        if count:
            c.rd_fix_unused_bits(&samples[0], count, &d)


def deflate_frame(const uint8_t[::1] src, uint8_t[::1] out, int frame):
    """Inflate one Deflated Image Frame Compression frame into `out` (which
    has exactly the native frame's size), without the GIL."""
    cdef rd_error err
    cdef rd_status status
    cdef const uint8_t *sp = &src[0] if src.shape[0] else <const uint8_t *>b""
    cdef uint8_t *dp = &out[0] if out.shape[0] else NULL
    with nogil:
        status = c.rd_deflate_decode_frame(sp, src.shape[0], dp, out.shape[0], &err)
    if status != c.RD_OK:
        raise _error(&err, "deflated frame %d" % frame)


def ybr_full_to_rgb(uint8_t[::1] pixels):
    """YBR_FULL to RGB in place on interleaved 8-bit triples."""
    cdef uint64_t n = pixels.shape[0] // 3
    with nogil:
        if n:
            c.rd_ybr_full_to_rgb_u8(&pixels[0], n)


def ybr_full_to_rgb_copy(const uint8_t[::1] src, uint8_t[::1] out):
    """YBR_FULL triples of `src` converted to RGB into `out` (same size, not
    overlapping): one pass instead of a copy and a conversion."""
    cdef uint64_t n = out.shape[0] // 3
    if <uint64_t>src.shape[0] < 3 * n:
        raise ValueError("ybr_full_to_rgb_copy: the source is shorter than the output")
    with nogil:
        if n:
            c.rd_ybr_full_to_rgb_u8_copy(&src[0], &out[0], n)


def frame_table(const uint8_t[::1] data, const uint64_t[::1] item_offsets,
                const uint64_t[::1] item_lengths, object eot, uint64_t nframes):
    """Frames of encapsulated Pixel Data as a list of (first, count) fragment
    runs (item numbers, the Basic Offset Table being item 0), and flags."""
    cdef rd_frame_span *spans
    cdef rd_error err
    cdef rd_status status
    cdef uint32_t flags = 0
    cdef const uint8_t[::1] eot_view
    cdef const uint8_t *eot_ptr = NULL
    cdef uint64_t eot_len = 0
    cdef uint32_t nitems = item_offsets.shape[0]
    if eot is not None and len(eot):
        eot_view = eot
        eot_ptr = &eot_view[0]
        eot_len = eot_view.shape[0]
    if nframes > (<uint64_t>1 << 32):
        raise _errors.LimitExceededError("Number of Frames %d is too large" % nframes)
    spans = <rd_frame_span *>malloc((nframes if nframes else 1) * sizeof(rd_frame_span))
    if spans == NULL:
        raise MemoryError()
    try:
        with nogil:
            status = c.rd_encaps_frame_table(&data[0], &item_offsets[0] if nitems else NULL,
                                             &item_lengths[0] if nitems else NULL, nitems,
                                             eot_ptr, eot_len, nframes, spans, &flags, &err)
        if status != c.RD_OK:
            raise _error(&err, "frame table")
        return [(spans[i].first, spans[i].count) for i in range(nframes)], flags
    finally:
        free(spans)


# ---------------------------------------------------------------------------
# Codecs
# ---------------------------------------------------------------------------

CODEC_JPEG = c.RD_CODEC_JPEG
CODEC_JPEG_LOSSLESS = c.RD_CODEC_JPEG_LOSSLESS
CODEC_JPEG_LS = c.RD_CODEC_JPEG_LS
CODEC_J2K = c.RD_CODEC_J2K
CODEC_JPEG12 = c.RD_CODEC_JPEG12
_CODEC_NAMES = {CODEC_JPEG: "JPEG", CODEC_JPEG_LOSSLESS: "JPEG lossless",
                CODEC_JPEG_LS: "JPEG-LS", CODEC_J2K: "JPEG 2000",
                CODEC_JPEG12: "12-bit JPEG"}


def codec_available(int codec):
    """True when this build has the decoder."""
    return c.rd_codec_decoder(<c.rd_codec_id>codec) != NULL


def codec_frame(int codec, const uint8_t[::1] src, tuple desc, bint keep_ybr,
                uint32_t threads, uint8_t[::1] out, int frame,
                uint64_t max_pixels=c.RD_DEFAULT_MAX_PIXELS,
                uint32_t max_scans=c.RD_DEFAULT_MAX_JPEG_SCANS,
                uint32_t max_tiles=c.RD_DEFAULT_MAX_J2K_TILES):
    """Decode one compressed frame into `out` with the codec's C module,
    without the GIL.  The limits are rapidicom.Limits' max_frame_pixels,
    max_jpeg_scans and max_j2k_tiles."""
    cdef rd_frame_desc d = _desc(desc)
    cdef rd_codec_options opt
    cdef rd_error err
    cdef rd_status status
    cdef c.rd_codec_fn fn = c.rd_codec_decoder(<c.rd_codec_id>codec)
    cdef const uint8_t *sp = &src[0] if src.shape[0] else <const uint8_t *>b""
    cdef uint8_t *dp = &out[0] if out.shape[0] else NULL
    if fn == NULL:
        raise _errors.UnsupportedError("this build has no %s decoder" % _CODEC_NAMES[codec],
                                       tag=0x7FE00010)
    opt.size = sizeof(rd_codec_options)
    opt.flags = c.RD_CODEC_KEEP_YBR if keep_ybr else 0
    opt.threads = threads
    opt.max_pixels = max_pixels
    opt.max_scans = max_scans
    opt.max_tiles = max_tiles
    with nogil:
        status = fn(sp, src.shape[0], &d, &opt, dp, out.shape[0], &err)
    if status != c.RD_OK:
        raise _error(&err, "%s frame %d" % (_CODEC_NAMES[codec], frame))
