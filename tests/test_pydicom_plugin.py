"""rapidicom as pydicom's pixel-data decoding plugin (rapidicom.pydicom).

For every compressed corpus file whose transfer syntax the plugin registers
for, pydicom with the plugin installed (default plugin order, nothing asked
for by name) must give what pydicom gives without it: the same shape, dtype
and values -- bit-exact, except 12-bit JPEG, where pydicom's own result comes
from pylibjpeg and tests/test_pixels_parity.py's tolerance applies -- and
every frame must have been decoded by rapidicom.  Also: the plugin comes
first in pydicom's order, install()/uninstall() are idempotent and restore
pydicom's state exactly, is_available() refuses what rapidicom does not
decode, pydicom falls back to its own plugins when rapidicom declines,
pydicom's colour processing options still work, and highdicom's frame access
runs on the plugin with pydicom's results.

An autouse fixture saves pydicom's plugin tables and array processors before
each test and puts them back afterwards, and importing rapidicom.pydicom
below (which installs the plugin) is undone at once, so no other test file
sees the plugin.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pydicom
import pytest
from pydicom.pixels.decoders import base as pydicom_decoders
from pydicom.pixels.decoders.base import get_decoder

import rapidicom
from rapidicom.benchmark.adapters.with_pydicom import quiet
from corpus import PYDICOM_DATA, PYDICOM_DATA_STORE, file_id, opened_files
from test_pixels_parity import LOSSY_TOLERANCE, PYDICOM_REFUSES_WE_DECODE

DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"


def _pydicom_state():
    """pydicom's decoding plugins (in order) and array processors."""
    decoders = [entry[0] for entry in pydicom_decoders._PIXEL_DATA_DECODERS.values()]
    tables = [(d, list(d._available.items()), dict(d._unavailable)) for d in decoders]
    return tables, list(pydicom_decoders.PROCESSORS)


def _restore(state):
    tables, processors = state
    for decoder, available, unavailable in tables:
        decoder._available.clear()
        decoder._available.update(available)
        decoder._unavailable.clear()
        decoder._unavailable.update(unavailable)
    pydicom_decoders.PROCESSORS[:] = processors


def _same_state(a, b) -> bool:
    (tables_a, proc_a), (tables_b, proc_b) = a, b
    return proc_a == proc_b and all(
        da is db and av_a == av_b and un_a == un_b
        for (da, av_a, un_a), (db, av_b, un_b) in zip(tables_a, tables_b, strict=True))


_BEFORE_IMPORT = _pydicom_state()
import rapidicom.pydicom as plugin  # noqa: E402  (installs the plugin)

_INSTALLED_ON_IMPORT = plugin.is_installed()
_restore(_BEFORE_IMPORT)


@pytest.fixture(autouse=True)
def pydicom_state():
    """pydicom's global plugin state, put back after every test."""
    saved = _pydicom_state()
    yield saved
    _restore(saved)


@contextmanager
def rapidicom_calls():
    """Install the plugin and record each frame it decodes (transfer syntax,
    or the exception it raised)."""
    plugin.install()
    calls = []
    for uid in plugin.DECODER_DEPENDENCIES:
        table = get_decoder(uid)._available
        if plugin.LABEL not in table:
            continue

        def spy(src, runner, _decode=table[plugin.LABEL]):
            try:
                frame = _decode(src, runner)
            except Exception as exc:
                calls.append(exc)
                raise
            calls.append(str(runner.transfer_syntax))
            return frame

        table[plugin.LABEL] = spy       # same key: the order is kept
    yield calls


def _header(path):
    with quiet():
        return pydicom.dcmread(path, stop_before_pixels=True)


def _pixel_array(path):
    with quiet():
        return pydicom.dcmread(path).pixel_array


def _compressed_files():
    return [path for path, ds in opened_files()
            if 0x7FE00010 in ds and ds.transfer_syntax in plugin.DECODER_DEPENDENCIES]


