"""The actions a phone call's flow can name, and what they do for one call: find the
contract, walk its zones, check, keep and submit.

`ACTIONS` is what `ivr check` validates a flow's action nodes against, order included (a
flow cannot ask for a reading before a contract is found). Nothing is written until
`submit_readings`, so a caller who hangs up earlier leaves no trace.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from agi.dialog.actions import (
    ActionResult,
    ActionSpec,
    ActionUnavailable,
    Answers,
    Given,
    PromptRef,
    Stage,
)
from agi.readings.callers import guesser
from agi.readings.rules import (
    PHONE_CHANNEL,
    Contract,
    Reason,
    Resource,
    Zone,
    ZoneKey,
    ZoneStep,
    zone_steps,
)
from agi.readings.service import IncompleteSubmission, LockedOut, ReadingsService, Submitted
from agi.redact import mask_digits, printable
from agi.storage.database import StorageError

log = logging.getLogger(__name__)

ZONE_PROMPTS = frozenset(f"zone_{zone.value}" for zone in Zone)
REASON_PROMPTS = frozenset(reason.prompt for reason in Reason)
RESOURCE_PROMPTS = frozenset(f"resource_{resource.value}" for resource in Resource)
DAY_PROMPTS = frozenset(f"{end}_day_{day}" for end in ("from", "to") for day in range(1, 32))
"""«с восемнадцатого», «по двадцать пятое»: the days of the window in words, as prompts."""


def resource_menu_prompt(resources: Iterable[Resource]) -> str:
    """The prompt that offers exactly these resources (keys 1, 2, 3 in `Resource` order)."""
    chosen = set(resources)
    return "choose_" + "_".join(r.value for r in Resource if r in chosen)


RESOURCE_MENU_PROMPTS = frozenset(
    resource_menu_prompt(combination)
    for size in (2, 3)
    for combination in itertools.combinations(Resource, size)
)

CALLER_CONTRACTS = ("one", "two", "three")
"""The outcomes of find_caller_contracts by how many contracts the caller's number has."""
CALLER_DIGITS = 4
"""How much of a pre-filled contract number the line says: its last four digits."""

CALLER_KNOWN = Stage("caller-known", "find_caller_contracts answering one, two or three")
LOOKED_UP = Stage("looked-up", "lookup_contract answering 'found' or 'several'")
CONTRACT = Stage("contract", "lookup_contract or select_resource answering 'found'")
ZONE = Stage("zone", "next_zone answering 'zone' or 'meter'")
READING = Stage("reading", "check_reading answering 'ok' or 'high'")
ALL_ZONES = Stage("all-zones", "next_zone answering 'done'")

