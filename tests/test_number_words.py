"""Numbers in Russian words, as Asterisk says them: the simulator prints these, and the
project records the sound files behind them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agi.audio.number_words import (
    MAX_NUMBER,
    WORDS,
    digit_sound_names,
    digit_words,
    number_words,
    sound_names,
)

CARDINALS = [
    (0, "ноль"),
    (1, "один"),
    (2, "два"),
    (5, "пять"),
    (10, "десять"),
    (11, "одиннадцать"),
    (14, "четырнадцать"),
    (19, "девятнадцать"),
    (20, "двадцать"),
    (21, "двадцать один"),
    (40, "сорок"),
    (45, "сорок пять"),
    (90, "девяносто"),
    (99, "девяносто девять"),
    (100, "сто"),
    (101, "сто один"),
    (110, "сто десять"),
    (200, "двести"),
    (300, "триста"),
    (400, "четыреста"),
    (512, "пятьсот двенадцать"),
    (999, "девятьсот девяносто девять"),
    (1000, "одна тысяча"),
    (1001, "одна тысяча один"),
    (1002, "одна тысяча два"),
    (2000, "две тысячи"),
    (2002, "две тысячи два"),
    (3000, "три тысячи"),
    (4321, "четыре тысячи триста двадцать один"),
    (5000, "пять тысяч"),
    (10000, "десять тысяч"),
    (11000, "одиннадцать тысяч"),
    (11638, "одиннадцать тысяч шестьсот тридцать восемь"),
    (12000, "двенадцать тысяч"),
    (14000, "четырнадцать тысяч"),
    (20000, "двадцать тысяч"),
    (21000, "двадцать одна тысяча"),
    (22000, "двадцать две тысячи"),
    (23186, "двадцать три тысячи сто восемьдесят шесть"),
    (25000, "двадцать пять тысяч"),
    (45055, "сорок пять тысяч пятьдесят пять"),
    (100000, "сто тысяч"),
    (101000, "сто одна тысяча"),
    (102000, "сто две тысячи"),
    (111000, "сто одиннадцать тысяч"),
    (112000, "сто двенадцать тысяч"),
    (122000, "сто двадцать две тысячи"),
    (999999, "девятьсот девяносто девять тысяч девятьсот девяносто девять"),
    (1000000, "один миллион"),
    (1001000, "один миллион одна тысяча"),
    (2000000, "два миллиона"),
    (2000002, "два миллиона два"),
    (4000000, "четыре миллиона"),
    (5000000, "пять миллионов"),
    (11000000, "одиннадцать миллионов"),
    (21000000, "двадцать один миллион"),
    (22000000, "двадцать два миллиона"),
    (112000000, "сто двенадцать миллионов"),
    (102057522, "сто два миллиона пятьдесят семь тысяч пятьсот двадцать два"),
    (
        999999999,
        "девятьсот девяносто девять миллионов девятьсот девяносто девять тысяч "
        "девятьсот девяносто девять",
    ),
]


@pytest.mark.parametrize(("number", "words"), CARDINALS)
def test_a_whole_number_is_said_in_russian_words(number, words):
    assert number_words(number) == words


@pytest.mark.parametrize(
    ("number", "sounds"),
    [
        (0, ["digits/0"]),
        (45055, ["digits/40", "digits/5", "digits/thousands", "digits/50", "digits/5"]),
        (2001, ["digits/2f", "digits/thousands-i", "digits/1"]),
        (21000, ["digits/20", "digits/1f", "digits/thousand"]),
        (3000000, ["digits/3", "digits/million-a"]),
        (600, ["digits/600"]),
    ],
)
def test_the_sound_files_are_the_ones_asterisk_plays(number, sounds):
    """Asterisk's Russian SAY NUMBER (main/say.c, ast_say_number_full_ru) names its files so."""
    assert sound_names(number) == sounds


@pytest.mark.parametrize(
    ("digits", "words"),
    [
        ("102057522", "один ноль два ноль пять семь пять два два"),
        ("0", "ноль"),
        ("0070", "ноль ноль семь ноль"),
    ],
)
def test_a_contract_is_said_digit_by_digit(digits, words):
    assert digit_words(digits) == words


def test_beyond_what_asterisk_says_in_words_a_number_is_said_digit_by_digit():
    assert number_words(MAX_NUMBER + 1) == "один " + " ".join(["ноль"] * 9)


@pytest.mark.parametrize("bad", [-1, MAX_NUMBER + 1])
def test_sound_names_refuse_what_asterisk_cannot_say_as_a_number(bad):
    with pytest.raises(ValueError, match="outside"):
        sound_names(bad)


@pytest.mark.parametrize("bad", ["", "12a", "١٢", "-5"])
def test_digits_are_ascii_digits_only(bad):
    with pytest.raises(ValueError, match="not a string of digits"):
        digit_sound_names(bad)


def _thousands_word(count: int) -> str:
    """The textbook rule, written independently of the module."""
    if count % 100 in range(11, 15):
        return "тысяч"
    return {1: "тысяча", 2: "тысячи", 3: "тысячи", 4: "тысячи"}.get(count % 10, "тысяч")


def _millions_word(count: int) -> str:
    if count % 100 in range(11, 15):
        return "миллионов"
    return {1: "миллион", 2: "миллиона", 3: "миллиона", 4: "миллиона"}.get(count % 10, "миллионов")


@given(st.integers(1, 999))
def test_thousands_agree_with_their_count(count):
    words = number_words(count * 1000).split()
    assert words[-1] == _thousands_word(count)
    if count % 10 in (1, 2) and count % 100 not in (11, 12):
        assert words[-2] == {1: "одна", 2: "две"}[count % 10]


@given(st.integers(1, 999))
def test_millions_agree_with_their_count(count):
    words = number_words(count * 1_000_000).split()
    assert words[-1] == _millions_word(count)
    assert words[:-1] == number_words(count).split()


@given(st.integers(1, 999_999), st.integers(1, 999))
def test_a_number_is_its_thousands_then_the_rest(upper, rest):
    """45055 = «сорок пять тысяч» + «пятьдесят пять»: the parts are said as alone."""
    head = upper // 1000 * 1000
    if head:
        assert number_words(head + rest) == f"{number_words(head)} {number_words(rest)}"


@given(st.integers(0, MAX_NUMBER))
def test_every_word_said_has_a_sound_file_name_and_feminine_forms_only_before_thousands(number):
    names = sound_names(number)
    assert all(name in WORDS for name in names)
    for index, name in enumerate(names):
        if name in ("digits/1f", "digits/2f"):
            assert names[index + 1] in ("digits/thousand", "digits/thousands-i")
