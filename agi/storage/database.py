"""Connecting to the readings database and bringing its schema up to date with Alembic.

A database that stalls must not stall the caller: every operation of a call or a message
answers within the configured seconds, or fails with `StorageError`. SQLite waits at most
that long for a lock; PostgreSQL gets connect, statement and lock timeouts, and, because a
stopped server cannot time its own statements out, each operation also runs against a
deadline kept here (`Deadline`).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
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


_DEADLINES: weakref.WeakKeyDictionary[Engine, Deadline] = weakref.WeakKeyDictionary()
_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reader(engine: Engine) -> Engine:
    """The engine to read with: for a SQLite file, an engine of its own on the same file
    (its own pool, no event listeners, every statement its own snapshot, writing refused);
    otherwise `engine` with its transactions marked `READ_ONLY`.

    A SQLite engine that takes its write lock at BEGIN needs a `begin` listener, and a
    listener of that kind makes SQLAlchemy dispatch its execution events on every statement
    of that engine: on a call's reads that was most of their CPU. The reader has none,
    and no reader waits for a connection behind writers waiting for SQLite's lock.

    Writers are not queued in the process: a lock around each write transaction was
    measured worse under 1,000 calls than SQLite's own lock (each writer, woken in turn,
    first waits for the interpreter lock, so the hand-overs add up in a line)."""
    return _READERS.get(engine) or engine.execution_options(**READ_ONLY)


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
