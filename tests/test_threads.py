"""Thread safety under stress: eight threads open, read and decode the corpus
at the same time, sharing files, Dataset objects and Pixels objects, and
every result equals a single-threaded reading (compared by digest, see
tests/workload.py).  Closing and deleting a Dataset while other threads hold
its frame views and values leaves those views valid.

The C core has no global mutable state (test_c_source.py checks its object
files); what these tests exercise is everything above it: the lazily built
sub-indexes and caches of a shared Dataset, the frame table and codec
settings of a shared Pixels, the shared decode thread pools, and the
lifetime of the mapped file.  A short GIL switch interval makes threads
interleave inside those Python-level paths far more often than usual.
"""
from __future__ import annotations

import gc
import sys
import threading
import weakref
from collections.abc import Callable

import numpy as np
import pytest

import rapidicom
import workload
from corpus import PYDICOM_DATA, PYDICOM_DATA_STORE, file_id

THREADS = 8
# Each light file is read this many times in the many-files stress.
COPIES = 3

pytestmark = pytest.mark.filterwarnings("ignore")  # pixel warnings, from any thread


@pytest.fixture(autouse=True)
def frequent_switches():
    """Switch threads every 50 µs instead of every 5 ms."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    yield
    sys.setswitchinterval(previous)


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run target(k) for k in range(count) on `count` threads started
    together; re-raise the first exception any of them raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(k):
        try:
            start.wait()
            target(k)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(k,), name=f"stress-{k}")
               for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


class Reference:
    """Single-threaded digests, computed on first use and kept for the
    module: (file, with pixels, frame by frame) -> digest."""

    def __init__(self):
        self.digests: dict[tuple, str] = {}

    def __call__(self, path, pixels: bool, by_frame: bool = False) -> str:
        key = (path, pixels, by_frame)
        if key not in self.digests:
            ds = workload.open_file(path)
            self.digests[key] = workload.digest(ds, pixels=pixels, by_frame=by_frame)
        return self.digests[key]


@pytest.fixture(scope="module")
def corpus():
    """(readable files, the light ones among them, single-thread reference)."""
    files = workload.readable_files()
    light = [p for p in files if workload.is_light(workload.open_file(p))]
    return files, light, Reference()


# ---------------------------------------------------------------------------
# Many threads, many files
# ---------------------------------------------------------------------------

def test_threads_opening_the_same_and_different_files(corpus):
    """Every readable file, light ones COPIES times with their pixels, taken
    from one shared queue by THREADS threads: copies of a file sit next to
    each other, so several threads open and decode it at the same moment.
    Threads alternate between to_array (one or two decode threads of their
    own) and frame by frame."""
    files, light, reference = corpus
    light_set = set(light)
    jobs = [(path, copy) for path in files
            for copy in range(COPIES if path in light_set else 1)]
    queue = iter(jobs)
    lock = threading.Lock()
    results: dict[tuple, tuple[str, bool]] = {}     # job -> (digest, by frame)

    def worker(k):
        while True:
            with lock:
                job = next(queue, None)
            if job is None:
                return
            path, copy = job
            pixels = path in light_set
            by_frame = pixels and (k + copy) % 2 == 1
            source = path.read_bytes() if copy == 1 else path   # a buffer, or the file
            ds = workload.open_file(source)
            results[job] = (workload.digest(ds, pixels=pixels, threads=1 + k % 2,
                                            by_frame=by_frame), by_frame)

    run_threads(THREADS, worker)
    assert len(jobs) > 500
    wrong = [file_id(path) for (path, copy) in jobs
             if results[(path, copy)][0] != reference(path, path in light_set,
                                                      results[(path, copy)][1])]
    assert not wrong, f"{len(wrong)} results differ from one thread's: {wrong[:10]}"


# ---------------------------------------------------------------------------
# One Dataset, one Pixels, many threads
# ---------------------------------------------------------------------------

def test_threads_sharing_one_dataset(corpus):
    """THREADS threads read every value of the same Dataset object at once
    (its lazily parsed private/UN sequences and caches are built under
    contention), for every readable file; for light files two of the
    threads decode the pixels as well."""
    files, light, reference = corpus
    light_set = set(light)
    for path in files:
        ds = workload.open_file(path)
        pixels = path in light_set
        got = [None] * THREADS
        run_threads(THREADS, lambda k: got.__setitem__(
            k, workload.digest(ds, pixels=pixels and k % 4 == 0)))
        for k, value in enumerate(got):
            assert value == reference(path, pixels and k % 4 == 0), \
                f"{file_id(path)}: thread {k} read something else"


MULTIFRAME = [
    PYDICOM_DATA_STORE / "color3d_jpeg_baseline.dcm",            # 120 JPEG frames, YBR
    PYDICOM_DATA_STORE / "emri_small_RLE.dcm",                   # 10 RLE frames
    PYDICOM_DATA_STORE / "emri_small_jpeg_2k_lossless.dcm",      # 10 JPEG 2000 frames
    PYDICOM_DATA_STORE / "emri_small_jpeg_ls_lossless.dcm",      # 10 JPEG-LS frames
    PYDICOM_DATA_STORE / "emri_small.dcm",                       # 10 native frames (views)
]


# Frames decoded one by one in the shared-Pixels stress (all of them, up to this).
FRAMES_PER_FILE = 24


@pytest.mark.parametrize("path", MULTIFRAME, ids=file_id)
def test_threads_sharing_one_pixels_object(path):
    """One Pixels object: its frame table is built by whichever thread comes
    first; each frame is decoded by two threads at once, while one more
    decodes them all with to_array(threads=2) on the shared decode pool."""
    expected = rapidicom.open(path).pixels.to_array(threads=1)
    px = rapidicom.open(path).pixels
    n = min(px.number_of_frames, FRAMES_PER_FILE)
    frames: dict[tuple[int, int], np.ndarray] = {}
    arrays: dict[int, np.ndarray] = {}

    def worker(k):
        if k == THREADS - 1:
            arrays[k] = px.to_array(threads=2)
            return
        for i in range(n):
            if i % (THREADS // 2) == k % (THREADS // 2):
                frames[(k, i)] = px.frame(i)

    run_threads(THREADS, worker)
    for k, array in arrays.items():
        np.testing.assert_array_equal(array, expected, err_msg=f"to_array of thread {k}")
    assert {i for _, i in frames} == set(range(n))
    for (k, i), frame in frames.items():
        np.testing.assert_array_equal(frame, expected[i], err_msg=f"frame {i}, thread {k}")


# ---------------------------------------------------------------------------
# Closing while other threads hold views
# ---------------------------------------------------------------------------

def _views_of(ds):
    """What a reader may keep: every frame (views where native), Pixel Data
    and every other bytes value as memoryviews, and one nested item."""
    px = ds.pixels
    frames = [px.frame(i) for i in range(px.number_of_frames)]
    raw = ds.element("PixelData").raw
    values = [el.value for el in ds if isinstance(el.value, memoryview)]
    return frames, raw, values


@pytest.mark.parametrize("path", [
    PYDICOM_DATA_STORE / "emri_small.dcm",              # native frames: views of the mapping
    PYDICOM_DATA / "test_files" / "CT_small.dcm",       # read into memory (small file)
    PYDICOM_DATA_STORE / "emri_small_RLE.dcm",          # decoded frames, raw fragments
], ids=file_id)
def test_closing_while_other_threads_hold_views(path):
    """Each thread opens the file, hands its views to the next thread, then
    closes and deletes its Dataset and collects garbage, while the next
    thread reads the views it was given: they read exactly what one thread
    reads, and the memory is released once the last view goes."""
    ref = rapidicom.open(path)
    expected_frames = ref.pixels.to_array(threads=1)
    expected_raw = bytes(ref.element("PixelData").raw)
    expected_values = [bytes(el.value) for el in ref if isinstance(el.value, memoryview)]
    del ref

    handed: list = [None] * THREADS
    ready = [threading.Event() for _ in range(THREADS)]
    owners: list = [None] * THREADS
    mismatches: list[str] = []

    def worker(k):
        ds = rapidicom.open(path)
        owners[k] = weakref.ref(ds.buffer.obj)     # the memory's owner
        handed[(k + 1) % THREADS] = _views_of(ds)
        ready[(k + 1) % THREADS].set()
        ds.close()
        del ds
        gc.collect()
        ready[k].wait()
        frames, raw, values = handed[k]
        for rounds in range(3):       # the neighbours are still closing meanwhile
            if not all(np.array_equal(f, e) for f, e in zip(frames, expected_frames)):
                mismatches.append(f"thread {k}: frames differ")
            if bytes(raw) != expected_raw or [bytes(v) for v in values] != expected_values:
                mismatches.append(f"thread {k}: values differ")

    run_threads(THREADS, worker)
    assert not mismatches, mismatches[:5]
    handed.clear()
    gc.collect()
    alive = sum(ref() is not None for ref in owners)
    assert alive == 0, f"{alive} file buffers outlived every view of them"


def test_default_limits_changed_while_threads_open_files(corpus):
    """set_default_limits from one thread while others open files: each
    open() sees either the old or the new default, never a mix."""
    files, _, _ = corpus
    deep = [p for p in files if "rtplan" in p.name][0]
    strict = rapidicom.Limits(max_depth=1)
    outcomes: list[str] = []

    def worker(k):
        for _ in range(150):
            if k == 0:
                rapidicom.set_default_limits(strict)
                rapidicom.set_default_limits(rapidicom.Limits())
                continue
            try:
                ds = rapidicom.open(deep)
            except rapidicom.LimitExceededError:
                outcomes.append("refused")
                continue
            outcomes.append("opened" if ds.limits == rapidicom.Limits() else "mixed")

    previous = rapidicom.get_default_limits()
    try:
        run_threads(4, worker)
    finally:
        rapidicom.set_default_limits(previous)
    assert "mixed" not in outcomes
    assert len(outcomes) == 3 * 150 and set(outcomes) <= {"opened", "refused"}


def test_pools_are_shared_not_multiplied():
    """Decoding from many threads reuses the engine's pools: their threads
    do not grow with the number of calling threads."""
    path = MULTIFRAME[1]
    before = {t.name for t in threading.enumerate() if t.name.startswith("rapidicom-")}
    run_threads(THREADS, lambda k: rapidicom.open(path).pixels.to_array(threads=2))
    after = {t.name for t in threading.enumerate() if t.name.startswith("rapidicom-")}
    assert after - before <= {"rapidicom-2_0", "rapidicom-2_1"}, sorted(after - before)

