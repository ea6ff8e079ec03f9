"""Reproducers of bugs found by fuzzing (tests/corpus/) stay harmless.

tests/corpus/README.md lists each file and the bug it guards.  Two runs:

* every file goes through the Python layer in a subprocess
  (``tests/fuzz/fuzz_python.py --check``): opened strictly and leniently,
  every value read (nested items included), ``to_json()``, every frame and
  ``pixel_array``.  Only ``rapidicom.DicomError`` subclasses may escape, and
  the process must not die by a signal (a crash of the C core);
* a reproducer of a C-level fuzz target (``fuzz_<target>-<bug>.bin``, in that
  target's input layout) is replayed through the target itself: its
  ``fuzz_<target>.c`` with its invariant checks, linked with
  ``tests/fuzz/replay_main.c`` instead of libFuzzer and the core sources it
  needs, under ASan + UBSan where the compiler has them.  Each reproducer
  made its target fail before its fix (an out-of-bounds read or write, or an
  output left partly unwritten).

The bugs reachable from Python also have a test of the behaviour the fix
gives, checked against pydicom where pydicom reads the file.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import kernel_support as ks
import rapidicom

TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "corpus"
FUZZ = TESTS / "fuzz"
REPRODUCERS = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md")
RAW = [p for p in REPRODUCERS if p.suffix == ".bin"]

# What each fuzz target links: core sources, codec defines for codec.c, and
# pkg-config modules (kernel_support.C_LIBRARIES) or plain linker flags.
_PIXEL = ["frame.c", "unpack.c", "colour.c"]
_CODEC = ["codec.c", *_PIXEL]
TARGETS = {
    "native": (_PIXEL, [], [], []),
    "deflate": (["inflate.c", *_PIXEL], [], [], ["-lz"]),
    "rle": (["rle.c", *_PIXEL], [], [], []),
    "frame_table": (["encaps.c"], [], [], []),
    "lut": (["lut.c"], [], [], ["-lm"]),
    "ljpeg": (["ljpeg.c", *_CODEC], ["-DRD_HAVE_JPEG_LOSSLESS"], [], []),
    "jpeg12": (["jpeg12.c", *_CODEC], ["-DRD_HAVE_JPEG12"], [], []),
    "jpeg": (["jpeg.c", *_CODEC], ["-DRD_HAVE_JPEG"], ["libjpeg"], []),
    "jls": (["jlsdec.c", "jls.c", *_CODEC], ["-DRD_HAVE_JPEG_LS", "-DRD_HAVE_CHARLS"], ["charls"],
            []),
    "j2k": (["j2k.c", *_CODEC], ["-DRD_HAVE_J2K"], ["libopenjp2"], []),
    "scan": (["scan.c", "index.c", "dict.c", "inflate.c", "encaps.c"], [], [], ["-lz"]),
}


def target_of(path: Path) -> str:
    """The fuzz target a raw reproducer belongs to: fuzz_<target>-<bug>.bin."""
    name = path.name.split("-", 1)[0]
    assert name.startswith("fuzz_") and name[5:] in TARGETS, \
        f"{path.name}: name it fuzz_<target>-<bug>.bin, target one of {sorted(TARGETS)}"
    return name[5:]


# --------------------------------------------------------------------------
# The Python layer, in a subprocess
# --------------------------------------------------------------------------

def test_corpus_is_not_empty():
    assert REPRODUCERS, "tests/corpus/ holds no reproducers"
    listed = (CORPUS / "README.md").read_text()
    missing = [p.name for p in REPRODUCERS if p.name not in listed]
    assert not missing, f"not described in tests/corpus/README.md: {missing}"


def test_every_reproducer_raises_only_dicom_errors():
    res = subprocess.run([sys.executable, str(FUZZ / "fuzz_python.py"), "--check",
                          *map(str, REPRODUCERS)], capture_output=True, text=True,
                         timeout=300)
    if res.returncode < 0:
        pytest.fail(f"killed by {signal.Signals(-res.returncode).name}; last file reached:\n"
                    f"{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    assert res.returncode == 0, res.stderr[-6000:]
    assert res.stdout.count("ok: ") == len(REPRODUCERS)


# --------------------------------------------------------------------------
# The C targets, replayed without libFuzzer
# --------------------------------------------------------------------------

def build_replay(tmp_dir: Path, target: str, sanitize: list[str]) -> Path:
    """fuzz_<target>.c + replay_main.c + its core sources, as one program;
    skips (saying why) where cc or a codec library is missing."""
    sources, defines, modules, libs = TARGETS[target]
    reason = ks.missing(tuple(modules))
    if reason is not None:
        pytest.skip(reason)
    cflags = [f for m in modules for f in ks.library_flags(m)[0]]
    ldflags = [f for m in modules for f in ks.library_flags(m)[1]]
    out = tmp_dir / f"replay_{target}"
    cmd = [ks.CC, "-O1", "-g", *sanitize, f"-I{ks.CORE}", *defines, *cflags,
           str(FUZZ / f"fuzz_{target}.c"), str(FUZZ / "replay_main.c"),
           *(str(ks.CORE / s) for s in sources), "-o", str(out), *ldflags, *libs]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def sanitize(tmp_path_factory) -> list[str]:
    """ASan + UBSan flags where cc builds with them, else none (the
    invariant checks still run)."""
    if ks.CC is None:
        pytest.skip(ks.NO_CC)
    return ks.sanitizer_flags(tmp_path_factory.mktemp("probe")) or []


@pytest.mark.skipif(not RAW, reason="no raw reproducers in tests/corpus/")
@pytest.mark.parametrize("target", sorted({target_of(p) for p in RAW}))
def test_raw_reproducers_pass_their_target(target, sanitize, tmp_path):
    exe = build_replay(tmp_path, target, sanitize)
    files = [p for p in RAW if target_of(p) == target]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    res = subprocess.run([str(exe), *map(str, files)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert res.returncode == 0, (f"exit status {res.returncode}\n{res.stdout[-2000:]}\n"
                                 f"{res.stderr[-6000:]}")
    assert res.stdout.count("ok ") == len(files)


# --------------------------------------------------------------------------
# What the fixes give, where Python reaches the bug
# --------------------------------------------------------------------------

def test_ybr422_with_an_odd_pixel_count_is_refused():
    """fuzz_native-ybr422-odd-pixels: a 1 x 3 YBR_FULL_422 frame has a pixel
    without its Cb/Cr pair.  The decoder read past the frame for it; it is
    now an InvalidDicomError, and pydicom refuses the file too."""
    import pydicom

    path = CORPUS / "fuzz_native-ybr422-odd-pixels.dcm"
    with pytest.raises(ValueError):
        pydicom.dcmread(path).pixel_array
    ds = rapidicom.open(path)
    assert ds.pixels.shape == (1, 1, 3, 3)
    with pytest.raises(rapidicom.InvalidDicomError, match="even number of pixels"):
        ds.pixel_array
    with pytest.raises(rapidicom.InvalidDicomError):
        ds.pixels.frame(0, as_rgb=False)


def test_ybr422_with_an_even_pixel_count_still_decodes():
    """The same file with a fourth pixel (2 x 2) decodes as pydicom does."""
    import io

    import numpy as np
    import pydicom

    ds = pydicom.dcmread(CORPUS / "fuzz_native-ybr422-odd-pixels.dcm")
    ds.Rows, ds.Columns = 2, 2
    ds.PixelData = bytes([10, 20, 128, 128, 30, 40, 100, 150])
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    ours = rapidicom.open(buf.getvalue()).pixel_array
    assert np.array_equal(ours, pydicom.dcmread(io.BytesIO(buf.getvalue())).pixel_array)


def test_frames_past_a_bad_offset_table_are_missing_not_stale():
    """fuzz_frame_table-stale-spans-after-bad-offset-table: 4 frames, 5
    one-pixel RLE fragments and a Basic Offset Table whose fourth offset is
    no item boundary.  The table is ignored and the walk finds one frame
    (fragments 1-5, no end markers).  Spans the failed table had filled
    stayed in place, so frame 1 also claimed fragment 2 (overlapping frame
    0).  Now frames 1-3 are missing, as the warning says; frame 0 is
    pydicom's."""
    from pydicom.pixels import pixel_array

    path = CORPUS / "fuzz_frame_table-stale-spans-after-bad-offset-table.dcm"
    px = rapidicom.open(path).pixels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = px.frame(0)
    said = " / ".join(str(w.message) for w in caught)
    assert "offset table is invalid" in said and "fewer frames were found" in said, said
    assert first.tolist() == pixel_array(str(path), index=0).tolist() == [[10]]
    for index in (1, 2, 3):
        with pytest.raises(rapidicom.DecodeError, match=f"frame {index} is missing"):
            px.frame(index)


