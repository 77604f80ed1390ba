"""A scratch copy of a readings database: its contracts, meters and current readings in a
throwaway SQLite file, for calls and messages that must not touch the real readings
(`ivr simulate`, `ivr sms`, the console's keypad)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from agi.storage.database import connect, reporting_failures, upgrade
from agi.storage.models import (
    ContractPhoneRow,
    ContractRow,
    ConversationRow,
    MeterRow,
    ReadingRow,
    RegisterRow,
    SubmissionRow,
)

BATCH = 5000


class _Source:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @reporting_failures
    def copy_into(self, target: Engine) -> int:
        """Copy the contracts with their meters, registers and the phone numbers billing knows
        (a simulated caller is recognised as a real one would be), and the current submissions
        (what a caller's reading is compared with); the number of contracts."""
        submissions = SubmissionRow.__table__
        readings = ReadingRow.__table__
        current = select(submissions).where(submissions.c.superseded_at.is_(None))
        queries = [
            select(ContractRow.__table__),
            select(ContractPhoneRow.__table__),
            select(MeterRow.__table__),
            select(RegisterRow.__table__),
            current,
            select(readings).where(
                readings.c.submission_id.in_(
                    select(submissions.c.id).where(submissions.c.superseded_at.is_(None))
                )
            ),
        ]
        tables = [
            ContractRow.__table__,
            ContractPhoneRow.__table__,
            MeterRow.__table__,
            RegisterRow.__table__,
            submissions,
            readings,
        ]
        copied = 0
        with self.engine.connect() as source, target.begin() as destination:
            for table, query in zip(tables, queries, strict=True):
                result = source.execute(query)
                while rows := result.mappings().fetchmany(BATCH):
                    destination.execute(table.insert(), [dict(row) for row in rows])
                    if table is ContractRow.__table__:
                        copied += len(rows)
        return copied


SCRATCH = "scratch.db"


def scratch_copy(source: Engine, folder: Path) -> tuple[str, int]:
    """A scratch SQLite database `folder`/scratch.db with the contracts and current readings
    of `source`: its URL, and how many contracts it holds. The text conversations of a
    scratch database there before are kept (a conversation goes on over several runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SCRATCH
    conversations: list[dict] = []
    if path.exists():
        earlier = connect(f"sqlite:///{path}")
        try:
            with earlier.connect() as connection:
                table = ConversationRow.__table__
                conversations = [dict(r) for r in connection.execute(select(table)).mappings()]
        except SQLAlchemyError:
            conversations = []
        finally:
            earlier.dispose()
        path.unlink()
    url = f"sqlite:///{path}"
    target = connect(url)
    try:
        upgrade(target)
        count = _Source(source).copy_into(target)
        if conversations:
            with target.begin() as connection:
                connection.execute(ConversationRow.__table__.insert(), conversations)
    finally:
        target.dispose()
    return url, count


NO_CONTRACTS = (
    "the configured database has no contracts to try: run `ivr db seed` (the demo contracts) "
    "or `ivr db import`"
)


class NoContracts(Exception):
    """The database has no contracts: a call on a copy of it could not get far."""


class ScratchCopies:
    """A scratch copy of `source`, made again when it is older than `max_age` seconds, and a
    throwaway copy of that for each call: every call starts from the same contracts and
    readings, and none sees what another stored."""

    def __init__(
        self,
        source: Engine,
        *,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._made: tuple[float, Path] | None = None

    @contextmanager
    def copy(self) -> Iterator[str]:
        """The URL of a fresh copy, deleted when the block ends; NoContracts when the source
        has none to copy."""
        with self._lock:
            template = self._template()
            folder = Path(tempfile.mkdtemp(prefix="ivr-call-"))
            shutil.copyfile(template, folder / SCRATCH)
        try:
            yield f"sqlite:///{folder / SCRATCH}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _template(self) -> Path:
        now = self._clock()
        if self._made is None or now - self._made[0] > self.max_age:
            folder = Path(tempfile.mkdtemp(prefix="ivr-scratch-"))
            try:
                _, count = scratch_copy(self.source, folder)
                if count == 0:
                    raise NoContracts(NO_CONTRACTS)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self.close()
            self._made = (now, folder)
        assert self._made is not None
        return self._made[1] / SCRATCH

    def close(self) -> None:
        if self._made is not None:
            shutil.rmtree(self._made[1], ignore_errors=True)
            self._made = None
