"""The text channel's conversation: one message in, one SMS-length reply out.

The same rules as the phone (`agi.readings.rules`) and the same storage
(`agi.storage.repository`): a reading sent by text is a submission with the message's
channel (`sms`, `viber`, `whatsapp`) and the message id as its source. The message id,
its readings and the reply are recorded in one transaction, the id first: a redelivered
message stores once, and of two messages that share an id only the one answered stores.

Which contract a message means, when one number has several (123859 is electricity with
day and night, and hot water): the one whose zone count equals the number of readings sent
(`ПС 123859 20` is hot water, `ПС 123859 45055 23186` electricity). `ПС 123859` without
readings asks for the zones of the multi-zone contract, as the seed describes.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agi.readings.callers import Guesser
from agi.readings.rules import (
    Contract,
    Reason,
    Resource,
    Submission,
    Zone,
    ZoneKey,
    ZoneStep,
    zone_steps,
)
from agi.readings.service import LockedOut, ReadingsService, utc_now
from agi.records.record import SERVER, CallRecord, caller_key, next_message
from agi.redact import mask_digits, printable
from agi.settings import Settings
from agi.storage.call_records import CallRecords
from agi.storage.conversations import KEEP, Conversation, Conversations, Delivery, Keep
from agi.storage.repository import Repository, SourceReused
from agi.text.command import (
    Command,
    Confirm,
    Decline,
    Malformed,
    Start,
    Unknown,
    Unreadable,
    Values,
    parse,
)

log = logging.getLogger(__name__)


class TextChannel(enum.StrEnum):
    """Where a text message came from; a reading sent by text is stored with its channel."""

    SMS = "sms"
    VIBER = "viber"
    WHATSAPP = "whatsapp"


ACCEPTED = "Показания приняты. Спасибо."
SEED_EXAMPLE = "ПС 102057522 11638"
HELP = f"Чтобы передать показания, отправьте: ПС номер договора показания. Например: {SEED_EXAMPLE}"
CLOSED = "Показания принимаются с {first} по {last} число каждого месяца. Отправьте их в эти дни."
UNKNOWN_CONTRACT = "Договор {number} не найден. Проверьте номер в квитанции."
SEVERAL = "По номеру {number} несколько договоров. Передайте показания по телефону контакт-центра."
ASK = "Договор {number}, {resource}. Отправьте показания без цифр после запятой, {expected}."
COUNT = "Для договора {number} нужно {needs}."
COUNT_SEVERAL = "Для договора {number} нужно: {needs}."
TOO_MANY_DIGITS = (
    "Показания{where} {value} длиннее, чем на счётчике. Отправьте их без цифр после запятой."
)
BELOW_PREVIOUS = (
    "Показания{where} {value} меньше предыдущих. Проверьте их по счётчику и отправьте снова."
)
HIGH = "{resource}: {values} — намного больше обычного расхода. Если показания верны, ответьте ДА."
DECLINED = "Показания не сохранены. Отправьте верные, {expected}."
DECIMAL = (
    f"Показания отправляются без цифр после запятой, числа через пробел. Например: {SEED_EXAMPLE}"
)
NOT_DIGITS = f"Номер договора и показания пишутся только цифрами. Например: {SEED_EXAMPLE}"
DECIMAL_VALUES = "Отправьте показания без цифр после запятой, {expected}."
NOT_DIGITS_VALUES = "Показания пишутся только цифрами. Отправьте их {expected}."
EXPIRED = "Время ожидания показаний истекло. Отправьте заново: ПС номер договора."
LOCKED = (
    "Слишком много неудачных попыток. Попробуйте позже или передайте показания "
    "через оператора контакт-центра."
)
NOT_STORED = (
    "Показания не сохранены: сообщение с этим номером уже передало другие показания. "
    "Отправьте их новым сообщением."
)

REFUSALS = {
    "unknown": "unknown_contract",
    "locked": "locked_out",
    **{reason.value: reason.value for reason in Reason},
    "decimal": "decimal",
    "count": "count",
}
"""A message's outcome that refuses it, as the call record names the refusal."""

