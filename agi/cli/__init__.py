"""The `ivr` command: check the flow, simulate a call, manage the readings database."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from agi.application import Application
from agi.audio import library as prompt_library
from agi.audio import sound as prompt_audio
from agi.dialog.flow import Flow
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PromptCatalog, load_catalog
from agi.dialog.simulator import KeypadChannel, parse_script
from agi.problems import ProblemsFound
from agi.readings import billing
from agi.settings import Settings, load_settings
from agi.storage.database import schema_problem, upgrade

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
    _check_audio(settings, load_catalog(prompts or settings.prompts_path), flow)


def _call_moment(on: date | None, timezone: str) -> datetime | None:
    if on is None:
        return None
    return datetime.combine(on, time(12, 0), tzinfo=ZoneInfo(timezone))


@main.command()
@click.option(
    "--keys",
    help='Keys the caller presses, e.g. "*2 102057522# 11638# 1"; '
    "'.' waits for the timeout; words in double quotes are said. "
    "Without it, type keys as the call goes.",
)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Make the call on this day.")
@click.option("--caller", default=None, help="The caller's phone number.")
@click.option("--call-id", default=None, help="The call's unique id (default: a new one).")
@click.option(
    "--no-speech",
    is_flag=True,
    help="As on a line without a speech model (by default the words said are heard).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the call as the caller hears it to this WAV file.",
)
def simulate(
    keys: str | None,
    on: datetime | None,
    caller: str | None,
    call_id: str | None,
    record: Path | None,
    no_speech: bool,
) -> None:
    """Make a call in the terminal. Exits 0 only when readings were accepted."""
    from agi.speech.recognition import ScriptedRecogniser, Speech, speech_off

    app = _ready_app()
    app.speech = (
        speech_off("--no-speech")
        if no_speech
        else Speech(ScriptedRecogniser(), "the simulator hears the words in quotes")
    )
    try:
        app.flow  # noqa: B018 - report flow problems before the call starts
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None
    if keys is not None:
        try:
            parse_script(keys)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--keys") from None
    moment = _call_moment(on.date() if on else None, app.settings.timezone)
    recording = None
    if record:
        from agi.audio.call_recording import CallRecording

        recording = CallRecording(
            app.settings.prompts_audio_dir, warn=lambda line: click.echo(line, err=True)
        )
    channel = KeypadChannel(
        call_id or f"sim-{uuid.uuid4().hex}",
        caller,
        keys=keys or "",
        more_keys=(lambda: None) if keys is not None else _typed_keys,
        echo=click.echo,
        listener=recording,
    )
    outcome = app.answer(channel, **({"now": lambda: moment} if moment else {}))
    if recording and record:
        seconds = recording.save(record)
        click.echo(f"-- the call as the caller hears it: {record} ({seconds:.1f} s)", err=True)
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
            parse_script(line)
        except ValueError as error:
            click.echo(str(error), err=True)
            continue
        return line


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4573, show_default=True, type=int)
@click.option(
    "--max-calls",
    default=200,
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
def serve(host: str, port: int, max_calls: int, allow: tuple[str, ...], debug_agi: bool) -> None:
    """Run the FastAGI server that answers the calls Asterisk sends to agi://HOST:PORT/."""
    import signal

    from agi.telephony.fastagi import LOOPBACK, FastAgiServer, ServerOptions, parse_allow

    try:
        networks = parse_allow(allow) if allow else LOOPBACK
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--allow") from None
    if host not in ("127.0.0.1", "::1", "localhost") and not allow:
        click.echo(
            f"listening on {host}: only loopback may connect until --allow names "
            "the Asterisk servers",
            err=True,
        )
    if debug_agi:
        logging.getLogger("agi.telephony.asterisk_channel").setLevel(logging.DEBUG)
    app = Application(_settings())
    try:
        server = FastAgiServer(
            app,
            ServerOptions(
                host=host, port=port, max_calls=max_calls, allow=networks, debug=debug_agi
            ),
        )
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    click.echo(app.speech.status, err=True)
    click.echo(f"FastAGI server on {host}:{server.port}; Ctrl-C stops it after calls end", err=True)
    server.serve()


