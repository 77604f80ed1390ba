"""Numbers in Russian words, exactly as Asterisk says them in Russian.

Asterisk's SAY NUMBER (channel language `ru`) plays one sound file per word: 45055 is
`digits/40 digits/5 digits/thousands digits/50 digits/5`. `sound_names` picks the files by the
same rules (Asterisk's `ast_say_number_full_ru`: одна/две before тысяча, тысяча/тысячи/тысяч,
миллион/миллиона/миллионов), `WORDS` is what each file says, and `number_words` joins them: so
the simulator prints what a caller hears, and the project can record the files that the
Russian sounds package lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

MAX_NUMBER = 999_999_999

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
RUSSIAN_SOUNDS = "ru_RU_f_IvrvoiceRU"
"""Where Debian's asterisk-core-sounds-ru-gsm puts its recordings, below ASTERISK_SOUNDS (not
`ru`: the channel language needs a link)."""

_UNITS = [
    "ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять",
    "десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
    "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать",
]  # fmt: skip
_TENS = [
    "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят",
    "девяносто",
]  # fmt: skip
_HUNDREDS = [
    "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот",
    "девятьсот",
]  # fmt: skip

WORDS: dict[str, str] = {
    **{f"digits/{n}": word for n, word in enumerate(_UNITS)},
    **{f"digits/{10 * n}": word for n, word in enumerate(_TENS, 2)},
    **{f"digits/{100 * n}": word for n, word in enumerate(_HUNDREDS, 1)},
    "digits/1f": "одна",
    "digits/2f": "две",
    "digits/thousand": "тысяча",
    "digits/thousands-i": "тысячи",
    "digits/thousands": "тысяч",
    "digits/million": "миллион",
    "digits/million-a": "миллиона",
    "digits/millions": "миллионов",
}
"""Every sound file Asterisk's Russian SAY NUMBER and SAY DIGITS may play, and its word."""


def sound_names(number: int) -> list[str]:
    """The sound files Asterisk plays for SAY NUMBER `number`, in order."""
    if not 0 <= number <= MAX_NUMBER:
        raise ValueError(f"{number} is outside 0..{MAX_NUMBER}")
    if number == 0:
        return ["digits/0"]
    return _names(number, feminine=False)


def _names(number: int, *, feminine: bool) -> list[str]:
    names: list[str] = []
    while number:
        if number < 20:
            names.append(f"digits/{number}{'f' if feminine and number < 3 else ''}")
            number = 0
        elif number < 100:
            names.append(f"digits/{number - number % 10}")
            number %= 10
        elif number < 1000:
            names.append(f"digits/{number - number % 100}")
            number %= 100
        elif number < 1_000_000:
            thousands, number = divmod(number, 1000)
            last = _last_digits(thousands)
            names += _names(thousands, feminine=last < 3)
            names.append(_plural(last, "digits/thousand", "digits/thousands-i", "digits/thousands"))
        else:
            millions, number = divmod(number, 1_000_000)
            last = _last_digits(millions)
            names += _names(millions, feminine=False)
            names.append(_plural(last, "digits/million", "digits/million-a", "digits/millions"))
    return names


def _last_digits(number: int) -> int:
    """What decides the form of the word after `number` (0-999): 1-19, or its last digit."""
    number %= 100
    return number if number < 20 else number % 10


def _plural(last: int, one: str, few: str, many: str) -> str:
    if last == 1:
        return one
    return few if 1 < last < 5 else many


def spoken_sound_names(number: int) -> list[str]:
    """How the IVR says a whole number: in words up to 999 999 999; beyond that, where
    Asterisk's Russian SAY NUMBER gives up, digit by digit."""
    if number > MAX_NUMBER:
        return digit_sound_names(str(number))
    return sound_names(number)


def digit_sound_names(digits: str) -> list[str]:
    """The sound files Asterisk plays for SAY DIGITS `digits` (0-9 only)."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{digits!r} is not a string of digits")
    return [f"digits/{digit}" for digit in digits]


def words_of(names: list[str]) -> str:
    return " ".join(WORDS[name] for name in names)


def number_words(number: int) -> str:
    """«сорок пять тысяч пятьдесят пять»: what the IVR says for a whole number."""
    return words_of(spoken_sound_names(number))


def digit_words(digits: str) -> str:
    """«один ноль два»: what SAY DIGITS says, digit by digit."""
    return words_of(digit_sound_names(digits))


DIGIT_RUN = re.compile(r"[0-9]{2,}")
"""Two digits or more written in a prompt's text: a contract, an example message."""


def spoken_text(text: str) -> str:
    """A prompt's text as it is synthesized and recorded: a number of two digits or more is
    said digit by digit («ПС 102057522» is «ПС один ноль два ноль пять семь пять два два»),
    never as a cardinal in the wrong case; one digit («нажмите 2») stays as it is."""
    return DIGIT_RUN.sub(lambda run: digit_words(run.group()), text)


def linked_number_words(
    ours: Iterable[Path], theirs: Iterable[Path], *, ours_first: bool = True
) -> list[Path]:
    """The number-word files a `digits` folder of the channel language links to: every file
    of each word (its WAV and the copies in the line codings) from one voice, the project's
    before the Russian sounds package's (`ours_first`) or after them, so that one word is
    never said in one voice on one line and in the other on another."""
    first, second = (list(ours), list(theirs))
    if not ours_first:
        first, second = second, first
    taken = {path.stem for path in first}
    return [*first, *(path for path in second if path.stem not in taken)]
