"""Asterisk's side of FastAGI, played from a keypad script: for server tests and load.

It connects like Asterisk does, sends the AGI environment and answers every command the
server sends as `tests.agi_replies` does; when the script runs out the caller hangs up. It
records every command and how long the server took from each reply to its next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agi.dialog.simulator import parse_script
from tests.agi_replies import environment, reply

ACCEPTED_PROMPT = "readings_accepted"
KEY_COMMANDS = ("WAIT FOR DIGIT", "GET DATA", 'EXEC "Read"')
"""The commands that wait for the caller's keys."""


@dataclass
class PeerCall:
    call_id: str | None
    commands: list[str] = field(default_factory=list)
    think_times: list[float] = field(default_factory=list)
    """Seconds from each reply sent to the next command received."""
    variables: dict[str, str] = field(default_factory=dict)
    hung_up_by: str = ""
    started: float = 0.0
    connect_seconds: float = 0.0
    ended: float = 0.0
    error: str = ""
    """Why the connection failed, when `play_call` records failures instead of raising."""

    @property
    def accepted(self) -> bool:
        """The IVR said «Показания приняты»."""
        return any(ACCEPTED_PROMPT in command for command in self.commands)


@dataclass
class OpenCalls:
    """Calls open on the caller's side, from connect to close."""

    now: int = 0
    peak: int = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


async def play_call(
    host: str,
    port: int,
    keys: str,
    *,
    call_id: str | None,
    caller: str = "+79120000000",
    send_hangup_line: bool = True,
    key_delay: tuple[float, float] = (0.0, 0.0),
    gauge: OpenCalls | None = None,
    record_errors: bool = False,
    on_command: Callable[[str], None] | None = None,
) -> PeerCall:
    """One complete call against a FastAGI server; returns what the server did.

    `key_delay` makes the caller think before each key (a random number of seconds in that
    range); the delay is spent before the reply is sent, so think times still measure the
    server alone. `on_command` sees each command before it is answered."""
    remaining = parse_script(keys)
    call = PeerCall(call_id, started=time.perf_counter())
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        if not record_errors:
            raise
        call.error, call.ended = f"connect: {error}", time.perf_counter()
        return call
    call.connect_seconds = time.perf_counter() - call.started
    if gauge:
        gauge.enter()
    try:
        writer.write(environment(call_id, caller).encode())
        await writer.drain()
        replied_at = time.perf_counter()
        while True:
            line = await reader.readline()
            if not line:
                call.hung_up_by = call.hung_up_by or "server"
                break
            call.think_times.append(time.perf_counter() - replied_at)
            command = line.decode().strip()
            call.commands.append(command)
            if on_command is not None:
                on_command(command)
            before = len(remaining)
            answer = reply(command, remaining, call.variables)
            keys = before - len(remaining)
            if command.startswith(KEY_COMMANDS) and key_delay[1] > 0:
                # the caller's time per key, spent before Asterisk answers
                await asyncio.sleep(sum(random.uniform(*key_delay) for _ in range(keys)))
            if command.startswith("HANGUP"):
                call.hung_up_by = "ivr"
            if answer is None:
                call.hung_up_by = "caller"
                writer.write(b"HANGUP\n" if send_hangup_line else b"200 result=-1\n")
                await writer.drain()
                break
            writer.write(answer.encode() + b"\n")
            await writer.drain()
            replied_at = time.perf_counter()
    except OSError as error:
        if not record_errors:
            raise
        call.error = f"{type(error).__name__}: {error}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if gauge:
            gauge.leave()
        call.ended = time.perf_counter()
    return call
