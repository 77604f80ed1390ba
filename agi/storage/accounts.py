"""The staff console's accounts: who may sign in, in which role, with which password hash.

The hash is made and checked elsewhere (`agi.console.passwords`); storage keeps the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from agi.storage.database import reader, reporting_failures
from agi.storage.models import StaffAccountRow

ROLES = ("editor", "supervisor")
"""An editor may also save the flow; a supervisor reads."""


@dataclass(frozen=True)
class StaffAccount:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    sessions_from: datetime
    """A session issued before this moment no longer counts (signed out, or made for an
    account of the same name removed since)."""

    def admits(self, issued: float) -> bool:
        """Whether a session issued at `issued` (seconds since the epoch) still counts."""
        return issued >= self.sessions_from.timestamp()


class AccountExists(Exception):
    """An account of that name exists already: remove it first to replace it."""


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(reader(engine), expire_on_commit=False)

    @reporting_failures
    def add(self, name: str, role: str, password_hash: str) -> StaffAccount:
        if role not in ROLES:
            raise ValueError(f"the role is one of {', '.join(ROLES)}")
        now = datetime.now(UTC)
        row = StaffAccountRow(
            name=name, role=role, password_hash=password_hash, created_at=now, sessions_from=now
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AccountExists(f"there is an account named {name} already") from None
        return _account(row)

    @reporting_failures
    def find(self, name: str) -> StaffAccount | None:
        with self._reads() as session:
            row = session.scalar(select(StaffAccountRow).where(StaffAccountRow.name == name))
            return None if row is None else _account(row)

    @reporting_failures
    def all(self) -> list[StaffAccount]:
        with self._reads() as session:
            rows = session.scalars(select(StaffAccountRow).order_by(StaffAccountRow.name))
            return [_account(row) for row in rows]

    @reporting_failures
    def change_hash(self, name: str, password_hash: str) -> None:
        """Keep a new hash of the same password (argon2's parameters were raised)."""
        with self._sessions.begin() as session:
            row = session.scalar(select(StaffAccountRow).where(StaffAccountRow.name == name))
            if row is not None:
                row.password_hash = password_hash

    @reporting_failures
    def sign_out(self, name: str) -> bool:
        """End every session of the account issued until now; False when there is none."""
        with self._sessions.begin() as session:
            changed = session.execute(
                update(StaffAccountRow)
                .where(StaffAccountRow.name == name)
                .values(sessions_from=datetime.now(UTC))
            ).rowcount
        return bool(changed)

    @reporting_failures
    def remove(self, name: str) -> bool:
        """False when there was no such account."""
        with self._sessions.begin() as session:
            removed = session.execute(
                delete(StaffAccountRow).where(StaffAccountRow.name == name)
            ).rowcount
        return bool(removed)


def _account(row: StaffAccountRow) -> StaffAccount:
    return StaffAccount(
        name=row.name,
        role=row.role,
        password_hash=row.password_hash,
        created_at=row.created_at,
        sessions_from=row.sessions_from,
    )
