"""What every `ivr` command shares: the command group, the settings and the application."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from agi.application import Application
from agi.problems import ProblemsFound
from agi.redact import configure_logging
from agi.settings import Settings, load_settings
from agi.storage.database import connect
from agi.storage.repository import Repository


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ProblemsFound as problems:
        for problem in problems.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the settings are not valid; nothing was done") from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log every call step to stderr.")
def main(verbose: bool) -> None:
    """The meter-readings IVR."""
    configure_logging(logging.INFO if verbose else logging.WARNING)


def call_moment(on: date | None, timezone: str) -> datetime | None:
    if on is None:
        return None
    return datetime.combine(on, time(12, 0), tzinfo=ZoneInfo(timezone))


def application(*, administration: bool = False) -> Application:
    """The application of these settings; for `administration` (migrations, billing
    files), with no deadline on the database: they may take long."""
    app = Application(settings_or_exit())
    if administration:
        app.repository = Repository(connect(app.settings.database_url))
    return app


def use_scratch(app: Application, folder: Path) -> None:
    """Run `app` on a scratch copy of its database's contracts in `folder`: its calls and
    messages store nothing in the configured database (and say so)."""
    from agi.storage.scratch import NO_CONTRACTS, scratch_copy

    url, count = scratch_copy(app.repository.engine, folder)
    if count == 0:
        raise click.ClickException(NO_CONTRACTS)
    app.repository.engine.dispose()
    app.settings = app.settings.model_copy(update={"database_url": url})
    app.repository = Repository(connect(url, timeout_seconds=app.settings.database_timeout_seconds))
    for cached in ("call_records", "record_writer"):
        app.__dict__.pop(cached, None)
    click.echo(
        f"-- on a scratch copy of the configured database's contracts ({count} by number and "
        "resource): nothing is stored there (--store stores)",
        err=True,
    )


def say_storing(app: Application) -> None:
    shown = app.repository.engine.url.render_as_string(hide_password=True)
    click.echo(f"-- storing into the configured database {shown}", err=True)


def ready_application(*, administration: bool = False) -> Application:
    """The application, once its database has the schema this version needs."""
    app = application(administration=administration)
    problem = app.repository.schema_problem()
    if problem:
        raise click.ClickException(f"{problem}; run `ivr db upgrade` and `ivr db seed`")
    return app


def is_loopback(host: str) -> bool:
    """127.0.0.0/8 (two servers on one machine may take 127.0.0.1 and 127.0.0.2), ::1."""
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
