"""``rapidicom.dask`` on a real two-process ``distributed`` cluster, compared
with the single-machine results: ``rapidicom.ingest.index`` for the header
index, each file's ``pixel_array`` for the frames."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, get_task_stream

import rapidicom
import rapidicom.dask
from corpus import PYDICOM_DATA, dicom_files
from rapidicom import ingest

TEST_FILES = PYDICOM_DATA / "test_files"
KEYS = ("ImageType", "(0009,1001)")


@pytest.fixture(scope="module")
def client():
    """One cluster for the module: worker processes, not threads, so tasks
    and their results really travel."""
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _ran_on_workers(client, tasks) -> set[str]:
    workers = set(client.scheduler_info()["workers"])
    return {t["worker"] for t in tasks} & workers


def test_read_index_equals_ingest_index(client):
    index = rapidicom.dask.read_index(TEST_FILES, keys=KEYS, batch_size=40)
    expected = ingest.index(TEST_FILES, keys=KEYS).to_pandas(types_mapper=pd.ArrowDtype)
    assert index.npartitions == -(-len(expected) // 40)
    with get_task_stream(client) as stream:
        computed = index.compute()
    assert _ran_on_workers(client, stream.data)
    computed = computed.reset_index(drop=True)
    pd.testing.assert_frame_equal(computed, expected)
    # The declared dtypes are the real ones, so dask never has to guess.
    assert list(index.dtypes) == list(computed.dtypes)
    assert computed["error"].isna().sum() > 50 and computed["error"].notna().sum() > 5


def test_read_index_filters_on_the_cluster(client):
    index = rapidicom.dask.read_index(TEST_FILES, batch_size=64)
    expected = ingest.index(TEST_FILES).to_pandas(types_mapper=pd.ArrowDtype)
    ct = index[index.Modality == "CT"][["path", "Rows"]].compute()
    want = expected[expected.Modality == "CT"][["path", "Rows"]]
    assert len(ct) > 3
    pd.testing.assert_frame_equal(ct.reset_index(drop=True), want.reset_index(drop=True))


def _rgb_images() -> list[str]:
    """Corpus files whose frames are 100x100 RGB uint8: native, big endian,
    YBR, RLE, JPEG, JPEG-LS and JPEG 2000, two of them with two frames."""
    found = []
    for path in dicom_files():
        try:
            pixels = rapidicom.open(path).pixels
        except rapidicom.DicomError:
            continue
        if pixels is not None and pixels.shape[1:] == (100, 100, 3) and \
                pixels.dtype == np.uint8:
            found.append(str(path))
    return found


@pytest.mark.parametrize("files_per_chunk", [1, 4])
def test_read_frames_equals_pixel_array(client, files_per_chunk):
    files = _rgb_images()
    assert len(files) >= 20
    frames = rapidicom.dask.read_frames(files, files_per_chunk=files_per_chunk)
    singles = [rapidicom.open(p).pixel_array for p in files]
    expected = np.concatenate([a if a.ndim == 4 else a[np.newaxis] for a in singles])
    assert frames.shape == expected.shape and frames.dtype == expected.dtype
    assert len(frames.chunks[0]) == -(-len(files) // files_per_chunk)
    with get_task_stream(client) as stream:
        computed = frames.compute()
    assert _ran_on_workers(client, stream.data)
    np.testing.assert_array_equal(computed, expected)
    # A reduction runs where the frames are and returns only its result.
    assert float(frames.mean().compute()) == pytest.approx(expected.mean())


def test_read_frames_refuses_mixed_shapes():
    ct = str(TEST_FILES / "CT_small.dcm")
    mr = str(TEST_FILES / "MR_small.dcm")
    with pytest.raises(ValueError, match="MR_small.dcm has frames of shape"):
        rapidicom.dask.read_frames([ct, mr])


def test_read_frames_refuses_a_file_without_pixels():
    with pytest.raises(ValueError, match="no Pixel Data"):
        rapidicom.dask.read_frames([str(TEST_FILES / "rtplan.dcm")])


def test_read_index_refuses_bad_keys_at_once():
    with pytest.raises(ValueError, match="NoSuchKeyword"):
        rapidicom.dask.read_index(TEST_FILES, keys=["NoSuchKeyword"])
