"""`ivr check` and `ivr simulate`: the menu checked, and a call made in the terminal."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

import click

from agi.cli.common import (
    call_moment,
    main,
    ready_application,
    say_storing,
    settings_or_exit,
    use_scratch,
)
from agi.cli.prompts import check_audio
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import load_catalog
from agi.dialog.simulator import parse_script
from agi.problems import Problem, ProblemsFound, shown
from agi.readings.call_actions import ACTIONS

if TYPE_CHECKING:
    from agi.application import Application, CallOutcome
    from agi.scenarios import StepChannel


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
        catalog = load_catalog(catalog_path)
        flow = load_flow(path, catalog, ACTIONS)
    except ProblemsFound as problems:
        _fail(problems.problems)
    from agi.scenarios import check_scenarios, scenarios_path

    ran, failed = check_scenarios(settings, flow, catalog, path)
    if failed:
        _fail(failed)
    click.echo(f"{path}: OK, {len(flow.nodes)} nodes")
    if ran:
        passed = "1 scenario passes" if ran == 1 else f"{ran} scenarios pass"
        click.echo(f"{shown(scenarios_path(path))}: {passed}")
    check_audio(settings, catalog, flow)


def _fail(problems: list[Problem]) -> NoReturn:
    for problem in problems:
        click.echo(str(problem), err=True)
    count = len(problems)
    raise click.ClickException(
        f"{count} problem{'s' if count > 1 else ''} found; nothing was changed"
    )


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
@click.option(
    "--store",
    is_flag=True,
    help="Store the readings in the configured database (by default the call runs on a "
    "scratch copy of its contracts and stores nothing).",
)
@click.option(
    "--save-scenario",
    "scenario_name",
    metavar="NAME",
    help="Append this call to the scenarios beside the flow, as NAME.",
)
def simulate(
    keys: str | None,
    on: datetime | None,
    caller: str | None,
    call_id: str | None,
    record: Path | None,
    no_speech: bool,
    store: bool,
    scenario_name: str | None,
) -> None:
    """Make a call in the terminal, on a scratch copy of the configured database's
    contracts unless --store. Exits 0 only when readings were accepted."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ivr-simulate-") as scratch:
        _simulate(
            keys, on, caller, call_id, record, no_speech, None if store else Path(scratch),
            scenario_name,
        )  # fmt: skip


def _simulate(
    keys: str | None,
    on: datetime | None,
    caller: str | None,
    call_id: str | None,
    record: Path | None,
    no_speech: bool,
    scratch: Path | None,
    scenario_name: str | None,
) -> None:
    from agi.dialog.simulator import ScriptedRecogniser
    from agi.scenarios import StepChannel, key_groups
    from agi.speech.recognition import Speech, speech_off

    app = ready_application()
    if scratch is None:
        say_storing(app)
    else:
        use_scratch(app, scratch)
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
    groups = iter(key_groups(keys)) if keys is not None else None
    channel = StepChannel(
        call_id or f"sim-{uuid.uuid4().hex}",
        caller,
        (lambda: next(groups, None)) if groups is not None else _typed_keys,
        echo=click.echo,
        listener=recording,
    )
    outcome = app.answer(channel, **({"now": lambda: moment} if moment else {}))
    app.record_writer.flush()
    if scenario_name:
        _save_scenario(app, channel, outcome, scenario_name, moment, caller)
    if recording and record:
        seconds = recording.save(record)
        click.echo(f"-- the call as the caller hears it: {record} ({seconds:.1f} s)", err=True)
    click.echo(
        f"-- call ended: {outcome.report.ending}; readings "
        f"{'accepted' if outcome.accepted else 'not accepted'}"
    )
    sys.exit(0 if outcome.accepted else 1)


def _save_scenario(
    app: Application,
    channel: StepChannel,
    outcome: CallOutcome,
    name: str,
    moment: datetime | None,
    caller: str | None,
) -> None:
    from agi.scenarios import ScenarioExists, append_scenario, scenario_of_call, scenarios_path

    day = (moment or datetime.now(tz=ZoneInfo(app.settings.timezone))).date()
    body = scenario_of_call(
        channel, outcome, day=day, caller=caller, accept_days=app.settings.accept_days
    )
    path = scenarios_path(app.settings.flow_path)
    try:
        append_scenario(path, name, body)
    except (ScenarioExists, ValueError, OSError) as error:
        raise click.ClickException(f"the scenario was not saved: {error}") from None
    click.echo(f"-- saved as scenario '{name}' in {shown(path)}; `ivr check` runs it", err=True)


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
