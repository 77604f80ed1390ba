"""Where the texts of the flow file saved from the console are kept: each one whole, with
who saved it and when, so that any two can be compared and an earlier one saved again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from agi.storage.database import reader, reporting_failures
from agi.storage.models import FlowVersionRow


@dataclass(frozen=True)
class FlowVersion:
    number: int
    saved_at: datetime
    saved_by: str | None
    """None: the text was found in the file, edited outside the console."""
    digest: str
    text: str
    restored_from: int | None = None


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FlowVersions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(reader(engine), expire_on_commit=False)

    @reporting_failures
    def add(
        self,
        text: str,
        saved_by: str | None,
        *,
        at: datetime | None = None,
        restored_from: int | None = None,
    ) -> FlowVersion:
        row = FlowVersionRow(
            saved_at=at or datetime.now(tz=UTC),
            saved_by=saved_by,
            digest=text_digest(text),
            text=text,
            restored_from=restored_from,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _version(row)

    @reporting_failures
    def all(self) -> list[FlowVersion]:
        """Every version, the newest first."""
        with self._reads() as session:
            rows = session.scalars(select(FlowVersionRow).order_by(FlowVersionRow.id.desc()))
            return [_version(row) for row in rows]

    @reporting_failures
    def get(self, number: int) -> FlowVersion | None:
        with self._reads() as session:
            row = session.get(FlowVersionRow, number)
            return None if row is None else _version(row)

    @reporting_failures
    def latest(self) -> FlowVersion | None:
        with self._reads() as session:
            row = session.scalar(select(FlowVersionRow).order_by(FlowVersionRow.id.desc()).limit(1))
            return None if row is None else _version(row)


def _version(row: FlowVersionRow) -> FlowVersion:
    return FlowVersion(
        number=row.id,
        saved_at=row.saved_at,
        saved_by=row.saved_by,
        digest=row.digest,
        text=row.text,
        restored_from=row.restored_from,
    )
