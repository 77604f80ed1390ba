"""The readings database as a specification: what a submission stores, once, atomically and
race-free, what a caller is compared with, and that the migrations match the models.

Every test runs on SQLite and, when IVR_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import Result
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from agi.application import Application
from agi.readings.rules import Contract, Meter, MeterReadings, Register, Resource, Submission, Zone
from agi.records.record import End
from agi.storage.call_records import CallRecords
from agi.storage.database import (
    StorageError,
    alembic_config,
    connect,
    reader,
    upgrade,
)
from agi.storage.models import Base, ReadingRow, SubmissionRow
from agi.storage.repository import MeterRecord, Repository, SourceReused, SubmitResult
from agi.text.dialog import IncomingMessage, TextChannel, text_dialog_for
from tests.conftest import BILLING_IMPORTED, IN_WINDOW

PERIOD = "2026-11"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CALLER = "+79120000000"
ROUNDS = 20


# --- helpers -----------------------------------------------------------------------------


def contract_of(
    repo: Repository, number: str, resource: Resource, period: str = PERIOD
) -> Contract:
    contracts = [c for c in repo.find_contracts(number, period) if c.resource == resource]
    assert len(contracts) == 1, f"expected one {resource} contract {number}, got {contracts}"
    return contracts[0]


def meter_of(
    repo: Repository, number: str, resource: Resource = Resource.ELECTRICITY, period: str = PERIOD
) -> Meter:
    (meter,) = contract_of(repo, number, resource, period).meters
    return meter


def readings(meter: Meter | int, *values: int) -> MeterReadings:
    """The values of a meter's zones, in its zone order (a bare id means a single zone)."""
    if isinstance(meter, int):
        return MeterReadings(meter_id=meter, values=((Zone.SINGLE, values[0]),))
    assert len(values) == len(meter.zones)
    return MeterReadings(meter_id=meter.id, values=tuple(zip(meter.zones, values, strict=True)))


def submission(
    *meters: MeterReadings,
    source_id: str = "call-1",
    period: str = PERIOD,
    at: datetime = AT,
    caller: str | None = CALLER,
    channel: str = "keypad",
) -> Submission:
    return Submission(
        channel=channel,
        source_id=source_id,
        caller=caller,
        period=period,
        received_at=at,
        meters=meters,
    )


def count_rows(repo: Repository, *where: object) -> int:
    with Session(repo.engine) as session:
        return session.scalar(select(func.count()).select_from(SubmissionRow).where(*where)) or 0


def count_readings(repo: Repository) -> int:
    with Session(repo.engine) as session:
        return session.scalar(select(func.count()).select_from(ReadingRow)) or 0


def values_of(row: SubmissionRow) -> list[tuple[str, int, int]]:
    return [(r.zone, r.position, r.value) for r in row.readings]


def two_meter_contract(repo: Repository) -> Contract:
    """A cold-water contract with a kitchen and a bathroom meter."""
    repo.import_meters(
        [
            MeterRecord(
                Resource.COLD_WATER, "555000", "CW-KITCHEN", 5, (Register(Zone.SINGLE, 100, 4),)
            ),
            MeterRecord(
                Resource.COLD_WATER, "555000", "CW-BATH", 5, (Register(Zone.SINGLE, 200, 6),)
            ),
        ],
        at=BILLING_IMPORTED,
    )
    return contract_of(repo, "555000", Resource.COLD_WATER)


# --- what a submission stores ------------------------------------------------------------


def test_a_submission_stores_every_zone_with_its_source(demo_repository: Repository) -> None:
    meter = meter_of(demo_repository, "777333")
    assert meter.zones == (Zone.PEAK, Zone.SEMIPEAK, Zone.NIGHT)

    result = demo_repository.submit(submission(readings(meter, 1250, 3480, 5690)))

    assert result == SubmitResult(stored=True)
    (row,) = demo_repository.history(meter.id, PERIOD)
    assert (row.period, row.channel, row.source_id, row.caller) == (
        PERIOD,
        "keypad",
        "call-1",
        CALLER,
    )
    assert row.received_at == AT
    assert row.superseded_at is None
    assert values_of(row) == [("peak", 1, 1250), ("semipeak", 2, 3480), ("night", 3, 5690)]