RESOURCE_NAMES = {
    Resource.ELECTRICITY: "электроэнергия",
    Resource.HOT_WATER: "горячая вода",
    Resource.COLD_WATER: "холодная вода",
}
ZONE_NAMES = {
    Zone.SINGLE: "счётчик",
    Zone.DAY: "день",
    Zone.NIGHT: "ночь",
    Zone.PEAK: "пик",
    Zone.SEMIPEAK: "полупик",
}
ZONES_OF = {
    Zone.SINGLE: "",
    Zone.DAY: " дневной зоны",
    Zone.NIGHT: " ночной зоны",
    Zone.PEAK: " пиковой зоны",
    Zone.SEMIPEAK: " полупиковой зоны",
}


@dataclass(frozen=True)
class IncomingMessage:
    channel: TextChannel
    sender: str
    message_id: str
    text: str

    @property
    def fingerprint(self) -> str:
        text = f"{self.sender}\n{self.text}"
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Answer:
    reply: str
    accepted: bool
    """The readings of this message are stored (now, or at its first delivery)."""
    duplicate: bool = False
    """The message id was answered before: this is that answer, and nothing was done again."""


class MessageIdReused(Exception):
    """A message id that was answered before arrives from another sender or with another text."""


@dataclass(frozen=True)
class _Turn:
    reply: str
    outcome: str
    conversation: Conversation | Keep | None = None
    submission: Submission | None = None
    """The readings to store with the message, in the transaction that records it."""
    resource: str | None = None
    """The resource of `submission`."""

    @property
    def accepted(self) -> bool:
        return self.submission is not None


