"""Connecting to the readings database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = str(Path(__file__).with_name("migrations"))
"""Alembic is imported only where migrations run: a per-call AGI script never needs it."""


READ_ONLY = {"read_only": True}
"""Execution options of transactions that only read (SQLite then does not lock for writing)."""

P = ParamSpec("P")
R = TypeVar("R")


class StorageError(Exception):
    """The readings database failed: unreachable, locked, or not as this IVR expects.

    The one error storage lets out; each channel decides what the customer hears.
    """


def reporting_failures(method: Callable[P, R]) -> Callable[P, R]:
    """Let a database failure out of `method` as `StorageError` (the cause stays chained)."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as error:
            raise StorageError(f"the readings database failed ({type(error).__name__})") from error

    return guarded


def connect(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created, WAL and write locking.

    Statement parameters (contract and phone numbers) are kept out of error messages.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
    _lock_sqlite_writes(engine)
    return engine


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


def schema_problem(engine: Engine) -> str | None:
    """Why this database cannot take calls yet (unreachable, no tables, an old schema), or
    None."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError:
        return "the readings database is not reachable"
    if current is None:
        return "the database has no tables yet"
    if current != head:
        return f"the database schema is at version {current}, this IVR needs {head}"
    return None
