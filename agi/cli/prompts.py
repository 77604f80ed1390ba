"""`ivr prompts`: the audio of the prompts, one WAV per prompt id (see README)."""

from __future__ import annotations

from pathlib import Path

import click

from agi.audio import library, sound
from agi.cli.common import main, settings_or_exit
from agi.dialog.flow import Flow
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PromptCatalog, load_catalog
from agi.problems import ProblemsFound, shown
from agi.readings.call_actions import ACTIONS
from agi.settings import Settings


@main.group()
def prompts() -> None:
    """The audio of the prompts, one WAV per prompt id in prompts/ru/ (see README)."""


def _voice(settings: Settings) -> sound.Voice:
    engine = settings.tts_engine
    name = settings.tts_voice or sound.DEFAULT_VOICES[engine]
    return sound.Voice(engine=engine, name=name, speed=settings.tts_speed)


def _style(settings: Settings) -> sound.AudioStyle:
    return sound.AudioStyle(loudness_dbfs=settings.prompt_loudness_dbfs)


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
    settings = settings_or_exit()
    folder = settings.prompts_audio_dir
    try:
        report = library.build(
            folder,
            _catalog(settings),
            _voice(settings),
            _style(settings),
            only=ids,
            force=force,
            progress=lambda key, seconds: click.echo(f"made {key} ({seconds:.1f} s)"),
        )
    except sound.AudioError as error:
        raise click.ClickException(str(error)) from None
    for key, why in report.kept:
        click.echo(f"kept {key}: {why} (--force {key} replaces it)")
    click.echo(
        f"{shown(folder)}: {len(report.made)} made, {len(report.unchanged)} unchanged, "
        f"{len(report.kept)} kept"
    )


@prompts.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def prompts_import(paths: tuple[Path, ...]) -> None:
    """Import a voice artist's recordings (WAV, MP3, OGG, FLAC): each file is named after
    its prompt id (welcome.mp3); a folder imports every file in it."""
    settings = settings_or_exit()
    try:
        imported = library.import_recordings(
            settings.prompts_audio_dir, _catalog(settings), paths, _style(settings)
        )
    except library.RecordingsRejected as rejected:
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
    settings = settings_or_exit()
    catalog = _catalog(settings)
    try:
        flow = load_flow(settings.flow_path, catalog, ACTIONS)
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None
    check_audio(settings, catalog, flow)


def check_audio(settings: Settings, catalog: PromptCatalog, flow: Flow) -> None:
    """Print the audio's problems; exit 1 when any is an error."""
    folder = settings.prompts_audio_dir
    result = library.check(folder, catalog, flow, _style(settings))
    for finding in result.findings:
        click.echo(str(finding), err=True)
    errors = len(result.errors)
    if errors:
        raise click.ClickException(
            f"{errors} problem{'s' if errors > 1 else ''} with the audio in {folder}"
        )
    warnings = len(result.findings)
    click.echo(
        f"{shown(folder)}: OK, audio for {result.prompts} prompts and "
        f"{result.number_words} number words"
        + (f"; {warnings} warning{'s' if warnings > 1 else ''}" if warnings else "")
    )
