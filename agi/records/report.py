"""What the call records of a period say: volumes, the success rate, where callers give up
and why. Plain figures from the records; `ivr report` prints them as text, CSV or JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agi.records.record import PHONE, CallRecord, End

TOP = 10
"""Refusal reasons listed at most."""


@dataclass(frozen=True)
class Day:
    day: str
    calls: int
    conversations: int
    messages: int


@dataclass(frozen=True)
class Stage:
    """A node of the flow (or a text message's outcome): how many calls reached it, and of
    those that ended there without readings, how (`caller_hung_up: 3`)."""

    node: str
    reached: int
    ended_here: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    start: str
    end: str
    channel: str | None
    calls: int
    conversations: int
    days: list[Day]
    accepted: dict[str, dict[str, int]]
    """Readings accepted (calls or conversations that stored them), by channel and resource."""
    success_rate: float | None
    """The share of calls and conversations that stored readings."""
    success_by_channel: dict[str, float]
    funnel: list[Stage]
    refusals: list[tuple[str, int]]
    transfers: dict[str, int]
    endings: dict[str, int]
    duration_median: float | None
    duration_p90: float | None
    """Seconds, of phone calls."""
    by_voice: float | None
    """The share of phone calls answered by voice."""


def day_bounds(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """The moments days `start` to `end` (both included) begin and end in `timezone`."""
    zone = ZoneInfo(timezone)
    return datetime.combine(start, time(0), tzinfo=zone), datetime.combine(
        end + timedelta(days=1), time(0), tzinfo=zone
    )


def p90(values: Sequence[float]) -> float:
    """The 90th percentile by nearest rank: the smallest value at least 90 % of them reach."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def report(
    records: Iterable[CallRecord],
    *,
    start: date,
    end: date,
    timezone: str,
    channel: str | None = None,
) -> Report:
    """The figures of `records` (those of days `start` to `end`, in `timezone`); every day
    of the period is listed, those without calls too."""
    zone = ZoneInfo(timezone)
    chosen = [r for r in records if channel is None or r.channel == channel]
    phone = [r for r in chosen if r.channel == PHONE]
    texts = [r for r in chosen if r.channel != PHONE]
    days: dict[date, list[int]] = {
        start + timedelta(days=n): [0, 0, 0] for n in range((end - start).days + 1)
    }
    for record in chosen:
        counts = days.setdefault(record.started_at.astimezone(zone).date(), [0, 0, 0])
        if record.channel == PHONE:
            counts[0] += 1
        else:
            counts[1] += 1
            counts[2] += len(record.path)
    accepted: dict[str, dict[str, int]] = {}
    for record in chosen:
        if record.end is End.ACCEPTED:
            by_resource = accepted.setdefault(record.channel, {})
            resource = record.resource or "-"
            by_resource[resource] = by_resource.get(resource, 0) + 1
    by_channel: dict[str, list[CallRecord]] = {}
    for record in chosen:
        by_channel.setdefault(record.channel, []).append(record)
    durations = [r.seconds for r in phone]
    return Report(
        start=start.isoformat(),
        end=end.isoformat(),
        channel=channel,
        calls=len(phone),
        conversations=len(texts),
        days=[Day(d.isoformat(), *days[d]) for d in sorted(days)],
        accepted={c: dict(sorted(r.items())) for c, r in sorted(accepted.items())},
        success_rate=_share(chosen, lambda r: r.end is End.ACCEPTED),
        success_by_channel={
            c: _share(rs, lambda r: r.end is End.ACCEPTED) or 0.0
            for c, rs in sorted(by_channel.items())
        },
        funnel=_funnel(phone or texts),
        refusals=Counter(reason for r in chosen for reason in r.refusals).most_common(TOP),
        transfers=dict(
            Counter(r.reason or "-" for r in chosen if r.end is End.TRANSFERRED).most_common()
        ),
        endings=dict(Counter(r.end.value for r in chosen).most_common()),
        duration_median=statistics.median(durations) if durations else None,
        duration_p90=p90(durations) if durations else None,
        by_voice=_share(phone, lambda r: r.by_voice),
    )


def _share(records: Sequence[CallRecord], test) -> float | None:
    if not records:
        return None
    return round(sum(1 for r in records if test(r)) / len(records), 4)


