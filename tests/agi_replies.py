"""Asterisk's side of AGI as text: the environment it sends, and its answer to each command
when a scripted caller presses keys. Pure and free of the project's imports, so that a
benchmark measuring a child process's memory can use it without growing itself.

A script item is a key (`0-9 * #`), `.` for a timeout, or words the caller says (anything
with a `words` attribute, such as the simulator's `Said`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

AGI_ENVIRONMENT = {
    "agi_language": "ru",
    "agi_type": "PJSIP",
    "agi_version": "16.28.0",
    "agi_calleridname": "Caller",
    "agi_context": "ivr-call",
    "agi_extension": "s",
    "agi_priority": "4",
    "agi_threadid": "1",
}


def environment(
    call_id: str | None,
    caller: str,
    request: str = "agi://127.0.0.1/readings",
    *,
    network: bool = True,
) -> str:
    """The AGI environment Asterisk sends first, ended by an empty line; `network` for a
    FastAGI connection, otherwise as an AGI script gets it. `call_id` is the uniqueid (None:
    an environment without one)."""
    lines = {
        **({"agi_network": "yes", "agi_network_script": "readings"} if network else {}),
        "agi_request": request,
        "agi_channel": f"PJSIP/caller-{call_id}",
        **({"agi_uniqueid": call_id} if call_id is not None else {}),
        "agi_callerid": caller,
        **AGI_ENVIRONMENT,
    }
    return "".join(f"{key}: {value}\n" for key, value in lines.items()) + "\n"


def _read(arguments: str, script: list[Any], variables: dict[str, str]) -> str | None:
    """Asterisk's Read(): keys from the script until the count, a terminator or a timeout
    (`.`); None when the caller hangs up first. The keys go into the named variable and
    READSTATUS, as Asterisk sets them."""
    name, _files, count, options = arguments.split(",")
    terminators = options[2:-1] if options.startswith("t(") else "#"
    typed, status = "", "OK"
    while True:
        if not script:
            return None
        key = script.pop(0)
        if not isinstance(key, str) or key == ".":
            status = "TIMEOUT"
            break
        if key in terminators:
            break
        typed += key
        if len(typed) >= int(count):
            break
    variables[name], variables["READSTATUS"] = typed, status
    return "200 result=0"


def _get_data(count: int, script: list[Any]) -> str | None:
    """Asterisk's GET DATA: keys from the script until the count, `#` (not among the keys)
    or a timeout (`.`, marked `(timeout)`); None when the caller hangs up first."""
    typed = ""
    while True:
        if not script:
            return None
        key = script.pop(0)
        if not isinstance(key, str) or key == ".":
            return f"200 result={typed} (timeout)"
        if key == "#":
            return f"200 result={typed}"
        typed += key
        if len(typed) >= count:
            return f"200 result={typed}"


def reply(command: str, script: list[Any], variables: dict[str, str]) -> str | None:
    """Asterisk's answer to one command; None when the caller hangs up instead (the script
    ran out while the IVR waits). Prompts end without interruption; WAIT FOR DIGIT takes the
    script's next item, GET DATA and Read() the keys up to their count; RECORD FILE writes
    the words said into the file Asterisk would record (as text, for a test recogniser to
    read); SET VARIABLE is kept in `variables`."""
    if command.startswith(("STREAM FILE", "SAY ")):
        return "200 result=0 endpos=8000"
    if command.startswith("WAIT FOR DIGIT"):
        if not script:
            return None
        key = script.pop(0)
        return (
            "200 result=0" if not isinstance(key, str) or key == "." else f"200 result={ord(key)}"
        )
    if command.startswith('EXEC "Read"'):
        return _read(shlex.split(command)[2], script, variables)
    if command.startswith("GET DATA"):
        return _get_data(int(shlex.split(command)[4]), script)
    if command.startswith("GET FULL VARIABLE"):
        expression = shlex.split(command)[3]
        value = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: variables.get(m[1], ""), expression)
        return f"200 result=1 ({value})"
    if command.startswith("RECORD FILE"):
        if not script:
            return None
        item = script.pop(0)
        if isinstance(item, str) and item != ".":
            return f"200 result={ord(item)} (dtmf) endpos=800"
        path = Path(shlex.split(command)[2] + ".wav")
        path.write_text(getattr(item, "words", ""), encoding="utf-8")
        return "200 result=0 (timeout) endpos=16000"
    if command.startswith(("NOOP", "ANSWER")):
        return "200 result=0"
    if command.startswith("SET VARIABLE"):
        _, _, rest = command.partition("SET VARIABLE ")
        name, _, value = rest.partition(" ")
        variables[name.strip('"')] = value.strip('"')
        return "200 result=1"
    if command.startswith("CHANNEL STATUS"):
        return "200 result=6"
    if command.startswith("HANGUP"):
        return "200 result=1"
    return "510 Invalid or unknown command"
