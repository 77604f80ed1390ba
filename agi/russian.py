"""Russian words where numbers meet words: days of the month as ordinals, and nouns that agree
with a count («2 договора», «5 чисел»).

num2words inflects the ordinals (case and gender), pymorphy3 makes a noun agree with its number;
the dictionary behind pymorphy3 takes a fifth of a second to load, so it is loaded on first use,
never by a phone call.
"""

from __future__ import annotations

import functools
from typing import Literal

from num2words import num2words

Case = Literal["genitive", "nominative"]

DAYS = range(1, 32)


def ordinal_day(day: int, case: Case) -> str:
    """A day of the month as the ordinal said before «число»: «восемнадцатого» (genitive, after
    «с»), «двадцать пятое» (nominative, after «по»)."""
    if day not in DAYS:
        raise ValueError(f"{day} is not a day of a month")
    return str(num2words(day, lang="ru", to="ordinal", case=case, gender="n"))


def from_day(day: int) -> str:
    """«с восемнадцатого», «со второго»: where a span of days starts."""
    words = ordinal_day(day, "genitive")
    return f"{'со' if words.startswith('вт') else 'с'} {words}"


def to_day(day: int) -> str:
    """«по двадцать пятое»: where a span of days ends (before «число»)."""
    return f"по {ordinal_day(day, 'nominative')}"


def window_words(first: int, last: int) -> str:
    """«с восемнадцатого по двадцать пятое число»."""
    return f"{from_day(first)} {to_day(last)} число"


def cardinal(number: int) -> str:
    """A whole number in words: «две тысячи», «одна тысяча сто»."""
    return str(num2words(number, lang="ru"))


@functools.cache
def _morphology():  # type: ignore[no-untyped-def]
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@functools.cache
def agreeing(noun: str, count: int) -> str:
    """The form of `noun` (nominative singular) that goes after the number `count`:
    договор, договора, договоров."""
    parsed = _morphology().parse(noun)[0]
    agreed = parsed.make_agree_with_number(count)
    return agreed.word if agreed is not None else noun


def counted(count: int, noun: str) -> str:
    """«2 договора», «5 чисел», «1 число»."""
    return f"{count} {agreeing(noun, count)}"
