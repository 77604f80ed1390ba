"""Russian that is grammatical wherever numbers meet words: the window's days as ordinals in
their case, numbers in words, nouns agreeing with their count.

The expected words are written out here by hand, not made by the code under test.
"""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agi.application import Application
from agi.audio.number_words import number_words
from agi.russian import agreeing, cardinal, counted, window_words
from tests.conftest import place_call

MSK = ZoneInfo("Europe/Moscow")

_UNITS_GENITIVE = [
    "первого",
    "второго",
    "третьего",
    "четвёртого",
    "пятого",
    "шестого",
    "седьмого",
    "восьмого",
    "девятого",
    "десятого",
    "одиннадцатого",
    "двенадцатого",
    "тринадцатого",
    "четырнадцатого",
    "пятнадцатого",
    "шестнадцатого",
    "семнадцатого",
    "восемнадцатого",
    "девятнадцатого",
]  # fmt: skip
_NOMINATIVE = {
    "первого": "первое",
    "второго": "второе",
    "третьего": "третье",
}


def _genitive(day: int) -> str:
    if day < 20:
        return _UNITS_GENITIVE[day - 1]
    tens = {2: "двадцат", 3: "тридцат"}[day // 10]
    if day % 10 == 0:
        return tens + "ого"
    return f"{tens}ь {_UNITS_GENITIVE[day % 10 - 1]}"


def _nominative(day: int) -> str:
    words = _genitive(day).split()
    last = words[-1]
    words[-1] = _NOMINATIVE.get(last, last.removesuffix("ого") + "ое")
    return " ".join(words)


def spoken_window(first: int, last: int) -> str:
    preposition = "со" if first == 2 else "с"
    return f"{preposition} {_genitive(first)} по {_nominative(last)} число"


WINDOWS = [(first, last) for first in range(1, 32) for last in range(first, 32)]


def test_the_hand_written_days_are_the_ones_the_issue_names() -> None:
    assert spoken_window(18, 25) == "с восемнадцатого по двадцать пятое число"
    assert spoken_window(1, 5) == "с первого по пятое число"
    assert spoken_window(2, 23) == "со второго по двадцать третье число"
    assert spoken_window(21, 31) == "с двадцать первого по тридцать первое число"


@pytest.mark.parametrize("first", range(1, 32))
def test_every_window_in_words(first: int) -> None:
    for last in range(first, 32):
        assert window_words(first, last) == spoken_window(first, last)


def test_every_window_message_a_call_says(app: Application) -> None:
    """Each window from 1-5 to 25-31, said by the shipped flow on a day outside it."""
    wrong = []
    for first, last in WINDOWS:
        if (first, last) == (1, 31):
            continue  # never closed
        window = Application(app.settings.model_copy(update={"accept_days": f"{first}-{last}"}))
        window.repository = app.repository
        day = last + 1 if last < 31 else first - 1
        outside = datetime(2026, 12, day, 12, 0, tzinfo=MSK)
        outcome, channel = place_call(window, "*2", at=outside, call_id=f"w{first}-{last}")
        expected = (
            f"IVR: Показания принимаются {spoken_window(first, last)} каждого месяца. "
            "Пожалуйста, позвоните в эти дни. До свидания."
        )
        if channel.transcript[-2:] != [expected, "IVR hangs up"] or outcome.accepted:
            wrong.append((first, last, channel.transcript[-2]))
    assert wrong == []


def test_a_text_reply_writes_the_days_in_digits(cli) -> None:
    cli("db", "seed")
    result = cli("sms", "--from", "+79120000000", "--date", "2026-11-10", "ПС 102057522 11638")
    assert "с 18 по 25 число" in result.output


THOUSANDS = {
    1000: "одна тысяча",
    2000: "две тысячи",
    2002: "две тысячи два",
    21000: "двадцать одна тысяча",
    22000: "двадцать две тысячи",
    11638: "одиннадцать тысяч шестьсот тридцать восемь",
    45055: "сорок пять тысяч пятьдесят пять",
    1_002_000: "один миллион две тысячи",
}


@pytest.mark.parametrize(("number", "words"), THOUSANDS.items())
def test_одна_и_две_тысячи(number: int, words: str) -> None:
    assert number_words(number) == words


def test_the_phones_number_words_agree_with_num2words() -> None:
    """Asterisk's Russian SAY NUMBER (as the project models it) and num2words say every number
    alike: a sample of the whole range a meter can show."""
    sample = [*range(0, 3000), *random.Random(13).sample(range(3000, 999_999_999), 3000)]
    assert [n for n in sample if number_words(n) != cardinal(n)] == []


COUNTS = [
    (1, "договор", "1 договор"),
    (2, "договор", "2 договора"),
    (5, "договор", "5 договоров"),
    (11, "договор", "11 договоров"),
    (21, "договор", "21 договор"),
    (1, "число", "1 число"),
    (3, "число", "3 числа"),
    (12, "число", "12 чисел"),
    (22, "число", "22 числа"),
]


@pytest.mark.parametrize(("count", "noun", "words"), COUNTS)
def test_a_noun_agrees_with_its_count(count: int, noun: str, words: str) -> None:
    assert counted(count, noun) == words


def test_agreement_is_remembered() -> None:
    assert agreeing("договор", 5) is agreeing("договор", 5)
