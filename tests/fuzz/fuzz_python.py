"""atheris harness for the Python layer: open, values, JSON, frames, pixel_array.

Every input is opened strictly and leniently with ``rapidicom.open(bytes)``;
then every value is read (the File Meta, nested items, lazily parsed private
and UN sequences), the dataset goes through ``to_json()``, and the pixels
through ``frame(i)`` (with and without the YBR to RGB conversion) and
``pixel_array``.  Bad input may only raise a ``rapidicom.DicomError``
subclass: any other exception is a finding, and so is a crash of the C
core.  Sizes are bounded so that a valid but huge description is skipped
rather than allocated (MAX_PIXEL_BYTES), which is why MemoryError is not
accepted either.

Coverage: atheris instruments the Python functions of the rapidicom package
(each one patched after import); the compiled extension is not built with
libFuzzer's instrumentation, so its C code is exercised but gives the fuzzer
no feedback.  The C core has its own coverage-guided targets (fuzz_*.c).

Usage::

    python tests/fuzz/fuzz_python.py build/fuzz/corpus/python build/fuzz/seeds/python \\
        -dict=tests/fuzz/dicom.dict -max_total_time=300 -rss_limit_mb=4096
    python tests/fuzz/fuzz_python.py --check FILE...   # run files once, no atheris

``--check`` exits with status 1 and prints the traceback when a file raises
anything but a DicomError; tests/test_corpus_repros.py runs it on
tests/corpus/ in a subprocess so that a crash cannot take pytest down.
"""
from __future__ import annotations

import math
import sys
import traceback
import types
import warnings
from pathlib import Path

MAX_PIXEL_BYTES = 64 << 20      # larger frames / arrays are not decoded
MAX_FRAMES = 8                  # frames read one by one (first ones and the last)
MAX_ELEMENTS = 200_000          # values read per input


def _functions_of(module):
    """The Python functions a module defines: module-level ones and the
    methods and properties of its classes."""
    for obj in vars(module).values():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        members = vars(obj).values() if isinstance(obj, type) else (obj,)
        for member in members:
            if isinstance(member, property):
                yield from (f for f in (member.fget, member.fset) if f is not None)
            elif isinstance(member, (staticmethod, classmethod)):
                yield member.__func__
            elif isinstance(member, types.FunctionType):
                yield member


def _import_rapidicom(instrument: bool):
    """Import rapidicom; with `instrument`, add atheris's coverage to the
    Python functions of its modules.  (atheris.instrument_imports skips
    modules loaded by the editable install's custom loader, so the
    functions are patched one by one after the import.)"""
    import rapidicom
    import rapidicom.pixels  # noqa: F401  (loaded by the package; named for clarity)
    if instrument:
        import atheris
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] == "rapidicom" and str(
                    getattr(module, "__file__", "")).endswith(".py"):
                for func in _functions_of(module):
                    if isinstance(func, types.FunctionType):
                        atheris.instrument_func(func)
    return rapidicom


rapidicom = None  # set by main(): instrumented or not


def read_values(ds) -> int:
    """Read every element of `ds`, its File Meta and all nested items (as
    ``Dataset.value`` lists); returns the number read.  A DicomError from
    one value does not stop the others."""
    count = 0
    stack = [ds, ds.meta]
    while stack and count < MAX_ELEMENTS:
        d = stack.pop()
        if d is None:
            continue
        for el in d:
            count += 1
            el.tag, el.vr, el.length, el.keyword, el.offset
            bytes(el.raw)
            try:
                value = el.value
            except rapidicom.DicomError:
                continue
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, rapidicom.Dataset))
    return count


def _nbytes(shape, dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def read_pixels(ds) -> None:
    """Decode frames one by one (the first MAX_FRAMES and the last, as RGB
    and as stored) and then pixel_array, skipping what is larger than
    MAX_PIXEL_BYTES."""
    px = ds.pixels
    if px is None or _nbytes(px.frame_shape, px.dtype) > MAX_PIXEL_BYTES:
        return
    n = px.number_of_frames
    for i in sorted({*range(min(n, MAX_FRAMES)), n - 1}):
        for as_rgb in (True, False):
            try:
                px.frame(i, as_rgb=as_rgb)
            except rapidicom.DicomError:
                pass
    if _nbytes(px.shape, px.dtype) <= MAX_PIXEL_BYTES:
        ds.pixel_array


def exercise(data: bytes) -> None:
    """Open `data` strictly and leniently and read everything.  DicomError
    is the accepted way to refuse bad data; anything else propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lenient in (False, True):
            try:
                ds = rapidicom.open(data, lenient=lenient)
            except rapidicom.DicomError:
                continue
            for step in (read_values, lambda d: d.to_json(), read_pixels):
                try:
                    step(ds)
                except rapidicom.DicomError:
                    pass


def check_files(paths: list[str]) -> int:
    """Exercise each file once; 1 (after printing the traceback) when one
    raises anything but a DicomError."""
    status = 0
    for path in paths:
        try:
            exercise(Path(path).read_bytes())
        except BaseException:
            print(f"FAILED: {path}", file=sys.stderr)
            traceback.print_exc()
            status = 1
        else:
            print(f"ok: {path}", flush=True)
    return status


def main(argv: list[str]) -> int:
    global rapidicom
    if argv[1:2] == ["--check"]:
        rapidicom = _import_rapidicom(instrument=False)
        return check_files(argv[2:])
    import atheris
    rapidicom = _import_rapidicom(instrument=True)
    atheris.Setup(argv, exercise)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
