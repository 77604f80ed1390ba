"""The domain actions a flow can name, and what each one needs, sets and can answer.

This table is what `ivr check` validates an `action` node against; the implementations
live in `agi.readings_call`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agi.domain import Reason, Resource, Zone

Value = str | int
Variables = dict[str, Value]


@dataclass(frozen=True)
class ActionSpec:
    outcomes: frozenset[str]
    summary: str
    failures: frozenset[str] = frozenset()
    """Outcomes that count towards the flow's `max_failures` in a row."""
    reads: frozenset[str] = frozenset()
    sets: frozenset[str] = frozenset()
    prompts: frozenset[str] = frozenset()
    """Prompt ids the action may put into a variable, to be said with `{prompt: variable}`."""


ZONE_PROMPTS = frozenset(f"zone_{zone.value}" for zone in Zone)
REASON_PROMPTS = frozenset(reason.prompt for reason in Reason)
RESOURCE_PROMPTS = frozenset(f"resource_{resource.value}" for resource in Resource)

ACTIONS: dict[str, ActionSpec] = {
    "check_window": ActionSpec(
        outcomes=frozenset({"open", "closed"}),
        sets=frozenset({"first_day", "last_day"}),
        summary="is today within the days readings are accepted",
    ),
    "lookup_contract": ActionSpec(
        outcomes=frozenset({"found", "several", "unknown"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"contract"}),
        sets=frozenset({"resource_name"}),
        prompts=RESOURCE_PROMPTS,
        summary="find the contract the caller typed; 'several' when the number exists for "
        "more than one resource",
    ),
    "select_resource": ActionSpec(
        outcomes=frozenset({"found", "unknown"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"contract", "resource"}),
        sets=frozenset({"resource_name"}),
        prompts=RESOURCE_PROMPTS,
        summary="pick the contract of the chosen resource (electricity, hot_water, cold_water)",
    ),
    "next_zone": ActionSpec(
        outcomes=frozenset({"zone", "meter", "done"}),
        sets=frozenset({"zone", "meter_number"}),
        prompts=ZONE_PROMPTS,
        summary="move to the next zone to ask; 'meter' when it is the first zone of another "
        "meter of the same contract, 'done' when every zone has a value",
    ),
    "check_reading": ActionSpec(
        outcomes=frozenset({"ok", "high", "rejected"}),
        failures=frozenset({"rejected"}),
        reads=frozenset({"value"}),
        sets=frozenset({"value", "reason", "previous"}),
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