FILES = _compressed_files()


def _tolerance(ds) -> int:
    key = str(ds.file_meta.TransferSyntaxUID)
    if key == JPEG_EXTENDED and ds.BitsAllocated > 8:
        key += "/12"
    return LOSSY_TOLERANCE.get(key, 0)


def _assert_matches(ours, expected, tolerance):
    assert ours.shape == expected.shape
    assert ours.dtype == expected.dtype
    if tolerance == 0:
        assert np.array_equal(ours, expected)
    else:
        diff = np.abs(ours.astype(np.int64) - expected.astype(np.int64)).max()
        assert diff <= tolerance


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

def test_import_installs_the_plugin():
    assert _INSTALLED_ON_IMPORT
    assert not plugin.is_installed()        # undone above for the other test files


def test_registers_every_encapsulated_syntax_rapidicom_decodes():
    ours = {uid for uid, name in rapidicom.available_decoders().items()
            if name != "native"}
    # pydicom 3.0 has no decoder for Deflated Image Frame Compression: nothing
    # to register with, and rapidicom decodes it only through its own API.
    with pytest.raises(NotImplementedError):
        get_decoder(DEFLATED_FRAMES)
    assert set(plugin.DECODER_DEPENDENCIES) == ours - {DEFLATED_FRAMES}
    assert len(plugin.DECODER_DEPENDENCIES) >= 12


def test_first_in_pydicom_plugin_order():
    before = {uid: list(get_decoder(uid)._validate_plugins())
              for uid in plugin.DECODER_DEPENDENCIES}
    plugin.install()
    assert plugin.is_installed()
    for uid, theirs in before.items():
        order = list(get_decoder(uid)._validate_plugins())   # what pydicom tries, in order
        assert order == [plugin.LABEL, *theirs], uid
        assert plugin.LABEL in get_decoder(uid).available_plugins


def test_install_and_uninstall_are_idempotent(pydicom_state):
    plugin.install()
    once = _pydicom_state()
    plugin.install()
    assert _same_state(_pydicom_state(), once)
    plugin.uninstall()
    assert _same_state(_pydicom_state(), pydicom_state)
    plugin.uninstall()
    assert _same_state(_pydicom_state(), pydicom_state)
    assert not plugin.is_installed()


def test_install_moves_the_plugin_back_to_the_front():
    plugin.install()
    decoder = get_decoder(RLE_LOSSLESS)
    others = [label for label in decoder._available if label != plugin.LABEL]
    decode = decoder._available.pop(plugin.LABEL)
    decoder._available[plugin.LABEL] = decode            # now last
    plugin.install()
    assert list(decoder._available) == [plugin.LABEL, *others]


def test_uninstall_keeps_plugins_added_afterwards():
    plugin.install()
    decoder = get_decoder(RLE_LOSSLESS)
    decoder.add_plugin("pydicom-rle-again", ("pydicom.pixels.decoders.rle", "_decode_frame"))
    plugin.uninstall()
    assert list(decoder._available)[-1] == "pydicom-rle-again"
    assert plugin.LABEL not in decoder._available


def test_decoding_plugin_by_name():
    path = PYDICOM_DATA / "test_files" / "MR_small_RLE.dcm"
    expected = _pixel_array(path)
    with rapidicom_calls() as calls:
        ds = pydicom.dcmread(path)
        ds.pixel_array_options(decoding_plugin="rapidicom")
        assert np.array_equal(ds.pixel_array, expected)
    assert calls == [RLE_LOSSLESS]
    plugin.uninstall()
    ds = pydicom.dcmread(path)
    ds.pixel_array_options(decoding_plugin="rapidicom")
    with pytest.raises(ValueError, match="No plugin named 'rapidicom'"):
        ds.pixel_array


