"""The libraries a benchmark can run, and where their workloads live.

Each library has an adapter module (``with_<library>.py``) that imports the
library at the top, so importing an adapter is the test of whether the
library is there, and a worker process loads only the library it runs.  An
adapter provides, per kind of stage it supports:

- ``open12(path)`` / ``open12_views(path, result)``
- ``all_values(path)`` / ``all_values_views(path, result)``
- ``pixels(path)`` (pydicom: ``plugin_pixels(plugin)`` per decoding plugin)

The workload is what is timed; ``*_views`` turns its result (or, for "every
value", a separate untimed walk by the same library) into plain Python
values, named after what they hold, to be compared with rapidicom's views
of the same name.  Pixel arrays are compared with
``with_rapidicom.pixel_references``.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable

__all__ = ["Library", "LIBRARIES", "library", "pydicom_plugin_library"]

KINDS = ("open12", "values", "pixels")
_WORKLOADS = {"open12": ("open12", "open12_views"),
              "values": ("all_values", "all_values_views"),
              "pixels": ("pixels", None)}


@dataclass(frozen=True)
class Library:
    """One library (or one decoding plugin of pydicom) as a benchmark runs it.

    ``requires``: modules that must be importable; ``kinds``: the kinds of
    stage it takes part in; ``plugin``: pydicom's decoding plugin, if any;
    ``fragile``: native code that may leave its heap corrupt after raising,
    so the next file runs in a fresh worker process.
    """
    name: str
    adapter: str
    requires: tuple[str, ...]
    kinds: frozenset[str]
    description: str
    plugin: str | None = None
    fragile: bool = False

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def workload(self, kind: str) -> tuple[Callable, Callable | None]:
        """(timed function of a path, views function or None for pixels)."""
        module = importlib.import_module(f"rapidicom.benchmark.adapters.{self.adapter}")
        if kind == "pixels" and self.plugin:
            return module.plugin_pixels(self.plugin), None
        timed, views = _WORKLOADS[kind]
        return getattr(module, timed), (getattr(module, views) if views else None)


LIBRARIES: dict[str, Library] = {lib.name: lib for lib in (
    Library("rapidicom", "with_rapidicom", ("rapidicom",), frozenset(KINDS),
            "rapidicom.open; Dataset.get / element.value / pixel_array"),
    Library("pydicom", "with_pydicom", ("pydicom",), frozenset(KINDS),
            "pydicom.dcmread; Dataset.get / iterall / pixel_array (default decoder)"),
    Library("gdcm", "with_gdcm", ("gdcm",), frozenset({"open12", "pixels"}),
            "python-gdcm: Reader.ReadSelectedTags + StringFilter; ImageReader.GetBuffer",
            fragile=True),
    Library("dicomsdl", "with_dicomsdl", ("dicomsdl",), frozenset(KINDS),
            "dicomsdl.open; getValues / value() / copyFrameData", fragile=True),
)}

# pydicom's own RLE plugin is called "pydicom"; as a library it is named
# after what it is, numpy code.
_PLUGIN_LABELS = {"pydicom": "numpy"}
_PLUGIN_REQUIRES = {"gdcm": ("gdcm",), "pylibjpeg": ("pylibjpeg",),
                    "pyjpegls": ("jpeg_ls",), "pillow": ("PIL",), "pydicom": ()}


def pydicom_plugin_library(plugin: str) -> Library:
    """pydicom decoding pixels with one plugin only, e.g. ``pydicom+gdcm``."""
    label = _PLUGIN_LABELS.get(plugin, plugin)
    return Library(f"pydicom+{label}", "with_pydicom",
                   ("pydicom", *_PLUGIN_REQUIRES.get(plugin, ())), frozenset({"pixels"}),
                   f"pydicom.dcmread(path).pixel_array, decoding_plugin={plugin!r}",
                   plugin=plugin, fragile=plugin != "pydicom")


def library(name: str) -> Library:
    """The library called `name` (``rapidicom``, ``pydicom+pylibjpeg``, ...)."""
    if name in LIBRARIES:
        return LIBRARIES[name]
    if name.startswith("pydicom+"):
        label = name.split("+", 1)[1]
        plugin = {v: k for k, v in _PLUGIN_LABELS.items()}.get(label, label)
        return pydicom_plugin_library(plugin)
    raise KeyError(name)
