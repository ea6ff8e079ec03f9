# Mirror of src/core/rapidicom.h, nothing else.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "rapidicom.h" nogil:
    ctypedef enum rd_status:
        RD_OK
        RD_ERR_TRUNCATED
        RD_ERR_INVALID
        RD_ERR_LIMIT
        RD_ERR_NOMEM
        RD_ERR_UNSUPPORTED
        RD_ERR_DECODE
        RD_ERR_NOT_DICOM

    enum: RD_ERROR_MSG_SIZE
    enum: RD_NO_TAG

    ctypedef struct rd_error:
        rd_status code
        uint64_t offset
        uint32_t tag
        char msg[256]
        char path[256]

    # The RD_DEFAULT_* limits: integer expressions of the header, so typed.
    const uint32_t RD_DEFAULT_MAX_DEPTH
    const uint32_t RD_DEFAULT_MAX_ELEMENTS
    const uint64_t RD_DEFAULT_MAX_INFLATED
    const uint64_t RD_DEFAULT_MAX_FRAMES
    const uint64_t RD_DEFAULT_MAX_PIXELS
    const uint64_t RD_DEFAULT_MAX_DECODED_BYTES
    const uint32_t RD_DEFAULT_MAX_JPEG_SCANS
    const uint32_t RD_DEFAULT_MAX_J2K_TILES

    enum: RD_SCAN_LENIENT

    ctypedef struct rd_scan_options:
        size_t size
        uint32_t flags
        uint32_t max_depth
        uint32_t max_elements
        uint64_t max_inflated

    void rd_scan_options_default(rd_scan_options *options)

    enum: RD_REC_UNDEFINED_LENGTH
    enum: RD_REC_IMPLICIT_VR
    enum: RD_REC_BIG_ENDIAN
    enum: RD_REC_ITEM
    enum: RD_REC_FRAGMENT
    enum: RD_REC_SEQUENCE
    enum: RD_REC_ENCAPSULATED
    enum: RD_REC_META
    enum: RD_REC_VR_SWITCHED
    enum: RD_NONE

    ctypedef struct rd_record:
        uint64_t offset
        uint64_t value_offset
        uint64_t length
        uint32_t tag
        uint32_t end
        uint32_t parent
        uint32_t child_start
        uint32_t child_count
        char vr[2]
        uint16_t flags

    enum: RD_IDX_HAS_PREAMBLE
    enum: RD_IDX_IMPLICIT_VR
    enum: RD_IDX_BIG_ENDIAN
    enum: RD_IDX_DEFLATED
    enum: RD_IDX_VR_SWITCHED
    enum: RD_IDX_TRUNCATED
    enum: RD_IDX_TRAILING_BYTES

    ctypedef struct rd_index:
        rd_record *records
        uint32_t count
        uint32_t capacity
        uint32_t *children
        uint32_t *sorted
        uint32_t children_count
        uint32_t root_start
        uint32_t root_count
        uint32_t meta_start
        uint32_t meta_count
        const uint8_t *data
        uint64_t size
        uint8_t *inflated
        uint64_t dataset_offset
        uint32_t flags
        char transfer_syntax[68]

    rd_status rd_scan_file(const uint8_t *buf, uint64_t len, const rd_scan_options *options,
                           rd_index **out, rd_error *err)
    rd_status rd_scan_sequence(const uint8_t *buf, uint64_t len, uint64_t offset,
                               uint64_t length, int implicit_vr, int little_endian,
                               const rd_scan_options *options, rd_index **out, rd_error *err)
    void rd_index_free(rd_index *index)

    enum: RD_ROOT
    enum: RD_META
    uint32_t rd_index_find(const rd_index *index, uint32_t container, uint32_t tag)

    ctypedef struct rd_dict_entry:
        uint32_t tag
        uint32_t mask
        const char *vr
        const char *vm
        const char *keyword
        const char *name
        int retired

    const rd_dict_entry *rd_dict_find(uint32_t tag)
    const rd_dict_entry *rd_dict_find_keyword(const char *keyword, size_t len)
    size_t rd_dict_count()
    const rd_dict_entry *rd_dict_at(size_t i)
    const char *rd_private_dict_vr(const char *creator, size_t creator_len, uint32_t tag)

    # -- pixel data ----------------------------------------------------------
    ctypedef enum rd_photometric:
        RD_PI_UNKNOWN
        RD_PI_MONOCHROME1
        RD_PI_MONOCHROME2
        RD_PI_PALETTE_COLOR
        RD_PI_RGB
        RD_PI_YBR_FULL
        RD_PI_YBR_FULL_422
        RD_PI_YBR_ICT
        RD_PI_YBR_RCT
        RD_PI_YBR_PARTIAL_420

    ctypedef struct rd_frame_desc:
        uint32_t rows
        uint32_t columns
        uint32_t samples_per_pixel
        uint32_t bits_allocated
        uint32_t bits_stored
        uint32_t pixel_representation
        uint32_t planar_configuration
        uint32_t photometric

    uint64_t rd_frame_size(const rd_frame_desc *desc)
    rd_status rd_rle_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                                  uint8_t *dst, uint64_t dst_cap, rd_error *err)
    void rd_ybr_full_to_rgb_u8(uint8_t *pixels, uint64_t count)
    void rd_ybr_full_to_rgb_u8_copy(const uint8_t *src, uint8_t *dst, uint64_t count)

    ctypedef struct rd_frame_span:
        uint32_t first
        uint32_t count

    enum: RD_FT_EXTENDED_TABLE
    enum: RD_FT_BASIC_TABLE
    enum: RD_FT_TABLE_IGNORED
    enum: RD_FT_FEWER_FRAMES

    rd_status rd_encaps_frame_table(const uint8_t *data, const uint64_t *item_offsets,
                                    const uint64_t *item_lengths, uint32_t nitems,
                                    const uint8_t *eot, uint64_t eot_len, uint64_t nframes,
                                    rd_frame_span *out, uint32_t *flags, rd_error *err)

    enum: RD_NATIVE_BIG_ENDIAN
    enum: RD_NATIVE_SWAP_WORDS
    enum: RD_NATIVE_FIX_BITS

    ctypedef struct rd_native_layout:
        uint64_t bit_offset
        uint32_t flags

    rd_status rd_native_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                              const rd_native_layout *layout, uint8_t *dst, uint64_t dst_cap,
                              rd_error *err)
    uint64_t rd_native_frame_bytes(const rd_frame_desc *desc)
    int rd_native_bits_clean(const uint8_t *src, uint64_t count, const rd_frame_desc *desc)
    void rd_fix_unused_bits(uint8_t *samples, uint64_t count, const rd_frame_desc *desc)
    rd_status rd_deflate_decode_frame(const uint8_t *src, uint64_t src_len, uint8_t *dst,
                                      uint64_t expected, rd_error *err)

    # -- codecs --------------------------------------------------------------
    enum: RD_CODEC_KEEP_YBR

    ctypedef struct rd_codec_options:
        size_t size
        uint32_t flags
        uint32_t threads
        uint64_t max_pixels
        uint32_t max_scans
        uint32_t max_tiles

    rd_status rd_jpeg_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                                   const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                                   rd_error *err)
    rd_status rd_jpeg_lossless_decode_frame(const uint8_t *src, uint64_t src_len,
                                            const rd_frame_desc *desc,
                                            const rd_codec_options *options, uint8_t *dst,
                                            uint64_t dst_cap, rd_error *err)
    rd_status rd_jls_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                                  const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                                  rd_error *err)
    rd_status rd_j2k_decode_frame(const uint8_t *src, uint64_t src_len, const rd_frame_desc *desc,
                                  const rd_codec_options *options, uint8_t *dst, uint64_t dst_cap,
                                  rd_error *err)

    ctypedef enum rd_codec_id:
        RD_CODEC_JPEG
        RD_CODEC_JPEG_LOSSLESS
        RD_CODEC_JPEG_LS
        RD_CODEC_J2K
        RD_CODEC_JPEG12

    ctypedef rd_status (*rd_codec_fn)(const uint8_t *src, uint64_t src_len,
                                      const rd_frame_desc *desc, const rd_codec_options *options,
                                      uint8_t *dst, uint64_t dst_cap, rd_error *err)
    rd_codec_fn rd_codec_decoder(rd_codec_id codec)
