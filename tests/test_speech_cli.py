"""`ivr speech parse`, `ivr speech recognize` and a simulated call by voice, as support staff
and call-center staff use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.cli import main
from tests.test_cli import ivr  # noqa: F401
from tests.test_speech import KOREAN_WORDS, korean_model, needs_model, say_korean  # noqa: F401

PARSED = {
    "сорок пять тысяч пятьдесят пять": "45055",
    "один ноль два ноль пять семь пять два два": "102057522",
    "сто два ноль пять": "10205",
    "да": "yes",
    "не верно": "no",
}
REFUSED = {
    "сто два пожалуйста": "«пожалуйста» is not a number word",
    "одиннадцать тысяч шестьсот тридцать восемь запятая пять": "after the decimal point",
    "": "no number was said",
}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("IVR_SPEECH_MODEL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("text", "printed"), PARSED.items(), ids=list(PARSED))
def test_speech_parse_prints_what_a_phrase_means(run, text: str, printed: str) -> None:
    result = run("speech", "parse", text)
    assert result.exit_code == 0
    assert result.stdout == f"{printed}\n"


@pytest.mark.parametrize(("text", "reason"), REFUSED.items(), ids=list(REFUSED))
def test_speech_parse_says_why_a_phrase_is_no_number(run, text: str, reason: str) -> None:
    result = run("speech", "parse", text)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "not a number: " in result.stderr and reason in result.stderr


def test_speech_recognize_needs_a_model(run, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"")
    result = run("speech", "recognize", str(wav))
    assert result.exit_code == 1
    assert "no speech model: set speech_model, or give --model" in result.stderr


@needs_model
def test_speech_recognize_prints_what_the_model_heard(run, tmp_path, korean_model) -> None:  # noqa: F811
    words = tmp_path / "words.json"
    words.write_text(json.dumps(KOREAN_WORDS, ensure_ascii=False), encoding="utf-8")
    wav = say_korean("이 오 만", tmp_path)
    result = run(
        "speech", "recognize", str(wav), "--model", str(korean_model), "--words", str(words)
    )
    assert result.stdout == "heard: 이 오 만\n"
    assert "at 8000 Hz, recognised in" in result.stderr
    assert result.exit_code == 1  # Korean words are no Russian number
    assert "not a number: «이» is not a number word" in result.stderr


@needs_model
def test_speech_recognize_says_when_the_file_is_no_recording(run, tmp_path, korean_model) -> None:  # noqa: F811
    wav = tmp_path / "a.wav"
    wav.write_text("not audio")
    result = run("speech", "recognize", str(wav), "--model", str(korean_model))
    assert result.exit_code == 1
    assert "a.wav is not a WAV file" in result.stderr


VOICE_CALL = (
    '. "один ноль два ноль пять семь пять два два" "одиннадцать тысяч шестьсот тридцать восемь" '
    '"да"'
)


def test_simulate_a_call_by_voice(ivr) -> None:  # noqa: F811
    result = ivr("simulate", "--keys", VOICE_CALL, "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "caller says: «один ноль два ноль пять семь пять два два»" in result.output
    assert "IVR: Показания приняты. Спасибо." in result.output


def test_simulate_a_line_without_a_speech_model(ivr) -> None:  # noqa: F811
    result = ivr("simulate", "--keys", VOICE_CALL, "--date", "2026-11-20", "--no-speech")
    assert result.exit_code == 1
    assert "IVR transfers the call to: operator" in result.output
    assert "caller says" not in result.output


def test_simulate_refuses_an_unclosed_phrase(ivr) -> None:  # noqa: F811
    result = ivr("simulate", "--keys", '. "один ноль', "--date", "2026-11-20")
    assert result.exit_code == 2
    assert "double quotes" in result.output
