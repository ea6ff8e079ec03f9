/*
 * rapidicom.h - the public C interface of the rapidicom core.
 *
 * The core reads DICOM Part 10 data from a caller-owned buffer and describes
 * it as a flat element index of offsets.  It never copies values, never calls
 * back into Python, keeps no global mutable state and owns no threads: every
 * function here is reentrant, and different threads may use different
 * handles concurrently.  A single handle is not safe to use from several
 * threads at once unless its documentation says so.
 *
 * Every fallible function returns an rd_status (RD_OK == 0) and fills the
 * caller-owned rd_error with the byte offset, the tag and a message.
 */
#ifndef RAPIDICOM_H
#define RAPIDICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Status and errors                                                          */
/* ------------------------------------------------------------------------- */

typedef enum rd_status {
    RD_OK = 0,
    RD_ERR_TRUNCATED = 1,   /* a header or value runs past the end of the buffer */
    RD_ERR_INVALID = 2,     /* structurally invalid data (bad delimiter, bad length) */
    RD_ERR_LIMIT = 3,       /* a configured limit (depth, element count) was exceeded */
    RD_ERR_NOMEM = 4,       /* an allocation failed */
    RD_ERR_UNSUPPORTED = 5, /* valid DICOM that this build cannot handle */
    RD_ERR_DECODE = 6,      /* compressed data (deflate, codecs) is corrupt */
    RD_ERR_NOT_DICOM = 7    /* the buffer does not look like DICOM at all */
} rd_status;

#define RD_ERROR_MSG_SIZE 256
#define RD_NO_TAG 0xFFFFFFFFu

/* Filled by a failing call.  Plain data: copy it freely. */
typedef struct rd_error {
    rd_status code;
    uint64_t offset;                 /* byte offset in the scanned buffer */
    uint32_t tag;                    /* tag being read, or RD_NO_TAG */
    char msg[RD_ERROR_MSG_SIZE];     /* NUL-terminated, human readable */
    char path[RD_ERROR_MSG_SIZE];    /* enclosing elements, e.g. "(0040,0275)[2]."; may be "" */
} rd_error;

/* ------------------------------------------------------------------------- */
/* Resource limits: the one table of defaults                                 */
/* ------------------------------------------------------------------------- */

/*
 * Every resource limit of the engine, with its default.  The defaults open
 * every real file seen so far (multi-frame images beyond 2 GiB included) and
 * refuse input whose headers alone would make us allocate or loop without
 * bound.  Each is raised per call through rd_scan_options or
 * rd_codec_options; the Python layer reads this table for rapidicom.Limits
 * (docs/LIMITS.md lists them with their Python names).  Structural rules
 * (a value never longer than the bytes left in its container) are not
 * limits and cannot be turned off.  The core allocates neither frame tables
 * nor decode outputs, so MAX_FRAMES and MAX_DECODED_BYTES bound what a
 * caller allocates for them (the Python pixel engine checks both first).
 */
#define RD_DEFAULT_MAX_DEPTH 64u                          /* sequence nesting */
#define RD_DEFAULT_MAX_ELEMENTS 50000000u                 /* records in one index */
#define RD_DEFAULT_MAX_INFLATED ((uint64_t)4 << 30)       /* inflated deflated dataset */
#define RD_DEFAULT_MAX_FRAMES ((uint64_t)1 << 22)         /* Number of Frames */
#define RD_DEFAULT_MAX_PIXELS ((uint64_t)1 << 31)         /* rows x columns of a frame */
#define RD_DEFAULT_MAX_DECODED_BYTES ((uint64_t)16 << 30) /* one decode call's output */
#define RD_DEFAULT_MAX_JPEG_SCANS 1000u                   /* scans of one JPEG frame */
#define RD_DEFAULT_MAX_J2K_TILES 4096u                    /* small tiles of one J2K frame */

/* ------------------------------------------------------------------------- */
/* Scan options                                                               */
/* ------------------------------------------------------------------------- */

/* rd_scan_options.flags */
#define RD_SCAN_LENIENT 0x0001u /* clamp values that run past the end instead of failing */

/*
 * Options and resource limits of a scan.  `size` must be
 * sizeof(rd_scan_options) so the struct can grow without breaking callers.
 * rd_scan_options_default() fills the RD_DEFAULT_* limits above.  A limit
 * that is hit gives RD_ERR_LIMIT with "(limit <field>)" in the message.
 */