@main.command("call")
@click.option(
    "--keys",
    required=True,
    help='Keys the caller presses, e.g. "*2 102057522# 11638# 1"'
    " (groups separated by spaces are typed at once; '.' waits for the timeout).",
)
@click.option("--sip-port", default=5060, show_default=True, type=int)
@click.option("--caller", default="79120000000", show_default=True)
@click.option("--hang-up", is_flag=True, help="Hang up after the last keys.")
def call(keys: str, sip_port: int, caller: str, hang_up: bool) -> None:
    """Place a real SIP call to the line on 127.0.0.1 with SIPp (needs root)."""
    from agi.telephony.sipp import CallScript, place_call

    try:
        result = place_call(
            CallScript(keys, caller=caller, caller_hangs_up=hang_up), sip_port=sip_port
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--keys") from None
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    if not result.succeeded:
        click.echo(result.output, err=True)
        raise click.ClickException(f"the call failed (SIPp exit code {result.returncode})")
    click.echo("the call went through: SIPp placed it, pressed the keys and the IVR hung up")


@main.group()
def asterisk() -> None:
    """A private Asterisk for the readings line, from config/asterisk/ (see README)."""


ASTERISK_ROOT = Path("var/asterisk")


@asterisk.command("up")
@click.option("--sip-port", default=5060, show_default=True, type=int)
@click.option(
    "--fastagi",
    default="agi://127.0.0.1:4573/readings",
    show_default=True,
    help="The FastAGI server's URL.",
)
@click.option(
    "--agi-script", default=None, help="The fallback AGI script (default: ivr-agi beside this ivr)."
)
@click.option("--root", default=ASTERISK_ROOT, show_default=True, type=click.Path(path_type=Path))
def asterisk_up(sip_port: int, fastagi: str, agi_script: str | None, root: Path) -> None:
    """Start (or restart) the private Asterisk, listening for SIP on 127.0.0.1."""
    from agi.telephony import private_asterisk

    script = agi_script or str(Path(sys.argv[0]).resolve().with_name("ivr-agi"))
    settings = _settings()
    options = private_asterisk.LineOptions(
        root=root,
        config_dir=Path("config/asterisk"),
        sip_port=sip_port,
        fastagi_url=fastagi,
        agi_script=script,
        environment=settings.as_environment(),
        number_words=settings.prompts_audio_dir / prompt_library.NUMBER_WORDS,
    )
    try:
        pid = private_asterisk.up(options)
    except private_asterisk.AsteriskError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Asterisk is up (pid {pid}): SIP on udp 127.0.0.1:{sip_port}, any number "
        f"reaches the IVR; logs in {root / 'log'}"
    )


@asterisk.command("down")
@click.option("--root", default=ASTERISK_ROOT, show_default=True, type=click.Path(path_type=Path))
def asterisk_down(root: Path) -> None:
    """Stop the private Asterisk."""
    from agi.telephony import private_asterisk

    stopped = private_asterisk.down(root)
    click.echo("Asterisk stopped" if stopped else "Asterisk was not running")


@main.group()
def prompts() -> None:
    """The audio of the prompts, one WAV per prompt id in prompts/ru/ (see README)."""


def _voice(settings: Settings) -> prompt_audio.Voice:
    engine = settings.tts_engine
    name = settings.tts_voice or prompt_audio.DEFAULT_VOICES[engine]
    return prompt_audio.Voice(engine=engine, name=name, speed=settings.tts_speed)


def _style(settings: Settings) -> prompt_audio.AudioStyle:
    return prompt_audio.AudioStyle(loudness_dbfs=settings.prompt_loudness_dbfs)


def _catalog(settings: Settings) -> PromptCatalog:
    try:
        return load_catalog(settings.prompts_path)
    except ProblemsFound as problems:
        raise click.ClickException(f"the prompt catalog has problems:\n{problems}") from None


@prompts.command("build")
@click.argument("ids", nargs=-1)
@click.option(
    "--force",
    is_flag=True,
    help="Make them again even if unchanged, and replace recordings too (of IDS, or all).",
)
def prompts_build(ids: tuple[str, ...], force: bool) -> None:
    """Synthesize the audio of new and changed prompts (or only IDS); recordings are kept."""
    settings = _settings()
    folder = settings.prompts_audio_dir
    try:
        report = prompt_library.build(
            folder,
            _catalog(settings),
            _voice(settings),
            _style(settings),
            only=ids,
            force=force,
            progress=lambda key, seconds: click.echo(f"made {key} ({seconds:.1f} s)"),
        )
    except prompt_audio.AudioError as error:
        raise click.ClickException(str(error)) from None
    for key, why in report.kept:
        click.echo(f"kept {key}: {why} (--force {key} replaces it)")
    click.echo(
        f"{folder}: {len(report.made)} made, {len(report.unchanged)} unchanged, "
        f"{len(report.kept)} kept"
    )


