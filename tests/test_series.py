"""rapidicom.read_series / find_series against pydicom and dicom-numpy.

Series are built from corpus files with pydicom: N copies of CT_small.dcm
or MR_small.dcm (or of their RLE / JPEG-LS / JPEG 2000 versions) with their
own Image Position (Patient), Slice Location, Instance Number, SOP Instance
UID and pixel content, written under shuffled (random) file names.  Every
volume is compared with two references built from the same files:

- pydicom: dcmread every file, sort by the projection of Image Position
  (Patient) on the slice normal, stack ``pixel_array`` (and apply pydicom's
  ``apply_modality_lut`` slice by slice);
- dicom-numpy's ``combine_slices``, whose voxels are indexed (column, row,
  slice): transposed to (slice, row, column), and its affine's columns put
  in the same order.

The error cases each break one file of a good series and check the
SeriesError names it.
"""
from __future__ import annotations

import os
import uuid
import warnings

import dicom_numpy
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut as pydicom_modality_lut
from pydicom.uid import (ExplicitVRBigEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless,
                         generate_uid)

import rapidicom
from corpus import PYDICOM_DATA_STORE
from rapidicom.series import SeriesError

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
# Row and column cosines of a rotation by 20° about z then 30° about x,
# rounded as a DS string holds them.
OBLIQUE = (0.93969262, 0.29619813, 0.17101007, -0.34202014, 0.81379768, 0.46984631)
ENCODERS = {RLELossless: "pylibjpeg", JPEGLSLossless: "pyjpegls",
            JPEG2000Lossless: "pylibjpeg"}


# ---------------------------------------------------------------------------
# Building series
# ---------------------------------------------------------------------------

def normal_of(orientation) -> np.ndarray:
    o = np.asarray(orientation, dtype=float)
    n = np.cross(o[:3], o[3:])
    return n / np.linalg.norm(n)


def slice_pixels(base: np.ndarray, k: int) -> np.ndarray:
    """Different content for every slice: shifted and offset by k."""
    info = np.iinfo(base.dtype)
    shifted = np.roll(base, 3 * k, axis=1).astype(np.int64) + 7 * k
    return np.clip(shifted, info.min, info.max).astype(base.dtype)


def write_series(folder, template: str, count: int, *, orientation=AXIAL, gap=2.5,
                 origin=(-100.0, -120.0, 30.0), shear=(0.0, 0.0, 0.0),
                 series_uid=None, rescale=None) -> list[str]:
    """`count` slices made from corpus file `template`, in its transfer
    syntax, at origin + k * (gap * normal + shear); `rescale(k)` gives a
    slice's (slope, intercept).  Returns the paths in slice order."""
    os.makedirs(folder, exist_ok=True)
    template = template if os.path.isabs(template) else get_testdata_file(template)
    first = pydicom.dcmread(template)
    base = first.pixel_array
    syntax = first.file_meta.TransferSyntaxUID
    series_uid = series_uid or generate_uid()
    step = gap * normal_of(orientation) + np.asarray(shear)
    paths = []
    for k in range(count):
        ds = pydicom.dcmread(template)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
        if "PixelSpacing" not in ds:
            ds.PixelSpacing = ["0.5", "0.5"]
        position = np.asarray(origin) + k * step
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.SliceLocation = f"{position @ normal_of(orientation):.6f}"
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = (f"{v:g}" for v in rescale(k))
        pixels = slice_pixels(base, k)
        if syntax in ENCODERS:
            ds.compress(syntax, pixels, encoding_plugin=ENCODERS[syntax])
        elif syntax == ExplicitVRBigEndian:
            ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
        else:
            ds.PixelData = pixels.tobytes()
        path = os.path.join(folder, f"{uuid.uuid4().hex}.dcm")
        ds.save_as(path)
        paths.append(path)
    return paths


def edit(path: str, **values) -> None:
    """Rewrite attributes of one file of a series."""
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


# ---------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------

def pydicom_volume(paths, modality_lut: bool):
    """(array, paths in slice order) the plain pydicom way."""
    datasets = [pydicom.dcmread(p) for p in paths]
    normal = normal_of([float(v) for v in datasets[0].ImageOrientationPatient])
    datasets.sort(key=lambda ds: normal @ np.array(ds.ImagePositionPatient, dtype=float))
    arrays = [ds.pixel_array for ds in datasets]
    if modality_lut:
        arrays = [pydicom_modality_lut(a, ds) for a, ds in zip(arrays, datasets)]
    return np.stack(arrays), [ds.filename for ds in datasets], datasets


