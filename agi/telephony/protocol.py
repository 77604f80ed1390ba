"""The Asterisk Gateway Interface as text: command lines as the IVR writes them, and what a
result holds. pyst2, through `agi.telephony.asterisk_channel.SafeAgi`, reads result lines.

Pure functions, tested with literal protocol lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RESULT_LINE = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")

HANGUP_LINE = "HANGUP"
DEAD_CHANNEL = 511


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
