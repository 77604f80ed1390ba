"""The report as a picture: calls and messages per day, and the funnel of the flow."""

from __future__ import annotations

from pathlib import Path

from agi.records.report import Report

FUNNEL_NODES = 15
"""Nodes drawn at most (the most reached)."""


class ChartsMissing(RuntimeError):
    """matplotlib is not installed: it comes with the `charts` extra."""


def draw(figures: Report, target: Path) -> None:
    """Write the chart to `target`; its suffix (.png or .svg) chooses the format."""
    try:
        import matplotlib
    except ImportError:
        raise ChartsMissing(
            "charts need matplotlib: pip install 'meter-readings-ivr[charts]' (the figures "
            "themselves need nothing more)"
        ) from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # the labels stay text: searchable, small
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, (volume, funnel) = pyplot.subplots(2, 1, figsize=(10, 9), constrained_layout=True)
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
    figure.savefig(target, format=target.suffix.lstrip(".").lower())
    pyplot.close(figure)
