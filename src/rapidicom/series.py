"""A series of image slices (CT, MR, PET, ...) read as one 3-D volume.

:func:`find_series` groups files by Series Instance UID; :func:`read_series`
reads one series into a :class:`Volume`: the pixels as one array of shape
(slices, rows, columns), ordered along the slice normal, with the spacing
and the affine that maps voxel indices to patient coordinates.

Why it is fast: every header is read with :func:`rapidicom.open` (no pixel
data is read, large files are memory-mapped); the order and every
consistency check come from the headers alone; only then is the output
allocated, once, and the slices decode on a thread pool straight into their
place in it, with the GIL released by the C decoders.

Invariants: nothing is decoded before the slices are known to share one
orientation, size, pixel spacing and data type, to have distinct positions
and to be evenly spaced on a line; every error names the offending files.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Union

import numpy as np

from rapidicom import _lut
from rapidicom._core import open as _open_dicom
from rapidicom.errors import DecodeError, DicomError, InvalidDicomError
from rapidicom.lut import apply_modality_lut
from rapidicom.pixels import _pool

__all__ = ["SeriesError", "SeriesFiles", "Volume", "find_series", "read_series"]

PathLike = Union[str, os.PathLike]
Source = Union[PathLike, Iterable[PathLike]]

# Slices whose positions along the normal are closer than this (mm) share a
# position (positions are decimal strings: rounding is far smaller).
DUPLICATE_TOLERANCE_MM = 1e-3
# Pixel Spacing values are compared with this relative tolerance.
PIXEL_SPACING_RTOL = 1e-4
# Files named in an error message; SeriesError.paths holds all of them.
NAMED_IN_MESSAGE = 8


class SeriesError(DicomError, ValueError):
    """The files do not form one consistent series (several series, mixed
    orientations or sizes, duplicate positions, uneven spacing, ...).

    Attributes
    ----------
    paths : list of str
        The offending files.

    .. versionadded:: 0.2.0
    """

    code = "series"

    def __init__(self, message: str, *, paths: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.paths = list(paths)


class SeriesFiles(dict):
    """Series Instance UID -> the series' file paths in slice order.

    A ``dict`` whose ``skipped`` attribute maps each file of a walked folder
    that is not a DICOM image (not DICOM, unreadable, no pixel data) to the
    reason.

    .. versionadded:: 0.2.0
    """

    def __init__(self, skipped: dict[str, str] | None = None):
        super().__init__()
        self.skipped = dict(skipped or {})


@dataclass(frozen=True, eq=False, repr=False)
class Volume:
    """One series as a volume, returned by :func:`read_series`.

    Attributes
    ----------
    array : numpy.ndarray
        Shape ``(slices, rows, columns)`` (``(slices, rows, columns,
        samples)`` for colour images), C order: ``array[k]`` is slice `k`,
        ``array[k, r, c]`` the pixel at row `r`, column `c` of it.  Slices
        are ordered by their position along the slice normal, increasing.
    spacing : tuple of float
        ``(slice, row, column)`` spacing in mm: the distance between slice
        planes, between rows (Pixel Spacing's first value) and between
        columns (its second value).
    affine : numpy.ndarray
        4x4 float64 matrix mapping a voxel index ``(k, r, c, 1)`` (the order
        of `array`'s axes) to patient coordinates ``(x, y, z, 1)`` in mm,
        LPS (DICOM's patient coordinate system).  Its first column is the
        step from one slice's position to the next (along the normal unless
        the slices are sheared, e.g. by a gantry tilt).
    paths : list of str
        The file of each slice, in slice order.
    frames : list of int
        The frame of each slice within its file (0 for single-frame files).
    positions : numpy.ndarray
        ``(slices, 3)``: each slice's Image Position (Patient), in slice
        order.
    orientation : numpy.ndarray
        ``(6,)``: Image Orientation (Patient) of the first slice, the row
        direction cosines then the column direction cosines.
    series_uid : str
        The Series Instance UID ("" when the files have none).
    skipped : dict
        Files of a walked folder that are not DICOM images, with the reason.

    .. versionadded:: 0.2.0
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    paths: list[str]
    frames: list[int]
    positions: np.ndarray
    orientation: np.ndarray
    series_uid: str
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def normal(self) -> np.ndarray:
        """The unit slice normal: row cosines x column cosines."""
        return _unit(np.cross(self.orientation[:3], self.orientation[3:]))

    def __repr__(self):
        return (f"<rapidicom.Volume {self.array.shape} {self.array.dtype}, spacing "
                f"{tuple(round(s, 6) for s in self.spacing)} mm, series {self.series_uid}>")


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------

def find_series(paths_or_dir: Source) -> SeriesFiles:
    """Group DICOM images by Series Instance UID, without decoding pixels.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    paths_or_dir : str, os.PathLike or iterable of them
        A folder (walked recursively; files that are not DICOM images are
        skipped and listed in ``.skipped``), one file, or a list of files
        (each must be a DICOM image).

    Returns
    -------
    SeriesFiles
        A dict from Series Instance UID (sorted) to the paths of the
        series' files.  Paths are in slice order (by position along the
        slice normal) when every file has Image Position and Orientation
        (Patient), else by Instance Number, then by path.

    Raises
    ------
    SeriesError
        When no DICOM image is found.
    rapidicom.DicomError, OSError
        For a listed file that is not a readable DICOM image.
    """
    groups, skipped = _scan(paths_or_dir)
    result = SeriesFiles(skipped)
    for uid in sorted(groups):
        result[uid] = [image.path for image in _file_order(groups[uid])]
    return result


def read_series(paths_or_dir: Source, *, series_uid: str | None = None,
                modality_lut: bool = False, threads: int | None = None,
                orientation_tolerance: float = 1e-4,
                spacing_tolerance: float = 0.01) -> Volume:
    """Read a series of slices as one volume, ordered along the slice normal.

    .. versionadded:: 0.2.0

    Parameters
    ----------
    paths_or_dir : str, os.PathLike or iterable of them
        A folder (walked recursively; files that are not DICOM images are
        skipped and listed in ``Volume.skipped``), a list of files (each
        must be a DICOM image), or one file: a single slice, or an enhanced
        multi-frame image whose frames are the slices (positions from the
        Per-frame Functional Groups).
    series_uid : str, optional
        The Series Instance UID to read when the files hold several series.
        Without it several series are an error that lists them; see
        :func:`find_series`.
    modality_lut : bool, optional
        Apply the Modality LUT as :func:`rapidicom.apply_modality_lut` does,
        slice by slice with each slice's own values: when any slice has
        Rescale Slope and Intercept the volume is float64 (``stored * slope
        + intercept``; slices without them are copied unchanged); with a
        Modality LUT Sequence (on every slice) it is the LUT's unsigned
        type.  Enhanced multi-frame images take the values from their Pixel
        Value Transformation functional group.  Default False: stored values.
    threads : int, optional
        Threads decoding slices (default: the CPU count; one for volumes
        under 1 MiB).  Headers are read on the calling thread.
    orientation_tolerance : float, optional
        Largest difference allowed between the Image Orientation (Patient)
        values of two slices, and between 1 and the length of a direction
        cosine vector (or 0 and the dot product of the two).
    spacing_tolerance : float, optional
        Largest relative difference allowed between a gap of slice positions
        along the normal and the median gap, and (in units of the slice
        spacing) largest in-plane distance of a slice position from the
        straight line through the first and last.

    Returns
    -------
    Volume
        ``array`` of shape (slices, rows, columns[, samples]), allocated
        once; ``spacing`` (slice, row, column) in mm; ``affine`` mapping
        ``(k, r, c, 1)`` to LPS patient coordinates in mm; ``paths``,
        ``frames`` and ``positions`` in slice order; ``orientation``.

    Raises
    ------
    SeriesError
        Several series without `series_uid`; slices that differ in
        orientation, size, data type or pixel spacing; missing geometry
        attributes; duplicate positions; uneven spacing; positions off a
        straight line.  The message and ``.paths`` name the files.
    rapidicom.DecodeError
        When slices fail to decode; ``.paths`` names them and ``.array``
        holds the volume with every other slice decoded.
    rapidicom.DicomError, OSError
        For a listed file that is not a readable DICOM image.

    Notes
    -----
    A single-slice volume's slice spacing is Spacing Between Slices, else
    Slice Thickness, else 1.0.  Several multi-frame files, or a multi-frame
    file among single-frame ones, are refused.
    """
    groups, skipped = _scan(paths_or_dir)
    uid = _choose_series(groups, series_uid)
    slices = _slices_of(groups[uid])
    _check_pixels(slices)
    geometry = _Geometry.of(slices, orientation_tolerance, spacing_tolerance)
    slices = [slices[i] for i in geometry.order]
    fill, dtype, plans = _fill_plan(slices, modality_lut)
    array = np.empty((len(slices),) + slices[0].pixels.frame_shape, dtype)
    _decode(slices, array, fill, plans, _thread_count(threads))
    return Volume(array=array, spacing=geometry.spacing, affine=geometry.affine,
                  paths=[s.path for s in slices], frames=[s.frame for s in slices],
                  positions=geometry.positions, orientation=geometry.orientation,
                  series_uid=uid, skipped=skipped)


# ---------------------------------------------------------------------------
# Reading headers
# ---------------------------------------------------------------------------

@dataclass(eq=False)
class _Image:
    """One file's header, kept open until its pixels are decoded."""

    path: str
    ds: object
    pixels: object
    series_uid: str


def _thread_count(threads: int | None) -> int:
    return max(1, int(threads)) if threads is not None else (os.cpu_count() or 1)


def _paths_of(source: Source) -> tuple[list[str], bool]:
    """The files to read, and whether they come from walking a folder."""
    if isinstance(source, (str, bytes, os.PathLike)):
        path = os.fsdecode(source)
        if os.path.isdir(path):
            return _walk(path), True
        return [path], False
    return [os.fsdecode(p) for p in source], False


def _walk(folder: str) -> list[str]:
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        paths.extend(os.path.join(root, name) for name in sorted(files))
    return paths


def _open_image(path: str) -> _Image:
    ds = _open_dicom(path)
    pixels = ds.pixels
    if pixels is None:
        raise SeriesError(f"{path} has no Pixel Data", paths=[path])
    uid = ds.get("SeriesInstanceUID") or ""
    return _Image(path, ds, pixels, str(uid).strip())


def _reason_skipped(path: str) -> _Image | str:
    """The image in `path`, or why the file is not one."""
    try:
        return _open_image(path)
    except SeriesError:
        return "no Pixel Data"
    except DicomError as exc:
        return f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        return f"cannot be read: {exc}"


def _scan(source: Source) -> tuple[dict[str, list[_Image]], dict[str, str]]:
    """Images grouped by Series Instance UID, and the skipped files.

    Headers are read on the calling thread: with the files in the page
    cache the work is bound by the GIL, and threads only add contention."""
    paths, walked = _paths_of(source)
    if not paths:
        raise SeriesError(f"no files in {source!r}")
    results = [(_reason_skipped if walked else _open_image)(path) for path in paths]
    groups: dict[str, list[_Image]] = {}
    skipped: dict[str, str] = {}
    for path, result in zip(paths, results):
        if isinstance(result, str):
            skipped[path] = result
        else:
            groups.setdefault(result.series_uid, []).append(result)
    if not groups:
        reasons = "; ".join(f"{p}: {r}" for p, r in list(skipped.items())[:3])
        raise SeriesError(f"no DICOM image among the {len(paths)} files of {source!r} "
                          f"({reasons})", paths=list(skipped))
    return groups, skipped


def _choose_series(groups: dict[str, list[_Image]], series_uid: str | None) -> str:
    if series_uid is not None and series_uid in groups:
        return series_uid
    if series_uid is None and len(groups) == 1:
        return next(iter(groups))
    listing = "; ".join(f"{uid or '(no Series Instance UID)'}: {len(images)} file(s), "
                        f"e.g. {images[0].path}" for uid, images in sorted(groups.items()))
    examples = [images[0].path for _, images in sorted(groups.items())]
    if series_uid is not None:
        raise SeriesError(f"series {series_uid} is not among the files; found {listing}",
                          paths=examples)
    raise SeriesError(f"the files hold {len(groups)} series: {listing}.  Pass series_uid= "
                      "to read one (rapidicom.find_series lists each series' files)",
                      paths=examples)


def _file_order(images: list[_Image]) -> list[_Image]:
    """Images by position along the first one's normal when every one has
    a position and orientation, else by Instance Number, then by path."""
    positions = [_floats(im.ds.get("ImagePositionPatient"), 3) for im in images]
    orientation = _floats(images[0].ds.get("ImageOrientationPatient"), 6)
    if orientation is not None and all(p is not None for p in positions):
        normal = np.cross(orientation[:3], orientation[3:])
        keys = [(float(p @ normal), im.path) for p, im in zip(positions, images)]
    else:
        keys = [(_instance_number(im.ds), im.path) for im in images]
    return [im for _, im in sorted(zip(keys, images), key=lambda pair: pair[0])]


def _instance_number(ds) -> float:
    value = ds.get("InstanceNumber")
    return float(value) if isinstance(value, (int, float)) else float("inf")


# ---------------------------------------------------------------------------
# Slices and their attributes
# ---------------------------------------------------------------------------

@dataclass(eq=False)
class _Slice:
    """One slice: a single-frame file, or one frame of a multi-frame file."""

    image: _Image
    frame: int
    position: np.ndarray | None
    orientation: np.ndarray | None
    pixel_spacing: tuple[float, float] | None
    # Spacing Between Slices, else Slice Thickness: a lone slice's spacing
    nominal_spacing: float | None
    # the attributes holding Rescale Slope / Intercept or a Modality LUT
    # Sequence: the file's dataset, or a functional group item
    modality_source: object

    @property
    def path(self) -> str:
        return self.image.path

    @property
    def pixels(self):
        return self.image.pixels

    @property
    def name(self) -> str:
        if self.image.pixels.number_of_frames > 1:
            return f"{self.path} (frame {self.frame + 1})"
        return self.path


def _floats(value, count: int) -> np.ndarray | None:
    """`count` numbers as float64, or None when the value is missing or is
    not `count` numbers."""
    if not isinstance(value, list) or len(value) != count:
        return None
    if not all(isinstance(v, (int, float)) for v in value):
        return None
    return np.array(value, dtype=np.float64)


def _pixel_spacing(item) -> tuple[float, float] | None:
    values = _floats(item.get("PixelSpacing"), 2)
    return None if values is None else (float(values[0]), float(values[1]))


def _nominal_spacing(item) -> float | None:
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = item.get(keyword)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def _slices_of(images: list[_Image]) -> list[_Slice]:
    """The slices of single-frame files, or the frames of one multi-frame
    (or enhanced single-frame) file."""
    multi = [im for im in images if im.pixels.number_of_frames > 1]
    if len(images) == 1 and (multi or "PerFrameFunctionalGroupsSequence" in images[0].ds):
        return _frames_of(images[0])
    if multi:
        raise SeriesError(
            f"{len(multi)} multi-frame file(s) among the {len(images)} files of the series: "
            f"{_names([im.path for im in multi])}; read a multi-frame image on its own",
            paths=[im.path for im in multi])
    return [_Slice(im, 0, _floats(im.ds.get("ImagePositionPatient"), 3),
                   _floats(im.ds.get("ImageOrientationPatient"), 6),
                   _pixel_spacing(im.ds), _nominal_spacing(im.ds), im.ds) for im in images]


def _functional_group(image: _Image, per_frame, keyword: str):
    """The first item of functional group `keyword` for a frame: from its
    Per-frame Functional Groups item, else the Shared one, else None."""
    shared = image.ds.get("SharedFunctionalGroupsSequence") or [None]
    for groups in (per_frame, shared[0]):
        if groups is not None:
            seq = groups.get(keyword)
            if seq:
                return seq[0]
    return None


def _frames_of(image: _Image) -> list[_Slice]:
    """The frames of an enhanced multi-frame image as slices, with the
    geometry of the Plane Position, Plane Orientation and Pixel Measures
    functional groups."""
    count = image.pixels.number_of_frames
    per_frame = image.ds.get("PerFrameFunctionalGroupsSequence") or []
    if len(per_frame) != count:
        raise SeriesError(
            f"{image.path} has {count} frames but {len(per_frame)} Per-frame Functional "
            "Groups items: the position of each frame is unknown", paths=[image.path])
    slices = []
    for frame, groups in enumerate(per_frame):
        position = _functional_group(image, groups, "PlanePositionSequence")
        orientation = _functional_group(image, groups, "PlaneOrientationSequence")
        measures = _functional_group(image, groups, "PixelMeasuresSequence")
        transform = _functional_group(image, groups, "PixelValueTransformationSequence")
        slices.append(_Slice(
            image, frame,
            None if position is None else _floats(position.get("ImagePositionPatient"), 3),
            None if orientation is None else
            _floats(orientation.get("ImageOrientationPatient"), 6),
            None if measures is None else _pixel_spacing(measures),
            None if measures is None else _nominal_spacing(measures),
            transform if transform is not None else image.ds))
    return slices


# ---------------------------------------------------------------------------
# Consistency checks
# ---------------------------------------------------------------------------

def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMED_IN_MESSAGE])
    more = len(names) - NAMED_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


