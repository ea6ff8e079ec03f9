"""Dask collections over DICOM files: the header index as a dask DataFrame,
decoded frames as a dask Array.

The same work as :mod:`rapidicom.ingest` and :attr:`Pixels.to_array
<rapidicom.Pixels.to_array>`, cut into tasks that any Dask scheduler runs:
threads, local processes, or a ``distributed`` cluster.  Paths must name the
same files on the machine that builds the collection and on the workers
(a shared file system, or a local cluster).

.. code-block:: python

    from distributed import Client
    import rapidicom.dask

    client = Client("tcp://scheduler:8786")
    index = rapidicom.dask.read_index("/archive", keys=["ImageType"])
    ct = index[index.Modality == "CT"].compute()
    frames = rapidicom.dask.read_frames(sorted(ct[ct.Rows == 512].path))
    print(frames.mean().compute())

.. versionadded:: 0.3.0
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

try:
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("rapidicom.dask needs dask: pip install 'rapidicom[dask]'") from exc

import rapidicom
from rapidicom import ingest

__all__ = ["index_meta", "read_frames", "read_index"]


def _entries(paths, follow_symlinks: bool) -> list[tuple[str, str | None]]:
    """``(path, problem)`` pairs: a folder walked with :func:`ingest.walk`, or
    the given files."""
    return ingest._entries(paths, follow_symlinks, Counter(), progress=False)


def _batches(items: Sequence, size: int) -> list[list]:
    """Consecutive lists of `size` items."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------
# The header index
# ---------------------------------------------------------------------------

def _to_pandas(table) -> pd.DataFrame:
    """`table` with Arrow-backed columns: every partition gets the same dtypes
    whatever its values (plain pandas would turn an int column with a null
    into float, and lists into object)."""
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def index_meta(keys: Iterable[str | int] = ()) -> pd.DataFrame:
    """An empty DataFrame with the columns and dtypes of :func:`read_index`.

    .. versionadded:: 0.3.0
    """
    return _to_pandas(ingest.schema(keys).empty_table())


def _index_partition(batch: list, keys: tuple, lenient: bool) -> pd.DataFrame:
    """One partition: a batch of files indexed where the task runs."""
    return _to_pandas(ingest.index_files(batch, keys=keys, lenient=lenient))


def read_index(paths, *, keys: Iterable[str | int] = (), batch_size: int = 1000,
               lenient: bool = False, follow_symlinks: bool = False) -> dd.DataFrame:
    """The header index of files as a dask DataFrame, one partition per batch.

    Each partition is :func:`rapidicom.ingest.index_files` of `batch_size`
    paths, as pandas with Arrow-backed dtypes; the rows and values are those
    of :func:`rapidicom.ingest.index`.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        A folder (walked here, where the collection is built) or files.
    keys : iterable of str or int
        Extra columns (see :func:`rapidicom.ingest.resolve_key`).
    batch_size : int
        Files per partition.
    lenient : bool
        Passed to :func:`rapidicom.open`.
    follow_symlinks : bool
        Follow symbolic links while walking a folder.

    Returns
    -------
    dask.dataframe.DataFrame
        Not yet computed; unknown divisions.

    .. versionadded:: 0.3.0
    """
    keys = tuple(keys)
    meta = index_meta(keys)                 # also rejects bad keys before any task runs
    batches = _batches(_entries(paths, follow_symlinks), batch_size)
    if not batches:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(_index_partition, batches, keys=keys, lenient=lenient, meta=meta,
                       label="rapidicom-index")


# ---------------------------------------------------------------------------
# Decoded frames
# ---------------------------------------------------------------------------

def _frame_layout(path: str, lenient: bool) -> tuple[int, tuple[int, ...], np.dtype]:
    """(number of frames, shape of one frame, dtype) from a file's header."""
    pixels = rapidicom.open(path, lenient=lenient).pixels
    if pixels is None:
        raise ValueError(f"{path}: no Pixel Data")
    return pixels.shape[0], tuple(pixels.shape[1:]), pixels.dtype