@pytest.mark.parametrize("uid", sorted(plugin.DECODER_DEPENDENCIES))
def test_is_available_for_registered_syntaxes(uid):
    assert plugin.is_available(uid)


@pytest.mark.parametrize("uid", [
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99", DEFLATED_FRAMES, "1.2.840.10008.1.2.4.100",  # MPEG2
    "1.2.840.10008.1.2.4.92", "1.2.3.4", ""])
def test_is_not_available_for_other_syntaxes(uid):
    assert not plugin.is_available(uid)


# ---------------------------------------------------------------------------
# Corpus: pydicom with the plugin == pydicom without it
# ---------------------------------------------------------------------------

def test_corpus_has_every_family():
    syntaxes = {str(_header(p).file_meta.TransferSyntaxUID) for p in FILES}
    assert len(FILES) >= 50
    for uid in (RLE_LOSSLESS, "1.2.840.10008.1.2.4.50", JPEG_EXTENDED,
                "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
                "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"):
        assert uid in syntaxes


# pydicom converts YBR to RGB in numpy at about 30 MB/s: for larger files the
# reference is three of its frames, decoded one by one.
WHOLE_REFERENCE_MAX_BYTES = 32 << 20


def _reference_frames(path, ds):
    """{frame index: pydicom's array without the plugin}, or None when
    pydicom's own plugins refuse the file."""
    frames = int(ds.get("NumberOfFrames") or 1)
    size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8 * frames
    try:
        if size <= WHOLE_REFERENCE_MAX_BYTES:
            arr = _pixel_array(path)
            return dict(enumerate(arr if frames > 1 else arr[np.newaxis]))
        with quiet():
            return {i: pydicom.pixels.pixel_array(path, index=i)
                    for i in (0, frames // 2, frames - 1)}
    except Exception:
        return None


@pytest.mark.parametrize("path", FILES, ids=[file_id(p) for p in FILES])
def test_pixel_array_equals_pydicom_without_plugin(path):
    ds = _header(path)
    expected = _reference_frames(path, ds)
    with rapidicom_calls() as calls:
        if expected is None and file_id(path) in PYDICOM_REFUSES_WE_DECODE:
            # Same codestream as JPGExtended.dcm but for one SOS field.
            twin = path.with_name("JPGExtended.dcm")
            assert np.array_equal(_pixel_array(path), _pixel_array(twin))
            return
        if expected is None:
            with pytest.raises(Exception):
                _pixel_array(path)
            assert calls and all(isinstance(c, Exception) for c in calls)
            return
        ours = _pixel_array(path)
    frames = int(ds.get("NumberOfFrames") or 1)
    assert calls == [str(ds.file_meta.TransferSyntaxUID)] * frames
    assert ours.shape[0] == frames if frames > 1 else ours.shape == expected[0].shape
    ours = ours if frames > 1 else ours[np.newaxis]
    for i, frame in expected.items():
        _assert_matches(ours[i], frame, _tolerance(ds))


COLOUR_FILES = [p for p in FILES if _header(p).get("SamplesPerPixel", 1) == 3
                 and p.name != "color3d_jpeg_baseline.dcm"]      # 110 MB: slow in pydicom


@pytest.mark.parametrize("path", COLOUR_FILES, ids=[file_id(p) for p in COLOUR_FILES])
def test_pixel_properties_equal_pydicom_without_plugin(path):
    """The Image Pixel values pydicom reports with the array (YBR_ICT/RCT
    JPEG 2000 comes out RGB, YBR_FULL is converted, planar configuration 0)."""
    decoder = get_decoder(_header(path).file_meta.TransferSyntaxUID)
    with quiet():
        arr, props = decoder.as_array(pydicom.dcmread(path))
        with rapidicom_calls() as calls:
            ours, our_props = decoder.as_array(pydicom.dcmread(path))
    assert calls and all(isinstance(c, str) for c in calls)
    assert our_props == props
    _assert_matches(ours, arr, 0)


def _with_planar_configuration_1(path):
    ds = pydicom.dcmread(path)
    ds.PlanarConfiguration = 1
    return ds


@pytest.mark.parametrize("name", ["SC_rgb_rle.dcm", "SC_rgb_jls_lossy_line.dcm"])
def test_planar_configuration_1_rle_and_jpeg_ls(name):
    """pydicom's RLE and JPEG-LS plugins report the layout they return, and
    so must rapidicom: the dataset's Planar Configuration 1 is not it."""
    path = PYDICOM_DATA / "test_files" / name
    expected = _with_planar_configuration_1(path).pixel_array
    with rapidicom_calls() as calls:
        ours = _with_planar_configuration_1(path).pixel_array
    assert calls
    assert np.array_equal(ours, expected)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_gdcm.dcm", "US1_J2KR.dcm"])
def test_planar_configuration_1_jpeg_and_j2k_give_the_coded_image(name):
    """JPEG and JPEG 2000 codestreams fix their own component order (PS3.5
    8.2.1 asks Planar Configuration 0).  pydicom's own plugins return
    interleaved samples but keep a dataset's 1, so pydicom re-reads them as
    planes (a scrambled image); rapidicom says what it returns, and the
    image is the one coded (that of Planar Configuration 0)."""
    path = PYDICOM_DATA / "test_files" / name
    if not path.exists():
        path = PYDICOM_DATA_STORE / name
    coded = _pixel_array(path)
    assert not np.array_equal(_with_planar_configuration_1(path).pixel_array, coded)
    with rapidicom_calls() as calls:
        ours = _with_planar_configuration_1(path).pixel_array
    assert calls
    assert np.array_equal(ours, coded)


MULTI_FRAME = [
    PYDICOM_DATA_STORE / "emri_small_jpeg_2k_lossless.dcm",
    PYDICOM_DATA_STORE / "emri_small_jpeg_ls_lossless.dcm",
    PYDICOM_DATA_STORE / "emri_small_RLE.dcm",
    PYDICOM_DATA / "test_files" / "SC_rgb_rle_16bit_2frame.dcm",
    PYDICOM_DATA / "test_files" / "examples_ybr_color.dcm",      # JPEG, YBR_FULL_422
]


@pytest.mark.parametrize("path", MULTI_FRAME, ids=[p.name for p in MULTI_FRAME])
def test_iter_pixels_and_pixel_array_by_path(path):
    expected = _pixel_array(path)
    with rapidicom_calls() as calls:
        frames = list(pydicom.pixels.iter_pixels(path))
        whole = pydicom.pixels.pixel_array(path)
        one = pydicom.pixels.pixel_array(path, index=1)
    assert np.array_equal(np.stack(frames), expected)
    assert np.array_equal(whole, expected)
    assert np.array_equal(one, expected[1])
    assert len(calls) == 2 * len(expected) + 1
    assert all(isinstance(c, str) for c in calls)


# ---------------------------------------------------------------------------
# Colour processing and pydicom's options
# ---------------------------------------------------------------------------

YBR_JPEG = PYDICOM_DATA / "test_files" / "examples_ybr_color.dcm"


@pytest.mark.parametrize("options", [
    dict(raw=True), dict(as_rgb=False), dict(force_ybr=True), dict(index=3),
    dict(index=3, raw=True)], ids=str)
def test_colour_options_give_pydicom_results(options):
    expected = pydicom.pixels.pixel_array(YBR_JPEG, **options)
    with rapidicom_calls() as calls:
        ours = pydicom.pixels.pixel_array(YBR_JPEG, **options)
    assert calls
    assert ours.dtype == expected.dtype
    assert np.array_equal(ours, expected)


def test_colour_properties_match():
    decoder = get_decoder(pydicom.dcmread(YBR_JPEG).file_meta.TransferSyntaxUID)
    arr, props = decoder.as_array(pydicom.dcmread(YBR_JPEG))
    plugin.install()
    ours, our_props = decoder.as_array(pydicom.dcmread(YBR_JPEG))
    assert np.array_equal(ours, arr)
    assert our_props == props
    assert our_props["photometric_interpretation"] == "RGB"


def _native_ybr_full(buffer: bytearray, shape):
    """pydicom's array for native YBR_FULL pixels in `buffer`, asked for as
    a view of the buffer."""
    decoder = get_decoder(pydicom.uid.ExplicitVRLittleEndian)
    rows, columns, samples = shape
    arr, _ = decoder.as_array(
        buffer, rows=rows, columns=columns, samples_per_pixel=samples, bits_allocated=8,
        bits_stored=8, pixel_representation=0, photometric_interpretation="YBR_FULL",
        planar_configuration=0, number_of_frames=1, pixel_keyword="PixelData", view_only=True)
    return arr


def test_native_ybr_buffer_is_not_converted_in_place():
    """With view_only, native YBR_FULL pixels are a view of the caller's
    writeable buffer: the conversion to RGB must leave that buffer alone."""
    ybr = pydicom.pixels.pixel_array(YBR_JPEG, index=0, raw=True)
    expected = _native_ybr_full(bytearray(ybr.tobytes()), ybr.shape)
    assert not np.array_equal(expected, ybr)            # it was converted
    plugin.install()
    buffer = bytearray(ybr.tobytes())
    assert np.array_equal(_native_ybr_full(buffer, ybr.shape), expected)
    assert buffer == ybr.tobytes()


def test_declined_layout_falls_back_to_pydicom_plugins():
    """RLE segments in little-endian order (pydicom's non-conformant
    option): rapidicom declines, the next plugin in pydicom's order decodes."""
    path = PYDICOM_DATA / "test_files" / "MR_small_RLE.dcm"
    options = dict(decoding_plugin="", rle_segment_order="<")
    with quiet():
        ds = pydicom.dcmread(path)
        ds.pixel_array_options(**options)
        expected = ds.pixel_array
        with rapidicom_calls() as calls:
            ds = pydicom.dcmread(path)
            ds.pixel_array_options(**options)
            ours = ds.pixel_array
    assert np.array_equal(ours, expected)
    assert len(calls) == 1 and isinstance(calls[0], NotImplementedError)


def test_corrupt_frame_error_names_rapidicom():
    """A frame no plugin decodes: pydicom's error lists rapidicom's reason."""
    path = PYDICOM_DATA / "test_files" / "JPEG2000-embedded-sequence-delimiter.dcm"
    ds = pydicom.dcmread(path)
    plugin.install()
    with quiet():
        with pytest.raises(RuntimeError, match=r"rapidicom: JPEG 2000 codestream"):
            ds.pixel_array


# ---------------------------------------------------------------------------
# highdicom
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", MULTI_FRAME, ids=[p.name for p in MULTI_FRAME])
def test_highdicom_frames(path):
    highdicom = pytest.importorskip("highdicom")
    with quiet():
        image = highdicom.imread(path)
        indices = range(1, image.number_of_frames + 1)     # highdicom counts from 1
        expected = [image.get_frame(i) for i in indices]
        stored = [image.get_stored_frame(i) for i in indices]
        with rapidicom_calls() as calls:
            image = highdicom.imread(path)
            ours = [image.get_frame(i) for i in indices]
            ours_stored = [image.get_stored_frame(i) for i in indices]
    assert len(calls) == 2 * image.number_of_frames
    assert all(isinstance(c, str) for c in calls)
    for i in range(image.number_of_frames):
        assert ours[i].dtype == expected[i].dtype
        assert np.array_equal(ours[i], expected[i]), f"frame {i + 1}"
        assert ours_stored[i].dtype == stored[i].dtype
        assert np.array_equal(ours_stored[i], stored[i]), f"stored frame {i + 1}"
