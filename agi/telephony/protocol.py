"""The Asterisk Gateway Interface as text: building command lines and reading result lines.

Pure functions, tested with literal protocol lines; `agi.telephony.asterisk_channel` does the I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RESULT_LINE = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")
RESULT_VALUE = re.compile(r"result=(?P<value>-?\d*)(?:\s+\((?P<data>[^)]*)\))?")
KEY_VALUE = re.compile(r"(?P<key>[a-z_]+)=(?P<value>\S*)")

HANGUP_LINE = "HANGUP"
DEAD_CHANNEL = 511


class AgiHangup(Exception):
    """The channel is gone: a HANGUP line, result=-1, 511, or a closed connection."""


class AgiCommandError(Exception):
    """Asterisk refused a command (510 unknown command, 520 usage)."""


@dataclass(frozen=True)
class AgiResult:
    code: int
    result: int | None = None
    """The number after `result=`; None when it is empty (`result= (timeout)`)."""
    data: str | None = None
    """The text in parentheses, such as `timeout` or a variable's value."""
    fields: dict[str, str] = field(default_factory=dict)
    """Other key=value pairs, such as `endpos`."""
    line: str = ""


def parse_agi_result(line: str) -> AgiResult:
    """Read one result line of an AGI command (the first line of a 520 usage block too)."""
    line = line.rstrip("\r\n")
    if line == HANGUP_LINE:
        raise AgiHangup("Asterisk reports a hang-up")
    match = RESULT_LINE.match(line)
    if not match:
        raise AgiCommandError(f"not an AGI result line: {line!r}")
    code = int(match["code"])
    rest = match["rest"]
    if code != 200:
        return AgiResult(code=code, data=rest.strip(), line=line)
    value = RESULT_VALUE.search(rest)
    if value is None:
        return AgiResult(code=code, line=line)
    number = int(value["value"]) if value["value"] not in ("", "-") else None
    tail = rest[value.end() :]
    fields = {m["key"]: m["value"] for m in KEY_VALUE.finditer(tail)}
    return AgiResult(code=code, result=number, data=value["data"], fields=fields, line=line)


def quote_argument(value: str | int) -> str:
    """One argument, safe to send: quoted, `\\` and `"` escaped, control characters blanked.

    A CR or LF would end the command line early and let the rest be read as a new command.
    """
    text = str(value)
    if not text.isprintable():
        text = "".join(" " if not ch.isprintable() else ch for ch in text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_line(command: str, *arguments: str | int) -> str:
    """A full command line: the command's words as given, every argument quoted."""
    if not re.fullmatch(r"[A-Z]+( [A-Z]+)*", command):
        raise ValueError(f"not an AGI command name: {command!r}")
    return " ".join([command, *(quote_argument(argument) for argument in arguments)]) + "\n"


def digit_of(result: AgiResult) -> str | None:
    """The key a STREAM FILE, SAY or WAIT FOR DIGIT returned (its ASCII code), or None."""
    if not result.result:
        return None
    return chr(result.result)
