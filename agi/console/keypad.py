"""The console's keypad: a call made in the browser, as `ivr simulate` makes it.

The page keeps the try (the day, the caller's number and the keys pressed so far, one group
per answer) and sends it whole. Each step runs the call again from its first prompt on a
fresh scratch copy of the configured database's contracts, until the IVR waits for keys the
try has not pressed yet: nothing of a try lives in the server between two steps, and no
reading reaches the real database.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agi.application import Application, CallOutcome
from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog
from agi.dialog.simulator import ScriptedRecogniser, parse_keys, spoken_text
from agi.dialog.utterance import Prompt, Utterance
from agi.records.record import END_OF, End
from agi.scenarios import StepChannel, append_scenario, scenario_of_call, scenarios_path
from agi.settings import Settings
from agi.speech.recognition import Speech
from agi.storage.scratch import ScratchCopies

WAIT = "."
MAX_PRESSES = 200
"""Answers in one try: more than any menu needs, few enough that a step stays quick."""
MAX_KEYS = 64
"""Keys in one answer."""
CALLER_NUMBER = re.compile(r"\+?[0-9]{1,20}")
SCENARIO_NAME = re.compile(r"[^\n\r\t]{1,80}")
"""Both are matched whole (`fullmatch`): a `$` would let a line break at the end through."""


class Speaker(enum.StrEnum):
    IVR = "ivr"
    CALLER = "caller"
    EVENT = "event"
    """What happens to the line: the IVR transfers or hangs up, the caller hangs up."""


@dataclass(frozen=True)
class Part:
    """One thing said: its words, and the prompt id whose audio says them (None for a
    number, said by Asterisk's own voice)."""

    text: str
    prompt: str | None = None


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return " ".join(part.text for part in self.parts)


@dataclass(frozen=True)
class Try:
    """A call tried on the keypad: the page keeps it and sends it with every step."""

    day: date
    caller: str | None = None
    presses: tuple[str, ...] = ()
    """The caller's answers so far: keys `0-9 * #`, or `.` (waits for the timeout)."""
    hung_up: bool = False
    """The caller has hung up after the last answer."""

    def __post_init__(self) -> None:
        if self.caller is not None and not CALLER_NUMBER.fullmatch(self.caller):
            raise ValueError("the caller's number is digits, with a + in front at most")
        if len(self.presses) > MAX_PRESSES:
            raise ValueError(f"a try has at most {MAX_PRESSES} answers")
        for keys in self.presses:
            if not keys or len(keys) > MAX_KEYS:
                raise ValueError(f"an answer is 1 to {MAX_KEYS} keys")
            if parse_keys(keys) != keys:
                raise ValueError(f"'{keys}' has spaces: send the keys alone")

    def press(self, keys: str) -> Try:
        """The try with one more answer (spaces dropped), none after the caller hung up;
        ValueError for what is no key."""
        keys = parse_keys(keys)
        return self if self.hung_up else replace(self, presses=(*self.presses, keys))

    def hang_up(self) -> Try:
        return replace(self, hung_up=True)


@dataclass(frozen=True)
class Walk:
    """How far a try went."""

    attempt: Try
    """The try as the IVR took it: an answer pressed while nothing was said since the one
    before joins it (`1`, `2` typed into one number are `12`), answers after the end of
    the call are dropped."""
    turns: tuple[Turn, ...]
    waiting: bool
    """The IVR waits for the caller's next answer."""
    ending: str | None
    """How the call ended (`accepted`, `ivr_hung_up` ...); None while it waits."""


class TryChannel(StepChannel):
    """A keypad call that notes each turn, and whether it ran out of answers."""

    def __init__(self, attempt: Try) -> None:
        self.attempt = attempt
        self.turns: list[Turn] = []
        self.waiting = False
        self.quiet: list[bool] = []
        """For each answer taken: whether the IVR said nothing after it (so far)."""
        answers = iter(attempt.presses)

        def next_answer() -> str | None:
            keys = next(answers, None)
            if keys is None and not attempt.hung_up:
                self.waiting = True
            return keys

        super().__init__("keypad", attempt.caller, next_answer)

    def _next_group(self) -> str | None:
        keys = super()._next_group()
        if keys is not None:
            shown = "(waits)" if keys == WAIT else keys.replace(WAIT, " (waits) ").strip()
            self.turns.append(Turn(Speaker.CALLER, (Part(shown),)))
            self.quiet.append(True)
        elif not self.waiting:
            self._event("caller hangs up")
        return keys

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        super().play(utterances, barge_in=barge_in)
        if utterances:
            self.turns.append(Turn(Speaker.IVR, tuple(_part(u) for u in utterances)))
            if self.quiet:
                self.quiet[-1] = False

    def transfer(self, destination: str) -> None:
        super().transfer(destination)
        self._event(f"IVR transfers the call to: {destination}")

    def hang_up(self) -> None:
        super().hang_up()
        self._event("IVR hangs up")

    def _event(self, text: str) -> None:
        self.turns.append(Turn(Speaker.EVENT, (Part(text),)))

    def taken(self) -> tuple[str, ...]:
        """The answers the IVR took, each joined to the one before when nothing was said
        between them."""
        joined: list[str] = []
        for number, keys in enumerate(self.groups):
            if joined and self.quiet[number - 1]:
                joined[-1] += keys
            else:
                joined.append(keys)
        return tuple(joined)


def _part(utterance: Utterance) -> Part:
    return Part(spoken_text(utterance), utterance.id if isinstance(utterance, Prompt) else None)


@dataclass
class _Call:
    channel: TryChannel
    outcome: CallOutcome


class MenuOnFile:
    """The flow and catalog in the configured files, read again only once one of them was
    saved (a try reads them at every step); ProblemsFound while they do not pass."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self._read: tuple[tuple[float, ...], tuple[Flow, PromptCatalog]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> tuple[Flow, PromptCatalog]:
        with self._lock:
            stamp = self.app.flow_stamp()
            if self._read is None or self._read[0] != stamp:
                self._read = (stamp, self.app.read_menu())
            return self._read[1]


class CallStillGoing(ValueError):
    """A try is kept as a scenario only once its call has ended."""


class Keypad:
    """Makes the calls of tries with the line's settings and `menu` (the flow and catalog
    to try), each on a fresh copy from `scratch`."""

    def __init__(
        self,
        settings: Settings,
        scratch: ScratchCopies,
        menu: Callable[[], tuple[Flow, PromptCatalog]],
    ) -> None:
        self.settings = settings
        self.scratch = scratch
        self.menu = menu

    def today(self) -> date:
        return datetime.now(tz=ZoneInfo(self.settings.timezone)).date()

    def walk(self, attempt: Try) -> Walk:
        """Make the try's call as far as its answers go; ProblemsFound when the flow on file
        does not pass the checks, NoContracts when there is nothing to call about."""
        call = self._call(attempt)
        channel = call.channel
        return Walk(
            attempt=replace(attempt, presses=channel.taken()),
            turns=tuple(channel.turns),
            waiting=channel.waiting,
            ending=None if channel.waiting else _ending(call.outcome),
        )

    def keep(self, attempt: Try, name: str) -> Path:
        """Append the try's finished call to the scenarios beside the flow, as `name`; its
        file. CallStillGoing while the IVR waits; ScenarioExists when the name is taken."""
        if not SCENARIO_NAME.fullmatch(name.strip()):
            raise ValueError("a scenario's name is one line of 1 to 80 characters")
        call = self._call(attempt)
        if call.channel.waiting:
            raise CallStillGoing(
                "the call has not ended: press the keys to its end, or hang up, first"
            )
        body: dict[str, Any] = scenario_of_call(
            call.channel,
            call.outcome,
            day=attempt.day,
            caller=attempt.caller,
            accept_days=self.settings.accept_days,
        )
        path = scenarios_path(self.settings.flow_path)
        append_scenario(path, name.strip(), body)
        return path

    def _call(self, attempt: Try) -> _Call:
        flow, catalog = self.menu()
        with self.scratch.copy() as url:
            app = Application(
                self.settings.model_copy(update={"database_url": url, "call_records": False}),
                speech=Speech(ScriptedRecogniser(), "the keypad"),
            )
            app.use_menu(flow, catalog)
            moment = datetime.combine(
                attempt.day, time(12, 0), tzinfo=ZoneInfo(self.settings.timezone)
            )
            channel = TryChannel(attempt)
            try:
                outcome = app.answer(channel, now=lambda: moment)
            finally:
                app.repository.engine.dispose()
        return _Call(channel, outcome)


def _ending(outcome: CallOutcome) -> str:
    return (End.ACCEPTED if outcome.accepted else END_OF[outcome.report.ending]).value
