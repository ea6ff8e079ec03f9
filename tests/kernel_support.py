"""What the codec-kernel tests share: test_rle_kernel.py, test_jpeg_kernel.py,
test_ljpeg_kernel.py, test_jls_kernel.py and test_j2k_kernel.py each compile
their kernel from src/core into a shared library and call it through ctypes.

* ctypes mirrors of src/core/rapidicom.h: rd_frame_desc (FrameDesc),
  rd_error (Error), rd_codec_options (CodecOptions), the rd_status codes,
  RD_CODEC_KEEP_YBR and the rd_photometric numbers (PHOTOMETRIC);
* building: ``build_library`` / ``build_program`` run
  ``cc -O2 -Wall -Wextra ... -Werror -Isrc/core [-shared -fPIC]`` with the
  flags pkg-config gives for the external libraries (libjpeg, charls,
  libopenjp2), and ``missing`` / ``requires`` say why a kernel cannot be built
  here (no cc, a library not installed) so that its tests skip with that reason;
  ``sanitizer_flags``, ``require_sanitizer``, ``libasan``, ``python_asan`` and
  ``run_c_program`` for the C test programs under tests/c and the mutation
  libraries, plainly and under ASan/UBSan;
* loading and calling: ``load_library``, ``run_decoder``, ``frame_array``;
* the corpus: ``corpus_files`` (the files of some transfer syntaxes),
  ``corpus_frames``, ``file_id``; pydicom as the reference: ``pydicom_array``,
  ``encapsulated_dataset``;
* the mutation runs, which damage frames in a subprocess (under ASan where it
  works) so that a crash is a failed test: the parent side (``mutation_env``,
  ``run_mutation``, ``assert_exited_cleanly``) and, in the subprocess,
  ``GuardedCalls`` (exact-size malloc'd buffers and a canary after the frame),
  ``frame_problem`` (the checks every codec must pass) and ``MutationTally``.

Nothing here knows one codec from another: what differs between the kernels
stays in their test files and reaches these functions as arguments.
"""
from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CORE = ROOT / "src" / "core"
C_TESTS = TESTS / "c"

CC = shutil.which("cc")
NO_CC = "no C compiler: 'cc' is not on PATH"

# --------------------------------------------------------------------------
# ctypes mirrors of src/core/rapidicom.h
# --------------------------------------------------------------------------

# rd_status
RD_OK, RD_ERR_TRUNCATED, RD_ERR_INVALID, RD_ERR_LIMIT = 0, 1, 2, 3
RD_ERR_NOMEM, RD_ERR_UNSUPPORTED, RD_ERR_DECODE, RD_ERR_NOT_DICOM = 4, 5, 6, 7
# What a codec with options (JPEG, JPEG lossless, JPEG-LS, JPEG 2000) may
# answer to any input, however damaged.
CODEC_STATUSES = frozenset({RD_OK, RD_ERR_DECODE, RD_ERR_INVALID, RD_ERR_LIMIT,
                            RD_ERR_UNSUPPORTED})

# rd_codec_options.flags
RD_CODEC_KEEP_YBR = 0x1

# rd_photometric, by the Photometric Interpretation's DICOM name
PHOTOMETRIC = {
    "MONOCHROME1": 1, "MONOCHROME2": 2, "PALETTE COLOR": 3, "RGB": 4, "YBR_FULL": 5,
    "YBR_FULL_422": 6, "YBR_ICT": 7, "YBR_RCT": 8, "YBR_PARTIAL_420": 9,
}


class FrameDesc(ctypes.Structure):
    """rd_frame_desc."""
    _fields_ = [(name, ctypes.c_uint32) for name in (
        "rows", "columns", "samples_per_pixel", "bits_allocated", "bits_stored",
        "pixel_representation", "planar_configuration", "photometric")]


class Error(ctypes.Structure):
    """rd_error."""
    _fields_ = [("code", ctypes.c_int), ("offset", ctypes.c_uint64),
                ("tag", ctypes.c_uint32), ("msg", ctypes.c_char * 256),
                ("path", ctypes.c_char * 256)]


