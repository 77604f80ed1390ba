"""Rules of the meter-readings business: resources, tariff zones, the acceptance window, validation.

Plain functions and values only: no I/O, no database, no telephony.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


class Resource(enum.StrEnum):
    ELECTRICITY = "electricity"
    HOT_WATER = "hot_water"
    COLD_WATER = "cold_water"


class Zone(enum.StrEnum):
    SINGLE = "single"
    DAY = "day"
    NIGHT = "night"
    PEAK = "peak"
    SEMIPEAK = "semipeak"


ZONES_BY_COUNT: dict[int, tuple[Zone, ...]] = {
    1: (Zone.SINGLE,),
    2: (Zone.DAY, Zone.NIGHT),
    3: (Zone.PEAK, Zone.SEMIPEAK, Zone.NIGHT),
}
"""The fixed order in which the zones of a meter are asked, by the number of its zones."""


def zones_for(count: int) -> tuple[Zone, ...]:
    """The zones of a meter with `count` tariff zones, in the order they are asked."""
    try:
        return ZONES_BY_COUNT[count]
    except KeyError:
        raise ValueError(f"a meter has 1, 2 or 3 tariff zones, not {count}") from None


def zone_count_of(zones: set[Zone] | frozenset[Zone]) -> int | None:
    """How many tariff zones a set of zones describes, or None when it is not a valid set."""
    for count, ordered in ZONES_BY_COUNT.items():
        if set(ordered) == set(zones):
            return count
    return None


@dataclass(frozen=True)
class Register:
    """One tariff zone of a meter: what was last accepted and what is normal for it."""

    zone: Zone
    previous: int | None = None
    average: int | None = None


@dataclass(frozen=True)
class Meter:
    id: int
    serial: str
    digits: int
    registers: tuple[Register, ...]

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(register.zone for register in self.registers)


@dataclass(frozen=True)
class Contract:
    id: int
    number: str
    resource: Resource
    meters: tuple[Meter, ...] = field(default=())


ZoneKey = tuple[int, Zone]
"""One zone of one meter: (meter id, zone)."""


@dataclass(frozen=True)
class ZoneStep:
    """One zone of one meter of a contract, as it is asked."""

    meter_index: int
    meter: Meter
    register: Register

    @property
    def key(self) -> ZoneKey:
        return (self.meter.id, self.register.zone)

    @property
    def first_of_meter(self) -> bool:
        return self.register == self.meter.registers[0]


def zone_steps(contract: Contract) -> list[ZoneStep]:
    """Every zone of every meter of a contract, in the order a customer gives them."""
    return [
        ZoneStep(index, meter, register)
        for index, meter in enumerate(contract.meters)
        for register in meter.registers
    ]


# --- a submission ------------------------------------------------------------------------

PHONE_CHANNEL = "ivr"
"""The channel of readings given by phone (texts carry theirs: sms, viber, whatsapp)."""


@dataclass(frozen=True)
class MeterReadings:
    """The values of every zone of one meter, in the meter's zone order."""

    meter_id: int
    values: tuple[tuple[Zone, int], ...]


@dataclass(frozen=True)
class Submission:
    """Every zone of a contract's meters, given at once by one call or one message."""

    channel: str
    source_id: str
    """The IVR's id of the call, or the message id: the same source stores once."""
    caller: str | None
    period: str
    received_at: datetime
    meters: tuple[MeterReadings, ...]
    correlation_id: str | None = None
    """What the telephone system calls the call (Asterisk's `system/uniqueid`), for its logs."""

    def content(self) -> dict[int, SubmittedContent]:
        """What another submission from the same source must hold, meter by meter, to be a
        replay of this one rather than a different submission that reuses its id."""
        return {meter.meter_id: (self.caller, self.period, meter.values) for meter in self.meters}


SubmittedContent = tuple[str | None, str, tuple[tuple[Zone, int], ...]]
"""One meter of a submission as a replay must repeat it: the caller, the period, the values."""


def submission_of(
    contract: Contract,
    values: Mapping[ZoneKey, int],
    *,
    channel: str,
    source_id: str,
    caller: str | None,
    period: str,
    received_at: datetime,
    correlation_id: str | None = None,
) -> Submission | None:
    """The values of every zone, grouped by meter; None while any zone is missing."""
    if set(values) != {step.key for step in zone_steps(contract)}:
        return None
    return Submission(
        channel=channel,
        source_id=source_id,
        caller=caller,
        period=period,
        received_at=received_at,
        correlation_id=correlation_id,
        meters=tuple(
            MeterReadings(
                meter_id=meter.id,
                values=tuple((zone, values[(meter.id, zone)]) for zone in meter.zones),
            )
            for meter in contract.meters
        ),
    )


