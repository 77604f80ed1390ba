"""A call in the terminal: a `Channel` that prints what the IVR says and takes keys as text.

Keys are the phone's `0-9 * #`; a `.` means the caller waits until the timeout; spaces are
ignored; words in double quotes are what the caller says (`"один ноль два"`): heard when the
IVR listens, and like silence when it waits for keys. When the script runs out while the
IVR is waiting, the caller hangs up.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agi.audio.number_words import digit_words, number_words
from agi.dialog.channel import (
    DTMF_KEYS,
    CallerHungUp,
    KeyRequest,
    Keys,
    ListenRequest,
    Recording,
    collect_keys,
)
from agi.dialog.utterance import Digits, Number, Prompt, Utterance

WAIT = "."
PHRASE = re.compile(r'("[^"]*")')


@dataclass(frozen=True)
class Said:
    """Words the scripted caller says."""

    words: str


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


def parse_script(script: str) -> list[str | Said]:
    """Keys, waits and quoted phrases, in order; ValueError names the first mistake."""
    items: list[str | Said] = []
    for part in PHRASE.split(script):
        if PHRASE.fullmatch(part):
            items.append(Said(" ".join(part[1:-1].split())))
        elif '"' in part:
            raise ValueError('what the caller says goes in double quotes: "один ноль два"')
        else:
            items.extend(parse_keys(part))
    return items


def spoken_text(utterance: Utterance) -> str:
    """The words a caller hears: a number in Russian words, as Asterisk says it."""
    match utterance:
        case Prompt():
            return utterance.text
        case Number():
            return number_words(utterance.value)
        case Digits():
            return digit_words(utterance.digits)
    raise TypeError(utterance)


class ScriptedRecogniser:
    """For the simulator and the tests: "hears" exactly the words the scripted caller said."""

    def transcribe(self, recording: Recording) -> str:
        return recording.words or ""


class CallListener(Protocol):
    """Follows a simulated call, e.g. to record it (`agi.audio.call_recording`)."""

    def said(self, utterances: Sequence[Utterance]) -> None: ...

    def pressed(self, key: str, waited: float) -> None:
        """The caller pressed `key`, or (`.`) waited the `waited` seconds of the timeout."""


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
        listener: CallListener | None = None,
    ) -> None:
        self._call_id = call_id
        self._caller_number = caller_number
        self._queue: deque[str | Said] = deque(parse_script(keys))
        self._more_keys = more_keys
        self._echo = echo
        self._listener = listener
        self.transcript: list[str] = []
        self.hung_up = False
        self.outcome = ""
        """What the IVR marked the call as (`accepted`), as the dialplan would log it."""

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def correlation_id(self) -> str | None:
        return None

    @property
    def system_name(self) -> str | None:
        return None

    @property
    def caller_number(self) -> str | None:
        return self._caller_number

    def _say(self, line: str) -> None:
        self.transcript.append(line)
        self._echo(line)

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        """Keys are never taken while playing: a key typed ahead stays queued for the next
        question, which is what barge-in means for a script."""
        self._check_alive()
        if utterances:
            self._say("IVR: " + " ".join(spoken_text(u) for u in utterances))
            if self._listener:
                self._listener.said(utterances)

    def ask(self, utterances: Sequence[Utterance], request: KeyRequest) -> Keys:
        self.play(utterances)
        return self._collect(request)

    def listen(
        self, utterances: Sequence[Utterance], keys: KeyRequest, request: ListenRequest
    ) -> Keys | Recording:
        """The next thing in the script: words are heard, `.` is silence, a key is typed."""
        self.play(utterances)
        try:
            item = self._next_key()
        except CallerHungUp:
            self._say("caller hangs up")
            raise
        if isinstance(item, Said):
            self._say(f"caller says: «{item.words}»")
            return Recording(words=item.words)
        if item == WAIT:
            self._say("caller: (silent)")
            if self._listener:
                self._listener.pressed(WAIT, request.silence_seconds)
            return Recording()
        if self._listener:
            self._listener.pressed(item, 0.0)
        return self._collect(keys, first=item)

    def _collect(self, request: KeyRequest, first: str | None = None) -> Keys:
        pressed: list[str] = [first] if first else []

        def next_key(timeout: float) -> str | None:
            item = self._next_key()
            if isinstance(item, Said):  # words, while the IVR waits for keys: not heard
                pressed.append(f"(says «{item.words}»)")
                item = WAIT
            else:
                pressed.append(item)
            if self._listener:
                self._listener.pressed(item, timeout)
            return None if item == WAIT else item

        try:
            return collect_keys(request, next_key, first=first)
        finally:
            if pressed:
                self._say("caller: " + "".join(pressed).replace(WAIT, "(waits)"))
            if self.hung_up:
                self._say("caller hangs up")

    def _next_key(self) -> str | Said:
        while not self._queue:
            more = self._more_keys()
            if more is None:
                self.hung_up = True
                raise CallerHungUp
            self._queue.extend(parse_script(more) or WAIT)
        return self._queue.popleft()

    def _check_alive(self) -> None:
        if self.hung_up:
            raise CallerHungUp

    def mark(self, outcome: str) -> None:
        self.outcome = outcome

    def transfer(self, destination: str) -> None:
        self._check_alive()
        self._say(f"IVR transfers the call to: {destination}")

    def hang_up(self) -> None:
        self._check_alive()
        self.hung_up = True
        self._say("IVR hangs up")
