"""A bar chart of a benchmark summary, written as PNG with matplotlib.

One horizontal bar per (stage, reference library): the ratio of its time
to rapidicom's on the files both got right, on a log scale with rapidicom
at 1 (``metric="ratio"``), or MB/s of every library including rapidicom
(``metric="mbps"``).  A library with wrong answers, errors or crashes has
them written next to its bar; one with no verified file gets no bar, only
that text.  Drawn with the Agg canvas directly, so no GUI backend or global
pyplot state is involved.

.. versionadded:: 0.2.0
"""
from __future__ import annotations

__all__ = ["write_png"]

OURS = "rapidicom"
_BAR_HEIGHT = 0.8


def _rows(summary: dict, metric: str) -> list[tuple[str, str, float | None, str]]:
    """(stage title, library, value, flags) per bar, in table order."""
    rows = []
    for stage in summary["stages"].values():
        for lib, e in stage["libraries"].items():
            if metric == "ratio" and lib == OURS:
                continue
            value = e.get("ratio") if metric == "ratio" else e.get("MB_per_s")
            flags = [f"{kind} {e[count]}" for kind, count in
                     (("wrong", "wrong"), ("error", "errors"), ("crashed", "crashes"))
                     if e[count]]
            rows.append((stage["title"], lib, value, ", ".join(flags)))
    return rows


def write_png(summary: dict, path: str, metric: str = "ratio") -> None:
    """Draw `summary` (from ``report.summarise``) into the PNG file `path`.

    Parameters
    ----------
    metric : {"ratio", "mbps"}
        Bar length: library time / rapidicom time, or MB/s.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    rows = _rows(summary, metric)
    height = 1.6 + 0.28 * max(len(rows), 1)
    fig = Figure(figsize=(10, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    names = sorted({lib for _, lib, _, _ in rows})
    colours = {lib: f"C{i % 10}" for i, lib in enumerate(names)}
    positions = list(range(len(rows)))[::-1]
    values = [v for _, _, v, _ in rows if v]
    floor = min(values + [1.0]) / 2
    for y, (_, lib, value, flags) in zip(positions, rows):
        if value:
            ax.barh(y, value, height=_BAR_HEIGHT, color=colours[lib],
                    hatch="//" if flags else None, edgecolor="black", linewidth=0.4)
        text = (f"{value:.2f}×" if metric == "ratio" else f"{value:.1f} MB/s") if value \
            else "no verified file"
        if flags:
            text += f"  ({flags})"
        ax.text(value or floor, y, " " + text, va="center", fontsize=7)
    ax.set_yticks(positions)
    ax.set_yticklabels([f"{stage}: {lib}" for stage, lib, _, _ in rows], fontsize=7)
    ax.set_xscale("log")
    unit = "×" if metric == "ratio" else ""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}{unit}"))
    if metric == "ratio":
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("time / rapidicom time (log scale; > 1: rapidicom is faster)")
        ax.set_title("rapidicom bench: each library against rapidicom, verified files only")
    else:
        ax.set_xlabel("MB/s (log scale)")
        ax.set_title("rapidicom bench: throughput, verified files only")
    if values:
        ax.set_xlim(floor, max(values) * 4)
    ax.grid(axis="x", which="both", linewidth=0.3, alpha=0.5)
    fig.tight_layout()
    fig.savefig(path, format="png")