def test_export_lists_the_zones_of_the_period_in_zone_order(demo_repository: Repository) -> None:
    three = meter_of(demo_repository, "777333")
    two = meter_of(demo_repository, "123859")
    demo_repository.submit(submission(readings(three, 1250, 3480, 5690), source_id="a"))
    demo_repository.submit(submission(readings(two, 45055, 23186), source_id="b"))
    other_period = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(other_period, 11638), period="2026-10"))

    rows = demo_repository.export(PERIOD)

    assert [(r.contract, r.meter, r.zone, r.value) for r in rows] == [
        ("123859", "E-0002", "day", 45055),
        ("123859", "E-0002", "night", 23186),
        ("777333", "E-0005", "peak", 1250),
        ("777333", "E-0005", "semipeak", 3480),
        ("777333", "E-0005", "night", 5690),
    ]
    assert {(r.period, r.resource, r.channel, r.received_at) for r in rows} == {
        (PERIOD, "electricity", "keypad", AT)
    }
    assert demo_repository.export("2026-12") == []


def test_a_local_time_is_stored_as_the_same_instant(demo_repository: Repository) -> None:
    """A call at 12:00 Moscow time is 09:00 UTC on every database (SQLite keeps no offset)."""
    meter = meter_of(demo_repository, "102057522")
    moscow_noon = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))

    demo_repository.submit(submission(readings(meter, 11638), at=moscow_noon))
    demo_repository.submit(
        submission(readings(meter, 11640), source_id="call-2", at=moscow_noon + timedelta(hours=1))
    )

    first, _ = demo_repository.history(meter.id, PERIOD)
    assert first.received_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert first.received_at.utcoffset() == timedelta(0)
    assert first.superseded_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    (exported,) = demo_repository.export(PERIOD)
    assert exported.received_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert exported.received_at.utcoffset() == timedelta(0)


def test_the_same_submission_again_stores_once(demo_repository: Repository) -> None:
    meter = meter_of(demo_repository, "123859")
    first = demo_repository.submit(submission(readings(meter, 45055, 23186)))

    again = demo_repository.submit(
        submission(readings(meter, 45055, 23186), at=AT + timedelta(minutes=1))
    )

    assert first.stored is True
    assert again.stored is False
    (row,) = demo_repository.history(meter.id, PERIOD)
    assert row.superseded_at is None
    assert [value for _, _, value in values_of(row)] == [45055, 23186]
    assert count_readings(demo_repository) == 2


@pytest.mark.parametrize(
    "other",
    [
        {"values": (45999, 23999)},
        {"values": (45055, 23186), "caller": "+79130000000"},
        {"values": (45055, 23186), "period": "2026-12"},
    ],
    ids=["other values", "another caller", "another period"],
)
def test_another_submission_from_the_same_source_is_refused_not_dropped(
    demo_repository: Repository, other: dict
) -> None:
    meter = meter_of(demo_repository, "123859")
    demo_repository.submit(submission(readings(meter, 45055, 23186)))
    values, rest = other["values"], {k: v for k, v in other.items() if k != "values"}

    with pytest.raises(SourceReused):
        demo_repository.submit(submission(readings(meter, *values), **rest))

    (row,) = demo_repository.history(meter.id, PERIOD)
    assert [value for _, _, value in values_of(row)] == [45055, 23186]
    assert count_readings(demo_repository) == 2


def test_the_same_call_id_on_another_channel_is_another_submission(
    demo_repository: Repository,
) -> None:
    meter = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(meter, 11638), channel="keypad"))

    result = demo_repository.submit(submission(readings(meter, 11640), channel="sms"))

    assert result.stored is True
    assert [row.channel for row in demo_repository.history(meter.id, PERIOD)] == ["keypad", "sms"]


