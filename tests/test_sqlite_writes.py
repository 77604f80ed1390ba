"""A SQLite file's submissions go through one writer thread: the ones that wait for it are
written together, one COMMIT for the group, and each still stores once, atomically, in the
order it came, or fails alone.

To make a group, another connection holds SQLite's write lock while the submissions queue.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from agi.readings.callers import Limit
from agi.readings.rules import Resource, Submission
from agi.records.record import CallRecord, End
from agi.storage.attempts import Attempts
from agi.storage.call_records import CallRecords
from agi.storage.database import StorageError, connect, serial_writes
from agi.storage.repository import Guard, GuardReached, Repository, SourceReused, SubmitResult
from tests.support import demo_database
from tests.test_storage import AT, PERIOD, count_readings, meter_of, readings, submission


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[Repository, Path]]:
    """A repository on a demo SQLite file, as `ivr serve` opens it."""
    path = tmp_path / "writes.db"
    demo_database(f"sqlite:///{path}").engine.dispose()
    repo = Repository(connect(f"sqlite:///{path}", timeout_seconds=10))
    yield repo, path
    repo.engine.dispose()


def queued_behind_a_lock(
    repo: Repository,
    path: Path,
    submissions: list[Submission],
    hold: float = 0.5,
    guards: list[Guard | None] | None = None,
) -> list[SubmitResult | BaseException]:
    """Submit each (with its guard) from a thread of its own while another connection holds
    the write lock, one after another; then let go. The outcome of each, in order."""
    given = guards or [None] * len(submissions)
    submits = [
        functools.partial(repo.submit, s, g) for s, g in zip(submissions, given, strict=True)
    ]
    return queued_writes_behind_a_lock(path, submits, hold)  # type: ignore[return-value]


def queued_writes_behind_a_lock(
    path: Path, writes: list[Callable[[], object]], hold: float = 0.5
) -> list[object]:
    """Each write from a thread of its own while another connection holds the write lock,
    one after another; then let go. The outcome of each (its value or its error), in order."""
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    outcomes: list[object] = [RuntimeError("no outcome")] * len(writes)

    def run(number: int) -> None:
        try:
            outcomes[number] = writes[number]()
        except Exception as error:
            outcomes[number] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(writes))]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    time.sleep(hold)
    lock.execute("COMMIT")
    lock.close()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def calls(meter_id: int, count: int, first_value: int = 11700) -> list[Submission]:
    return [
        submission(
            readings(meter_id, first_value + n),
            source_id=f"call-{n}",
            at=AT.replace(second=n),
        )
        for n in range(count)
    ]


def test_a_group_of_calls_for_one_meter_leaves_the_chain_one_after_another_would(
    writer: tuple[Repository, Path],
) -> None:
    repo, path = writer
    meter = meter_of(repo, "102057522")
    earlier = submission(readings(meter.id, 11650), source_id="earlier", at=AT.replace(minute=0))
    assert repo.submit(earlier).stored

    commits: list[object] = []
    event.listen(repo.engine, "commit", commits.append)

    outcomes = queued_behind_a_lock(repo, path, calls(meter.id, 12))

    assert outcomes == [SubmitResult(stored=True)] * 12
    assert len(commits) == 2, "the first alone, then the eleven that waited behind it"
    rows = repo.history(meter.id, PERIOD)
    assert [row.source_id for row in rows] == ["earlier", *(f"call-{n}" for n in range(12))]
    assert [row.readings[0].value for row in rows] == [11650, *(11700 + n for n in range(12))]
    superseded = [row.superseded_at for row in rows]
    assert superseded == [row.received_at for row in rows[1:]] + [None]
    assert count_readings(repo) == 13


@pytest.mark.parametrize(
    ("odd_one", "outcome"),
    [
        ("a meter that does not exist", StorageError),
        ("the same call again", SubmitResult(stored=False)),
        ("another reading under the same call id", SourceReused),
    ],
)
def test_a_group_with_an_odd_submission_stores_the_others_each_once(
    writer: tuple[Repository, Path], odd_one: str, outcome: object
) -> None:
    repo, path = writer
    meter = meter_of(repo, "102057522")
    group = calls(meter.id, 6)
    odd = {
        "a meter that does not exist": submission(readings(999_999, 1), source_id="ghost"),
        "the same call again": group[2],
        "another reading under the same call id": submission(
            readings(meter.id, 1), source_id=group[2].source_id, at=group[2].received_at
        ),
    }[odd_one]

    outcomes = queued_behind_a_lock(repo, path, [*group[:4], odd, *group[4:]])

    assert [o for n, o in enumerate(outcomes) if n != 4] == [SubmitResult(stored=True)] * 6
    if isinstance(outcome, type):
        assert isinstance(outcomes[4], outcome), outcomes[4]
    else:
        assert outcomes[4] == outcome
    rows = repo.history(meter.id, PERIOD)
    assert [row.source_id for row in rows] == [f"call-{n}" for n in range(6)]
    assert [row.readings[0].value for row in rows] == [11700 + n for n in range(6)]
    assert sum(row.superseded_at is None for row in rows) == 1


@pytest.mark.parametrize(
    ("locked", "counts"),
    [(False, 2), (True, 7)],
    ids=["none locked", "one locked"],
)
def test_a_group_counts_its_guards_once_and_refuses_only_the_locked_one(
    writer: tuple[Repository, Path], locked: bool, counts: int
) -> None:
    """The first submission alone counts its guard, then the five that waited behind it
    count theirs in one statement; when that count reaches a limit, each of the five is
    stored (or refused) on its own, counting its own guard."""
    repo, path = writer
    meter = meter_of(repo, "102057522")
    since = AT - timedelta(hours=1)
    for _ in range(3):
        Attempts(repo.engine).add(Limit.CONTRACT, "elsewhere", at=AT, window=timedelta(hours=1))
    guards: list[Guard | None] = [Guard((Limit.CONTRACT, "102057522"), since, 10)] * 6
    guards[4] = Guard((Limit.CONTRACT, "elsewhere"), since, 3 if locked else 4)
    commits: list[object] = []
    event.listen(repo.engine, "commit", commits.append)
    counted: list[str] = []

    @event.listens_for(repo.engine, "before_cursor_execute")
    def count_of_attempts(_connection, _cursor, statement: str, *_: object) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM guess_attempts" in statement:
            counted.append(statement)

    outcomes = queued_behind_a_lock(repo, path, calls(meter.id, 6), guards=guards)

    stored = [n for n in range(6) if n != 4 or not locked]
    assert [outcomes[n] for n in stored] == [SubmitResult(stored=True)] * len(stored)
    assert isinstance(outcomes[4], GuardReached) == locked
    assert len(commits) == 2, "the first alone, then those that waited behind it"
    assert len(counted) == counts
    rows = repo.history(meter.id, PERIOD)
    assert [row.source_id for row in rows] == [f"call-{n}" for n in stored]


def test_a_two_meter_contract_in_a_group_is_stored_whole(
    writer: tuple[Repository, Path],
) -> None:
    repo, path = writer
    electricity = meter_of(repo, "102057522")
    hot, cold = (
        meter_of(repo, "123859", Resource.HOT_WATER),
        meter_of(repo, "176354", Resource.COLD_WATER),
    )
    both = submission(readings(hot.id, 25), readings(cold.id, 45), source_id="water")

    outcomes = queued_behind_a_lock(repo, path, [*calls(electricity.id, 3), both])

    assert outcomes == [SubmitResult(stored=True)] * 4
    assert [(r.resource, r.value) for r in repo.export(PERIOD)] == [
        ("cold_water", 45),
        ("electricity", 11702),
        ("hot_water", 25),
    ]


def statement_heads(engine: Engine) -> list[list[str]]:
    """The first three words of every statement `engine` runs from now on."""
    heads: list[list[str]] = []
    event.listen(engine, "before_cursor_execute", lambda *args: heads.append(args[2].split()[:3]))
    return heads


def of_the_group(heads: list[list[str]]) -> list[list[str]]:
    """The statements from the second transaction on: the group behind the first write."""
    return heads[heads.index(["BEGIN", "IMMEDIATE"], 1) :]


def record(source_id: str) -> CallRecord:
    return CallRecord("ivr", source_id, AT, AT + timedelta(seconds=20), End.ACCEPTED)


def test_call_records_and_failed_attempts_wait_for_the_one_writer_with_the_submissions(
    writer: tuple[Repository, Path],
) -> None:
    """They would otherwise sleep in SQLite's busy handler beside the writer: here they are
    written in the writer's group, the submissions still together, one COMMIT for all."""
    repo, path = writer
    meter = meter_of(repo, "102057522")
    group = calls(meter.id, 4)
    records, attempts = CallRecords(repo.engine), Attempts(repo.engine)
    statements = statement_heads(repo.engine)
    commits: list[object] = []
    event.listen(repo.engine, "commit", commits.append)
    fail = Limit.ANONYMOUS

    def guess(n: int) -> Callable[[], object]:
        return lambda: attempts.add(
            fail, "guesser", at=AT + timedelta(seconds=n), window=timedelta(hours=1)
        )

    outcomes = queued_writes_behind_a_lock(
        path,
        [
            lambda: repo.submit(group[0]),
            lambda: records.add(record("call-a"), record("call-b")),
            lambda: repo.submit(group[1]),
            guess(1),
            lambda: repo.submit(group[2]),
            guess(2),
            lambda: repo.submit(group[3]),
        ],
    )

    stored = SubmitResult(stored=True)
    assert outcomes[0::2] == [stored] * 4
    assert outcomes[1] is None
    assert [outcomes[3], outcomes[5]] == [1, 2]
    assert len(commits) == 2, "the first alone, then the six that waited behind it"
    group_statements = of_the_group(statements)
    savepoints = [words for words in group_statements if words[0] == "SAVEPOINT"]
    assert len(savepoints) == 6, "in the order they came, none of a kind next to another"
    assert [row.source_id for row in repo.history(meter.id, PERIOD)] == [
        f"call-{n}" for n in range(4)
    ]
    assert sorted(r.source_id for r in records.between(AT, AT + timedelta(hours=1))) == [
        "call-a",
        "call-b",
    ]
    assert attempts.count(fail, "guesser", since=AT) == 2