typedef struct rd_scan_options {
    size_t size;
    uint32_t flags;              /* RD_SCAN_* */
    uint32_t max_depth;          /* sequence nesting depth (RD_DEFAULT_MAX_DEPTH) */
    uint32_t max_elements;       /* records in one index (RD_DEFAULT_MAX_ELEMENTS) */
    uint64_t max_inflated;       /* bytes a deflated dataset may inflate to
                                    (RD_DEFAULT_MAX_INFLATED) */
} rd_scan_options;

void
rd_scan_options_default(rd_scan_options *options);

/* ------------------------------------------------------------------------- */
/* Element index                                                              */
/* ------------------------------------------------------------------------- */

/* rd_record.flags */
#define RD_REC_UNDEFINED_LENGTH 0x0001u /* written with length 0xFFFFFFFF */
#define RD_REC_IMPLICIT_VR      0x0002u /* encoded in implicit VR (vr is "\0\0") */
#define RD_REC_BIG_ENDIAN       0x0004u /* value bytes are big endian */
#define RD_REC_ITEM             0x0008u /* an item (FFFE,E000) of a sequence */
#define RD_REC_FRAGMENT         0x0010u /* an item of encapsulated pixel data */
#define RD_REC_SEQUENCE         0x0020u /* value was parsed as a sequence of items */
#define RD_REC_ENCAPSULATED     0x0040u /* undefined-length value holding fragments */
#define RD_REC_META             0x0080u /* part of the File Meta Information */
#define RD_REC_VR_SWITCHED      0x0100u /* implicit VR found where explicit was announced */

#define RD_NONE 0xFFFFFFFFu

/*
 * One element, item or fragment.  Records are stored in file order
 * (depth-first), so the descendants of record i are exactly the records
 * i+1 .. end-1.  Containers (sequences, items, encapsulated values) list
 * their direct children in rd_index.children[child_start .. +child_count)
 * in file order, and in rd_index.sorted[same range] stably sorted by tag.
 * The dataset's and the File Meta's lists are given by root_* and meta_*.
 */
typedef struct rd_record {
    uint64_t offset;        /* offset of the element's first tag byte */
    uint64_t value_offset;  /* offset of the first value byte */
    uint64_t length;        /* value bytes; for undefined length, up to the delimiter */
    uint32_t tag;           /* (group << 16) | element */
    uint32_t end;           /* one past the last descendant record */
    uint32_t parent;        /* index of the enclosing record, RD_NONE at top level */
    uint32_t child_start;   /* items/sequences: first entry in rd_index.children */
    uint32_t child_count;   /* number of direct children */
    char vr[2];             /* VR as written; {0,0} when implicit */
    uint16_t flags;         /* RD_REC_* */
} rd_record;

/* rd_index.flags */
#define RD_IDX_HAS_PREAMBLE   0x0001u /* 128-byte preamble + "DICM" present */
#define RD_IDX_IMPLICIT_VR    0x0002u /* the dataset is implicit VR */
#define RD_IDX_BIG_ENDIAN     0x0004u /* the dataset is big endian */
#define RD_IDX_DEFLATED       0x0008u /* the dataset was inflated into `inflated` */
#define RD_IDX_VR_SWITCHED    0x0010u /* some elements needed a VR-encoding fallback */
#define RD_IDX_TRUNCATED      0x0020u /* lenient scan clamped a value at the end */
#define RD_IDX_TRAILING_BYTES 0x0040u /* fewer than 8 stray bytes after the last element */

/*
 * The result of a scan.  Allocated by the scan functions and released with
 * rd_index_free().  All offsets refer to `data`: the caller's buffer, or, for
 * a deflated dataset, the index's own buffer holding the meta bytes followed
 * by the inflated dataset (`inflated` is then non-NULL and owned here).
 */
typedef struct rd_index {
    rd_record *records;
    uint32_t count;
    uint32_t capacity;
    uint32_t *children;       /* child lists of all containers, file order */
    uint32_t *sorted;         /* the same lists, each stably sorted by tag */
    uint32_t children_count;
    uint32_t root_start;      /* root's child list in `children` */
    uint32_t root_count;
    uint32_t meta_start;      /* File Meta Information's list in `children` */
    uint32_t meta_count;
    const uint8_t *data;      /* buffer the offsets refer to */
    uint64_t size;            /* its size */
    uint8_t *inflated;        /* owned copy for deflated data, else NULL */
    uint64_t dataset_offset;  /* where the main dataset starts */
    uint32_t flags;           /* RD_IDX_* */
    char transfer_syntax[68]; /* from (0002,0010), NUL-terminated, trailing pad removed */
} rd_index;

