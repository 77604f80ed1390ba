"""The `ivr` command: check the flow, simulate a call, manage the readings database."""

from __future__ import annotations

import io
import logging
import re
import sys
import uuid
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from agi import billing
from agi.application import Application
from agi.database import schema_problem, upgrade
from agi.flow_loader import load_flow
from agi.problems import ProblemsFound
from agi.prompts import load_catalog
from agi.settings import Settings, load_settings
from agi.simulator import KeypadChannel, parse_keys

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as error:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise click.ClickException("the configuration is not valid:\n" + "\n".join(lines)) from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log every call step to stderr.")
def main(verbose: bool) -> None:
    """The meter-readings IVR."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--prompts", type=click.Path(path_type=Path), help="The prompt catalog to check against."
)
def check(path: Path | None, prompts: Path | None) -> None:
    """Check a flow file (default: the configured ivr_flows.yaml) and its prompt catalog."""
    settings = _settings()
    path = path or settings.flow_path
    try:
        flow = load_flow(path, load_catalog(prompts or settings.prompts_path))
    except ProblemsFound as problems:
        for problem in problems.problems:
            click.echo(str(problem), err=True)
        count = len(problems.problems)
        raise click.ClickException(
            f"{count} problem{'s' if count > 1 else ''} found; nothing was changed"
        ) from None
    click.echo(f"{path}: OK, {len(flow.nodes)} nodes")


def _call_moment(on: date | None, timezone: str) -> datetime | None:
    if on is None:
        return None
    return datetime.combine(on, time(12, 0), tzinfo=ZoneInfo(timezone))


@main.command()
@click.option(
    "--keys",
    help='Keys the caller presses, e.g. "*2 102057522# 11638# 1"; '
    "'.' waits for the timeout. Without it, type keys as the call goes.",
)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Make the call on this day.")
@click.option("--caller", default=None, help="The caller's phone number.")
@click.option("--call-id", default=None, help="The call's unique id (default: a new one).")
def simulate(
    keys: str | None, on: datetime | None, caller: str | None, call_id: str | None
) -> None:
    """Make a call in the terminal. Exits 0 only when readings were accepted."""
    app = Application(_settings())
    try:
        app.flow  # noqa: B018 - report flow problems before the call starts
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None
    if keys is not None:
        try:
            parse_keys(keys)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--keys") from None
    problem = schema_problem(app.repository.engine)
    if problem:
        raise click.ClickException(f"{problem}; run `ivr db upgrade` and `ivr db seed`")
    moment = _call_moment(on.date() if on else None, app.settings.timezone)
    channel = KeypadChannel(
        call_id or f"sim-{uuid.uuid4().hex}",
        caller,
        keys=keys or "",
        more_keys=(lambda: None) if keys is not None else _typed_keys,
        echo=click.echo,
    )
    outcome = app.answer(channel, **({"now": lambda: moment} if moment else {}))
    click.echo(
        f"-- call ended: {outcome.report.ending}; readings "
        f"{'accepted' if outcome.accepted else 'not accepted'}"
    )
    sys.exit(0 if outcome.accepted else 1)


def _typed_keys() -> str | None:
    while True:
        try:
            line = input("keys (Enter = wait, Ctrl-D = hang up)> ")
        except EOFError:
            return None
        try:
            parse_keys(line)
        except ValueError as error:
            click.echo(str(error), err=True)
            continue
        return line


@main.group()
def db() -> None:
    """The readings database (IVR_DATABASE_URL, default a SQLite file in var/)."""


def _app() -> Application:
    return Application(_settings())


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the tables, or bring them to the latest version."""
    app = _app()
    upgrade(app.repository.engine)
    click.echo(f"database {app.repository.engine.url.render_as_string()} is up to date")


@db.command("seed")
def db_seed() -> None:
    """Load the demo contracts (the examples of the readings leaflet and a three-zone meter)."""
    app = _app()
    text = resources.files("agi").joinpath("demo_contracts.csv").read_text(encoding="utf-8")
    count = app.repository.import_meters(billing.read_contracts(io.StringIO(text)))
    click.echo(f"demo data loaded: {count} meters")


@db.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def db_import(file: click.utils.LazyFile) -> None:
    """Create or update contracts and meters from the billing CSV (see README for columns)."""
    try:
        records = billing.read_contracts(file)
    except billing.ImportRejected as rejected:
        for error in rejected.errors:
            click.echo(f"{file.name}: {error}", err=True)
        raise click.ClickException(
            f"{len({error.line for error in rejected.errors})} bad row(s); nothing was imported"
        ) from None
    count = _app().repository.import_meters(records)
    click.echo(f"imported {count} meters")


@db.command("export")
@click.option("--period", required=True, help="The billing period, YYYY-MM.")
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True), default="-")
def db_export(period: str, file: click.utils.LazyFile) -> None:
    """Write the current readings of a period as CSV (to FILE, or to the screen)."""
    if not PERIOD.fullmatch(period):
        raise click.BadParameter(
            "write the period as YYYY-MM, e.g. 2026-11", param_hint="--period"
        ) from None
    count = billing.write_readings(_app().repository.export(period), file)
    click.echo(f"exported {count} readings of {period}", err=True)