def test_submissions_one_after_another_in_a_group_are_written_together_between_others(
    writer: tuple[Repository, Path],
) -> None:
    repo, path = writer
    meter = meter_of(repo, "102057522")
    group = calls(meter.id, 5)
    records = CallRecords(repo.engine)
    statements = statement_heads(repo.engine)

    outcomes = queued_writes_behind_a_lock(
        path,
        [
            lambda: repo.submit(group[0]),
            lambda: records.add(record("call-a")),
            *(functools.partial(repo.submit, one) for one in group[1:]),
        ],
    )

    assert outcomes == [SubmitResult(stored=True), None, *[SubmitResult(stored=True)] * 4]
    group_statements = of_the_group(statements)
    assert group_statements.count(["UPDATE", "submissions", "SET"]) == 1, "the four at once"
    assert [w for w in group_statements if w[0] == "SAVEPOINT"] == [
        ["SAVEPOINT", "sa_savepoint_1"]
    ], "the records' batch alone"
    rows = repo.history(meter.id, PERIOD)
    assert [row.source_id for row in rows] == [f"call-{n}" for n in range(5)]


def test_a_failed_attempt_ahead_of_a_guarded_submission_counts_for_its_guard(
    writer: tuple[Repository, Path],
) -> None:
    """The attempt that reaches the contract's limit came first: the submission behind it
    in the same group is refused, as it would be one after the other."""
    repo, path = writer
    meter = meter_of(repo, "102057522")
    group = calls(meter.id, 4)
    attempts = Attempts(repo.engine)
    window = timedelta(hours=1)
    for minute in range(2):
        attempts.add(Limit.CONTRACT, "102057522", at=AT - timedelta(minutes=minute), window=window)
    guard = Guard((Limit.CONTRACT, "102057522"), AT - window, 3)

    outcomes = queued_writes_behind_a_lock(
        path,
        [
            lambda: repo.submit(group[0]),
            lambda: attempts.add(Limit.CONTRACT, "102057522", at=AT, window=window),
            lambda: repo.submit(group[1], guard),
            lambda: repo.submit(group[2], guard),
            lambda: repo.submit(group[3]),
        ],
    )

    assert outcomes[0] == SubmitResult(stored=True) and outcomes[1] == 3
    assert isinstance(outcomes[2], GuardReached) and isinstance(outcomes[3], GuardReached)
    assert outcomes[4] == SubmitResult(stored=True)
    rows = repo.history(meter.id, PERIOD)
    assert [row.source_id for row in rows] == ["call-0", "call-3"]


