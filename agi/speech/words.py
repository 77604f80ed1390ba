"""The words an answer by voice may hold: yes and no, and the word list every recognition
is limited to. Plain functions: what the engine needs to understand an answer, without a
recogniser.
"""

from __future__ import annotations

from agi.speech.number_parser import NUMBER_WORDS, UNCLEAR, words_of

YES_WORDS = frozenset({"да", "ага", "верно", "правильно", "конечно"})
NO_WORDS = frozenset({"нет", "неверно", "неправильно"})
NOT = "не"
"""«не верно», «не правильно»: a recogniser may write the negation as a word of its own."""

WORD_LIST: tuple[str, ...] = (*sorted(NUMBER_WORDS | YES_WORDS | NO_WORDS | {NOT}), UNCLEAR)
"""What every recognition may hear: Russian number words, yes and no words, and `[unk]`."""


def parse_yes_no(text: str) -> bool | None:
    """True for «да» (and «верно», «ага» ...), False for «нет» (and «не верно» ...), None when
    the words are neither, or both."""
    words = [word for word in words_of(text) if word != UNCLEAR]
    if not words:
        return None
    answers = set()
    position = 0
    while position < len(words):
        word = words[position]
        if word == NOT and position + 1 < len(words) and words[position + 1] in YES_WORDS:
            answers.add(False)
            position += 2
            continue
        if word in YES_WORDS:
            answers.add(True)
        elif word in NO_WORDS:
            answers.add(False)
        else:
            return None
        position += 1
    return answers.pop() if len(answers) == 1 else None
