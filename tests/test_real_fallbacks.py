"""Real calls that the FastAGI server cannot take, or the AGI script cannot answer: SIPp
dials a private Asterisk, and the call still ends in the dialog or with the operator.

Needs root, Asterisk and SIPp, as tests/test_real_calls.py does.
"""

from __future__ import annotations

import re
import socket
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from agi.telephony.sipp import CallScript, place_call
from tests.agi_replies import environment
from tests.real_line import asterisk_options, fastagi_server, private_asterisks
from tests.support import ROOT, checkout_environment, demo_database, free_port
from tests.test_real_calls import MISSING, PERIOD, REQUIRED, TRANSFERRED

pytestmark = [
    pytest.mark.telephony,
    pytest.mark.skipif(bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"),
]

FELL_BACK = "running the AGI script"
SEED_KEYS = "*2 102057522# 11638# . 1"


def asterisk_log(root: Path) -> str:
    return (root / "log" / "messages.log").read_text(errors="replace")


def hold(port: int, count: int, stack: ExitStack) -> None:
    """`count` calls that the server takes and that then wait, holding their slots."""
    held = []
    for number in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        sock.sendall(environment(f"held-{number}", "1").encode())
        held.append(sock)
    for sock in held:
        assert sock.recv(100).startswith(b'SET VARIABLE "IVR_ANSWERED"')


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
        hold(server.port, int(room[1]), stack)
        stack.enter_context(private_asterisks([asterisk_options(root, sip_port, server.port, env)]))
        result = place_call(CallScript(SEED_KEYS), sip_port=sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
    stored = [(r.contract, r.value, r.channel) for r in repository.export(PERIOD)]
    repository.engine.dispose()
    assert stored == [("102057522", 11638, "ivr")]
    assert FELL_BACK in asterisk_log(root)
    assert "a call went to the fallback" in server.log.read_text()


def test_with_a_broken_flow_and_no_server_a_real_call_reaches_the_operator(tmp_path):
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    repository = demo_database(url)
    broken = tmp_path / "ivr_flows.yaml"
    broken.write_text((ROOT / "ivr_flows.yaml").read_text().replace("next: tone_mode", "nxt: x"))
    env = {**checkout_environment(tmp_path, url), "IVR_FLOW_PATH": str(broken)}
    root = tmp_path / "asterisk"
    sip_port = free_port(socket.SOCK_DGRAM)
    # the operators' queue, as a stand-in that holds the call longer than SIPp listens to
    # the welcome (nothing answers on the FastAGI port)
    line = replace(asterisk_options(root, sip_port, free_port(), env), operator_dial="Wait(9)")
    with private_asterisks([line]):
        started = time.monotonic()
        result = place_call(CallScript(""), sip_port=sip_port)
        assert result.succeeded, result.output
        time.sleep(0.3)
        log = asterisk_log(root)
    assert FELL_BACK in log
    assert TRANSFERRED in log
    assert time.monotonic() - started < 30
    assert repository.export(PERIOD) == []
    repository.engine.dispose()
