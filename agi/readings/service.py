"""The readings service: the one way every channel finds contracts, checks values and
submits readings.

The phone's actions (`agi.readings.call_actions`) and the text dialog (`agi.text.dialog`)
differ in how they talk to a customer, never in the rules: both come through here. A
database failure comes out as `StorageError`; what the customer then hears is the
channel's own policy.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from agi.readings.rules import (
    AcceptanceWindow,
    ConsumptionPolicy,
    Contract,
    Verdict,
    ZoneKey,
    ZoneStep,
    check_value,
    submission_of,
)
from agi.redact import mask_digits, printable
from agi.settings import Settings
from agi.storage.repository import Repository

log = logging.getLogger(__name__)

MAX_CONTRACT = 32
"""Digits of the longest contract number the database holds."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Submitted(enum.Enum):
    ACCEPTED = "accepted"
    CLOSED = "closed"
    """The window closed before the readings were given: nothing is stored."""


class IncompleteSubmission(ValueError):
    """A submission without a value for every zone of the contract."""


class ReadingsService:
    def __init__(
        self,
        repository: Repository,
        window: AcceptanceWindow,
        policy: ConsumptionPolicy,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repository = repository
        self.window = window
        self.policy = policy
        self.now = now

    @classmethod
    def configured(
        cls, settings: Settings, repository: Repository, *, now: Callable[[], datetime] = utc_now
    ) -> ReadingsService:
        """The service with the window and the consumption policy of `settings`."""
        return cls(repository, settings.window, settings.consumption_policy, now=now)

    def is_open(self, moment: datetime) -> bool:
        return self.window.is_open(moment)

    def contracts(self, number: str, moment: datetime) -> list[Contract]:
        """Every contract with this number that has meters, one per resource, with the
        previous readings of the period `moment` falls in."""
        if len(number) > MAX_CONTRACT:
            return []
        period = self.window.period(moment)
        return [c for c in self.repository.find_contracts(number, period) if c.meters]

    def check(self, contract: Contract, step: ZoneStep, text: str) -> Verdict:
        """Check the value a customer gave for one zone."""
        return check_value(
            text,
            resource=contract.resource,
            digits=step.meter.digits,
            register=step.register,
            policy=self.policy,
        )

    def submit(
        self,
        contract: Contract,
        values: Mapping[ZoneKey, int],
        *,
        channel: str,
        source_id: str,
        caller: str | None,
        moment: datetime,
    ) -> Submitted:
        """Store the checked values of every zone of `contract` at once, if the window is
        open at `moment`; IncompleteSubmission when a zone has no value."""
        if not self.window.is_open(moment):
            return Submitted.CLOSED
        submission = submission_of(
            contract,
            values,
            channel=channel,
            source_id=source_id,
            caller=caller,
            period=self.window.period(moment),
            received_at=moment,
        )
        if submission is None:
            raise IncompleteSubmission("a submission needs a value for every zone")
        result = self.repository.submit(submission)
        if not result.stored:
            log.info(
                "source=%s contract=%s: submitted before, nothing stored again",
                printable(source_id),
                mask_digits(contract.number),
            )
        return Submitted.ACCEPTED