def test_a_later_call_supersedes_the_earlier_one_of_the_period(
    demo_repository: Repository,
) -> None:
    meter = meter_of(demo_repository, "102057522")
    later = AT + timedelta(hours=2)
    demo_repository.submit(submission(readings(meter, 16380), source_id="call-typo"))

    result = demo_repository.submit(
        submission(readings(meter, 11638), source_id="call-2", at=later)
    )

    assert result.stored is True
    assert [(r.value, r.received_at) for r in demo_repository.export(PERIOD)] == [(11638, later)]
    typo, fix = demo_repository.history(meter.id, PERIOD)
    assert (typo.source_id, typo.superseded_at, values_of(typo)) == (
        "call-typo",
        later,
        [("single", 1, 16380)],
    )
    assert (fix.source_id, fix.superseded_at, values_of(fix)) == (
        "call-2",
        None,
        [("single", 1, 11638)],
    )


def test_a_submission_of_another_period_supersedes_nothing(demo_repository: Repository) -> None:
    meter = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(meter, 11600), source_id="oct", period="2026-10"))
    demo_repository.submit(submission(readings(meter, 11638), source_id="nov"))

    assert [r.superseded_at for r in demo_repository.history(meter.id, "2026-10")] == [None]
    assert [r.superseded_at for r in demo_repository.history(meter.id, PERIOD)] == [None]
    assert [r.value for r in demo_repository.export("2026-10")] == [11600]
    assert [r.value for r in demo_repository.export(PERIOD)] == [11638]


def test_the_database_itself_refuses_two_current_submissions(
    demo_repository: Repository,
) -> None:
    """The partial unique index is the last guard, whatever the code above it does."""
    meter = meter_of(demo_repository, "102057522")

    def row(source_id: str) -> SubmissionRow:
        return SubmissionRow(
            meter_id=meter.id,
            period=PERIOD,
            channel="keypad",
            source_id=source_id,
            caller=None,
            received_at=AT,
        )

    with Session(demo_repository.engine) as session:
        session.add_all([row("a"), row("b")])
        with pytest.raises(IntegrityError):
            session.commit()
    with Session(demo_repository.engine) as session:
        superseded = row("a")
        superseded.superseded_at = AT
        session.add_all([superseded, row("b")])
        session.commit()
    assert count_rows(demo_repository) == 2


# --- a contract with several meters ------------------------------------------------------


def test_a_contract_with_two_meters_is_stored_in_one_submission(repository: Repository) -> None:
    kitchen, bath = two_meter_contract(repository).meters
    assert (kitchen.serial, bath.serial) == ("CW-KITCHEN", "CW-BATH")

    repository.submit(submission(readings(kitchen, 104), readings(bath, 207)))

    rows = repository.export(PERIOD)
    assert [(r.resource, r.meter, r.value) for r in rows] == [
        ("cold_water", "CW-KITCHEN", 104),
        ("cold_water", "CW-BATH", 207),
    ]
    assert [r.source_id for r in repository.history(kitchen.id, PERIOD)] == ["call-1"]
    assert [r.source_id for r in repository.history(bath.id, PERIOD)] == ["call-1"]


def test_a_submission_that_fails_part_way_stores_nothing(repository: Repository) -> None:
    kitchen, bath = two_meter_contract(repository).meters
    repository.submit(submission(readings(kitchen, 104), readings(bath, 207)))
    missing_meter = 999_999

    with pytest.raises(StorageError) as failed:
        repository.submit(
            submission(
                readings(kitchen, 110),
                readings(bath, 210),
                readings(missing_meter, 1),
                source_id="call-2",
            )
        )

    assert isinstance(failed.value.__cause__, IntegrityError)
    assert count_rows(repository) == 2
    assert count_readings(repository) == 2
    assert [r.value for r in repository.export(PERIOD)] == [104, 207]
    for meter in (kitchen, bath):
        (row,) = repository.history(meter.id, PERIOD)
        assert (row.source_id, row.superseded_at) == ("call-1", None)
    # the failed call id was not recorded either: the same call may still submit
    assert repository.submit(
        submission(readings(kitchen, 110), readings(bath, 210), source_id="call-2")
    ).stored


