"""`ivr report`: what the call records of a period say, for a supervisor."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from agi.cli.common import main, ready_application
from agi.records.record import PHONE
from agi.text.dialog import TextChannel

CHANNELS = [PHONE, *(channel.value for channel in TextChannel)]
FORMATS = ["text", "csv", "json"]
CHARTS = (".png", ".svg")


@main.command()
@click.option(
    "--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: 6 days ago)."
)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@click.option("--channel", type=click.Choice(CHANNELS), help="Only this channel.")
@click.option("--format", "shape", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the daily volume and the funnel into FILE.png or FILE.svg.",
)
def report(
    first: datetime | None,
    last: datetime | None,
    channel: str | None,
    shape: str,
    chart: Path | None,
) -> None:
    """Calls and messages per day, readings accepted, the funnel of the flow, refusals,
    transfers and call durations, from the call records (days in the installation's time
    zone, both included)."""
    from agi.records import report as figures_of

    if chart is not None and chart.suffix.lower() not in CHARTS:
        raise click.BadParameter("name a .png or .svg file", param_hint="--chart")
    app = ready_application()
    zone = ZoneInfo(app.settings.timezone)
    end = last.date() if last else datetime.now(tz=zone).date()
    start = first.date() if first else end - timedelta(days=6)
    if start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}", param_hint="--from")
    records = app.call_records.between(
        *figures_of.day_bounds(start, end, app.settings.timezone), channel=channel
    )
    figures = figures_of.report(
        records, start=start, end=end, timezone=app.settings.timezone, channel=channel
    )
    printer = {"text": figures_of.as_text, "csv": figures_of.as_csv, "json": figures_of.as_json}
    click.echo(printer[shape](figures), nl=False)
    if chart is not None:
        from agi.records.chart import ChartsMissing, draw

        try:
            draw(figures, chart)
        except ChartsMissing as missing:
            raise click.ClickException(str(missing)) from None
        except OSError as error:
            raise click.ClickException(f"cannot write {chart}: {error.strerror}") from None
        click.echo(f"chart written to {chart}", err=True)