def _require_same(slices: list[_Slice], values: list, what: str) -> None:
    """Every slice has the most common of `values`; else an error naming
    the others with theirs."""
    common, _ = Counter(values).most_common(1)[0]
    odd = [(s, v) for s, v in zip(slices, values) if v != common]
    if odd:
        raise SeriesError(
            f"{len(odd)} of {len(slices)} slices differ in {what} from the others "
            f"({common}): {_names([f'{s.name} ({v})' for s, v in odd])}",
            paths=[s.path for s, _ in odd])


def _check_pixels(slices: list[_Slice]) -> None:
    _require_same(slices, [s.pixels.frame_shape for s in slices],
                  "image size (Rows, Columns[, Samples per Pixel])")
    _require_same(slices, [str(s.pixels.dtype) for s in slices],
                  "pixel data type (Bits Allocated, Pixel Representation)")


def _require_attribute(slices: list[_Slice], attribute: str, what: str) -> None:
    missing = [s for s in slices if getattr(s, attribute) is None]
    if missing:
        raise SeriesError(f"{len(missing)} of {len(slices)} slices have no usable {what}: "
                          f"{_names([s.name for s in missing])}",
                          paths=[s.path for s in missing])


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@dataclass
class _Geometry:
    """Slice order, spacing and affine, checked from the headers."""

    order: list[int]
    spacing: tuple[float, float, float]
    affine: np.ndarray
    positions: np.ndarray
    orientation: np.ndarray

    @classmethod
    def of(cls, slices: list[_Slice], orientation_tolerance: float,
           spacing_tolerance: float) -> _Geometry:
        for attribute, what in (("position", "Image Position (Patient)"),
                                ("orientation", "Image Orientation (Patient)"),
                                ("pixel_spacing", "Pixel Spacing")):
            _require_attribute(slices, attribute, what)
        normal = _check_orientations(slices, orientation_tolerance)
        row_spacing, column_spacing = _check_pixel_spacing(slices)
        positions = np.array([s.position for s in slices])
        along = positions @ normal
        order = [int(i) for i in np.argsort(along, kind="stable")]
        ordered = [slices[i] for i in order]
        along, positions = along[order], positions[order]
        _check_duplicates(ordered, along)
        step, slice_spacing = _slice_step(ordered, along, positions, normal,
                                          spacing_tolerance)
        orientation = ordered[0].orientation
        affine = np.eye(4)
        affine[:3, 0] = step
        affine[:3, 1] = orientation[3:] * row_spacing
        affine[:3, 2] = orientation[:3] * column_spacing
        affine[:3, 3] = positions[0]
        return cls(order, (slice_spacing, row_spacing, column_spacing), affine,
                   positions, orientation.copy())