# --- the contracts a caller finds, and what they are compared with -----------------------


def test_the_same_number_finds_one_contract_per_resource(demo_repository: Repository) -> None:
    contracts = demo_repository.find_contracts("123859", PERIOD)

    assert [c.resource for c in contracts] == [Resource.ELECTRICITY, Resource.HOT_WATER]
    electricity, hot_water = contracts
    assert {c.number for c in contracts} == {"123859"}
    (two_zone,) = electricity.meters
    assert (two_zone.serial, two_zone.digits) == ("E-0002", 6)
    assert two_zone.registers == (
        Register(Zone.DAY, previous=44810, average=240),
        Register(Zone.NIGHT, previous=23050, average=130),
    )
    (water,) = hot_water.meters
    assert (water.serial, water.digits, water.registers) == (
        "HW-0003",
        5,
        (Register(Zone.SINGLE, previous=17, average=3),),
    )
    assert demo_repository.find_contracts("000000", PERIOD) == []


def test_previous_comes_from_billing_then_from_an_earlier_period(
    demo_repository: Repository,
) -> None:
    number = "123859"
    assert meter_of(demo_repository, number).registers[0].previous == 44810
    meter = meter_of(demo_repository, number)
    demo_repository.submit(
        submission(readings(meter, 44900, 23100), source_id="sep", period="2026-09")
    )
    demo_repository.submit(
        submission(readings(meter, 45000, 23150), source_id="oct", period="2026-10")
    )

    registers = meter_of(demo_repository, number).registers

    assert registers == (
        Register(Zone.DAY, previous=45000, average=240),
        Register(Zone.NIGHT, previous=23150, average=130),
    )
    assert [r.previous for r in meter_of(demo_repository, number, period="2026-10").registers] == [
        44900,
        23100,
    ]
    assert [r.previous for r in meter_of(demo_repository, number, period="2026-09").registers] == [
        44810,
        23050,
    ]


def test_previous_is_the_corrected_value_of_the_earlier_period(
    demo_repository: Repository,
) -> None:
    meter = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(meter, 16000), source_id="typo", period="2026-10"))
    demo_repository.submit(submission(readings(meter, 11600), source_id="fix", period="2026-10"))

    assert meter_of(demo_repository, "102057522").registers[0].previous == 11600


def test_a_submission_of_the_same_period_does_not_change_previous(
    demo_repository: Repository,
) -> None:
    """A caller correcting a typo is compared with last month, not with the typo."""
    meter = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(meter, 11600), source_id="oct", period="2026-10"))
    demo_repository.submit(submission(readings(meter, 99999), source_id="typo"))

    assert meter_of(demo_repository, "102057522").registers[0].previous == 11600
    assert meter_of(demo_repository, "102057522", period="2026-12").registers[0].previous == 99999


def test_a_meter_without_submissions_keeps_the_billing_previous(repository: Repository) -> None:
    kitchen, bath = two_meter_contract(repository).meters
    repository.submit(submission(readings(kitchen, 104), period="2026-10"))

    kitchen, bath = contract_of(repository, "555000", Resource.COLD_WATER).meters

    assert kitchen.registers[0].previous == 104
    assert bath.registers[0].previous == 200


# --- races -------------------------------------------------------------------------------


@pytest.fixture
def racers(database_url: str) -> Iterator[tuple[Repository, Repository]]:
    """Two repositories on engines of their own, as two Asterisk AGI processes would have."""
    repos = (Repository(connect(database_url)), Repository(connect(database_url)))
    try:
        for repo in repos:
            repo.find_contracts("0", PERIOD)  # open a connection before the race starts
        yield repos
    finally:
        for repo in repos:
            repo.engine.dispose()


def race(
    repos: tuple[Repository, Repository], submissions: tuple[Submission, Submission]
) -> list[SubmitResult]:
    """Submit both at the same moment, one per thread; any exception fails the test."""
    barrier = threading.Barrier(2)

    def go(repo: Repository, item: Submission) -> SubmitResult:
        barrier.wait(timeout=30)
        return repo.submit(item)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(go, r, s) for r, s in zip(repos, submissions, strict=True)]
        return [future.result(timeout=60) for future in futures]


