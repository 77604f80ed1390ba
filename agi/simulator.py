"""A call in the terminal: a `Channel` that prints what the IVR says and takes keys as text.

Keys are the phone's `0-9 * #`; a `.` means the caller waits until the timeout; spaces are
ignored. When the keys run out while the IVR is waiting for one, the caller hangs up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from agi.channel import (
    DTMF_KEYS,
    CallerHungUp,
    Digits,
    KeyRequest,
    Keys,
    Number,
    Prompt,
    Utterance,
    collect_keys,
)

WAIT = "."


def parse_keys(script: str) -> str:
    """The keys of a script, spaces removed; ValueError names the first thing that is no key."""
    keys = "".join(script.split())
    for position, key in enumerate(keys, 1):
        if key not in DTMF_KEYS and key != WAIT:
            raise ValueError(
                f"'{key}' (character {position}) is not a phone key: use 0-9, * and #, "
                "and . to wait for the timeout"
            )
    return keys


def spoken_text(utterance: Utterance) -> str:
    match utterance:
        case Prompt():
            return utterance.text
        case Number():
            return str(utterance.value)
        case Digits():
            return " ".join(utterance.digits)
    raise TypeError(utterance)


class KeypadChannel:
    """A channel driven by typed keys. `more_keys` is asked for keys when none are queued;
    it returns None when the caller has no more (the caller hangs up)."""

    def __init__(
        self,
        call_id: str,
        caller_number: str | None,
        *,
        keys: str = "",
        more_keys: Callable[[], str | None] = lambda: None,
        echo: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._call_id = call_id
        self._caller_number = caller_number
        self._queue: deque[str] = deque(parse_keys(keys))
        self._more_keys = more_keys
        self._echo = echo
        self.transcript: list[str] = []
        self.hung_up = False

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def caller_number(self) -> str | None:
        return self._caller_number

    def _say(self, line: str) -> None:
        self.transcript.append(line)
        self._echo(line)

    def play(self, utterances: Sequence[Utterance]) -> None:
        self._check_alive()
        if utterances:
            self._say("IVR: " + " ".join(spoken_text(u) for u in utterances))

    def ask(self, utterances: Sequence[Utterance], request: KeyRequest) -> Keys:
        self.play(utterances)
        pressed: list[str] = []

        def next_key(_timeout: float) -> str | None:
            key = self._next_key()
            pressed.append(key)
            return None if key == WAIT else key

        try:
            return collect_keys(request, next_key)
        finally:
            if pressed:
                self._say("caller: " + "".join(pressed).replace(WAIT, "(waits)"))
            if self.hung_up:
                self._say("caller hangs up")

    def _next_key(self) -> str:
        while not self._queue:
            more = self._more_keys()
            if more is None:
                self.hung_up = True
                raise CallerHungUp
            self._queue.extend(parse_keys(more) or WAIT)
        return self._queue.popleft()

    def _check_alive(self) -> None:
        if self.hung_up:
            raise CallerHungUp

    def transfer(self, destination: str) -> None:
        self._check_alive()
        self._say(f"IVR transfers the call to: {destination}")

    def hang_up(self) -> None:
        self._check_alive()
        self.hung_up = True
        self._say("IVR hangs up")
