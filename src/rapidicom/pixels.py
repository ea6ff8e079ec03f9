"""The pixel engine: a Dataset's frames as numpy arrays.

A :class:`Pixels` object reads the pixel description once (rows, columns,
samples, bits, representation, photometric interpretation, planar
configuration, number of frames, transfer syntax) and then hands out frames:

* native data: a read-only, zero-copy view of the file whenever the layout
  allows it (little endian, interleaved, and no unused bits to correct);
  otherwise one pass in C into a new array;
* encapsulated data: the frame table (Extended/Basic Offset Table or a
  fragment walk), then the codec in C, writing straight into the output.

``to_array()`` allocates its output once and decodes frames on a thread
pool; every C call runs without the GIL and keeps no state, so threads never
share anything but the read-only source.

Output contract (every decoder): samples interleaved, native byte order,
shape ``(rows, columns[, samples])`` per frame; MONOCHROME1 is kept as is;
YBR_FULL / YBR_FULL_422 8-bit data become RGB when ``as_rgb`` is true (the
default, as pydicom's ``pixel_array``).
"""
from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rapidicom import _pixels
from rapidicom.errors import (DecodeError, DicomError, InvalidDicomError,
                              LimitExceededError, UnsupportedError)

__all__ = ["Pixels", "available_decoders"]

RLE_LOSSLESS = "1.2.840.10008.1.2.5"
DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"
NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}
BIG_ENDIAN = "1.2.840.10008.1.2.2"

# Transfer syntax -> codec of the C core (see _pixels.CODEC_*).
CODECS = {
    "1.2.840.10008.1.2.4.50": _pixels.CODEC_JPEG,            # baseline 8-bit
    "1.2.840.10008.1.2.4.51": _pixels.CODEC_JPEG,            # extended (8-bit samples)
    "1.2.840.10008.1.2.4.57": _pixels.CODEC_JPEG_LOSSLESS,   # process 14
    "1.2.840.10008.1.2.4.70": _pixels.CODEC_JPEG_LOSSLESS,   # process 14, SV1
    "1.2.840.10008.1.2.4.80": _pixels.CODEC_JPEG_LS,         # lossless
    "1.2.840.10008.1.2.4.81": _pixels.CODEC_JPEG_LS,         # near-lossless
    "1.2.840.10008.1.2.4.90": _pixels.CODEC_J2K,             # lossless only
    "1.2.840.10008.1.2.4.91": _pixels.CODEC_J2K,
    "1.2.840.10008.1.2.4.201": _pixels.CODEC_J2K,            # HTJ2K lossless
    "1.2.840.10008.1.2.4.202": _pixels.CODEC_J2K,            # HTJ2K lossless RPCL
    "1.2.840.10008.1.2.4.203": _pixels.CODEC_J2K,            # HTJ2K
}
# Our own decoders write samples already cut to Bits Stored and sign-extended
# (ljpeg.c, jpeg12.c), so the unused-bits pass after them would change nothing.
_CODECS_CUT_TO_BITS_STORED = frozenset({_pixels.CODEC_JPEG_LOSSLESS, _pixels.CODEC_JPEG12})

# Below this many decoded bytes a thread pool costs more than it saves.
PARALLEL_MIN_BYTES = 1 << 20

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    """A long-lived pool per thread count: starting threads for every call
    would cost more than decoding small images.  Workers only run our
    GIL-free decode calls, never user code, so sharing cannot deadlock."""
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(
                threads, thread_name_prefix=f"rapidicom-{threads}")
        return pool


_PIXEL_TAGS = ((0x7FE00010, "PixelData"), (0x7FE00008, "FloatPixelData"),
               (0x7FE00009, "DoubleFloatPixelData"))


def available_decoders() -> dict[str, str]:
    """Transfer syntaxes this build decodes, with the decoder's name.

    .. versionadded:: 0.2.0
    """
    decoders = {uid: "native" for uid in NATIVE_SYNTAXES}
    decoders[RLE_LOSSLESS] = "rle"
    decoders[DEFLATED_FRAMES] = "deflate"
    names = {_pixels.CODEC_JPEG: "libjpeg-turbo", _pixels.CODEC_JPEG_LOSSLESS: "ljpeg",
             _pixels.CODEC_JPEG_LS: "jpegls", _pixels.CODEC_J2K: "openjpeg"}
    decoders.update({uid: names[codec] for uid, codec in CODECS.items()
                     if _pixels.codec_available(codec)})
    return decoders