class CodecOptions(ctypes.Structure):
    """rd_codec_options."""
    _fields_ = [("size", ctypes.c_size_t), ("flags", ctypes.c_uint32),
                ("threads", ctypes.c_uint32), ("max_pixels", ctypes.c_uint64)]


def options(flags: int = 0, max_pixels: int = 0, threads: int = 0) -> CodecOptions:
    return CodecOptions(size=ctypes.sizeof(CodecOptions), flags=flags, threads=threads,
                        max_pixels=max_pixels)


def frame_desc(ds) -> FrameDesc:
    """The FrameDesc of a pydicom dataset."""
    return FrameDesc(
        rows=ds.Rows, columns=ds.Columns, samples_per_pixel=ds.SamplesPerPixel,
        bits_allocated=ds.BitsAllocated, bits_stored=ds.BitsStored,
        pixel_representation=ds.PixelRepresentation,
        planar_configuration=ds.get("PlanarConfiguration", 0) or 0,
        photometric=PHOTOMETRIC.get(ds.PhotometricInterpretation, 0))


# --------------------------------------------------------------------------
# Building: cc, pkg-config, sanitizers
# --------------------------------------------------------------------------

def compile_flags(*more_warnings: str) -> list[str]:
    """-O2, the warnings every kernel is built with (and `more_warnings`),
    -Werror, -Isrc/core."""
    return ["-O2", "-Wall", "-Wextra", *more_warnings, "-Werror", "-Wno-unused-parameter",
            f"-I{CORE}"]


@dataclass(frozen=True)
class CLibrary:
    """An external C library a kernel links against."""
    package: str                    # where it comes from (Debian)
    probe: str                      # a C program that must compile and link
    cflags: tuple[str, ...] = ()    # the flags where pkg-config is not installed
    libs: tuple[str, ...] = ()      # or does not know the module
    min_version: str | None = None  # pkg-config --atleast-version, where pkg-config is


# By pkg-config module.
C_LIBRARIES = {
    "libjpeg": CLibrary(
        "libjpeg62-turbo-dev",
        "#include <stdio.h>\n#include <jpeglib.h>\n"
        "int main(void) { struct jpeg_error_mgr e; return jpeg_std_error(&e) == NULL; }\n",
        libs=("-ljpeg",)),
    "charls": CLibrary(
        "libcharls-dev",
        "#include <charls/charls.h>\nint main(void){"
        "charls_jpegls_decoder_destroy(charls_jpegls_decoder_create());return 0;}\n",
        libs=("-lcharls",)),
    # Without pkg-config, the path of Debian's 2.5 headers.
    "libopenjp2": CLibrary(
        "libopenjp2-7-dev",
        "#include <openjpeg.h>\nint main(void){ return opj_version() == 0; }\n",
        cflags=("-I/usr/include/openjpeg-2.5",), libs=("-lopenjp2",), min_version="2.5"),
}


