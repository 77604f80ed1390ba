"""Connecting to the readings database and bringing its schema up to date with Alembic.

A database that stalls must not stall the caller: every operation of a call or a message
answers within the configured seconds, or fails with `StorageError`. SQLite waits at most
that long for a lock; PostgreSQL gets connect, statement and lock timeouts, and, because a
stopped server cannot time its own statements out, each operation also runs against a
deadline kept here (`Deadline`).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = str(Path(__file__).with_name("migrations"))
"""Alembic is imported only where migrations run: a per-call AGI script never needs it."""


READ_ONLY = {"read_only": True}
"""Execution options of transactions that only read (SQLite then does not lock for writing)."""

DEADLINE_WORKERS = 32
"""Operations in flight at once on one engine; more wait their turn, on the same clock."""

P = ParamSpec("P")
R = TypeVar("R")


class StorageError(Exception):
    """The readings database failed: unreachable, locked, or not as this IVR expects.

    The one error storage lets out; each channel decides what the customer hears.
    """


class Deadline:
    """Runs each operation on a database in a worker thread and waits at most `seconds`.

    An operation that does not answer in time is left to its worker, to go on when the
    database comes back; it then may not commit (`refuse_late_commit`), so what the caller
    was told failed is not written after all. Only a stall in the middle of the COMMIT
    itself can still end in rows the caller was told were not stored.
    """

    _current = threading.local()

    def __init__(self, seconds: float, workers: int) -> None:
        self.seconds = seconds
        self._workers = ThreadPoolExecutor(workers, thread_name_prefix="database")

    def run(self, work: Callable[[], R]) -> R:
        if getattr(self._current, "until", None) is not None:
            return work()  # an operation inside an operation: already on the clock
        until = time.monotonic() + self.seconds
        future = self._workers.submit(self._on_the_clock, work, until)
        try:
            return future.result(timeout=self.seconds)
        except FutureTimeout:
            future.cancel()
            raise StorageError(
                f"the readings database did not answer within {self.seconds:g} s"
            ) from None

    def _on_the_clock(self, work: Callable[[], R], until: float) -> R:
        self._current.until = until
        try:
            return work()
        finally:
            self._current.until = None

    @classmethod
    def refuse_late_commit(cls, _connection: object) -> None:
        """A transaction whose operation ran out of time is not committed."""
        until = getattr(cls._current, "until", None)
        if until is not None and time.monotonic() > until:
            raise StorageError("too late to commit: the caller was told it failed")


class SerialWrites:
    """One writer thread for a SQLite file: the calls hand their write transactions over and
    wait for the answer (their submissions, their failed attempts, and the call records'
    writer its batches); the writer takes all that wait (up to `GROUP`), writes them in the
    order they came, each run of writes of one kind together and the others each inside a
    SAVEPOINT of its own (one that fails is rolled back alone and its caller gets its
    error), and commits them with one COMMIT, before any of their callers is answered.

    SQLite lets one transaction write at a time, and writers meeting at its lock wait in its
    busy handler, which sleeps longer and longer between tries (up to 100 ms): under hundreds
    of calls a writer woke long after the lock was free. Here one thread writes, for as long
    as writes come, and nobody sleeps on the lock. A caller waits at most `seconds`; a write
    whose caller stopped waiting is not committed (the group is rolled back and written again
    without it), so what the caller was told failed is not stored, unless the COMMIT itself
    is what outlasted the wait. The writer ends after a second without writes and starts
    again with the next.
    """

    GROUP = 64
    IDLE_SECONDS = 1.0

    def __init__(self, engine: Engine, seconds: float | None) -> None:
        self._engine = weakref.ref(engine)
        self.seconds = seconds
        self._ready = threading.Condition(threading.Lock())
        self._waiting: deque[_Write] = deque()
        self._running = False

    def run(
        self,
        work: Callable[[Connection], R],
        *,
        together: Callable[[Connection, list[Any]], list[R] | None] | None = None,
        item: object = None,
    ) -> R:
        """`work` on a connection in a write transaction, committed before this returns
        (its own exception if it fails: nothing of it is stored).

        Writes of one group that come one after another naming the same `together` are
        first tried in one go: `together(connection, items)` writes them all and returns
        their results in order; it returns None before writing anything, or raises (the
        transaction is then rolled back and the whole group written again, every write by its
        `work`), to have each written by its `work` instead.
        """
        until = time.monotonic() + self.seconds if self.seconds else None
        write = _Write(work, together, item, until)
        with self._ready:
            self._waiting.append(write)
            if self._running:
                self._ready.notify()
            else:
                thread = threading.Thread(target=self._write, name="sqlite-writer", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread can be started: no write would be made
                    self._waiting.remove(write)
                    raise StorageError("the readings database's writer could not start") from None
                self._running = True
        if not write.done.wait(self.seconds):
            raise StorageError(f"the readings database did not answer within {self.seconds:g} s")
        return write.result()

    def _write(self) -> None:
        while True:
            with self._ready:
                if not self._waiting:
                    self._ready.wait(self.IDLE_SECONDS)
                if not self._waiting:
                    self._running = False
                    return
                count = min(self.GROUP, len(self._waiting))
                group = [self._waiting.popleft() for _ in range(count)]
            self._commit(group)

    def _commit(self, group: list[_Write]) -> None:
        engine = self._engine()
        claimed: list[_Write] = []
        one_by_one = False
        while True:
            try:
                if engine is None:
                    raise StorageError("the readings database was closed")
                with engine.begin() as connection:
                    now = time.monotonic()
                    claimed = [write for write in group if not write.late(now)]
                    for write in group:
                        if write.late(now):
                            write.finish(error=StorageError("the caller stopped waiting"))
                    if not claimed:
                        return
                    _run_claimed(connection, claimed, one_by_one)
                    if any(write.late(time.monotonic()) for write in claimed):
                        raise _Late
            except _Late:
                group = claimed
                continue
            except _TogetherFailed:
                group, one_by_one = claimed, True
                continue
            except _AloneFailed as failed:
                claimed[0].finish(error=failed.error)
                return
            except Exception as error:
                for write in claimed or group:
                    failed = error
                    if not isinstance(error, StorageError):
                        failed = StorageError(
                            f"the readings database failed ({type(error).__name__})"
                        )
                        failed.__cause__ = error
                    write.finish(error=failed)
                return
            for write in claimed:
                write.finish()
            return


def _run_claimed(connection: Connection, claimed: list[_Write], one_by_one: bool) -> None:
    """The writes of a group in its transaction, in the order they came (a failed attempt
    counts for a guard behind it): one alone, as it is (its failure rolls the transaction
    back); several, each run of writes of one kind (the same `together`) together, and
    every other write in a SAVEPOINT of its own."""
    if len(claimed) == 1:
        (write,) = claimed
        try:
            write.value, write.error = write.work(connection), None
        except Exception as error:
            raise _AloneFailed(error) from error
        return
    if one_by_one:
        _each_in_a_savepoint(connection, claimed)
        return
    for together, run in itertools.groupby(claimed, key=lambda write: write.together):
        writes = list(run)
        if together is None or len(writes) == 1:
            _each_in_a_savepoint(connection, writes)
            continue
        try:
            values = together(connection, [write.item for write in writes])
        except Exception as error:
            raise _TogetherFailed from error
        if values is None:
            _each_in_a_savepoint(connection, writes)
            continue
        for write, value in zip(writes, values, strict=True):
            write.value, write.error = value, None


def _each_in_a_savepoint(connection: Connection, writes: list[_Write]) -> None:
    """Each write by its own `work`, rolled back alone if it fails (its caller gets the
    error)."""
    for write in writes:
        write.error = None
        try:
            with connection.begin_nested():
                write.value = write.work(connection)
        except Exception as error:
            write.error = error


class _AloneFailed(Exception):
    """The one write of a group failed: the transaction is rolled back, its error goes back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _TogetherFailed(Exception):
    """Writing a group together failed: roll back, and write each in a SAVEPOINT instead."""


