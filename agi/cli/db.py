"""`ivr db`: the readings database, and the billing files in and out."""

from __future__ import annotations

import re

import click

from agi.cli.common import application, main, ready_application
from agi.readings import billing
from agi.storage.database import upgrade

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@main.group()
def db() -> None:
    """The readings database (IVR_DATABASE_URL, default a SQLite file in var/)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the tables, or bring them to the latest version."""
    app = application(administration=True)
    upgrade(app.repository.engine)
    click.echo(f"database {app.repository.engine.url.render_as_string()} is up to date")


@db.command("seed")
def db_seed() -> None:
    """Load the demo contracts (the examples of the readings leaflet and a three-zone meter)."""
    app = ready_application(administration=True)
    count = billing.seed_demo(app.repository)
    click.echo(f"demo data loaded: {count} meters")


@db.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def db_import(file: click.utils.LazyFile) -> None:
    """Create or update contracts and meters from the billing CSV (see README for columns)."""
    try:
        records = billing.read_contracts(file)
    except billing.ContractsRejected as rejected:
        for error in rejected.errors:
            click.echo(f"{file.name}: {error}", err=True)
        raise click.ClickException(
            f"{len({error.line for error in rejected.errors})} bad row(s); nothing was imported"
        ) from None
    count = ready_application(administration=True).repository.import_meters(records)
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
    count = billing.write_readings(
        ready_application(administration=True).repository.export(period), file
    )
    click.echo(f"exported {count} readings of {period}", err=True)


@db.command("export-contracts")
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True), default="-")
def db_export_contracts(file: click.utils.LazyFile) -> None:
    """Write the contracts and meters as billing's contracts CSV, phone numbers included."""
    records = ready_application(administration=True).repository.meter_records()
    count = billing.write_contracts(records, file)
    click.echo(f"exported {count} rows of {len(records)} meters", err=True)


@db.command("unlock")
@click.argument("contract", required=False)
@click.option("--caller", help="A caller's number, or a messenger sender as CHANNEL:ID.")
@click.option(
    "--without-caller-id", is_flag=True, help="The limit shared by calls without a number."
)
def db_unlock(contract: str | None, caller: str | None, without_caller_id: bool) -> None:
    """Lift a guessing lockout now: a CONTRACT, a --caller, or --without-caller-id."""
    from agi.readings.callers import ANONYMOUS_KEY, Limit

    if sum(bool(given) for given in (contract, caller, without_caller_id)) != 1:
        raise click.UsageError("name one: a CONTRACT, --caller N or --without-caller-id")
    readings = ready_application().readings()
    if contract is not None:
        if not (contract.isascii() and contract.isdigit()):
            raise click.BadParameter("a contract number is digits", param_hint="CONTRACT")
        limit, key, named = Limit.CONTRACT, contract, f"contract {contract}"
    elif caller is not None:
        number = readings.caller_number(caller)
        if number is None and ":" not in caller:
            raise click.BadParameter(
                f"{caller!r} is not a phone number (a messenger sender is CHANNEL:ID)",
                param_hint="--caller",
            )
        limit, key = Limit.CALLER, number or caller
        named = f"caller {key}"
    else:
        limit, key, named = Limit.ANONYMOUS, ANONYMOUS_KEY, "calls without a caller number"
    cleared = readings.unlock(limit, key)
    click.echo(f"{named}: {cleared} failed attempt(s) forgotten; the limit starts again")


@db.command("purge")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Keep this many days (default: the record_retention_days setting, 90).",
)
def db_purge(days: int | None) -> None:
    """Remove call records and answered message ids older than the retention."""
    from datetime import UTC, datetime, timedelta

    app = ready_application(administration=True)  # a long purge has no call's deadline
    days = days or app.settings.record_retention_days
    purged = app.call_records.purge(datetime.now(tz=UTC) - timedelta(days=days))
    click.echo(
        f"{purged.records} call records and {purged.messages} answered message ids "
        f"older than {days} days removed"
    )