@functools.lru_cache(maxsize=None)
def library_flags(module: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(cflags, libs) of one library in C_LIBRARIES: pkg-config's where it
    knows the module, else the usual names; None where the library declares
    a minimum version and pkg-config does not find that one."""
    lib = C_LIBRARIES[module]
    if shutil.which("pkg-config") is None:
        return lib.cflags, lib.libs
    if lib.min_version is not None and subprocess.run(
            ["pkg-config", f"--atleast-version={lib.min_version}", module],
            capture_output=True).returncode != 0:
        return None
    cflags = subprocess.run(["pkg-config", "--cflags", module], capture_output=True, text=True)
    libs = subprocess.run(["pkg-config", "--libs", module], capture_output=True, text=True)
    if cflags.returncode != 0 or libs.returncode != 0:
        return lib.cflags, lib.libs
    return tuple(cflags.stdout.split()), tuple(libs.stdout.split())


@functools.lru_cache(maxsize=None)
def missing(pkg_config_modules: tuple[str, ...] = ()) -> str | None:
    """Why a kernel linking these libraries cannot be built here, or None."""
    if CC is None:
        return NO_CC
    for module in pkg_config_modules:
        lib = C_LIBRARIES[module]
        version = f" >= {lib.min_version}" if lib.min_version else ""
        what = f"{module}{version} ({lib.package}, pkg-config module '{module}')"
        flags = library_flags(module)
        if flags is None:
            return f"{what} is not installed"
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe.c"
            probe.write_text(lib.probe)
            res = subprocess.run([CC, *flags[0], str(probe), "-o", str(Path(tmp) / "probe"),
                                  *flags[1]], capture_output=True, text=True)
        if res.returncode != 0:
            first = (res.stderr.strip().splitlines() or ["no message"])[0]
            return f"{what} is not installed (cc: {first.strip()[-200:]})"
    return None


def requires(*pkg_config_modules: str) -> pytest.MarkDecorator:
    """A test module's pytestmark: skip it (saying why) where cc or one of
    these libraries is missing."""
    reason = missing(pkg_config_modules)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def _compile(out: Path, sources: Iterable[Path], pkg_config_modules: Sequence[str],
             extra_flags: Sequence[str], cflags: Sequence[str] | None,
             link: Sequence[str]) -> Path:
    reason = missing(tuple(pkg_config_modules))
    if reason is not None:
        pytest.skip(reason)
    lib_cflags = [f for m in pkg_config_modules for f in library_flags(m)[0]]
    lib_libs = [f for m in pkg_config_modules for f in library_flags(m)[1]]
    subprocess.run([CC, *(compile_flags() if cflags is None else cflags), *lib_cflags,
                    *extra_flags, *link, *map(str, sources), "-o", str(out), *lib_libs],
                   check=True, capture_output=True, text=True)
    return out


def build_library(tmp_dir: Path, sources: Iterable[Path], pkg_config_modules: Sequence[str] = (),
                  extra_flags: Sequence[str] = (), *, name: str = "libkernel.so",
                  cflags: Sequence[str] | None = None) -> Path:
    """tmp_dir/name, a shared library (-shared -fPIC) of `sources` linked
    against the pkg-config modules; cflags default to compile_flags().
    Skips the test, saying why, where cc or a library is missing."""
    return _compile(Path(tmp_dir) / name, sources, pkg_config_modules, extra_flags, cflags,
                    ["-shared", "-fPIC"])


def build_program(tmp_dir: Path, sources: Iterable[Path], pkg_config_modules: Sequence[str] = (),
                  extra_flags: Sequence[str] = (), *, name: str,
                  cflags: Sequence[str] | None = None) -> Path:
    """tmp_dir/name, a program, built as build_library builds a library."""
    return _compile(Path(tmp_dir) / name, sources, pkg_config_modules, extra_flags, cflags, [])


def run_c_program(exe: Path, *, leaks: bool,
                  unset_env: Iterable[str] = ()) -> subprocess.CompletedProcess:
    """Runs a C test program (UBSan halting on error; LeakSanitizer on or off
    where ASan is built in) without the variables in `unset_env`."""
    env = dict(os.environ, ASAN_OPTIONS=f"detect_leaks={int(leaks)}",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    for name in unset_env:
        env.pop(name, None)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)


SANITIZE = ["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer"]
NO_SANITIZER = "cc cannot build with -fsanitize=address,undefined"
NO_LIBASAN = "libasan.so not found for LD_PRELOAD"


def sanitizer_flags(tmp_dir: Path, flags: Sequence[str] = SANITIZE) -> list[str] | None:
    """`flags` when cc can build a program with them, else None."""
    probe = Path(tmp_dir) / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    res = subprocess.run([CC, *flags, str(probe), "-o", str(Path(tmp_dir) / "probe")],
                         capture_output=True)
    return list(flags) if res.returncode == 0 else None


def require_sanitizer(tmp_dir: Path, flags: Sequence[str] = SANITIZE) -> list[str]:
    """sanitizer_flags(), or skip the test."""
    got = sanitizer_flags(tmp_dir, flags)
    if got is None:
        pytest.skip(NO_SANITIZER)
    return got


def libasan() -> str | None:
    """cc's libasan.so (to LD_PRELOAD into Python), or None."""
    path = subprocess.run([CC, "-print-file-name=libasan.so"],
                          capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def python_asan(tmp_dir: Path) -> tuple[list[str] | None, str | None]:
    """(sanitizer flags, libasan.so) where a library built with ASan can be
    loaded into a Python subprocess (libasan.so in LD_PRELOAD); (None, None)
    where it cannot."""
    flags = sanitizer_flags(tmp_dir)
    runtime = libasan() if flags is not None else None
    return (flags, runtime) if runtime is not None else (None, None)


# --------------------------------------------------------------------------
# Loading and calling
# --------------------------------------------------------------------------

def load_library(path: Path, decoder: str, *, takes_options: bool = True,
                 colour: bool = False) -> ctypes.CDLL:
    """The kernel library at `path` with argtypes for rd_frame_size and its
    decode function `decoder` (rd_xxx_decode_frame, with or without an
    rd_codec_options argument) and, with `colour`, rd_ybr_full_to_rgb_u8."""
    lib = ctypes.CDLL(str(path))
    lib.rd_frame_size.argtypes = [ctypes.POINTER(FrameDesc)]
    lib.rd_frame_size.restype = ctypes.c_uint64
    fn = getattr(lib, decoder)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(FrameDesc),
                   *([ctypes.POINTER(CodecOptions)] if takes_options else []),
                   ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(Error)]
    fn.restype = ctypes.c_int
    if colour:
        lib.rd_ybr_full_to_rgb_u8.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        lib.rd_ybr_full_to_rgb_u8.restype = None
    return lib


def _call(fn, src, src_len: int, desc: FrameDesc, opts: CodecOptions | None,
          takes_options: bool, dst, dst_cap: int, err: Error) -> int:
    args = [src, src_len, ctypes.byref(desc)]
    if takes_options:
        args.append(ctypes.byref(opts) if opts is not None else None)
    return fn(*args, dst, dst_cap, ctypes.byref(err))


def run_decoder(lib: ctypes.CDLL, fn, src: bytes, desc: FrameDesc,
                opts: CodecOptions | None = None, *, takes_options: bool = True,
                cap: int | None = None):
    """(status, the output buffer (uint8, rd_frame_size bytes), rd_error) of
    one call of `fn`, a decode function of `lib`, on `src`; `cap` is the
    capacity passed (default: the frame's size)."""
    size = lib.rd_frame_size(ctypes.byref(desc))
    out = np.empty(max(size, 1), np.uint8)
    err = Error()
    st = _call(fn, src, len(src), desc, opts, takes_options, out.ctypes.data,
               size if cap is None else cap, err)
    return st, out[:size], err


def frame_array(raw, desc: FrameDesc) -> np.ndarray:
    """Decoder output (bytes or a uint8 array) as pydicom shapes and types a
    frame: (rows, columns[, samples]), little-endian, signed for Pixel
    Representation 1."""
    dtype = np.dtype(f"<{'i' if desc.pixel_representation else 'u'}{desc.bits_allocated // 8}")
    arr = raw.view(dtype) if isinstance(raw, np.ndarray) else np.frombuffer(raw, dtype)
    shape = (desc.rows, desc.columns) + ((desc.samples_per_pixel,)
                                         if desc.samples_per_pixel > 1 else ())
    return arr.reshape(shape)


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    """The largest absolute difference of two arrays (0 when empty)."""
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) if a.size else 0


