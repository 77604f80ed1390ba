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
from agi.records.caller_keys import CallerKeys, caller_keys
from agi.records.record import SERVER, CallRecord, next_message
from agi.redact import mask_digits, printable
from agi.russian import counted
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
    WithoutKeyword,
    ZoneLabel,
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
SEVERAL = "По номеру {number} {count}: {resources}. Укажите услугу, например: {example}"
WHICH = "Договор {number}, {resource}: {values}? Если верно, ответьте ДА. {other}"
NO_RESOURCE = "По номеру {number} нет договора «{resource}»; есть: {resources}."
WITHOUT_KEYWORD = "Начните сообщение с ПС: {message}"
REMIND_HIGH = "Жду ответ ДА или НЕТ: {resource}, показания {values} верны? Или отправьте другие."
REMIND_RESOURCE = "Жду ответ ДА или НЕТ: договор {number}, {resource}, показания {values}?"
DECLINED_RESOURCE = "Показания не сохранены. Укажите услугу, например: {example}"
NO_ZONE = "У договора {number} нет зоны «{zone}»; его зоны: {zones}."
ZONE_TWICE = "Зона «{zone}» указана дважды. Отправьте по одному числу на зону: {zones}."
ZONES_IN_ORDER = "У договора {number} несколько счётчиков: отправьте показания по порядку: {zones}."
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
UNREADABLE = {
    Unreadable.NOT_DIGITS: "«{fragment}» — не число.",
    Unreadable.LOOKALIKE: "{fragment}: буква {letter} вместо {digit}?",
    Unreadable.SLASH: "{fragment}: числа пишутся через пробел.",
    Unreadable.DECIMAL: "{fragment}: показания отправляются без цифр после запятой.",
    Unreadable.ZONES: "«{fragment}» — без показаний.",
}
SEND = " Отправьте: {suggestion}"
SEND_VALUES = " Отправьте показания цифрами, {expected}."
SEND_EXAMPLE = " Показания пишутся цифрами, например: {example}"
RESOURCE_QUESTION = "resource"
HIGH_QUESTION = "high"
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
LABELS = {
    ZoneLabel.DAY: "день",
    ZoneLabel.NIGHT: "ночь",
    ZoneLabel.PEAK: "пик",
    ZoneLabel.SEMIPEAK: "полупик",
    ZoneLabel.T1: "Т1",
    ZoneLabel.T2: "Т2",
    ZoneLabel.T3: "Т3",
}
RESOURCE_EXAMPLES = {
    Resource.ELECTRICITY: "электроэнергия",
    Resource.HOT_WATER: "гв",
    Resource.COLD_WATER: "хв",
}
"""How a message names a resource in the examples the replies give."""
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
        keys: CallerKeys | None = None,
    ) -> None:
        self.readings = readings
        self.conversations = conversations
        self.expiry = expiry
        self.records = records
        """Where each conversation's record is kept; None: no records."""
        self.keys = keys
        """What the records find a sender's conversation by; None: no records."""

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
        records, keys = self.records, self.keys
        if records is None or keys is None:
            return None
        key = keys.of(message.channel, message.sender)

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
                caller_key=key,
                message_id=message.message_id,
                at=now,
                outcome=turn.outcome,
                waiting=waiting,
                refusal=REFUSALS.get(turn.outcome),
                accepted_resource=turn.resource,
                server=SERVER,
            )

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
        if isinstance(command, Start):
            return self._start(command, message, now)
        if isinstance(command, WithoutKeyword):
            return _Turn(WITHOUT_KEYWORD.format(message=_with_keyword(command)), "no_keyword", KEEP)
        if isinstance(command, Malformed) and command.command:
            if command.why is Unreadable.NO_CONTRACT:
                return _Turn(HELP, "help")
            if not self.readings.is_open(now):
                return self._closed()
            return _Turn(_unreadable(command, SEED_EXAMPLE), command.why.value)
        conversation = self.conversations.current(message.channel, message.sender)
        if conversation is None:
            return _Turn(HELP, "help", KEEP if isinstance(command, Unknown) else None)
        if now - conversation.updated_at > self.expiry:
            return _Turn(EXPIRED, "expired")
        if not self.readings.is_open(now):
            return self._closed()
        contract = self._contract_of(conversation, message, now)
        if contract is None:
            return _Turn(UNKNOWN_CONTRACT.format(number=conversation.contract), "unknown")
        steps = zone_steps(contract)
        waiting = Conversation(contract.number, contract.resource, now)
        if conversation.pending and isinstance(command, Confirm):
            # ДА to «which resource?» chooses the resource; the values are checked as new
            confirmed = conversation.question != RESOURCE_QUESTION
            return self._check(contract, conversation.pending, message, now, confirmed=confirmed)
        if conversation.pending and isinstance(command, Decline):
            if conversation.question == RESOURCE_QUESTION:
                contracts = self.readings.contracts(contract.number, now)
                example = _examples(contract.number, contracts)
                return _Turn(DECLINED_RESOURCE.format(example=example), "declined")
            return _Turn(DECLINED.format(expected=_expected(steps)), "declined", waiting)
        if conversation.pending and not isinstance(command, Values | Malformed):
            return _Turn(_reminder(contract, conversation), "reminded", KEEP)
        if (
            conversation.question == RESOURCE_QUESTION
            and isinstance(command, Values)
            and command.resource is None
        ):  # a bare value would be stored for the resource the question only guessed
            return _Turn(_reminder(contract, conversation), "reminded", KEEP)
        if isinstance(command, Malformed):
            return _Turn(_unreadable(command, _expected(steps)), command.why.value, KEEP)
        if isinstance(command, Values):
            if command.resource is not None and command.resource is not contract.resource:
                named = Start(contract.number, command.values, command.zones, command.resource)
                return self._start(named, message, now)
            values, problem = _in_zone_order(contract, command.values, command.zones)
            if values is None:
                return _Turn(problem, "zones", KEEP)
            if len(values) != len(steps):
                return _Turn(_count(contract), "count", KEEP)
            return self._check(contract, values, message, now, confirmed=False)
        if isinstance(command, Unknown):
            return _Turn(_ask(contract), "asked", KEEP)
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
        named = len(contracts) == 1
        if command.resource is not None or command.zones:
            wanted = command.resource or Resource.ELECTRICITY
            chosen = [c for c in contracts if c.resource is wanted]
            if not chosen:
                return _Turn(_no_such_resource(number, wanted, contracts), "no_resource")
            contracts, named = chosen, True
        if not command.values:
            multi = [c for c in contracts if len(zone_steps(c)) > 1]
            candidates = multi or contracts
            if len(candidates) > 1:
                return _Turn(_several(number, candidates), "several")
            (contract,) = candidates
            return _Turn(_ask(contract), "asked", Conversation(number, contract.resource, now))
        if command.zones:
            (contract,) = contracts
            values, problem = _in_zone_order(contract, command.values, command.zones)
            waiting = Conversation(number, contract.resource, now)
            if values is None:
                return _Turn(problem, "zones", waiting)
            if len(values) != len(zone_steps(contract)):
                return _Turn(_count(contract), "count", waiting)
            return self._check(contract, values, message, now, confirmed=False)
        matching = [c for c in contracts if len(zone_steps(c)) == len(command.values)]
        if len(matching) > 1:
            return _Turn(_several(number, matching), "several")
        if not matching:
            waiting = (
                Conversation(number, contracts[0].resource, now) if len(contracts) == 1 else None
            )
            return _Turn(_count(*contracts), "count", waiting)
        (contract,) = matching
        if not named:
            question = Conversation(
                number, contract.resource, now, tuple(command.values), RESOURCE_QUESTION
            )
            return _Turn(_which_resource(contract, command.values, contracts), "which", question)
        return self._check(contract, command.values, message, now, confirmed=False)

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
        if len(values) != len(steps):  # billing changed the meter while a question waited
            return _Turn(_count(contract), "count", waiting)
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
            pending = Conversation(
                contract.number, contract.resource, now, tuple(values), HIGH_QUESTION
            )
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
    """The text dialog of an installation, on the database of `repository`; CallerSecretError
    when the callers' secret in the state folder cannot be used."""
    records = CallRecords(repository.engine) if settings.call_records else None
    return TextDialog(
        ReadingsService.configured(settings, repository, now=now),
        Conversations(repository.engine),
        expiry=timedelta(minutes=settings.conversation_expiry_minutes),
        records=records,
        keys=None if records is None else caller_keys(settings.state_dir),
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
    return f"{counted(len(steps), 'число')} через пробел ({_zones(steps)})"


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
    return UNREADABLE[Unreadable.NOT_DIGITS].format(fragment=_shown(text)) + SEND_VALUES.format(
        expected=_expected(steps)
    )


def _shown(number: str) -> str:
    """A number as a reply may repeat it: a long one is cut, so the reply stays one SMS."""
    return number if len(number) <= 16 else number[:12] + "…"


def _unreadable(malformed: Malformed, expected: str) -> str:
    """What could not be read, and the message to send instead. `expected` is what a
    conversation awaits (`через пробел: день, ночь`), or the example of a whole message."""
    lookalike = "З" in malformed.fragment and "О" not in malformed.fragment.upper()
    reply = UNREADABLE[malformed.why].format(
        fragment=_shown(malformed.fragment),
        letter="З" if lookalike else "О",
        digit="тройки" if lookalike else "нуля",
    )
    if malformed.suggestion:
        return reply + SEND.format(suggestion=_shown_message(malformed.suggestion))
    if expected == SEED_EXAMPLE:
        return reply + SEND_EXAMPLE.format(example=SEED_EXAMPLE)
    return reply + SEND_VALUES.format(expected=expected)


def _with_keyword(command: WithoutKeyword) -> str:
    """The message as it should have been sent: «ПС», then its numbers and zones."""
    kept = [
        field.upper() if field in ("т1", "т2", "т3") else field
        for field in command.fields
        if field.isdigit() or field in LABEL_WORDS
    ]
    return _shown_message(" ".join(["ПС", *kept]))


LABEL_WORDS = frozenset(["день", "ночь", "пик", "полупик", "т1", "т2", "т3"])


def _reminder(contract: Contract, conversation: Conversation) -> str:
    values = " ".join(v.lstrip("0") or "0" for v in conversation.pending or ())
    resource = RESOURCE_NAMES[contract.resource]
    if conversation.question == RESOURCE_QUESTION:
        return REMIND_RESOURCE.format(number=contract.number, resource=resource, values=values)
    return REMIND_HIGH.format(resource=resource, values=values)


def _several(number: str, contracts: Sequence[Contract]) -> str:
    """«По номеру 555000 2 договора: горячая вода, холодная вода. Укажите услугу…»."""
    return SEVERAL.format(
        number=number,
        count=counted(len(contracts), "договор"),
        resources=", ".join(RESOURCE_NAMES[c.resource] for c in contracts),
        example=_examples(number, contracts[:1]),
    )


def _examples(number: str, contracts: Sequence[Contract]) -> str:
    """How to send the readings of each contract with its resource named."""
    return " или ".join(_example(number, contract) for contract in contracts)


def _example(number: str, contract: Contract) -> str:
    steps = zone_steps(contract)
    if len(steps) > 1 and len({s.meter.id for s in steps}) == 1:
        zones = " ".join(f"{ZONE_NAMES[s.register.zone]} …" for s in steps)
        return f"ПС {number} {zones}"
    return f"ПС {number} {RESOURCE_EXAMPLES[contract.resource]} {' '.join('…' for _ in steps)}"


def _which_resource(
    contract: Contract, values: Sequence[str], contracts: Sequence[Contract]
) -> str:
    """Name the contract the readings were taken for, and how to send them for another."""
    others = [c for c in contracts if c.resource is not contract.resource]
    other = " ".join(
        f"Для {GENITIVE[c.resource]}: {_example(contract.number, c)}" for c in others[:1]
    )
    return WHICH.format(
        number=contract.number,
        resource=RESOURCE_NAMES[contract.resource],
        values=" ".join(v.lstrip("0") or "0" for v in values),
        other=other,
    ).strip()


GENITIVE = {
    Resource.ELECTRICITY: "электроэнергии",
    Resource.HOT_WATER: "горячей воды",
    Resource.COLD_WATER: "холодной воды",
}


def _no_such_resource(number: str, wanted: Resource, contracts: Sequence[Contract]) -> str:
    return NO_RESOURCE.format(
        number=number,
        resource=RESOURCE_NAMES[wanted],
        resources=", ".join(RESOURCE_NAMES[c.resource] for c in contracts),
    )


def _zone_of(label: ZoneLabel, zones: Sequence[Zone]) -> Zone | None:
    """The zone a customer's name for it means on a meter with these zones."""
    match label:
        case ZoneLabel.T1 if list(zones) == [Zone.SINGLE]:
            return Zone.SINGLE  # a single-tariff meter's display shows its total as Т1
        case ZoneLabel.T1:
            return Zone.DAY if Zone.DAY in zones else Zone.PEAK
        case ZoneLabel.T2:
            return Zone.NIGHT
        case ZoneLabel.T3:
            return Zone.SEMIPEAK
    return Zone(label.value)


def _in_zone_order(
    contract: Contract, values: Sequence[str], labels: Sequence[ZoneLabel]
) -> tuple[tuple[str, ...] | None, str]:
    """The readings in the order of the contract's zones, when the message named the zones
    («ночь 23300 день 45300»); or None and why they cannot be placed."""
    if not labels:
        return tuple(values), ""
    steps = zone_steps(contract)
    if len({step.meter.id for step in steps}) > 1:
        return None, ZONES_IN_ORDER.format(number=contract.number, zones=_zones(steps))
    available = [step.register.zone for step in steps]
    placed: dict[Zone, str] = {}
    for label, value in zip(labels, values, strict=True):
        zone = _zone_of(label, available)
        if zone not in available:
            return None, NO_ZONE.format(
                number=contract.number, zone=LABELS[label], zones=_zones(steps)
            )
        if zone in placed:
            return None, ZONE_TWICE.format(zone=LABELS[label], zones=_zones(steps))
        placed[zone] = value
    if len(placed) != len(available):
        return (), ""
    return tuple(placed[zone] for zone in available), ""


def _shown_message(message: str) -> str:
    """A message a reply suggests, cut so that the reply stays within two SMS."""
    return message if len(message) <= 60 else message[:57] + "…"