class TextDialog:
    """Answers text messages through the readings service; holds no state of its own (the
    conversations are in the database)."""

    def __init__(
        self,
        readings: ReadingsService,
        conversations: Conversations,
        *,
        expiry: timedelta,
        records: CallRecords | None = None,
    ) -> None:
        self.readings = readings
        self.conversations = conversations
        self.expiry = expiry
        self.records = records
        """Where each conversation's record is kept; None: no records."""

    def answer(self, message: IncomingMessage, *, at: datetime | None = None) -> Answer:
        """The reply to one message; a redelivered message id gets its first reply again.
        StorageError when the database fails (the gateway delivers the message again)."""
        now = at or self.readings.now()
        fingerprint = message.fingerprint
        earlier = self.conversations.delivery(message.channel, message.message_id)
        if earlier is None:
            turn = self._locked_or_turn(message, now)
            try:
                kept, fresh = self._record(message, turn, now)
            except SourceReused:
                turn = _Turn(NOT_STORED, "refused", KEEP)
                kept, fresh = self._record(message, turn, now)
            outcome = turn.outcome if fresh else "duplicate"
        else:
            kept, fresh, outcome = earlier, False, "duplicate"
        log.info(
            "message=%s channel=%s sender=%s outcome=%s",
            printable(message.message_id),
            message.channel,
            mask_digits(message.sender),
            outcome,
        )
        if kept.fingerprint != fingerprint:
            raise MessageIdReused(
                f"message id {printable(message.message_id)!r} was already used by another message"
            )
        return Answer(reply=kept.reply, accepted=kept.accepted, duplicate=not fresh)

    def _note(
        self, message: IncomingMessage, turn: _Turn, now: datetime
    ) -> Callable[..., None] | None:
        """What adds this message to the record of the sender's conversation, in the
        transaction that records the message; None without records."""
        records = self.records
        if records is None:
            return None

        def continued(open_record: CallRecord | None) -> CallRecord:
            waiting = (
                open_record is not None
                if turn.conversation is KEEP
                else isinstance(turn.conversation, Conversation)
            )
            return next_message(
                open_record,
                channel=message.channel,
                sender=message.sender,
                message_id=message.message_id,
                at=now,
                outcome=turn.outcome,
                waiting=waiting,
                refusal=REFUSALS.get(turn.outcome),
                accepted_resource=turn.resource,
                server=SERVER,
            )

        key = caller_key(message.channel, message.sender)
        return lambda session: records.note_message(session, message.channel, key, continued)

    def _record(
        self, message: IncomingMessage, turn: _Turn, now: datetime
    ) -> tuple[Delivery, bool]:
        """The message id, its readings and the sender's next state, in one transaction:
        the reply is given only once they are committed, and a concurrent message with the
        same id stores nothing of its own."""
        return self.conversations.record(
            channel=message.channel,
            sender=message.sender,
            message_id=message.message_id,
            answer=Delivery(message.fingerprint, turn.reply, turn.accepted),
            received_at=now,
            conversation=turn.conversation,
            submission=turn.submission,
            note=self._note(message, turn, now),
        )

    # --- one message --------------------------------------------------------------------

    def _locked_or_turn(self, message: IncomingMessage, now: datetime) -> _Turn:
        try:
            return self._turn(parse(message.text), message, now)
        except LockedOut as locked:
            log.info(
                "message=%s sender=%s locked out (%s)",
                printable(message.message_id),
                mask_digits(message.sender),
                locked.limit,
            )
            return _Turn(LOCKED, "locked", KEEP)

    def _guesser(self, message: IncomingMessage) -> Guesser:
        return self.readings.guesser(message.sender, channel=message.channel, sender=True)

    def _turn(self, command: Command, message: IncomingMessage, now: datetime) -> _Turn:
        if isinstance(command, Unknown):
            return _Turn(HELP, "help", KEEP)
        if isinstance(command, Start):
            return self._start(command, message, now)
        if isinstance(command, Malformed) and command.command:
            if command.why is Unreadable.NO_CONTRACT:
                return _Turn(HELP, "help")
            if not self.readings.is_open(now):
                return self._closed()
            reply = DECIMAL if command.why is Unreadable.DECIMAL else NOT_DIGITS
            return _Turn(reply, command.why.value)
        conversation = self.conversations.current(message.channel, message.sender)
        if conversation is None:
            return _Turn(HELP, "help")
        if now - conversation.updated_at > self.expiry:
            return _Turn(EXPIRED, "expired")
        if not self.readings.is_open(now):
            return self._closed()
        contract = self._contract_of(conversation, message, now)
        if contract is None:
            return _Turn(UNKNOWN_CONTRACT.format(number=conversation.contract), "unknown")
        steps = zone_steps(contract)
        if isinstance(command, Malformed):
            reply = DECIMAL_VALUES if command.why is Unreadable.DECIMAL else NOT_DIGITS_VALUES
            return _Turn(reply.format(expected=_expected(steps)), command.why.value, KEEP)
        if isinstance(command, Values):
            if len(command.values) != len(steps):
                return _Turn(_count(contract), "count", KEEP)
            return self._check(contract, command.values, message, now, confirmed=False)
        if isinstance(command, Confirm) and conversation.pending:
            return self._check(contract, conversation.pending, message, now, confirmed=True)
        waiting = Conversation(contract.number, contract.resource, now)
        if isinstance(command, Decline) and conversation.pending:
            return _Turn(DECLINED.format(expected=_expected(steps)), "declined", waiting)
        return _Turn(_ask(contract), "asked", waiting)

    def _start(self, command: Start, message: IncomingMessage, now: datetime) -> _Turn:
        if not self.readings.is_open(now):
            return self._closed()
        number = command.contract
        contracts = self.readings.lookup(number, now, by=self._guesser(message))
        log.info(
            "message=%s contract=%s found=%d",
            printable(message.message_id),
            mask_digits(number),
            len(contracts),
        )
        if not contracts:
            return _Turn(UNKNOWN_CONTRACT.format(number=_shown(number)), "unknown")
        if not command.values:
            multi = [c for c in contracts if len(zone_steps(c)) > 1]
            candidates = multi or contracts
            if len(candidates) > 1:
                return _Turn(SEVERAL.format(number=number), "several")
            (contract,) = candidates
            return _Turn(_ask(contract), "asked", Conversation(number, contract.resource, now))
        matching = [c for c in contracts if len(zone_steps(c)) == len(command.values)]
        if len(matching) > 1:
            return _Turn(SEVERAL.format(number=number), "several")
        if not matching:
            waiting = (
                Conversation(number, contracts[0].resource, now) if len(contracts) == 1 else None
            )
            return _Turn(_count(*contracts), "count", waiting)
        return self._check(matching[0], command.values, message, now, confirmed=False)

    def _check(
        self,
        contract: Contract,
        values: Sequence[str],
        message: IncomingMessage,
        now: datetime,
        *,
        confirmed: bool,
    ) -> _Turn:
        """Check every value against its zone; store them all, or say what is wrong."""
        steps = zone_steps(contract)
        waiting = Conversation(contract.number, contract.resource, now)
        kept: dict[ZoneKey, int] = {}
        questioned = False
        for step, text in zip(steps, values, strict=True):
            verdict = self.readings.check(contract, step, text, moment=now)
            if verdict.reason is not None:
                return _Turn(_refusal(verdict.reason, step, steps, text), verdict.reason, waiting)
            assert verdict.value is not None
            kept[step.key] = verdict.value
            questioned = questioned or verdict.needs_confirmation
        if questioned and not confirmed:
            shown = " ".join(str(kept[step.key]) for step in steps)
            resource = RESOURCE_NAMES[contract.resource].capitalize()
            pending = Conversation(contract.number, contract.resource, now, tuple(values))
            return _Turn(HIGH.format(resource=resource, values=shown), "high", pending)
        submission = self.readings.submission(
            contract,
            kept,
            channel=message.channel,
            source_id=message.message_id,
            caller=self.readings.caller_number(message.sender),
            moment=now,
        )
        if submission is None:
            return self._closed()
        return _Turn(
            ACCEPTED, "accepted", None, submission=submission, resource=contract.resource.value
        )

    def _closed(self) -> _Turn:
        window = self.readings.window
        return _Turn(CLOSED.format(first=window.first_day, last=window.last_day), "closed")

    def _contract_of(
        self, conversation: Conversation, message: IncomingMessage, now: datetime
    ) -> Contract | None:
        found = self.readings.lookup(conversation.contract, now, by=self._guesser(message))
        for contract in found:
            if contract.resource == conversation.resource:
                return contract
        return None


