"""Russian number words as the digits a caller means: «сто два ноль пять» is `10205`.

A caller may say a number digit by digit («один ноль два»), as a whole number («сорок пять
тысяч пятьдесят пять», «тысяча», «две тысячи триста»), or in groups («сто два ноль пять»,
as people say phone numbers). Each group is read greedily as one Russian cardinal and the
groups' digits are written one after another. What cannot be read without guessing is
refused with a reason, never repaired.

The PyPI package number-parser was checked against the same table of phrases
(tests/test_number_parser.py) and not used: it reads whole cardinals well, but it cannot
read digit groups or mixtures as digits, does not know «нуль» or «полторы», and silently
accepts some ill-formed phrases with a wrong value («тысяча миллион» as 1000000000, «три
тысячи три тысячи» as 3003 and 1000) where this parser must refuse with a reason.
"""

from __future__ import annotations

import re

UNITS = {
    "ноль": 0,
    "нуль": 0,
    "один": 1,
    "одна": 1,
    "одно": 1,
    "одну": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
}
TEENS = {
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
}
HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
}
SCALES = {
    "тысяча": 10**3,
    "тысячи": 10**3,
    "тысяч": 10**3,
    "тысячу": 10**3,
    "миллион": 10**6,
    "миллиона": 10**6,
    "миллионов": 10**6,
    "миллиард": 10**9,
    "миллиарда": 10**9,
    "миллиардов": 10**9,
}
HALF_MORE = {"полторы", "полтора"}
"""«полторы тысячи» is 1500: one and a half of the scale word that follows."""

NUMBER_WORDS = frozenset(UNITS) | set(TEENS) | set(TENS) | set(HUNDREDS) | set(SCALES) | HALF_MORE
"""Every word this parser reads as (part of) a number: the word list a recogniser is given."""

UNCLEAR = "[unk]"
"""What a recogniser with a word list writes for a word outside the list."""

DECIMAL_WORDS = frozenset(
    {
        "запятая",
        "запятой",
        "точка",
        "целых",
        "целая",
        "целой",
        "десятых",
        "десятая",
        "сотых",
        "сотая",
        "тысячных",
    }
)
NEGATIVE_WORDS = frozenset({"минус"})

_EDGE_PUNCTUATION = ".,!?;:«»\"'()[]…—–-"
_DIGITS = re.compile(r"^\d+$")
_DECIMAL_DIGITS = re.compile(r"^\d+[.,]\d+$")


class NumberRefused(ValueError):
    """The words are not a number that can be read without guessing.

    `rule` is a short code (for logs, where the words themselves must not go), `reason`
    says in plain words what was wrong (for support staff).
    """

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def words_of(text: str) -> list[str]:
    """The words of a phrase: lower case, ё as е, punctuation at the edges of words removed."""
    words = []
    for raw in text.lower().replace("ё", "е").split():
        word = raw if raw == UNCLEAR else raw.strip(_EDGE_PUNCTUATION)
        if word:
            words.append(word)
    return words


def parse_digits(text: str) -> str:
    """The digits a phrase means; NumberRefused with the reason when it means none for sure."""
    words = _trim_unclear(words_of(text))
    if not words:
        raise NumberRefused("empty", "no number was said")
    _refuse_what_is_no_whole_number(words)
    groups: list[tuple[str, bool]] = []
    position = 0
    while position < len(words):
        group, scaled, position = _read_group(words, position)
        groups.append((group, scaled))
    if len(groups) > 1 and any(scaled for _, scaled in groups):
        raise NumberRefused(
            "mixed-scale",
            "a number with тысяча, миллион or миллиард must be said whole or digit by digit, "
            f"not mixed with other numbers ({' | '.join(_group_words(words))})",
        )
    return "".join(group for group, _ in groups)


def _trim_unclear(words: list[str]) -> list[str]:
    """A sound before or after the number (э-э, a cough) is not part of it; one between the
    number words could have been a digit, so it stays and refuses the phrase."""
    start, end = 0, len(words)
    while start < end and words[start] == UNCLEAR:
        start += 1
    while end > start and words[end - 1] == UNCLEAR:
        end -= 1
    return words[start:end]


def _refuse_what_is_no_whole_number(words: list[str]) -> None:
    for word in words:
        if word in DECIMAL_WORDS or _DECIMAL_DIGITS.match(word):
            raise NumberRefused(
                "decimal", "the number has a part after the decimal point; say whole units only"
            )
        if word in NEGATIVE_WORDS:
            raise NumberRefused("negative", "a reading or a contract number is never negative")
    for word in words:
        if word == UNCLEAR:
            raise NumberRefused(
                "unclear", "a word between the numbers was not understood; it may have been a digit"
            )
        if word not in NUMBER_WORDS and not _DIGITS.match(word):
            raise NumberRefused("not-a-number-word", f"«{word}» is not a number word")


def _read_group(words: list[str], start: int) -> tuple[str, bool, int]:
    """One group from `start`: its digits, whether it holds a scale word, and where it ends."""
    word = words[start]
    if _DIGITS.match(word):
        return word, False, start + 1
    if UNITS.get(word) == 0:
        return "0", False, start + 1
    total, position, largest_scale = 0, start, 0
    while position < len(words):
        if words[position] in HALF_MORE:
            return str(total + _half_more(words, position, largest_scale)), True, position + 2
        below_thousand, after = _read_below_thousand(words, position)
        scale = SCALES.get(words[after]) if after < len(words) else None
        if scale is not None and (largest_scale == 0 or scale < largest_scale):
            total += (below_thousand if after > position else 1) * scale
            largest_scale = scale
            position = after + 1
            continue
        if after > position:
            total += below_thousand
            position = after
        break  # what follows starts a new group (ноль, or a scale word out of order)
    return str(total), largest_scale > 0, position


def _read_below_thousand(words: list[str], start: int) -> tuple[int, int]:
    """Hundreds, then tens and units (or a teen): the value and where it ends.

    Reads nothing (returns `start`) at a scale word, ноль, or a word of «полторы»."""
    value, position = 0, start

    def peek(table: dict[str, int]) -> int | None:
        return table.get(words[position]) if position < len(words) else None

    if (hundreds := peek(HUNDREDS)) is not None:
        value, position = hundreds, position + 1
    if (teen := peek(TEENS)) is not None:
        return value + teen, position + 1
    if (tens := peek(TENS)) is not None:
        value, position = value + tens, position + 1
    unit = peek(UNITS)
    if unit:  # ноль never ends a cardinal: «сто ноль пять» is the groups 100, 0, 5
        value, position = value + unit, position + 1
    return value, position


def _half_more(words: list[str], at: int, largest_scale: int) -> int:
    """«полторы тысячи» as a number: the scale word must follow, and nothing after it."""
    scale = SCALES.get(words[at + 1]) if at + 1 < len(words) else None
    if scale is None or (largest_scale and scale >= largest_scale):
        raise NumberRefused(
            "half-without-scale", f"«{words[at]}» needs тысячи or миллиона right after it"
        )
    if at + 2 < len(words):
        raise NumberRefused(
            "half-with-more",
            f"«{words[at]} {words[at + 1]}» with more words after it is unclear; "
            "say the number whole (тысяча пятьсот ...)",
        )
    return scale * 3 // 2


def _group_words(words: list[str]) -> list[str]:
    """The phrase cut into its groups, for a reason that shows where the groups are."""
    groups, position = [], 0
    while position < len(words):
        try:
            _, _, end = _read_group(words, position)
        except NumberRefused:
            end = position + 1
        groups.append(" ".join(words[position:end]))
        position = end
    return groups
