"""Answers by voice over FastAGI: the server records into the spool folder, one shared
recogniser serves every call, and no recording outlives its recognition.

The protocol-level Asterisk (tests/asterisk_peer.py) "records" by writing the words of its
script into the file RECORD FILE names; the test recogniser reads them back.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from agi.application import Application
from agi.dialog.channel import Recording
from agi.speech.recognition import Speech, speech_off
from tests.asterisk_peer import play_call
from tests.test_fastagi import call, running, stored

VOICE_CALL = (
    '. "один ноль два ноль пять семь пять два два" "одиннадцать тысяч шестьсот тридцать восемь" '
    '"да"'
)


class SpoolRecogniser:
    """Reads what the fake Asterisk wrote; remembers how many calls it served at once."""

    def __init__(self) -> None:
        self.heard = 0
        self.lock = threading.Lock()

    def transcribe(self, recording: Recording) -> str:
        assert recording.audio is not None
        with self.lock:
            self.heard += 1
        return recording.audio.read_text(encoding="utf-8")


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "speech"


@pytest.fixture
def voice_app(always_open: Application, spool: Path) -> Application:
    always_open.settings = always_open.settings.model_copy(update={"speech_spool_dir": spool})
    spool.mkdir(mode=0o700)
    always_open.speech = Speech(SpoolRecogniser(), "test recogniser")
    return always_open


def test_an_answer_by_voice_is_recorded_recognised_and_deleted(voice_app, spool):
    with running(voice_app) as server:
        peer = call(server, VOICE_CALL)
    assert stored(voice_app) == [("102057522", "single", 11638)]
    records = [command for command in peer.commands if command.startswith("RECORD FILE")]
    assert len(records) == 3
    assert all(f'"{spool.resolve()}/ivr-' in record for record in records)
    assert records[0].endswith('"wav" "#0123456789" "15000" "s=2"')  # the contract
    assert records[2].endswith('"wav" "#*0123456789" "15000" "s=2"')  # yes or no
    assert list(spool.iterdir()) == []


def test_many_voice_calls_share_one_recogniser(voice_app, spool):
    async def many() -> list:
        return await asyncio.gather(
            *(play_call("127.0.0.1", server.port, VOICE_CALL, call_id=f"v-{n}") for n in range(8))
        )

    with running(voice_app) as server:
        peers = asyncio.run(many())
    assert all(peer.hung_up_by == "ivr" for peer in peers)
    assert voice_app.speech.recogniser.heard == 8 * 3
    assert list(spool.iterdir()) == []


def test_without_a_model_the_server_never_records(always_open):
    always_open.speech = speech_off("no model")
    with running(always_open) as server:
        peer = call(server, ". . .")
    assert not any(command.startswith("RECORD") for command in peer.commands)
    assert peer.variables.get("IVR_TRANSFER") == "operator"


def test_a_caller_hanging_up_while_recorded_leaves_nothing_behind(voice_app, spool):
    with running(voice_app) as server:
        peer = call(server, '. "один ноль два ноль пять семь пять два два"')
    assert peer.hung_up_by == "caller"
    assert peer.commands[-1].startswith("RECORD FILE")
    assert list(spool.iterdir()) == []
