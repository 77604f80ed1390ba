"""Reading and writing contracts, meters and submitted readings.

Everything the dialog and the command line need from the database goes through here; the
rest of the code sees domain values (`agi.readings.rules`), never rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from agi.readings.callers import Limit
from agi.readings.rules import (
    Contract,
    Meter,
    Register,
    Resource,
    Submission,
    Zone,
    zones_for,
)
from agi.storage.attempts import counts_of_keys, failures_of, keys_given
from agi.storage.database import reader, reporting_failures, schema_problem, write_transaction
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


@dataclass(frozen=True)
class Guard:
    """A guessing limit a submission is refused by inside its own transaction: `allowed`
    failed attempts of `key` since `since`."""

    key: tuple[Limit, str]
    since: datetime
    allowed: int


class GuardReached(Exception):
    """The submission's `Guard` had reached its limit when it was to be stored: nothing is."""

    def __init__(self, guard: Guard) -> None:
        super().__init__(f"locked out: {guard.key[0].value}")
        self.guard = guard


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
class HistoryEntry:
    """One submission of a contract's meter, as support looks it up."""

    resource: str
    meter: str
    period: str
    received_at: datetime
    channel: str
    caller: str | None
    values: tuple[tuple[str, int], ...]
    """(zone, value) in the meter's zone order."""
    current: bool
    """False once a later submission of the same meter and period superseded it."""


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
        self._read_engine = reader(engine)
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)

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

        Two narrow queries on one connection, no ORM objects: a call looks a contract up
        while hundreds of others do, and loading rows as objects cost most of its CPU.
        """
        with self._read_engine.connect() as connection:
            rows = connection.execute(_CONTRACT_TREE, {"number": number}).all()
            return _with_latest(connection, rows, period)

    @reporting_failures
    def find_contracts_counting(
        self, number: str, period: str, keys: Sequence[tuple[Limit, str]], since: datetime
    ) -> tuple[list[Contract], list[int]]:
        """`find_contracts`, and the failed attempts since `since` of each of `keys`, read
        in its first statement (a contract look-up asks the guessing limits first)."""
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                _counted_tree(len(keys)), {"number": number, **keys_given(keys, since)}
            ).all()
            failures = [rows[0]._mapping[f"failures{n}"] or 0 for n in range(len(keys))]
            rows = [row for row in rows if row.contract_id is not None]
            return _with_latest(connection, rows, period), failures

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
        meters, in order (a statement built once: every call with a caller number asks)."""
        with self._read_engine.connect() as connection:
            return list(connection.scalars(_CALLER_CONTRACTS, {"phone": phone}))

    @reporting_failures
    def contracts_of_phone_counting(
        self, phone: str, key: tuple[Limit, str], since: datetime
    ) -> tuple[list[str], int]:
        """`contracts_of_phone`, and the failed attempts of `key` since `since`, in one
        statement (the contracts are offered only to a caller who is not locked out)."""
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                _COUNTED_CALLER_CONTRACTS, {"phone": phone, **keys_given([key], since)}
            ).all()
        return [row.number for row in rows if row.number is not None], rows[0].failures0 or 0

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
    def submit(self, submission: Submission, guard: Guard | None = None) -> SubmitResult:
        """Store every meter of a submission in one transaction, once per source.

        The same submission again from the same source (a replay) stores nothing; another
        submission from that source is refused with `SourceReused`. A new source supersedes
        the current submission of the same meter and period.

        With a `guard`, GuardReached when its count of failed attempts, read in the
        transaction, has reached its limit: nothing is stored.

        A SQLite file's submissions go to its writer thread (`SerialWrites`), which stores
        those that wait together (`store_many`) with one COMMIT.
        """
        try:
            return write_transaction(
                self.engine,
                functools.partial(store, submission=submission, guard=guard),
                together=store_many,
                item=(submission, guard),
            )
        except IntegrityError:
            with self._read_engine.connect() as connection:
                if _replayed(connection, submission):
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

    @reporting_failures
    def contract_history(self, number: str, limit: int = 200) -> list[HistoryEntry]:
        """Every submission of the contracts with this number (each resource's), newest
        first, at most `limit`."""
        with self._reads() as session:
            rows = session.execute(
                select(ContractRow.resource, MeterRow.serial, SubmissionRow)
                .join(MeterRow, MeterRow.contract_id == ContractRow.id)
                .join(SubmissionRow, SubmissionRow.meter_id == MeterRow.id)
                .where(ContractRow.number == number)
                .options(selectinload(SubmissionRow.readings))
                .order_by(SubmissionRow.received_at.desc(), SubmissionRow.id.desc())
                .limit(limit)
            ).all()
            return [
                HistoryEntry(
                    resource=resource,
                    meter=serial,
                    period=submission.period,
                    received_at=submission.received_at,
                    channel=submission.channel,
                    caller=submission.caller,
                    values=tuple((r.zone, r.value) for r in submission.readings),
                    current=submission.superseded_at is None,
                )
                for resource, serial, submission in rows
            ]


