"""Reading and writing contracts, meters and submitted readings.

Everything the dialog and the command line need from the database goes through here; the
rest of the code sees domain values (`agi.readings.rules`), never rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from agi.readings.rules import (
    Contract,
    Meter,
    Register,
    Resource,
    Submission,
    Zone,
    zones_for,
)
from agi.storage.database import READ_ONLY, reporting_failures, schema_problem
from agi.storage.models import (
    ContractPhoneRow,
    ContractRow,
    MeterRow,
    ReadingRow,
    RegisterRow,
    SubmissionRow,
)


@dataclass(frozen=True)
class SubmitResult:
    stored: bool
    """False when this source had already submitted exactly this: nothing was written twice."""


class SourceReused(Exception):
    """A call id or message id already submitted other readings (or another caller's): the
    new ones are not stored, and the customer must be told so."""


@dataclass(frozen=True)
class ExportRow:
    period: str
    resource: str
    contract: str
    meter: str
    zone: str
    value: int
    channel: str
    received_at: datetime


@dataclass(frozen=True)
class MeterRecord:
    """One meter as the billing system describes it (a row group of the contracts CSV)."""

    resource: Resource
    contract: str
    serial: str
    digits: int
    registers: tuple[Register, ...]
    phones: tuple[str, ...] | None = None
    """The contract's phone numbers (E.164); None leaves those in the database as they are."""


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(engine.execution_options(**READ_ONLY), expire_on_commit=False)

    def schema_problem(self) -> str | None:
        """Why this database cannot take readings yet, or None (`schema_problem`)."""
        return schema_problem(self.engine)

    # --- contracts ----------------------------------------------------------------------

    @reporting_failures
    def find_contracts(self, number: str, period: str) -> list[Contract]:
        """Every contract with this number, one per resource, with meters ready for a call.

        A register's previous value is the current submission of the latest earlier
        period, unless billing sent its own value after that submission (billing corrects
        a confirmed typo that way); with no submission it is billing's value.
        """
        with self._reads() as session:
            rows = session.scalars(
                select(ContractRow)
                .where(ContractRow.number == number)
                .options(selectinload(ContractRow.meters).selectinload(MeterRow.registers))
                .order_by(ContractRow.id)
            ).all()
            return [self._contract(session, row, period) for row in rows]

    def _contract(self, session: Session, row: ContractRow, period: str) -> Contract:
        meters = tuple(
            Meter(
                id=meter.id,
                serial=meter.serial,
                digits=meter.digits,
                registers=self._registers(session, meter, period),
            )
            for meter in row.meters
        )
        return Contract(
            id=row.id, number=row.number, resource=Resource(row.resource), meters=meters
        )

    def _registers(self, session: Session, meter: MeterRow, period: str) -> tuple[Register, ...]:
        latest = session.scalars(
            select(SubmissionRow)
            .where(
                SubmissionRow.meter_id == meter.id,
                SubmissionRow.period < period,
                SubmissionRow.superseded_at.is_(None),
            )
            .options(selectinload(SubmissionRow.readings))
            .order_by(SubmissionRow.period.desc())
            .limit(1)
        ).first()
        accepted = {r.zone: r.value for r in latest.readings} if latest else {}

        def previous(register: RegisterRow) -> int | None:
            billing_is_newer = latest is None or (
                register.imported_at is not None and register.imported_at > latest.received_at
            )
            if billing_is_newer or register.zone not in accepted:
                return register.previous
            return accepted[register.zone]

        return tuple(
            Register(
                zone=Zone(register.zone), previous=previous(register), average=register.average
            )
            for register in meter.registers
        )

    @reporting_failures
    def import_meters(self, records: Iterable[MeterRecord], *, at: datetime | None = None) -> int:
        """Create or update contracts and meters from billing, all in one transaction."""
        imported_at = at or datetime.now(UTC)
        count = 0
        with self._sessions.begin() as session:
            for record in records:
                contract = self._import_meter(session, record, imported_at)
                if record.phones is not None:
                    wanted = set(record.phones)
                    for row in list(contract.phones):
                        if row.phone not in wanted:
                            contract.phones.remove(row)
                    have = {row.phone for row in contract.phones}
                    contract.phones += [ContractPhoneRow(phone=p) for p in sorted(wanted - have)]
                count += 1
        return count

    @reporting_failures
    def contracts_of_phone(self, phone: str) -> list[str]:
        """The numbers of the contracts billing knows this phone number (E.164) for, with
        meters, in order."""
        with self._reads() as session:
            return list(
                session.scalars(
                    select(ContractRow.number)
                    .join(ContractPhoneRow, ContractPhoneRow.contract_id == ContractRow.id)
                    .where(ContractPhoneRow.phone == phone, ContractRow.meters.any())
                    .distinct()
                    .order_by(ContractRow.number)
                )
            )

    @reporting_failures
    def meter_records(self) -> list[MeterRecord]:
        """Every meter as billing described it, phone numbers included, for the contracts
        file (billing's own values, not the readings submitted since)."""
        with self._reads() as session:
            rows = session.scalars(
                select(ContractRow)
                .options(
                    selectinload(ContractRow.meters).selectinload(MeterRow.registers),
                    selectinload(ContractRow.phones),
                )
                .order_by(ContractRow.resource, ContractRow.number)
            ).all()
            return [
                MeterRecord(
                    resource=Resource(row.resource),
                    contract=row.number,
                    serial=meter.serial,
                    digits=meter.digits,
                    registers=tuple(
                        Register(Zone(r.zone), r.previous, r.average) for r in meter.registers
                    ),
                    phones=tuple(phone.phone for phone in row.phones),
                )
                for row in rows
                for meter in row.meters
            ]

    def _import_meter(
        self, session: Session, record: MeterRecord, imported_at: datetime
    ) -> ContractRow:
        contract = session.scalar(
            select(ContractRow).where(
                ContractRow.number == record.contract, ContractRow.resource == record.resource
            )
        )
        if contract is None:
            contract = ContractRow(number=record.contract, resource=record.resource.value)
            session.add(contract)
            session.flush()
        meter = session.scalar(
            select(MeterRow).where(
                MeterRow.contract_id == contract.id, MeterRow.serial == record.serial
            )
        )
        if meter is None:
            position = len(contract.meters) + 1
            meter = MeterRow(contract=contract, serial=record.serial, position=position, digits=0)
            session.add(meter)
        meter.digits = record.digits
        session.flush()
        existing = {register.zone: register for register in meter.registers}
        order = {zone: index for index, zone in enumerate(zones_for(len(record.registers)), 1)}
        for register in record.registers:
            row = existing.pop(register.zone.value, None) or RegisterRow(
                meter=meter, zone=register.zone.value
            )
            row.position = order[register.zone]
            row.previous = register.previous
            row.imported_at = imported_at
            row.average = register.average
            session.add(row)
        for stale in existing.values():
            session.delete(stale)
        return contract

    # --- submissions --------------------------------------------------------------------

    @reporting_failures
    def submit(self, submission: Submission) -> SubmitResult:
        """Store every meter of a submission in one transaction, once per source.

        The same submission again from the same source (a replay) stores nothing; another
        submission from that source is refused with `SourceReused`. A new source supersedes
        the current submission of the same meter and period.
        """
        try:
            with self._sessions.begin() as session:
                return store(session, submission)
        except IntegrityError:
            with self._reads() as session:
                if _replayed(session, submission):
                    return SubmitResult(stored=False)
            raise

    # --- billing export -----------------------------------------------------------------

    @reporting_failures
    def export(self, period: str) -> list[ExportRow]:
        """The current readings of a period, one row per zone, in a stable order."""
        with self._reads() as session:
            rows = session.execute(
                select(ContractRow, MeterRow, SubmissionRow, ReadingRow)
                .join(MeterRow, MeterRow.contract_id == ContractRow.id)
                .join(SubmissionRow, SubmissionRow.meter_id == MeterRow.id)
                .join(ReadingRow, ReadingRow.submission_id == SubmissionRow.id)
                .where(SubmissionRow.period == period, SubmissionRow.superseded_at.is_(None))
                .order_by(
                    ContractRow.resource, ContractRow.number, MeterRow.position, ReadingRow.position
                )
            ).all()
            return [
                ExportRow(
                    period=submission.period,
                    resource=contract.resource,
                    contract=contract.number,
                    meter=meter.serial,
                    zone=reading.zone,
                    value=reading.value,
                    channel=submission.channel,
                    received_at=submission.received_at,
                )
                for contract, meter, submission, reading in rows
            ]

    @reporting_failures
    def history(self, meter_id: int, period: str) -> Sequence[SubmissionRow]:
        """Every submission of a meter in a period, oldest first, superseded ones included.

        The stored rows themselves, detached: for support and tests, not for the dialog.
        """
        with self._reads() as session:
            return session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.meter_id == meter_id, SubmissionRow.period == period)
                .options(selectinload(SubmissionRow.readings))
                .order_by(SubmissionRow.id)
            ).all()


