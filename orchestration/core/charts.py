"""Charts as PNG bytes, rendered server-side with matplotlib (no display: the Agg backend), and
the Markdown that embeds one in Dagster metadata. Free of Dagster and of the database."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

COLOURS = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")


def bars(title: str, categories: Sequence[str], series: dict[str, Sequence[float]], *, ylabel: str = "",
         stacked: bool = False, horizontal: bool = False) -> bytes:
    """A grouped (or stacked) bar chart: one group per category, one bar per series."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.2), dpi=100)
    ax = fig.add_subplot()
    n = max(len(series), 1)
    width = 0.8 if stacked else 0.8 / n
    positions = range(len(categories))
    bottom = [0.0] * len(categories)
    for i, (name, values) in enumerate(series.items()):
        values = [float(v or 0) for v in values]
        offset = [p for p in positions] if stacked else [p - 0.4 + width * (i + 0.5) for p in positions]
        draw = ax.barh if horizontal else ax.bar
        kwargs = {"left" if horizontal else "bottom": bottom} if stacked else {}
        draw(offset, values, width, label=name, color=COLOURS[i % len(COLOURS)], **kwargs)
        if stacked:
            bottom = [b + v for b, v in zip(bottom, values)]
    labels = [str(c) if len(str(c)) <= 18 else str(c)[:17] + "…" for c in categories]
    if horizontal:
        ax.set_yticks(list(positions), labels)
        ax.set_xlabel(ylabel)
    else:
        ax.set_xticks(list(positions), labels, rotation=30 if len(categories) > 6 else 0, ha="right"
                      if len(categories) > 6 else "center")
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    if not categories:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="#666")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline in Markdown (a data URI): the Dagster UI shows it in the asset's metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
