"""``rapidicom ingest`` (run as ``python -m rapidicom ingest``) and
``rapidicom.ingest``, checked against pydicom's reading of the same files.

The tree holds the whole corpus (hard links), the non-DICOM files that ship
with it, and the awkward cases: an empty file, a truncated file, a file
nobody may read, a FIFO, a symbolic-link loop, a link that points at itself,
a link to a file and a link to a folder outside the tree.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydicom.multival import MultiValue

import rapidicom
from corpus import PYDICOM_DATA, PYDICOM_DATA_STORE, dicom_files, other_files
from parity import read_reference
from rapidicom import ingest

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_REASON = "running as root: chmod 000 does not stop root from reading"
CT_SMALL = PYDICOM_DATA / "test_files" / "CT_small.dcm"
# Extra columns: a list of strings, a list of doubles, an integer given as a
# tag, a private tag (raw bytes) and a one-valued double.
KEYS = "ImageType,WindowCenter,0x00200012,(0009,1001),SpacingBetweenSlices"
KEY_NAMES = ("ImageType", "WindowCenter", "AcquisitionNumber", "(0009,1001)",
             "SpacingBetweenSlices")


# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------

def _link_or_copy(source, target) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _mirror_corpus(root) -> list:
    """Every corpus file (DICOM or not) under root/pydicom and root/data_store."""
    made = []
    sources = [*dicom_files(), *(p for p, _ in other_files())]
    for source in sources:
        for base, name in ((PYDICOM_DATA, "pydicom"), (PYDICOM_DATA_STORE, "data_store")):
            try:
                target = root / name / source.relative_to(base)
            except ValueError:
                continue
            _link_or_copy(source, target)
            made.append(target)
    return made


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """(root, regular entries expected in an index without following links,
    extra entries expected when following them, {name: path} of the odd cases)."""
    base = tmp_path_factory.mktemp("ingest")
    root = base / "tree"
    files = _mirror_corpus(root)
    odd = root / "odd"
    odd.mkdir()
    cases = {name: odd / name for name in
             ("notes.txt", "empty.dcm", "truncated.dcm", "locked.dcm", "pipe", "multi.dcm")}
    cases["notes.txt"].write_text("not a DICOM file\n")
    cases["empty.dcm"].write_bytes(b"")
    cases["truncated.dcm"].write_bytes(CT_SMALL.read_bytes()[:1000])
    shutil.copyfile(CT_SMALL, cases["locked.dcm"])
    cases["locked.dcm"].chmod(0)
    os.mkfifo(cases["pipe"])
    _write_multi_valued(cases["multi.dcm"])
    # Links, followed only with --follow-symlinks.
    (odd / "loop").symlink_to("..")                       # back to the tree's root
    (odd / "self").symlink_to("self")                     # ELOOP when followed
    (odd / "link.dcm").symlink_to(CT_SMALL)
    outside = base / "outside"
    outside.mkdir()
    shutil.copyfile(CT_SMALL, outside / "ct.dcm")
    (odd / "elsewhere").symlink_to(outside)
    expected = {str(p) for p in files} | {str(p) for p in cases.values()}
    followed = {str(odd / "self"), str(odd / "link.dcm"), str(odd / "elsewhere" / "ct.dcm")}
    yield root, expected, followed, cases
    cases["locked.dcm"].chmod(0o644)


def _write_multi_valued(target) -> None:
    """CT_small with several values where one is usual, and an empty one."""
    ds = read_reference(CT_SMALL)
    ds.StudyDescription = ["first", "second"]
    ds.PatientName = "Doe^John\\Roe^Jane"
    ds.SeriesDescription = ""
    ds.PixelSpacing = ["0.5", ""]
    ds.save_as(target)


def run_ingest(*args) -> subprocess.CompletedProcess:
    """``python -m rapidicom ingest ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "rapidicom", "ingest", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def read_index(path) -> pa.Table:
    return pq.read_table(path)


@pytest.fixture(scope="module")
def index_one_worker(tree, tmp_path_factory):
    root = tree[0]
    out = tmp_path_factory.mktemp("out") / "index.parquet"
    result = run_ingest(root, "--out", out, "--keys", KEYS, "--workers", "1")
    assert result.returncode == 0, result.stderr
    return read_index(out), result.stderr


