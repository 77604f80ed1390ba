"""The reports as charts (the figures of `ivr report`), and a contract's readings with its
callers masked."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agi.console.access import Login, Refused
from agi.console.rendering import trusted
from agi.console.site import Console, Page
from agi.records import report as figures_of
from agi.redact import mask_digits

LONGEST_PERIOD = 92
"""Days one page reports at most."""
CONTRACT_DIGITS = 32


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    app = console.app

    @router.get("/reports")
    def reports_page(
        request: Request,
        staff: Login,
        first: str | None = None,
        last: str | None = None,
    ) -> Response:
        start, end = _period(first, last, app.settings.timezone)
        records = app.call_records.between(
            *figures_of.day_bounds(start, end, app.settings.timezone)
        )
        figures = figures_of.report(records, start=start, end=end, timezone=app.settings.timezone)
        chart, why = _chart(figures)
        return console.page(
            request,
            "reports.html",
            title="Reports",
            figures=figures,
            chart=chart,
            chart_problem=why,
            summary=figures_of.as_text(figures),
        )

    @router.get("/reports/contract")
    def contract_page(request: Request, staff: Login, number: str = "") -> Response:
        number = number.strip()
        if number and not (number.isdigit() and len(number) <= CONTRACT_DIGITS):
            raise Refused(400, "Not a contract number", "A contract number is digits only.")
        history = app.repository.contract_history(number) if number else []
        zone = ZoneInfo(app.settings.timezone)
        rows = [
            {
                "received": entry.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "period": entry.period,
                "resource": entry.resource,
                "meter": entry.meter,
                "channel": entry.channel,
                "caller": mask_digits(entry.caller),
                "readings": ", ".join(f"{zone_name} {value}" for zone_name, value in entry.values),
                "current": entry.current,
            }
            for entry in history
        ]
        return console.page(request, "contract.html", title="Contract", number=number, rows=rows)

    return router


def _period(first: str | None, last: str | None, timezone: str) -> tuple[date, date]:
    try:
        end = date.fromisoformat(last) if last else datetime.now(ZoneInfo(timezone)).date()
        start = date.fromisoformat(first) if first else end - timedelta(days=6)
    except ValueError:
        raise Refused(400, "Not a date", "Give the days as 2026-11-20.") from None
    if start > end:
        raise Refused(400, "The period is backwards", f"{start} is after {end}.")
    if (end - start).days >= LONGEST_PERIOD:
        raise Refused(
            400, "The period is too long", f"One page reports {LONGEST_PERIOD} days at most."
        )
    return start, end


def _chart(figures: figures_of.Report):
    from agi.records.chart import ChartsMissing, svg_text

    try:
        return trusted(svg_text(figures)), None
    except ChartsMissing as missing:
        return None, str(missing)


PAGE = Page(routes, "/reports", "Reports")