def store(session: Session, submission: Submission) -> SubmitResult:
    """Store a submission in `session`'s transaction: the meters are locked first, so that
    of two submissions for one meter exactly one ends up current. A replay stores nothing;
    a different submission from the same source raises `SourceReused`."""
    meter_ids = sorted(meter.meter_id for meter in submission.meters)
    session.execute(
        select(MeterRow.id)
        .where(MeterRow.id.in_(meter_ids))
        .order_by(MeterRow.id)
        .with_for_update()
    )
    if _replayed(session, submission):
        return SubmitResult(stored=False)
    received_at = submission.received_at
    for meter in submission.meters:
        current = session.scalars(
            select(SubmissionRow).where(
                SubmissionRow.meter_id == meter.meter_id,
                SubmissionRow.period == submission.period,
                SubmissionRow.superseded_at.is_(None),
            )
        ).all()
        for row in current:
            row.superseded_at = received_at
        session.flush()
        session.add(
            SubmissionRow(
                meter_id=meter.meter_id,
                period=submission.period,
                channel=submission.channel,
                source_id=submission.source_id,
                correlation_id=submission.correlation_id,
                caller=submission.caller,
                received_at=received_at,
                readings=[
                    ReadingRow(zone=zone.value, position=position, value=value)
                    for position, (zone, value) in enumerate(meter.values, 1)
                ],
            )
        )
        session.flush()
    return SubmitResult(stored=True)


def _replayed(session: Session, submission: Submission) -> bool:
    """True when this source stored exactly this submission before; False when it stored
    nothing for these meters; SourceReused when it stored something else."""
    rows = session.scalars(
        select(SubmissionRow)
        .where(
            SubmissionRow.channel == submission.channel,
            SubmissionRow.source_id == submission.source_id,
            SubmissionRow.meter_id.in_([m.meter_id for m in submission.meters]),
        )
        .options(selectinload(SubmissionRow.readings))
    ).all()
    if not rows:
        return False
    stored = {
        row.meter_id: (
            row.caller,
            row.period,
            tuple((Zone(reading.zone), reading.value) for reading in row.readings),
        )
        for row in rows
    }
    if stored != submission.content():
        raise SourceReused(
            f"source {submission.source_id!r} of channel {submission.channel} already "
            "submitted other readings"
        )
    return True