def _check_orientations(slices: list[_Slice], tolerance: float) -> np.ndarray:
    """Every slice's orientation is the median one within `tolerance`, and
    that one is made of two orthogonal unit vectors.  Returns the normal."""
    orientations = np.array([s.orientation for s in slices])
    reference = np.median(orientations, axis=0)
    off = np.abs(orientations - reference).max(axis=1) > tolerance
    if off.any():
        odd = [s for s, bad in zip(slices, off) if bad]
        raise SeriesError(
            f"{len(odd)} of {len(slices)} slices differ in Image Orientation (Patient) from "
            f"the others ({_format(reference)}) by more than {tolerance}: "
            f"{_names([f'{s.name} ({_format(s.orientation)})' for s in odd])}",
            paths=[s.path for s in odd])
    row, column = reference[:3], reference[3:]
    if (abs(np.linalg.norm(row) - 1) > tolerance or abs(np.linalg.norm(column) - 1) > tolerance
            or abs(row @ column) > tolerance):
        raise SeriesError(
            f"Image Orientation (Patient) {_format(reference)} of {slices[0].name} is not two "
            f"orthogonal unit vectors (tolerance {tolerance})", paths=[slices[0].path])
    return _unit(np.cross(row, column))


def _format(values) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"


def _check_pixel_spacing(slices: list[_Slice]) -> tuple[float, float]:
    spacings = [s.pixel_spacing for s in slices]
    common, _ = Counter(spacings).most_common(1)[0]
    off = np.abs(np.array(spacings) - common) > PIXEL_SPACING_RTOL * np.abs(common)
    odd = [s for s, bad in zip(slices, off.any(axis=1)) if bad]
    if odd:
        raise SeriesError(
            f"{len(odd)} of {len(slices)} slices differ in Pixel Spacing from the others "
            f"({list(common)}): {_names([f'{s.name} ({list(s.pixel_spacing)})' for s in odd])}",
            paths=[s.path for s in odd])
    if min(common) <= 0:
        raise SeriesError(f"Pixel Spacing {list(common)} of {slices[0].name} is not positive",
                          paths=[slices[0].path])
    return common