def rows_by_path(table: pa.Table) -> dict[str, dict]:
    """Rows keyed by path, mtime as integer nanoseconds."""
    mtime = table.schema.get_field_index("mtime")
    table = table.set_column(mtime, "mtime", table.column(mtime).cast(pa.int64()))
    return {row["path"]: row for row in table.to_pylist()}


def not_read(row: dict) -> bool:
    """The file itself failed (as opposed to some of its values)."""
    return row["error"] is not None and all(row[name] is None for name, _ in EXPECTED_COLUMNS)


# ---------------------------------------------------------------------------
# pydicom's values, converted the way the index documents
# ---------------------------------------------------------------------------

def _ref_text(value):
    if isinstance(value, (MultiValue, list)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _ref_int(value):
    if isinstance(value, (MultiValue, list)):
        if len(value) != 1:
            raise ValueError("several values")
        value = value[0]
    return None if value == "" else int(value)


def _ref_float(value):
    return None if value == "" else float(value)


def _ref_floats(value):
    values = value if isinstance(value, (MultiValue, list)) else [value]
    return [None if v in ("", None) else float(v) for v in values]


def _ref_texts(value):
    values = value if isinstance(value, (MultiValue, list)) else [value]
    return [str(v) for v in values]


REFERENCE = {ingest.TEXT: _ref_text, ingest.INT: _ref_int, ingest.FLOAT: _ref_float,
             ingest.FLOAT_LIST: _ref_floats, ingest.TEXT_LIST: _ref_texts}
EXPECTED_COLUMNS = [(kw, kind) for kw, kind in ingest.ATTRIBUTES] + [
    ("ImageType", ingest.TEXT_LIST), ("WindowCenter", ingest.FLOAT_LIST),
    ("AcquisitionNumber", ingest.INT), ("SpacingBetweenSlices", ingest.FLOAT)]


class Unconvertible:
    """pydicom's value could not be converted: the index must hold null and
    name the column in its error."""


def reference_row(path: str) -> dict:
    ds = read_reference(path, force=True, stop_before_pixels=True)
    row = {"transfer_syntax": ds.file_meta.get("TransferSyntaxUID") or None}
    for keyword, kind in EXPECTED_COLUMNS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = ds.get(keyword)
            row[keyword] = None if value is None else REFERENCE[kind](value)
        except (ValueError, TypeError):
            row[keyword] = Unconvertible
    private = ds.get_item(0x00091001)       # a raw element: the bytes as stored
    row["(0009,1001)"] = None if private is None else bytes(private.value)
    return row


def _same(ours, theirs) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    return ours == theirs


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

def test_one_row_per_file_and_nothing_through_links(tree, index_one_worker):
    _, expected, _, _ = tree
    table, stderr = index_one_worker
    paths = table.column("path").to_pylist()
    assert len(paths) == len(set(paths))
    assert set(paths) == expected
    assert table.schema.equals(ingest.schema(ingest.split_keys([KEYS])))
    assert "4 symlinks not followed" in stderr


def test_values_equal_pydicom(tree, index_one_worker):
    table, _ = index_one_worker
    rows = rows_by_path(table)
    compared = 0
    for path, row in rows.items():
        st = os.stat(path)
        assert (row["size"], row["mtime"]) == (st.st_size, st.st_mtime_ns), path
        if not_read(row):
            continue                              # see the next test
        reference = reference_row(path)
        notes = row["error"] or ""
        for name, expected in reference.items():
            if expected is Unconvertible:
                assert row[name] is None and f"{name}: " in notes, (path, name)
            else:
                assert _same(row[name], expected), (path, name, row[name], expected)
        compared += 1
    assert compared > 230


def test_files_that_fail_have_the_readers_error(tree, index_one_worker):
    table, _ = index_one_worker
    failed = [r for r in rows_by_path(table).values() if not_read(r)]
    for row in failed:
        path = row["path"]
        assert row["transfer_syntax"] is None, path
        if os.path.basename(path) in ("pipe", "empty.dcm", "locked.dcm"):
            continue                              # checked one by one below
        with pytest.raises(rapidicom.DicomError) as raised:
            rapidicom.open(path)
        assert row["error"] == f"{type(raised.value).__name__}: " + " ".join(
            str(raised.value).split()), path
    # Every non-DICOM file of the corpus is in the index with an error.
    names = {os.path.basename(r["path"]) for r in failed}
    assert {p.name for p, _ in other_files()} <= names


def test_odd_cases(tree, index_one_worker):
    _, _, _, cases = tree
    rows = rows_by_path(index_one_worker[0])
    error = {name: rows[str(path)]["error"] for name, path in cases.items()}
    assert error["notes.txt"].split(":")[0] in ("InvalidDicomError", "TruncatedError")
    assert error["empty.dcm"].startswith("InvalidDicomError: no DICOM elements")
    assert error["truncated.dcm"].startswith("TruncatedError: ")
    assert error["pipe"] == "not a regular file"
    multi = rows[str(cases["multi.dcm"])]
    assert (multi["error"], multi["StudyDescription"], multi["PatientName"],
            multi["SeriesDescription"], multi["PixelSpacing"]) == (
        None, "first\\second", "Doe^John\\Roe^Jane", "", [0.5, None])
    if IS_ROOT:
        assert error["locked.dcm"] is None        # root reads it anyway
    else:
        assert error["locked.dcm"].startswith("PermissionError: ")


@pytest.mark.skipif(IS_ROOT, reason=ROOT_REASON)
def test_unreadable_directory_is_a_row(tmp_path):
    (tmp_path / "closed").mkdir()
    shutil.copyfile(CT_SMALL, tmp_path / "closed" / "ct.dcm")
    shutil.copyfile(CT_SMALL, tmp_path / "open.dcm")
    (tmp_path / "closed").chmod(0)
    try:
        table = ingest.index(tmp_path)
    finally:
        (tmp_path / "closed").chmod(0o755)
    rows = rows_by_path(table)
    assert rows[str(tmp_path / "open.dcm")]["error"] is None
    assert rows[str(tmp_path / "closed")]["error"].startswith("cannot list directory: ")


def test_follow_symlinks(tree, tmp_path):
    root, expected, followed, cases = tree
    out = tmp_path / "linked.parquet"
    result = run_ingest(root, "-o", out, "--follow-symlinks", "--keys", KEYS)
    assert result.returncode == 0, result.stderr
    rows = rows_by_path(read_index(out))
    # The loop back to the root is seen once, so nothing is indexed twice.
    assert set(rows) == expected | followed
    assert "1 directories seen before" in result.stderr
    assert rows[str(cases["pipe"].parent / "self")]["error"].startswith(
        "broken symbolic link: OSError: [Errno 40]")
    linked = rows[str(cases["pipe"].parent / "link.dcm")]
    assert linked["error"] is None
    assert linked["SOPInstanceUID"] == reference_row(str(CT_SMALL))["SOPInstanceUID"]


def test_two_workers_write_the_same_index(tree, index_one_worker, tmp_path):
    out = tmp_path / "two.parquet"
    result = run_ingest(tree[0], "--out", out, "--keys", KEYS, "--workers", "2",
                        "--batch-size", "16")
    assert result.returncode == 0, result.stderr
    assert read_index(out).equals(index_one_worker[0])


def test_rerun_adds_only_new_files_and_force_redoes_all(tmp_path):
    root = tmp_path / "tree"
    sources = [p for p in dicom_files() if p.parent.name == "test_files"][:30]
    for source in sources[:20]:
        _link_or_copy(source, root / source.name)
    out = tmp_path / "index.parquet"
    first = run_ingest(root, "-o", out, "--row-group-size", "7")
    assert first.returncode == 0, first.stderr
    before = read_index(out)
    assert before.num_rows == 20
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    for source in sources[20:]:
        _link_or_copy(source, root / "later" / source.name)

    second = run_ingest(root, "-o", out)
    assert second.returncode == 0, second.stderr
    assert "10 files indexed" in second.stderr and "20 already indexed" in second.stderr
    after = read_index(out)
    assert after.num_rows == 30
    assert after.slice(0, 20).equals(before)           # old rows kept as they were
    assert set(after.column("path").to_pylist()[20:]) == {
        str(root / "later" / s.name) for s in sources[20:]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.parquet", "tree"]

    again = run_ingest(root, "-o", out)
    assert "0 files indexed" in again.stderr and read_index(out).equals(after)

    forced = run_ingest(root, "-o", out, "--force")
    assert forced.returncode == 0 and "30 files indexed" in forced.stderr
    redone = read_index(out)
    assert sorted(redone.column("path").to_pylist()) == sorted(after.column("path").to_pylist())


def test_rerun_with_other_keys_needs_force(tmp_path):
    out = tmp_path / "index.parquet"
    ingest.write(CT_SMALL, out)
    first = out.read_bytes()
    refused = run_ingest(CT_SMALL, "-o", out, "--keys", "ImageType")
    assert refused.returncode == 2
    assert "other columns" in refused.stderr and "--force" in refused.stderr
    assert out.read_bytes() == first
    ingest.write(CT_SMALL, out, keys=["ImageType"], force=True)
    assert "ImageType" in read_index(out).column_names


def test_a_missing_folder_is_an_error(tmp_path):
    result = run_ingest(tmp_path / "nowhere", "-o", tmp_path / "index.parquet")
    assert result.returncode == 1
    assert "nowhere: no such file or directory" in result.stderr
    assert not (tmp_path / "index.parquet").exists()


def test_a_bad_key_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / "index.parquet"
    result = run_ingest(CT_SMALL, "-o", out, "--keys", "PatientName,NoSuchKeyword")
    assert result.returncode == 2
    assert "rapidicom ingest: error: 'NoSuchKeyword' is neither" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("key", ["NoSuchKeyword", "(0008,XYZ1)", "0x1234567890",
                                 "ReferencedImageSequence"])
def test_bad_keys(key):
    with pytest.raises(ValueError):
        ingest.resolve_key(key)


# ---------------------------------------------------------------------------
# The Python API
# ---------------------------------------------------------------------------

def test_index_equals_the_written_file(tree, index_one_worker):
    table = ingest.index(tree[0], keys=ingest.split_keys([KEYS]))
    assert table.equals(index_one_worker[0])


def test_index_files_takes_paths_and_walk_problems():
    table = ingest.index_files([CT_SMALL, (str(CT_SMALL), "cannot list directory: x")],
                               keys=["PatientName"])
    first, second = table.to_pylist()
    assert first["error"] is None and first["Rows"] == 128
    assert second["error"] == "cannot list directory: x" and second["Rows"] is None


@pytest.mark.parametrize("key, name, arrow_type", [
    ("ImageType", "ImageType", pa.list_(pa.string())),
    ("0x00280010", "Rows", pa.int64()),
    ("(0028,0030)", "PixelSpacing", pa.list_(pa.float64())),
    ("00180050", "SliceThickness", pa.float64()),
    ("FrameIncrementPointer", "FrameIncrementPointer", pa.list_(pa.int64())),
    ("LUTData", "LUTData", pa.binary()),           # US or OW: raw bytes
    ("(0009,1001)", "(0009,1001)", pa.binary()),     # private
    ("0x7FE00010", "PixelData", pa.binary()),
])
def test_key_types(key, name, arrow_type):
    field = ingest.schema([key]).field(name)
    assert field.type == arrow_type


def _dies_on_crash_files(batch, columns, lenient):
    """A batch function whose worker dies on files named crash*."""
    if any(os.path.basename(ingest._entry(item)[0]).startswith("crash") for item in batch):
        os._exit(3)
    return ingest._index_rows(batch, columns, lenient)


def test_a_worker_dying_costs_one_file(tmp_path):
    names = ["a.dcm", "b.dcm", "crash.dcm", "c.dcm", "d.dcm", "e.dcm"]
    for name in names:
        shutil.copyfile(CT_SMALL, tmp_path / name)
    paths = [str(tmp_path / name) for name in names]
    columns = ingest._columns(())
    tables = ingest._tables(paths, columns, lenient=False, workers=2, batch_size=2,
                            batch_fn=_dies_on_crash_files)
    rows = pa.concat_tables(list(tables)).to_pylist()
    assert [r["path"] for r in rows] == paths
    assert [r["error"] for r in rows] == [
        None, None, "the worker process reading this file died", None, None, None]
    assert rows[0]["SOPInstanceUID"] == rows[3]["SOPInstanceUID"] is not None
