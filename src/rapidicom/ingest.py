"""Header index of a tree of DICOM files, as an Arrow table or a Parquet file.

``rapidicom ingest DIR --out index.parquet`` and the functions here walk a
folder, open every file with :func:`rapidicom.open` (a header scan: Pixel
Data is located, never read) and make one row per file: its path, size and
modification time, the transfer syntax, the UIDs and the patient, study,
series and image attributes listed in :data:`ATTRIBUTES`, any extra
``keys`` the caller names, and an ``error`` column.

Nothing is ever lost from the index: a file that cannot be read (no
permission, not DICOM, truncated, a value that does not convert) still gets
a row, with the message in ``error`` and whatever could be read in the
other columns; a directory that cannot be listed gets a row too.  The
schema depends only on ``keys`` (:func:`schema`), so every batch, every
worker and every rerun produce the same columns.

Why it is fast: opening a file costs one ``read()`` or ``mmap`` and one C
pass over the header; values are converted only for the columns asked for;
rows are built column-wise per batch of files and handed to Arrow in one
call per column; with ``workers > 1`` batches run in worker processes
(``forkserver`` or ``spawn``: nothing is inherited) that send back plain
column lists, in order, and the parent writes them as they come.  As with
any multiprocessing code, a script that starts workers needs an
``if __name__ == "__main__":`` guard.

Python API:

* :func:`walk` -- the files under a folder, with the problems met on the way;
* :func:`index_files` -- one batch of files, in this process, as a table
  (what each worker and each Dask partition runs);
* :func:`index` -- a folder or a list of paths as one table, optionally
  with worker processes;
* :func:`write` -- a folder to a Parquet file, in bounded memory, resuming
  from an existing file.

.. versionadded:: 0.3.0
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import re
import signal
import stat
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("rapidicom.ingest needs pyarrow: pip install 'rapidicom[ingest]'") from exc

import rapidicom
from rapidicom._progress import Progress

__all__ = [
    "ATTRIBUTES",
    "IngestSummary",
    "KeyColumn",
    "index",
    "index_files",
    "resolve_key",
    "schema",
    "walk",
    "write",
]

# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------

# Kinds of column: how a value read from the file becomes an Arrow value.
TEXT, INT, FLOAT, TEXT_LIST, INT_LIST, FLOAT_LIST, RAW = (
    "text", "int", "float", "text_list", "int_list", "float_list", "raw")

ARROW_TYPES = {
    TEXT: pa.string(), INT: pa.int64(), FLOAT: pa.float64(),
    TEXT_LIST: pa.list_(pa.string()), INT_LIST: pa.list_(pa.int64()),
    FLOAT_LIST: pa.list_(pa.float64()), RAW: pa.binary(),
}

ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("SOPClassUID", TEXT), ("SOPInstanceUID", TEXT),
    ("SeriesInstanceUID", TEXT), ("StudyInstanceUID", TEXT),
    ("PatientID", TEXT), ("PatientName", TEXT), ("PatientBirthDate", TEXT),
    ("PatientSex", TEXT), ("StudyDate", TEXT), ("StudyTime", TEXT),
    ("StudyDescription", TEXT), ("SeriesDescription", TEXT),
    ("SeriesNumber", INT), ("InstanceNumber", INT), ("AccessionNumber", TEXT),
    ("Modality", TEXT), ("Manufacturer", TEXT),
    ("Rows", INT), ("Columns", INT), ("NumberOfFrames", INT),
    ("BitsAllocated", INT), ("BitsStored", INT), ("SamplesPerPixel", INT),
    ("PhotometricInterpretation", TEXT),
    ("ImagePositionPatient", FLOAT_LIST), ("ImageOrientationPatient", FLOAT_LIST),
    ("PixelSpacing", FLOAT_LIST), ("SliceThickness", FLOAT),
)
"""The attributes every index has, as (keyword, kind).  Text attributes with
several values keep them joined by a backslash, as stored in the file;
SliceThickness has one value (VM 1), so it is a plain double."""

FILE_COLUMNS = (("path", pa.string()), ("size", pa.int64()),
                ("mtime", pa.timestamp("ns", tz="UTC")), ("transfer_syntax", pa.string()))
ERROR_COLUMN = ("error", pa.string())

_INT_VRS = {"US", "SS", "UL", "SL", "IS", "SV", "UV", "AT"}
_FLOAT_VRS = {"FL", "FD", "DS"}
_BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class KeyColumn:
    """One column read from the dataset: its name, tag and kind."""

    name: str
    tag: int
    kind: str


def _kind_for_vr(vr: str, vm: str) -> str:
    """The column kind of a dictionary entry; binary when the VR is ambiguous
    between kinds (``US or OW``) or unknown, because raw bytes lose nothing."""
    kinds = set()
    for one in vr.split(" or "):
        if one in _INT_VRS:
            kinds.add(INT)
        elif one in _FLOAT_VRS:
            kinds.add(FLOAT)
        elif one in _BINARY_VRS:
            kinds.add(RAW)
        elif one == "SQ":
            raise ValueError("sequences cannot be index columns")
        else:
            kinds.add(TEXT)
    if len(kinds) != 1:
        return RAW
    kind = kinds.pop()
    if kind == RAW or vm == "1":
        return kind
    return {INT: INT_LIST, FLOAT: FLOAT_LIST, TEXT: TEXT_LIST}[kind]


_TAG_FORMS = (
    re.compile(r"^\(?\s*([0-9A-Fa-f]{4})\s*[,|]\s*([0-9A-Fa-f]{4})\s*\)?$"),  # (0010,0010)
    re.compile(r"^(?:0x)?([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$"),                 # 0x00100010
)


def _parse_tag(key: str | int) -> int:
    if isinstance(key, int):
        return key
    text = key.strip()
    tag = rapidicom.tag_for_keyword(text)
    if tag is not None:
        return tag
    for form in _TAG_FORMS:
        match = form.match(text)
        if match:
            return int(match.group(1), 16) << 16 | int(match.group(2), 16)
    raise ValueError(f"{key!r} is neither a DICOM keyword nor a tag such as "
                     f"'(0010,0010)' or '0x00100010'")


def resolve_key(key: str | int) -> KeyColumn:
    """The column for a keyword (``"ImageType"``) or tag (``0x00080008``,
    ``"(0008,0008)"``, ``"0x00080008"``, ``"00080008"``).

    The column is named after the keyword, or ``"(GGGG,EEEE)"`` for tags the
    dictionary does not know.  Its type follows the dictionary: integer VRs
    give ``int64``, DS/FL/FD ``float64``, text ``string`` (lists of those when
    the VM allows several values), binary VRs and private or unknown tags the
    raw value bytes (``binary``).

    Raises
    ------
    ValueError
        For text that is not a keyword or tag, and for sequences.

    .. versionadded:: 0.3.0
    """
    tag = _parse_tag(key)
    if not 0 <= tag <= 0xFFFFFFFF:
        raise ValueError(f"{key!r} is not a 32-bit tag")
    entry = rapidicom.dictionary_entry(tag)
    if entry is None:
        return KeyColumn(f"({tag >> 16:04X},{tag & 0xFFFF:04X})", tag, RAW)
    vr, vm, _name, keyword, _retired = entry
    try:
        kind = _kind_for_vr(vr, vm)
    except ValueError as exc:
        raise ValueError(f"{key!r}: {exc}") from None
    return KeyColumn(keyword or f"({tag >> 16:04X},{tag & 0xFFFF:04X})", tag, kind)


def _columns(keys: Iterable[str | int]) -> tuple[KeyColumn, ...]:
    """The fixed attributes followed by the extra keys (duplicates dropped)."""
    columns = [KeyColumn(kw, rapidicom.tag_for_keyword(kw), kind) for kw, kind in ATTRIBUTES]
    seen = {c.name for c in columns}
    for key in keys:
        column = resolve_key(key)
        if column.name not in seen:
            seen.add(column.name)
            columns.append(column)
    return tuple(columns)


def schema(keys: Iterable[str | int] = ()) -> pa.Schema:
    """The Arrow schema of an index with the extra `keys`.

    Columns: ``path``, ``size``, ``mtime`` (UTC, ns), ``transfer_syntax``,
    the :data:`ATTRIBUTES`, the extra keys (see :func:`resolve_key`), and
    ``error`` (null when the whole file was read).

    .. versionadded:: 0.3.0
    """
    return _schema(_columns(keys))


def _schema(columns: Sequence[KeyColumn]) -> pa.Schema:
    fields = [pa.field(name, kind) for name, kind in FILE_COLUMNS]
    fields += [pa.field(c.name, ARROW_TYPES[c.kind]) for c in columns]
    fields.append(pa.field(*ERROR_COLUMN))
    return pa.schema(fields)


# ---------------------------------------------------------------------------
# Values -> column values
# ---------------------------------------------------------------------------

def _text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\\".join("" if v is None else str(v) for v in value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).rstrip(b"\0 ").decode("utf-8", "replace")
    return str(value)


def _int(value):
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"{len(value)} values where one was expected")
        value = value[0]
    if isinstance(value, str):
        if not value.strip():
            return None
        value = value.strip()
    number = int(value)
    if number != value and not isinstance(value, str):
        raise ValueError(f"{value!r} is not an integer")
    if not _INT64[0] <= number <= _INT64[1]:
        raise ValueError(f"{number} does not fit in 64 bits")
    return number


def _float(value):
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"{len(value)} values where one was expected")
        value = value[0]
    if isinstance(value, str) and not value.strip():
        return None
    return float(value)


def _listed(value) -> list:
    if hasattr(value, "tolist"):        # long numeric values come as arrays
        value = value.tolist()
    return value if isinstance(value, list) else [value]


def _optional(convert):
    """`convert` for list items, where an empty item stays null."""
    return lambda v: None if v is None or v == "" else convert(v)


_INT_ITEM = _optional(_int)
_FLOAT_ITEM = _optional(_float)


def _convert(kind: str, value, element):
    """The column value of one element (`element` only for raw bytes)."""
    if kind == RAW:
        return bytes(element.raw)
    if value is None:
        return None
    if kind == TEXT:
        return _text(value)
    if kind == INT:
        return _int(value)
    if kind == FLOAT:
        return _float(value)
    if kind == TEXT_LIST:
        return [None if v is None else _text(v) for v in _listed(value)]
    if kind == INT_LIST:
        return [_INT_ITEM(v) for v in _listed(value)]
    return [_FLOAT_ITEM(v) for v in _listed(value)]


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------
# One batch of files -> one table
# ---------------------------------------------------------------------------

class _Rows:
    """Column-wise rows of one batch, as plain lists.

    Worker processes return these lists and the parent makes the Arrow
    table: pyarrow imports pandas the first time it converts Python objects,
    which would cost every worker about half a second of start-up."""

    def __init__(self, columns: Sequence[KeyColumn]) -> None:
        self.columns = columns
        self.data: dict[str, list] = {name: [] for name, _ in FILE_COLUMNS}
        self.data.update((c.name, []) for c in columns)
        self.data["error"] = []

    def add(self, path: str, st: os.stat_result | None, transfer_syntax, values: list,
            errors: list[str]) -> None:
        data = self.data
        data["path"].append(path)
        data["size"].append(st.st_size if st is not None else None)
        data["mtime"].append(st.st_mtime_ns if st is not None else None)
        data["transfer_syntax"].append(transfer_syntax)
        for column, value in zip(self.columns, values):
            data[column.name].append(value)
        data["error"].append("; ".join(errors) if errors else None)

    def add_failure(self, path: str, st: os.stat_result | None, message: str) -> None:
        self.add(path, st, None, [None] * len(self.columns), [message])


def _table(data: dict[str, list], columns: Sequence[KeyColumn]) -> pa.Table:
    """Column lists from :class:`_Rows` as a table with the fixed schema."""
    return pa.Table.from_pydict(data, schema=_schema(columns))


def _read_values(ds, columns: Sequence[KeyColumn], errors: list[str]) -> list:
    """The column values of one dataset; a value that fails becomes null and
    a note in `errors`, the others are still read."""
    values = []
    get = ds.get
    for column in columns:
        try:
            if column.kind == RAW:
                values.append(_convert(RAW, None, ds.element(column.tag))
                              if column.tag in ds else None)
            else:
                values.append(_convert(column.kind, get(column.tag), None))
        except Exception as exc:  # one bad value must not cost the row
            values.append(None)
            errors.append(f"{column.name}: {_message(exc)}")
    return values


def _index_one(rows: _Rows, path: str, problem: str | None, lenient: bool) -> None:
    """Add the row of one file (or of a problem met while walking)."""
    if problem is not None:
        rows.add_failure(path, None, problem)
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        rows.add_failure(path, None, _message(exc))
        return
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would block, a device could be endless.
        rows.add_failure(path, st, "not a regular file")
        return
    try:
        ds = rapidicom.open(path, lenient=lenient)
        if len(ds) == 0 and len(ds.meta) == 0:
            raise rapidicom.InvalidDicomError("no DICOM elements (empty file?)")
        transfer_syntax = ds.transfer_syntax
    except Exception as exc:  # any unreadable file is a row, never a stop
        rows.add_failure(path, st, _message(exc))
        return
    errors: list[str] = []
    values = _read_values(ds, rows.columns, errors)
    rows.add(path, st, transfer_syntax, values, errors)


def _entry(item) -> tuple[str, str | None]:
    """A path or a ``(path, problem)`` pair as a pair."""
    if isinstance(item, tuple):
        path, problem = item
        return os.fspath(path), problem
    return os.fspath(item), None


def index_files(paths: Iterable, *, keys: Iterable[str | int] = (),
                lenient: bool = False) -> pa.Table:
    """Index a batch of files in this process; one row per path, in order.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files to read.  ``(path, problem)`` pairs as yielded by :func:`walk`
        are accepted too: a pair with a problem becomes a row with that
        error, without touching the file.
    keys : iterable of str or int
        Extra columns (see :func:`resolve_key`).
    lenient : bool
        Open with ``rapidicom.open(path, lenient=True)`` (accept a last value
        cut short).

    Returns
    -------
    pyarrow.Table
        With the schema ``schema(keys)``.

    .. versionadded:: 0.3.0
    """
    columns = _columns(keys)
    return _table(_index_rows(paths, columns, lenient), columns)


def _index_rows(paths: Iterable, columns: Sequence[KeyColumn],
                lenient: bool) -> dict[str, list]:
    """The rows of a batch as column lists (what a worker process returns)."""
    rows = _Rows(columns)
    for item in paths:
        path, problem = _entry(item)
        _index_one(rows, path, problem, lenient)
    return rows.data


# ---------------------------------------------------------------------------
# Walking a tree
# ---------------------------------------------------------------------------

def walk(root: str | os.PathLike, *, follow_symlinks: bool = False,
         counts: Counter | None = None) -> Iterator[tuple[str, str | None]]:
    """Yield ``(path, problem)`` for every file under `root`.

    `problem` is None for a file to read, or a message for something that
    must still appear in an index: a directory that cannot be listed, a
    broken symbolic link (when following links).  Entries of a directory
    come in name order, its files before its subdirectories, so the order is
    the same on every run.

    Symbolic links are followed only when `follow_symlinks` is true; a
    directory already visited (a link loop, or two links to one directory)
    is recognised by its ``(st_dev, st_ino)`` and not entered again.  What
    was passed over is counted in `counts` (``"symlinks not followed"``,
    ``"directories seen before"``).  `root` itself is always followed.

    .. versionadded:: 0.3.0
    """
    counts = counts if counts is not None else Counter()
    root = os.fspath(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        yield root, _message(exc)
        return
    if not stat.S_ISDIR(st.st_mode):
        yield root, None
        return
    visited = {(st.st_dev, st.st_ino)}
    stack = [root]
    while stack:
        directory = stack.pop()
        subdirs: list[str] = []
        yield from _walk_directory(directory, follow_symlinks, visited, subdirs, counts)
        stack.extend(reversed(subdirs))


def _walk_directory(directory: str, follow_symlinks: bool, visited: set,
                    subdirs: list[str], counts: Counter):
    """Yield the entries of one directory; collect the subdirectories to
    enter in `subdirs` (marked as visited)."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield directory, f"cannot list directory: {_message(exc)}"
        return
    for entry in entries:
        try:
            if entry.is_symlink():
                if not follow_symlinks:
                    counts["symlinks not followed"] += 1
                    continue
                try:
                    st = os.stat(entry.path)
                except OSError as exc:
                    yield entry.path, f"broken symbolic link: {_message(exc)}"
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
            else:
                is_dir = entry.is_dir(follow_symlinks=False)
                st = entry.stat(follow_symlinks=False) if is_dir else None
        except OSError as exc:
            yield entry.path, _message(exc)
            continue
        if not is_dir:
            yield entry.path, None       # non-regular files are reported by index_files
            continue
        identity = (st.st_dev, st.st_ino)
        if identity in visited:
            counts["directories seen before"] += 1
            continue
        visited.add(identity)
        subdirs.append(entry.path)


