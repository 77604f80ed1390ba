"""The billing system's side: the contracts CSV we import and the readings CSV we export.

Contracts CSV, one row per tariff zone of a meter (UTF-8, comma separated, header row; a
byte-order mark and Excel's semicolons are accepted too):

    resource   electricity | hot_water | cold_water
    contract   the contract number, digits only
    meter      the meter's serial number
    digits     how many whole digits the meter's dial shows (1-12)
    zone       single | day | night | peak | semipeak; a meter has single, or day+night,
               or peak+semipeak+night
    previous   the last reading billing accepted for this zone (may be empty)
    average    the zone's usual monthly consumption (may be empty)
    phone      optional: the customer's phone numbers, separated by `;` or `|` (or `,` in a
               quoted cell), in any common writing (`+7 912 000-00-01`, `89120000001`); a
               contract's numbers are those of all its rows. With the column, the file
               replaces each contract's numbers; without it, they are left as they are.

`write_contracts` writes the same file back from the database, numbers included (E.164).

Readings CSV (export), one row per zone of every current submission of a period:

    period, resource, contract, meter, zone, value, channel, received_at (ISO 8601, UTC)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import IO, TypeVar

from agi.readings.callers import phone_number
from agi.readings.rules import Register, Resource, Zone, zone_count_of
from agi.storage.repository import ExportRow, MeterRecord, Repository

E = TypeVar("E", Resource, Zone)

CONTRACT_COLUMNS = ("resource", "contract", "meter", "digits", "zone", "previous", "average")
PHONE_COLUMN = "phone"
PHONE_SEPARATORS = re.compile(r"[;|,]")
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


class ContractsRejected(Exception):
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
    lines: dict[Zone, int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)


BOM = "\ufeff"


def read_contracts(stream: IO[str]) -> list[MeterRecord]:
    """Parse the contracts CSV; raise ContractsRejected listing every bad row.

    Tolerates what spreadsheets do to a file: a UTF-8 byte-order mark, semicolons instead
    of commas (Excel in a Russian locale), names and resources in capitals, spaces around
    values, and rows left with nothing but separators.
    """
    lines = _lines(stream)
    header = lines[0] if lines else ""
    if not header.strip(BOM + " \t\r\n;,"):
        raise ContractsRejected(
            [RowError(1, f"the file is empty; its first line must be the header {_HEADER}")]
        )
    delimiter = ";" if ";" in header and "," not in header else ","
    reader = csv.reader(lines, delimiter=delimiter)
    names = [name.strip(BOM + " ").lower() for name in next(reader)]
    missing = [name for name in CONTRACT_COLUMNS if name not in names]
    if missing:
        raise ContractsRejected(
            [
                RowError(
                    1,
                    f"the header lacks the column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}; the first line must be the header {_HEADER}",
                )
            ]
        )
    with_phones = PHONE_COLUMN in names
    wanted = (*CONTRACT_COLUMNS, PHONE_COLUMN) if with_phones else CONTRACT_COLUMNS
    column = {name: names.index(name) for name in wanted}
    errors: list[RowError] = []
    drafts: dict[tuple[str, str, str], _MeterDraft] = {}
    tainted: set[tuple[str, str, str]] = set()
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: cells[index] if index < len(cells) else "" for name, index in column.items()}
        key = (row["resource"].strip().lower(), row["contract"].strip(), row["meter"].strip())
        problems: list[str] = []
        if len(cells) > len(names) and any(cell.strip() for cell in cells[len(names) :]):
            problems.append(
                f"the row has {len(cells)} cells but the header has {len(names)} columns "
                f"(a value with a '{delimiter}' in it, such as a decimal comma?)"
            )
        parsed = _parse_row(row, problems)
        phones = _phones(row.get(PHONE_COLUMN, ""), problems)
        if parsed is None or problems:
            tainted.add(key)
            errors.extend(RowError(line, problem) for problem in problems)
            continue
        resource, contract, serial, digits, register = parsed
        draft = drafts.setdefault(key, _MeterDraft(line, resource, contract, serial, digits))
        draft.phones |= phones
        if draft.digits != digits:
            tainted.add(key)
            errors.append(
                RowError(
                    line,
                    f"meter {serial} has digits {draft.digits} on line "
                    f"{draft.line} but {digits} here; a meter has one number of digits",
                )
            )
        elif register.zone in draft.registers:
            tainted.add(key)
            errors.append(
                RowError(
                    line,
                    f"meter {serial} lists zone {register.zone} twice "
                    f"(first on line {draft.lines[register.zone]})",
                )
            )
        else:
            draft.registers[register.zone] = register
            draft.lines[register.zone] = line
    contract_phones: dict[tuple[str, str], set[str]] = {}
    for (resource_name, number, _), draft in drafts.items():
        contract_phones.setdefault((resource_name, number), set()).update(draft.phones)
    records = []
    for key, draft in drafts.items():
        if key in tainted:
            continue  # its bad rows are reported; its zone set would only repeat them
        if zone_count_of(frozenset(draft.registers)) is None:
            zones = ", ".join(sorted(draft.registers))
            errors.append(
                RowError(
                    draft.line,
                    f"meter {draft.serial} has zones {zones}; a meter has single, "
                    "or day and night, or peak, semipeak and night",
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
                phones=tuple(sorted(contract_phones[key[:2]])) if with_phones else None,
            )
        )
    if errors:
        raise ContractsRejected(sorted(errors, key=lambda error: error.line))
    return records


_HEADER = ",".join(CONTRACT_COLUMNS)


def _lines(stream: IO[str]) -> list[str]:
    lines: list[str] = []
    try:
        for line in stream:
            lines.append(line)
    except UnicodeDecodeError as error:
        # A text stream decodes a chunk when its buffer holds no whole line, so the lines
        # before the bad byte are those returned plus the line ends before it in the chunk.
        line_number = len(lines) + 1
        if isinstance(error.object, bytes):
            line_number += error.object[: error.start].count(b"\n")
        raise ContractsRejected(
            [
                RowError(
                    line_number,
                    "this line is not UTF-8 text (a file saved in Windows-1251?); save "
                    "the file from the spreadsheet as 'CSV UTF-8 (comma delimited)'",
                )
            ]
        ) from None
    return lines


def _parse_row(
    row: dict[str, str], problems: list[str]
) -> tuple[Resource, str, str, int, Register] | None:
    def cell(name: str) -> str:
        return row[name].strip()

    resource = _choice(cell("resource"), Resource, "resource", problems)
    contract = cell("contract")
    if not contract:
        problems.append("contract is empty")
    elif not (contract.isascii() and contract.isdigit() and len(contract) <= 32):
        problems.append(f"contract {contract!r} must be digits only (at most 32)")
    serial = cell("meter")
    if not serial:
        problems.append("meter serial number is empty")
    elif len(serial) > 64:
        problems.append(f"meter serial number {serial[:20]!r}... is longer than 64 characters")
    digits = _number(cell("digits"), "digits", problems, required=True)
    if digits is not None and not 1 <= digits <= 12:
        problems.append(f"digits must be between 1 and 12, not {digits}")
        digits = None
    zone = _choice(cell("zone"), Zone, "zone", problems)
    previous = _number(cell("previous"), "previous", problems)
    average = _number(cell("average"), "average", problems)
    if previous is not None and digits is not None and len(str(previous)) > digits:
        problems.append(
            f"previous {previous} has {len(str(previous))} digits but the meter shows {digits}"
        )
    if problems or resource is None or zone is None or digits is None:
        return None
    return resource, contract, serial, digits, Register(zone, previous, average)


def _phones(cell: str, problems: list[str]) -> set[str]:
    """The phone numbers of one cell, in E.164; each one that is no number is a problem."""
    phones = set()
    for written in PHONE_SEPARATORS.split(cell):
        if not written.strip():
            continue
        number = phone_number(written)
        if number is None:
            problems.append(
                f"phone {written.strip()[:24]!r} is not a phone number; write it as "
                "+7 912 000-00-01 or 89120000001, several separated by ';'"
            )
        else:
            phones.add(number)
    return phones


def write_contracts(records: Iterable[MeterRecord], stream: IO[str]) -> int:
    """The contracts file as billing sends it, from the database: one row per zone, the
    contract's phone numbers on each of its rows. Returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow((*CONTRACT_COLUMNS, PHONE_COLUMN))
    count = 0
    for record in records:
        for register in record.registers:
            writer.writerow(
                [
                    record.resource.value,
                    record.contract,
                    record.serial,
                    record.digits,
                    register.zone.value,
                    "" if register.previous is None else register.previous,
                    "" if register.average is None else register.average,
                    ";".join(record.phones or ()),
                ]
            )
            count += 1
    return count


def _choice(text: str, kind: type[E], column: str, problems: list[str]) -> E | None:
    allowed = " | ".join(member.value for member in kind)
    if not text:
        problems.append(f"{column} is empty; it must be one of {allowed}")
        return None
    try:
        return kind(text.lower())
    except ValueError:
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


def seed_demo(repository: Repository, *, at: datetime | None = None) -> int:
    """Load the demo contracts shipped with the package (the readings leaflet's examples and
    a three-zone meter) as billing would; returns the number of meters."""
    text = (
        resources.files("agi.readings").joinpath("demo_contracts.csv").read_text(encoding="utf-8")
    )
    return repository.import_meters(read_contracts(io.StringIO(text)), at=at)
