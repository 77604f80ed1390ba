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
from dataclasses import dataclass
from datetime import UTC, datetime

from agi.readings.callers import DEFAULT_REGION, Guesser, GuessLimits, Limit, guesser, phone_number
from agi.readings.rules import (
    AcceptanceWindow,
    ConsumptionPolicy,
    Contract,
    Submission,
    Verdict,
    ZoneKey,
    ZoneStep,
    check_value,
    submission_of,
)
from agi.redact import mask_digits, printable
from agi.settings import Settings
from agi.storage.attempts import Attempts
from agi.storage.repository import Guard, GuardReached, Repository, SourceReused

log = logging.getLogger(__name__)

MAX_CONTRACT = 32
"""Digits of the longest contract number the database holds."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Submitted(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    """The call or message id already submitted other readings: nothing is stored."""


class IncompleteSubmission(ValueError):
    """A submission without a value for every zone of the contract."""


class LockedOut(Exception):
    """Too many failed attempts within the window: this caller, or this contract, is served
    by the operator only until the window has passed (`ivr db unlock` lifts it sooner)."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(f"locked out: {limit.value}")
        self.limit = limit


@dataclass(frozen=True)
class Found:
    """The contracts of a number a caller gave, and the contract number's failed attempts
    as they were counted before the look-up (below its limit: it was not locked out)."""

    contracts: list[Contract]
    refused: int