def _funnel(records: Sequence[CallRecord]) -> list[Stage]:
    """Every node, by how many calls reached it (most first; ties in the order first met)."""
    reached: Counter[str] = Counter()
    order: dict[str, int] = {}
    for record in records:
        for visit in record.path:
            order.setdefault(visit.node, len(order))
        reached.update({visit.node for visit in record.path})
    ended: dict[str, Counter[str]] = {}
    for record in records:
        if record.end is not End.ACCEPTED and record.where:
            ended.setdefault(record.where, Counter())[record.end.value] += 1
    nodes = sorted(reached, key=lambda node: (-reached[node], order[node]))
    return [Stage(node, reached[node], dict(ended.get(node, Counter()))) for node in nodes]


# --- how it is printed --------------------------------------------------------------------


def as_json(figures: Report) -> str:
    return json.dumps(asdict(figures), ensure_ascii=False, indent=2)


def as_csv(figures: Report) -> str:
    """One figure a row: section, name, value (a spreadsheet sorts and charts them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "value"])
    for day in figures.days:
        writer.writerow(["calls per day", day.day, day.calls])
        writer.writerow(["conversations per day", day.day, day.conversations])
        writer.writerow(["messages per day", day.day, day.messages])
    for channel, resources in figures.accepted.items():
        for resource, count in resources.items():
            writer.writerow(["accepted", f"{channel}/{resource}", count])
    writer.writerow(["success rate", "all", _number(figures.success_rate)])
    for channel, rate in figures.success_by_channel.items():
        writer.writerow(["success rate", channel, rate])
    for stage in figures.funnel:
        writer.writerow(["reached", stage.node, stage.reached])
        for how, count in stage.ended_here.items():
            writer.writerow(["ended at", f"{stage.node}/{how}", count])
    for reason, count in figures.refusals:
        writer.writerow(["refusal", reason, count])
    for reason, count in figures.transfers.items():
        writer.writerow(["transfer", reason, count])
    for how, count in figures.endings.items():
        writer.writerow(["ending", how, count])
    writer.writerow(["duration seconds", "median", _number(figures.duration_median)])
    writer.writerow(["duration seconds", "p90", _number(figures.duration_p90)])
    writer.writerow(["share by voice", "phone", _number(figures.by_voice)])
    return out.getvalue()


def as_text(figures: Report) -> str:
    lines = [
        f"Calls and messages from {figures.start} to {figures.end}"
        + (f", channel {figures.channel}" if figures.channel else ""),
        f"  phone calls: {figures.calls}; text conversations: {figures.conversations}",
        "",
        "Per day                 calls  conversations  messages",
    ]
    lines += [
        f"  {d.day}          {d.calls:6}  {d.conversations:13}  {d.messages:8}"
        for d in figures.days
    ]
    lines += ["", f"Success rate: {_percent(figures.success_rate)} stored readings"]
    lines += [f"  {c}: {_percent(rate)}" for c, rate in figures.success_by_channel.items()]
    lines += ["", "Readings accepted"]
    lines += [
        f"  {channel} {resource}: {count}"
        for channel, resources in figures.accepted.items()
        for resource, count in resources.items()
    ] or ["  none"]
    lines += ["", "Funnel: calls that reached each step, and where the others ended"]
    for stage in figures.funnel:
        ended = ", ".join(f"{how} {count}" for how, count in stage.ended_here.items())
        lines.append(
            f"  {stage.node:28} {stage.reached:6}" + (f"   ended here: {ended}" if ended else "")
        )
    if not figures.funnel:
        lines.append("  none")
    lines += ["", "Top refusal reasons"]
    lines += [f"  {reason}: {count}" for reason, count in figures.refusals] or ["  none"]
    lines += ["", "Transfers to the operator, by reason"]
    lines += [f"  {reason}: {count}" for reason, count in figures.transfers.items()] or ["  none"]
    lines += ["", "How calls and conversations ended"]
    lines += [f"  {how}: {count}" for how, count in figures.endings.items()] or ["  none"]
    lines += [
        "",
        f"Call duration: median {_seconds(figures.duration_median)}, "
        f"90th percentile {_seconds(figures.duration_p90)}",
        f"Calls answered by voice: {_percent(figures.by_voice)}",
    ]
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"
