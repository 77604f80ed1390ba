"""Tables of the readings database, as SQLAlchemy 2.0 typed declarative models.

The schema itself is created and upgraded by the Alembic migrations in `agi/migrations`;
a test keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and always read back with its time zone.

    SQLite keeps no offset: a Moscow 12:00 stored as is would come back as 12:00 UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored moment needs its time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ContractRow(Base):
    """A contract for one resource; the same number may exist for several resources."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("number", "resource", name="uq_contracts_number_resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    resource: Mapped[str] = mapped_column(String(16))

    meters: Mapped[list[MeterRow]] = relationship(
        back_populates="contract", order_by="MeterRow.position"
    )
    phones: Mapped[list[ContractPhoneRow]] = relationship(
        back_populates="contract", order_by="ContractPhoneRow.phone", cascade="all, delete-orphan"
    )


class ContractPhoneRow(Base):
    """A phone number billing knows for a contract (E.164): a call from it is offered the
    contract, by its last four digits."""

    __tablename__ = "contract_phones"
    __table_args__ = (
        UniqueConstraint("contract_id", "phone", name="uq_contract_phones_contract_phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    phone: Mapped[str] = mapped_column(String(20), index=True)

    contract: Mapped[ContractRow] = relationship(back_populates="phones")


class MeterRow(Base):
    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("contract_id", "serial", name="uq_meters_contract_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    serial: Mapped[str] = mapped_column(String(64))
    digits: Mapped[int]
    position: Mapped[int] = mapped_column(default=1)

    contract: Mapped[ContractRow] = relationship(back_populates="meters")
    registers: Mapped[list[RegisterRow]] = relationship(
        back_populates="meter", order_by="RegisterRow.position"
    )


class RegisterRow(Base):
    """One tariff zone of a meter, with the billing system's last reading and average."""

    __tablename__ = "meter_registers"
    __table_args__ = (UniqueConstraint("meter_id", "zone", name="uq_registers_meter_zone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    zone: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    previous: Mapped[int | None] = mapped_column(BigInteger)
    average: Mapped[int | None] = mapped_column(BigInteger)
    imported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When billing last sent `previous`: it wins over readings submitted before then."""

    meter: Mapped[MeterRow] = relationship(back_populates="registers")


class SubmissionRow(Base):
    """All zones of one meter given in one call or message.

    `source_id` is the call id the IVR gave the call (or the message id): the same source
    submits a meter once. `correlation_id` is what Asterisk calls the call
    (`system/uniqueid`), to find it in Asterisk's logs; it need not be unique. Only one
    submission per meter and period is current (`superseded_at` is null); a later one
    supersedes it and the earlier one stays as history.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("channel", "source_id", "meter_id", name="uq_submissions_source_meter"),
        Index(
            "uq_submissions_current",
            "meter_id",
            "period",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    channel: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(160))
    caller: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    meter: Mapped[MeterRow] = relationship()
    readings: Mapped[list[ReadingRow]] = relationship(
        back_populates="submission", order_by="ReadingRow.position"
    )


class ReadingRow(Base):
    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("submission_id", "zone", name="uq_readings_submission_zone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    zone: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    value: Mapped[int] = mapped_column(BigInteger)

    submission: Mapped[SubmissionRow] = relationship(back_populates="readings")


class ConversationRow(Base):
    """What the text channel waits for from one sender.

    Either the readings of a contract's zones, or a «да» for the readings it questioned
    (`pending`). Kept in the database, not in a process, so that several webhook instances
    can serve one number; `updated_at` is when the conversation expires from.
    """

    __tablename__ = "text_conversations"
    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_text_conversations_sender"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    contract: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(16))
    pending: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str | None] = mapped_column(String(16))
    """What a «да» answers: `resource` (which contract the readings are for) or `high`
    (the consumption); none with `pending` is `high`, as before the column existed."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TextMessageRow(Base):
    """A text message that was answered, and its reply: a gateway that delivers the same
    message id again gets the same reply, and nothing is done twice.

    `fingerprint` (a hash of the sender and text) tells a redelivery from another message
    that reuses the id; the text itself is not kept.
    """

    __tablename__ = "text_messages"
    __table_args__ = (
        UniqueConstraint("channel", "message_id", name="uq_text_messages_id"),
        Index("ix_text_messages_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    reply: Mapped[str] = mapped_column(String(512))
    accepted: Mapped[bool]
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GuessAttemptRow(Base):
    """One failed attempt that counts towards a guessing limit: an unknown contract number
    given by a caller (`limit` caller or anonymous, `key` the caller), or a refused reading
    of a contract (`limit` contract, `key` its number). Rows older than the window no longer
    count and are deleted as new ones come."""

    __tablename__ = "guess_attempts"
    __table_args__ = (Index("ix_guess_attempts_key", "limit_kind", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    limit_kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(96))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class CallRecordRow(Base):
    """What became of one phone call or one text conversation (`agi.records.record`).

    `path` and `refusals` are JSON text: the nodes with the seconds spent in each, and the
    reasons the caller was refused. Records older than the retention are purged.
    """

    __tablename__ = "call_records"
    __table_args__ = (
        Index("ix_call_records_started", "started_at"),
        Index("ix_call_records_open", "channel", "caller_key", "end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(64))
    caller_key: Mapped[str | None] = mapped_column(String(32))
    system: Mapped[str | None] = mapped_column(String(64))
    server: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[str] = mapped_column(String(16))
    where: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text())
    refusals: Mapped[str] = mapped_column(Text())
    submission: Mapped[str | None] = mapped_column(String(128))
    resource: Mapped[str | None] = mapped_column(String(16))
    by_voice: Mapped[bool] = mapped_column(default=False)


class StaffAccountRow(Base):
    """A person who signs in to the staff console: an `editor` may save the flow, a
    `supervisor` reads. `password_hash` is argon2's encoded hash, never the password.
    `sessions_from`: a session cookie issued before it is refused (set by signing out)."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sessions_from: Mapped[datetime] = mapped_column(UtcDateTime())


class FlowVersionRow(Base):
    """One saved text of the flow file: who saved it from the console and when. `saved_by`
    is null for a text found in the file (edited outside the console); `restored_from` is
    the version a restore saved again."""

    __tablename__ = "flow_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    saved_by: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text())
    restored_from: Mapped[int | None] = mapped_column(ForeignKey("flow_versions.id"))
