"""The billing system's side: the contracts CSV we import and the readings CSV we export.

Contracts CSV, one row per tariff zone of a meter (UTF-8, comma separated, header row):

    resource   electricity | hot_water | cold_water
    contract   the contract number, digits only
    meter      the meter's serial number
    digits     how many whole digits the meter's dial shows (1-12)
    zone       single | day | night | peak | semipeak; a meter has single, or day+night,
               or peak+semipeak+night
    previous   the last reading billing accepted for this zone (may be empty)
    average    the zone's usual monthly consumption (may be empty)

Readings CSV (export), one row per zone of every current submission of a period:

    period, resource, contract, meter, zone, value, channel, received_at (ISO 8601, UTC)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import IO, TypeVar

from agi.domain import Register, Resource, Zone, zone_count_of
from agi.repository import ExportRow, MeterRecord

E = TypeVar("E", Resource, Zone)

CONTRACT_COLUMNS = ("resource", "contract", "meter", "digits", "zone", "previous", "average")
EXPORT_COLUMNS = (
    "period",
    "resource",
    "contract",
    "meter",
    "zone",
    "value",
    "channel",
    "received_at",
)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(Exception):
    """The file has bad rows; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


@dataclass
class _MeterDraft:
    line: int
    resource: Resource
    contract: str
    serial: str
    digits: int
    registers: dict[Zone, Register] = field(default_factory=dict)


def read_contracts(stream: IO[str]) -> list[MeterRecord]:
    """Parse the contracts CSV; raise ImportRejected listing every bad row."""
    reader = csv.DictReader(stream)
    errors: list[RowError] = []
    missing = [name for name in CONTRACT_COLUMNS if name not in (reader.fieldnames or [])]
    if missing:
        raise ImportRejected(
            [
                RowError(
                    1,
                    f"the header lacks the column(s) {', '.join(missing)}; expected "
                    f"{','.join(CONTRACT_COLUMNS)}",
                )
            ]
        )
    drafts: dict[tuple[Resource, str, str], _MeterDraft] = {}
    for row in reader:
        line = reader.line_num
        problems: list[str] = []
        parsed = _parse_row(row, problems)
        if parsed is None:
            errors.extend(RowError(line, problem) for problem in problems)
            continue
        resource, contract, serial, digits, register = parsed
        key = (resource, contract, serial)
        draft = drafts.setdefault(key, _MeterDraft(line, resource, contract, serial, digits))
        if draft.digits != digits:
            errors.append(
                RowError(
                    line,
                    f"meter {serial} has digits {draft.digits} on line "
                    f"{draft.line} but {digits} here",
                )
            )
        elif register.zone in draft.registers:
            errors.append(RowError(line, f"meter {serial} lists zone {register.zone} twice"))
        else:
            draft.registers[register.zone] = register
    records = []
    for draft in drafts.values():
        count = zone_count_of(frozenset(draft.registers))
        if count is None:
            zones = ", ".join(sorted(draft.registers))
            errors.append(
                RowError(
                    draft.line,
                    f"meter {draft.serial} has zones {zones}; a meter "
                    "has single, or day and night, or peak, semipeak and night",
                )
            )
            continue
        records.append(
            MeterRecord(
                resource=draft.resource,
                contract=draft.contract,
                serial=draft.serial,
                digits=draft.digits,
                registers=tuple(draft.registers.values()),
            )
        )
    if errors:
        raise ImportRejected(sorted(errors, key=lambda error: error.line))
    return records


def _parse_row(
    row: dict[str, str | None], problems: list[str]
) -> tuple[Resource, str, str, int, Register] | None:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    resource = _choice(cell("resource"), Resource, "resource", problems)
    contract = cell("contract")
    if not (contract.isascii() and contract.isdigit() and len(contract) <= 32):
        problems.append(f"contract {contract!r} must be digits only (at most 32)")
    serial = cell("meter")
    if not serial or len(serial) > 64:
        problems.append("meter serial number is empty or longer than 64 characters")
    digits = _number(cell("digits"), "digits", problems, required=True)
    if digits is not None and not 1 <= digits <= 12:
        problems.append(f"digits must be between 1 and 12, not {digits}")
    zone = _choice(cell("zone"), Zone, "zone", problems)
    previous = _number(cell("previous"), "previous", problems)
    average = _number(cell("average"), "average", problems)
    if previous is not None and digits is not None and len(str(previous)) > digits:
        problems.append(f"previous {previous} has more than {digits} digits")
    if problems or resource is None or zone is None or digits is None:
        return None
    return resource, contract, serial, digits, Register(zone, previous, average)


def _choice(text: str, kind: type[E], column: str, problems: list[str]) -> E | None:
    try:
        return kind(text)
    except ValueError:
        allowed = " | ".join(member.value for member in kind)
        problems.append(f"{column} {text!r} is not one of {allowed}")
        return None


def _number(text: str, column: str, problems: list[str], *, required: bool = False) -> int | None:
    if not text:
        if required:
            problems.append(f"{column} is empty")
        return None
    if not (text.isascii() and text.isdigit()):
        problems.append(f"{column} {text!r} must be a whole number without signs or decimals")
        return None
    return int(text)


def write_readings(rows: Iterable[ExportRow], stream: IO[str]) -> int:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        received = row.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        writer.writerow(
            [
                row.period,
                row.resource,
                row.contract,
                row.meter,
                row.zone,
                row.value,
                row.channel,
                received.astimezone(UTC).isoformat(timespec="seconds"),
            ]
        )
        count += 1
    return count
