"""What the dialog asks of the company's side: actions a flow names, and what each may do.

The engine knows nodes, keys and prompts; an action node hands the call to an `Actions`
implementation, which answers with an outcome and values to say. Which actions exist, and
what each reads, gives and needs, is an `ActionTable` handed to the flow loader, so that
`ivr check` validates a flow against the actions that will run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["number", "digits", "prompt", "word"]
"""What a variable holds: a number, typed digits, a prompt id, or a word set by a menu."""

SAYABLE: dict[str, frozenset[Kind]] = {
    "number": frozenset({"number", "digits"}),
    "digits": frozenset({"number", "digits"}),
    "prompt_of": frozenset({"prompt"}),
}
"""Which kinds of variable each way of saying one can say."""


@dataclass(frozen=True)
class PromptRef:
    """A prompt an action chose, such as the zone's name or the reason of a refusal."""

    id: str


Given = int | str | PromptRef
"""A value an action gives the flow to say: a number, digits (a string, so that leading
zeros are kept: the last four digits «0522»), or a prompt."""

Answers = Mapping[str, str]
"""What the caller answered so far, by variable: digits typed (an input's `into`), or the
word a menu option `set`."""


@dataclass(frozen=True)
class ActionResult:
    outcome: str
    values: Mapping[str, Given] = field(default_factory=dict)
    """The values this run gives; the ones the action gave on an earlier run are gone."""


@dataclass(frozen=True)
class Stage:
    """Something a call must have reached before an action can run, such as a found
    contract; `how` says in words how a flow reaches it."""

    name: str
    how: str


@dataclass(frozen=True)
class ActionSpec:
    outcomes: frozenset[str]
    failures: frozenset[str] = frozenset()
    """Outcomes that count towards the flow's `max_failures` in a row."""
    reads: frozenset[str] = frozenset()
    """The caller's answers it reads."""
    choices: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """The values a menu option may `set` for an answer it reads."""
    sets: Mapping[str, Kind] = field(default_factory=dict)
    """The values it gives to say, and what each holds."""
    prompts: frozenset[str] = frozenset()
    """Prompt ids it may give, to be said with `{prompt: variable}`."""
    needs: frozenset[Stage] = frozenset()
    """What every way to this action must have reached first."""
    reaches: Mapping[str, frozenset[Stage]] = field(default_factory=dict)
    """What each outcome reaches."""
    undoes: frozenset[Stage] = frozenset()
    """What running it leaves behind, whatever its outcome (a new contract, another zone)."""


ActionTable = Mapping[str, ActionSpec]


class ActionUnavailable(Exception):
    """The company's side cannot do its work now (its database does not answer): the call
    goes to the flow's `defaults: on_unavailable`, which says so and reaches the operator."""


class Actions(Protocol):
    """Runs the named actions of one call."""

    def run(self, name: str, answers: Answers) -> ActionResult: ...