def test_the_same_call_racing_itself_stores_once(
    demo_repository: Repository, racers: tuple[Repository, Repository]
) -> None:
    meter = meter_of(demo_repository, "123859")
    for round_ in range(ROUNDS):
        call = submission(
            readings(meter, 45000 + round_, 23100 + round_),
            source_id=f"call-{round_}",
            at=AT + timedelta(minutes=round_),
        )

        results = race(racers, (call, call))

        assert sorted(r.stored for r in results) == [False, True], f"round {round_}"
        assert count_rows(demo_repository, SubmissionRow.source_id == f"call-{round_}") == 1
        assert count_rows(demo_repository, SubmissionRow.superseded_at.is_(None)) == 1
    assert count_rows(demo_repository) == ROUNDS
    assert count_readings(demo_repository) == 2 * ROUNDS
    last = ROUNDS - 1
    assert [r.value for r in demo_repository.export(PERIOD)] == [45000 + last, 23100 + last]


def test_two_calls_racing_for_one_meter_leave_one_current(
    demo_repository: Repository, racers: tuple[Repository, Repository]
) -> None:
    meter = meter_of(demo_repository, "123859")
    for round_ in range(ROUNDS):
        period = f"{2030 + round_}-11"
        first = submission(readings(meter, 45001, 23001), source_id=f"a-{round_}", period=period)
        second = submission(readings(meter, 45002, 23002), source_id=f"b-{round_}", period=period)

        results = race(racers, (first, second))

        assert [r.stored for r in results] == [True, True], f"round {round_}"
        history = demo_repository.history(meter.id, period)
        assert sorted(r.source_id for r in history) == [f"a-{round_}", f"b-{round_}"]
        superseded, current = history
        assert superseded.superseded_at is not None, f"round {round_}"
        assert current.superseded_at is None, f"round {round_}"
        assert [len(r.readings) for r in history] == [2, 2]
        exported = [r.value for r in demo_repository.export(period)]
        assert exported == [v for _, _, v in values_of(current)]
    assert count_rows(demo_repository) == 2 * ROUNDS
    assert count_rows(demo_repository, SubmissionRow.superseded_at.is_(None)) == ROUNDS
    assert count_readings(demo_repository) == 4 * ROUNDS


def test_two_calls_racing_for_one_meter_in_one_period_over_many_rounds(
    demo_repository: Repository, racers: tuple[Repository, Repository]
) -> None:
    """Every round supersedes the one before it: the chain never has two current links."""
    meter = meter_of(demo_repository, "102057522")
    for round_ in range(ROUNDS):
        race(
            racers,
            (
                submission(readings(meter, 11600 + round_), source_id=f"a-{round_}"),
                submission(readings(meter, 11700 + round_), source_id=f"b-{round_}"),
            ),
        )
        assert count_rows(demo_repository, SubmissionRow.superseded_at.is_(None)) == 1
    assert count_rows(demo_repository) == 2 * ROUNDS
    (current,) = demo_repository.export(PERIOD)
    assert current.value in (11600 + ROUNDS - 1, 11700 + ROUNDS - 1)


def test_many_calls_of_one_server_racing_for_one_meter_each_store_once(
    demo_repository: Repository,
) -> None:
    """One engine, as `ivr serve` has, its writers meeting at SQLite's lock or at the
    meter's row lock (PostgreSQL): every submission stored, exactly one current."""
    meter = meter_of(demo_repository, "102057522")
    calls = [
        submission(readings(meter, 11600 + n), source_id=f"many-{n}", at=AT + timedelta(seconds=n))
        for n in range(40)
    ]
    barrier = threading.Barrier(8)

    def go(call: Submission) -> SubmitResult:
        if int(call.source_id.split("-")[1]) < 8:
            barrier.wait(timeout=30)
        return demo_repository.submit(call)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(go, calls, timeout=60))

    assert [r.stored for r in results] == [True] * len(calls)
    assert count_rows(demo_repository) == len(calls)
    assert count_rows(demo_repository, SubmissionRow.superseded_at.is_(None)) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO guess_attempts (limit_kind, key, at) VALUES ('caller', 'x', '2026-11-20')",
        "DELETE FROM submissions",
    ],
)
def test_the_sqlite_reader_refuses_to_write(tmp_path, statement: str) -> None:
    """Reads go through an engine of their own, without a transaction: a write sent there
    by mistake fails instead of going out outside a transaction and the write lock."""
    engine = connect(f"sqlite:///{tmp_path}/read.db")
    upgrade(engine)
    try:
        with reader(engine).connect() as connection, pytest.raises(OperationalError):
            connection.execute(text(statement))
    finally:
        engine.dispose()