def _entries(source, follow_symlinks: bool, counts: Counter,
             progress: bool) -> list[tuple[str, str | None]]:
    """Walk a folder (showing a count) or take a list of paths as they are."""
    if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        found = []
        with _progress(None, "walking", progress) as bar:
            for item in walk(source, follow_symlinks=follow_symlinks, counts=counts):
                found.append(item)
                bar.update(1)
        return found
    if isinstance(source, (str, os.PathLike)):
        if not os.path.lexists(source):     # a typo, not a file to report on
            raise FileNotFoundError(f"{os.fspath(source)}: no such file or directory")
        return [_entry(source)]
    return [_entry(item) for item in source]


# ---------------------------------------------------------------------------
# Batches in worker processes
# ---------------------------------------------------------------------------

def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _process_context():
    """``forkserver`` where the platform has it, else ``spawn``: workers never
    inherit a copy of the parent's threads, locks or open files."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group; the parent alone decides what
    happens then (it keeps the rows finished so far), so workers ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _WorkerPool:
    """A process pool that survives a worker dying on a file (a crash in a
    reader must cost that file, not the run).

    `batch_fn(batch, columns, lenient)` runs in the workers and returns
    column lists (see :class:`_Rows`)."""

    # Workers dying on this many files in a row is not about the files (a
    # worker that cannot start, memory exhausted): stop instead of retrying.
    MAX_DEATHS_IN_A_ROW = 5

    def __init__(self, workers: int, batch_fn, columns, lenient: bool) -> None:
        self.workers = workers
        self.batch_fn = batch_fn
        self.args = (columns, lenient)
        self.generation = 0
        self.deaths_in_a_row = 0
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=_process_context(),
                                   initializer=_ignore_interrupts)

    def _restart(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.generation += 1
        self.executor = self._start()

    def submit(self, batch) -> tuple:
        return batch, self.generation, self.executor.submit(self.batch_fn, batch, *self.args)

    def result(self, pending: tuple) -> dict[str, list]:
        batch, generation, future = pending
        try:
            rows = future.result()
        except BrokenProcessPool:
            if generation == self.generation:
                self._restart()
            return self._one_by_one(batch)
        self.deaths_in_a_row = 0
        return rows

    def _one_by_one(self, batch) -> dict[str, list]:
        """Redo a batch that was in flight when a worker died, one file per
        task, so that only the file that kills a worker gets an error row."""
        parts = []
        for item in batch:
            path, _ = _entry(item)
            try:
                parts.append(self.executor.submit(self.batch_fn, [item], *self.args).result())
                self.deaths_in_a_row = 0
            except BrokenProcessPool:
                self.deaths_in_a_row += 1
                if self.deaths_in_a_row >= self.MAX_DEATHS_IN_A_ROW:
                    raise RuntimeError(
                        f"worker processes died on {self.deaths_in_a_row} files in a row "
                        f"(the last: {path}); they may be unable to start (a script that "
                        f"starts workers needs an 'if __name__ == \"__main__\":' guard)"
                    ) from None
                self._restart()
                died = (path, "the worker process reading this file died")
                parts.append(_index_rows([died], *self.args))
        return {name: [v for part in parts for v in part[name]] for name in parts[0]}

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _prepare_conversions_in_background() -> None:
    """pyarrow imports pandas the first time it converts Python objects
    (about 0.3 s of CPU); while the workers start, this process has nothing
    else to do, so it gets that done now, in a thread."""
    threading.Thread(target=pa.array, args=([""],), daemon=True).start()


def _tables(entries: Sequence, columns: Sequence[KeyColumn], *, lenient: bool,
            workers: int, batch_size: int, batch_fn=_index_rows) -> Iterator[pa.Table]:
    """Index `entries` batch by batch; tables come back in input order."""
    if workers <= 1:
        for batch in _chunks(entries, batch_size):
            yield _table(batch_fn(batch, columns, lenient), columns)
        return
    pool = _WorkerPool(workers, batch_fn, columns, lenient)
    _prepare_conversions_in_background()
    in_flight: deque = deque()
    try:
        for batch in _chunks(entries, batch_size):
            in_flight.append(pool.submit(batch))
            # Two batches per worker keep every worker busy while the parent
            # writes, and bound the memory held by finished batches.
            if len(in_flight) >= 2 * workers:
                yield _table(pool.result(in_flight.popleft()), columns)
        while in_flight:
            yield _table(pool.result(in_flight.popleft()), columns)
    finally:
        pool.close()


def _check_options(workers: int, batch_size: int) -> None:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")


def _progress(total: int | None, label: str, show: bool) -> Progress:
    """A progress line on stderr, or one drawn nowhere when not wanted (it
    draws only to a terminal either way)."""
    return Progress(total, label) if show else Progress(total, label, stream=io.StringIO())


def _failed(table: pa.Table) -> int:
    return table.num_rows - table.column("error").null_count


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------

def index(paths_or_dir, *, keys: Iterable[str | int] = (), workers: int = 1,
          follow_symlinks: bool = False, lenient: bool = False, batch_size: int = 256,
          progress: bool = False) -> pa.Table:
    """Index a folder (walked with :func:`walk`) or a list of files.

    Parameters
    ----------
    paths_or_dir : str, os.PathLike or iterable of them
        A folder, one file, or files (``(path, problem)`` pairs from
        :func:`walk` accepted).
    keys : iterable of str or int
        Extra columns (see :func:`resolve_key`).
    workers : int
        Processes reading files; 1 reads in this process.
    follow_symlinks : bool
        Follow symbolic links while walking a folder.
    lenient : bool
        Passed to :func:`rapidicom.open`.
    batch_size : int
        Files per task sent to a worker.
    progress : bool
        Draw a progress line on stderr (only when it is a terminal).

    Returns
    -------
    pyarrow.Table
        One row per file, in walk (or input) order, schema ``schema(keys)``.

    Raises
    ------
    FileNotFoundError
        When `paths_or_dir` is one path that names nothing (a missing file in
        a list gets a row with the error instead).

    .. versionadded:: 0.3.0
    """
    _check_options(workers, batch_size)
    columns = _columns(keys)
    entries = _entries(paths_or_dir, follow_symlinks, Counter(), progress)
    tables = [_schema(columns).empty_table()]
    with _progress(len(entries), "indexing", progress) as bar:
        for table in _tables(entries, columns, lenient=lenient, workers=workers,
                             batch_size=batch_size):
            tables.append(table)
            bar.update(table.num_rows, failed=_failed(table))
    return pa.concat_tables(tables)


@dataclass
class IngestSummary:
    """What :func:`write` did."""

    out: str
    indexed: int = 0            # rows added by this run
    failed: int = 0             # of those, rows with an error
    kept: int = 0               # rows carried over from the existing index
    already_indexed: int = 0    # files skipped because the index had them
    seconds: float = 0.0
    passed_over: dict[str, int] = field(default_factory=dict)  # symlinks, repeats
    interrupted: bool = False

    @property
    def files_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0


class _RowGroupWriter:
    """Collects batch tables and writes them as row groups of `rows` rows, so
    memory stays bounded by one row group whatever the size of the tree."""

    def __init__(self, path: str, table_schema: pa.Schema, rows: int) -> None:
        self.writer = pq.ParquetWriter(path, table_schema)
        self.rows = rows
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def copy_from(self, source: pq.ParquetFile) -> None:
        for i in range(source.num_row_groups):
            self.writer.write_table(source.read_row_group(i))

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.rows:
            self.flush()

    def flush(self) -> None:
        if self.pending_rows:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=self.rows)
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()

    def abandon(self) -> None:
        """Close without writing what is pending (the file is being dropped)."""
        self.pending, self.pending_rows = [], 0
        if self.writer.is_open:
            self.writer.close()


def _existing_index(out: str, table_schema: pa.Schema) -> pq.ParquetFile | None:
    """The index already at `out`, checked to have the same columns."""
    if not os.path.exists(out):
        return None
    existing = pq.ParquetFile(out)
    old = existing.schema_arrow
    if not old.remove_metadata().equals(table_schema.remove_metadata()):
        raise ValueError(f"{out} has other columns than this run would write "
                         f"(different --keys?); use force=True (--force) to rebuild it")
    return existing


def write(root, out: str | os.PathLike, *, keys: Iterable[str | int] = (),
          workers: int = 1, follow_symlinks: bool = False, lenient: bool = False,
          force: bool = False, batch_size: int = 256, row_group_size: int = 65536,
          progress: bool = False) -> IngestSummary:
    """Index the files under `root` into the Parquet file `out`.

    Rows are written in row groups of `row_group_size` as batches come back,
    so memory does not grow with the tree.  When `out` already exists (and
    `force` is false) the files it lists are skipped: the new file holds the
    old rows followed by the new ones.  Everything goes to a temporary file
    next to `out` that replaces it in one ``os.replace`` at the end; after
    Ctrl-C the rows finished so far are kept the same way, so a rerun
    resumes where this one stopped.  With nothing new to add, `out` is left
    untouched.

    Parameters
    ----------
    root : str, os.PathLike or iterable of them
        A folder to walk, or files.
    out : str or os.PathLike
        The Parquet file to write.
    force : bool
        Ignore an existing `out` and index everything again.
    row_group_size : int
        Rows per Parquet row group.
    keys, workers, follow_symlinks, lenient, batch_size, progress
        As for :func:`index`.

    Returns
    -------
    IngestSummary

    Raises
    ------
    ValueError
        When `out` exists with other columns (other `keys`) and `force` is false.
    FileNotFoundError
        When `root` names nothing.

    .. versionadded:: 0.3.0
    """
    _check_options(workers, batch_size)
    if row_group_size < 1:
        raise ValueError(f"row_group_size must be at least 1, not {row_group_size}")
    started = time.perf_counter()
    out = os.fspath(out)
    columns = _columns(keys)
    table_schema = _schema(columns)
    existing = None if force else _existing_index(out, table_schema)
    summary = IngestSummary(out=out)
    counts: Counter = Counter()
    entries = _entries(root, follow_symlinks, counts, progress)
    if existing is not None:
        # ParquetFile.read, not pq.read_table: that one imports pyarrow.dataset (slow).
        done = set(existing.read(columns=["path"]).column("path").to_pylist())
        summary.kept = existing.metadata.num_rows
        todo = [e for e in entries if e[0] not in done]
        summary.already_indexed = len(entries) - len(todo)
        entries = todo
    summary.passed_over = dict(counts)
    if entries or existing is None:
        _write_rows(out, table_schema, existing, entries, summary, columns=columns,
                    lenient=lenient, workers=workers, batch_size=batch_size,
                    row_group_size=row_group_size, progress=progress)
    summary.seconds = time.perf_counter() - started
    return summary


def _write_rows(out: str, table_schema: pa.Schema, existing, entries, summary, *,
                columns, lenient, workers, batch_size, row_group_size, progress) -> None:
    """Old rows, then new ones, into a temporary file that replaces `out`.

    After Ctrl-C the rows finished so far are committed the same way, then
    KeyboardInterrupt goes on; any other error leaves `out` as it was."""
    directory, name = os.path.split(os.path.abspath(out))
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    writer = _RowGroupWriter(tmp, table_schema, row_group_size)
    committed = False
    try:
        if existing is not None:
            writer.copy_from(existing)
        try:
            _add_new_rows(writer, entries, summary, columns=columns, lenient=lenient,
                          workers=workers, batch_size=batch_size, progress=progress)
        except KeyboardInterrupt:
            summary.interrupted = True
        writer.close()
        os.replace(tmp, out)
        committed = True
    finally:
        if not committed:
            writer.abandon()
            if os.path.exists(tmp):
                os.unlink(tmp)
    if summary.interrupted:
        raise KeyboardInterrupt


def _add_new_rows(writer: _RowGroupWriter, entries, summary, *, columns, lenient, workers,
                  batch_size, progress) -> None:
    with _progress(len(entries), "indexing", progress) as bar, \
            contextlib.closing(_tables(entries, columns, lenient=lenient, workers=workers,
                                       batch_size=batch_size)) as tables:
        for table in tables:
            writer.add(table)
            failed = _failed(table)
            summary.indexed += table.num_rows
            summary.failed += failed
            bar.update(table.num_rows, failed=failed)


# ---------------------------------------------------------------------------
# Command line (``rapidicom ingest``; the arguments are declared in cli.py)
# ---------------------------------------------------------------------------

def split_keys(values: Iterable[str] | None) -> list[str]:
    """``["ImageType,0x00180050", "KVP"]`` -> ``["ImageType", "0x00180050", "KVP"]``."""
    keys: list[str] = []
    for value in values or ():
        # A comma inside "(0010,0010)" belongs to the tag, not to the list.
        keys += [k for k in re.findall(r"\([^)]*\)|[^,\s]+", value) if k]
    return keys


def run_command(args) -> int:
    """Run ``rapidicom ingest`` with parsed `args`; return the exit status."""
    prefix = "rapidicom ingest: error:"
    if args.workers > 1 and "forkserver" in multiprocessing.get_all_start_methods():
        # Workers then fork from one process that has imported the reader
        # already, instead of each importing it.  This process is the
        # command line's own, so the process-wide setting is ours to make.
        multiprocessing.set_forkserver_preload(["rapidicom.ingest"])
    try:
        keys = split_keys(args.keys)
        schema(keys)                      # reject bad keys before walking anything
        summary = write(args.dir, args.out, keys=keys, workers=args.workers,
                        follow_symlinks=args.follow_symlinks, lenient=args.lenient,
                        force=args.force, batch_size=args.batch_size,
                        row_group_size=args.row_group_size, progress=not args.quiet)
    except KeyboardInterrupt:
        print("rapidicom ingest: interrupted; the rows finished so far are in the index, "
              "run the same command again to resume", file=sys.stderr)
        return 130
    except (ValueError, OSError, pa.ArrowException) as exc:
        print(f"{prefix} {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    if not args.quiet:
        print(describe(summary), file=sys.stderr)
    return 0


def describe(summary: IngestSummary) -> str:
    """One line saying what a run of :func:`write` did."""
    parts = [f"{summary.indexed} files indexed ({summary.failed} with errors) "
             f"in {summary.seconds:.1f} s, {summary.files_per_second:,.0f} files/s"]
    if summary.kept or summary.already_indexed:
        parts.append(f"{summary.already_indexed} already indexed, "
                     f"{summary.kept} rows kept")
    parts += [f"{count} {what}" for what, count in sorted(summary.passed_over.items())]
    return "; ".join(parts) + f" -> {summary.out}"