/*
 * Scan a whole Part 10 file (or a bare dataset without preamble and meta).
 * `buf` must stay valid and unchanged for as long as the index is used,
 * unless the index was inflated (then it holds its own copy).  `options`
 * may be NULL for the defaults.  On success *out receives a new index; on failure
 * *out is NULL and err is filled.
 */
rd_status
rd_scan_file(const uint8_t *buf, uint64_t len, const rd_scan_options *options,
             rd_index **out, rd_error *err);

/*
 * Scan `length` bytes at `offset` of `buf` as the value of a sequence
 * (items, possibly of undefined length).  Used for values whose VR is only
 * known to be SQ after the scan (private sequences, UN holding a sequence).
 * The resulting index's root children are the items.
 */
rd_status
rd_scan_sequence(const uint8_t *buf, uint64_t len, uint64_t offset,
                 uint64_t length, int implicit_vr, int little_endian,
                 const rd_scan_options *options, rd_index **out, rd_error *err);

/* Release an index.  NULL is allowed. */
void
rd_index_free(rd_index *index);

/* Container ids of the two top-level lists for rd_index_find(). */
#define RD_ROOT RD_NONE
#define RD_META 0xFFFFFFFEu

/*
 * Find `tag` among the direct children of a container: `container` is a
 * record index, RD_ROOT for the dataset or RD_META for the File Meta.  Returns the record index or
 * RD_NONE.  When a tag occurs twice, the later one wins.
 */
uint32_t
rd_index_find(const rd_index *index, uint32_t container, uint32_t tag);

/* ------------------------------------------------------------------------- */
/* Data dictionary (PS3.6, generated from vendor/ data)                        */
/* ------------------------------------------------------------------------- */

typedef struct rd_dict_entry {
    uint32_t tag;         /* the tag; for repeating groups, with the 'x' digits zero */
    uint32_t mask;        /* bits of a tag that must equal `tag`; 0xFFFFFFFF when exact */
    const char *vr;       /* "US", or an ambiguous form such as "US or SS" */
    const char *vm;       /* "1", "1-n", "2-2n", ... */
    const char *keyword;  /* "" for entries without a keyword */
    const char *name;
    int retired;
} rd_dict_entry;

/*
 * Look a tag up: exact entries first, then the repeating-group entries.
 * Returns NULL when the tag is unknown.  The entries are static constants.
 */
const rd_dict_entry *
rd_dict_find(uint32_t tag);

/* Look an exact-entry keyword up (case-sensitive).  NULL when unknown. */
const rd_dict_entry *
rd_dict_find_keyword(const char *keyword, size_t len);

/* Number of exact entries, and entry i of them (for building tables). */
size_t
rd_dict_count(void);
const rd_dict_entry *
rd_dict_at(size_t i);

/*
 * VR of a private tag, given the value of its Private Creator element.
 * Returns a static string ("LO", "US or SS", ...) or NULL when unknown.
 */
const char *
rd_private_dict_vr(const char *creator, size_t creator_len, uint32_t tag);

/* ------------------------------------------------------------------------- */
/* Pixel data: the description every decoder shares                           */
/* ------------------------------------------------------------------------- */

/* rd_frame_desc.photometric */
typedef enum rd_photometric {
    RD_PI_UNKNOWN = 0,
    RD_PI_MONOCHROME1,
    RD_PI_MONOCHROME2,
    RD_PI_PALETTE_COLOR,
    RD_PI_RGB,
    RD_PI_YBR_FULL,
    RD_PI_YBR_FULL_422,
    RD_PI_YBR_ICT,
    RD_PI_YBR_RCT,
    RD_PI_YBR_PARTIAL_420
} rd_photometric;

/*
 * One frame's layout, read once from the dataset.  Codecs see this plain
 * description, never the dataset.  Decoders write samples interleaved
 * (planar configuration 0), each in bits_allocated/8 bytes, native (little
 * endian) byte order; 1-bit data is written one byte per pixel.
 */
typedef struct rd_frame_desc {
    uint32_t rows;
    uint32_t columns;
    uint32_t samples_per_pixel;
    uint32_t bits_allocated;        /* 1, 8, 16, 32 or 64 */
    uint32_t bits_stored;
    uint32_t pixel_representation;  /* 0 unsigned, 1 two's complement */
    uint32_t planar_configuration;  /* as encoded: 0 interleaved, 1 planar */
    uint32_t photometric;           /* rd_photometric */
} rd_frame_desc;

/* Bytes of one decoded frame (samples interleaved, 1-bit data as bytes);
 * 0 when the size would overflow 64 bits. */
uint64_t
rd_frame_size(const rd_frame_desc *desc);

