"""The «ПС» protocol as the parser reads it: what real people send, and what it makes of it.

The properties at the end throw arbitrary text at the parser: it never raises, and it reads
readings only out of a message that says exactly one thing by the protocol's grammar,
written here once more, independently of the parser, as `understood`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agi.readings.rules import Resource
from agi.text.command import (
    MAX_TEXT,
    Command,
    Confirm,
    Decline,
    Malformed,
    Start,
    Unknown,
    Unreadable,
    Values,
    WithoutKeyword,
    ZoneLabel,
    parse,
)

DECIMAL, NOT_DIGITS = Unreadable.DECIMAL, Unreadable.NOT_DIGITS
LOOKALIKE, SLASH, ZONES = Unreadable.LOOKALIKE, Unreadable.SLASH, Unreadable.ZONES
DAY, NIGHT, PEAK, SEMIPEAK = ZoneLabel.DAY, ZoneLabel.NIGHT, ZoneLabel.PEAK, ZoneLabel.SEMIPEAK
T1, T2 = ZoneLabel.T1, ZoneLabel.T2

SEED_SINGLE = Start("102057522", ("11638",))

READINGS = {
    # the seed's examples, verbatim
    "ПС 102057522 11638": SEED_SINGLE,
    "ПС 123859": Start("123859"),
    "45055 23186": Values(("45055", "23186")),
    "ПС 123859 20": Start("123859", ("20",)),
    "ПС 176354 40": Start("176354", ("40",)),
    # case, and Latin letters that look like the Cyrillic ones
    "пс 102057522 11638": SEED_SINGLE,
    "Пс 102057522 11638": SEED_SINGLE,
    "PS 102057522 11638": SEED_SINGLE,
    "ps 102057522 11638": SEED_SINGLE,
    "ПC 102057522 11638": SEED_SINGLE,
    "PC 102057522 11638": SEED_SINGLE,
    "РС 102057522 11638": SEED_SINGLE,
    # separators, spacing, a trailing full stop
    "  ПС   102057522 \t 11638  ": SEED_SINGLE,
    "ПС\t102057522\t11638": SEED_SINGLE,
    "ПС\n102057522\n11638": SEED_SINGLE,
    "ПС\u00a0102057522\u00a011638": SEED_SINGLE,
    "ПС, 102057522, 11638.": SEED_SINGLE,
    "ПС 102057522 11638.": SEED_SINGLE,
    "ПС 102057522 11638!": SEED_SINGLE,
    "ПС#102057522#11638": SEED_SINGLE,
    "ПС #102057522# 11638#": SEED_SINGLE,
    "ПС: 102057522; 11638": SEED_SINGLE,
    "ПС №102057522 11638": SEED_SINGLE,
    "ПС102057522 11638": SEED_SINGLE,
    "\u200eПС 102057522 11\u200b638\ufeff": SEED_SINGLE,
    # readings are digit strings here; leading zeros are the domain's business
    "ПС 102057522 011638": Start("102057522", ("011638",)),
    "45055, 23186.": Values(("45055", "23186")),
    "45055#23186": Values(("45055", "23186")),
    "45055\n23186": Values(("45055", "23186")),
    "ПС 777333 1250 3480 5690": Start("777333", ("1250", "3480", "5690")),
    # the words of the replies, politeness, emoji
    "ПС договор 102057522 показания 11638": SEED_SINGLE,
    "ПС номер договора 102057522 показания счётчика 11638": SEED_SINGLE,
    "ПС 102057522 11638 спасибо": SEED_SINGLE,
    "Здравствуйте! ПС 102057522 11638. Спасибо!": SEED_SINGLE,
    "Добрый день, ПС 102057522 11638": SEED_SINGLE,
    "ПС 102057522 11638 👍": SEED_SINGLE,
    "ПС 102057522 11638 ✅": SEED_SINGLE,
    # zones named, in either order, before or after their readings
    "ПС 123859 день 45300 ночь 23300": Start("123859", ("45300", "23300"), (DAY, NIGHT)),
    "ПС 123859 ночь 23300 день 45300": Start("123859", ("23300", "45300"), (NIGHT, DAY)),
    "ПС 123859 Т1 45300 Т2 23300": Start("123859", ("45300", "23300"), (T1, T2)),
    "ПС 123859 T1=45300 T2=23300": Start("123859", ("45300", "23300"), (T1, T2)),
    "ПС 123859 Т1 11650": Start("123859", ("11650",), (T1,)),
    "ПС 123859 45300 день 23300 ночь": Start("123859", ("45300", "23300"), (DAY, NIGHT)),
    "день 45300 ночь 23300": Values(("45300", "23300"), (DAY, NIGHT)),
    "ночь: 23300, день: 45300": Values(("23300", "45300"), (NIGHT, DAY)),
    "пик 1250 полупик 3480 ночь 5690": Values(("1250", "3480", "5690"), (PEAK, SEMIPEAK, NIGHT)),
    # the resource named
    "ПС 123859 горячая вода 20": Start("123859", ("20",), resource=Resource.HOT_WATER),
    "ПС 123859 ГВС 20": Start("123859", ("20",), resource=Resource.HOT_WATER),
    "ПС 176354 хв 40": Start("176354", ("40",), resource=Resource.COLD_WATER),
    "ПС 123859 электроэнергия 45055 23186": Start(
        "123859", ("45055", "23186"), resource=Resource.ELECTRICITY
    ),
}

NOT_READINGS: dict[str, Command] = {
    # a decimal part: comma or point between digits is never a separator
    "ПС 102057522 11638,5": Malformed(DECIMAL, True, "11638,5", "11638", "102057522"),
    "ПС 102057522 11638.57": Malformed(DECIMAL, True, "11638.57", "11638", "102057522"),
    "ПС 102057522,11638": Malformed(DECIMAL, True, "102057522,11638", "102057522"),
    "45055,5 23186": Malformed(DECIMAL, False, "45055,5", "45055"),
    "45055,23186": Malformed(DECIMAL, False, "45055,23186", "45055"),
    # not a number, said as written
    "ПС 102057522 11б38": Malformed(NOT_DIGITS, True, "11б38", contract="102057522"),
    "ПС 102057522 11638 кВт": Malformed(NOT_DIGITS, True, "квт", contract="102057522"),
    "ПС 102057522 -11638": Malformed(NOT_DIGITS, True, "-11638", contract="102057522"),
    "ПС 102057522 11638²": Malformed(NOT_DIGITS, True, "11638²", contract="102057522"),
    "ПС 102057522 ١١٦٣٨": Malformed(NOT_DIGITS, True, "١١٦٣٨", contract="102057522"),
    "ПС 102057522 １１６３８": Malformed(NOT_DIGITS, True, "１１６３８", contract="102057522"),
    "ПС 102057522 11638 ПС 123859 20": Malformed(NOT_DIGITS, True, "пс", contract="102057522"),
    "11б38": Malformed(NOT_DIGITS, False, "11б38"),
    # a letter where a digit belongs, a slash, a zone without its reading
    "ПС 102057522 1175О": Malformed(LOOKALIKE, True, "1175О", "11750", "102057522"),
    "ПС 102057522 1175o": Malformed(LOOKALIKE, True, "1175O", "11750", "102057522"),
    "1175О": Malformed(LOOKALIKE, False, "1175О", "11750"),
    "ПС 123859 45100/23200": Malformed(SLASH, True, "45100/23200", "45100 23200", "123859"),
    "45100/23200": Malformed(SLASH, False, "45100/23200", "45100 23200"),
    "ПС 123859 день 45300 ночь": Malformed(ZONES, True, "ночь", contract="123859"),
    "день 45300 23300": Malformed(ZONES, False, "день"),
    # a command without ПС
    "показания 102057522 11639": WithoutKeyword(("показания", "102057522", "11639")),
    "договор 102057522 показания 11639": WithoutKeyword(
        ("договор", "102057522", "показания", "11639")
    ),
    # the keyword without a contract
    "ПС": Malformed(Unreadable.NO_CONTRACT, command=True),
    "пс.": Malformed(Unreadable.NO_CONTRACT, command=True),
    # answers to a question
    "да": Confirm(),
    "да, верно": Confirm(),
    "Да, всё верно, спасибо!": Confirm(),
    "верно": Confirm(),
    "не верно": Decline(),
    "нет, спасибо": Decline(),
    "Да.": Confirm(),
    "ДА": Confirm(),
    "yes": Confirm(),
    "нет": Decline(),
    "Нет!": Decline(),
    # not a command at all
    "": Unknown(),
    "   ": Unknown(),
    "...": Unknown(),
    "Привет": Unknown(),
    "Сколько я должен?": Unknown(),
    "ПСИ 102057522 11638": Unknown(),
    "П С 102057522 11638": Unknown(),
    "ПС. 102057522 11638": Unknown(),
    "ПСС102057522 11638": Unknown(),
    "позвоните мне 89120000000": Unknown(),
    "да 11638": Unknown(),
    "ПС 102057522 11638" + " " * MAX_TEXT: Unknown(),
}


@pytest.mark.parametrize(("text", "command"), READINGS.items(), ids=repr)
def test_a_message_with_readings_is_read(text: str, command: Command) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(("text", "command"), NOT_READINGS.items(), ids=lambda v: repr(v)[:40])
def test_a_message_without_readable_readings_is_not_guessed_at(text: str, command: Command) -> None:
    parsed = parse(text)
    if isinstance(parsed, Malformed):
        parsed = replace(parsed, suggestion="")
    assert parsed == command


SUGGESTIONS = {
    "ПС 102057522 1175О": "ПС 102057522 11750",
    "ПС 123859 т1 45300 т2 2330О": "ПС 123859 Т1 45300 Т2 23300",
    "ПС 102057522 11638,5": "ПС 102057522 11638",
    "45055,5 23186": "45055 23186",
    "ПС 123859 45100/23200": "ПС 123859 45100 23200",
    "Здравствуйте! ПС 102057522 11638 кВт": "ПС 102057522 11638",
    "ПС 123859 день 45300 ночь": "ПС 123859 день 45300 ночь …",
    # nothing to mend: the customer has to look at the meter again
    "ПС 102057522 11б38": "",
    "ПС 102057522,11638": "",
    "ПС 102057522 11638 ПС 123859 20": "",
}


@pytest.mark.parametrize(("text", "suggestion"), SUGGESTIONS.items(), ids=repr)
def test_a_message_that_cannot_be_read_comes_with_the_message_to_send(
    text: str, suggestion: str
) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Malformed)
    assert parsed.suggestion == suggestion


# --- properties ------------------------------------------------------------------------------

SEPARATOR = r"(?:[\s,;:#№=]|(?<=[^\W\d_])-|-(?=[^\W\d_]))"
GRAMMAR = re.compile(
    rf"{SEPARATOR}*(?P<keyword>[пПpPрР][сСcCsS]{SEPARATOR}*)?"
    rf"(?P<fields>[0-9]+(?:{SEPARATOR}+[0-9]+)*)(?:{SEPARATOR}|[.!?])*"
)
IGNORED = ("Cf", "So", "Sk", "Mn", "Cs")


def understood(text: str) -> tuple[bool, tuple[str, ...]] | None:
    """Whether a message starts with «ПС», and its digit fields; None when it does not say
    exactly one thing by the grammar.

    The grammar: an optional «ПС» (either letter Cyrillic or its Latin look-alike), then
    ASCII digit fields between separators, then perhaps separators and full stops;
    invisible formatting characters and emoji do not count, and a comma or point between
    two digits is a decimal part. (Words around the numbers are the tables' business above.)
    """
    if len(text) > MAX_TEXT:
        return None
    visible = "".join(
        ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch) not in IGNORED
    )
    match = GRAMMAR.fullmatch(visible)
    if match is None or re.search(r"[0-9][.,][0-9]", visible):
        return None
    return bool(match["keyword"]), tuple(re.findall(r"[0-9]+", match["fields"]))


def read(command: Command) -> tuple[bool, tuple[str, ...]] | None:
    if isinstance(command, Start):
        return True, (command.contract, *command.values)
    if isinstance(command, Values):
        return False, command.values
    return None


LIKELY = "ПСпсPSpsCcРр0123456789 ,.;:#№\t\n-+б²١\u200b\u00a0"
SEEDS = ["ПС 102057522 11638", "ПС 123859", "45055 23186", "ПС 123859 20", "ПС 176354 40", "да"]


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A seed message with a few characters inserted, deleted or replaced."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(LIKELY) | st.characters())
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        if edit == "insert":
            text = text[:position] + char + text[position:]
        elif edit == "delete":
            text = text[:position] + text[position + 1 :]
        else:
            text = text[:position] + char + text[position + 1 :]
    return text


MESSAGES = st.one_of(st.text(), st.text(alphabet=LIKELY, max_size=40), near_misses())


@settings(max_examples=1500, deadline=None)
@given(MESSAGES)
@example("ПС 102057522 11638")
@example("ſs 102057522 11638")
@example("ПС 1" + "0" * 5000)
@example("0=")
def test_readings_are_read_exactly_when_the_grammar_understands_the_message(text: str) -> None:
    """Never raises; never reads a reading out of a message it did not fully understand, and
    reads every message that the grammar understands, field for field."""
    assert read(parse(text)) == understood(text)