ACTIONS: dict[str, ActionSpec] = {
    "check_window": ActionSpec(
        outcomes=frozenset({"open", "closed"}),
        sets={
            "first_day": "number",
            "last_day": "number",
            "from_day": "prompt",
            "to_day": "prompt",
        },
        prompts=DAY_PROMPTS,
    ),
    "find_caller_contracts": ActionSpec(
        outcomes=frozenset({*CALLER_CONTRACTS, "none"}),
        sets={f"caller_contract_{n}": "digits" for n in range(1, len(CALLER_CONTRACTS) + 1)},
        reaches={outcome: frozenset({CALLER_KNOWN}) for outcome in CALLER_CONTRACTS},
        undoes=frozenset({CALLER_KNOWN}),
    ),
    "use_caller_contract": ActionSpec(
        outcomes=frozenset({"found", "several", "unknown", "locked"}),
        reads=frozenset({"caller_choice"}),
        choices={"caller_choice": frozenset(str(n) for n in range(1, len(CALLER_CONTRACTS) + 1))},
        sets={"resource_name": "prompt", "resource_menu": "prompt"},
        prompts=RESOURCE_PROMPTS | RESOURCE_MENU_PROMPTS,
        needs=frozenset({CALLER_KNOWN}),
        reaches={
            "found": frozenset({LOOKED_UP, CONTRACT}),
            "several": frozenset({LOOKED_UP}),
        },
        undoes=frozenset({LOOKED_UP, CONTRACT, ZONE, READING, ALL_ZONES}),
    ),
    "lookup_contract": ActionSpec(
        outcomes=frozenset({"found", "several", "unknown", "locked"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"contract"}),
        sets={"resource_name": "prompt", "resource_menu": "prompt"},
        prompts=RESOURCE_PROMPTS | RESOURCE_MENU_PROMPTS,
        reaches={
            "found": frozenset({LOOKED_UP, CONTRACT}),
            "several": frozenset({LOOKED_UP}),
        },
        undoes=frozenset({LOOKED_UP, CONTRACT, ZONE, READING, ALL_ZONES}),
    ),
    "select_resource": ActionSpec(
        outcomes=frozenset({"found", "unknown"}),
        failures=frozenset({"unknown"}),
        reads=frozenset({"resource"}),
        choices={"resource": frozenset(r.value for r in Resource)},
        sets={"resource_name": "prompt"},
        prompts=RESOURCE_PROMPTS,
        needs=frozenset({LOOKED_UP}),
        reaches={"found": frozenset({CONTRACT})},
        undoes=frozenset({CONTRACT, ZONE, READING, ALL_ZONES}),
    ),
    "next_zone": ActionSpec(
        outcomes=frozenset({"zone", "meter", "done"}),
        sets={"zone": "prompt", "meter_number": "number"},
        prompts=ZONE_PROMPTS,
        needs=frozenset({CONTRACT}),
        reaches={
            "zone": frozenset({ZONE}),
            "meter": frozenset({ZONE}),
            "done": frozenset({ALL_ZONES}),
        },
        undoes=frozenset({ZONE, READING, ALL_ZONES}),
    ),
    "check_reading": ActionSpec(
        outcomes=frozenset({"ok", "high", "rejected", "locked"}),
        failures=frozenset({"rejected"}),
        reads=frozenset({"value"}),
        sets={"reading": "number", "reason": "prompt", "previous": "number"},
        prompts=REASON_PROMPTS,
        needs=frozenset({ZONE}),
        reaches={"ok": frozenset({READING}), "high": frozenset({READING})},
        undoes=frozenset({READING}),
    ),
    "keep_reading": ActionSpec(
        outcomes=frozenset({"kept"}),
        needs=frozenset({READING}),
        undoes=frozenset({READING}),
    ),
    "submit_readings": ActionSpec(
        outcomes=frozenset({"accepted", "closed", "failed"}),
        needs=frozenset({ALL_ZONES}),
    ),
}
"""The actions of the phone's flow. `find_caller_contracts` answers how many contracts billing
knows the caller's number for (`none` for none, more than three, no caller number, or a
caller locked out), giving the last four digits of each to say; `use_caller_contract` takes
the one a menu chose (`caller_choice`, 1 when there is one) as `lookup_contract` takes a
typed one. `next_zone` answers 'meter' at the first zone of
another meter of the same contract; `check_reading` answers 'high' when the consumption is
unusual and needs the caller's confirmation; `submit_readings` answers 'closed' if the
window closed meanwhile and 'failed' if the readings were not stored (the database failed,
the call's id submitted other readings, or the contract was locked out meanwhile).
`lookup_contract` and `check_reading` answer 'locked' when the caller (too many unknown
contract numbers) or the contract (too many refused readings) is locked out: the operator
takes over, and nothing says whether the number exists."""


ACCEPTED = "accepted"
"""How a call whose readings are stored is marked on its channel."""

UNKNOWN_CONTRACT = "unknown_contract"
LOCKED_OUT = "locked_out"
"""Refusals beside a value's `Reason`: no contract has the number; a guessing limit."""


class ActionOutOfOrder(RuntimeError):
    """A flow ran an action before what it needs (`ivr check` refuses such flows)."""


