"""The counts of failed attempts behind the guessing limits, shared by every instance.

One row per failed attempt (an unknown contract number, a refused reading), counted over a
sliding window: a limit is reached when enough rows are younger than the window, and lifts
by itself as they age. Rows older than the window are deleted as new ones are added.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Subquery,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import sessionmaker

from agi.readings.callers import Limit
from agi.storage.database import reader, reporting_failures, write_transaction
from agi.storage.models import GuessAttemptRow


class Attempts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine)
        self._read_engine = reader(engine)

    @reporting_failures
    def count(self, limit: Limit, key: str, *, since: datetime) -> int:
        """Failed attempts of `key` since `since` (a connection, not a session: every
        contract look-up and checked reading asks)."""
        with self._read_engine.connect() as connection:
            found = connection.scalar(_COUNT, {"kind": limit.value, "key": key, "since": since})
            return found or 0

    @reporting_failures
    def add(self, limit: Limit, key: str, *, at: datetime, window: timedelta) -> int:
        """Count one more failed attempt of `key` at `at`; return how many there are within
        the window, this one included. A SQLite file's go to its one writer, with the calls'
        submissions, instead of waiting for its lock."""

        def write(connection: Connection) -> int:
            connection.execute(
                delete(GuessAttemptRow).where(
                    GuessAttemptRow.limit_kind == limit.value,
                    GuessAttemptRow.key == key,
                    GuessAttemptRow.at <= at - window,
                )
            )
            connection.execute(
                insert(GuessAttemptRow).values(limit_kind=limit.value, key=key, at=at)
            )
            since = at - window
            return connection.scalar(_COUNT, {"kind": limit.value, "key": key, "since": since}) or 0

        return write_transaction(self.engine, write)

    @reporting_failures
    def clear(self, limit: Limit, key: str) -> int:
        """Forget every failed attempt of `key` (an operator lifts a lockout); how many."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(GuessAttemptRow).where(
                    GuessAttemptRow.limit_kind == limit.value, GuessAttemptRow.key == key
                )
            )
            return result.rowcount or 0

    @reporting_failures
    def counts(self, *, since: datetime) -> dict[tuple[Limit, str], int]:
        """Every key with failed attempts since `since`, and how many."""
        with self._read_engine.connect() as connection:
            rows = connection.execute(
                select(GuessAttemptRow.limit_kind, GuessAttemptRow.key, func.count())
                .where(GuessAttemptRow.at > since)
                .group_by(GuessAttemptRow.limit_kind, GuessAttemptRow.key)
            ).all()
            return {(Limit(kind), key): count for kind, key, count in rows}


_COUNT = select(func.count()).where(
    GuessAttemptRow.limit_kind == bindparam("kind"),
    GuessAttemptRow.key == bindparam("key"),
    GuessAttemptRow.at > bindparam("since"),
)
"""The failed attempts of one key since `since`, built once: it runs for every checked
reading and every failed attempt."""


@functools.cache
def failures_of(keys: int) -> Subquery:
    """One row: the failed attempts since `since` of each of `keys` keys (`kind0`, `key0` …),
    as columns `failures0` …, for a statement that reads them beside what they guard."""
    return select(
        *(
            select(func.count())
            .where(
                GuessAttemptRow.limit_kind == bindparam(f"kind{number}"),
                GuessAttemptRow.key == bindparam(f"key{number}"),
                GuessAttemptRow.at > bindparam("since"),
            )
            .scalar_subquery()
            .label(f"failures{number}")
            for number in range(keys)
        )
    ).subquery("failures")


def keys_given(keys: Sequence[tuple[Limit, str]], since: datetime) -> dict[str, object]:
    """The parameters of `failures_of(len(keys))` or `counts_of_keys(len(keys))`."""
    given: dict[str, object] = {"since": since}
    for number, (limit, key) in enumerate(keys):
        given |= {f"kind{number}": limit.value, f"key{number}": key}
    return given


@functools.cache
def counts_of_keys(keys: int) -> Select:
    """The failed attempts of `keys` keys (`kind0`, `key0` …) since `since`, by key: built
    once for each number of keys, as every contract look-up asks."""
    return (
        select(GuessAttemptRow.limit_kind, GuessAttemptRow.key, func.count())
        .where(
            GuessAttemptRow.at > bindparam("since"),
            or_(
                *(
                    and_(
                        GuessAttemptRow.limit_kind == bindparam(f"kind{number}"),
                        GuessAttemptRow.key == bindparam(f"key{number}"),
                    )
                    for number in range(keys)
                )
            ),
        )
        .group_by(GuessAttemptRow.limit_kind, GuessAttemptRow.key)
    )
