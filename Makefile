# Quick start: `make demo` and `make test` do all setup on a fresh Debian machine
# (system libraries through apt, a .venv, the package with its extras).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := build-essential pkg-config zlib1g-dev libturbojpeg0-dev \
	libjpeg62-turbo-dev libopenjp2-7-dev libcharls-dev openjph-tools
BUILD_DEPS := "scikit-build-core>=0.10" "cython>=3.0.10" "numpy>=2.0" ninja cmake

.PHONY: demo test setup system-deps venv install clean fuzz fuzz-build fuzz-deps sanitize

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest -q tests

# The C core and the Cython modules built with ASan + UBSan in build/asan
# (the .venv install is left alone): the C test programs with LeakSanitizer,
# then the malformed-input, mutation and parity tests (tools/sanitize.sh).
sanitize: install
	PY=$(PY) tools/sanitize.sh

setup: install

# System libraries: installed only when one is missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)

# Incremental: the CMake build directory (build/) is kept between runs.
install: system-deps venv
	$(PY) -m pip install -q $(BUILD_DEPS)
	$(PY) -m pip install -q --no-build-isolation -e ".[test,bench]"

clean:
	rm -rf build $(VENV) .pytest_cache .benchmarks

# Fuzzing (tests/fuzz/README.md): the libFuzzer targets, built with clang
# and ASan + UBSan in $(FUZZ_BUILD), each run for FUZZ_SECONDS with seeds
# cut from the test corpus and tests/fuzz/dicom.dict, then the atheris
# harness of the Python layer.  FUZZ_TARGETS picks some (e.g. "scan rle").
FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build/fuzz
FUZZ_TARGETS ?=
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev  # libclang-rt-14-dev: libFuzzer's runtime

fuzz-deps:
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(FUZZ_APT_PACKAGES)"

fuzz-build: install fuzz-deps
	$(VENV)/bin/cmake -S . -B $(FUZZ_BUILD) -G Ninja \
		-DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
		-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRD_FUZZ=ON
	$(VENV)/bin/cmake --build $(FUZZ_BUILD)
	$(PY) tests/fuzz/make_seeds.py $(FUZZ_BUILD)/seeds

fuzz: fuzz-build
	$(PY) tests/fuzz/run_fuzzers.py --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)
