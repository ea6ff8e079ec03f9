"""rapidicom as a pixel-data decoding plugin for pydicom 3.

Importing this module makes pydicom decode compressed Pixel Data with
rapidicom's C decoders::

    import pydicom
    import rapidicom.pydicom            # registers the plugin, first in order

    ds = pydicom.dcmread("ct_j2k.dcm")
    arr = ds.pixel_array                 # decoded by rapidicom

Everything that goes through pydicom's decoders then uses it:
``Dataset.pixel_array``, ``pydicom.pixels.pixel_array`` and ``iter_pixels``,
``Decoder.as_array`` / ``as_buffer`` / ``iter_array``, and libraries built
on them (highdicom's frame access).  ``uninstall()`` restores pydicom's own
plugins; ``install()`` puts rapidicom back.

How it plugs in
---------------
pydicom keeps one ``Decoder`` per transfer syntax
(``pydicom.pixels.get_decoder(uid)``), and each holds its plugins, added with
``Decoder.add_plugin(label, (module, function))``.  A plugin module has
``is_available(uid)``, ``DECODER_DEPENDENCIES`` ({uid: requirements}) and a
function ``(src: bytes, runner: DecodeRunner) -> bytes | bytearray`` that
decodes one frame; this module is that plugin module, and its function is
:func:`_decode_frame`.  ``install()`` adds it, labelled ``"rapidicom"``, to
the decoder of every syntax in :data:`DECODER_DEPENDENCIES`.

Without ``decoding_plugin=``, pydicom tries a decoder's available plugins in
the order they were added and returns the first success.  pydicom has no
public way to reorder them, so ``install()`` re-inserts the other available
plugins after ours in the decoder's plugin table (a dict, so insertion order
is trial order), keeping their relative order; ``uninstall()`` removes ours
with ``Decoder.remove_plugin``, which leaves pydicom's order exactly as it
was.  If rapidicom raises on a frame, pydicom falls back to the next plugin
(and warns that the plugin changed).  ``decoding_plugin="rapidicom"`` asks
for rapidicom only.

Syntaxes
--------
RLE Lossless, JPEG baseline/extended (8 and 12 bit), JPEG lossless (process
14 and SV1), JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy,
and the three HTJ2K syntaxes, each where this build has the decoder
(:func:`rapidicom.available_decoders`).  Native syntaxes never reach a
plugin in pydicom (it reads them itself), and pydicom 3.0 has no decoder for
Deflated Image Frame Compression (1.2.840.10008.1.2.8.1), so there is
nothing to register for it.

What a frame decodes to
-----------------------
The plugin returns the frame's samples interleaved, little endian, in
containers of the dataset's Bits Allocated, and tells the runner so
(``planar_configuration`` 0), as pydicom's RLE and JPEG-LS plugins report
the layout they return.  Colour is returned as coded: YBR_FULL /
YBR_FULL_422 stay YCbCr, and pydicom converts them to RGB as it does for its
own plugins.  JPEG 2000 frames with a multiple component transform come out
of openjpeg as RGB, so YBR_ICT / YBR_RCT are relabelled RGB, as pydicom's
own JPEG 2000 plugins do.  rapidicom's codecs apply their sign and Bits
Stored corrections while decoding (the values of pydicom's ``pixel_array``);
pydicom's own corrections afterwards leave such values unchanged.

So arrays and the pixel properties pydicom reports with them are pydicom's.
Where the raw output differs, it is described correctly: ``as_buffer`` gives
RLE colour frames interleaved (pydicom's plugins: planar) with planar
configuration 0 in its properties, and codestream values already sign
corrected (``apply_jls_sign_correction=False`` /
``apply_j2k_sign_correction=False`` change nothing on frames rapidicom
decodes).  One deliberate difference: pydicom's JPEG and JPEG 2000 plugins
return interleaved samples too but keep a dataset's Planar Configuration 1,
so pydicom reads them as planes and returns a scrambled image; those
codestreams fix their own component order (PS3.5 8.2.1 asks for 0), so with
rapidicom such non-conformant datasets give the image as coded.  No corpus
file has one.

Each frame is decoded by one C call without the GIL, straight into the
``bytearray`` returned to pydicom (no intermediate buffer); JPEG 2000 frames
of 1 MiB or more use openjpeg's threads, as ``rapidicom.Pixels`` does.

Colour conversion
-----------------
After decoding, pydicom converts YBR_FULL / YBR_FULL_422 arrays to RGB in
numpy (``pydicom.pixels.decoders.base.PROCESSORS``, its list of array
processors, holds ``_process_color_space``); for a multi-frame colour JPEG
that takes several times longer than decoding.  ``install()`` puts
:func:`_process_color_space_in_c` in its place: it does the same conversion
with rapidicom's C routine, bit-identical to pydicom's float32 arithmetic
(see ``src/core/colour.c``), in place, when the array is pydicom's own
decoded ``uint8`` output of an encapsulated syntax; every other case
(native data that may be a view of the caller's buffer, ``force_rgb``,
``force_ybr``, read-only or strided arrays) goes to pydicom's function
unchanged.  pydicom runs processors only where it would convert anyway
(never for ``raw=True`` or ``as_buffer``), so results stay pydicom's.
``uninstall()`` puts pydicom's function back.

.. versionadded:: 0.3.0
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np
from pydicom.pixels.common import PhotometricInterpretation
from pydicom.pixels.decoders import base as pydicom_decoders
from pydicom.pixels.decoders.base import get_decoder

from rapidicom import _pixels
from rapidicom.pixels import CODECS, PARALLEL_MIN_BYTES, RLE_LOSSLESS

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.pixels.decoders.base import DecodeRunner

__all__ = ["DECODER_DEPENDENCIES", "LABEL", "install", "is_available", "is_installed",
           "uninstall"]

LABEL = "rapidicom"

YBR_FROM_J2K_MCT = ("YBR_ICT", "YBR_RCT")
J2K_CODEC = _pixels.CODEC_J2K

_REQUIREMENT = {
    _pixels.CODEC_JPEG: "rapidicom built with libjpeg-turbo",
    _pixels.CODEC_JPEG_LOSSLESS: "rapidicom",          # its own decoder, always built
    _pixels.CODEC_JPEG_LS: "rapidicom",                # its own decoder, always built
    _pixels.CODEC_J2K: "rapidicom built with openjpeg>=2.5",
}

#: What rapidicom needs to decode each syntax it registers for (pydicom shows
#: it in ``Decoder.missing_dependencies`` when this build lacks the decoder).
DECODER_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    RLE_LOSSLESS: ("rapidicom",),
    **{uid: (_REQUIREMENT[codec],) for uid, codec in CODECS.items()},
}

# pydicom's YBR -> RGB array processor, replaced while installed.
_PYDICOM_COLOR_SPACE = pydicom_decoders._process_color_space
YBR_CONVERTED_TO_RGB = ("YBR_FULL", "YBR_FULL_422")

# add_plugin/remove_plugin are not thread-safe (pydicom says so); one lock
# makes install() and uninstall() atomic against each other.
_LOCK = threading.Lock()


def is_available(uid: str) -> bool:
    """True when this build of rapidicom decodes transfer syntax `uid`.

    Part of pydicom's plugin contract: pydicom calls it from ``add_plugin``.

    Parameters
    ----------
    uid : str
        A Transfer Syntax UID.

    Returns
    -------
    bool
        ``False`` for syntaxes rapidicom does not register for, and for those
        whose decoder this build was made without.
    """
    if uid == RLE_LOSSLESS:
        return True
    codec = CODECS.get(uid)
    return codec is not None and _pixels.codec_available(codec)


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

def _photometric_code(runner: DecodeRunner) -> int:
    pi = runner.photometric_interpretation
    # pydicom may hand over its PhotometricInterpretation enum; its value is the text.
    return _pixels.PHOTOMETRIC.get(getattr(pi, "value", pi), 0)


def _frame_desc(runner: DecodeRunner) -> tuple:
    """rapidicom's frame description (see pixels.Pixels._desc) from the runner."""
    return (runner.rows, runner.columns, runner.samples_per_pixel, runner.bits_allocated,
            runner.bits_stored, runner.pixel_representation, runner.planar_configuration,
            _photometric_code(runner))


