"""`ivr sms` and `ivr web`: readings by text message."""

from __future__ import annotations

import hashlib
import sys
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import click

from agi.cli.common import (
    call_moment,
    main,
    ready_application,
    say_storing,
    settings_or_exit,
    use_scratch,
)
from agi.text.dialog import TextChannel

if TYPE_CHECKING:
    from agi.application import Application
    from agi.text.dialog import TextDialog

SCRATCH_FOLDER = "scratch-text"
"""Where `ivr sms` keeps its scratch database (in the state folder) between runs."""


@main.command()
@click.option("--from", "sender", required=True, help="The sender's number, e.g. +79120000000.")
@click.option(
    "--channel",
    type=click.Choice([channel.value for channel in TextChannel]),
    default=TextChannel.SMS.value,
    show_default=True,
)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Send it on this day.")
@click.option("--message-id", default=None, help="The message's id (default: a new one).")
@click.option(
    "--store",
    is_flag=True,
    help="Store the readings in the configured database (by default the message is answered "
    "on a scratch copy of its contracts and stores nothing).",
)
@click.argument("text")
def sms(
    sender: str, channel: str, on: datetime | None, message_id: str | None, store: bool, text: str
) -> None:
    """Answer one text message, as the webhook would, on a scratch copy of the configured
    database's contracts unless --store. Exits 0 only when readings were accepted.

    A conversation goes on over several runs with the same --from: `ivr sms --from N "ПС 123859"`,
    then `ivr sms --from N "45055 23186"` (the scratch copy keeps the conversation).
    """
    from agi.text.dialog import IncomingMessage, MessageIdReused

    app = ready_application()
    if store:
        say_storing(app)
    else:
        use_scratch(app, app.settings.state_dir / SCRATCH_FOLDER / _folder_of(app))
    dialog = _text_dialog(app)
    message = IncomingMessage(
        channel=TextChannel(channel),
        sender=sender,
        message_id=message_id or f"cli-{uuid.uuid4().hex}",
        text=text,
    )
    moment = call_moment(on.date() if on else None, app.settings.timezone)
    try:
        answer = dialog.answer(message, at=moment)
    except MessageIdReused as error:
        raise click.ClickException(str(error)) from None
    click.echo(answer.reply)
    sys.exit(0 if answer.accepted else 1)


def _text_dialog(app: Application) -> TextDialog:
    from agi.records.caller_keys import CallerSecretError
    from agi.text.dialog import text_dialog_for

    try:
        return text_dialog_for(app.settings, app.repository)
    except CallerSecretError as error:
        raise click.ClickException(str(error)) from None


def _folder_of(app: Application) -> str:
    """One scratch folder per configured database, so conversations do not cross them."""
    url = app.repository.engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@main.command()
@click.option("--host", default=None, help="The address to listen on (default: web_host).")
@click.option("--port", type=int, default=None, help="The port (default: web_port).")
def web(host: str | None, port: int | None) -> None:
    """Serve the webhook for SMS and messenger gateways: POST /messages, and POST /kannel,
    POST /viber, GET|POST /whatsapp for the gateways that are configured (see README)."""
    from agi.text.gateway_routes import Gateways
    from agi.text.webhook import create_app, serve

    app = ready_application()
    settings = app.settings
    gateways = Gateways.configured(settings)
    if settings.webhook_secret is None and not gateways.any:
        raise click.ClickException(
            "set the shared secret first: IVR_WEBHOOK_SECRET (at least 16 characters), "
            "the value gateways send in the X-IVR-Secret header, or a gateway's secrets "
            "(IVR_KANNEL_SECRET, IVR_VIBER_TOKEN, IVR_WHATSAPP_*)"
        )
    secret = settings.webhook_secret
    asgi = create_app(
        _text_dialog(app),
        secret=None if secret is None else secret.get_secret_value(),
        max_body_bytes=settings.webhook_max_body_bytes,
        body_seconds=settings.web_body_seconds,
        max_requests=settings.web_max_requests,
        gateways=gateways,
    )
    host = host or settings.web_host
    port = port or settings.web_port
    served = ["/messages"] * (secret is not None)
    served += ["/kannel"] * bool(gateways.kannel_secret) + ["/viber"] * bool(gateways.viber_token)
    served += ["/whatsapp"] * gateways.whatsapp_ready
    for path in served:
        click.echo(f"webhook on http://{host}:{port}{path}", err=True)
    serve(
        asgi,
        host=host,
        port=port,
        max_connections=settings.web_max_connections,
        header_seconds=settings.web_header_seconds,
    )


@main.group()
def viber() -> None:
    """The Viber bot: `ivr viber set-webhook https://ivr.example.ru/viber`."""


@viber.command("set-webhook")
@click.argument("url")
def set_webhook(url: str) -> None:
    """Have Viber post the bot's events to URL (public HTTPS, ending in /viber): `ivr web`
    must answer there already, as Viber checks the address at once."""
    from agi.text.viber import NotRegistered, register_webhook

    settings = settings_or_exit()
    if settings.viber_token is None:
        raise click.ClickException("set the bot's token first: IVR_VIBER_TOKEN")
    try:
        events = register_webhook(
            url, auth_token=settings.viber_token.get_secret_value(), api_url=settings.viber_api_url
        )
    except NotRegistered as error:
        raise click.ClickException(f"Viber did not take the webhook: {error}") from None
    click.echo(f"Viber posts to {url}: {', '.join(events) or 'messages'}")
