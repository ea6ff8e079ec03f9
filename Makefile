# Quick start: `make demo` and `make test` do all setup on a fresh Debian machine
# (system libraries through apt, a .venv, the package with its extras).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := build-essential pkg-config zlib1g-dev libturbojpeg0-dev \
	libjpeg62-turbo-dev libopenjp2-7-dev libcharls-dev openjph-tools
BUILD_DEPS := "scikit-build-core>=0.10" "cython>=3.0.10" "numpy>=2.0" ninja cmake

.PHONY: demo test setup system-deps venv install clean

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest -q tests

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