class _Late(Exception):
    """A write of the group outlasted its caller's wait before the COMMIT."""


class _Write:
    """One write transaction handed to a writer, and its outcome once `done` is set."""

    __slots__ = ("done", "error", "item", "together", "until", "value", "work")

    def __init__(
        self,
        work: Callable[[Connection], Any],
        together: Callable[[Connection, list[Any]], list[Any] | None] | None,
        item: object,
        until: float | None,
    ) -> None:
        self.work = work
        self.together = together
        self.item = item
        self.until = until
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def late(self, now: float) -> bool:
        return self.until is not None and now > self.until

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None:
            self.error = error
        self.done.set()

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


_DEADLINES: weakref.WeakKeyDictionary[Engine, Deadline] = weakref.WeakKeyDictionary()
_SERIAL_WRITES: weakref.WeakKeyDictionary[Engine, SerialWrites] = weakref.WeakKeyDictionary()
_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reader(engine: Engine) -> Engine:
    """The engine to read with: for a SQLite file, an engine of its own on the same file
    (its own pool, no event listeners, every statement its own snapshot, writing refused);
    otherwise `engine` with its transactions marked `READ_ONLY`.

    A SQLite engine that takes its write lock at BEGIN needs a `begin` listener, and a
    listener of that kind makes SQLAlchemy dispatch its execution events on every statement
    of that engine: on a call's reads that was most of their CPU. The reader has none,
    and no reader waits for a connection behind writers waiting for SQLite's lock.

    Submissions go to the file's one writer (`SerialWrites`), not through a lock around
    each write transaction: that lock was measured worse under 1,000 calls than SQLite's own
    (each writer, woken in turn, first waits for the interpreter lock, so the hand-overs add
    up in a line)."""
    return _READERS.get(engine) or engine.execution_options(**READ_ONLY)


def serial_writes(engine: Engine) -> SerialWrites | None:
    """The writer thread of a SQLite file's engine (`SerialWrites`); None for any other
    database, whose transactions write at once each on its own connection."""
    return _SERIAL_WRITES.get(engine)