@prompts.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def prompts_import(paths: tuple[Path, ...]) -> None:
    """Import a voice artist's recordings (WAV, MP3, OGG, FLAC): each file is named after
    its prompt id (welcome.mp3); a folder imports every file in it."""
    settings = _settings()
    try:
        imported = prompt_library.import_recordings(
            settings.prompts_audio_dir, _catalog(settings), paths, _style(settings)
        )
    except prompt_library.ImportRejected as rejected:
        for problem in rejected.problems:
            click.echo(problem, err=True)
        raise click.ClickException(
            f"{len(rejected.problems)} problem(s); nothing was imported"
        ) from None
    for item in imported:
        click.echo(
            f"imported {item.source} as {item.key} ({item.was} -> 8000 Hz mono, "
            f"{item.seconds:.1f} s)"
        )
    click.echo(f"{len(imported)} recording(s) in {settings.prompts_audio_dir}; now: ivr check")


@prompts.command("check")
def prompts_check() -> None:
    """Check the audio of every prompt the flow says and of the number words."""
    settings = _settings()
    catalog = _catalog(settings)
    try:
        flow = load_flow(settings.flow_path, catalog)
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None
    _check_audio(settings, catalog, flow)


def _check_audio(settings: Settings, catalog: PromptCatalog, flow: Flow) -> None:
    """Print the audio's problems; exit 1 when any is an error."""
    folder = settings.prompts_audio_dir
    result = prompt_library.check(folder, catalog, flow, _style(settings))
    for finding in result.findings:
        click.echo(str(finding), err=True)
    errors = len(result.errors)
    if errors:
        raise click.ClickException(
            f"{errors} problem{'s' if errors > 1 else ''} with the audio in {folder}"
        )
    warnings = len(result.findings)
    click.echo(
        f"{folder}: OK, audio for {result.prompts} prompts and {result.number_words} number words"
        + (f"; {warnings} warning{'s' if warnings > 1 else ''}" if warnings else "")
    )


@main.group()
def db() -> None:
    """The readings database (IVR_DATABASE_URL, default a SQLite file in var/)."""


def _app() -> Application:
    return Application(_settings())