def store(
    session: Session | Connection, submission: Submission, guard: Guard | None = None
) -> SubmitResult:
    """Store a submission in the transaction of `session` (or of a connection): the meters
    are locked first (on SQLite the whole database is, from BEGIN), so that of two
    submissions for one meter exactly one ends up current.
    A replay stores nothing; a different submission from the same source raises
    `SourceReused`. Core statements built once, no objects: one row per meter, one per
    zone. With a `guard`, GuardReached when its limit is reached, before anything is
    written."""
    if guard is not None and _failures(session, [guard]) >= guard.allowed:
        raise GuardReached(guard)
    if _locks_rows(session):
        meter_ids = sorted(meter.meter_id for meter in submission.meters)
        session.execute(_LOCK_METERS, {"meters": meter_ids})
    if _replayed(session, submission):
        return SubmitResult(stored=False)
    received_at = submission.received_at
    for meter in submission.meters:
        session.execute(
            _SUPERSEDE,
            {"meter": meter.meter_id, "of_period": submission.period, "at": received_at},
        )
        submission_id = session.execute(
            _NEW_SUBMISSION, _submission_row(submission, meter.meter_id)
        ).scalar_one()
        session.execute(_NEW_READING, _reading_rows(submission_id, meter.values))
    return SubmitResult(stored=True)


def store_many(
    connection: Connection, items: list[tuple[Submission, Guard | None]]
) -> list[SubmitResult] | None:
    """Store new submissions, in this order, with a statement or two for all of them: each
    meter's chain of them superseded one by the next, as one after another would leave it.
    None, before writing anything, when a source comes twice among them, or when a guard
    may have reached its limit (their failed attempts counted in one statement, since the
    earliest `since` of them: never fewer than each one's own); a source that submitted the
    same meter before fails the source index (IntegrityError): then each is stored on its
    own (`store`), replays and refusals included."""
    submissions = [submission for submission, _ in items]
    if len({(s.channel, s.source_id) for s in submissions}) < len(submissions):
        return None
    guards = [guard for _, guard in items if guard is not None]
    if guards and _failures(connection, guards) >= min(guard.allowed for guard in guards):
        return None
    rows: list[dict[str, object]] = []
    values: list[tuple[tuple[Zone, int], ...]] = []
    last: dict[tuple[int, str], int] = {}
    first: dict[tuple[int, str], datetime] = {}
    for submission in submissions:
        for meter in submission.meters:
            chain = (meter.meter_id, submission.period)
            if chain in last:
                rows[last[chain]]["superseded_at"] = submission.received_at
            first.setdefault(chain, submission.received_at)
            last[chain] = len(rows)
            rows.append(_submission_row(submission, meter.meter_id))
            values.append(meter.values)
    connection.execute(
        _SUPERSEDE,
        [{"meter": meter, "of_period": period, "at": at} for (meter, period), at in first.items()],
    )
    ids = connection.execute(_NEW_SUBMISSIONS, rows).scalars().all()
    connection.execute(
        _NEW_READINGS,
        [
            row
            for submission_id, zones in zip(ids, values, strict=True)
            for row in _reading_rows(submission_id, zones)
        ],
    )
    return [SubmitResult(stored=True)] * len(submissions)


def _failures(session: Session | Connection, guards: list[Guard]) -> int:
    """The most failed attempts any key of `guards` has since the earliest `since`."""
    keys = list(dict.fromkeys(guard.key for guard in guards))
    since = min(guard.since for guard in guards)
    counted = session.execute(counts_of_keys(len(keys)), keys_given(keys, since)).all()
    return max((count for _, _, count in counted), default=0)


def _submission_row(submission: Submission, meter_id: int) -> dict[str, object]:
    """The row of one meter of a submission, current until a later one supersedes it."""
    return {
        "meter_id": meter_id,
        "period": submission.period,
        "channel": submission.channel,
        "source_id": submission.source_id,
        "correlation_id": submission.correlation_id,
        "caller": submission.caller,
        "received_at": submission.received_at,
        "superseded_at": None,
    }