def write_transaction(
    engine: Engine,
    work: Callable[[Connection], R],
    *,
    together: Callable[[Connection, list[Any]], list[R] | None] | None = None,
    item: object = None,
) -> R:
    """`work` in a write transaction of its own, committed before this returns: through a
    SQLite file's one writer (`SerialWrites.run`, with `together` and `item`), or on a
    connection of any other database's."""
    writes = serial_writes(engine)
    if writes is not None:
        return writes.run(work, together=together, item=item)
    with engine.begin() as connection:
        return work(connection)


def reporting_failures(method: Callable[P, R]) -> Callable[P, R]:
    """Let a database failure out of `method` as `StorageError` (the cause stays chained),
    within the deadline of the engine of `self` when it has one."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        def work() -> R:
            try:
                return method(*args, **kwargs)
            except SQLAlchemyError as error:
                failed = type(error).__name__
                raise StorageError(f"the readings database failed ({failed})") from error

        deadline = _DEADLINES.get(getattr(args[0], "engine", None)) if _DEADLINES and args else None
        return deadline.run(work) if deadline else work()

    return guarded


def connect(
    url: str, *, timeout_seconds: float | None = None, pool_size: int = DEADLINE_WORKERS
) -> Engine:
    """An engine for `url`; SQLite files get their folder created, WAL and write locking.

    With `timeout_seconds`, no operation waits longer than that for the database (calls
    and messages); without, only SQLite's lock wait is bounded, at 30 s (migrations and
    billing imports may take long). Statement parameters (contract and phone numbers) are
    kept out of error messages.

    A PostgreSQL engine keeps `pool_size` connections and runs as many operations at once
    (the deadline's workers), so no operation waits for a connection inside the pool: a
    wait there is a lock every waiting thread contends for, and under hundreds of calls it
    was where most of them stood.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options: dict[str, Any] = {}
        connect_args: dict[str, Any] = {}
        if timeout_seconds:
            milliseconds = int(timeout_seconds * 1000)
            options["pool_timeout"] = timeout_seconds
            options["pool_size"] = pool_size
            options["max_overflow"] = 0
            connect_args = {
                "connect_timeout": max(1, math.ceil(timeout_seconds)),
                "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
                f" -c idle_in_transaction_session_timeout={milliseconds * 2}",
            }
        engine = create_engine(
            url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args, **options
        )
        if timeout_seconds:
            _DEADLINES[engine] = Deadline(timeout_seconds, pool_size)
            event.listen(engine, "commit", Deadline.refuse_late_commit)
        return engine
    in_memory = parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    file = not in_memory
    if not file:
        engine = create_engine(
            url, connect_args={"timeout": timeout_seconds or 30}, hide_parameters=True
        )
        _lock_sqlite_writes(engine)
        return engine
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = _sqlite_file(parsed, timeout_seconds, pool_size)
    _lock_sqlite_writes(engine)
    reads = _sqlite_file(parsed, timeout_seconds, pool_size)
    event.listen(reads, "connect", _refuse_writes)
    _READERS[engine] = reads
    _SERIAL_WRITES[engine] = SerialWrites(engine, timeout_seconds)
    event.listen(engine, "engine_disposed", lambda _engine: reads.dispose())
    return engine


def _sqlite_file(parsed: URL, timeout_seconds: float | None, pool_size: int) -> Engine:
    """An engine on a SQLite file, with as many pooled connections as the server's other
    engines (SQLAlchemy's default of 5 + 10 left hundreds of calls queueing for one). The
    wait for a connection stays SQLAlchemy's 30 s: bounded by the database timeout, writers
    queueing behind SQLite's lock under 1,000 calls failed where they used to succeed."""
    return create_engine(
        parsed,
        connect_args={"timeout": timeout_seconds or 30},
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=0,
    )


def _refuse_writes(dbapi_connection, _record) -> None:
    """A reader's connection: autocommit (no transaction to end), writing refused (a write
    by mistake fails loudly instead of going out without the write lock)."""
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA query_only=ON")


def _lock_sqlite_writes(engine: Engine) -> None:
    """Make SQLite transactions take the write lock at BEGIN, unless marked `READ_ONLY`.

    pysqlite otherwise begins lazily, and two submissions that read the same meter before
    either writes could both decide they are the current one.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


REVISION_LINE = re.compile(r'^(down_revision|revision)\s*=\s*["\']?([^"\'\s]*)["\']?\s*$', re.M)


@functools.cache
def schema_head() -> str | None:
    """The newest migration's revision, read from the migration files as text: a per-call
    AGI script checks the schema on every call, and Alembic costs it about 0.2 s to import.
    (A test holds this to Alembic's own answer.) Read once a process: the files do not
    change under it, and /health asks on every probe."""
    revisions, parents = set(), set()
    for path in (Path(MIGRATIONS) / "versions").glob("*.py"):
        found = dict(REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "", "None"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot take calls yet (unreachable, no tables, an old schema), or
    None."""
    head = schema_head()
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            current = (
                connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                if "alembic_version" in tables
                else None
            )
    except SQLAlchemyError:
        return "the readings database is not reachable"
    if current is None:
        return "the database has no tables yet"
    if current != head:
        return f"the database schema is at version {current}, this IVR needs {head}"
    return None