# --- the acceptance window -------------------------------------------------------------


@dataclass(frozen=True)
class AcceptanceWindow:
    """Days of the month (inclusive) on which readings are accepted, in the company's time zone."""

    first_day: int = 18
    last_day: int = 25
    timezone: str = "Europe/Moscow"

    def __post_init__(self) -> None:
        _check_days(self.first_day, self.last_day)
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # not for a process without readings

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r}; use a name such as Europe/Moscow"
            ) from None

    def local_date(self, moment: datetime) -> date:
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo(self.timezone)).date()

    def is_open(self, moment: datetime) -> bool:
        return self.first_day <= self.local_date(moment).day <= self.last_day

    def period(self, moment: datetime) -> str:
        """The billing period (YYYY-MM) that a reading given at `moment` belongs to."""
        return self.local_date(moment).strftime("%Y-%m")


ACCEPT_DAYS_PATTERN = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


def parse_accept_days(text: str) -> tuple[int, int]:
    """Read an acceptance window written as `18-25`."""
    match = ACCEPT_DAYS_PATTERN.match(text)
    if not match:
        raise ValueError(
            f"acceptance days are written as FIRST-LAST, for example 18-25, not {text!r}"
        )
    first, last = int(match[1]), int(match[2])
    _check_days(first, last)
    return first, last


def _check_days(first: int, last: int) -> None:
    if not (1 <= first <= last <= 31):
        raise ValueError(
            "acceptance days must be days of the month 1-31, the first not after the last "
            f"(for example 18-25), not {first}-{last}"
        )


# --- validation of one value ----------------------------------------------------------


class Reason(enum.StrEnum):
    """Why a value was refused; each has a prompt that says it to the caller."""

    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    TOO_MANY_DIGITS = "too_many_digits"
    BELOW_PREVIOUS = "below_previous"

    @property
    def prompt(self) -> str:
        return f"reason_{self.value}"


@dataclass(frozen=True)
class ConsumptionPolicy:
    """When a consumption is unusual enough to ask the caller to confirm it explicitly.

    A value is questioned when its consumption exceeds `multiple` times the register's
    average, and never below the resource's floor (so a meter with a tiny average is not
    questioned for every ordinary month). Without an average, only the floor applies.
    """

    multiple: float = 3.0
    floors: tuple[tuple[Resource, int], ...] = (
        (Resource.ELECTRICITY, 1000),
        (Resource.HOT_WATER, 30),
        (Resource.COLD_WATER, 30),
    )
    rollover_margin: float = 0.1

    def threshold(self, resource: Resource, average: int | None) -> float:
        """The consumption above which the caller is asked to confirm."""
        return max(dict(self.floors)[resource], self.multiple * (average or 0))


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one value: accepted, accepted if the caller confirms, or refused."""

    value: int | None
    reason: Reason | None = None
    consumption: int | None = None
    needs_confirmation: bool = False


def parse_value(text: str) -> int | Reason:
    """The number a caller typed, leading zeros dropped (011638 means 11638)."""
    text = text.strip()
    if not text:
        return Reason.EMPTY
    if not (text.isascii() and text.isdigit()):
        return Reason.NOT_DIGITS
    return int(text)


def check_value(
    text: str, *, resource: Resource, digits: int, register: Register, policy: ConsumptionPolicy
) -> Verdict:
    """Check one typed value against one register of a meter with `digits` whole digits."""
    value = parse_value(text)
    if isinstance(value, Reason):
        return Verdict(value=None, reason=value)
    if len(str(value)) > digits:
        return Verdict(value=value, reason=Reason.TOO_MANY_DIGITS)
    consumption = consumption_since(register.previous, value, digits=digits, policy=policy)
    if consumption is None:
        return Verdict(value=value, reason=Reason.BELOW_PREVIOUS)
    needs_confirmation = consumption > policy.threshold(resource, register.average)
    return Verdict(value=value, consumption=consumption, needs_confirmation=needs_confirmation)


def consumption_since(
    previous: int | None, value: int, *, digits: int, policy: ConsumptionPolicy
) -> int | None:
    """How much was used since `previous`, counting a roll-over past the dial's maximum.

    None when the value is lower than the previous one and that cannot be a roll-over: a
    roll-over is when the previous value was in the top margin of the dial and the new one
    is in the bottom margin.
    """
    if previous is None:
        return 0
    if value >= previous:
        return value - previous
    modulus = 10**digits
    margin = modulus * policy.rollover_margin
    if previous >= modulus - margin and value < margin:
        return modulus - previous + value
    return None
