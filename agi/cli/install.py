"""`ivr install`: the IVR laid out on a Debian server beside a stock Asterisk (see README,
"Install on a server")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from agi import installation
from agi.cli.common import main


@main.command()
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Install under this folder as if it were / (for a staging root, a test or an image).",
)
@click.option("--dry-run", is_flag=True, help="List every file it would write or change.")
@click.option(
    "--database-url", default=None, help="Default: SQLite in /var/lib/ivr (PostgreSQL: its URL)."
)
@click.option(
    "--operator-dial",
    default=installation.Options.operator_dial,
    show_default=True,
    help="The dialplan step that reaches the operators, e.g. 'Queue(operators)'.",
)
@click.option(
    "--trunk", default="127.0.0.1", show_default=True, help="The SIP trunk or SBC's address."
)
@click.option("--sip-bind", default="0.0.0.0", show_default=True)
@click.option("--sip-port", default=5060, show_default=True, type=click.IntRange(1, 65535))
@click.option("--fastagi-port", default=4573, show_default=True, type=click.IntRange(1, 65535))
@click.option("--web-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--max-calls",
    default=installation.DEFAULT_MAX_CALLS,
    show_default=True,
    type=click.IntRange(1, 5000),
)
@click.option(
    "--server-name", default="_", show_default=True, help="The webhook's name in nginx's site."
)
@click.option(
    "--web-listen", default="80", show_default=True, help="Where nginx listens for the gateways."
)
def install(
    root: Path,
    dry_run: bool,
    database_url: str | None,
    operator_dial: str,
    trunk: str,
    sip_bind: str,
    sip_port: int,
    fastagi_port: int,
    web_port: int,
    max_calls: int,
    server_name: str,
    web_listen: str,
) -> None:
    """Install the IVR on this server: the ivr user, /etc/ivr, its state and spool folders,
    systemd units, Asterisk include files and the Russian sounds. Run it again at any time:
    what the operator or the staff changed is kept, and a second run changes nothing."""
    options = installation.Options(
        root=root.absolute(),
        database_url=database_url,
        operator_dial=operator_dial,
        trunk=trunk,
        sip_bind=sip_bind,
        sip_port=sip_port,
        fastagi_port=fastagi_port,
        web_port=web_port,
        max_calls=max_calls,
        server_name=server_name,
        web_listen=web_listen,
    )
    try:
        entries = installation.plan(options)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    click.echo(installation.ensure_user(options.root, dry_run=dry_run))
    layout = installation.Layout(options.root)
    changes = installation.apply(entries, dry_run=dry_run)
    grouped = (layout.audio, layout.sounds / "ru")
    counts: Counter[tuple[Path, str]] = Counter()
    for change in changes:
        folder = next(
            (g for g in grouped if change.path.is_relative_to(g) and change.path != g), None
        )
        if folder is not None:
            counts[(folder, change.action)] += 1
        elif change.action != "unchanged":
            click.echo(f"{change.action}: {change.path}")
    for (folder, action), count in sorted(counts.items()):
        if action != "unchanged":
            click.echo(f"{action}: {count} file(s) in {folder}")
    changed = [
        c
        for c in changes
        if c.action in ("created", "updated", "would be created", "would be updated")
    ]
    if not changed:
        click.echo("nothing to change: the installation is up to date")
    if dry_run:
        return
    click.echo("\nnext steps:")
    for number, step in enumerate(installation.next_steps(options), 1):
        click.echo(f"{number}. {step}")
