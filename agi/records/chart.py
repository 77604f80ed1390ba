"""The report as a picture: calls and messages per day, and the funnel of the flow."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from agi.records.report import Report

FUNNEL_NODES = 15
"""Nodes drawn at most (the most reached)."""


_DRAWING = threading.Lock()
"""matplotlib's pyplot keeps global state: one chart is drawn at a time."""


class ChartsMissing(RuntimeError):
    """matplotlib is not installed: it comes with the `charts` extra."""


def draw(figures: Report, target: Path) -> None:
    """Write the chart to `target`; its suffix (.png or .svg) chooses the format."""
    _save(figures, target, target.suffix.lstrip(".").lower())


def svg_text(figures: Report) -> str:
    """The chart as SVG text, to put into a page."""
    out = io.StringIO()
    _save(figures, out, "svg")
    text = out.getvalue()
    return text[text.find("<svg") :]


def _save(figures: Report, target: Any, kind: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise ChartsMissing(
            "charts need matplotlib: pip install 'meter-readings-ivr[charts]' (the figures "
            "themselves need nothing more)"
        ) from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # the labels stay text: searchable, small
    matplotlib.rcParams["font.family"] = "DejaVu Sans"
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    with _DRAWING:
        _plot(figures, target, kind, pyplot, MaxNLocator)


def _plot(figures: Report, target: Any, kind: str, pyplot: Any, MaxNLocator: Any) -> None:
    figure, (volume, funnel, refusals) = pyplot.subplots(
        3, 1, figsize=(10, 12), constrained_layout=True, height_ratios=[3, 3, 2]
    )
    days = [day.day for day in figures.days]
    positions = range(len(days))
    volume.bar([p - 0.2 for p in positions], [d.calls for d in figures.days], 0.4, label="calls")
    volume.bar(
        [p + 0.2 for p in positions], [d.messages for d in figures.days], 0.4, label="messages"
    )
    volume.set_xticks(list(positions), days, rotation=45, ha="right")
    volume.set_title(f"Calls and messages per day, {figures.start} to {figures.end}")
    volume.legend()
    volume.yaxis.set_major_locator(MaxNLocator(integer=True))
    stages = figures.funnel[:FUNNEL_NODES]
    funnel.barh([s.node for s in stages][::-1], [s.reached for s in stages][::-1])
    funnel.set_title("Funnel: calls that reached each step")
    funnel.set_xlabel("calls")
    funnel.xaxis.set_major_locator(MaxNLocator(integer=True))
    reasons = figures.refusals[::-1]
    refusals.barh([reason for reason, _ in reasons], [count for _, count in reasons], color="C3")
    refusals.set_title("Why readings were refused" if reasons else "No readings were refused")
    refusals.set_xlabel("refusals")
    refusals.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.savefig(target, format=kind)
    pyplot.close(figure)
