"""The telephone line: `ivr serve`, `ivr call` and a private `ivr asterisk`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from agi.application import Application
from agi.audio import library
from agi.cli.common import is_loopback, main, settings_or_exit
from agi.collector import steady_collector
from agi.problems import ProblemsFound
from agi.settings import shipped, state_home
from agi.telephony.call_log import CallEnd, wait_for_end
from agi.telephony.fastagi import DEFAULT_MAX_CALLS


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4573, show_default=True, type=int)
@click.option(
    "--max-calls",
    default=DEFAULT_MAX_CALLS,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Calls served at once; more go to the dialplan's fallback.",
)
@click.option(
    "--allow",
    multiple=True,
    help="Asterisk addresses or networks that may connect "
    "(default: loopback only); repeat or separate with commas.",
)
@click.option(
    "--debug-agi",
    is_flag=True,
    help="Log every AGI command and result (support only: it shows callers' numbers).",
)
@click.option(
    "--status-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="The loopback port of /health, /metrics and /status (default: status_port).",
)
def serve(
    host: str,
    port: int,
    max_calls: int,
    allow: tuple[str, ...],
    debug_agi: bool,
    status_port: int | None,
) -> None:
    """Run the FastAGI server that answers the calls Asterisk sends to agi://HOST:PORT/."""
    import signal

    from agi.telephony.fastagi import LOOPBACK, FastAgiServer, ServerOptions, parse_allow

    try:
        networks = parse_allow(allow) if allow else LOOPBACK
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--allow") from None
    if not is_loopback(host) and not allow:
        click.echo(
            f"listening on {host}: only loopback may connect until --allow names "
            "the Asterisk servers",
            err=True,
        )
    if debug_agi:
        logging.getLogger("agi.telephony.asterisk_channel").setLevel(logging.DEBUG)
    settings = settings_or_exit()
    app = Application(settings)
    options = ServerOptions(
        host=host,
        port=port,
        max_calls=max_calls,
        allow=networks,
        debug=debug_agi,
        environment_seconds=settings.agi_environment_seconds,
        reply_seconds=settings.agi_reply_seconds,
        drain_seconds=settings.drain_seconds,
        status_host=settings.status_host,
        status_port=settings.status_port if status_port is None else status_port,
    )
    try:
        server = FastAgiServer(app, options)
    except ProblemsFound as problems:
        raise click.ClickException(
            f"the flow has problems and no good flow was ever saved in {settings.state_dir}; "
            f"run `ivr check`:\n{problems}"
        ) from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    pauses = steady_collector()
    click.echo(app.speech.status, err=True)
    status = (
        f"; status on http://{options.status_host}:{server.status.port}" if server.status else ""
    )
    click.echo(
        f"FastAGI server on {host}:{server.port}{status}; Ctrl-C stops it after calls end "
        f"(at most {options.drain_seconds:.0f} s), twice at once",
        err=True,
    )
    server.serve()
    app.record_writer.flush()
    click.echo(pauses.summary(), err=True)


CALL_EXIT = {
    CallEnd.ACCEPTED: 0,
    CallEnd.TRANSFERRED: 3,
    CallEnd.NO_OUTCOME: 4,
    CallEnd.NOT_LOGGED: 5,
}
"""`ivr call`'s exit codes; 1 means the call itself failed (SIPp)."""


@main.command("call")
@click.option(
    "--keys",
    required=True,
    help='Keys the caller presses, e.g. "*2 102057522# 11638# 1"'
    " (groups separated by spaces are typed at once; '.' waits for the timeout).",
)
@click.option("--sip-port", default=5060, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True, help="The Asterisk to call.")
@click.option("--caller", default="79120000000", show_default=True)
@click.option("--hang-up", is_flag=True, help="Hang up after the last keys.")
@click.option(
    "--asterisk-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Asterisk's log, where the dialplan writes how the call ended (default: the "
    "private line's; an installed server: /var/log/asterisk/messages).",
)
def call(
    keys: str, sip_port: int, host: str, caller: str, hang_up: bool, asterisk_log: Path | None
) -> None:
    """Place a real SIP call with SIPp (needs root), and say how it ended: exit code 0 when
    the readings were accepted, 3 transferred to the operator, 4 the line hung up with no
    outcome, 5 the line logged nothing of the call, 1 the call failed."""
    from agi.telephony.sipp import CallScript, place_call

    log = asterisk_log or ASTERISK_ROOT / "log" / "messages.log"
    since = log.stat().st_size if log.is_file() else 0
    try:
        result = place_call(
            CallScript(keys, caller=caller, caller_hangs_up=hang_up), sip_port=sip_port, host=host
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--keys") from None
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    if not result.succeeded:
        click.echo(result.output, err=True)
        raise click.ClickException(f"the call failed (SIPp exit code {result.returncode})")
    end, destination = wait_for_end(log, result.call_id, since=since)
    said = f"{end.value} {destination}" if destination else end.value
    click.echo(f"the call went through; {said}")
    if end is CallEnd.NOT_LOGGED:
        click.echo(f"(no line 'IVR call {result.call_id} ended' in {log})", err=True)
    sys.exit(CALL_EXIT[end])


@main.group()
def asterisk() -> None:
    """A private Asterisk for the readings line, from config/asterisk/ (see README)."""


ASTERISK_ROOT = state_home() / "asterisk"


@asterisk.command("up")
@click.option("--sip-port", default=5060, show_default=True, type=int)
@click.option(
    "--fastagi",
    multiple=True,
    help="A FastAGI server's URL, tried in the order given, then the AGI script "
    "(default: the setting fastagi_servers).",
)
@click.option(
    "--agi-script", default=None, help="The fallback AGI script (default: ivr-agi beside this ivr)."
)
@click.option("--root", default=ASTERISK_ROOT, show_default=True, type=click.Path(path_type=Path))
def asterisk_up(
    sip_port: int, fastagi: tuple[str, ...], agi_script: str | None, root: Path
) -> None:
    """Start (or restart) the private Asterisk, listening for SIP on 127.0.0.1."""
    from agi.telephony import private_asterisk

    script = agi_script or str(Path(sys.argv[0]).resolve().with_name("ivr-agi"))
    settings = settings_or_exit()
    options = private_asterisk.LineOptions(
        root=root,
        config_dir=shipped("config/asterisk"),
        sip_port=sip_port,
        fastagi_servers=fastagi or tuple(settings.fastagi_servers),
        agi_script=script,
        environment=settings.as_environment(),
        number_words=settings.prompts_audio_dir / library.NUMBER_WORDS,
        number_voice=settings.number_voice,
        prompts_dir=settings.prompts_audio_dir,
    )
    try:
        pid = private_asterisk.up(options)
    except private_asterisk.AsteriskError as error:
        raise click.ClickException(str(error)) from None
    servers = ", ".join(options.fastagi_servers) or "none"
    click.echo(
        f"Asterisk is up (pid {pid}): SIP on udp 127.0.0.1:{sip_port}, any number "
        f"reaches the IVR (FastAGI: {servers}, then the AGI script); logs in {root / 'log'}"
    )


@asterisk.command("down")
@click.option("--root", default=ASTERISK_ROOT, show_default=True, type=click.Path(path_type=Path))
def asterisk_down(root: Path) -> None:
    """Stop the private Asterisk."""
    from agi.telephony import private_asterisk

    stopped = private_asterisk.down(root)
    click.echo("Asterisk stopped" if stopped else "Asterisk was not running")
