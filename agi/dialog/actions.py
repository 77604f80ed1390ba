"""The domain actions a flow can name, and what each one needs, sets and can answer.

This table is what `ivr check` validates an `action` node against; the implementations
live in `agi.readings.call_actions`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from agi.readings.rules import Reason, Resource, Zone

Value = str | int
Variables = dict[str, Value]

Kind = Literal["number", "digits", "prompt", "word"]
"""What a variable holds: a number, typed digits, a prompt id, or a word set by a menu."""

SAYABLE: dict[str, frozenset[Kind]] = {
    "number": frozenset({"number", "digits"}),
    "digits": frozenset({"number", "digits"}),
    "prompt_of": frozenset({"prompt"}),
}
"""Which kinds of variable each way of saying one can say."""

CHOICES: dict[str, frozenset[str]] = {"resource": frozenset(r.value for r in Resource)}
"""The values a menu option may `set` for variables that actions read."""


@dataclass(frozen=True)
class ActionSpec:
    outcomes: frozenset[str]
    summary: str
    failures: frozenset[str] = frozenset()
    """Outcomes that count towards the flow's `max_failures` in a row."""
    reads: frozenset[str] = frozenset()
    sets: Mapping[str, Kind] = field(default_factory=dict)
    """Variables the action sets, and what each holds."""
    prompts: frozenset[str] = frozenset()
    """Prompt ids the action may put into a variable, to be said with `{prompt: variable}`."""


ZONE_PROMPTS = frozenset(f"zone_{zone.value}" for zone in Zone)
REASON_PROMPTS = frozenset(reason.prompt for reason in Reason)
RESOURCE_PROMPTS = frozenset(f"resource_{resource.value}" for resource in Resource)


def resource_menu_prompt(resources: Iterable[Resource]) -> str:
    """The prompt that offers exactly these resources (keys 1, 2, 3 in `Resource` order)."""
    chosen = set(resources)
    return "choose_" + "_".join(r.value for r in Resource if r in chosen)


RESOURCE_MENU_PROMPTS = frozenset(
    resource_menu_prompt(combination)
    for size in (2, 3)
    for combination in itertools.combinations(Resource, size)
)

ACTIONS: dict[str, ActionSpec] = {
    "check_window": ActionSpec(
        outcomes=frozenset({"open", "closed"}),
        sets={"first_day": "number", "last_day": "number"},
        summary="is today within the days readings are accepted",
    ),
    "lookup_contract": ActionSpec(
        outcomes=frozenset({"found", "several", "unknown"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"contract"}),
        sets={"resource_name": "prompt", "resource_menu": "prompt"},
        prompts=RESOURCE_PROMPTS | RESOURCE_MENU_PROMPTS,
        summary="find the contract the caller typed; 'several' when the number exists for "
        "more than one resource",
    ),
    "select_resource": ActionSpec(
        outcomes=frozenset({"found", "unknown"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"contract", "resource"}),
        sets={"resource_name": "prompt"},
        prompts=RESOURCE_PROMPTS,
        summary="pick the contract of the chosen resource (electricity, hot_water, cold_water)",
    ),
    "next_zone": ActionSpec(
        outcomes=frozenset({"zone", "meter", "done"}),
        sets={"zone": "prompt", "meter_number": "number"},
        prompts=ZONE_PROMPTS,
        summary="move to the next zone to ask; 'meter' when it is the first zone of another "
        "meter of the same contract, 'done' when every zone has a value",
    ),
    "check_reading": ActionSpec(
        outcomes=frozenset({"ok", "high", "rejected"}),
        failures=frozenset({"rejected"}),
        reads=frozenset({"value"}),
        sets={"value": "number", "reason": "prompt", "previous": "number"},
        prompts=REASON_PROMPTS,
        summary="check the typed value; 'high' means the consumption is unusual and needs "
        "the caller's confirmation",
    ),
    "keep_reading": ActionSpec(
        outcomes=frozenset({"kept"}),
        summary="remember the confirmed value of this zone (stored only at submit)",
    ),
    "submit_readings": ActionSpec(
        outcomes=frozenset({"accepted", "closed", "failed"}),
        summary="store every confirmed zone at once; 'closed' if the window has closed "
        "meanwhile, 'failed' if the database could not store them",
    ),
}


class Actions(Protocol):
    """Runs a named action of one call, reading and setting the call's variables."""

    def run(self, name: str, variables: Variables) -> str: ...
