"""The seam between the dialog and the telephone: what the engine may ask of a call.

Asterisk (through AGI), the terminal simulator and the tests each provide a `Channel`;
the engine imports nothing else from the telephony side.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agi.dialog.utterance import Utterance

DTMF_KEYS = frozenset("0123456789*#")
DIGITS = "0123456789"


class KeyStop(enum.StrEnum):
    """What ended the collection of keys."""

    TIMEOUT = "timeout"
    TERMINATOR = "terminator"
    MAX_DIGITS = "max_digits"


@dataclass(frozen=True)
class KeyRequest:
    """How to collect keys: which are accepted, how many, and how long to wait.

    The prompts play with barge-in: the first accepted key stops them and counts as input.
    Keys outside `allowed` (and the terminator) are ignored.
    """

    allowed: frozenset[str]
    max_digits: int
    first_timeout: float
    inter_digit_timeout: float
    terminator: str = ""


@dataclass(frozen=True)
class Keys:
    digits: str
    stop: KeyStop

    @property
    def nothing(self) -> bool:
        """The caller pressed nothing at all before the timeout."""
        return not self.digits and self.stop is KeyStop.TIMEOUT


def collect_keys(
    request: KeyRequest, next_key: Callable[[float], str | None], first: str | None = None
) -> Keys:
    """Collect keys as `request` says from `next_key(timeout)`, which returns a key or None
    when the timeout passed. `first` is a key that already interrupted a prompt."""
    digits = ""
    key = first
    while True:
        if key is None:
            key = next_key(request.inter_digit_timeout if digits else request.first_timeout)
            if key is None:
                return Keys(digits, KeyStop.TIMEOUT)
        if request.terminator and key == request.terminator:
            return Keys(digits, KeyStop.TERMINATOR)
        if key in request.allowed:
            digits += key
            if len(digits) >= request.max_digits:
                return Keys(digits, KeyStop.MAX_DIGITS)
        key = None


@dataclass(frozen=True)
class ListenRequest:
    """How to record a spoken answer: at most `max_seconds` long, ended by
    `silence_seconds` of silence (a caller who says nothing is recorded that long)."""

    max_seconds: float
    silence_seconds: int


@dataclass(frozen=True)
class Recording:
    """What the caller said after a prompt. `audio` is a WAV file in the private spool folder
    (caller data: `discard()` it once recognised); the simulator, which has no audio, gives
    the caller's `words` instead. Neither: nothing was recorded."""

    audio: Path | None = None
    words: str | None = None

    def discard(self) -> None:
        if self.audio is not None:
            self.audio.unlink(missing_ok=True)


class ListenFailed(Exception):
    """The channel could not record (for example Asterisk cannot write to the spool folder)."""


class CallerHungUp(Exception):
    """The caller is gone; raised by any channel operation."""


class Channel(Protocol):
    @property
    def call_id(self) -> str:
        """The IVR's own id of this call, unique across every server and telephone system:
        the source of what the call submits."""

    @property
    def correlation_id(self) -> str | None:
        """What the telephone system calls this call (Asterisk's `system/uniqueid`), to find
        it in that system's logs; not unique (two Asterisks may repeat it)."""

    @property
    def system_name(self) -> str | None:
        """The name of the telephone system that carried the call (Asterisk's SYSTEMNAME),
        for the call's record; None when it has none."""

    @property
    def caller_number(self) -> str | None:
        """The caller's number as the network sent it; None when it sent none."""

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        """Play to the end; keys pressed meanwhile are discarded. With `barge_in` (the next
        node asks a question), a key stops the prompts and is the first key of that answer."""

    def ask(self, utterances: Sequence[Utterance], request: KeyRequest) -> Keys:
        """Play with barge-in, then collect keys as `request` says."""

    def listen(
        self, utterances: Sequence[Utterance], keys: KeyRequest, request: ListenRequest
    ) -> Keys | Recording:
        """Play with barge-in, then record the caller's spoken answer. A key pressed during the
        prompt or the recording ends it, and the keys are collected as `ask` does."""

    def mark(self, outcome: str) -> None:
        """Tell the line what the call achieved so far (`accepted`): the dialplan logs it."""

    def transfer(self, destination: str) -> None:
        """Hand the call to `destination` (a name from the flow, such as `operator`)."""

    def hang_up(self) -> None: ...