# --------------------------------------------------------------------------
# The corpus (tests/corpus.py) and pydicom as the reference
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _corpus_syntaxes() -> tuple[tuple[Path, str | None], ...]:
    """(path, transfer syntax UID or None) of every corpus file pydicom reads."""
    import corpus
    import pydicom

    found = []
    for path in corpus.dicom_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:       # not ours to judge here; test_parity covers reading
            continue
        meta = getattr(ds, "file_meta", None)
        uid = meta.get("TransferSyntaxUID") if meta is not None else None
        found.append((path, None if uid is None else str(uid)))
    return tuple(found)


def corpus_files(transfer_syntaxes: Iterable[str]) -> list[Path]:
    """Every corpus file whose File Meta names one of these transfer syntaxes."""
    wanted = {transfer_syntaxes} if isinstance(transfer_syntaxes, str) \
        else set(transfer_syntaxes)
    return [path for path, uid in _corpus_syntaxes() if uid in wanted]


def corpus_frames(path: Path, *, no_pixels_ok: bool = False):
    """(dataset, [frame bytes]) of one file, read with warnings silenced.  A
    file without Pixel Data has no frames with `no_pixels_ok`, else reading
    it raises."""
    import pydicom
    from pydicom.encaps import generate_frames

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
    if no_pixels_ok and "PixelData" not in ds:
        return ds, []
    n = int(ds.get("NumberOfFrames") or 1)
    return ds, list(generate_frames(ds.PixelData, number_of_frames=n))