def _reading_rows(
    submission_id: int, values: Sequence[tuple[Zone, int]]
) -> list[dict[str, object]]:
    """The rows of a submission's readings, zone by zone in the order given."""
    return [
        {"submission_id": submission_id, "zone": zone.value, "position": position, "value": value}
        for position, (zone, value) in enumerate(values, 1)
    ]


def _locks_rows(session: Session | Connection) -> bool:
    """Whether the meters must be locked row by row: a SQLite write transaction holds the
    whole database from its BEGIN IMMEDIATE (and ignores FOR UPDATE)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    return bind.dialect.name != "sqlite"


def _replayed(session: Session | Connection, submission: Submission) -> bool:
    """True when this source stored exactly this submission before; False when it stored
    nothing for these meters; SourceReused when it stored something else."""
    rows = session.execute(
        _SOURCE_SUBMISSIONS,
        {
            "channel": submission.channel,
            "source": submission.source_id,
            "meters": [m.meter_id for m in submission.meters],
        },
    ).all()
    if not rows:
        return False
    stored: dict[int, tuple[str | None, str, tuple[tuple[Zone, int], ...]]] = {}
    for row in rows:
        caller, period, values = stored.get(row.meter_id, (row.caller, row.period, ()))
        if row.zone is not None:
            values = (*values, (Zone(row.zone), row.value))
        stored[row.meter_id] = (caller, period, values)
    if stored != submission.content():
        raise SourceReused(
            f"source {submission.source_id!r} of channel {submission.channel} already "
            "submitted other readings"
        )
    return True


_CONTRACTS = ContractRow.__table__
_METERS = MeterRow.__table__
_PHONES = ContractPhoneRow.__table__
_REGISTERS = RegisterRow.__table__
_SUBMISSIONS = SubmissionRow.__table__
_READINGS = ReadingRow.__table__

_CONTRACT_TREE = (
    select(
        _CONTRACTS.c.id.label("contract_id"),
        _CONTRACTS.c.number,
        _CONTRACTS.c.resource,
        _METERS.c.id.label("meter_id"),
        _METERS.c.serial,
        _METERS.c.digits,
        _REGISTERS.c.zone,
        _REGISTERS.c.previous,
        _REGISTERS.c.average,
        _REGISTERS.c.imported_at,
    )
    .outerjoin(_METERS, _METERS.c.contract_id == _CONTRACTS.c.id)
    .outerjoin(_REGISTERS, _REGISTERS.c.meter_id == _METERS.c.id)
    .where(_CONTRACTS.c.number == bindparam("number"))
    .order_by(_CONTRACTS.c.id, _METERS.c.position, _METERS.c.id, _REGISTERS.c.position)
)
"""A contract number's contracts, meters and registers, one row per register."""


@functools.cache
def _counted_tree(keys: int):
    """`_CONTRACT_TREE` beside the failed attempts of `keys` keys (`failures_of`): one row
    with no contract when the number has none."""
    tree = (
        _CONTRACT_TREE.order_by(None)
        .add_columns(
            _METERS.c.position.label("meter_position"),
            _REGISTERS.c.position.label("register_position"),
        )
        .subquery("tree")
    )
    failures = failures_of(keys)
    return (
        select(failures, tree)
        .select_from(failures.outerjoin(tree, true()))
        .order_by(
            tree.c.contract_id, tree.c.meter_position, tree.c.meter_id, tree.c.register_position
        )
    )


_CALLER_CONTRACTS = (
    select(_CONTRACTS.c.number)
    .join(_PHONES, _PHONES.c.contract_id == _CONTRACTS.c.id)
    .where(
        _PHONES.c.phone == bindparam("phone"),
        exists().where(_METERS.c.contract_id == _CONTRACTS.c.id),
    )
    .distinct()
    .order_by(_CONTRACTS.c.number)
)
"""The numbers of the contracts with meters billing knows a phone number for."""

_CALLER_FAILURES = failures_of(1)
_CALLER_NUMBERS = _CALLER_CONTRACTS.order_by(None).subquery("numbers")
_COUNTED_CALLER_CONTRACTS = (
    select(_CALLER_FAILURES, _CALLER_NUMBERS)
    .select_from(_CALLER_FAILURES.outerjoin(_CALLER_NUMBERS, true()))
    .order_by(_CALLER_NUMBERS.c.number)
)
"""`_CALLER_CONTRACTS` beside one key's failed attempts: one row without a number when
billing knows the phone for none."""