/*
 * RLE Lossless (PS3.5 Annex G): decode one frame's encapsulated bytes
 * (64-byte header + segments) into `dst`, which holds `dst_cap` bytes, at
 * least rd_frame_size(desc).  Segment k holds byte k of each sample (most
 * significant byte first), samples one after the other; the output is
 * interleaved and little endian.  Malformed segments give RD_ERR_DECODE with
 * the segment named in the message.  Reentrant; no allocation.
 */
rd_status
rd_rle_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    uint8_t *dst, uint64_t dst_cap, rd_error *err);

/*
 * YCbCr (YBR_FULL) to RGB in place, for `count` pixels of 3 interleaved
 * 8-bit samples, with the same arithmetic and rounding as pydicom's
 * convert_color_space (float32, ITU-R BT.601 full range).
 */
void
rd_ybr_full_to_rgb_u8(uint8_t *pixels, uint64_t count);

/*
 * The same conversion from `src` into `dst` (3 * count bytes each), so a
 * stored frame converts in the one pass that copies it.  `src` and `dst`
 * are either the same buffer or do not overlap.
 */
void
rd_ybr_full_to_rgb_u8_copy(const uint8_t *src, uint8_t *dst, uint64_t count);

/* ------------------------------------------------------------------------- */
/* Encapsulated frames and native layouts                                     */
/* ------------------------------------------------------------------------- */

/* One frame of encapsulated Pixel Data: `count` fragments from `first`
 * (fragment numbers count items, the Basic Offset Table being item 0). */
typedef struct rd_frame_span {
    uint32_t first;
    uint32_t count;   /* 0: the frame is missing from the data */
} rd_frame_span;

/* rd_encaps_frame_table() flags */
#define RD_FT_EXTENDED_TABLE 0x1u /* frames from the Extended Offset Table */
#define RD_FT_BASIC_TABLE    0x2u /* frames from the Basic Offset Table */
#define RD_FT_TABLE_IGNORED  0x4u /* an offset table was invalid; fragments walked */
#define RD_FT_FEWER_FRAMES   0x8u /* the walk found fewer frames than expected */

/*
 * Build the frame table of encapsulated Pixel Data.  `item_offsets` and
 * `item_lengths` give each item's tag offset in `data` and value length
 * (item 0 is the Basic Offset Table), as the index records them; `eot` is
 * the Extended Offset Table's value (may be NULL).  Fills `out[nframes]` and
 * `*flags`.  Reentrant; no allocation.
 */
rd_status
rd_encaps_frame_table(const uint8_t *data, const uint64_t *item_offsets,
                      const uint64_t *item_lengths, uint32_t nitems,
                      const uint8_t *eot, uint64_t eot_len, uint64_t nframes,
                      rd_frame_span *out, uint32_t *flags, rd_error *err);

/* rd_native_layout.flags */
#define RD_NATIVE_BIG_ENDIAN   0x1u /* samples stored big endian */
#define RD_NATIVE_SWAP_WORDS   0x2u /* 8-bit samples in big-endian OW: swap byte pairs */
#define RD_NATIVE_FIX_BITS     0x4u /* Bits Stored < Bits Allocated: shift the unused bits out */

/*
 * Where a native frame starts: `bit_offset` bits into `src` (non-zero only
 * for 1-bit data, whose frames need not start on a byte).
 */
typedef struct rd_native_layout {
    uint64_t bit_offset;
    uint32_t flags;          /* RD_NATIVE_* */
} rd_native_layout;

/*
 * Convert one native frame to the decoder output contract (interleaved,
 * little endian, 1-bit data one byte per pixel, YBR_FULL_422 expanded to
 * three samples per pixel, unused high bits sign-extended or cleared as the
 * Pixel Representation says).  `src` holds `src_len` bytes from the frame's
 * first byte; `dst` holds `dst_cap` bytes.  Reentrant; no allocation.
 */
rd_status
rd_native_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                const rd_native_layout *layout, uint8_t *dst, uint64_t dst_cap,
                rd_error *err);

/* Bytes one native frame occupies in the file (1-bit: rounded up; YBR_FULL_422:
 * two thirds of three samples); 0 on overflow. */
uint64_t
rd_native_frame_bytes(const rd_frame_desc *desc);

/*
 * Clear (unsigned) or sign-extend (signed) the bits above Bits Stored of
 * `count` little-endian samples in place, as pydicom's pixel_array does.
 */
void
rd_fix_unused_bits(uint8_t *samples, uint64_t count, const rd_frame_desc *desc);

/*
 * True when the frame's samples already hold what the unused-bits
 * correction would give (so a zero-copy view shows correct values).
 * `src` is little endian with bits_allocated 8, 16, 32 or 64.
 */
