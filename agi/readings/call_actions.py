"""The domain actions of one call: find the contract, walk its zones, check, keep and submit.

Nothing is written until `submit_readings`, so a caller who hangs up earlier leaves no trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from agi.dialog.actions import ACTIONS, Variables, resource_menu_prompt
from agi.readings.rules import (
    AcceptanceWindow,
    ConsumptionPolicy,
    Contract,
    Meter,
    Register,
    Resource,
    Zone,
    check_value,
)
from agi.redact import mask_digits, printable
from agi.storage.repository import MeterReadings, Repository, Submission

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Step:
    """One zone of one meter of a contract, as it is asked."""

    meter_index: int
    meter: Meter
    register: Register


def steps_of(contract: Contract) -> list[Step]:
    """Every zone of every meter of a contract, in the order a caller gives them."""
    return [
        Step(index, meter, register)
        for index, meter in enumerate(contract.meters)
        for register in meter.registers
    ]


def submission_of(
    contract: Contract,
    kept: Mapping[tuple[int, Zone], int],
    *,
    channel: str,
    source_id: str,
    caller: str | None,
    period: str,
    received_at: datetime,
) -> Submission | None:
    """The kept values of every zone, grouped by meter; None while any zone is missing."""
    if len(kept) != len(steps_of(contract)):
        return None
    return Submission(
        channel=channel,
        source_id=source_id,
        caller=caller,
        period=period,
        received_at=received_at,
        meters=tuple(
            MeterReadings(
                meter_id=meter.id,
                values=tuple((zone, kept[(meter.id, zone)]) for zone in meter.zones),
            )
            for meter in contract.meters
        ),
    )


class ReadingsCall:
    """The `Actions` of one call (or one text conversation) against the readings database."""

    def __init__(
        self,
        repository: Repository,
        window: AcceptanceWindow,
        policy: ConsumptionPolicy,
        *,
        source_id: str,
        caller: str | None,
        channel: str = "ivr",
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repository = repository
        self.window = window
        self.policy = policy
        self.source_id = source_id
        self.caller = caller
        self.channel = channel
        self.now = now
        self.contracts: list[Contract] = []
        self.contract: Contract | None = None
        self.steps: list[Step] = []
        self.position = -1
        self.pending: int | None = None
        self.kept: dict[tuple[int, Zone], int] = {}
        self.accepted = False

    def run(self, name: str, variables: Variables) -> str:
        if name not in ACTIONS:
            raise KeyError(f"unknown action {name}")
        outcome: str = getattr(self, name)(variables)
        assert outcome in ACTIONS[name].outcomes, (name, outcome)
        return outcome

    def check_window(self, variables: Variables) -> str:
        variables["first_day"] = self.window.first_day
        variables["last_day"] = self.window.last_day
        return "open" if self.window.is_open(self.now()) else "closed"

    def lookup_contract(self, variables: Variables) -> str:
        number = str(variables["contract"])
        period = self.window.period(self.now())
        self.contracts = [c for c in self.repository.find_contracts(number, period) if c.meters]
        log.info(
            "call=%s contract=%s found=%d",
            printable(self.source_id),
            mask_digits(number),
            len(self.contracts),
        )
        if not self.contracts:
            return "unknown"
        if len(self.contracts) > 1:
            variables["resource_menu"] = resource_menu_prompt(c.resource for c in self.contracts)
            return "several"
        self._select(self.contracts[0], variables)
        return "found"

    def select_resource(self, variables: Variables) -> str:
        wanted = str(variables.get("resource", ""))
        for contract in self.contracts:
            if contract.resource == wanted:
                self._select(contract, variables)
                return "found"
        return "unknown"

    def _select(self, contract: Contract, variables: Variables) -> None:
        self.contract = contract
        self.steps = steps_of(contract)
        self.position = -1
        self.kept = {}
        variables["resource_name"] = f"resource_{Resource(contract.resource).value}"

    def next_zone(self, variables: Variables) -> str:
        self.position += 1
        if self.position >= len(self.steps):
            return "done"
        step = self.steps[self.position]
        variables["zone"] = f"zone_{step.register.zone.value}"
        variables["meter_number"] = step.meter_index + 1
        first_of_meter = step.register == step.meter.registers[0]
        return "meter" if first_of_meter and len(self._contract().meters) > 1 else "zone"

    def _contract(self) -> Contract:
        if self.contract is None:
            raise RuntimeError("the flow asks for readings before a contract was found")
        return self.contract

    def _current(self) -> Step:
        if not 0 <= self.position < len(self.steps):
            raise RuntimeError("the flow checks a reading before next_zone chose a zone")
        return self.steps[self.position]

    def check_reading(self, variables: Variables) -> str:
        step = self._current()
        verdict = check_value(
            str(variables.get("value", "")),
            resource=self._contract().resource,
            digits=step.meter.digits,
            register=step.register,
            policy=self.policy,
        )
        if step.register.previous is not None:
            variables["previous"] = step.register.previous
        if verdict.reason is not None:
            variables["reason"] = verdict.reason.prompt
            self.pending = None
            return "rejected"
        assert verdict.value is not None
        variables["value"] = verdict.value
        self.pending = verdict.value
        return "high" if verdict.needs_confirmation else "ok"

    def keep_reading(self, variables: Variables) -> str:
        step = self._current()
        if self.pending is None:
            raise RuntimeError("the flow keeps a reading that check_reading did not accept")
        self.kept[(step.meter.id, step.register.zone)] = self.pending
        self.pending = None
        return "kept"

    def submission(self, now: datetime) -> Submission | None:
        """Every zone the caller confirmed, grouped by meter; None while any zone is missing."""
        if self.contract is None:
            return None
        return submission_of(
            self.contract,
            self.kept,
            channel=self.channel,
            source_id=self.source_id,
            caller=self.caller,
            period=self.window.period(now),
            received_at=now,
        )

    def submit_readings(self, variables: Variables) -> str:
        now = self.now()
        if not self.window.is_open(now):
            return "closed"
        submission = self.submission(now)
        if submission is None:
            log.error("call=%s submit before every zone was kept", printable(self.source_id))
            return "failed"
        try:
            self.repository.submit(submission)
        except SQLAlchemyError:
            log.exception("call=%s the readings could not be stored", printable(self.source_id))
            return "failed"
        self.accepted = True
        return "accepted"