def _ready_app() -> Application:
    """The application, once its database has the schema this version needs."""
    app = _app()
    problem = schema_problem(app.repository.engine)
    if problem:
        raise click.ClickException(f"{problem}; run `ivr db upgrade` and `ivr db seed`")
    return app


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the tables, or bring them to the latest version."""
    app = _app()
    upgrade(app.repository.engine)
    click.echo(f"database {app.repository.engine.url.render_as_string()} is up to date")


@db.command("seed")
def db_seed() -> None:
    """Load the demo contracts (the examples of the readings leaflet and a three-zone meter)."""
    app = _ready_app()
    count = billing.seed_demo(app.repository)
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
    count = _ready_app().repository.import_meters(records)
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
    count = billing.write_readings(_ready_app().repository.export(period), file)
    click.echo(f"exported {count} readings of {period}", err=True)


@main.command()
@click.option("--from", "sender", required=True, help="The sender's number, e.g. +79120000000.")
@click.option(
    "--channel", type=click.Choice(["sms", "viber", "whatsapp"]), default="sms", show_default=True
)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Send it on this day.")
@click.option("--message-id", default=None, help="The message's id (default: a new one).")
@click.argument("text")
def sms(sender: str, channel: str, on: datetime | None, message_id: str | None, text: str) -> None:
    """Answer one text message, as the webhook would. Exits 0 only when readings were accepted.

    A conversation goes on over several runs with the same --from: `ivr sms --from N "ПС 123859"`,
    then `ivr sms --from N "45055 23186"`.
    """
    from agi.text.dialog import IncomingMessage, MessageIdReused, text_dialog_for

    app = _ready_app()
    dialog = text_dialog_for(app.settings, app.repository)
    message = IncomingMessage(
        channel=channel,
        sender=sender,
        message_id=message_id or f"cli-{uuid.uuid4().hex}",
        text=text,
    )
    moment = _call_moment(on.date() if on else None, app.settings.timezone)
    try:
        answer = dialog.answer(message, at=moment)
    except MessageIdReused as error:
        raise click.ClickException(str(error)) from None
    click.echo(answer.reply)
    sys.exit(0 if answer.accepted else 1)


@main.command()
@click.option("--host", default=None, help="The address to listen on (default: web_host).")
@click.option("--port", type=int, default=None, help="The port (default: web_port).")
def web(host: str | None, port: int | None) -> None:
    """Serve the webhook for SMS and messenger gateways: POST /messages (see README)."""
    import uvicorn

    from agi.text.dialog import text_dialog_for
    from agi.text.webhook import create_app

    app = _ready_app()
    settings = app.settings
    if settings.webhook_secret is None:
        raise click.ClickException(
            "set the shared secret first: IVR_WEBHOOK_SECRET (at least 16 characters), "
            "the value gateways send in the X-IVR-Secret header"
        )
    asgi = create_app(
        text_dialog_for(settings, app.repository),
        secret=settings.webhook_secret.get_secret_value(),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
    host = host or settings.web_host
    port = port or settings.web_port
    click.echo(f"webhook on http://{host}:{port}/messages", err=True)
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        log_level="info" if logging.getLogger().isEnabledFor(logging.INFO) else "warning",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=200,
    )


@main.group()
def speech() -> None:
    """Answers by voice: why the IVR did or did not understand a caller (see README)."""


@speech.command("parse")
@click.argument("text")
def speech_parse(text: str) -> None:
    """Print the digits a Russian phrase means, or why it is refused (exit code 1).

    Yes and no words («да», «нет»), as a confirm node hears them, print yes or no."""
    from agi.speech.recognition import parse_yes_no
    from agi.speech.number_parser import NumberRefused, parse_digits

    answer = parse_yes_no(text)
    if answer is not None:
        click.echo("yes" if answer else "no")
        return
    try:
        click.echo(parse_digits(text))
    except NumberRefused as refused:
        raise click.ClickException(f"not a number: {refused.reason}") from None


@speech.command("recognize")
@click.argument("wav", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    type=click.Path(file_okay=False, path_type=Path),
    help="The Vosk model folder (default: the configured speech_model).",
)
@click.option(
    "--words",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON list of the words to hear (default: the IVR's word list).",
)
@click.option("--all-words", is_flag=True, help="Hear the model's whole vocabulary.")
def speech_recognize(wav: Path, model: Path | None, words: Path | None, all_words: bool) -> None:
    """Print what the speech model hears in a WAV file, and the digits that means.

    The file must be 16-bit mono PCM; Asterisk's recordings are (8 kHz). Exit code 1 when
    the words are not a number."""
    import json
    import time

    from agi.speech.recognition import (
        WORD_LIST,
        SpeechError,
        VoskRecogniser,
        load_model,
        parse_yes_no,
        read_wav,
    )
    from agi.speech.number_parser import NumberRefused, parse_digits

    path = model or _settings().speech_model
    if path is None:
        raise click.ClickException("no speech model: set speech_model, or give --model")
    word_list = None if all_words else WORD_LIST
    if words is not None:
        word_list = json.loads(words.read_text(encoding="utf-8"))
        if not isinstance(word_list, list) or not all(isinstance(w, str) for w in word_list):
            raise click.BadParameter("must be a JSON list of words", param_hint="--words")
    try:
        audio = read_wav(wav)
        loaded = load_model(path, check=False)
        started = time.perf_counter()
        heard = VoskRecogniser(loaded, words=word_list).recognise(audio)
    except SpeechError as error:
        raise click.ClickException(str(error)) from None
    seconds = time.perf_counter() - started
    click.echo(f"heard: {heard or '(nothing)'}")
    click.echo(
        f"-- {audio.seconds:.1f} s of audio at {audio.rate} Hz, recognised in {seconds:.2f} s",
        err=True,
    )
    try:
        click.echo(f"digits: {parse_digits(heard)}")
    except NumberRefused as refused:
        answer = parse_yes_no(heard)
        if answer is None:
            raise click.ClickException(f"not a number: {refused.reason}") from None
        click.echo(f"answer: {'yes' if answer else 'no'}")
