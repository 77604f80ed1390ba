"""A FastAGI server that cannot be starved: deadlines for the environment and for each whole
reply, calls bounded by max_calls and by the open-files limit, the rest sent to the fallback
at once, and a stop that neither waits on idle connections nor leaves a caller in silence.

The connections are real sockets; the limits of open files and the stops are tried on a
real `ivr serve` process.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from agi.settings import setting_default
from tests.agi_replies import environment
from tests.asterisk_peer import play_call
from tests.real_line import Server, fastagi_server
from tests.support import checkout_environment, demo_database, free_port
from tests.test_fastagi import SEED_CALL, running, sample

BUSY = 'SET VARIABLE "IVR_BUSY" "1"'
CLAIM = 'SET VARIABLE "IVR_ANSWERED" "1"'


def read_line(sock: socket.socket, seconds: float) -> str | None:
    """The next line the server sends; '' when it closed the connection, None when it sent
    nothing whole within `seconds`."""
    deadline = time.monotonic() + seconds
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return None
        try:
            chunk = sock.recv(1)
        except ConnectionResetError:
            return ""
        if not chunk:
            return data.decode()
        data += chunk
    return data.decode().rstrip("\n")


def drip(sock: socket.socket, data: bytes, every: float) -> tuple[float, str]:
    """Send `data` one byte every `every` seconds until the server closes the connection
    or answers; returns the seconds that took and what happened ("closed", "answered",
    "sent all")."""
    started = time.monotonic()
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return time.monotonic() - started, "closed"
        ready, _, _ = select.select([sock], [], [], every)
        if ready:
            try:
                answered = sock.recv(100)
            except OSError:
                answered = b""
            return time.monotonic() - started, "answered" if answered else "closed"
    return time.monotonic() - started, "sent all"


def connect(server_port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server_port), timeout=5)


# --- deadlines ----------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_at_the_environment_deadline(always_open):
    with running(always_open, environment_seconds=1.0) as server, connect(server.port) as idle:
        started = time.monotonic()
        assert read_line(idle, 10) == ""
        assert 0.8 < time.monotonic() - started < 5
        assert sample(server, "ivr_connections_dropped_total", reason="no_environment") == 1
        assert sample(server, "ivr_calls_answered_total") == 0


def test_an_environment_dripping_a_byte_at_a_time_is_cut_at_its_deadline(always_open):
    """Each byte comes 0.3 s after the last, far within any timeout of one read."""
    with running(always_open, environment_seconds=1.5) as server, connect(server.port) as sock:
        seconds, what = drip(sock, environment("drip", "1").encode(), every=0.3)
        assert what == "closed"
        assert 1.2 < seconds < 5
        assert sample(server, "ivr_connections_dropped_total", reason="no_environment") == 1


def test_a_reply_dripping_a_byte_at_a_time_is_cut_at_its_deadline(always_open, caplog):
    with running(always_open, reply_seconds=1.0) as server, connect(server.port) as sock:
        sock.sendall(environment("drip", "1").encode())
        assert read_line(sock, 5) == CLAIM
        seconds, what = drip(sock, b"200 result=1\n", every=0.3)
        assert what == "closed", "the server went on with a reply that took 4 s to arrive"
        assert 0.8 < seconds < 4
    assert sample(server, "ivr_calls_ended_total", ending="no_reply") == 1
    assert re.search(
        r"call=[a-z]{24} Asterisk did not answer a command within 1 s: the call ended", caplog.text
    )


# --- the cap ------------------------------------------------------------------------


def test_call_threads_are_bounded_by_max_calls_and_the_rest_get_busy_at_once(always_open):
    with running(always_open, max_calls=5, environment_seconds=30) as server, ExitStack() as open_:
        threads = threading.active_count()
        sockets = [open_.enter_context(connect(server.port)) for _ in range(40)]
        # the first five hold the slots, waiting for their environment
        assert [read_line(sock, 0.5) for sock in sockets[:5]] == [None] * 5
        # each of the others is told at once to take the call elsewhere, then closed
        assert [read_line(sock, 2) for sock in sockets[5:]] == [BUSY] * 35
        assert [read_line(sock, 3) for sock in sockets[5:]] == [""] * 35
        assert threading.active_count() - threads <= 5
        assert sample(server, "ivr_calls_refused_busy_total", reason="max_calls") == 35


@contextmanager
def serve_process(
    folder: Path, *options: str, open_files: int | None = None, **environment_vars: str
) -> Iterator[Server]:
    """A real `ivr serve` on a demo database, with these options and IVR_* variables."""
    url = f"sqlite:///{folder / 'ivr.db'}"
    demo_database(url).engine.dispose()
    env = {**checkout_environment(folder, url), **environment_vars}
    arguments = ["--status-port", str(free_port()), *options]
    with fastagi_server(env, folder, free_port(), arguments, open_files=open_files) as server:
        yield server


def whole_call(port: int, call_id: str):
    return asyncio.run(play_call("127.0.0.1", port, SEED_CALL, call_id=call_id))


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M)[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


FIXED_THREADS = 10 + 2 * setting_default("database_pool_size")
"""A server's threads besides its calls': the main, accepting, status and records threads, the
SQLite writer, and the database workers of its two engines (as many as a pool's connections
each, started as the calls' first look-ups need them)."""


def test_the_open_files_limit_caps_the_calls_and_the_rest_get_busy(tmp_path):
    with (
        serve_process(tmp_path, "--max-calls", "5000", open_files=256) as server,
        ExitStack() as open_,
    ):
        log = server.log.read_text()
        room = int(re.search(r"leaves room for (\d+) calls at once, not max_calls 5000", log)[1])
        assert 10 < room < 256
        holders = [open_.enter_context(connect(server.port)) for _ in range(room)]
        for number, sock in enumerate(holders):
            sock.sendall(environment(f"held-{number}", "1").encode())
        assert [read_line(sock, 10) for sock in holders] == [CLAIM] * room
        holding = threads_of(server.process.pid)
        assert holding <= room + FIXED_THREADS
        with connect(server.port) as extra:
            extra.sendall(environment("extra", "1").encode())
            assert read_line(extra, 2) == BUSY
        assert threads_of(server.process.pid) <= holding
        for sock in holders:
            sock.sendall(b"HANGUP\n")
        open_.close()
        assert whole_call(server.port, "after").accepted
    assert "out of open files" not in server.log.read_text()


def test_out_of_open_files_a_call_still_goes_to_the_fallback_and_nothing_spins(tmp_path):
    with serve_process(tmp_path) as server:
        pid = server.process.pid
        limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        try:
            # no file left for a new connection: the server's spare one takes it
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use, limits[1]))
            with connect(server.port) as first:
                first.sendall(environment("no-files", "1").encode())
                assert read_line(first, 2) in (BUSY, "")  # sent elsewhere, never taken
            # not even the spare one: the connection waits, and the server waits too
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use - 3, limits[1]))
            waiting = connect(server.port)
            waiting.sendall(environment("waiting", "1").encode())
            busy_before = cpu_seconds(pid)
            time.sleep(2)
            assert cpu_seconds(pid) - busy_before < 0.5
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
        with waiting:
            assert read_line(waiting, 5) in (CLAIM, BUSY)
        assert whole_call(server.port, "after").accepted
    log = server.log.read_text()
    assert "out of open files (EMFILE): a call went to the fallback" in log
    assert "Traceback" not in log


