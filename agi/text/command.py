"""Reading a text message (SMS, Viber, WhatsApp) as a command of the «ПС» protocol.

The seed's protocol: `ПС <contract> <reading>` for a single-tariff meter, `ПС <contract>`
for a multi-tariff one, then all zone readings in one message: `45055 23186`.

Real messages vary, and every variation accepted here is one that cannot change what the
customer meant:

- upper or lower case, and Latin letters that look like the Cyrillic ones (`PS`, `ПC`, `pc`);
- spaces, tabs, commas, semicolons, colons, `#` or `№` between the fields, a trailing full
  stop, invisible formatting characters (zero-width spaces, direction marks);
- `ПС` written together with the contract (`ПС102057522 11638`).

Anything else is not guessed at: a comma or point between digits is a decimal part, a letter
among the digits is not a number, and those messages are refused with what to send instead.
Only ASCII digits count as digits (`²` or `١` are not readings).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

MAX_TEXT = 1000
"""Longer messages are not commands: no meter needs that much text."""

KEYWORD = re.compile(r"[пpр][сcs]")
"""«ПС» in lower case: the first letter Cyrillic П, Latin P or Cyrillic Р, the second
Cyrillic С, Latin C or Latin S."""

SEPARATORS = re.compile(r"[\s,;:#№]+")
DIGITS = re.compile(r"[0-9]+")
DECIMAL = re.compile(r"[0-9][.,][0-9]")
TRAILING_STOP = re.compile(r"[\s,;:#№.!]+$")
YES = frozenset({"да", "da", "yes"})
NO = frozenset({"нет", "net", "no"})


class Unreadable(enum.StrEnum):
    """Why a message that looks like a command cannot be read."""

    DECIMAL = "decimal"
    NOT_DIGITS = "not_digits"
    NO_CONTRACT = "no_contract"


@dataclass(frozen=True)
class Start:
    """`ПС <contract> [readings...]`: a new submission, which starts the conversation over."""

    contract: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Values:
    """Bare readings: the answer to a request for the zones of a contract."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Confirm:
    """«Да»: the customer confirms readings that were questioned."""


@dataclass(frozen=True)
class Decline:
    """«Нет»: the questioned readings are not to be stored."""


@dataclass(frozen=True)
class Malformed:
    """A command (after `ПС`, or bare numbers when `command` is false) that cannot be read."""

    why: Unreadable
    command: bool


@dataclass(frozen=True)
class Unknown:
    """Not a command at all: the customer gets the help text."""


Command = Start | Values | Confirm | Decline | Malformed | Unknown


def parse(text: str) -> Command:
    """What a message asks for. Never raises, whatever the text."""
    if len(text) > MAX_TEXT:
        return Unknown()
    plain = TRAILING_STOP.sub("", _visible(text).lower())
    fields = [field for field in SEPARATORS.split(plain) if field]
    if not fields:
        return Unknown()
    if len(fields) == 1 and fields[0] in YES:
        return Confirm()
    if len(fields) == 1 and fields[0] in NO:
        return Decline()
    decimal = DECIMAL.search(plain) is not None
    keyword = KEYWORD.match(fields[0])
    if keyword and (len(fields[0]) == 2 or DIGITS.match(fields[0], 2)):
        rest = [fields[0][2:], *fields[1:]] if len(fields[0]) > 2 else fields[1:]
        if not rest:
            return Malformed(Unreadable.NO_CONTRACT, command=True)
        why = _unreadable(rest, decimal)
        if why is not None:
            return Malformed(why, command=True)
        return Start(contract=rest[0], values=tuple(rest[1:]))
    if not all(DIGITS.match(field) for field in fields):
        return Unknown()
    why = _unreadable(fields, decimal)
    if why is not None:
        return Malformed(why, command=False)
    return Values(tuple(fields))


def _unreadable(fields: list[str], decimal: bool) -> Unreadable | None:
    """A comma or point between two digits is a decimal part (and so, ambiguous: refused)."""
    if decimal:
        return Unreadable.DECIMAL
    if all(DIGITS.fullmatch(field) for field in fields):
        return None
    return Unreadable.NOT_DIGITS


def _visible(text: str) -> str:
    """The text without invisible formatting characters (zero-width spaces, direction marks)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
