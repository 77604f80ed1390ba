"""Real calls: SIPp dials a private Asterisk over SIP, presses keys as RFC 4733 DTMF, and the
readings land in the database, through the FastAGI server and through the AGI script.

Needs root, Asterisk and SIPp (scripts/install-telephony). Skipped without them, unless
IVR_REQUIRE_TELEPHONY is set (CI sets it), where their absence is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agi.readings.rules import AcceptanceWindow
from agi.records.record import End
from agi.storage.call_records import CallRecords
from agi.storage.repository import Repository
from agi.telephony import private_asterisk
from agi.telephony.sipp import CallScript, place_call
from tests.real_line import asterisk_options, fastagi_server, private_asterisks
from tests.support import ROOT, checkout_environment, demo_database, free_port

REQUIRED = os.environ.get("IVR_REQUIRE_TELEPHONY", "") not in ("", "0")
MISSING = [tool for tool in ("asterisk", "sipp") if not shutil.which(tool)]
if os.geteuid() != 0:
    MISSING.append("root (SIPp sends RTP from raw sockets)")

pytestmark = [
    pytest.mark.telephony,
    pytest.mark.skipif(bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"),
]

PERIOD = AcceptanceWindow().period(datetime.now(tz=UTC))
PROMPTS = ROOT / "prompts" / "ru"
TRANSFERRED = "IVR transfer to the operator queue"
MISSING_FILE = "does not exist"


def played(sound: str) -> str:
    """How Asterisk's log (verbose) shows a file it plays: a prompt id, or a number word
    such as `digits/thousands`; the format follows the name (`welcome.ulaw` on a u-law line)."""
    if sound.startswith("digits/"):
        return f"Playing '{sound}."
    return f"Playing '{PROMPTS / sound}."


def assert_own_audio(log: str, *sounds: str) -> None:
    """Asterisk played these files of the project, and no file it was asked for was missing."""
    missing = [line for line in log.splitlines() if MISSING_FILE in line]
    assert missing == [], missing
    for sound in sounds:
        assert played(sound) in log, f"{sound} was not played:\n{log[-3000:]}"


@dataclass
class Line:
    """One private Asterisk, and where its calls go."""

    name: str
    root: Path
    sip_port: int

    @property
    def log(self) -> Path:
        return self.root / "log" / "messages.log"

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, size: int) -> str:
        with self.log.open(encoding="utf-8", errors="replace") as stream:
            stream.seek(size)
            return stream.read()


@dataclass
class Stack:
    repository: Repository
    lines: dict[str, Line]
    server_log: Path
    environment: dict[str, str]

    def call(self, path: str, script: CallScript) -> str:
        """Place a call on the line of `path`; return what Asterisk logged meanwhile."""
        line = self.lines[path]
        before = line.log_size()
        result = place_call(script, sip_port=line.sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
        return line.log_since(before)

    def stored(self) -> list[tuple[str, str, int, str]]:
        return [(r.contract, r.zone, r.value, r.channel) for r in self.repository.export(PERIOD)]

    def clear(self) -> None:
        with self.repository.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM readings")
            connection.exec_driver_sql("DELETE FROM submissions")
            connection.exec_driver_sql("DELETE FROM guess_attempts")  # SIPp's one caller ID
            connection.exec_driver_sql("DELETE FROM call_records")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    folder = tmp_path_factory.mktemp("line")
    url = f"sqlite:///{folder / 'ivr.db'}"
    repository = demo_database(url)
    environment = checkout_environment(folder, url)
    lines = {
        # the dialplan tries FastAGI first; with nothing listening it runs the AGI script
        "fastagi": Line("fastagi", folder / "asterisk-fastagi", free_port(socket.SOCK_DGRAM)),
        "agi-script": Line("agi-script", folder / "asterisk-script", free_port(socket.SOCK_DGRAM)),
    }
    with fastagi_server(environment, folder, free_port()) as server:
        targets = {"fastagi": server.port, "agi-script": free_port()}
        options = [
            asterisk_options(
                line.root, line.sip_port, targets[name], environment, system_name=f"pbx-{name}"
            )
            for name, line in lines.items()
        ]
        with private_asterisks(options):
            yield Stack(repository, lines, server.log, environment)
    repository.engine.dispose()


@pytest.fixture
def stack_clean(stack: Stack) -> Stack:
    stack.clear()
    return stack


PATHS = ["fastagi", "agi-script"]


@pytest.mark.parametrize("path", PATHS)
def test_single_tariff_submission(stack_clean, path):
    # the caller listens to the whole readback (.) before confirming
    log = stack_clean.call(path, CallScript("*2 102057522# 11638# . 1"))
    assert stack_clean.stored() == [("102057522", "single", 11638, "ivr")]
    # «одиннадцать тысяч шестьсот тридцать восемь»: every word, the project's ones included
    assert_own_audio(
        log,
        "welcome",
        "tone_mode",
        "enter_contract",
        "zone_single",
        "you_entered",
        "digits/11",
        "digits/thousands",
        "digits/600",
        "digits/30",
        "digits/8",
        "confirm_or_reenter",
        "readings_accepted",
    )
    _assert_path(log, path)


@pytest.mark.parametrize("path", PATHS)
def test_two_tariff_submission_day_then_night(stack_clean, path):
    log = stack_clean.call(path, CallScript("*2 123859# 1 45055# 1 23186# 1"))
    assert stack_clean.stored() == [
        ("123859", "day", 45055, "ivr"),
        ("123859", "night", 23186, "ivr"),
    ]
    assert_own_audio(log, "several_contracts", "readings_accepted")


@pytest.mark.parametrize("path", PATHS)
def test_unknown_contract_retried_then_operator(stack_clean, path):
    # `contract_unknown` is said to the end (keys do not interrupt it): the caller waits (.)
    log = stack_clean.call(path, CallScript("*2 999999# . 888888# . 777777#"))
    assert TRANSFERRED in log
    assert_own_audio(log, "contract_unknown", "failed_connecting_operator")
    assert stack_clean.stored() == []
    _assert_path(log, path)  # a transferred call is not run a second time


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "keys",
    ["*2 102057522# 116", "*2 123859# 1 45055# 1"],
    ids=["while typing a reading", "after confirming one zone of two"],
)
def test_caller_hangs_up_and_nothing_is_stored(stack_clean, path, keys):
    line = stack_clean.lines[path]
    before = line.log_size()
    result = place_call(CallScript(keys, caller_hangs_up=True), sip_port=line.sip_port)
    assert result.succeeded, result.output
    hung_up_at = time.monotonic()
    while "completed, returning" not in line.log_since(before):
        assert time.monotonic() - hung_up_at < 1.0, "the AGI side did not end within a second"
        time.sleep(0.02)
    assert stack_clean.stored() == []
    assert _agi_scripts_of(line) == []


@pytest.mark.parametrize("path", PATHS)
def test_a_caller_id_with_a_quote_and_a_newline(stack_clean, path):
    script = CallScript(
        "*2 102057522# 11638# 1", caller="7912\r\nagi_uniqueid: forged", display='Ev"il\\'
    )
    stack_clean.call(path, script)
    assert stack_clean.stored() == [("102057522", "single", 11638, "ivr")]
    (contract,) = stack_clean.repository.find_contracts("102057522", PERIOD)
    (submission,) = stack_clean.repository.history(contract.meters[0].id, PERIOD)
    assert submission.caller is None  # «7912» is no phone number: dropped, not stored
    assert "forged" not in submission.source_id
    assert "forged" not in (submission.correlation_id or "")
    assert "agi_uniqueid: forged" not in stack_clean.server_log.read_text()


OUTCOMES = [
    ("*2 102057522# 11638# 1", [], 0, "the readings were accepted"),
    ("*2 999999# . 888888# . 777777#", [], 3, "the call was transferred to operator"),
    ("*2 102057522# 116", ["--hang-up"], 4, "the line hung up with no outcome"),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("keys", "options", "code", "said"), OUTCOMES, ids=["ok", "operator", "gone"]
)
def test_ivr_call_says_how_the_call_ended(stack_clean, path, keys, options, code, said):
    line = stack_clean.lines[path]
    done = _ivr_call(stack_clean, line, keys, *options)
    assert (done.returncode, done.stdout.strip()) == (code, f"the call went through; {said}")


def test_a_broken_flow_with_no_server_is_an_apology_and_the_operator(
    stack_clean, tmp_path: Path
) -> None:
    """Neither the FastAGI server (none listens) nor the AGI script (the flow is broken) can
    take the call: the dialplan apologises and connects the operator."""
    broken = tmp_path / "ivr_flows.yaml"
    broken.write_text("version: 1\nstart: nowhere\n", encoding="utf-8")
    environment = {**stack_clean.environment, "IVR_FLOW_PATH": str(broken)}
    line = Line("broken", tmp_path / "asterisk", free_port(socket.SOCK_DGRAM))
    with private_asterisks([asterisk_options(line.root, line.sip_port, free_port(), environment)]):
        done = _ivr_call(stack_clean, line, "*2 102057522# 11638# 1")
        log = line.log_since(0)
    assert (done.returncode, done.stdout.strip()) == (
        3,
        "the call went through; the call was transferred to operator",
    )
    assert "no outcome from the IVR" in log
    assert "running the AGI script" in log
    assert_own_audio(log, "readings_unavailable")
    assert TRANSFERRED in log
    assert stack_clean.stored() == []


@pytest.mark.parametrize("path", PATHS)
def test_a_key_the_tone_mode_menu_does_not_take_is_said_wrong_and_the_call_goes_on(
    stack_clean, path
):
    """`#` at a one-key menu: Asterisk's GET DATA ends on it with an empty answer, which the
    IVR takes for `#`, not for silence."""
    log = stack_clean.call(path, CallScript("# *2 102057522# 11638# 1"))
    assert_own_audio(log, "tone_mode", "wrong_key", "enter_contract", "readings_accepted")
    assert played("voice_offer") not in log  # silence would have offered answers by voice
    assert stack_clean.stored() == [("102057522", "single", 11638, "ivr")]


def test_a_menu_whose_prompt_file_is_missing_still_takes_its_key(stack_clean, tmp_path: Path):
    """The main menu's recording is gone from the folder Asterisk plays from: the caller
    does not hear it, but the key is still taken, the readings stored, and the log says
    which file is missing."""
    audio = tmp_path / "ru"
    shutil.copytree(PROMPTS, audio)
    for recording in audio.glob("main_menu.*"):
        recording.unlink()
    environment = {**stack_clean.environment, "IVR_PROMPTS_AUDIO_DIR": str(audio)}
    line = Line("no-menu-audio", tmp_path / "asterisk", free_port(socket.SOCK_DGRAM))
    with fastagi_server(environment, tmp_path, free_port()) as server:
        options = asterisk_options(line.root, line.sip_port, server.port, environment)
        with private_asterisks([options]):
            result = place_call(CallScript("*2 102057522# 11638# 1"), sip_port=line.sip_port)
            assert result.succeeded, result.output
        served = server.log.read_text()
    assert stack_clean.stored() == [("102057522", "single", 11638, "ivr")]
    assert f"prompt file {audio / 'main_menu'} has no audio" in served
    assert "running the AGI script" not in line.log_since(0)


def _ivr_call(stack: Stack, line: Line, keys: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agi", "call", "--keys", keys, "--sip-port", str(line.sip_port),
         "--asterisk-log", str(line.log), *options],
        env=stack.environment, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_the_ivr_names_the_call_and_keeps_asterisks_id(stack_clean, path):
    stack_clean.call(path, CallScript("*2 102057522# 11638# 1", caller="89120000000"))
    (contract,) = stack_clean.repository.find_contracts("102057522", PERIOD)
    (submission,) = stack_clean.repository.history(contract.meters[0].id, PERIOD)
    assert re.fullmatch("[a-z]{24}", submission.source_id)
    assert re.fullmatch(rf"pbx-{path}/pbx-{path}-[0-9]+\.[0-9]+", submission.correlation_id or "")
    assert submission.caller == "+79120000000"


RECORDED = [
    # keys, hang up, how it ended, the last node, the refusals
    ("*2 102057522# 11638# 1", False, End.ACCEPTED, "accepted", ()),
    ("*2 123859# 1 45055# 1 230", True, End.CALLER_HUNG_UP, "ask_reading", ()),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("keys", "hang_up", "end", "where", "refusals"), RECORDED, ids=["accepted", "hung up"]
)
def test_every_real_call_leaves_its_record_with_the_asterisk_that_carried_it(
    stack_clean, path, keys, hang_up, end, where, refusals
):
    line = stack_clean.lines[path]
    records = CallRecords(stack_clean.repository.engine)
    since = datetime.now(tz=UTC) - timedelta(seconds=1)
    result = place_call(CallScript(keys, caller_hangs_up=hang_up), sip_port=line.sip_port)
    assert result.succeeded, result.output
    deadline = time.monotonic() + 10
    while not (found := records.between(since, datetime.now(tz=UTC) + timedelta(minutes=1))):
        assert time.monotonic() < deadline, "no call record was written"
        time.sleep(0.1)
    (record,) = found
    assert (record.channel, record.end, record.where, record.refusals) == (
        "phone",
        end,
        where,
        refusals,
    )
    assert record.system == f"pbx-{path}"
    assert record.server == socket.gethostname()
    assert re.fullmatch("[a-z]{24}", record.source_id)
    assert record.submission == (record.source_id if end is End.ACCEPTED else None)
    assert record.caller == "*********00"  # SIPp's caller, masked
    nodes = [visit.node for visit in record.path]
    assert nodes[:2] == ["greeting", "tone_mode"] and nodes[-1] == where
    assert sum(visit.seconds for visit in record.path) == pytest.approx(record.seconds, abs=0.01)
    assert record.seconds > 1  # the prompts take real time on a real line


def test_a_caller_billing_knows_confirms_the_pre_filled_contract(stack_clean):
    """The demo contract 102057522 has the phone +7 912 000-00-01: a real call from it hears
    «…заканчивается на семь пять два два», presses 1 and gives only the reading."""
    log = stack_clean.call("fastagi", CallScript("*2 . 1 11640# . 1", caller="89120000001"))
    assert stack_clean.stored() == [("102057522", "single", 11640, "ivr")]
    assert_own_audio(
        log,
        "caller_contract_ends",
        "digits/7",
        "digits/5",
        "digits/2",
        "caller_contract_use",
        "readings_accepted",
    )
    assert played("enter_contract") not in log
    # the digits in the prompts' voice: the project's files, none of the package's; on this
    # G.711 u-law line the copies of the prompts in that coding, played as they are
    assert "Playing 'digits/7.ulaw'" in log
    assert f"Playing '{PROMPTS / 'caller_contract_use'}.ulaw'" in log
    assert re.findall(r"Playing '[^']*\.(?:gsm|slin)'", log) == []
    (contract,) = stack_clean.repository.find_contracts("102057522", PERIOD)
    (submission,) = stack_clean.repository.history(contract.meters[0].id, PERIOD)
    assert submission.caller == "+79120000001"


def _assert_path(log: str, path: str) -> None:
    fell_back = "running the AGI script" in log
    assert fell_back is (path == "agi-script"), log[-2000:]


def _agi_scripts_of(line: Line) -> list[str]:
    """The AGI scripts this line's Asterisk still runs (its children)."""
    pid = private_asterisk.running_pid(line.root)
    done = subprocess.run(
        ["pgrep", "-a", "-P", str(pid), "-f", "ivr-agi"], capture_output=True, text=True
    )
    return done.stdout.splitlines()