def test_a_write_of_another_kind_that_fails_is_rolled_back_alone(
    writer: tuple[Repository, Path],
) -> None:
    repo, path = writer
    meter = meter_of(repo, "102057522")
    group = calls(meter.id, 3)
    writes = serial_writes(repo.engine)
    assert writes is not None

    outcomes = queued_writes_behind_a_lock(
        path,
        [
            lambda: repo.submit(group[0]),
            lambda: repo.submit(group[1]),
            lambda: writes.run(lambda c: c.exec_driver_sql("INSERT INTO nowhere VALUES (1)")),
            lambda: repo.submit(group[2]),
        ],
    )

    assert [outcomes[0], outcomes[1], outcomes[3]] == [SubmitResult(stored=True)] * 3
    assert "no such table: nowhere" in str(outcomes[2])
    assert [row.source_id for row in repo.history(meter.id, PERIOD)] == [
        f"call-{n}" for n in range(3)
    ]


def test_a_caller_who_stopped_waiting_finds_nothing_stored_later(tmp_path: Path) -> None:
    """The writer waits for a lock longer than the callers do: each is told within its
    seconds, and none of their readings is written once the lock is free."""
    path = tmp_path / "late.db"
    demo_database(f"sqlite:///{path}").engine.dispose()
    repo = Repository(connect(f"sqlite:///{path}", timeout_seconds=1))
    meter = meter_of(repo, "102057522")
    started = time.monotonic()

    outcomes = queued_behind_a_lock(repo, path, calls(meter.id, 3), hold=1.5)

    assert all(isinstance(o, StorageError) for o in outcomes), outcomes
    assert time.monotonic() - started < 3.5
    time.sleep(0.5)
    assert repo.history(meter.id, PERIOD) == []
    repo.engine.dispose()


def test_an_in_memory_database_has_no_writer_and_stores_all_the_same() -> None:
    repo = demo_database("sqlite://")
    assert serial_writes(repo.engine) is None
    meter = meter_of(repo, "102057522")
    assert repo.submit(calls(meter.id, 1)[0]).stored
    repo.engine.dispose()
