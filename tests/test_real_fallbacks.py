"""Real calls that the FastAGI server cannot take: SIPp dials a private Asterisk, and the
call still ends in the dialog, through the AGI script. A database the script cannot use is
said to the caller, who reaches the operator. (A call the AGI script cannot answer either
reaches the operator: tests/test_real_calls.py.)

Needs root, Asterisk and SIPp, as tests/test_real_calls.py does.
"""

from __future__ import annotations

import re
import socket
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from agi.telephony.sipp import CallScript, place_call
from tests.real_line import asterisk_options, fastagi_server, hold_calls, private_asterisks
from tests.support import checkout_environment, demo_database, free_port
from tests.test_real_calls import MISSING, PERIOD, REQUIRED, TRANSFERRED, assert_own_audio

pytestmark = [
    pytest.mark.telephony,
    pytest.mark.skipif(bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"),
]

FELL_BACK = "running the AGI script"
SEED_KEYS = "*2 102057522# 11638# . 1"


def asterisk_log(root: Path) -> str:
    return (root / "log" / "messages.log").read_text(errors="replace")


@pytest.mark.parametrize(
    ("options", "open_files"),
    [(["--max-calls", "1"], None), (["--max-calls", "5000"], 200)],
    ids=["at max_calls", "at the open-files limit"],
)
def test_a_real_call_the_server_cannot_take_goes_to_the_agi_script(tmp_path, options, open_files):
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    repository = demo_database(url)
    env = checkout_environment(tmp_path, url)
    root = tmp_path / "asterisk"
    sip_port = free_port(socket.SOCK_DGRAM)
    with ExitStack() as stack:
        server = stack.enter_context(
            fastagi_server(env, tmp_path, free_port(), options, open_files=open_files)
        )
        room = re.search(r"at most (\d+) calls", server.log.read_text())
        assert room, server.log.read_text()
        hold_calls(server.port, int(room[1]), stack)
        stack.enter_context(private_asterisks([asterisk_options(root, sip_port, server.port, env)]))
        result = place_call(CallScript(SEED_KEYS), sip_port=sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
    stored = [(r.contract, r.value, r.channel) for r in repository.export(PERIOD)]
    repository.engine.dispose()
    assert stored == [("102057522", 11638, "ivr")]
    assert FELL_BACK in asterisk_log(root)
    assert "a call went to the fallback" in server.log.read_text()


def test_a_database_the_agi_script_cannot_use_is_said_and_ends_at_the_operator(tmp_path):
    """No FastAGI server listens, and the AGI script finds the database without its tables
    while the greeting plays: at the first step that needs it the caller hears that readings
    cannot be taken now, and the IVR hands the call to the operator."""
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    empty = tmp_path / "empty.db"
    env = checkout_environment(tmp_path, f"sqlite:///{empty}")
    root = tmp_path / "asterisk"
    sip_port = free_port(socket.SOCK_DGRAM)
    with private_asterisks([asterisk_options(root, sip_port, free_port(), env)]):
        result = place_call(CallScript(SEED_KEYS), sip_port=sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
    log = asterisk_log(root)
    assert FELL_BACK in log
    assert_own_audio(log, "welcome", "tone_mode", "readings_unavailable")
    assert TRANSFERRED in log
    assert "no outcome from the IVR" not in log  # the IVR said it, not the dialplan's apology
    assert played_before(log, "readings_unavailable", TRANSFERRED)


def played_before(log: str, sound: str, then: str) -> bool:
    return 0 <= log.find(f"{sound}.") < log.find(then)