_EARLIER = _SUBMISSIONS.alias("earlier")
_LATEST_ACCEPTED = (
    select(
        _SUBMISSIONS.c.meter_id,
        _SUBMISSIONS.c.received_at,
        _READINGS.c.zone,
        _READINGS.c.value,
    )
    .join(_READINGS, _READINGS.c.submission_id == _SUBMISSIONS.c.id)
    .where(
        _SUBMISSIONS.c.meter_id.in_(bindparam("meters", expanding=True)),
        _SUBMISSIONS.c.superseded_at.is_(None),
        _SUBMISSIONS.c.period
        == select(func.max(_EARLIER.c.period))
        .where(
            _EARLIER.c.meter_id == _SUBMISSIONS.c.meter_id,
            _EARLIER.c.period < bindparam("period"),
            _EARLIER.c.superseded_at.is_(None),
        )
        .scalar_subquery(),
    )
)
"""The readings of each meter's current submission of its latest period before `period`."""

_LOCK_METERS = (
    select(_METERS.c.id)
    .where(_METERS.c.id.in_(bindparam("meters", expanding=True)))
    .order_by(_METERS.c.id)
    .with_for_update()
)
_SUPERSEDE = (
    update(_SUBMISSIONS)
    .where(
        _SUBMISSIONS.c.meter_id == bindparam("meter"),
        _SUBMISSIONS.c.period == bindparam("of_period"),
        _SUBMISSIONS.c.superseded_at.is_(None),
    )
    .values(superseded_at=bindparam("at"))
)
_NEW_SUBMISSION = insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id)
_NEW_READING = insert(_READINGS)
_NEW_SUBMISSIONS = insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.id, sort_by_parameter_order=True)
_NEW_READINGS = insert(_READINGS).returning(_READINGS.c.id)
"""A RETURNING clause makes SQLAlchemy write many rows in one statement (insertmanyvalues)
rather than a statement per row."""
_SOURCE_SUBMISSIONS = (
    select(
        _SUBMISSIONS.c.id,
        _SUBMISSIONS.c.meter_id,
        _SUBMISSIONS.c.caller,
        _SUBMISSIONS.c.period,
        _READINGS.c.zone,
        _READINGS.c.value,
    )
    .outerjoin(_READINGS, _READINGS.c.submission_id == _SUBMISSIONS.c.id)
    .where(
        _SUBMISSIONS.c.channel == bindparam("channel"),
        _SUBMISSIONS.c.source_id == bindparam("source"),
        _SUBMISSIONS.c.meter_id.in_(bindparam("meters", expanding=True)),
    )
    .order_by(_SUBMISSIONS.c.id, _READINGS.c.position)
)
"""What a source submitted for some meters: a replay must repeat it exactly."""


def _with_latest(connection: Connection, rows: Sequence[Row], period: str) -> list[Contract]:
    """The contracts of a look-up's rows, with their meters' latest accepted readings read
    on the same connection."""
    meter_ids = sorted({row.meter_id for row in rows if row.meter_id is not None})
    latest = (
        connection.execute(_LATEST_ACCEPTED, {"meters": meter_ids, "period": period}).all()
        if meter_ids
        else []
    )
    return _contracts(rows, latest)


def _contracts(rows: Sequence[Row], latest: Sequence[Row]) -> list[Contract]:
    accepted: dict[int, tuple[datetime, dict[str, int]]] = {}
    for row in latest:
        accepted.setdefault(row.meter_id, (row.received_at, {}))[1][row.zone] = row.value
    contracts: dict[int, tuple[Row, dict[int, tuple[Row, list[Register]]]]] = {}
    for row in rows:
        _, meters = contracts.setdefault(row.contract_id, (row, {}))
        if row.meter_id is None:
            continue
        _, registers = meters.setdefault(row.meter_id, (row, []))
        if row.zone is not None:
            registers.append(_register(row, accepted.get(row.meter_id)))
    return [
        Contract(
            id=first.contract_id,
            number=first.number,
            resource=Resource(first.resource),
            meters=tuple(
                Meter(id=meter_id, serial=m.serial, digits=m.digits, registers=tuple(registers))
                for meter_id, (m, registers) in meters.items()
            ),
        )
        for first, meters in contracts.values()
    ]


def _register(row: Row, accepted: tuple[datetime, dict[str, int]] | None) -> Register:
    previous = row.previous
    if accepted is not None:
        received_at, values = accepted
        billing_is_newer = row.imported_at is not None and row.imported_at > received_at
        if not billing_is_newer and row.zone in values:
            previous = values[row.zone]
    return Register(zone=Zone(row.zone), previous=previous, average=row.average)
