"""`ivr check` and `ivr simulate`: the menu checked, and a call made in the terminal."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from pathlib import Path

import click

from agi.cli.common import call_moment, main, ready_application, settings_or_exit
from agi.cli.prompts import check_audio
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import load_catalog
from agi.dialog.simulator import KeypadChannel, parse_script
from agi.problems import ProblemsFound, shown
from agi.readings.call_actions import ACTIONS


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--prompts", type=click.Path(path_type=Path), help="The prompt catalog to check against."
)
def check(path: Path | None, prompts: Path | None) -> None:
    """Check a flow file (default: the configured ivr_flows.yaml) and its prompt catalog."""
    settings = settings_or_exit()
    path = shown(path or settings.flow_path)
    catalog_path = shown(prompts or settings.prompts_path)
    try:
        flow = load_flow(path, load_catalog(catalog_path), ACTIONS)
    except ProblemsFound as problems:
        for problem in problems.problems:
            click.echo(str(problem), err=True)
        count = len(problems.problems)
        raise click.ClickException(
            f"{count} problem{'s' if count > 1 else ''} found; nothing was changed"
        ) from None
    click.echo(f"{path}: OK, {len(flow.nodes)} nodes")
    check_audio(settings, load_catalog(catalog_path), flow)


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
    from agi.dialog.simulator import ScriptedRecogniser
    from agi.speech.recognition import Speech, speech_off

    app = ready_application()
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
    moment = call_moment(on.date() if on else None, app.settings.timezone)
    recording = None
    if record:
        from agi.audio.call_recording import CallRecording

        recording = CallRecording(
            app.settings.prompts_audio_dir,
            warn=lambda line: click.echo(line, err=True),
            **({"sounds_dir": None} if app.settings.number_voice == "prompts" else {}),
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