int
rd_native_bits_clean(const uint8_t *src, uint64_t count, const rd_frame_desc *desc);

/* ------------------------------------------------------------------------- */
/* Codecs: one entry point each, same contract as rd_rle_decode_frame()        */
/* ------------------------------------------------------------------------- */

/*
 * Every codec decodes one frame's complete codestream (`src`, `src_len`
 * bytes) into `dst` (`dst_cap` bytes, at least rd_frame_size(desc)): samples
 * interleaved, little endian, in the layout `desc` describes, with the same
 * values pydicom 3's pixel_array gives before its colour conversion (sign
 * and precision reconciled with Bits Stored / Pixel Representation the way
 * pydicom does).  A codestream whose dimensions or sample count disagree
 * with `desc` is RD_ERR_DECODE; limits are checked before any allocation.
 * Reentrant, no global state; corrupt input gives RD_ERR_DECODE with the
 * codec's own message in err->msg.
 */

/* rd_codec_options.flags */
#define RD_CODEC_KEEP_YBR 0x1u /* JPEG: return YCbCr as stored instead of RGB */

/*
 * Per-call codec options.  A caller's older, shorter struct (smaller `size`)
 * and a zero limit both mean the RD_DEFAULT_* value.  A limit that is hit
 * gives RD_ERR_LIMIT with "(limit <field>)" in the message.
 */
typedef struct rd_codec_options {
    size_t size;            /* sizeof(rd_codec_options) */
    uint32_t flags;         /* RD_CODEC_* */
    uint32_t threads;       /* codec-internal threads (openjpeg); 0 or 1: none */
    uint64_t max_pixels;    /* refuse frames of more rows x columns (RD_DEFAULT_MAX_PIXELS) */
    uint32_t max_scans;     /* JPEG: refuse more scans (RD_DEFAULT_MAX_JPEG_SCANS) */
    uint32_t max_tiles;     /* JPEG 2000: refuse more tiles unless they average 4096
                               pixels or more (RD_DEFAULT_MAX_J2K_TILES) */
} rd_codec_options;

/* JPEG baseline / extended 8-bit (libjpeg-turbo). */
rd_status
rd_jpeg_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                     const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                     rd_error *err);

/* JPEG extended, 12-bit samples (process 4, Huffman sequential DCT); our own. */
rd_status
rd_jpeg12_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                       const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                       rd_error *err);

/* JPEG lossless, process 14 (any predictor, 2-16 bits) and SV1. */
rd_status
rd_jpeg_lossless_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                              const rd_codec_options *options, uint8_t *dst,
                              uint64_t dst_cap, rd_error *err);

/* JPEG-LS lossless and near-lossless, our own decoder (jlsdec.c): every
 * stream CharLS writes except mapping tables and CharLS's colour
 * transforms, which give RD_ERR_UNSUPPORTED. */
rd_status
rd_jls_own_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                        const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                        rd_error *err);

/* JPEG-LS lossless and near-lossless (CharLS): what rd_codec_decoder
 * falls back to where rd_jls_own_decode_frame says RD_ERR_UNSUPPORTED. */
rd_status
rd_jls_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                    rd_error *err);

/* JPEG 2000 and HTJ2K (openjpeg), J2K codestream or JP2 file. */
rd_status
rd_j2k_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                    const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                    rd_error *err);

/* The decoders by family, and whether this build has them. */
typedef enum rd_codec_id {
    RD_CODEC_JPEG = 1,           /* baseline / extended 8-bit */
    RD_CODEC_JPEG_LOSSLESS = 2,  /* process 14 */
    RD_CODEC_JPEG_LS = 3,
    RD_CODEC_J2K = 4,            /* JPEG 2000 and HTJ2K */
    RD_CODEC_JPEG12 = 5          /* extended, 12-bit samples */
} rd_codec_id;

typedef rd_status (*rd_codec_fn)(const uint8_t *src, uint64_t src_len,
                                 const rd_frame_desc *desc, const rd_codec_options *options,
                                 uint8_t *dst, uint64_t dst_cap, rd_error *err);

/* The decoder for `codec`, or NULL when this build was made without it. */
rd_codec_fn
rd_codec_decoder(rd_codec_id codec);

/*
 * Deflated Image Frame Compression: inflate one frame (raw deflate) into
 * `dst`, which must receive exactly `expected` bytes (the native frame).
 */
rd_status
rd_deflate_decode_frame(const uint8_t *src, uint64_t src_len, uint8_t *dst,
                        uint64_t expected, rd_error *err);

#ifdef __cplusplus
}
#endif

#endif /* RAPIDICOM_H */