def _neighbour_paths(ordered: list[_Slice], starts) -> list[str]:
    """The paths of slices ``i`` and ``i + 1`` for each ``i`` in `starts`,
    sorted, each once."""
    return sorted({ordered[j].path for i in starts for j in (i, i + 1)})


def _check_duplicates(ordered: list[_Slice], along: np.ndarray) -> None:
    same = np.flatnonzero(np.diff(along) <= DUPLICATE_TOLERANCE_MM)
    if same.size:
        pairs = [f"{ordered[i].name} and {ordered[i + 1].name} at {along[i]:.6g} mm"
                 for i in same]
        raise SeriesError(
            f"{same.size} pair(s) of slices share a position along the slice normal "
            f"(several acquisitions, echoes or time points in one series?): {_names(pairs)}",
            paths=_neighbour_paths(ordered, same))


def _slice_step(ordered: list[_Slice], along: np.ndarray, positions: np.ndarray,
                normal: np.ndarray, tolerance: float) -> tuple[np.ndarray, float]:
    """The vector from one slice position to the next and the distance
    between slice planes, after checking the gaps are even and the
    positions lie on a straight line."""
    if len(ordered) == 1:
        spacing = ordered[0].nominal_spacing or 1.0
        return normal * spacing, spacing
    gaps = np.diff(along)
    median = float(np.median(gaps))
    uneven = np.flatnonzero(np.abs(gaps - median) > tolerance * median)
    if uneven.size:
        described = [f"{gaps[i]:.6g} mm between {ordered[i].name} and {ordered[i + 1].name}"
                     for i in uneven]
        raise SeriesError(
            f"the slice spacing is not uniform (median {median:.6g} mm, tolerance "
            f"{tolerance:.3g} relative; missing slices?): {_names(described)}",
            paths=_neighbour_paths(ordered, uneven))
    count = len(ordered) - 1
    step = (positions[-1] - positions[0]) / count
    line = positions[0] + np.arange(len(ordered))[:, None] * step
    drift = positions - line
    drift -= np.outer(drift @ normal, normal)   # along the normal: checked above
    off = np.flatnonzero(np.linalg.norm(drift, axis=1) > tolerance * median)
    if off.size:
        raise SeriesError(
            "the slice positions do not lie on a straight line (in-plane offsets of more "
            f"than {tolerance * median:.3g} mm): "
            f"{_names([f'{ordered[i].name} ({np.linalg.norm(drift[i]):.3g} mm)' for i in off])}",
            paths=[ordered[i].path for i in off])
    return step, float((along[-1] - along[0]) / count)


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

