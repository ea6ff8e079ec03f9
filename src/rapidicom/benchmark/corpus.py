"""The files a benchmark runs on: the paths a user names, or by default the
DICOM files that ship with the test dependencies pydicom and pydicom-data.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["default_roots", "collect", "walk", "file_id", "NoFilesError"]

# Files under the default roots that are never DICOM.
NOT_DICOM_SUFFIXES = frozenset({".txt", ".md", ".json", ".dump", ".gz", ".icc", ".py",
                                ".pyc", ".npy", ".png", ".jpg", ".csv"})
NOT_DICOM_NAMES = frozenset({"README", "LICENSE", ".DS_Store"})


class NoFilesError(Exception):
    """Raised when there is nothing to benchmark; the message says what to do."""


@functools.lru_cache(maxsize=None)
def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def default_roots() -> list[Path]:
    """pydicom's ``data/test_files``, ``data/charset_files`` and
    ``data/palettes``, and pydicom-data's ``data`` folder (module
    ``data_store``): the files rapidicom's own tests compare against.

    Raises
    ------
    NoFilesError
        When pydicom is not installed.
    """
    pydicom_dir = _package_dir("pydicom")
    if pydicom_dir is None:
        raise NoFilesError("no default corpus: pydicom (and pydicom-data) are not installed; "
                           "name the files or folders to benchmark: rapidicom bench DIR")
    roots = [pydicom_dir / "data" / sub for sub in ("test_files", "charset_files", "palettes")]
    store = _package_dir("data_store")
    if store is not None:
        roots.append(store / "data")
    return [r for r in roots if r.is_dir()]


def walk(root) -> Iterator[str]:
    """Files under `root`, sorted, leaving out names that are never DICOM."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name in NOT_DICOM_NAMES or Path(name).suffix.lower() in NOT_DICOM_SUFFIXES:
                continue
            yield str(Path(dirpath) / name)


def collect(paths) -> list[str]:
    """Every file named in `paths`, folders walked (sorted; files with
    suffixes that are never DICOM left out); the default roots when
    `paths` is empty.

    Raises
    ------
    NoFilesError
        When a path does not exist or nothing is found.
    """
    roots = [Path(p) for p in paths] if paths else default_roots()
    out: list[str] = []
    for root in roots:
        if root.is_dir():
            out.extend(walk(root))
        elif root.is_file():
            out.append(str(root))
        else:
            raise NoFilesError(f"{root}: no such file or folder")
    if not out:
        raise NoFilesError(f"no files found in {', '.join(map(str, roots))}")
    return list(dict.fromkeys(out))


def file_id(path: str) -> str:
    """A short name for `path`: relative to pydicom's or pydicom-data's
    data folder for corpus files, else the path as given."""
    absolute = Path(os.path.abspath(path))
    for name, prefix in (("pydicom", ""), ("data_store", "pydicom-data/")):
        base = _package_dir(name)
        if base is None:
            continue
        try:
            return prefix + str(absolute.relative_to(base / "data"))
        except ValueError:
            pass
    return str(path)