def _common_layout(paths: Sequence[str], lenient: bool):
    """Frames per file and the frame shape and dtype they all share."""
    counts = []
    first = None
    for path in paths:
        frames, shape, dtype = _frame_layout(path, lenient)
        if first is None:
            first = (path, shape, dtype)
        elif (shape, dtype) != first[1:]:
            raise ValueError(
                f"{path} has frames of shape {shape} and dtype {dtype}, but {first[0]} has "
                f"{first[1]} and {first[2]}; read_frames needs one frame shape and dtype "
                f"(select files with read_index first, e.g. by Rows, Columns, "
                f"SamplesPerPixel and BitsAllocated)")
        counts.append(frames)
    return counts, first[1], first[2]


def _decode_files(paths: Sequence[str], frames: int, shape: tuple, dtype: np.dtype,
                  as_rgb: bool, threads: int | None, lenient: bool) -> np.ndarray:
    """Every frame of `paths`, in order, decoded into one array."""
    out = np.empty((frames, *shape), dtype=dtype)
    start = 0
    for path in paths:
        pixels = rapidicom.open(path, lenient=lenient).pixels
        if pixels is None or tuple(pixels.shape[1:]) != shape or pixels.dtype != dtype \
                or start + pixels.shape[0] > frames:
            raise ValueError(f"{path} changed since read_frames read its header")
        stop = start + pixels.shape[0]
        pixels.to_array(threads=threads, as_rgb=as_rgb, out=out[start:stop])
        start = stop
    if start != frames:
        raise ValueError(f"{paths[-1]} changed since read_frames read its header")
    return out


def read_frames(paths, *, as_rgb: bool = True, files_per_chunk: int = 1,
                threads: int | None = 1, lenient: bool = False,
                follow_symlinks: bool = False) -> da.Array:
    """The frames of many files as one dask array ``(frames, rows, columns[, samples])``.

    Headers are read here, when the array is built (a header scan per file,
    no pixel data), to learn the number of frames of each file and to check
    that all frames share one shape and dtype.  Decoding happens in the
    tasks: one chunk along the first axis per `files_per_chunk` files, each
    decoded with :meth:`Pixels.to_array <rapidicom.Pixels.to_array>`, so the
    values equal ``ds.pixel_array`` of each file (one frame per row).

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        A folder (every file in it must be an image) or files, in the order
        their frames should come.
    as_rgb : bool
        Convert YBR colour data to RGB, as ``pixel_array`` does.
    files_per_chunk : int
        Files decoded by one task.
    threads : int or None
        Decoding threads inside one task (None: all cores).  The default of 1
        leaves parallelism to the Dask workers.
    lenient : bool
        Passed to :func:`rapidicom.open`.
    follow_symlinks : bool
        Follow symbolic links while walking a folder.

    Returns
    -------
    dask.array.Array

    Raises
    ------
    ValueError
        When a file has no Pixel Data, or frame shapes or dtypes differ
        (the message names both files), or a folder could not be walked.
    rapidicom.DicomError
        When a header cannot be read.

    .. versionadded:: 0.3.0
    """
    files = []
    for path, problem in _entries(paths, follow_symlinks):
        if problem is not None:
            raise ValueError(f"{path}: {problem}")
        files.append(path)
    if not files:
        raise ValueError("read_frames needs at least one file")
    counts, shape, dtype = _common_layout(files, lenient)
    chunks = []
    for group, group_counts in zip(_batches(files, files_per_chunk),
                                   _batches(counts, files_per_chunk)):
        frames = sum(group_counts)
        task = dask.delayed(_decode_files, pure=True)(group, frames, shape, dtype, as_rgb,
                                                      threads, lenient)
        chunks.append(da.from_delayed(task, shape=(frames, *shape), dtype=dtype))
    return da.concatenate(chunks, axis=0)
