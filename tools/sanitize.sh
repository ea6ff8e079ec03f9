#!/usr/bin/env bash
# The sanitizer run (`make sanitize`, called by .ci/run):
#
#  1. builds the C core, the C test programs and the Cython modules with
#     AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
#     RD_SANITIZE; UB aborts) in build/asan, and installs that package into
#     build/asan-site, leaving the editable install in .venv alone;
#  2. runs the C test programs (ctest) and tests/c/test_scan.c over every
#     corpus file with LeakSanitizer on: a leaked index, frame table or
#     codec buffer fails the run;
#  3. runs the malformed-input, mutation and parity tests against the
#     sanitized package in a Python with libasan preloaded (Python itself
#     leaks by design, so leak detection is off there) and checks that the
#     modules it imported are the instrumented ones
#     (tests/test_sanitizer_build.py, RAPIDICOM_EXPECT_SANITIZED=1).
#
# Any sanitizer report stops the run with a non-zero status.  The interpreter
# in build/asan-venv sees build/asan-site first and then .venv's packages;
# it does not read .venv's .pth files, so the editable install's import hook
# cannot bring the regular build back in.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
BUILD=build/asan
SITE=build/asan-site
ASAN_VENV=build/asan-venv

# Malformed input, mutations, limits and the whole-corpus parity tests.
TESTS=(
  tests/test_sanitizer_build.py
  tests/test_bad_input.py
  tests/test_pixels_bad_input.py
  tests/test_fuzz_mutation.py
  tests/test_limits.py
  tests/test_parity.py
  tests/test_pixels_parity.py
  tests/test_deflated_frames.py
  tests/test_lut.py
  tests/test_threads.py
)
[ -f tests/test_corpus_repros.py ] && TESTS+=(tests/test_corpus_repros.py)
# Checks the mutation harness itself with a deliberate SIGSEGV, which ASan
# turns into a report and exit status 1 instead of the signal it expects.
DESELECT=(--deselect tests/test_fuzz_mutation.py::test_batch_reports_a_crash)

step() { printf '\n== %s (%ds)\n' "$1" "$SECONDS"; }

step "build with ASan + UBSan into $BUILD, install into $SITE"
# -O1 and line tables only: half the compile time of -O2 -g (the generated
# Cython sources are large), and reports still name file and line.
"$PY" -m pip install -q --no-build-isolation --no-deps --upgrade --target "$SITE" \
  -C build-dir="$BUILD" -C cmake.build-type=RelWithDebInfo \
  -C cmake.define.CMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -C cmake.define.RD_SANITIZE=ON -C cmake.define.RD_BUILD_C_TESTS=ON .

step "interpreter $ASAN_VENV (sees $SITE, then .venv's packages)"
base=$("$PY" -c 'import sys; print(sys._base_executable)')
venv_site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -x "$ASAN_VENV/bin/python" ] || "$base" -m venv --without-pip "$ASAN_VENV"
asan_site=$("$ASAN_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n%s\n' "$PWD/$SITE" "$venv_site" > "$asan_site/rapidicom-asan.pth"

# The runtime of the compiler that built the modules, to preload into Python.
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
libasan=$("${cc:-cc}" -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "libasan.so not found for $cc" >&2; exit 1; }
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

step "C test programs (ctest), LeakSanitizer on"
ctest=$(dirname "$PY")/ctest                 # the venv's (pip's cmake), else PATH's
[ -x "$ctest" ] || ctest=ctest
ASAN_OPTIONS=detect_leaks=1 "$ctest" --test-dir "$BUILD" --output-on-failure -j 2

step "scanner over every corpus file, whole and cut short, LeakSanitizer on"
PYTHONPATH=tests "$PY" -c 'from corpus import dicom_files
print("\n".join(map(str, dicom_files())))' > "$BUILD/corpus-files.txt"
ASAN_OPTIONS=detect_leaks=1 xargs -d '\n' -a "$BUILD/corpus-files.txt" "$BUILD/test_scan"

step "Python tests against the sanitized build"
LD_PRELOAD="$libasan" \
ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
RAPIDICOM_EXPECT_SANITIZED=1 \
  "$ASAN_VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=5 "${TESTS[@]}" \
  "${DESELECT[@]}"

step "sanitizer run passed"