# --- migrations --------------------------------------------------------------------------


def schema_differences(url: str) -> list[object]:
    engine = connect(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    assert schema_differences(database_url) == []


def test_the_migrations_go_down_and_up_again(database_url: str) -> None:
    engine = connect(database_url)
    try:
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert schema_differences(database_url) == []


def test_db_upgrade_twice_is_harmless(
    cli: Callable[..., Result], demo_repository: Repository, database_url: str
) -> None:
    meter = meter_of(demo_repository, "102057522")
    demo_repository.submit(submission(readings(meter, 11638)))

    for _ in range(2):
        result = cli("db", "upgrade")
        assert result.exit_code == 0, result.output
        assert "is up to date" in result.output

    with demo_repository.engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0010"
    assert [r.value for r in demo_repository.export(PERIOD)] == [11638]
    assert len(demo_repository.find_contracts("123859", PERIOD)) == 2
    assert schema_differences(database_url) == []


def test_the_upgrade_forgets_the_callers_keys_kept_before_it(app: Application) -> None:
    """Keys made before the installation's secret are plain digests of the numbers: they go,
    and a conversation that waited for its sender goes on in a record of its own."""
    dialog = text_dialog_for(app.settings, app.repository)
    sender = "+79127654321"
    dialog.answer(IncomingMessage(TextChannel.SMS, sender, "m1", "ПС 123859"), at=IN_WINDOW)
    engine = app.repository.engine
    command.downgrade(alembic_config(engine), "0009")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0010"
    dialog.answer(IncomingMessage(TextChannel.SMS, sender, "m2", "45055 23186"), at=IN_WINDOW)
    day = timedelta(days=1)
    found = CallRecords(engine).between(IN_WINDOW - day, IN_WINDOW + day)
    before, after = sorted(found, key=lambda record: record.source_id)
    assert (before.source_id, before.end, before.caller_key) == ("m1", End.WAITING, None)
    assert (after.source_id, after.end) == ("m2", End.ACCEPTED)
    assert after.caller_key is not None


def test_billing_corrects_a_confirmed_typo_by_importing_after_it(
    demo_repository: Repository,
) -> None:
    """A caller confirmed 116500 instead of 11650 in October; billing fixes it in November."""
    october = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    (contract,) = demo_repository.find_contracts("102057522", "2026-10")
    meter = contract.meters[0]
    demo_repository.submit(
        Submission(
            "ivr",
            "typo",
            None,
            "2026-10",
            october,
            (MeterReadings(meter.id, ((Zone.SINGLE, 116500),)),),
        )
    )
    assert (
        demo_repository.find_contracts("102057522", "2026-11")[0].meters[0].registers[0].previous
        == 116500
    )
    demo_repository.import_meters(
        [
            MeterRecord(
                Resource.ELECTRICITY,
                "102057522",
                meter.serial,
                meter.digits,
                (Register(Zone.SINGLE, 11650, 150),),
            )
        ],
        at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    (register,) = demo_repository.find_contracts("102057522", "2026-11")[0].meters[0].registers
    assert register.previous == 11650


def test_the_schema_head_read_from_the_migration_files_is_alembics():
    from alembic.script import ScriptDirectory

    from agi.storage.database import alembic_config, schema_head

    engine = connect("sqlite://")
    assert schema_head() == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