def test_specific_character_set_with_a_binary_vr_falls_back_to_the_default():
    """fuzz_python-charset-with-binary-vr: (0008,0005) written as US made
    every text value raise TypeError (pydicom raises one too).  Now the
    terms are unreadable, so the default repertoire is used, with a
    warning."""
    ds = rapidicom.open(CORPUS / "fuzz_python-charset-with-binary-vr.dcm")
    with pytest.warns(UserWarning, match="Specific Character Set holds int values"):
        assert ds.PatientName == "Doe^Jane"


@pytest.mark.parametrize("name, message", [
    ("fuzz_python-photometric-with-binary-vr.dcm", "PhotometricInterpretation holds memoryview"),
    ("fuzz_python-rows-as-sequence.dcm", "Rows .* is not an integer"),
])
def test_pixel_description_of_the_wrong_type_is_invalid(name, message):
    """Photometric Interpretation written as OB (a memoryview) raised
    AttributeError from Dataset.pixels, which Python then reported as "no
    attribute 'pixels'"; Rows written as a sequence raised TypeError.
    pydicom fails on both files as well.  Both are InvalidDicomError now."""
    import pydicom

    path = CORPUS / name
    with pytest.raises((ValueError, TypeError)):
        pydicom.dcmread(path).pixel_array
    ds = rapidicom.open(path)
    with pytest.raises(rapidicom.InvalidDicomError, match=message):
        ds.pixels