def dicom_numpy_volume(paths, modality_lut: bool):
    """dicom-numpy's voxels as (slice, row, column) and its affine with
    columns in that order."""
    datasets = [pydicom.dcmread(p) for p in paths]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        voxels, ijk_to_xyz = dicom_numpy.combine_slices(datasets, rescale=modality_lut)
    return voxels.transpose(2, 1, 0), ijk_to_xyz[:, [2, 1, 0, 3]]


def assert_geometry(volume, datasets) -> None:
    """The affine maps (k, r, c) where each slice's header says: its
    Image Position plus r and c steps along the column and row cosines."""
    rows, columns = volume.array.shape[1:3]
    ps = [float(v) for v in datasets[0].PixelSpacing]
    for k, ds in enumerate(datasets):
        iop = np.array(ds.ImageOrientationPatient, dtype=float)
        ipp = np.array(ds.ImagePositionPatient, dtype=float)
        np.testing.assert_allclose(volume.positions[k], ipp, atol=1e-9)
        for r, c in ((0, 0), (rows - 1, 0), (0, columns - 1), (rows - 1, columns - 1)):
            want = ipp + r * ps[0] * iop[3:] + c * ps[1] * iop[:3]
            got = volume.affine @ np.array([k, r, c, 1.0])
            np.testing.assert_allclose(got[:3], want, atol=1e-6)
    np.testing.assert_allclose(volume.affine[3], [0, 0, 0, 1])
    assert volume.spacing[1:] == pytest.approx(ps)


# ---------------------------------------------------------------------------
# Series that read
# ---------------------------------------------------------------------------

# name -> (template, slices, orientation, gap)
SERIES = {
    "CT_axial_40": ("CT_small.dcm", 40, AXIAL, 2.5),     # 1.3 MB: decoded in parallel
    "CT_oblique": ("CT_small.dcm", 12, OBLIQUE, 1.25),
    "MR_axial": ("MR_small.dcm", 9, AXIAL, 4.0),
    "MR_oblique_negative_gap": ("MR_small.dcm", 9, OBLIQUE, -3.0),
    "MR_big_endian": ("MR_small_bigendian.dcm", 6, AXIAL, 2.0),
    "MR_RLE": ("MR_small_RLE.dcm", 8, OBLIQUE, 3.0),
    "MR_JPEG_LS": ("MR_small_jpeg_ls_lossless.dcm", 6, AXIAL, 3.0),
    "MR_J2K": ("MR_small_jp2klossless.dcm", 5, OBLIQUE, 3.0),
    "CT_RLE_40": ("CT_small_RLE", 40, AXIAL, 1.0),          # built below
}


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """name -> (folder, paths); the CT RLE series is CT_small re-encoded."""
    built = {}
    for name, (template, count, orientation, gap) in SERIES.items():
        folder = str(tmp_path_factory.mktemp(name))
        if template == "CT_small_RLE":
            rle = os.path.join(folder, "..", f"template_{name}.dcm")
            ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
            ds.compress(RLELossless, encoding_plugin="pylibjpeg")
            ds.save_as(rle)
            template = os.path.abspath(rle)
        built[name] = (folder, write_series(folder, template, count,
                                            orientation=orientation, gap=gap))
    return built


@pytest.mark.parametrize("modality_lut", [False, True], ids=["stored", "modality_lut"])
@pytest.mark.parametrize("name", list(SERIES))
def test_volume_matches_pydicom_and_dicom_numpy(series, name, modality_lut):
    folder, paths = series[name]
    volume = rapidicom.read_series(folder, modality_lut=modality_lut)
    want, want_paths, datasets = pydicom_volume(paths, modality_lut)
    assert volume.array.dtype == want.dtype
    np.testing.assert_array_equal(volume.array, want)
    assert volume.paths == want_paths
    assert volume.frames == [0] * len(paths)
    assert volume.skipped == {}
    assert_geometry(volume, datasets)
    assert volume.spacing[0] == pytest.approx(abs(SERIES[name][3]), rel=1e-6)
    assert volume.series_uid == datasets[0].SeriesInstanceUID

    voxels, affine = dicom_numpy_volume(paths, modality_lut)
    if modality_lut and voxels.dtype == np.float32:   # dicom-numpy rescales in float32
        np.testing.assert_allclose(volume.array, voxels, rtol=1e-6)
    else:
        np.testing.assert_array_equal(volume.array, voxels)
    np.testing.assert_allclose(volume.affine, affine, atol=2e-4)


