"""The counts of failed attempts behind the guessing limits, shared by every instance.

One row per failed attempt (an unknown contract number, a refused reading), counted over a
sliding window: a limit is reached when enough rows are younger than the window, and lifts
by itself as they age. Rows older than the window are deleted as new ones are added.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import sessionmaker

from agi.readings.callers import Limit
from agi.storage.database import READ_ONLY, reporting_failures
from agi.storage.models import GuessAttemptRow


class Attempts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine)
        self._reads = sessionmaker(engine.execution_options(**READ_ONLY))

    @reporting_failures
    def count(self, limit: Limit, key: str, *, since: datetime) -> int:
        """Failed attempts of `key` since `since`."""
        with self._reads() as session:
            return session.scalar(_count(limit, key, since)) or 0

    @reporting_failures
    def add(self, limit: Limit, key: str, *, at: datetime, window: timedelta) -> int:
        """Count one more failed attempt of `key` at `at`; return how many there are within
        the window, this one included."""
        with self._sessions.begin() as session:
            session.execute(
                delete(GuessAttemptRow).where(
                    GuessAttemptRow.limit_kind == limit.value,
                    GuessAttemptRow.key == key,
                    GuessAttemptRow.at <= at - window,
                )
            )
            session.add(GuessAttemptRow(limit_kind=limit.value, key=key, at=at))
            session.flush()
            return session.scalar(_count(limit, key, at - window)) or 0

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
        with self._reads() as session:
            rows = session.execute(
                select(GuessAttemptRow.limit_kind, GuessAttemptRow.key, func.count())
                .where(GuessAttemptRow.at > since)
                .group_by(GuessAttemptRow.limit_kind, GuessAttemptRow.key)
            ).all()
            return {(Limit(kind), key): count for kind, key, count in rows}


def _count(limit: Limit, key: str, since: datetime):
    return select(func.count()).where(
        GuessAttemptRow.limit_kind == limit.value,
        GuessAttemptRow.key == key,
        GuessAttemptRow.at > since,
    )
