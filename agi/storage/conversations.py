"""Where the text channel keeps what it needs between two messages: the conversation with
each sender, and the messages it has already answered, with the readings they gave.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agi.readings.rules import Resource, Submission
from agi.storage.database import reporting_failures
from agi.storage.models import ConversationRow, TextMessageRow
from agi.storage.repository import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conversation:
    """The sender was asked for the readings of `contract` (of `resource`); with `pending`,
    a «да» is awaited: to the resource the readings were taken for (`question` `resource`),
    or to the consumption they were questioned for (`high`)."""

    contract: str
    resource: Resource
    updated_at: datetime
    pending: tuple[str, ...] | None = None
    question: str | None = None


@dataclass(frozen=True)
class Delivery:
    """The answer a message got, kept for redeliveries of the same message id."""

    fingerprint: str
    reply: str
    accepted: bool


class Keep(enum.Enum):
    CONVERSATION = "keep"


KEEP = Keep.CONVERSATION
"""Leave the sender's conversation as it is (and let it expire as it would)."""


class Conversations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @reporting_failures
    def delivery(self, channel: str, message_id: str) -> Delivery | None:
        with self._sessions() as session:
            row = session.scalar(_message(channel, message_id))
            if row is None:
                return None
            return Delivery(fingerprint=row.fingerprint, reply=row.reply, accepted=row.accepted)

    @reporting_failures
    def current(self, channel: str, sender: str) -> Conversation | None:
        with self._sessions() as session:
            row = session.scalar(_conversation(channel, sender))
            if row is None:
                return None
            return Conversation(
                contract=row.contract,
                resource=Resource(row.resource),
                updated_at=row.updated_at,
                pending=tuple(row.pending.split()) if row.pending else None,
                question=row.question if row.pending else None,
            )

    @reporting_failures
    def record(
        self,
        *,
        channel: str,
        sender: str,
        message_id: str,
        answer: Delivery,
        received_at: datetime,
        conversation: Conversation | Keep | None,
        submission: Submission | None = None,
        note: Callable[[Session], None] | None = None,
    ) -> tuple[Delivery, bool]:
        """Keep the answer to a message, the readings it gave and the sender's next state,
        in one transaction, the message id first: its uniqueness decides which of two
        messages with one id is answered, and the other stores nothing.

        Returns the delivery that is kept and whether it is this one: when another instance
        answered the same message id first, its answer wins and nothing here is written.
        SourceReused when readings of this message id are stored without its answer.
        `note` writes more in the same transaction (the conversation's call record), in a
        savepoint of its own: when it fails, the rest is committed all the same.
        """
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    session.add(
                        TextMessageRow(
                            channel=channel,
                            message_id=message_id,
                            fingerprint=answer.fingerprint,
                            reply=answer.reply,
                            accepted=answer.accepted,
                            received_at=received_at,
                        )
                    )
                    session.flush()
                    if submission is not None:
                        store(session, submission)
                    if conversation is not KEEP:
                        self._replace(session, channel, sender, conversation)
                    if note is not None:
                        _noted(session, note)
                return answer, True
            except IntegrityError:
                first = self.delivery(channel, message_id)
                if first is not None:
                    return first, False
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _replace(
        self, session: Session, channel: str, sender: str, conversation: Conversation | None
    ) -> None:
        if conversation is None:
            session.execute(
                delete(ConversationRow).where(
                    ConversationRow.channel == channel, ConversationRow.sender == sender
                )
            )
            return
        row = session.scalar(_conversation(channel, sender).with_for_update())
        if row is None:
            row = ConversationRow(channel=channel, sender=sender)
            session.add(row)
        row.contract = conversation.contract
        row.resource = conversation.resource.value
        row.pending = " ".join(conversation.pending) if conversation.pending else None
        row.question = conversation.question if conversation.pending else None
        row.updated_at = conversation.updated_at
        session.flush()


def _noted(session: Session, note: Callable[[Session], None]) -> None:
    try:
        with session.begin_nested():
            note(session)
    except Exception:
        log.exception("a text conversation's call record was not kept")


def _message(channel: str, message_id: str):
    return select(TextMessageRow).where(
        TextMessageRow.channel == channel, TextMessageRow.message_id == message_id
    )


def _conversation(channel: str, sender: str):
    return select(ConversationRow).where(
        ConversationRow.channel == channel, ConversationRow.sender == sender
    )
