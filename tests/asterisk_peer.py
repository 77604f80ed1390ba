"""Asterisk's side of FastAGI, played from a keypad script: for server tests and load.

It connects like Asterisk does, sends the AGI environment, and answers every command the
server sends: prompts end without interruption, WAIT FOR DIGIT returns the script's next key
(a `.` is a timeout), RECORD FILE writes the words the script says in quotes into the file
Asterisk would record (as text, for a test recogniser to read), and when the script runs out
the caller hangs up. It records every command
and how long the server took from each reply to its next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from agi.dialog.simulator import Said, parse_script


@dataclass
class PeerCall:
    call_id: str
    commands: list[str] = field(default_factory=list)
    think_times: list[float] = field(default_factory=list)
    """Seconds from each reply sent to the next command received."""
    variables: dict[str, str] = field(default_factory=dict)
    hung_up_by: str = ""


def environment(call_id: str, caller: str, request: str = "agi://127.0.0.1/readings") -> str:
    lines = {
        "agi_network": "yes",
        "agi_network_script": "readings",
        "agi_request": request,
        "agi_channel": f"PJSIP/caller-{call_id}",
        "agi_language": "ru",
        "agi_type": "PJSIP",
        "agi_uniqueid": call_id,
        "agi_version": "16.28.0",
        "agi_callerid": caller,
        "agi_calleridname": "Caller",
        "agi_context": "ivr-call",
        "agi_extension": "s",
        "agi_priority": "4",
        "agi_threadid": "1",
    }
    return "".join(f"{key}: {value}\n" for key, value in lines.items()) + "\n"


def _reply(command: str, keys: list[str | Said], call: PeerCall) -> str | None:
    """Asterisk's answer to one command; None when the caller hangs up instead."""
    if command.startswith(("STREAM FILE", "SAY ")):
        return "200 result=0 endpos=8000"
    if command.startswith("WAIT FOR DIGIT"):
        if not keys:
            return None
        key = keys.pop(0)
        return "200 result=0" if isinstance(key, Said) or key == "." else f"200 result={ord(key)}"
    if command.startswith("RECORD FILE"):
        if not keys:
            return None
        item = keys.pop(0)
        if isinstance(item, str) and item != ".":
            return f"200 result={ord(item)} (dtmf) endpos=800"
        path = Path(shlex.split(command)[2] + ".wav")
        path.write_text(item.words if isinstance(item, Said) else "", encoding="utf-8")
        return "200 result=0 (timeout) endpos=16000"
    if command.startswith("NOOP"):
        return "200 result=0"
    if command.startswith("SET VARIABLE"):
        _, _, rest = command.partition("SET VARIABLE ")
        name, _, value = rest.partition(" ")
        call.variables[name.strip('"')] = value.strip('"')
        return "200 result=1"
    if command.startswith("CHANNEL STATUS"):
        return "200 result=6"
    if command.startswith("HANGUP"):
        call.hung_up_by = "ivr"
        return "200 result=1"
    return "510 Invalid or unknown command"


async def play_call(
    host: str,
    port: int,
    keys: str,
    *,
    call_id: str,
    caller: str = "+79120000000",
    send_hangup_line: bool = True,
) -> PeerCall:
    """One complete call against a FastAGI server; returns what the server did."""
    reader, writer = await asyncio.open_connection(host, port)
    remaining = parse_script(keys)
    call = PeerCall(call_id)
    writer.write(environment(call_id, caller).encode())
    await writer.drain()
    replied_at = time.perf_counter()
    try:
        while True:
            line = await reader.readline()
            if not line:
                call.hung_up_by = call.hung_up_by or "server"
                break
            call.think_times.append(time.perf_counter() - replied_at)
            command = line.decode().strip()
            call.commands.append(command)
            reply = _reply(command, remaining, call)
            if reply is None:
                call.hung_up_by = "caller"
                writer.write(b"HANGUP\n" if send_hangup_line else b"200 result=-1\n")
                await writer.drain()
                break
            writer.write(reply.encode() + b"\n")
            await writer.drain()
            replied_at = time.perf_counter()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return call