def text_dialog_for(
    settings: Settings, repository: Repository, *, now: Callable[[], datetime] = utc_now
) -> TextDialog:
    """The text dialog of an installation, on the database of `repository`."""
    return TextDialog(
        ReadingsService.configured(settings, repository, now=now),
        Conversations(repository.engine),
        expiry=timedelta(minutes=settings.conversation_expiry_minutes),
        records=CallRecords(repository.engine) if settings.call_records else None,
    )


# --- the words of the replies -------------------------------------------------------------


def _ask(contract: Contract) -> str:
    return ASK.format(
        number=contract.number,
        resource=RESOURCE_NAMES[contract.resource],
        expected=_expected(zone_steps(contract)),
    )


def _expected(steps: Sequence[ZoneStep]) -> str:
    """What to send: `одним числом`, or `через пробел: день, ночь`."""
    if len(steps) == 1:
        return "одним числом"
    return f"через пробел: {_zones(steps)}"


def _count(*contracts: Contract) -> str:
    """How many readings each contract of the number needs."""
    needs = [_needs(zone_steps(contract)) for contract in contracts]
    if len(contracts) == 1:
        return COUNT.format(number=contracts[0].number, needs=needs[0])
    listed = "; ".join(
        f"{RESOURCE_NAMES[c.resource]} {need}" for c, need in zip(contracts, needs, strict=True)
    )
    return COUNT_SEVERAL.format(number=contracts[0].number, needs=listed)


def _needs(steps: Sequence[ZoneStep]) -> str:
    if len(steps) == 1:
        return "одно число"
    return f"{_numbers(len(steps))} через пробел ({_zones(steps)})"


def _numbers(count: int) -> str:
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} число"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} числа"
    return f"{count} чисел"


def _zones(steps: Sequence[ZoneStep]) -> str:
    """The zones in the order they are sent: `день, ночь`; `счётчик 1, счётчик 2`."""
    several_meters = len({step.meter.id for step in steps}) > 1
    names = []
    for step in steps:
        zone = step.register.zone
        if several_meters:
            meter = f"счётчик {step.meter_index + 1}"
            names.append(meter if zone is Zone.SINGLE else f"{meter} {ZONE_NAMES[zone]}")
        else:
            names.append(ZONE_NAMES[zone])
    return ", ".join(names)


def _refusal(reason: Reason, step: ZoneStep, steps: Sequence[ZoneStep], text: str) -> str:
    where = ZONES_OF[step.register.zone]
    if len({s.meter.id for s in steps}) > 1:
        where = f" счётчика {step.meter_index + 1}{where and ','}{where}"
    value = _shown(text.lstrip("0") or "0")
    if reason is Reason.TOO_MANY_DIGITS:
        return TOO_MANY_DIGITS.format(where=where, value=value)
    if reason is Reason.BELOW_PREVIOUS:
        return BELOW_PREVIOUS.format(where=where, value=value)
    return NOT_DIGITS


def _shown(number: str) -> str:
    """A number as a reply may repeat it: a long one is cut, so the reply stays one SMS."""
    return number if len(number) <= 16 else number[:12] + "…"
