"""Where call records are kept, read back for reports, and purged after the retention."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from agi.records.record import CallRecord, End, Visit
from agi.storage.database import reader, reporting_failures, write_transaction
from agi.storage.models import CallRecordRow, TextMessageRow


@dataclass(frozen=True)
class Purged:
    records: int
    messages: int
    """Answered message ids forgotten: a gateway redelivering one now gets a new answer."""


class CallRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(reader(engine), expire_on_commit=False)

    @reporting_failures
    def add(self, *records: CallRecord) -> None:
        """Keep finished records, all in one transaction (one INSERT of many rows: the
        writer's CPU is the calls' CPU too); the rows are made before it begins, so that
        SQLite's write lock is not held while they are. A SQLite file's records go to its
        one writer, with the calls' submissions, instead of waiting for its lock."""
        rows = [_values(record) for record in records]

        def write(connection: Connection) -> None:
            connection.execute(insert(CallRecordRow), rows)

        write_transaction(self.engine, write)

    @staticmethod
    def note_message(
        session: Session,
        channel: str,
        caller_key: str,
        turn: Callable[[CallRecord | None], CallRecord],
    ) -> None:
        """In `session`'s transaction (the one that records the message): the record of the
        sender's conversation after this message. `turn` is given the record of the
        conversation that waits for this sender (None: there is none) and returns the record
        to keep: that one continued, or a new one."""
        row = session.scalar(
            select(CallRecordRow)
            .where(
                CallRecordRow.channel == channel,
                CallRecordRow.caller_key == caller_key,
                CallRecordRow.end == End.WAITING.value,
            )
            .order_by(CallRecordRow.id.desc())
            .limit(1)
            .with_for_update()
        )
        record = turn(None if row is None else _record(row))
        if row is not None and record.id == row.id:
            for name, value in _values(record).items():
                setattr(row, name, value)
        else:
            session.add(_row(record))
        session.flush()

    @reporting_failures
    def between(
        self, start: datetime, end: datetime, channel: str | None = None
    ) -> list[CallRecord]:
        """The records that started at or after `start` and before `end`, oldest first."""
        with self._reads() as session:
            query = select(CallRecordRow).where(
                CallRecordRow.started_at >= start, CallRecordRow.started_at < end
            )
            if channel is not None:
                query = query.where(CallRecordRow.channel == channel)
            rows = session.scalars(query.order_by(CallRecordRow.started_at, CallRecordRow.id))
            return [_record(row) for row in rows]

    @reporting_failures
    def purge(self, before: datetime) -> Purged:
        """Delete the records that started, and the answered message ids received, before
        `before`."""
        with self._sessions.begin() as session:
            records = session.execute(
                delete(CallRecordRow).where(CallRecordRow.started_at < before)
            ).rowcount
            messages = session.execute(
                delete(TextMessageRow).where(TextMessageRow.received_at < before)
            ).rowcount
        return Purged(records=records or 0, messages=messages or 0)


def _row(record: CallRecord) -> CallRecordRow:
    return CallRecordRow(**_values(record))


def _values(record: CallRecord) -> dict[str, Any]:
    return dict(
        channel=record.channel,
        source_id=record.source_id[:128],
        caller=record.caller[:64],
        caller_key=record.caller_key,
        system=record.system[:64] if record.system else None,
        server=record.server[:128] if record.server else None,
        started_at=record.started_at,
        ended_at=record.ended_at,
        end=record.end.value,
        where=record.where[:64] if record.where else None,
        reason=record.reason[:64] if record.reason else None,
        path=json.dumps([[visit.node, visit.seconds] for visit in record.path]),
        refusals=json.dumps(list(record.refusals)),
        submission=record.submission,
        resource=record.resource,
        by_voice=record.by_voice,
    )


def _record(row: CallRecordRow) -> CallRecord:
    return CallRecord(
        id=row.id,
        channel=row.channel,
        source_id=row.source_id,
        caller=row.caller,
        caller_key=row.caller_key,
        system=row.system,
        server=row.server,
        started_at=row.started_at,
        ended_at=row.ended_at,
        end=End(row.end),
        where=row.where,
        reason=row.reason,
        path=tuple(Visit(node, float(seconds)) for node, seconds in json.loads(row.path)),
        refusals=tuple(json.loads(row.refusals)),
        submission=row.submission,
        resource=row.resource,
        by_voice=row.by_voice,
    )