class ReadingsService:
    def __init__(
        self,
        repository: Repository,
        window: AcceptanceWindow,
        policy: ConsumptionPolicy,
        *,
        limits: GuessLimits | None = None,
        region: str = DEFAULT_REGION,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repository = repository
        self.window = window
        self.policy = policy
        self.limits = limits or GuessLimits()
        self.region = region
        self.attempts = Attempts(repository.engine)
        self.now = now

    @classmethod
    def configured(
        cls, settings: Settings, repository: Repository, *, now: Callable[[], datetime] = utc_now
    ) -> ReadingsService:
        """The service with the window, the consumption policy and the guessing limits of
        `settings`."""
        return cls(
            repository,
            settings.window,
            settings.consumption_policy,
            limits=settings.guess_limits,
            region=settings.caller_region,
            now=now,
        )

    def is_open(self, moment: datetime) -> bool:
        return self.window.is_open(moment)

    # --- who asks ---------------------------------------------------------------------------

    def caller_number(self, raw: str | None) -> str | None:
        """The caller's number as it is stored (E.164), or None when it is not a valid one."""
        return phone_number(raw, self.region)

    def guesser(self, raw: str | None, *, channel: str, sender: bool = False) -> Guesser:
        """Whose unknown contract numbers these are; a text `sender` without a phone number
        is counted by its own id."""
        return guesser(self.caller_number(raw), channel=channel, sender=raw if sender else None)

    # --- contracts --------------------------------------------------------------------------

    def contracts(self, number: str, moment: datetime) -> list[Contract]:
        """Every contract with this number that has meters, one per resource, with the
        previous readings of the period `moment` falls in."""
        if len(number) > MAX_CONTRACT:
            return []
        period = self.window.period(moment)
        return [c for c in self.repository.find_contracts(number, period) if c.meters]

    def caller_contracts(self, caller: str | None, moment: datetime) -> list[str]:
        """The contract numbers billing knows the caller's number (E.164) for, to offer them
        by their last four digits; none for a call without a number, or from a caller who is
        locked out for guessing (the contracts and the count are read together)."""
        if caller is None:
            return []
        numbers, failures = self.repository.contracts_of_phone_counting(
            caller, (Limit.CALLER, caller), moment - self.limits.window
        )
        return [] if self.limits.reached(Limit.CALLER, failures) else numbers

    def lookup(self, number: str, moment: datetime, *, by: Guesser) -> list[Contract]:
        """The contracts of `number` for a caller who typed or sent it. An unknown number
        counts towards the caller's limit; LockedOut when the caller has reached it (nothing
        of the number is then used: its counts and its contracts are read together), or the
        contract its own."""
        return self.find(number, moment, by=by).contracts

    def find(self, number: str, moment: datetime, *, by: Guesser) -> Found:
        """`lookup`, with the contract number's count of failed attempts it read."""
        since = moment - self.limits.window
        keys = [(by.limit, by.key), (Limit.CONTRACT, number)]
        if len(number) > MAX_CONTRACT:
            found, counted = [], [self.attempts.count(by.limit, by.key, since=since), 0]
        else:
            period = self.window.period(moment)
            found, counted = self.repository.find_contracts_counting(number, period, keys, since)
        guessed, refused = counted
        if self.limits.reached(by.limit, guessed):
            raise LockedOut(by.limit)
        contracts = [c for c in found if c.meters]
        if not contracts:
            self._count_failure(by.limit, by.key, moment)
            return Found([], 0)
        if self.limits.reached(Limit.CONTRACT, refused):
            raise LockedOut(Limit.CONTRACT)
        return Found(contracts, refused)

    def check(
        self,
        contract: Contract,
        step: ZoneStep,
        text: str,
        *,
        moment: datetime,
        refused: int | None = None,
    ) -> Verdict:
        """Check the value a customer gave for one zone. A refused value counts towards the
        contract's limit; LockedOut when the contract has reached it.

        `refused`: the contract's failed attempts as the look-up just before counted them
        (`find`); they are then not counted again before the value is checked. A lockout
        others reached in between still stops this value if it is refused (the count taken
        as its failure is added decides), and the submission in any case (it counts
        afresh)."""
        if refused is None:
            self._refuse_if_locked(Limit.CONTRACT, contract.number, moment)
        elif self.limits.reached(Limit.CONTRACT, refused):
            raise LockedOut(Limit.CONTRACT)
        verdict = check_value(
            text,
            resource=contract.resource,
            digits=step.meter.digits,
            register=step.register,
            policy=self.policy,
        )
        if verdict.reason is not None:
            self._count_failure(Limit.CONTRACT, contract.number, moment)
        return verdict

    def locked(self, limit: Limit, key: str, moment: datetime) -> bool:
        since = moment - self.limits.window
        return self.limits.reached(limit, self.attempts.count(limit, key, since=since))

    def unlock(self, limit: Limit, key: str) -> int:
        """Lift a lockout now: forget the failed attempts of `key`; how many there were."""
        cleared = self.attempts.clear(limit, key)
        log.warning("unlocked %s=%s (%d failed attempts forgotten)", limit, _shown(key), cleared)
        return cleared

    def lockouts(self, moment: datetime) -> dict[Limit, int]:
        """How many callers and contracts are locked out at `moment`, by limit."""
        counts = self.attempts.counts(since=moment - self.limits.window)
        return {
            limit: sum(
                1
                for (kind, _), failures in counts.items()
                if kind is limit and self.limits.reached(limit, failures)
            )
            for limit in Limit
        }

    def _refuse_if_locked(self, limit: Limit, key: str, moment: datetime) -> None:
        if self.locked(limit, key, moment):
            raise LockedOut(limit)

    def _count_failure(self, limit: Limit, key: str, moment: datetime) -> None:
        failures = self.attempts.add(limit, key, at=moment, window=self.limits.window)
        if self.limits.reached(limit, failures):
            if failures == self.limits.allowed(limit):
                log.warning(
                    "lockout: %s=%s after %d failed attempts within %d minutes; "
                    "the operator serves it",
                    limit,
                    _shown(key),
                    failures,
                    self.limits.window.total_seconds() // 60,
                )
            raise LockedOut(limit)

    # --- submissions ------------------------------------------------------------------------

    def submission(
        self,
        contract: Contract,
        values: Mapping[ZoneKey, int],
        *,
        channel: str,
        source_id: str,
        caller: str | None,
        moment: datetime,
        correlation_id: str | None = None,
        refused_by_submit: bool = False,
    ) -> Submission | None:
        """The submission of the checked values of every zone of `contract`, ready to store;
        None when the window is closed at `moment`. IncompleteSubmission when a zone has no
        value; LockedOut when the contract is locked out (with `refused_by_submit`, not
        counted here: `submit` counts in the transaction that stores it)."""
        if not self.window.is_open(moment):
            return None
        if not refused_by_submit:
            self._refuse_if_locked(Limit.CONTRACT, contract.number, moment)
        submission = submission_of(
            contract,
            values,
            channel=channel,
            source_id=source_id,
            caller=caller,
            period=self.window.period(moment),
            received_at=moment,
            correlation_id=correlation_id,
        )
        if submission is None:
            raise IncompleteSubmission("a submission needs a value for every zone")
        return submission

    def submit(self, submission: Submission, contract: Contract) -> Submitted:
        """Store a submission (`submission()` made it) of `contract`; ACCEPTED only once its
        rows are committed, or were, by this very submission before (a replay). LockedOut,
        with nothing stored, when the contract is locked out, counted in the transaction
        that would store it."""
        guard = Guard(
            (Limit.CONTRACT, contract.number),
            submission.received_at - self.limits.window,
            self.limits.allowed(Limit.CONTRACT),
        )
        try:
            result = self.repository.submit(submission, guard)
        except GuardReached as reached:
            raise LockedOut(reached.guard.key[0]) from None
        except SourceReused:
            log.warning(
                "source=%s: this id already submitted other readings; refused",
                printable(submission.source_id),
            )
            return Submitted.REFUSED
        if not result.stored:
            log.info(
                "source=%s: submitted before, nothing stored again",
                printable(submission.source_id),
            )
        return Submitted.ACCEPTED


def _shown(key: str) -> str:
    """A lockout's key as a log line may show it: a number masked, a messenger id's channel."""
    channel, _, rest = key.rpartition(":")
    return f"{channel}:{mask_digits(rest)}" if channel else mask_digits(key)