def test_threads_and_list_input_agree(series):
    folder, paths = series["CT_RLE_40"]
    one = rapidicom.read_series(folder, threads=1)
    two = rapidicom.read_series(list(reversed(paths)), threads=2)
    np.testing.assert_array_equal(one.array, two.array)
    assert one.paths == two.paths
    assert one.array.flags.c_contiguous and one.array.flags.writeable


def test_modality_lut_per_slice_values(tmp_path):
    """Each slice's own slope and intercept, as pydicom applies them."""
    paths = write_series(tmp_path, "CT_small.dcm", 6,
                         rescale=lambda k: (1 + 0.5 * k, -1024 + 10 * k))
    volume = rapidicom.read_series(tmp_path, modality_lut=True)
    want, _, _ = pydicom_volume(paths, True)
    assert volume.array.dtype == np.float64
    np.testing.assert_array_equal(volume.array, want)
    stored = rapidicom.read_series(tmp_path)
    np.testing.assert_array_equal(stored.array, pydicom_volume(paths, False)[0])


def test_modality_lut_with_some_slices_not_rescaled(tmp_path):
    """Slices without Rescale Slope/Intercept keep their values, in the
    float64 volume the others need."""
    paths = write_series(tmp_path, "MR_small.dcm", 5)
    for path in paths[::2]:
        edit(path, RescaleSlope="2", RescaleIntercept="-5")
    volume = rapidicom.read_series(tmp_path, modality_lut=True)
    want, _, _ = pydicom_volume(paths, True)
    assert volume.array.dtype == np.float64
    np.testing.assert_array_equal(volume.array, want.astype(np.float64))
    np.testing.assert_array_equal(volume.array[1], pydicom.dcmread(paths[1]).pixel_array)


def test_modality_lut_sequence(tmp_path):
    """mlut_18.dcm's Modality LUT Sequence (16-bit entries) on every slice."""
    paths = write_series(tmp_path, "mlut_18.dcm", 4)
    volume = rapidicom.read_series(tmp_path, modality_lut=True)
    want, _, datasets = pydicom_volume(paths, True)
    assert volume.array.dtype == want.dtype == np.uint16
    np.testing.assert_array_equal(volume.array, want)
    assert_geometry(volume, datasets)
    edit(paths[1], RescaleSlope="1", RescaleIntercept="0")
    del_sequence = pydicom.dcmread(paths[1])
    del del_sequence.ModalityLUTSequence
    del_sequence.save_as(paths[1])
    with pytest.raises(SeriesError, match="Modality LUT Sequence") as info:
        rapidicom.read_series(tmp_path, modality_lut=True)
    assert info.value.paths == [paths[1]]


def test_sheared_series_affine_follows_positions(tmp_path):
    """Positions that step sideways as well (a gantry tilt): the affine's
    slice column is the real step, the spacing the distance between planes."""
    paths = write_series(tmp_path, "CT_small.dcm", 7, gap=2.0, shear=(0.0, 0.35, 0.0))
    volume = rapidicom.read_series(tmp_path)
    want, want_paths, datasets = pydicom_volume(paths, False)
    np.testing.assert_array_equal(volume.array, want)
    assert_geometry(volume, datasets)
    assert volume.spacing[0] == pytest.approx(2.0)
    np.testing.assert_allclose(volume.affine[:3, 0], [0.0, 0.35, 2.0], atol=1e-6)


def test_single_file(tmp_path):
    path = get_testdata_file("CT_small.dcm")
    volume = rapidicom.read_series(path)
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(volume.array, ds.pixel_array[None])
    assert volume.paths == [path]
    assert volume.spacing[0] == float(ds.SliceThickness)
    assert_geometry(volume, [ds])
    np.testing.assert_allclose(volume.affine[:3, 0], [0, 0, float(ds.SliceThickness)])


def test_find_series_groups_and_orders(series, tmp_path):
    ct_folder, ct_paths = series["CT_oblique"]
    mr_folder, mr_paths = series["MR_RLE"]
    found = rapidicom.find_series([*ct_paths, *mr_paths])
    by_uid = {pydicom.dcmread(p[0]).SeriesInstanceUID: p for p in (ct_paths, mr_paths)}
    assert list(found) == sorted(by_uid)
    for uid, paths in by_uid.items():
        assert found[uid] == pydicom_volume(paths, False)[1]
    assert found.skipped == {}


