"""A one-line live progress display for long command-line jobs.

``Progress(total, label)`` redraws a single stderr line with the count,
items/s and the time left; it draws only when stderr is a terminal (or when
``force=True``) and at most ten times a second, so it costs nothing in a
pipeline or a log.  ``total`` may be ``None`` when the count is unknown (a
tree still being walked): then no ETA is shown.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``'1:15'``; ``3725`` -> ``'1:02:05'``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished items and redraws one status line.

    Use as a context manager; ``update(n)`` adds `n` finished items,
    ``note(text)`` changes the trailing text (e.g. the current stage).
    """

    _INTERVAL = 0.1  # seconds between redraws

    def __init__(self, total: int | None, label: str = "", *,
                 unit: str = "files", stream: TextIO | None = None,
                 force: bool = False) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.done = 0
        self.failed = 0
        self.text = ""
        self._stream = stream if stream is not None else sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self._enabled = force or bool(isatty and isatty())
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    @property
    def rate(self) -> float:
        """Items per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int = 1, *, failed: int = 0) -> None:
        self.done += n
        self.failed += failed
        self._maybe_draw()

    def note(self, text: str) -> None:
        self.text = text
        self._maybe_draw()

    def line(self) -> str:
        """The status line as it would be drawn now."""
        parts = [self.label] if self.label else []
        if self.total is not None:
            percent = 100.0 * self.done / self.total if self.total else 100.0
            parts.append(f"{self.done}/{self.total} {self.unit} ({percent:.0f}%)")
        else:
            parts.append(f"{self.done} {self.unit}")
        rate = self.rate
        parts.append(f"{rate:,.0f} {self.unit}/s" if rate >= 10
                     else f"{rate:.1f} {self.unit}/s")
        if self.total is not None and rate > 0 and self.done < self.total:
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        else:
            parts.append(f"elapsed {format_duration(self.elapsed)}")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.text:
            parts.append(self.text)
        return " | ".join(parts)

    def _maybe_draw(self, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.perf_counter()
        if not final and now - self._last_draw < self._INTERVAL:
            return
        self._last_draw = now
        text = self.line()
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write("\r" + text + pad)
        self._stream.flush()

    def close(self) -> None:
        """Draw the final line and end it with a newline."""
        if self._enabled:
            self._maybe_draw(final=True)
            self._stream.write("\n")
            self._stream.flush()
            self._enabled = False
