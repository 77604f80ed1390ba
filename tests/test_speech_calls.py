"""Answers by voice through the shipped flow, as scripted calls: what the caller says in, the
prompts and the stored rows out.

The calls run through the real engine, actions and database; the recogniser "hears" exactly
the words in quotes (`ScriptedRecogniser`), so these specify everything after recognition:
when the call switches to voice, the Russian number words, yes and no, keys in the middle of
it, retries, and the operator when there is no speech model. The recogniser itself is
specified on a real model in test_speech.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agi.application import Application
from agi.dialog.channel import KeyRequest, Keys, ListenRequest, Recording
from agi.dialog.engine import Ending
from agi.dialog.recogniser import SpeechError
from agi.dialog.simulator import KeypadChannel, ScriptedRecogniser
from agi.dialog.utterance import Utterance
from agi.speech.recognition import Speech, speech_off
from tests.conftest import IN_WINDOW, place_call
from tests.test_dialog_calls import said_in_order

ACCEPTED = "Показания приняты. Спасибо."
TO_OPERATOR = "Соединяю с оператором"
FAILED = "Не получилось принять показания"
VOICE = "отвечайте на вопросы голосом"
SAY_CONTRACT = "Назовите номер договора"
SAY_READING = "Назовите показания"
YOU_SAID = "Вы назвали"
SAY_YES = "скажите «да»"
NOT_A_NUMBER = "Не удалось разобрать число"
NOT_AN_ANSWER = "Не удалось разобрать ответ"

CONTRACT = '"один ноль два ноль пять семь пять два два"'
READING = '"одиннадцать тысяч шестьсот тридцать восемь"'
SEED = ("electricity", "102057522", "single", 11638)


@dataclass
class Call:
    script: str
    rows: list[tuple[str, str, str, int]]
    ending: Ending
    says: list[str] = field(default_factory=list)


CALLS = {
    "a pulse phone: the contract digit by digit, the reading whole, then yes": Call(
        f'. {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [
            VOICE,
            SAY_CONTRACT,
            "Назовите показания счётчика без цифр после запятой",
            YOU_SAID,
            SAY_YES,
            ACCEPTED,
        ],
    ),
    "two zones, the contract in groups and the resource by voice": Call(
        '. "сто двадцать три восемьсот пятьдесят девять" "один" '
        '"сорок пять тысяч пятьдесят пять" "да" "двадцать три тысячи сто восемьдесят шесть" '
        '"верно"',
        [("electricity", "123859", "day", 45055), ("electricity", "123859", "night", 23186)],
        Ending.HUNG_UP_BY_IVR,
        ["Скажите «один» для электроэнергии", "дневной зоны", "ночной зоны", ACCEPTED],
    ),
    "hot water chosen by saying two": Call(
        '. "один два три восемь пять девять" "два" "двадцать" "да"',
        [("hot_water", "123859", "single", 20)],
        Ending.HUNG_UP_BY_IVR,
        [ACCEPTED],
    ),
    "no re-asks the reading": Call(
        f'. {CONTRACT} "одиннадцать тысяч шестьсот" "нет" {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [YOU_SAID, SAY_READING, YOU_SAID, ACCEPTED],
    ),
    "one confirms as key 1 does": Call(
        f'. {CONTRACT} {READING} "один"', [SEED], Ending.HUNG_UP_BY_IVR, [ACCEPTED]
    ),
    "keys still work after the switch to voice": Call(
        ". 102057522# 11638# 1", [SEED], Ending.HUNG_UP_BY_IVR, [VOICE, SAY_CONTRACT, ACCEPTED]
    ),
    "voice and keys mixed": Call(
        f'. {CONTRACT} 11638# "да"', [SEED], Ending.HUNG_UP_BY_IVR, [YOU_SAID, ACCEPTED]
    ),
    "a number not understood is asked again": Call(
        f'. "сто [unk] два" {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [NOT_A_NUMBER, SAY_CONTRACT, ACCEPTED],
    ),
    "silence while listening is asked again": Call(
        f'. . {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        ["не слышу", SAY_CONTRACT, ACCEPTED],
    ),
    "a reading with a decimal part is not understood": Call(
        f'. {CONTRACT} "одиннадцать тысяч шестьсот тридцать восемь запятая пять" {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [NOT_A_NUMBER, SAY_READING, ACCEPTED],
    ),
    "a contract number too short": Call(
        f'. "один два" {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        ["слишком короткий", ACCEPTED],
    ),
    "a contract number longer than any is not understood": Call(
        f'. "один два три четыре пять шесть семь восемь девять ноль один два три" {CONTRACT} '
        f'{READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [NOT_A_NUMBER, ACCEPTED],
    ),
    "an unknown contract said aloud": Call(
        f'. "девять девять девять девять девять девять" {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        ["не найден", SAY_CONTRACT, ACCEPTED],
    ),
    "a reading below the previous one is refused with the reason": Call(
        f'. {CONTRACT} "одиннадцать тысяч" {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        ["меньше предыдущих", SAY_READING, ACCEPTED],
    ),
    "unusual consumption confirmed by voice": Call(
        f'. {CONTRACT} "тринадцать тысяч" "да"',
        [("electricity", "102057522", "single", 13000)],
        Ending.HUNG_UP_BY_IVR,
        ["намного больше", SAY_YES, ACCEPTED],
    ),
    "an answer that is neither yes nor no is asked again": Call(
        f'. {CONTRACT} {READING} "[unk]" "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [YOU_SAID, NOT_AN_ANSWER, YOU_SAID, ACCEPTED],
    ),
    "three numbers not understood reach the operator": Call(
        '. "[unk]" "сто [unk] два" "да"',
        [],
        Ending.TRANSFERRED,
        [NOT_A_NUMBER, NOT_A_NUMBER, FAILED, TO_OPERATOR],
    ),
    "silence three times reaches the operator": Call(
        ". . . .", [], Ending.TRANSFERRED, [SAY_CONTRACT, "не слышу", "не слышу", TO_OPERATOR]
    ),
    "wrong keys again and again switch to voice": Call(
        f'5 5 5 {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        ["Такой клавиши нет в меню", "Такой клавиши нет в меню", VOICE, ACCEPTED],
    ),
    "the caller hangs up while the IVR listens": Call(
        f". {CONTRACT}", [], Ending.CALLER_HUNG_UP, [SAY_READING]
    ),
    "words said while the IVR waits for keys are not heard": Call(
        f'{CONTRACT} {CONTRACT} {READING} "да"',
        [SEED],
        Ending.HUNG_UP_BY_IVR,
        [VOICE, SAY_CONTRACT, ACCEPTED],
    ),
}


@pytest.fixture
def voice_app(app: Application) -> Application:
    app.speech = Speech(ScriptedRecogniser(), "scripted")
    return app


def stored(app: Application) -> list[tuple[str, str, str, int]]:
    period = app.settings.window.period(IN_WINDOW)
    return [(r.resource, r.contract, r.zone, r.value) for r in app.repository.export(period)]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_voice_call(voice_app: Application, call: Call) -> None:
    outcome, channel = place_call(voice_app, call.script)
    transcript = "\n".join(channel.transcript)
    assert said_in_order(channel.transcript, call.says) == [], transcript
    assert outcome.report.ending == call.ending, transcript
    assert stored(voice_app) == call.rows, transcript


# --- without a speech model -------------------------------------------------------------

WITHOUT_SPEECH = {
    "a silent caller is reminded of tone mode, then reaches the operator": ". . .",
    "a caller who speaks is not heard, and reaches the operator": f"{CONTRACT} {CONTRACT} "
    f"{READING}",
    "wrong keys again and again reach the operator": "5 5 5 . .",
}


@pytest.mark.parametrize("script", WITHOUT_SPEECH.values(), ids=WITHOUT_SPEECH.keys())
def test_without_a_speech_model_the_caller_reaches_the_operator(app, script) -> None:
    app.speech = speech_off("no model in this test")
    outcome, channel = place_call(app, script)
    transcript = "\n".join(channel.transcript)
    assert outcome.report.ending == Ending.TRANSFERRED, transcript
    assert said_in_order(channel.transcript, ["Нажмите звёздочку", TO_OPERATOR]) == []
    assert VOICE not in transcript
    assert "Назовите" not in transcript


def test_a_failing_recogniser_reaches_the_operator(app) -> None:
    class Broken:
        def transcribe(self, recording: Recording) -> str:
            raise SpeechError("the recogniser failed: out of memory")

    app.speech = Speech(Broken(), "broken")
    outcome, channel = place_call(app, f". {CONTRACT}")
    assert outcome.report.ending == Ending.TRANSFERRED
    assert said_in_order(channel.transcript, [SAY_CONTRACT, FAILED, TO_OPERATOR]) == []


# --- caller data ---------------------------------------------------------------------------


class RecordingChannel(KeypadChannel):
    """A keypad channel whose answers by voice arrive as files, like Asterisk's recordings."""

    def __init__(self, spool: Path, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spool = spool
        self.files: list[Path] = []

    def listen(
        self, utterances: list[Utterance], keys: KeyRequest, request: ListenRequest
    ) -> Keys | Recording:
        heard = super().listen(utterances, keys, request)
        if isinstance(heard, Recording) and heard.words is not None:
            audio = self.spool / f"ivr-{len(self.files)}.wav"
            audio.write_text(heard.words, encoding="utf-8")
            self.files.append(audio)
            return Recording(audio=audio)
        return heard


class FileRecogniser:
    def transcribe(self, recording: Recording) -> str:
        assert recording.audio is not None and recording.audio.exists()
        return recording.audio.read_text(encoding="utf-8")


def test_recordings_are_deleted_and_numbers_never_logged(app, tmp_path, caplog) -> None:
    tmp_path = tmp_path / "spool"
    tmp_path.mkdir()
    app.speech = Speech(FileRecogniser(), "files")
    channel = RecordingChannel(
        tmp_path, "call-1", "+79120000000", keys=f'. {CONTRACT} {READING} "да"'
    )
    with caplog.at_level(logging.DEBUG):
        outcome = app.answer(channel, now=lambda: IN_WINDOW)
    assert outcome.accepted
    assert len(channel.files) == 3
    assert list(tmp_path.iterdir()) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "voice=*******22" in logged
    for secret in ("102057522", "11638", "одиннадцать", "один ноль"):
        assert secret not in logged