class CallActions:
    """The `Actions` of one phone call against the readings service."""

    def __init__(
        self,
        readings: ReadingsService,
        *,
        source_id: str,
        caller: str | None,
        correlation_id: str | None = None,
        now: Callable[[], datetime] | None = None,
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        self.readings = readings
        self.on_accepted = on_accepted
        """Called once the readings are stored, before the caller is told."""
        self.source_id = source_id
        self.correlation_id = correlation_id
        self.caller = readings.caller_number(caller)
        self.guesser = guesser(self.caller, channel=PHONE_CHANNEL)  # the number parsed once
        self.now = now or readings.now
        self.caller_contracts: list[str] = []
        self.contracts: list[Contract] = []
        self.refused: int | None = None
        """The contract's failed attempts as its look-up counted them, until the first value
        checked after it (`ReadingsService.check`)."""
        self.contract: Contract | None = None
        self.steps: list[ZoneStep] = []
        self.position = -1
        self.pending: int | None = None
        self.kept: dict[ZoneKey, int] = {}
        self.accepted = False
        self.refusals: list[str] = []
        """Why the caller was refused, in order: `unknown_contract`, a refused value's
        `Reason`, `locked_out` (the call record keeps them)."""

    def run(self, name: str, answers: Answers) -> ActionResult:
        if name not in ACTIONS:
            raise KeyError(f"unknown action {name}")
        result: ActionResult = getattr(self, name)(answers)
        assert result.outcome in ACTIONS[name].outcomes, (name, result.outcome)
        return result

    def check_window(self, _answers: Answers) -> ActionResult:
        window = self.readings.window
        outcome = "open" if window.is_open(self.now()) else "closed"
        return ActionResult(
            outcome,
            {
                "first_day": window.first_day,
                "last_day": window.last_day,
                "from_day": PromptRef(f"from_day_{window.first_day}"),
                "to_day": PromptRef(f"to_day_{window.last_day}"),
            },
        )

    def find_caller_contracts(self, _answers: Answers) -> ActionResult:
        self.caller_contracts = []
        try:
            numbers = self.readings.caller_contracts(self.caller, self.now())
        except StorageError as error:
            raise ActionUnavailable(str(error)) from error
        log.info("call=%s caller's contracts=%d", printable(self.source_id), len(numbers))
        if not 1 <= len(numbers) <= len(CALLER_CONTRACTS):
            return ActionResult("none")
        self.caller_contracts = numbers
        ends = {
            f"caller_contract_{n}": number[-CALLER_DIGITS:] for n, number in enumerate(numbers, 1)
        }
        return ActionResult(CALLER_CONTRACTS[len(numbers) - 1], ends)

    def use_caller_contract(self, answers: Answers) -> ActionResult:
        choice = answers.get("caller_choice", "1")
        index = int(choice) - 1 if choice.isdigit() else -1
        if not 0 <= index < len(self.caller_contracts):
            return ActionResult("unknown")
        return self.lookup_contract({"contract": self.caller_contracts[index]})

    def lookup_contract(self, answers: Answers) -> ActionResult:
        number = answers.get("contract", "")
        self.contract = None
        self.contracts = []
        self.refused = None
        try:
            found = self.readings.find(number, self.now(), by=self.guesser)
        except LockedOut as locked:
            log.info("call=%s locked out (%s)", printable(self.source_id), locked.limit)
            self.refusals.append(LOCKED_OUT)
            return ActionResult("locked")
        except StorageError as error:
            raise ActionUnavailable(str(error)) from error
        self.contracts, self.refused = found.contracts, found.refused
        log.info(
            "call=%s contract=%s found=%d",
            printable(self.source_id),
            mask_digits(number),
            len(self.contracts),
        )
        if not self.contracts:
            self.refusals.append(UNKNOWN_CONTRACT)
            return ActionResult("unknown")
        if len(self.contracts) > 1:
            menu = resource_menu_prompt(c.resource for c in self.contracts)
            return ActionResult("several", {"resource_menu": PromptRef(menu)})
        return ActionResult("found", self._select(self.contracts[0]))

    def select_resource(self, answers: Answers) -> ActionResult:
        wanted = answers.get("resource", "")
        for contract in self.contracts:
            if contract.resource == wanted:
                return ActionResult("found", self._select(contract))
        return ActionResult("unknown")

    def _select(self, contract: Contract) -> dict[str, Given]:
        self.contract = contract
        self.steps = zone_steps(contract)
        self.position = -1
        self.pending = None
        self.kept = {}
        return {"resource_name": PromptRef(f"resource_{contract.resource.value}")}

    def next_zone(self, _answers: Answers) -> ActionResult:
        contract = self._contract()
        self.position += 1
        self.pending = None
        if self.position >= len(self.steps):
            return ActionResult("done")
        step = self.steps[self.position]
        values: dict[str, Given] = {
            "zone": PromptRef(f"zone_{step.register.zone.value}"),
            "meter_number": step.meter_index + 1,
        }
        another_meter = step.first_of_meter and len(contract.meters) > 1
        return ActionResult("meter" if another_meter else "zone", values)

    def check_reading(self, answers: Answers) -> ActionResult:
        step = self._current()
        refused, self.refused = self.refused, None
        try:
            verdict = self.readings.check(
                self._contract(), step, answers.get("value", ""), moment=self.now(), refused=refused
            )
        except LockedOut as locked:
            self.pending = None
            log.info("call=%s locked out (%s)", printable(self.source_id), locked.limit)
            self.refusals.append(LOCKED_OUT)
            return ActionResult("locked")
        except StorageError as error:
            raise ActionUnavailable(str(error)) from error
        values: dict[str, Given] = {}
        if step.register.previous is not None:
            values["previous"] = step.register.previous
        self.pending = None
        if verdict.reason is not None:
            values["reason"] = PromptRef(verdict.reason.prompt)
            self.refusals.append(verdict.reason.value)
            return ActionResult("rejected", values)
        assert verdict.value is not None
        values["reading"] = verdict.value
        self.pending = verdict.value
        return ActionResult("high" if verdict.needs_confirmation else "ok", values)

    def keep_reading(self, _answers: Answers) -> ActionResult:
        step = self._current()
        if self.pending is None:
            raise ActionOutOfOrder("keep_reading without a reading check_reading accepted")
        self.kept[step.key] = self.pending
        self.pending = None
        return ActionResult("kept")

    def submit_readings(self, _answers: Answers) -> ActionResult:
        contract = self._contract()
        try:
            submission = self.readings.submission(
                contract,
                self.kept,
                channel=PHONE_CHANNEL,
                source_id=self.source_id,
                caller=self.caller,
                moment=self.now(),
                correlation_id=self.correlation_id,
                refused_by_submit=True,
            )
            if submission is None:
                return ActionResult("closed")
            submitted = self.readings.submit(submission, contract)
        except IncompleteSubmission:
            log.error("call=%s submit before every zone was kept", printable(self.source_id))
            return ActionResult("failed")
        except StorageError:
            log.exception("call=%s the readings could not be stored", printable(self.source_id))
            return ActionResult("failed")
        except LockedOut:
            log.info("call=%s the contract was locked out meanwhile", printable(self.source_id))
            return ActionResult("failed")
        if submitted is Submitted.REFUSED:
            return ActionResult("failed")
        self.accepted = True
        self.on_accepted()
        return ActionResult("accepted")

    def _contract(self) -> Contract:
        if self.contract is None:
            raise ActionOutOfOrder("an action that needs a contract ran before one was found")
        return self.contract

    def _current(self) -> ZoneStep:
        if not 0 <= self.position < len(self.steps):
            raise ActionOutOfOrder("an action that needs a zone ran before next_zone chose one")
        return self.steps[self.position]
