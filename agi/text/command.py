"""Reading a text message (SMS, Viber, WhatsApp) as a command of the «ПС» protocol.

The seed's protocol: `ПС <contract> <reading>` for a single-tariff meter, `ПС <contract>`
for a multi-tariff one, then all zone readings in one message: `45055 23186`.

Real messages vary, and every variation accepted here is one that cannot change what the
customer meant:

- upper or lower case, and Latin letters that look like the Cyrillic ones (`PS`, `ПC`, `pc`);
- spaces, tabs, commas, semicolons, colons, `#` or `№` between the fields, a trailing full
  stop, invisible formatting characters (zero-width spaces, direction marks) and emoji;
- `ПС` written together with the contract (`ПС102057522 11638`);
- the words the replies themselves use: «договор», «номер», «показания»; words of
  politeness before or after («Здравствуйте», «спасибо»);
- the zone before or after each reading, in Russian or as on the meter's display
  (`день 45300 ночь 23300`, `Т1 45300 Т2 23300`), in any order;
- the resource, when one number has contracts for several («ПС 123859 горячая вода 20»).

Anything else is not guessed at: a comma or point between digits is a decimal part, a letter
among the digits is not a number (an О where a 0 belongs is pointed out), a slash is not a
separator, and each is refused naming what could not be read and what to send instead.
Only ASCII digits count as digits (`²` or `١` are not readings).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, replace

from agi.readings.rules import Resource

MAX_TEXT = 1000
"""Longer messages are not commands: no meter needs that much text."""

KEYWORD = re.compile(r"[пpр][сcs]")
"""«ПС» in lower case: the first letter Cyrillic П, Latin P or Cyrillic Р, the second
Cyrillic С, Latin C or Latin S."""

SEPARATORS = re.compile(r"(?:[\s,;:#№=]|(?<=[^\W\d_])-|-(?=[^\W\d_]))+")
DIGITS = re.compile(r"[0-9]+")
DECIMAL = re.compile(r"[0-9]+(?:[.,][0-9]+)+")
SLASHED = re.compile(r"[0-9]+(?:/[0-9]+)+")
LOOKALIKE = re.compile(r"(?=.*[0-9])[0-9оoз]+")
"""Digits with a letter О (Cyrillic or Latin) or З among them: a 0 or a 3 mistyped."""
TRAILING_STOP = re.compile(r"[\s,;:#№.!?]+$")
WORD_STOP = ".!?…)(«»\"'"

YES = frozenset({"да", "da", "yes", "верно", "подтверждаю", "ага", "ок", "ok", "угу"})
NO = frozenset({"нет", "net", "no", "неверно", "ошибка"})
AFFIRMING = frozenset({"всё", "все", "правильно", "точно", "конечно", "верно"})
POLITE = frozenset(
    {
        "здравствуйте",
        "здравствуй",
        "привет",
        "добрый",
        "доброе",
        "доброго",
        "спасибо",
        "благодарю",
        "пожалуйста",
        "пжл",
        "пож",
    }
)
GREETED = frozenset({"день", "вечер", "утро", "дня", "вечера", "утра"})
"""What «добрый» greets: «Добрый день» is no zone."""
FILLER = frozenset(
    {
        "договор",
        "договора",
        "дог",
        "номер",
        "лс",
        "л/с",
        "лицевой",
        "счёт",
        "счет",
        "показания",
        "показание",
        "показаний",
        "пок",
        "счётчик",
        "счетчик",
        "счётчика",
        "счетчика",
        "вода",
        "воды",
        "воде",
    }
)
CONTRACT_WORDS = frozenset({"договор", "договора", "дог", "номер", "лс", "л/с", "лицевой"})
RESOURCE_WORDS = {
    **dict.fromkeys(
        ["электроэнергия", "электроэнергии", "электричество", "свет", "ээ", "э/э", "эл"],
        Resource.ELECTRICITY,
    ),
    **dict.fromkeys(["горячая", "горячей", "гвс", "гв"], Resource.HOT_WATER),
    **dict.fromkeys(["холодная", "холодной", "хвс", "хв"], Resource.COLD_WATER),
}


class ZoneLabel(enum.StrEnum):
    """A zone as a customer names it; Т1 is day on a two-zone meter and peak on a
    three-zone one (as the meters' displays number them), Т2 is night, Т3 semi-peak."""

    DAY = "day"
    NIGHT = "night"
    PEAK = "peak"
    SEMIPEAK = "semipeak"
    T1 = "t1"
    T2 = "t2"
    T3 = "t3"


ZONE_WORDS = {
    **dict.fromkeys(["день", "дневная", "дневной", "дн"], ZoneLabel.DAY),
    **dict.fromkeys(["ночь", "ночная", "ночной", "ночью", "нч"], ZoneLabel.NIGHT),
    **dict.fromkeys(["пик", "пиковая", "пиковой"], ZoneLabel.PEAK),
    **dict.fromkeys(["полупик", "полупиковая", "полупиковой", "п/пик"], ZoneLabel.SEMIPEAK),
    **dict.fromkeys(["т1", "t1"], ZoneLabel.T1),
    **dict.fromkeys(["т2", "t2"], ZoneLabel.T2),
    **dict.fromkeys(["т3", "t3"], ZoneLabel.T3),
}


class Unreadable(enum.StrEnum):
    """Why a message that looks like a command cannot be read."""

    DECIMAL = "decimal"
    NOT_DIGITS = "not_digits"
    LOOKALIKE = "lookalike"
    SLASH = "slash"
    ZONES = "zones"
    NO_CONTRACT = "no_contract"


@dataclass(frozen=True)
class Start:
    """`ПС <contract> [readings...]`: a new submission, which starts the conversation over.
    `zones`, when given, names the zone of each reading; `resource` is the one named."""

    contract: str
    values: tuple[str, ...] = ()
    zones: tuple[ZoneLabel, ...] = ()
    resource: Resource | None = None


@dataclass(frozen=True)
class Values:
    """Bare readings: the answer to a request for the zones of a contract."""

    values: tuple[str, ...]
    zones: tuple[ZoneLabel, ...] = ()
    resource: Resource | None = None


@dataclass(frozen=True)
class Confirm:
    """«Да»: the customer confirms what was asked."""


@dataclass(frozen=True)
class Decline:
    """«Нет»: what was asked is not to be stored."""


@dataclass(frozen=True)
class Malformed:
    """A command (after `ПС`, or bare numbers when `command` is false) that cannot be read.
    `fragment` is what could not be read, as written; `meant` what it may have meant
    (`11750` for `1175О`, `45100 23200` for `45100/23200`), for the customer to send."""

    why: Unreadable
    command: bool
    fragment: str = ""
    meant: str = ""
    contract: str = ""
    suggestion: str = ""
    """The whole message as it may be sent instead (`ПС 102057522 11750`); empty when the
    fragment cannot be mended (a letter among digits: the customer must look again)."""


@dataclass(frozen=True)
class WithoutKeyword:
    """A command without «ПС» («показания 102057522 11639»): told to start with ПС."""

    fields: tuple[str, ...]


@dataclass(frozen=True)
class Unknown:
    """Not a command at all: the customer gets the help text."""


Command = Start | Values | Confirm | Decline | Malformed | WithoutKeyword | Unknown


class _Refused(Exception):
    def __init__(self, why: Unreadable, fragment: str = "", meant: str = "") -> None:
        self.why, self.fragment, self.meant = why, fragment, meant


@dataclass
class _Reading:
    numbers: list[str]
    zones: list[tuple[int, ZoneLabel, str]]
    """(position among the items, label, as written)."""
    items: list[str]
    """`n` for a number, `z` for a zone, in order."""
    resource: Resource | None = None
    contract_words: bool = False


def parse(text: str) -> Command:
    """What a message asks for. Never raises, whatever the text."""
    command = _parse(text)
    if isinstance(command, Malformed) and command.fragment:
        return replace(command, suggestion=_suggestion(text, command))
    return command


def _suggestion(text: str, malformed: Malformed) -> str:
    """The message with what could not be read mended, or dropped when it is a word."""
    plain = TRAILING_STOP.sub("", _visible(text).lower())
    if malformed.why is Unreadable.DECIMAL:
        if malformed.command and not malformed.contract:
            return ""  # a comma after the contract: which part is the reading?
        plain = plain.replace(malformed.fragment, malformed.meant, 1)
    elif KEYWORD.fullmatch(malformed.fragment):
        return ""
    fields = [field for field in SEPARATORS.split(plain) if field]
    start = _skip_polite(fields)
    fields = ["ПС", *_after_keyword(fields, start)] if malformed.command else fields[start:]
    mended: list[str] = []
    previous = ""
    for field in fields:
        written = field.rstrip(".!?")
        word = _word(field)
        greeting = word in GREETED and previous in POLITE
        previous = word
        if word in POLITE or greeting or word in FILLER:
            continue
        if malformed.fragment in (written, _as_written(written), word):
            if malformed.why is Unreadable.ZONES:
                mended += [word, "…"]
            elif malformed.meant:
                mended.append(malformed.meant)
            elif DIGITS.search(field):
                return ""
            continue
        mended.append(written.upper() if word in ("т1", "т2", "т3") else written)
    return " ".join(mended)


def _parse(text: str) -> Command:
    if len(text) > MAX_TEXT:
        return Unknown()
    plain = TRAILING_STOP.sub("", _visible(text).lower())
    fields = [field for field in SEPARATORS.split(plain) if field]
    if not fields:
        return Unknown()
    answer = _answer(fields)
    if answer is not None:
        return answer
    start = _skip_polite(fields)
    keyword = start < len(fields) and KEYWORD.match(fields[start])
    command = bool(keyword and (len(fields[start]) == 2 or DIGITS.match(fields[start], 2)))
    decimal = DECIMAL.search(plain)
    if decimal is not None:
        fragment = decimal.group()
        rest = _after_keyword(fields, start) if command else []
        contract = rest[0] if rest and DIGITS.fullmatch(rest[0]) else ""
        if fragment.startswith(contract):
            contract = ""
        return Malformed(
            Unreadable.DECIMAL, command, fragment, re.split(r"[.,]", fragment)[0], contract
        )
    if command:
        return _command(_after_keyword(fields, start))
    try:
        reading = _read(fields)
    except _Refused as refused:
        if not any(DIGITS.search(field) for field in fields):
            return Unknown()
        if any(_word(field) in CONTRACT_WORDS for field in fields):
            return WithoutKeyword(tuple(fields))
        if refused.why is Unreadable.NOT_DIGITS and not DIGITS.match(refused.fragment):
            return Unknown()
        return Malformed(refused.why, False, refused.fragment, refused.meant)
    if not reading.numbers:
        return Unknown()
    if reading.contract_words:
        return WithoutKeyword(tuple(fields))
    if (
        not reading.zones
        and len(reading.numbers) >= 2
        and any(_word(field) in FILLER for field in fields)
        and len(reading.numbers[0]) >= 6
    ):
        return WithoutKeyword(tuple(fields))
    try:
        values, zones = _paired(reading, 0)
    except _Refused as refused:
        return Malformed(refused.why, False, refused.fragment, refused.meant)
    return Values(values, zones, reading.resource)


def _after_keyword(fields: list[str], start: int) -> list[str]:
    """The fields after «ПС» (which may be written together with the contract)."""
    first = fields[start]
    return [first[2:], *fields[start + 1 :]] if len(first) > 2 else fields[start + 1 :]


def _command(rest: list[str]) -> Command:
    try:
        reading = _read(rest)
    except _Refused as refused:
        contract = rest[0] if rest and DIGITS.fullmatch(rest[0]) else ""
        return Malformed(refused.why, True, refused.fragment, refused.meant, contract)
    if not reading.numbers or reading.items[0] != "n":
        return Malformed(Unreadable.NO_CONTRACT, command=True)
    contract = reading.numbers[0]
    try:
        values, zones = _paired(reading, 1)
    except _Refused as refused:
        return Malformed(refused.why, True, refused.fragment, refused.meant, contract)
    return Start(contract=contract, values=values, zones=zones, resource=reading.resource)


def _answer(fields: list[str]) -> Confirm | Decline | None:
    """«да», «Да, верно», «нет, спасибо»: an answer to a question, or None."""
    words = [_word(field) for field in fields]
    if words[:2] == ["не", "верно"]:
        words = ["неверно", *words[2:]]
    if not words or not all(w in YES | NO | AFFIRMING | POLITE for w in words):
        return None
    if words[0] in NO:
        return Decline()
    if words[0] in YES and not any(w in NO for w in words):
        return Confirm()
    return None


def _skip_polite(fields: list[str]) -> int:
    index = 0
    while index < len(fields) and _word(fields[index]) in POLITE:
        index += 1
        if index < len(fields) and _word(fields[index]) in GREETED:
            index += 1
    return index


def _read(fields: list[str]) -> _Reading:
    """Sort a message's fields into numbers, zones and a resource; raise _Refused at the
    first that is none of them, nor a word to pass over."""
    reading = _Reading([], [], [])
    previous = ""
    for index, field in enumerate(fields):
        last = index == len(fields) - 1 or _word(fields[index + 1]) in POLITE
        number = field.rstrip(".!?") if last else field
        word = _word(field)
        if DIGITS.fullmatch(number):
            reading.numbers.append(number)
            reading.items.append("n")
        elif DECIMAL.fullmatch(number):
            whole = DIGITS.match(number)
            raise _Refused(Unreadable.DECIMAL, number, whole.group() if whole else "")
        elif SLASHED.fullmatch(number):
            raise _Refused(Unreadable.SLASH, number, " ".join(number.split("/")))
        elif LOOKALIKE.fullmatch(number):
            meant = number.replace("о", "0").replace("o", "0").replace("з", "3")
            raise _Refused(Unreadable.LOOKALIKE, _as_written(number), meant)
        elif word in GREETED and previous in POLITE:
            pass
        elif word in ZONE_WORDS:
            reading.zones.append((len(reading.items), ZONE_WORDS[word], word))
            reading.items.append("z")
        elif word in RESOURCE_WORDS:
            reading.resource = RESOURCE_WORDS[word]
        elif word in CONTRACT_WORDS:
            reading.contract_words = True
        elif word in FILLER or word in POLITE:
            pass
        else:
            raise _Refused(Unreadable.NOT_DIGITS, field.strip(WORD_STOP) or field)
        previous = word
    return reading


def _paired(reading: _Reading, skip: int) -> tuple[tuple[str, ...], tuple[ZoneLabel, ...]]:
    """The readings after the first `skip` numbers, and the zone of each when the message
    names them: each zone stands right before its reading, or right after it, throughout."""
    items = reading.items[skip:]
    numbers = reading.numbers[skip:]
    if not reading.zones:
        return tuple(numbers), ()
    labels = [(position - skip, label, word) for position, label, word in reading.zones]
    before = items[0] == "z" if items else True
    pattern = ["z", "n"] if before else ["n", "z"]
    if items != pattern * (len(items) // 2) or len(items) % 2:
        alone = next(
            (
                word
                for position, _, word in labels
                if position < 0
                or not (
                    0 <= position + (1 if before else -1) < len(items)
                    and items[position + (1 if before else -1)] == "n"
                )
            ),
            labels[0][2],
        )
        raise _Refused(Unreadable.ZONES, alone)
    return tuple(numbers), tuple(label for _, label, _ in labels)


def _word(field: str) -> str:
    return field.strip(WORD_STOP)


def _as_written(field: str) -> str:
    """A field as the customer typed it, with the look-alike letters in capitals: «1175О»."""
    return field.replace("о", "О").replace("o", "O").replace("з", "З")


def _visible(text: str) -> str:
    """The text without invisible formatting characters (zero-width spaces, direction marks)
    and without emoji and other pictures (👍, ✅), which say nothing about a reading."""
    return "".join(
        ch
        for ch in unicodedata.normalize("NFC", text)
        if unicodedata.category(ch) not in ("Cf", "So", "Sk", "Mn", "Cs")
    )
