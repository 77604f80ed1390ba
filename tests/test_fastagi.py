"""The FastAGI server, driven by a protocol-level Asterisk: many calls, isolation, the cap,
the allow-list, reloading the flow, and a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from agi.application import Application
from agi.dialog.simulator import parse_script
from agi.telephony.fastagi import FastAgiServer, ServerOptions, parse_allow
from tests.agi_replies import reply
from tests.asterisk_peer import environment, play_call
from tests.conftest import ROOT

SEED_CALL = "*2 102057522# 11638# 1"


@contextmanager
def running(app: Application, **options) -> Iterator[FastAgiServer]:
    server = FastAgiServer(app, ServerOptions(port=0, watch_seconds=0.1, **options))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"


def sample(server: FastAgiServer, name: str, **labels: str) -> float:
    """A metric of the server, as /metrics shows it."""
    return server.metrics.registry.get_sample_value(name, labels) or 0.0


def call(server: FastAgiServer, keys: str, call_id: str = "c-1", **options):
    return asyncio.run(play_call("127.0.0.1", server.port, keys, call_id=call_id, **options))


def this_period(app: Application) -> str:
    return app.settings.window.period(datetime.now(tz=UTC))


def stored(app: Application) -> list[tuple[str, str, int]]:
    return [(r.contract, r.zone, r.value) for r in app.repository.export(this_period(app))]


def test_a_call_over_fastagi_stores_the_readings(always_open):
    with running(always_open) as server:
        peer = call(server, SEED_CALL)
    assert stored(always_open) == [("102057522", "single", 11638)]
    assert peer.commands[0] == 'SET VARIABLE "IVR_ANSWERED" "1"'
    assert peer.commands[-2:] == [
        f'STREAM FILE "{ROOT}/prompts/ru/readings_accepted" "" "0"',
        "HANGUP",
    ]
    assert peer.hung_up_by == "ivr"


def test_many_calls_at_once_are_all_served(always_open):
    async def many() -> list:
        return await asyncio.gather(
            *(play_call("127.0.0.1", server.port, SEED_CALL, call_id=f"c-{n}") for n in range(40))
        )

    with running(always_open, max_calls=100) as server:
        peers = asyncio.run(many())
        assert sample(server, "ivr_calls_answered_total") == 40
    assert all(peer.hung_up_by == "ivr" for peer in peers)
    (contract,) = always_open.repository.find_contracts("102057522", this_period(always_open))
    history = always_open.repository.history(contract.meters[0].id, this_period(always_open))
    assert len(history) == 40
    assert sum(s.superseded_at is None for s in history) == 1


def test_a_broken_call_does_not_disturb_the_others(always_open, caplog):
    def garbage() -> None:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(environment("bad", "1").encode())
            sock.recv(1000)
            sock.sendall(b"this is not AGI\n")
            sock.recv(1000)

    with running(always_open) as server:
        broken = threading.Thread(target=garbage)
        broken.start()
        peer = call(server, SEED_CALL, call_id="good")
        broken.join()
    assert peer.hung_up_by == "ivr"
    assert stored(always_open) == [("102057522", "single", 11638)]
    assert sample(server, "ivr_calls_ended_total", ending="failed") == 1


def test_at_the_cap_a_call_is_sent_to_the_fallback(always_open):
    with (
        running(always_open, max_calls=1) as server,
        socket.create_connection(("127.0.0.1", server.port)) as holder,
    ):
        holder.sendall(environment("holder", "1").encode())
        assert holder.recv(1000).startswith(b'SET VARIABLE "IVR_ANSWERED"')  # it is taken
        refused = call(server, SEED_CALL, call_id="second")
        assert refused.variables == {"IVR_BUSY": "1"}
        assert len(refused.commands) == 1
        assert sample(server, "ivr_calls_refused_busy_total", reason="max_calls") == 1
        holder.sendall(b"HANGUP\n")


def test_only_allowed_addresses_may_connect(always_open):
    with running(always_open, allow=parse_allow(["10.0.0.0/8"])) as server:
        peer = call(server, SEED_CALL)
        assert peer.commands == []
        assert sample(server, "ivr_connections_dropped_total", reason="not_allowed") == 1
    assert stored(always_open) == []


@pytest.mark.parametrize("value", ["10.0.0.5", "10.0.0.0/24,192.168.1.7", "::1"])
def test_allow_list_values(value):
    assert parse_allow([value])


def test_a_bad_allow_list_value_is_refused():
    with pytest.raises(ValueError):
        parse_allow(["asterisk.example"])


def test_a_caller_hanging_up_ends_the_call_at_once_and_stores_nothing(always_open):
    with running(always_open) as server:
        started = time.perf_counter()
        peer = call(server, "*2 102057522# 116")
        while sample(server, "ivr_calls_active"):
            time.sleep(0.01)
        ended = time.perf_counter() - started
    assert peer.hung_up_by == "caller"
    assert ended < 1.0
    assert stored(always_open) == []


def test_a_hangup_without_the_hangup_line_is_noticed_too(always_open):
    with running(always_open) as server:
        peer = call(server, "*2 123859# 1 45055# 1", send_hangup_line=False)
    assert peer.hung_up_by == "caller"
    assert stored(always_open) == []


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_changed_flow_is_used_by_the_next_call(editable, caplog):
    flow_file = editable.settings.flow_path
    caplog.set_level(logging.INFO)
    with running(editable) as server:
        first = call(server, "0", call_id="before")
        flow_file.write_text(
            flow_file.read_text().replace("    say: welcome\n", "    say: main_menu\n")
        )
        assert wait_for(lambda: "flow reloaded" in caplog.text)
        second = call(server, "0", call_id="after")
    assert "/welcome" in first.commands[1]
    assert "/main_menu" in second.commands[1]


def test_a_broken_flow_is_refused_and_the_last_good_one_keeps_serving(editable, caplog):
    flow_file = editable.settings.flow_path
    with running(editable) as server:
        flow_file.write_text(flow_file.read_text().replace("next: find_contract", "nxt: x"))
        assert wait_for(lambda: "the changed flow was refused" in caplog.text)
        peer = call(server, SEED_CALL)
    assert "'nxt' is not a setting" in caplog.text
    assert peer.hung_up_by == "ivr"
    assert stored(editable) == [("102057522", "single", 11638)]


@pytest.mark.parametrize("answer", ["HANGUP", "200 result=-1", "511 Dead channel", ""])
def test_a_caller_who_hangs_up_at_the_first_command_is_a_hang_up_not_a_failure(
    always_open, caplog, answer
):
    caplog.set_level(logging.INFO)
    with (
        running(always_open) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.sendall(environment("early", "+79120000000").encode())
        assert sock.recv(1000).startswith(b'SET VARIABLE "IVR_ANSWERED"')
        if answer:
            sock.sendall(answer.encode() + b"\n")
        else:
            sock.shutdown(socket.SHUT_WR)
        assert wait_for(
            lambda: sample(server, "ivr_calls_ended_total", ending="caller_hung_up") == 1
        )
    assert sample(server, "ivr_calls_ended_total", ending="failed") == 0
    mine = [record for record in caplog.records if record.name.startswith("agi")]
    assert [r.getMessage() for r in mine if r.levelno >= logging.ERROR] == []
    assert not any(record.exc_info for record in mine)
    assert any(
        re.fullmatch(r"call=[a-z]{24} the caller hung up before the IVR took the call", message)
        for message in caplog.messages
    )


def test_stopping_lets_calls_in_progress_finish(always_open):
    server = FastAgiServer(always_open, ServerOptions(port=0))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        stream = sock.makefile("rw", encoding="utf-8", newline="")
        stream.write(environment("slow", "+79120000000"))
        stream.flush()
        line = stream.readline()
        server.stop()
        time.sleep(0.3)
        assert thread.is_alive(), "the server must wait for the call in progress"
        keys, variables = parse_script("*2 102057522# 11638# 1"), {}
        while line:
            answer = reply(line.strip(), keys, variables) or "200 result=-1"
            stream.write(answer + "\n")
            stream.flush()
            if line.startswith("HANGUP"):
                break
            line = stream.readline()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert stored(always_open) == [("102057522", "single", 11638)]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)


def test_an_asterisk_that_goes_silent_is_taken_for_gone(always_open):
    server = FastAgiServer(always_open, ServerOptions(port=0, reply_seconds=0.5))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(environment("silent", "1").encode())
            assert sock.recv(1000).startswith(b'SET VARIABLE "IVR_ANSWERED"')
            assert wait_for(
                lambda: sample(server, "ivr_calls_ended_total", ending="no_reply") == 1, seconds=3
            )
    finally:
        server.stop()
        thread.join(timeout=10)
    assert stored(always_open) == []