# --- stopping -----------------------------------------------------------------------


def test_sigterm_closes_connections_that_are_not_calls_at_once_and_exits(tmp_path):
    with serve_process(tmp_path) as server, connect(server.port) as idle:
        idle.sendall(b"agi_network: yes\n")  # an environment that never ends
        time.sleep(0.3)
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert read_line(idle, 5) == ""
        server.process.wait(timeout=10)
        assert time.monotonic() - stopped < 3
        assert server.process.returncode == 0
    assert "FastAGI stopped after 0 calls" in server.log.read_text()


def test_when_the_drain_time_runs_out_a_call_in_progress_goes_to_the_operator(tmp_path):
    """Each prompt takes 2 s to play; the server stops 1 s into the call with a drain time
    of 1 s, so the call is handed over at its next command."""
    with serve_process(tmp_path, IVR_DRAIN_SECONDS="1") as server, connect(server.port) as sock:
        sock.sendall(environment("draining", "+79120000000").encode())
        commands = [read_line(sock, 5)]
        assert commands == [CLAIM]
        sock.sendall(b"200 result=1\n")
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while (command := read_line(sock, 10)) and len(commands) < 10:
            commands.append(command)
            time.sleep(2 if command.startswith("STREAM FILE") else 0)
            sock.sendall(b"200 result=0\n")
        server.process.wait(timeout=25)
        exited = time.monotonic() - stopped
    assert commands[-1] == 'SET VARIABLE "IVR_TRANSFER" "operator"', commands
    assert commands[1].startswith("STREAM FILE")
    assert exited < 1 + 15 + 5
    log = server.log.read_text()
    assert "the drain time ran out: 1 calls go to operator at their next command" in log
    assert re.search(r"call=[a-z]{24} ended=server_stopped", log)


def test_no_call_is_accepted_once_stopping(tmp_path):
    with serve_process(tmp_path) as server:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=10)
        with pytest.raises(OSError):
            connect(server.port)