def _modality(source, name: str):
    """("lut", dtype), ("rescale", slope, intercept) or None for a slice, as
    apply_modality_lut decides: a Modality LUT Sequence first, then Rescale
    Slope and Intercept when both are present."""
    seq = source.get("ModalityLUTSequence")
    if seq:
        descriptor = seq[0].get("LUTDescriptor")
        bits = descriptor[2] if isinstance(descriptor, list) and len(descriptor) == 3 else None
        if bits not in (8, 16, 32, 64):
            raise InvalidDicomError(f"{name}: Modality LUT Descriptor {descriptor!r} is not "
                                    "usable", tag=0x00283002)
        return ("lut", np.dtype(f"uint{bits}"))
    if "RescaleSlope" in source and "RescaleIntercept" in source:
        slope, intercept = source.get("RescaleSlope"), source.get("RescaleIntercept")
        if not isinstance(slope, (int, float)) or not isinstance(intercept, (int, float)):
            raise InvalidDicomError(f"{name}: Rescale Slope {slope!r} / Rescale Intercept "
                                    f"{intercept!r} are not numbers", tag=0x00281053)
        return ("rescale", float(slope), float(intercept))
    return None


def _fill_plan(slices: list[_Slice], modality_lut: bool):
    """How each slice is written into the volume: (fill function, output
    dtype, per-slice argument of the function)."""
    stored = slices[0].pixels.dtype
    if not modality_lut:
        return _fill_stored, stored, [None] * len(slices)
    plans = [_modality(s.modality_source, s.name) for s in slices]
    kinds = [None if p is None else p[0] for p in plans]
    if "lut" in kinds:
        first = kinds.index("lut")
        odd = [s for s, p in zip(slices, plans) if p != plans[first]]
        if odd:
            raise SeriesError(
                "the slices do not all have a Modality LUT Sequence of the same type: "
                f"{_names([s.name for s in odd])} differ from {slices[first].name}",
                paths=[s.path for s in odd])
        return _fill_lut, plans[first][1], plans
    if "rescale" in kinds:
        return _fill_rescaled, np.dtype(np.float64), plans
    return _fill_stored, stored, plans


