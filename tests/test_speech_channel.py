"""Listening over AGI, against literal protocol lines: RECORD FILE into the spool folder, the
keys that interrupt it, hang-ups, and a spool folder Asterisk cannot write.

The replies are Asterisk 16's (res_agi.c handle_recordfile): `(dtmf)` with the key's code,
`(timeout)` for silence or the longest answer, `(hangup)` and `(writefile)` with result -1.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agi.dialog.channel import CallerHungUp, KeyRequest, KeyStop, ListenFailed, ListenRequest
from agi.dialog.utterance import Prompt
from agi.speech import spool as speech_spool
from agi.speech.spool import Spool
from agi.telephony.asterisk_channel import AsteriskChannel
from tests.test_asterisk_channel import ENV, sent

DIGITS = KeyRequest(
    allowed=frozenset("0123456789"),
    max_digits=12,
    first_timeout=6,
    inter_digit_timeout=4,
    terminator="#",
)
LISTEN = ListenRequest(max_seconds=15, silence_seconds=2)
ASK = [Prompt("say_contract", "Назовите номер договора по одной цифре.")]
RECORD = 'RECORD FILE "/var/spool/ivr-speech/ivr-test" "wav" "#0123456789" "15000" "s=2"'


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Spool:
    monkeypatch.setattr(speech_spool, "recording_name", lambda: "ivr-test")
    return Spool(tmp_path, "/var/spool/ivr-speech")


def channel(spool: Spool | None, *replies: str) -> tuple[AsteriskChannel, io.StringIO]:
    written = io.StringIO()
    reader = io.StringIO(ENV + "".join(f"{reply}\n" for reply in replies))
    return AsteriskChannel(reader, written, prompts_dir="/srv/p", spool=spool), written


def asterisk_writes(spool: Spool) -> Path:
    """What Asterisk leaves in the spool folder for the recording named ivr-test."""
    audio = spool.folder / "ivr-test.wav"
    audio.write_bytes(b"RIFF")
    return audio


def test_the_answer_is_recorded_after_the_prompt_into_the_spool(spool):
    audio = asterisk_writes(spool)
    chan, written = channel(
        spool, "200 result=0 endpos=16000", "200 result=0 (timeout) endpos=24000", "200 result=0"
    )
    heard = chan.listen(ASK, DIGITS, LISTEN)
    assert heard.audio == audio and heard.words is None
    assert sent(written) == [
        'STREAM FILE "/srv/p/say_contract" "#0123456789" "0"',
        RECORD,
        "NOOP",  # answered only once Asterisk has closed the file
    ]


def test_a_key_during_the_prompt_is_an_answer_by_keys_and_nothing_is_recorded(spool):
    chan, written = channel(spool, "200 result=49 endpos=100", "200 result=50", "200 result=35")
    keys = chan.listen(ASK, DIGITS, LISTEN)
    assert (keys.digits, keys.stop) == ("12", KeyStop.TERMINATOR)
    assert not any(line.startswith("RECORD") for line in sent(written))


def test_a_key_during_the_recording_is_an_answer_by_keys(spool):
    partial = asterisk_writes(spool)
    chan, written = channel(
        spool,
        "200 result=0 endpos=16000",
        "200 result=49 (dtmf) endpos=4000",
        "200 result=48",
        "200 result=50",
        "200 result=35",
    )
    keys = chan.listen(ASK, DIGITS, LISTEN)
    assert (keys.digits, keys.stop) == ("102", KeyStop.TERMINATOR)
    assert sent(written)[1:] == [RECORD, 'WAIT FOR DIGIT "4000"', *['WAIT FOR DIGIT "4000"'] * 2]
    assert not partial.exists()


def test_a_hang_up_while_recording_leaves_no_recording(spool):
    partial = asterisk_writes(spool)
    chan, _ = channel(spool, "200 result=0 endpos=16000", "200 result=-1 (hangup) endpos=8000")
    with pytest.raises(CallerHungUp):
        chan.listen(ASK, DIGITS, LISTEN)
    assert not partial.exists()


def test_a_spool_folder_asterisk_cannot_write_is_a_failure_not_a_hang_up(spool):
    chan, written = channel(
        spool, "200 result=0 endpos=16000", "200 result=-1 (writefile)", "200 result=6"
    )
    with pytest.raises(ListenFailed, match="spool folder must exist and be writable"):
        chan.listen(ASK, DIGITS, LISTEN)
    assert sent(written)[-1] == "CHANNEL STATUS"


def test_a_channel_without_a_spool_folder_cannot_listen():
    chan, _ = channel(None, "200 result=0 endpos=16000")
    with pytest.raises(ListenFailed, match="no spool folder"):
        chan.listen(ASK, DIGITS, LISTEN)


def test_an_error_asterisk_reports_is_a_failure(spool):
    chan, _ = channel(spool, "200 result=0 endpos=16000", "200 result=-2 (randomerror) endpos=0")
    with pytest.raises(ListenFailed, match="randomerror"):
        chan.listen(ASK, DIGITS, LISTEN)


def test_a_hang_up_just_after_the_recording_leaves_no_recording(spool):
    audio = asterisk_writes(spool)
    chan, _ = channel(
        spool, "200 result=0 endpos=16000", "200 result=0 (timeout) endpos=24000", "HANGUP"
    )
    with pytest.raises(CallerHungUp):
        chan.listen(ASK, DIGITS, LISTEN)
    assert not audio.exists()


def test_a_key_typed_during_an_earlier_message_starts_the_answer(spool):
    chan, written = channel(
        spool, "200 result=49 endpos=100", "200 result=49", "200 result=54", "200 result=35"
    )
    chan.play([Prompt("meter_number", "Счётчик номер")], barge_in=True)
    keys = chan.listen(ASK, DIGITS, LISTEN)
    assert (keys.digits, keys.stop) == ("116", KeyStop.TERMINATOR)
    assert sent(written) == [
        'STREAM FILE "/srv/p/meter_number" "#*0123456789" "0"',
        *['WAIT FOR DIGIT "4000"'] * 3,
    ]
