"""`ivr speech`: why the IVR did or did not understand a caller (see README)."""

from __future__ import annotations

from pathlib import Path

import click

from agi.cli.common import main, settings_or_exit


@main.group()
def speech() -> None:
    """Answers by voice: why the IVR did or did not understand a caller (see README)."""


@speech.command("parse")
@click.argument("text")
def speech_parse(text: str) -> None:
    """Print the digits a Russian phrase means, or why it is refused (exit code 1).

    Yes and no words («да», «нет»), as a confirm node hears them, print yes or no."""
    from agi.speech.number_parser import NumberRefused, parse_digits
    from agi.speech.words import parse_yes_no

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

    from agi.dialog.recogniser import SpeechError
    from agi.speech.number_parser import NumberRefused, parse_digits
    from agi.speech.recognition import VoskRecogniser, load_model, read_wav
    from agi.speech.words import WORD_LIST, parse_yes_no

    path = model or settings_or_exit().speech_model
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