def _fill_stored(s: _Slice, plan, out: np.ndarray) -> None:
    s.pixels.frame(s.frame, out=out)


def _fill_rescaled(s: _Slice, plan, out: np.ndarray) -> None:
    """out = stored * slope + intercept in float64 (one C pass from the
    stored frame, a view of the file for native data), or the stored values
    when the slice has no rescale."""
    stored = np.ascontiguousarray(s.pixels.frame(s.frame))
    if plan is None:
        out[...] = stored
        return
    _, slope, intercept = plan
    code = _lut.DTYPES[(stored.dtype.kind, stored.dtype.itemsize)]
    _lut.rescale(stored.reshape(-1).view(np.uint8), code, stored.size, slope, intercept,
                 out.reshape(-1).view(np.uint8))


def _fill_lut(s: _Slice, plan, out: np.ndarray) -> None:
    out[...] = apply_modality_lut(s.pixels.frame(s.frame), s.modality_source)


def _decode(slices: list[_Slice], array: np.ndarray, fill, plans: list,
            threads: int) -> None:
    """Decode every slice into its place in `array`; slices run in parallel
    (each decoder single-threaded, so pools never nest)."""
    if array.nbytes < (1 << 20):
        threads = 1
    errors: dict[int, Exception] = {}

    def work(k: int) -> None:
        try:
            fill(slices[k], plans[k], array[k])
        except DicomError as exc:
            errors[k] = exc

    # The first slice alone: a multi-frame file builds its frame table once
    # before the workers share it, and a series that cannot decode fails fast.
    work(0)
    if errors or threads == 1:
        for k in range(1, len(slices)):
            work(k)
    else:
        for s in slices:
            s.pixels._codec_threads = 1
        list(_pool(min(threads, len(slices))).map(work, range(1, len(slices))))
    if errors:
        _raise_decode_errors(slices, array, errors)


def _raise_decode_errors(slices: list[_Slice], array: np.ndarray,
                         errors: dict[int, Exception]) -> None:
    failed = sorted(errors)
    first = errors[failed[0]]
    exc = DecodeError(
        f"{len(failed)} of {len(slices)} slices could not be decoded: "
        f"{_names([slices[k].name for k in failed])}; the others are in .array.  "
        f"First error ({slices[failed[0]].name}): {first}", offset=first.offset,
        tag=first.tag)
    exc.paths = [slices[k].path for k in failed]
    exc.array = array
    raise exc from first