def test_several_series_need_a_choice(series, tmp_path):
    both = [*series["MR_axial"][1], *series["MR_J2K"][1]]
    with pytest.raises(SeriesError) as info:
        rapidicom.read_series(both)
    uids = sorted(pydicom.dcmread(p).SeriesInstanceUID
                  for p in (series["MR_axial"][1][0], series["MR_J2K"][1][0]))
    message = str(info.value)
    assert "2 series" in message and all(uid in message for uid in uids)
    assert isinstance(info.value, rapidicom.DicomError) and isinstance(info.value, ValueError)
    assert len(info.value.paths) == 2
    chosen = rapidicom.read_series(both, series_uid=uids[0])
    assert chosen.series_uid == uids[0] and len(chosen.paths) in (9, 5)
    with pytest.raises(SeriesError, match="1.2.3.4 is not among the files"):
        rapidicom.read_series(both, series_uid="1.2.3.4")


def test_folder_skips_and_reports_other_files(tmp_path):
    paths = write_series(tmp_path / "series", "MR_small.dcm", 4)
    notes = tmp_path / "series" / "notes.txt"
    notes.write_text("not DICOM\n")
    plan = tmp_path / "series" / "sub" / "rtplan.dcm"
    plan.parent.mkdir()
    plan.write_bytes(open(get_testdata_file("rtplan.dcm"), "rb").read())
    volume = rapidicom.read_series(tmp_path / "series")
    assert len(volume.paths) == 4 and set(volume.paths) == set(paths)
    assert set(volume.skipped) == {str(notes), str(plan)}
    assert volume.skipped[str(plan)] == "no Pixel Data"
    assert rapidicom.find_series(tmp_path / "series").skipped == volume.skipped
    # Listed files must all be images.
    with pytest.raises(rapidicom.DicomError):
        rapidicom.read_series([*paths, str(notes)])
    with pytest.raises(SeriesError, match="has no Pixel Data"):
        rapidicom.read_series([*paths, str(plan)])
    with pytest.raises(SeriesError, match="no DICOM image"):
        rapidicom.read_series(tmp_path / "series" / "sub")


# ---------------------------------------------------------------------------
# Enhanced multi-frame images
# ---------------------------------------------------------------------------

