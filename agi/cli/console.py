"""`ivr console`: the staff console in the browser, and its accounts."""

from __future__ import annotations

import sys

import click

from agi.cli.common import is_loopback, main, ready_application, settings_or_exit

ROLES = ("editor", "supervisor")


@main.group(invoke_without_command=True)
@click.option("--host", default=None, help="The address to listen on (default: console_host).")
@click.option("--port", type=int, default=None, help="The port (default: console_port).")
@click.option(
    "--plain-http",
    is_flag=True,
    help="Serve plain http on a loopback address, with cookies a browser sends over http "
    "(otherwise they are Secure, for https behind nginx).",
)
@click.pass_context
def console(ctx: click.Context, host: str | None, port: int | None, plain_http: bool) -> None:
    """Serve the staff console: the menu as a picture, its prompts, the reports (README,
    "The staff console"). `ivr console user add NAME --role editor` makes the first account."""
    if ctx.invoked_subcommand is not None:
        return
    from agi.console.app import create_app
    from agi.text.webhook import serve

    settings = settings_or_exit()
    if settings.console_secret is None:
        raise click.ClickException(
            "set the console's secret first: IVR_CONSOLE_SECRET (at least 32 characters), "
            "or console_secret in a settings file only the ivr group reads (ivr install "
            "writes one)"
        )
    host = host or settings.console_host
    port = port or settings.console_port
    if plain_http and not is_loopback(host):
        raise click.ClickException(
            f"--plain-http serves on a loopback address only, not {host}: put nginx with "
            "https in front for other computers"
        )
    app = ready_application()
    api = create_app(
        app, secret=settings.console_secret.get_secret_value(), secure_cookies=not plain_http
    )
    cookies = (
        "plain-http cookies"
        if plain_http
        else "Secure cookies: open it on this server, or through nginx with https"
    )
    click.echo(f"console on http://{host}:{port}/ ({cookies})", err=True)
    serve(api, host=host, port=port)


@console.group()
def user() -> None:
    """The console's accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="Editors also save.")
def add_user(name: str, role: str) -> None:
    """Make an account; the password is read from standard input when that is not a
    terminal (one line), else asked for twice."""
    from agi.console.passwords import hash_password, password_problem
    from agi.storage.accounts import AccountExists

    if not _name_ok(name):
        raise click.BadParameter(
            "a name is 1 to 64 letters, digits, dots, dashes or underscores", param_hint="NAME"
        )
    app = ready_application()
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"{problem}; no account was made")
    try:
        app.accounts.add(name, role, hash_password(password))
    except AccountExists as exists:
        raise click.ClickException(f"{exists}; `ivr console user remove {name}` first") from None
    click.echo(f"account {name} ({role}) made")


@user.command("list")
def list_users() -> None:
    """Every account, with its role and when it was made."""
    app = ready_application()
    accounts = app.accounts.all()
    for account in accounts:
        made = account.created_at.isoformat(timespec="minutes")
        click.echo(f"{account.name}\t{account.role}\t{made}")
    if not accounts:
        click.echo("no accounts: ivr console user add NAME --role editor", err=True)


@user.command("remove")
@click.argument("name")
def remove_user(name: str) -> None:
    """Remove an account; its sessions end with their next request, and stay ended when an
    account of the same name is added again."""
    app = ready_application()
    if not app.accounts.remove(name):
        raise click.ClickException(f"there is no account named {name}")
    click.echo(f"account {name} removed")


@user.command("signout")
@click.argument("name")
def sign_out_user(name: str) -> None:
    """End every session of an account, in every browser (a copied cookie too); it signs in
    again with its password."""
    app = ready_application()
    if not app.accounts.sign_out(name):
        raise click.ClickException(f"there is no account named {name}")
    click.echo(f"every session of {name} ended")


def _name_ok(name: str) -> bool:
    return 0 < len(name) <= 64 and all(ch.isalnum() or ch in "._-" for ch in name)
