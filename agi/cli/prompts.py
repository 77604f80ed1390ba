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


def _catalog_and_flow(settings: Settings) -> tuple[PromptCatalog, Flow]:
    catalog = _catalog(settings)
    try:
        return catalog, load_flow(settings.flow_path, catalog, ACTIONS)
    except ProblemsFound as problems:
        raise click.ClickException(f"the flow has problems; run `ivr check`:\n{problems}") from None


@prompts.command("check")
def prompts_check() -> None:
    """Check the audio of every prompt the flow says and of the number words."""
    settings = settings_or_exit()
    catalog, flow = _catalog_and_flow(settings)
    check_audio(settings, catalog, flow)


@prompts.command("sheet")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The folder to write recording-sheet.csv and recording-sheet.html into.",
)
def prompts_sheet(out: Path) -> None:
    """Write the recording sheet: every file a call may play and the words to record in it,
    as CSV and as a printable page, for a voice artist who records the whole set."""
    settings = settings_or_exit()
    catalog, flow = _catalog_and_flow(settings)
    rows = library.recording_sheet(catalog, flow)
    manifest = library.Manifest.load(settings.prompts_audio_dir)
    spoken = library.voices(manifest, [row.file.removesuffix(".wav") for row in rows])
    voice = ", ".join(f"{name} ({len(files)})" for name, files in sorted(spoken.items()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "recording-sheet.csv").write_text(library.sheet_csv(rows), encoding="utf-8")
    (out / "recording-sheet.html").write_text(library.sheet_html(rows, voice), encoding="utf-8")
    click.echo(
        f"{shown(out / 'recording-sheet.csv')} and recording-sheet.html: {len(rows)} files "
        f"to record; now spoken by {voice}"
    )


def check_audio(settings: Settings, catalog: PromptCatalog, flow: Flow) -> None:
    """Print the audio's problems; exit 1 when any is an error."""
    folder = settings.prompts_audio_dir
    result = library.check(
        folder, catalog, flow, _style(settings), number_voice=settings.number_voice
    )
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