def file_id(path: Path) -> str:
    """A corpus file's parametrization id."""
    import corpus
    return corpus.file_id(path)


def pydicom_array(ds, index: int | None = None, plugin: str = "", **kwargs):
    """pydicom's (array, properties) for one frame (index) or all, decoded
    with `plugin` ('' = pydicom's own choice); warnings silenced."""
    from pydicom.pixels.decoders.base import get_decoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_decoder(ds.file_meta.TransferSyntaxUID).as_array(
            ds, index=index, decoding_plugin=plugin, **kwargs)


def encapsulated_dataset(frames: Sequence[bytes], *, rows: int, columns: int,
                         samples_per_pixel: int, bits_allocated: int, bits_stored: int,
                         pixel_representation: int, photometric: str, syntax: str,
                         planar_configuration: int = 0, number_of_frames: int | None = None):
    """An in-memory pydicom dataset with encapsulated (OB) Pixel Data: High
    Bit is Bits Stored - 1, Planar Configuration only with several samples,
    Number of Frames only when given."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, samples_per_pixel
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = pixel_representation
    ds.PhotometricInterpretation = photometric
    if samples_per_pixel > 1:
        ds.PlanarConfiguration = planar_configuration
    if number_of_frames is not None:
        ds.NumberOfFrames = number_of_frames
    ds.PixelData = encapsulate([bytes(f) for f in frames])
    ds["PixelData"].VR = "OB"
    return ds


# --------------------------------------------------------------------------
# Mutation runs: the parent (pytest) side
# --------------------------------------------------------------------------

def mutation_env(asan_runtime: str | None = None, asan_options: str = "detect_leaks=0",
                 preload_after: Sequence[str] = ()) -> dict[str, str]:
    """The environment of a mutation subprocess: tests/ on PYTHONPATH and,
    for a library built with ASan, the runtime (and `preload_after`) in
    LD_PRELOAD with `asan_options`."""
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    if asan_runtime is not None:
        env.update(LD_PRELOAD=" ".join([asan_runtime, *preload_after]),
                   ASAN_OPTIONS=asan_options)
    return env



def cxx_mutation_env(tmp_dir: Path, rlimit_variable: str) -> tuple[list[str], dict[str, str]]:
    """(compile flags, environment) of a mutation subprocess whose decoder
    library links a C++ library (CharLS).  Under ASan: any single
    allocation over 1 GiB aborts the process (no absurd allocations), and
    libstdc++ is preloaded after the runtime, or ASan's __cxa_throw
    interceptor finds nothing to forward to.  Without ASan the subprocess
    caps its address space at 4 GiB itself, reading `rlimit_variable`."""
    flags, libasan = python_asan(tmp_dir)
    if libasan is not None:
        return flags or [], mutation_env(libasan, "detect_leaks=0:max_allocation_size_mb=1024",
                                         preload_after=["libstdc++.so.6"])
    env = mutation_env()
    env[rlimit_variable] = str(4 << 30)
    return flags or [], env

def run_mutation(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python script args...` (a test file's __main__), at most 300 s."""
    return subprocess.run([sys.executable, script, *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def assert_exited_cleanly(returncode: int, stdout: str, stderr: str, label: str = "") -> None:
    assert returncode == 0, (
        f"{label + ': ' if label else ''}exit status {returncode} "
        f"(negative: killed by a signal)\n{stdout[-4000:]}\n{stderr[-4000:]}")


def limit_address_space(nbytes: int) -> None:
    """RLIMIT_AS for this process: an absurd allocation fails."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))


# --------------------------------------------------------------------------
# Mutation runs: the subprocess side
# --------------------------------------------------------------------------

CANARY = b"\xA5" * 64


@dataclass
class GuardedCall:
    status: int
    out: bytes          # the frame's bytes and the 64 canary bytes after them
    err: Error
    seconds: float


class GuardedCalls:
    """Calls a decode function on exact-size malloc'd copies: under ASan any
    read past the input or write past the frame (+ 64 canary bytes) aborts."""

    def __init__(self):
        self.libc = ctypes.CDLL(None)
        self.libc.malloc.restype = ctypes.c_void_p
        self.libc.malloc.argtypes = [ctypes.c_size_t]
        self.libc.free.argtypes = [ctypes.c_void_p]

    def __call__(self, fn, data: bytes, desc: FrameDesc, size: int,
                 opts: CodecOptions | None = None, *, takes_options: bool = True,
                 fills: Sequence[int | None] = (None,)) -> list[GuardedCall]:
        """One call per fill of the same buffers: the frame's bytes set to
        `fill` first (None: left as malloc gives them), the canary always."""
        src = self.libc.malloc(max(len(data), 1))
        dst = self.libc.malloc(size + len(CANARY))
        ctypes.memmove(src, data, len(data))
        calls = []
        try:
            for fill in fills:
                if fill is not None:
                    ctypes.memset(dst, fill, size)
                ctypes.memset(dst + size, CANARY[0], len(CANARY))
                err = Error()
                start = time.perf_counter()
                st = _call(fn, src, len(data), desc, opts, takes_options, dst, size, err)
                took = time.perf_counter() - start
                calls.append(GuardedCall(st, ctypes.string_at(dst, size + len(CANARY)),
                                         err, took))
        finally:
            self.libc.free(src)
            self.libc.free(dst)
        return calls


def frame_problem(call: GuardedCall, size: int,
                  allowed: Iterable[int] = CODEC_STATUSES) -> str | None:
    """What every mutation run requires of a call, the first that fails: an
    allowed status, nothing written past the frame, a message with every
    failure."""
    if call.status not in allowed:
        return f"status {call.status}: {call.err.msg.decode(errors='replace')}"
    if call.out[size:] != CANARY:
        return "wrote past the frame"
    if call.status != RD_OK and not call.err.msg:
        return "error without a message"
    return None


class MutationTally:
    """Counts mutants and statuses, prints each problem as it is found and a
    summary at the end."""

    def __init__(self):
        self.checked = self.bad = 0
        self.statuses: dict[int, int] = {}

    def record(self, name: str, what: str, problem: str | None,
               status: int | None = None) -> None:
        self.checked += 1
        if status is not None:
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if problem:
            self.bad += 1
            print(f"{name}: {what}: {problem}", flush=True)

    def finish(self, *more: str) -> int:
        """Prints the summary (and `more`); the subprocess's exit status:
        0 when every mutant was handled."""
        print("; ".join([f"{self.checked} mutants checked, {self.bad} bad",
                         f"statuses {sorted(self.statuses.items())}", *more]), flush=True)
        return 1 if self.bad or self.checked == 0 else 0
