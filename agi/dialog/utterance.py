"""What the IVR says: a recorded prompt, a number said as words, or digits said one by one.

Every channel says these its own way: Asterisk plays files and SAY commands, the simulator
prints Russian words, a call recording joins the audio.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prompt:
    """A recorded prompt: the audio is found by `id`, `text` is what it says."""

    id: str
    text: str


@dataclass(frozen=True)
class Number:
    """A whole number said as words ("сорок пять тысяч пятьдесят пять")."""

    value: int


@dataclass(frozen=True)
class Digits:
    """A string of digits said one by one (a contract number)."""

    digits: str


Utterance = Prompt | Number | Digits