def _frame_size(runner: DecodeRunner) -> int:
    bits = runner.bits_allocated
    if bits not in (8, 16, 32, 64):
        raise NotImplementedError(
            f"rapidicom decodes compressed samples of 8, 16, 32 or 64 bits allocated, "
            f"not {bits}")
    return runner.rows * runner.columns * runner.samples_per_pixel * (bits // 8)


def _codec_for(runner: DecodeRunner) -> int:
    codec = CODECS[runner.transfer_syntax]
    if codec == _pixels.CODEC_JPEG and runner.bits_allocated > 8:
        return _pixels.CODEC_JPEG12  # 12-bit samples: rapidicom's own DCT decoder
    return codec


def _codec_threads(codec: int, frame_size: int) -> int:
    """openjpeg's threads for one frame: all cores for frames of 1 MiB or
    more (the default of rapidicom.Pixels); small frames decode faster on
    the calling thread."""
    if codec == J2K_CODEC and frame_size >= PARALLEL_MIN_BYTES:
        return os.cpu_count() or 1
    return 1


def _decode_rle(src: bytes, runner: DecodeRunner, out: bytearray) -> None:
    if runner.get_option("rle_segment_order", ">") != ">":
        raise NotImplementedError(
            "rapidicom decodes RLE segments in the standard order (most significant "
            "byte first) only")
    # pydicom does not say which frame this is: errors name frame 0.
    _pixels.rle_frame(src, _frame_desc(runner), out, 0)


def _decode_codec(src: bytes, runner: DecodeRunner, out: bytearray) -> None:
    codec = _codec_for(runner)
    # keep_ybr: colour comes back as coded; pydicom converts it after
    # conforming the Photometric Interpretation to the codestream itself.
    _pixels.codec_frame(codec, src, _frame_desc(runner), True,
                        _codec_threads(codec, len(out)), out, 0)
    if codec == J2K_CODEC and runner.photometric_interpretation in YBR_FROM_J2K_MCT:
        runner.set_option("photometric_interpretation", PhotometricInterpretation.RGB)


def _decode_frame(src: bytes, runner: DecodeRunner) -> bytearray:
    """Decode one compressed frame for pydicom (its plugin function).

    Parameters
    ----------
    src : bytes
        One frame's codestream, as pydicom extracts it from the encapsulated
        Pixel Data.
    runner : pydicom.pixels.decoders.base.DecodeRunner
        pydicom's description of the frame (rows, columns, samples per
        pixel, bits allocated/stored, pixel representation, photometric
        interpretation, planar configuration) and decoding options.

    Returns
    -------
    bytearray
        Rows x Columns x Samples per Pixel samples, interleaved, little
        endian, Bits Allocated / 8 bytes each.  The runner's planar
        configuration is set to 0 to say so.

    Raises
    ------
    rapidicom.DicomError
        When the frame does not decode; pydicom then tries its next plugin.
    NotImplementedError
        For layouts rapidicom does not decode (Bits Allocated 1, RLE segments
        in little-endian order).
    """
    out = bytearray(_frame_size(runner))
    if runner.transfer_syntax == RLE_LOSSLESS:
        _decode_rle(src, runner, out)
    else:
        _decode_codec(src, runner, out)
    if runner.samples_per_pixel > 1:
        runner.set_option("planar_configuration", 0)
    return out


# ---------------------------------------------------------------------------
# Colour conversion
# ---------------------------------------------------------------------------

def _converts_in_place(arr: np.ndarray, runner: DecodeRunner) -> bool:
    """True when pydicom would convert `arr` from YBR_FULL to RGB and the
    array is its own: decoded from an encapsulated syntax (never a view of
    the caller's buffer), uint8, contiguous and writeable."""
    return (runner.transfer_syntax.is_encapsulated
            and runner.photometric_interpretation in YBR_CONVERTED_TO_RGB
            and runner.get_option("as_rgb", False)
            and not runner.get_option("force_rgb", False)
            and not runner.get_option("force_ybr", False)
            and runner.samples_per_pixel == 3
            and arr.dtype == np.uint8 and arr.ndim >= 3 and arr.shape[-1] == 3
            and arr.flags.c_contiguous and arr.flags.writeable)


def _process_color_space_in_c(arr: np.ndarray, runner: DecodeRunner,
                              changes: dict[str, str | int]) -> np.ndarray:
    """pydicom's colour-space processor, with its YBR_FULL -> RGB conversion
    of decoded 8-bit frames done in C, in place (same values).

    Parameters
    ----------
    arr : numpy.ndarray
        The decoded (and reshaped) pixels.
    runner : pydicom.pixels.decoders.base.DecodeRunner
        The runner that decoded them.
    changes : dict
        Pixel properties changed by processing; receives the new
        Photometric Interpretation, as pydicom's processor does.

    Returns
    -------
    numpy.ndarray
        `arr` converted in place, or whatever pydicom's processor returns.
    """
    if not _converts_in_place(arr, runner):
        return _PYDICOM_COLOR_SPACE(arr, runner, changes)
    _pixels.ybr_full_to_rgb(arr.reshape(-1))
    changes["photometric_interpretation"] = PhotometricInterpretation.RGB
    return arr


def _swap_processor(old, new) -> None:
    processors = pydicom_decoders.PROCESSORS
    if old in processors:
        processors[processors.index(old)] = new


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

def _registered(decoder) -> bool:
    """True when the decoder has the plugin, usable or not (pydicom keeps the
    two kinds in separate tables)."""
    return LABEL in decoder._available or LABEL in decoder._unavailable


def _move_first(decoder) -> None:
    """Re-insert every other available plugin after ours, in their order.

    pydicom tries plugins in the insertion order of ``Decoder._available``
    (a dict) and offers no public call to change it.  The same dict object is
    kept, so anything holding it sees the new order.
    """
    plugins = decoder._available
    if LABEL not in plugins:
        return
    others = [(label, func) for label, func in plugins.items() if label != LABEL]
    for label, _ in others:
        del plugins[label]
    plugins.update(others)


def install() -> None:
    """Register rapidicom with pydicom, first in every decoder's plugin order.

    Adds the ``"rapidicom"`` plugin to pydicom's decoder of each transfer
    syntax in :data:`DECODER_DEPENDENCIES` and swaps pydicom's YBR -> RGB
    array processor for :func:`_process_color_space_in_c`.  Safe to call again: a decoder
    that already has the plugin only gets it moved back to the front.
    Importing ``rapidicom.pydicom`` calls it once.

    .. versionadded:: 0.3.0
    """
    with _LOCK:
        for uid in DECODER_DEPENDENCIES:
            decoder = get_decoder(uid)
            if not _registered(decoder):
                decoder.add_plugin(LABEL, (__name__, "_decode_frame"))
            _move_first(decoder)
        _swap_processor(_PYDICOM_COLOR_SPACE, _process_color_space_in_c)


def uninstall() -> None:
    """Remove rapidicom from pydicom's decoders and put pydicom's colour
    processor back; pydicom's own plugins are then tried in their original
    order again.  Safe to call when the plugin is not installed.

    .. versionadded:: 0.3.0
    """
    with _LOCK:
        for uid in DECODER_DEPENDENCIES:
            decoder = get_decoder(uid)
            if _registered(decoder):
                decoder.remove_plugin(LABEL)
        _swap_processor(_process_color_space_in_c, _PYDICOM_COLOR_SPACE)


def is_installed() -> bool:
    """True when every syntax rapidicom decodes has it as pydicom's first
    plugin and the colour conversion in C is in pydicom's processors.

    .. versionadded:: 0.3.0
    """
    if _process_color_space_in_c not in pydicom_decoders.PROCESSORS:
        return False
    for uid in DECODER_DEPENDENCIES:
        if not is_available(uid):
            continue
        plugins = get_decoder(uid)._available
        if next(iter(plugins), None) != LABEL:
            return False
    return True


install()
