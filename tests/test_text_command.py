"""The «ПС» protocol as the parser reads it: what real people send, and what it makes of it.

The properties at the end throw arbitrary text at the parser: it never raises, and it reads
readings only out of a message that says exactly one thing by the protocol's grammar,
written here once more, independently of the parser, as `understood`.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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
    parse,
)

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
}

NOT_READINGS: dict[str, Command] = {
    # a decimal part: comma or point between digits is never a separator
    "ПС 102057522 11638,5": Malformed(Unreadable.DECIMAL, command=True),
    "ПС 102057522 11638.57": Malformed(Unreadable.DECIMAL, command=True),
    "ПС 102057522,11638": Malformed(Unreadable.DECIMAL, command=True),
    "45055,5 23186": Malformed(Unreadable.DECIMAL, command=False),
    "45055,23186": Malformed(Unreadable.DECIMAL, command=False),
    # not a number
    "ПС 102057522 11б38": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 11638 кВт": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 -11638": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 11638²": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 ١١٦٣٨": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 １１６３８": Malformed(Unreadable.NOT_DIGITS, command=True),
    "ПС 102057522 11638 ПС 123859 20": Malformed(Unreadable.NOT_DIGITS, command=True),
    "11б38": Malformed(Unreadable.NOT_DIGITS, command=False),
    # the keyword without a contract
    "ПС": Malformed(Unreadable.NO_CONTRACT, command=True),
    "пс.": Malformed(Unreadable.NO_CONTRACT, command=True),
    # answers to a question
    "да": Confirm(),
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
    assert parse(text) == command


# --- properties ------------------------------------------------------------------------------

SEPARATOR = r"[\s,;:#№]"
GRAMMAR = re.compile(
    rf"{SEPARATOR}*(?P<keyword>[пПpPрР][сСcCsS]{SEPARATOR}*)?"
    rf"(?P<fields>[0-9]+(?:{SEPARATOR}+[0-9]+)*)[\s,;:#№.!]*"
)


def understood(text: str) -> tuple[bool, tuple[str, ...]] | None:
    """Whether a message starts with «ПС», and its digit fields; None when it does not say
    exactly one thing by the grammar.

    The grammar: an optional «ПС» (either letter Cyrillic or its Latin look-alike), then
    ASCII digit fields between separators, then perhaps separators and full stops;
    invisible formatting characters do not count, and a comma or point between two digits
    is a decimal part.
    """
    if len(text) > MAX_TEXT:
        return None
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
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
def test_readings_are_read_exactly_when_the_grammar_understands_the_message(text: str) -> None:
    """Never raises; never reads a reading out of a message it did not fully understand, and
    reads every message that the grammar understands, field for field."""
    assert read(parse(text)) == understood(text)