def _int(ds, keyword, default=None):
    """An integer attribute of the pixel description; text that is not a
    number is an error naming the element."""
    value = ds.get(keyword, default)
    if isinstance(value, list):
        value = value[0] if value else default
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return int(value)
    except (ValueError, TypeError):  # TypeError: a binary VR in a damaged file
        element = ds.element(keyword)
        raise InvalidDicomError(f"{keyword} {value!r} is not an integer (at offset "
                                f"{element.offset})", offset=element.offset,
                                tag=element.tag) from None


def _text(ds, keyword):
    """A text attribute of the pixel description, stripped ("" when absent
    or empty); a value that is not text (a binary VR in a damaged file) is
    an error naming the element."""
    value = ds.get(keyword, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    if value is None:
        return ""
    if not isinstance(value, str):
        element = ds.element(keyword)
        raise InvalidDicomError(f"{keyword} holds {type(value).__name__}, not text (at offset "
                                f"{element.offset})", offset=element.offset, tag=element.tag)
    return value.strip()


class Pixels:
    """Frames of a Dataset's Pixel Data (or Float/Double Float Pixel Data).

    Created by ``Dataset.pixels``.  Arrays returned by :meth:`frame` may be
    read-only views of the file; they keep the file's memory alive.

    .. versionadded:: 0.2.0
    """

    def __init__(self, ds, element):
        self._ds = ds
        self._element = element
        self.keyword = element.keyword
        ts = ds.transfer_syntax
        if ts is None:  # no File Meta: the encoding found by the scanner decides
            ts = "1.2.840.10008.1.2" if ds.is_little_endian else BIG_ENDIAN
        self.transfer_syntax = ts
        self.rows = _int(ds, "Rows")
        self.columns = _int(ds, "Columns")
        self.samples_per_pixel = _int(ds, "SamplesPerPixel", 1)
        self.bits_allocated = _int(ds, "BitsAllocated")
        self.bits_stored = _int(ds, "BitsStored", self.bits_allocated)
        self.pixel_representation = _int(ds, "PixelRepresentation", 0)
        self.planar_configuration = _int(ds, "PlanarConfiguration", 0)
        self.photometric_interpretation = _text(ds, "PhotometricInterpretation")
        # Missing, empty or 0 means one frame (pydicom warns and does the same).
        self.number_of_frames = _int(ds, "NumberOfFrames", 1) or 1
        if self.keyword == "FloatPixelData":
            self.bits_allocated = self.bits_stored = 32
        elif self.keyword == "DoubleFloatPixelData":
            self.bits_allocated = self.bits_stored = 64
        self._validate()
        self.is_compressed = self.transfer_syntax not in NATIVE_SYNTAXES and bool(
            element.is_undefined_length)
        self._desc = (self.rows, self.columns, self.samples_per_pixel, self.bits_allocated,
                      self.bits_stored, self.pixel_representation,
                      self.planar_configuration,
                      _pixels.PHOTOMETRIC.get(self.photometric_interpretation, 0))
        self._spans = None
        # Codecs return YBR-labelled data as stored; the conversion to RGB is ours.
        self._keep_ybr = False
        self._codec_threads = self._default_codec_threads()
        self._length_checked = False
        self.warnings: list[str] = []
        # The Limits of the open() call (rapidicom.limits).
        self.limits = ds.limits

    # -- description -------------------------------------------------------

    def _validate(self):
        where = f"{self.keyword} of {self.rows}x{self.columns}"
        for name in ("rows", "columns", "bits_allocated"):
            if getattr(self, name) is None:
                raise InvalidDicomError(f"{where}: missing {name.replace('_', ' ').title()}",
                                        tag=0x7FE00010)
        if not (0 < self.columns < 65536 and 0 < self.rows < 65536):
            raise InvalidDicomError(f"{where}: Rows and Columns must be 1..65535",
                                    tag=0x7FE00010)
        ba = self.bits_allocated
        if ba not in (1, 8, 16, 32, 64):
            raise UnsupportedError(f"{where}: Bits Allocated {ba} is not 1, 8, 16, 32 or 64",
                                   tag=0x00280100)
        if not 1 <= self.bits_stored <= ba:
            raise InvalidDicomError(
                f"{where}: Bits Stored {self.bits_stored} is not within 1..{ba}",
                tag=0x00280101)
        if self.samples_per_pixel not in (1, 3, 4) and not 1 <= self.samples_per_pixel <= 4:
            raise InvalidDicomError(f"{where}: Samples per Pixel {self.samples_per_pixel}",
                                    tag=0x00280002)
        if self.number_of_frames < 1:
            raise InvalidDicomError(f"{where}: Number of Frames {self.number_of_frames}",
                                    tag=0x00280008)

    def _default_codec_threads(self) -> int:
        """Threads inside one frame (openjpeg): all cores for frames of 1 MiB
        or more; small frames decode faster without a pool."""
        size = self.rows * self.columns * self.samples_per_pixel * max(1, self.bits_allocated // 8)
        return (os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES else 1

    @property
    def dtype(self) -> np.dtype:
        """The dtype of decoded samples (native byte order)."""
        if self.keyword == "FloatPixelData":
            return np.dtype(np.float32)
        if self.keyword == "DoubleFloatPixelData":
            return np.dtype(np.float64)
        size = 1 if self.bits_allocated == 1 else self.bits_allocated // 8
        kind = "i" if self.pixel_representation else "u"
        if self.bits_allocated == 1:
            kind = "u"
        return np.dtype(f"{kind}{size}")

    @property
    def frame_shape(self) -> tuple[int, ...]:
        if self.samples_per_pixel > 1:
            return (self.rows, self.columns, self.samples_per_pixel)
        return (self.rows, self.columns)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :meth:`to_array`'s result: (frames, rows, columns[, samples])."""
        return (self.number_of_frames,) + self.frame_shape

    def __repr__(self):
        return (f"<rapidicom.Pixels {self.number_of_frames} frame(s) of {self.frame_shape} "
                f"{self.dtype} {self.photometric_interpretation}"
                f"{' compressed' if self.is_compressed else ''}>")

    # -- frames --------------------------------------------------------------

    def _converts_to_rgb(self, as_rgb: bool) -> bool:
        return (as_rgb and self.photometric_interpretation in ("YBR_FULL", "YBR_FULL_422")
                and self.bits_allocated == 8 and self.samples_per_pixel == 3)

    def frame(self, index: int, *, as_rgb: bool = True, zero_copy_only: bool = False,
              out: np.ndarray | None = None) -> np.ndarray:
        """Frame `index` as an array of shape (rows, columns[, samples]).

        Native data comes back as a read-only view of the file when the
        layout allows; ``zero_copy_only=True`` raises instead of copying.
        Decodes only this frame's bytes.
        """
        if not -self.number_of_frames <= index < self.number_of_frames:
            raise IndexError(f"frame {index} out of range ({self.number_of_frames} frames)")
        index %= self.number_of_frames
        self._check_limits()
        if out is None:
            view = self._native_view(index) if not self.is_compressed else None
            if view is not None and not self._converts_to_rgb(as_rgb):
                return view
            if zero_copy_only:
                raise InvalidDicomError(
                    f"frame {index} cannot be a zero-copy view: {self._copy_reason(as_rgb)}")
            self._check_output_size(1)
            out = np.empty(self.frame_shape, self.dtype)
        else:
            _check_out(out, self.frame_shape, self.dtype)
        self._decode_into(index, out, as_rgb)
        return out

    def to_array(self, threads: int | None = None, out: np.ndarray | None = None, *,
                 as_rgb: bool = True) -> np.ndarray:
        """All frames as one array of shape (frames, rows, columns[, samples]).

        The output is allocated once (or `out` is filled).  Compressed frames
        decode on `threads` threads (default: the machine's CPU count, or 1
        for images under 1 MiB) with the GIL released.  Native data that allows it is returned as one
        read-only view of the file.

        Raises
        ------
        DecodeError
            When frames fail: ``.failed_frames`` lists them and ``.array``
            holds the output with every other frame decoded.
        """
        n = self.number_of_frames
        self._check_limits()
        if out is None and not self.is_compressed and not self._converts_to_rgb(as_rgb):
            whole = self._native_view(None)
            if whole is not None:
                return whole
        if out is None:
            self._check_output_size(n)
            out = np.empty(self.shape, self.dtype)
        else:
            _check_out(out, self.shape, self.dtype)
        if threads is None:
            small = out.nbytes < PARALLEL_MIN_BYTES
            threads = 1 if small else os.cpu_count() or 1
        threads = max(1, int(threads))
        if not self.is_compressed:
            threads = 1  # memory-bound copies: one pass is fastest
        errors: dict[int, Exception] = {}

        def work(i):
            try:
                self._decode_into(i, out[i], as_rgb)
            except DicomError as exc:
                errors[i] = exc

        if threads == 1 or n == 1:
            for i in range(n):
                work(i)
        else:
            self._codec_threads = 1
            self._frame_spans()  # build the table once, before the workers start
            try:
                list(_pool(min(threads, n)).map(work, range(n)))
            finally:
                self._codec_threads = self._default_codec_threads()
        if errors:
            failed = sorted(errors)
            first = errors[failed[0]]
            if n == 1:
                raise first
            exc = DecodeError(
                f"{len(failed)} of {n} frames could not be decoded (frames "
                f"{failed[:10]}{'...' if len(failed) > 10 else ''}); the others are in "
                f".array.  First error: {first}", offset=first.offset, tag=0x7FE00010)
            exc.failed_frames = failed
            exc.array = out
            raise exc from first
        return out

    # -- limits ----------------------------------------------------------------

    def _check_limits(self):
        """Refuse a description beyond the Limits before any table or
        output is built for it."""
        limits = self.limits
        if self.number_of_frames > limits.max_frames:
            raise LimitExceededError(
                f"Number of Frames {self.number_of_frames} exceeds the limit of "
                f"{limits.max_frames}", limit="max_frames", tag=0x00280008)
        pixels = self.rows * self.columns
        if pixels > limits.max_frame_pixels:
            raise LimitExceededError(
                f"frame of {self.rows} x {self.columns} = {pixels} pixels exceeds the "
                f"limit of {limits.max_frame_pixels}", limit="max_frame_pixels",
                tag=0x7FE00010)

    def _check_output_size(self, frames: int):
        """Refuse, before allocating it, an output of `frames` frames larger
        than Limits.max_decoded_bytes."""
        frame_bytes = self.dtype.itemsize
        for size in self.frame_shape:
            frame_bytes *= size
        nbytes = frames * frame_bytes
        if nbytes > self.limits.max_decoded_bytes:
            raise LimitExceededError(
                f"decoding {frames} frame(s) of {self.frame_shape} {self.dtype} needs "
                f"{nbytes} bytes, more than the limit of {self.limits.max_decoded_bytes}",
                limit="max_decoded_bytes", tag=0x7FE00010)

    def __iter__(self):
        for i in range(self.number_of_frames):
            yield self.frame(i)

    def __len__(self):
        return self.number_of_frames

    # -- native --------------------------------------------------------------

    def _native_flags(self) -> int:
        flags = 0
        if self.transfer_syntax == BIG_ENDIAN:
            flags |= _pixels.NATIVE_BIG_ENDIAN
            if self.bits_allocated == 8 and self._element.vr == "OW" \
                    and self.keyword == "PixelData":
                flags |= _pixels.NATIVE_SWAP_WORDS
        if self.keyword == "PixelData" and self.bits_stored < self.bits_allocated:
            flags |= _pixels.NATIVE_FIX_BITS
        return flags

    def _native_frame_bytes(self) -> int:
        return _pixels.native_frame_bytes(self._desc)

    def _check_native_length(self):
        """The Pixel Data value must hold every frame; more is tolerated (with
        a warning) except where it shows a wrong YBR_FULL_422, as in pydicom."""
        if self._length_checked:
            return
        need = self._native_frame_bytes() * self.number_of_frames
        if self.bits_allocated == 1:
            bits = self.rows * self.columns * self.samples_per_pixel * self.number_of_frames
            need = bits // 8 + (bits % 8 != 0)
        have = self._element.length
        where = dict(offset=self._element.offset, tag=self._element.tag)
        if have < need:
            raise InvalidDicomError(
                f"{self.keyword} holds {have} bytes, {self.number_of_frames} frame(s) of "
                f"{self.frame_shape} need {need} (at offset {self._element.offset})", **where)
        if have > need + need % 2:
            if self.photometric_interpretation == "YBR_FULL_422" and \
                    have >= need // 2 * 3:
                raise InvalidDicomError(
                    f"{self.keyword} holds {have} bytes, a third more than YBR_FULL_422 "
                    f"needs ({need}): the Photometric Interpretation is likely wrong",
                    **where)
            self._warn(f"{self.keyword} has {have - need} bytes after the last frame; "
                       "they are ignored")
        self._length_checked = True

    def _warn(self, message):
        self.warnings.append(message)
        warnings.warn(message, UserWarning, stacklevel=4)

    def _copy_reason(self, as_rgb) -> str:
        if self.is_compressed:
            return "the data is compressed"
        if self._converts_to_rgb(as_rgb):
            return "YBR is converted to RGB (pass as_rgb=False to keep YBR)"
        flags = self._native_flags()
        if flags & (_pixels.NATIVE_BIG_ENDIAN | _pixels.NATIVE_SWAP_WORDS) \
                and self.bits_allocated > 1:
            return "the data is big endian"
        if self.bits_allocated == 1:
            return "1-bit data is unpacked to one byte per pixel"
        if self.photometric_interpretation == "YBR_FULL_422":
            return "YBR_FULL_422 data is expanded to three samples per pixel"
        if self.samples_per_pixel > 1 and self.planar_configuration == 1:
            return "planar data is interleaved"
        return "unused high bits hold values that must be corrected"

    def _native_view(self, index: int | None):
        """A read-only view of frame `index` (all frames for None), or None."""
        flags = self._native_flags()
        if self.bits_allocated == 1 or self.photometric_interpretation == "YBR_FULL_422":
            return None
        if flags & (_pixels.NATIVE_BIG_ENDIAN | _pixels.NATIVE_SWAP_WORDS) \
                and self.bits_allocated > 8:
            return None
        if flags & _pixels.NATIVE_SWAP_WORDS:
            return None
        if self.samples_per_pixel > 1 and self.planar_configuration == 1:
            return None
        self._check_native_length()
        frame_bytes = self._native_frame_bytes()
        count = (frame_bytes // self.dtype.itemsize)
        start = self._element.value_offset
        nframes = 1
        if index is None:
            nframes = self.number_of_frames
        else:
            start += index * frame_bytes
        buffer = self._ds.buffer
        arr = np.frombuffer(buffer, dtype=self.dtype.newbyteorder("<"),
                            count=count * nframes, offset=start)
        if flags & _pixels.NATIVE_FIX_BITS:
            raw = np.frombuffer(buffer, dtype=np.uint8, count=frame_bytes * nframes,
                                offset=start)
            if not _pixels.bits_clean(raw, self._desc, count * nframes):
                return None
        shape = self.frame_shape if index is not None else self.shape
        return arr.reshape(shape)

    # -- decoding --------------------------------------------------------------

    def _decode_into(self, index: int, out: np.ndarray, as_rgb: bool):
        flat = out.reshape(-1).view(np.uint8)
        converts = self._converts_to_rgb(as_rgb)
        if self.is_compressed:
            self._decode_encapsulated(index, flat)
        elif converts and self._stored_as_ybr_triples():
            # Stored YBR_FULL triples: converted in the pass that copies them.
            self._check_native_length()
            size = self._native_frame_bytes()
            _pixels.ybr_full_to_rgb_copy(self._element.raw[index * size:(index + 1) * size],
                                         flat)
            return
        else:
            self._decode_native(index, flat)
        if converts:
            _pixels.ybr_full_to_rgb(flat)

    def _stored_as_ybr_triples(self) -> bool:
        """Native YBR_FULL stored as interleaved 8-bit triples that need no
        other change (not 4:2:2, not planar, no byte swapping or masking)."""
        return (self.photometric_interpretation == "YBR_FULL"
                and self.planar_configuration == 0 and self._native_flags() == 0)

    def _decode_native(self, index: int, flat: np.ndarray):
        self._check_native_length()
        value = self._element.raw
        if self.bits_allocated == 1:
            bit_offset = index * self.rows * self.columns * self.samples_per_pixel
        else:
            bit_offset = index * self._native_frame_bytes() * 8
        _pixels.native_frame(value, self._desc, bit_offset, self._native_flags(), flat, index)

    def _frame_spans(self):
        if self._spans is None:
            fragments = self._element.fragments
            offsets = np.array([o - 8 for o, _ in fragments], dtype=np.uint64)
            lengths = np.array([n for _, n in fragments], dtype=np.uint64)
            eot = self._ds.get(0x7FE00001) if 0x7FE00002 in self._ds else None
            spans, flags = _pixels.frame_table(self._ds.buffer, offsets, lengths, eot,
                                               self.number_of_frames)
            if flags & _pixels.TABLE_IGNORED:
                self._warn("the offset table is invalid; frames were found by walking "
                           "the fragments")
            if flags & _pixels.TABLE_FEWER_FRAMES:
                self._warn("fewer frames were found than Number of Frames says")
            self._spans = (spans, fragments)
        return self._spans

    def _frame_bytes(self, index: int):
        spans, fragments = self._frame_spans()
        first, count = spans[index]
        if count == 0:
            raise DecodeError(f"frame {index} is missing from the encapsulated data",
                              tag=0x7FE00010)
        buffer = self._ds.buffer
        if count == 1:
            offset, length = fragments[first]
            return buffer[offset:offset + length]
        return b"".join(buffer[o:o + n] for o, n in fragments[first:first + count])

    def _fix_unused_bits(self, flat: np.ndarray):
        """Clear or sign-extend the bits above Bits Stored of decoded Pixel
        Data (not float data), as pydicom's pixel_array does."""
        if self.keyword == "PixelData" and self.bits_stored < self.bits_allocated:
            _pixels.fix_unused_bits(flat, self._desc, flat.size // self.dtype.itemsize)

    def _decode_encapsulated(self, index: int, flat: np.ndarray):
        ts = self.transfer_syntax
        if ts == RLE_LOSSLESS:
            _pixels.rle_frame(self._frame_bytes(index), self._desc, flat, index)
            self._fix_unused_bits(flat)
            return
        if ts == DEFLATED_FRAMES:
            self._decode_deflated(index, flat)
            return
        codec = CODECS.get(ts)
        if codec is not None:
            if codec == _pixels.CODEC_JPEG and self.bits_allocated > 8:
                codec = _pixels.CODEC_JPEG12  # 12-bit samples: our own DCT decoder
            # Threads inside a frame (openjpeg) only when frames are not
            # already decoded in parallel: pools are never nested.
            _pixels.codec_frame(codec, self._frame_bytes(index), self._desc,
                                self._keep_ybr, self._codec_threads, flat, index,
                                self.limits.max_frame_pixels, self.limits.max_jpeg_scans,
                                self.limits.max_j2k_tiles)
            if codec not in _CODECS_CUT_TO_BITS_STORED:
                self._fix_unused_bits(flat)
            return
        raise UnsupportedError(f"no decoder for transfer syntax {ts} in this build",
                               tag=0x7FE00010)

    def _decode_deflated(self, index: int, flat: np.ndarray):
        """A deflated frame is the native little-endian frame: inflate it
        straight into the output when its layout is the output's, else into
        a frame-sized buffer converted in one pass."""
        src = self._frame_bytes(index)
        direct = (self.bits_allocated != 1
                  and self.photometric_interpretation != "YBR_FULL_422"
                  and (self.samples_per_pixel == 1 or self.planar_configuration == 0))
        if direct:
            _pixels.deflate_frame(src, flat, index)
            self._fix_unused_bits(flat)
            return
        native = np.empty(self._native_frame_bytes(), dtype=np.uint8)
        _pixels.deflate_frame(src, native, index)
        flags = _pixels.NATIVE_FIX_BITS if self.bits_stored < self.bits_allocated else 0
        _pixels.native_frame(native, self._desc, 0, flags, flat, index)


def _check_out(out: np.ndarray, shape: tuple[int, ...], dtype: np.dtype):
    """A caller's output array must be exactly what is decoded into it, and
    C-contiguous and writeable: frames are written through a flat view of it,
    which for any other layout would be a copy, silently discarded."""
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}, not "
                         f"{out.shape} {out.dtype}")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("out must be a writeable C-contiguous array")


def pixels_of(ds):
    """The Pixels of a Dataset, or None when it has no pixel data."""
    for tag, _ in _PIXEL_TAGS:
        if tag in ds:
            return Pixels(ds, ds.element(tag))
    return None


def pixel_array(ds, *, as_rgb: bool = True, threads: int | None = None) -> np.ndarray:
    """All frames with pydicom's shape: (rows, columns[, samples]) for one
    frame, (frames, rows, columns[, samples]) for several."""
    px = pixels_of(ds)
    if px is None:
        raise AttributeError("the dataset has no Pixel Data, Float Pixel Data or Double "
                             "Float Pixel Data")
    arr = px.to_array(threads=threads, as_rgb=as_rgb)
    return arr[0] if px.number_of_frames == 1 else arr