def test_enhanced_ct_frames_are_slices():
    path = str(PYDICOM_DATA_STORE / "eCT_Supplemental.dcm")
    volume = rapidicom.read_series(path, modality_lut=True)
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    iop = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    positions = [np.array(f.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
                 for f in ds.PerFrameFunctionalGroupsSequence]
    order = np.argsort([normal_of(iop) @ p for p in positions])
    transform = shared.PixelValueTransformationSequence[0]
    want = ds.pixel_array[order] * float(transform.RescaleSlope) \
        + float(transform.RescaleIntercept)
    np.testing.assert_array_equal(volume.array, want)
    assert volume.frames == list(order) and volume.paths == [path] * 2
    np.testing.assert_allclose(volume.positions, np.array(positions)[order])
    ps = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    assert volume.spacing == pytest.approx((10.0, *ps))
    np.testing.assert_allclose(volume.orientation, iop)


def test_multi_frame_without_positions_or_among_slices(series, tmp_path):
    # emri_small.dcm: 10 frames, no functional groups to place them
    emri = str(PYDICOM_DATA_STORE / "emri_small.dcm")
    with pytest.raises(SeriesError, match="10 frames but 0 Per-frame") as info:
        rapidicom.read_series(emri)
    assert info.value.paths == [emri]
    # an enhanced CT given the Series Instance UID of single-frame slices
    _, paths = series["MR_axial"]
    ds = pydicom.dcmread(PYDICOM_DATA_STORE / "eCT_Supplemental.dcm")
    ds.SeriesInstanceUID = pydicom.dcmread(paths[0]).SeriesInstanceUID
    multi = str(tmp_path / "enhanced.dcm")
    ds.save_as(multi)
    with pytest.raises(SeriesError, match="multi-frame file") as info:
        rapidicom.read_series([*paths, multi])
    assert info.value.paths == [multi]


def test_legacy_converted_enhanced_ct_equals_its_series(series, tmp_path):
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    _, paths = series["CT_oblique"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = LegacyConvertedEnhancedCTImage(
            [pydicom.dcmread(p) for p in paths], series_instance_uid=generate_uid(),
            series_number=2, sop_instance_uid=generate_uid(), instance_number=1)
    image.save_as(tmp_path / "enhanced.dcm")
    for modality_lut in (False, True):
        multi = rapidicom.read_series(tmp_path / "enhanced.dcm", modality_lut=modality_lut)
        single = rapidicom.read_series(paths, modality_lut=modality_lut)
        np.testing.assert_array_equal(multi.array, single.array)
        np.testing.assert_allclose(multi.affine, single.affine, atol=1e-9)


# ---------------------------------------------------------------------------
# Inconsistent series: a clear error naming the files
# ---------------------------------------------------------------------------

@pytest.fixture
def mr_series(tmp_path):
    return str(tmp_path), write_series(tmp_path, "MR_small.dcm", 8, orientation=OBLIQUE)


def raises_naming(source, paths, match, **kw) -> SeriesError:
    with pytest.raises(SeriesError, match=match) as info:
        rapidicom.read_series(source, **kw)
    assert sorted(info.value.paths) == sorted(paths)
    for path in paths:
        assert path in str(info.value)
    return info.value


def test_mixed_orientation(mr_series):
    folder, paths = mr_series
    edit(paths[3], ImageOrientationPatient=[f"{v:.8f}" for v in AXIAL])
    raises_naming(folder, [paths[3]], "differ in Image Orientation")
    # within the tolerance it reads
    edit(paths[3], ImageOrientationPatient=[f"{v + 5e-5:.8f}" for v in OBLIQUE])
    assert len(rapidicom.read_series(folder).paths) == 8
    raises_naming(folder, [paths[3]], "Orientation", orientation_tolerance=1e-5)


def test_missing_slice_is_uneven_spacing(mr_series):
    folder, paths = mr_series
    os.remove(paths[4])
    raises_naming(folder, [paths[3], paths[5]], "spacing is not uniform")


def test_duplicate_positions(mr_series):
    folder, paths = mr_series
    ipp = pydicom.dcmread(paths[2]).ImagePositionPatient
    edit(paths[6], ImagePositionPatient=ipp)
    error = raises_naming(folder, [paths[2], paths[6]], "share a position")
    assert isinstance(error, ValueError)


def test_position_off_the_line(mr_series):
    folder, paths = mr_series
    ipp = np.array(pydicom.dcmread(paths[5]).ImagePositionPatient, dtype=float)
    # moved by 1 mm within its plane (along the row cosines)
    edit(paths[5], ImagePositionPatient=[f"{v:.6f}" for v in ipp + OBLIQUE[:3]])
    raises_naming(folder, [paths[5]], "straight line")


def test_mismatched_sizes(tmp_path):
    uid = generate_uid()
    ct = write_series(tmp_path, "CT_small.dcm", 4, series_uid=uid)
    mr = write_series(tmp_path, "MR_small.dcm", 1, series_uid=uid,
                      origin=(-100.0, -120.0, 40.0))
    raises_naming(str(tmp_path), mr, "image size")
    assert len(ct) == 4


def test_mismatched_pixel_spacing_and_missing_position(mr_series):
    folder, paths = mr_series
    edit(paths[1], PixelSpacing=["0.5", "0.5"])
    raises_naming(folder, [paths[1]], "Pixel Spacing")
    edit(paths[1], PixelSpacing=["0.3125", "0.3125"])
    ds = pydicom.dcmread(paths[7])
    del ds.ImagePositionPatient
    ds.save_as(paths[7])
    raises_naming(folder, [paths[7]], "no usable Image Position")


def test_mismatched_data_type(mr_series):
    folder, paths = mr_series
    ds = pydicom.dcmread(paths[0])
    ds.PixelRepresentation = 0
    ds.PixelData = ds.pixel_array.astype(np.uint16).tobytes()
    ds.save_as(paths[0])
    raises_naming(folder, [paths[0]], "pixel data type")


def test_corrupt_slice_is_a_decode_error_naming_it(tmp_path):
    paths = write_series(tmp_path, "MR_small_RLE.dcm", 5)
    ds = pydicom.dcmread(paths[2])
    frame = bytearray(ds.PixelData)
    # The RLE header of the only fragment follows the Basic Offset Table item
    # (8-byte item header + its length) and the fragment's item header:
    # claim 15 segments whose offsets are all 0.
    header = 8 + int.from_bytes(frame[4:8], "little") + 8
    frame[header:header + 4] = (15).to_bytes(4, "little")
    ds.PixelData = bytes(frame)
    ds.save_as(paths[2])
    with pytest.raises(rapidicom.DecodeError) as info:
        rapidicom.read_series(tmp_path)
    assert info.value.paths == [paths[2]] and paths[2] in str(info.value)
    want, _, _ = pydicom_volume([p for p in paths if p != paths[2]], False)
    np.testing.assert_array_equal(np.delete(info.value.array, 2, axis=0), want)
