"""The text channel as a specification: messages in, replies and stored rows out.

The messages go through the real parser, domain rules and database (SQLite, and PostgreSQL
when IVR_TEST_POSTGRES_URL is set) with the demo contracts; only the gateway is left out.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from agi.readings import billing
from agi.readings.rules import Register, Resource, Zone
from agi.settings import Settings
from agi.storage.database import StorageError, connect, upgrade
from agi.storage.models import SubmissionRow, TextMessageRow
from agi.storage.repository import MeterRecord, Repository
from agi.text.dialog import Answer, IncomingMessage, MessageIdReused, TextDialog, text_dialog_for
from tests.conftest import IN_WINDOW
from tests.test_text_command import MESSAGES, near_misses, understood

PERIOD = "2026-11"
OUTSIDE = datetime(2026, 11, 10, 12, 0, tzinfo=IN_WINDOW.tzinfo)
SENDER = "+79120000000"

ACCEPTED = "Показания приняты. Спасибо."
HELP = (
    "Чтобы передать показания, отправьте: ПС номер договора показания. Например: ПС 102057522 11638"
)
CLOSED = "Показания принимаются с 18 по 25 число каждого месяца. Отправьте их в эти дни."
ASK_DAY_NIGHT = (
    "Договор 123859, электроэнергия. Отправьте показания без цифр после запятой, "
    "через пробел: день, ночь."
)
ASK_THREE = (
    "Договор 777333, электроэнергия. Отправьте показания без цифр после запятой, "
    "через пробел: пик, полупик, ночь."
)
ASK_SINGLE = (
    "Договор 102057522, электроэнергия. Отправьте показания без цифр после запятой, одним числом."
)
WHICH_HOT_WATER = (
    "Договор 123859, горячая вода: {}? Если верно, ответьте ДА. "
    "Для электроэнергии: ПС 123859 день … ночь …"
)


def decimal(fragment: str, send: str) -> str:
    return f"{fragment}: показания отправляются без цифр после запятой. Отправьте: {send}"


def not_a_number(fragment: str, then: str) -> str:
    return f"«{fragment}» — не число. {then}"


SEED_DIGITS = "Показания пишутся цифрами, например: ПС 102057522 11638"
HIGH = "Электроэнергия: 15000 — намного больше обычного расхода. Если показания верны, ответьте ДА."
EXPIRED = "Время ожидания показаний истекло. Отправьте заново: ПС номер договора."


def below(where: str, value: int) -> str:
    return (
        f"Показания{where} {value} меньше предыдущих. Проверьте их по счётчику и отправьте снова."
    )


SEED_ROW = ("electricity", "102057522", "single", 11638)
DAY_NIGHT_ROWS = [
    ("electricity", "123859", "day", 45055),
    ("electricity", "123859", "night", 23186),
]


@dataclass
class Chat:
    messages: list[tuple[str, str]]
    """(what the customer sends, the whole reply), in order."""
    rows: list[tuple[str, str, str, int]]
    """(resource, contract, zone, value) stored for the period, in export order."""
    at: datetime = IN_WINDOW


class Phone:
    """One customer's phone: sends messages to the dialog, each with a new message id."""

    def __init__(self, dialog: TextDialog, sender: str = SENDER, channel: str = "sms") -> None:
        self.dialog = dialog
        self.sender = sender
        self.channel = channel
        self.ids = (f"{sender}-{n}-{uuid.uuid4().hex[:8]}" for n in itertools.count(1))

    def send(self, text: str, *, at: datetime = IN_WINDOW, message_id: str | None = None) -> Answer:
        message = IncomingMessage(
            channel=self.channel,
            sender=self.sender,
            message_id=message_id or next(self.ids),
            text=text,
        )
        return self.dialog.answer(message, at=at)


def sms_segments(reply: str) -> int:
    """How many SMS a reply takes: Cyrillic goes as UCS-2, 70 characters, or 67 per part."""
    if reply.isascii():
        return 1 if len(reply) <= 160 else math.ceil(len(reply) / 153)
    return 1 if len(reply) <= 70 else math.ceil(len(reply) / 67)


def stored(repository: Repository) -> list[tuple[str, str, str, int]]:
    return [(r.resource, r.contract, r.zone, r.value) for r in repository.export(PERIOD)]


def count(repository: Repository, table: type) -> int:
    with Session(repository.engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


@pytest.fixture
def dialog(settings: Settings, demo_repository: Repository) -> TextDialog:
    return text_dialog_for(settings, demo_repository)


@pytest.fixture
def phone(dialog: TextDialog) -> Phone:
    return Phone(dialog)


def run(chat: Chat, phone: Phone, repository: Repository) -> None:
    for text, reply in chat.messages:
        answer = phone.send(text, at=chat.at)
        assert answer.reply == reply, f"reply to {text!r}"
        assert sms_segments(answer.reply) <= 2, answer.reply
        assert answer.accepted is (reply == ACCEPTED)
    assert stored(repository) == chat.rows


# --- the seed's examples, verbatim -----------------------------------------------------------

SEED = {
    "single-tariff electricity in one message": Chat(
        [("ПС 102057522 11638", ACCEPTED)], [SEED_ROW]
    ),
    "two-tariff: ПС and the contract, then day and night in one message": Chat(
        [("ПС 123859", ASK_DAY_NIGHT), ("45055 23186", ACCEPTED)], DAY_NIGHT_ROWS
    ),
    "hot water on its own contract": Chat(
        [("ПС 123859 20", WHICH_HOT_WATER.format(20)), ("да", ACCEPTED)],
        [("hot_water", "123859", "single", 20)],
    ),
    "hot water named in the message": Chat(
        [("ПС 123859 горячая вода 20", ACCEPTED)], [("hot_water", "123859", "single", 20)]
    ),
    "cold water on its own contract": Chat(
        [("ПС 176354 40", ACCEPTED)], [("cold_water", "176354", "single", 40)]
    ),
}


@pytest.mark.parametrize("chat", SEED.values(), ids=SEED.keys())
def test_the_seed_examples(chat: Chat, phone: Phone, demo_repository: Repository) -> None:
    run(chat, phone, demo_repository)


def test_a_text_reading_is_a_submission_of_the_message(
    phone: Phone, demo_repository: Repository
) -> None:
    phone.send("ПС 102057522 11638", message_id="gw-1")

    (row,) = demo_repository.export(PERIOD)
    assert (row.channel, row.received_at) == ("sms", IN_WINDOW)
    (submission,) = demo_repository.history(
        demo_repository.find_contracts("102057522", PERIOD)[0].meters[0].id, PERIOD
    )
    assert (submission.channel, submission.source_id, submission.caller) == ("sms", "gw-1", SENDER)


@pytest.mark.parametrize("channel", ["viber", "whatsapp"])
def test_a_messenger_reading_is_stored_with_its_channel(
    channel: str, dialog: TextDialog, demo_repository: Repository
) -> None:
    assert Phone(dialog, channel=channel).send("ПС 102057522 11638").reply == ACCEPTED
    assert [r.channel for r in demo_repository.export(PERIOD)] == [channel]


# --- real people's messages ------------------------------------------------------------------

SEED_VARIANTS = [
    "пс 102057522 11638",
    "PS 102057522 11638",
    "ps 102057522 11638",
    "ПC 102057522 11638",
    "PC 102057522 11638",
    "  ПС   102057522\t\t11638  ",
    "ПС, 102057522, 11638.",
    "ПС#102057522#11638#",
    "ПС: 102057522 11638",
    "ПС №102057522 11638",
    "ПС102057522 11638",
    "ПС 102057522 011638",
    "ПС\u00a0102057522\u00a011638",
    "\u200eПС 102057522 11638",
]


@pytest.mark.parametrize("text", SEED_VARIANTS, ids=repr)
def test_a_real_persons_spelling_of_the_seed_message(
    text: str, phone: Phone, demo_repository: Repository
) -> None:
    run(Chat([(text, ACCEPTED)], [SEED_ROW]), phone, demo_repository)


@pytest.mark.parametrize("text", ["45055, 23186.", "45055#23186", "45055\n23186", " 45055  23186 "])
def test_a_real_persons_spelling_of_the_zones(
    text: str, phone: Phone, demo_repository: Repository
) -> None:
    run(
        Chat([("пс 123859", ASK_DAY_NIGHT), (text, ACCEPTED)], DAY_NIGHT_ROWS),
        phone,
        demo_repository,
    )


# --- every refusal says why, and stores nothing ----------------------------------------------

REFUSALS = {
    "unknown contract": Chat(
        [("ПС 999999 11638", "Договор 999999 не найден. Проверьте номер в квитанции.")], []
    ),
    "outside the window, with the dates": Chat([("ПС 102057522 11638", CLOSED)], [], at=OUTSIDE),
    "outside the window, a multi-tariff meter": Chat([("ПС 123859", CLOSED)], [], at=OUTSIDE),
    "lower than the previous reading": Chat([("ПС 102057522 11000", below("", 11000))], []),
    "one zone lower than its previous reading": Chat(
        [("ПС 123859", ASK_DAY_NIGHT), ("45055 100", below(" ночной зоны", 100))], []
    ),
    "more digits than the meter's dial": Chat(
        [
            (
                "ПС 102057522 1163800",
                "Показания 1163800 длиннее, чем на счётчике. Отправьте их без цифр после запятой.",
            )
        ],
        [],
    ),
    "a decimal part": Chat(
        [("ПС 102057522 11638,5", decimal("11638,5", "ПС 102057522 11638"))], []
    ),
    "a decimal point": Chat(
        [("ПС 102057522 11638.5", decimal("11638.5", "ПС 102057522 11638"))], []
    ),
    "letters among the digits": Chat(
        [("ПС 102057522 11б38", not_a_number("11б38", SEED_DIGITS))], []
    ),
    "a decimal part in the zones": Chat(
        [
            ("ПС 123859", ASK_DAY_NIGHT),
            ("45055,5 23186", decimal("45055,5", "45055 23186")),
        ],
        [],
    ),
    "letters in the zones": Chat(
        [
            ("ПС 123859", ASK_DAY_NIGHT),
            (
                "45055 2318б",
                not_a_number("2318б", "Отправьте показания цифрами, через пробел: день, ночь."),
            ),
        ],
        [],
    ),
    "two readings for a single-tariff meter": Chat(
        [("ПС 102057522 11638 11700", "Для договора 102057522 нужно одно число.")], []
    ),
    "one reading for day and night": Chat(
        [
            ("ПС 123859", ASK_DAY_NIGHT),
            ("45055", "Для договора 123859 нужно 2 числа через пробел (день, ночь)."),
        ],
        [],
    ),
    "a count that no contract of the number has": Chat(
        [
            (
                "ПС 123859 1 2 3",
                "Для договора 123859 нужно: электроэнергия 2 числа через пробел (день, ночь); "
                "горячая вода одно число.",
            )
        ],
        [],
    ),
    "not a command": Chat([("Привет! Когда придёт квитанция?", HELP)], []),
    "an empty message": Chat([("", HELP)], []),
    "ПС without a contract": Chat([("ПС", HELP)], []),
    "readings nobody asked for": Chat([("45055 23186", HELP)], []),
    "a «да» nobody asked for": Chat([("да", HELP)], []),
}


@pytest.mark.parametrize("chat", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refusal_says_why_and_stores_nothing(
    chat: Chat, phone: Phone, demo_repository: Repository
) -> None:
    run(chat, phone, demo_repository)


# --- conversations ---------------------------------------------------------------------------

CONVERSATIONS = {
    "a refused reading is corrected with just the number": Chat(
        [("ПС 102057522 11000", below("", 11000)), ("11638", ACCEPTED)], [SEED_ROW]
    ),
    "a refused zone: both zones sent again": Chat(
        [
            ("ПС 123859", ASK_DAY_NIGHT),
            ("45055 100", below(" ночной зоны", 100)),
            ("45055 23186", ACCEPTED),
        ],
        DAY_NIGHT_ROWS,
    ),
    "a three-zone meter asks peak, semi-peak and night": Chat(
        [("ПС 777333", ASK_THREE), ("1250 3480 5690", ACCEPTED)],
        [
            ("electricity", "777333", "peak", 1250),
            ("electricity", "777333", "semipeak", 3480),
            ("electricity", "777333", "night", 5690),
        ],
    ),
    "ПС without the reading of a single-tariff meter asks for it": Chat(
        [("ПС 102057522", ASK_SINGLE), ("11638", ACCEPTED)], [SEED_ROW]
    ),
    "an unusually high consumption is stored after «да»": Chat(
        [("ПС 102057522 15000", HIGH), ("Да", ACCEPTED)],
        [("electricity", "102057522", "single", 15000)],
    ),
    "«нет» to a high consumption, then the right reading": Chat(
        [
            ("ПС 102057522 15000", HIGH),
            ("нет", "Показания не сохранены. Отправьте верные, одним числом."),
            ("11638", ACCEPTED),
        ],
        [SEED_ROW],
    ),
    "another reading instead of «да»": Chat(
        [("ПС 102057522 15000", HIGH), ("11638", ACCEPTED)], [SEED_ROW]
    ),
    "one reading for the shared number is never stored as hot water unasked": Chat(
        [
            ("ПС 123859 45055", WHICH_HOT_WATER.format(45055)),
            ("ПС 123859 день 45055 ночь 23186", ACCEPTED),
        ],
        DAY_NIGHT_ROWS,
    ),
    "a new ПС starts over": Chat(
        [
            ("ПС 123859", ASK_DAY_NIGHT),
            ("ПС 777333", ASK_THREE),
            ("45055 23186", "Для договора 777333 нужно 3 числа через пробел (пик, полупик, ночь)."),
            ("ПС 123859", ASK_DAY_NIGHT),
            ("45055 23186", ACCEPTED),
        ],
        DAY_NIGHT_ROWS,
    ),
    "accepted readings end the conversation": Chat(
        [("ПС 123859", ASK_DAY_NIGHT), ("45055 23186", ACCEPTED), ("45055 23186", HELP)],
        DAY_NIGHT_ROWS,
    ),
    "a chat message in between keeps the question open": Chat(
        [("ПС 123859", ASK_DAY_NIGHT), ("а это куда?", ASK_DAY_NIGHT), ("45055 23186", ACCEPTED)],
        DAY_NIGHT_ROWS,
    ),
    "«да» while the zones are awaited asks for them again": Chat(
        [("ПС 123859", ASK_DAY_NIGHT), ("да", ASK_DAY_NIGHT), ("45055 23186", ACCEPTED)],
        DAY_NIGHT_ROWS,
    ),
    "a second reading in the month supersedes the first": Chat(
        [("ПС 102057522 11638", ACCEPTED), ("ПС 102057522 11640", ACCEPTED)],
        [("electricity", "102057522", "single", 11640)],
    ),
}


@pytest.mark.parametrize("chat", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_a_conversation(chat: Chat, phone: Phone, demo_repository: Repository) -> None:
    run(chat, phone, demo_repository)


def test_a_contract_with_two_meters_takes_both_in_meter_order(
    phone: Phone, demo_repository: Repository
) -> None:
    demo_repository.import_meters(
        [
            MeterRecord(Resource.COLD_WATER, "555000", "CW-K", 5, (Register(Zone.SINGLE, 100, 4),)),
            MeterRecord(Resource.COLD_WATER, "555000", "CW-B", 5, (Register(Zone.SINGLE, 200, 6),)),
        ]
    )
    ask = (
        "Договор 555000, холодная вода. Отправьте показания без цифр после запятой, "
        "через пробел: счётчик 1, счётчик 2."
    )
    run(
        Chat(
            [
                ("ПС 555000", ask),
                ("104 150", below(" счётчика 2", 150)),
                ("104 207", ACCEPTED),
            ],
            [("cold_water", "555000", "single", 104), ("cold_water", "555000", "single", 207)],
        ),
        phone,
        demo_repository,
    )


def test_two_contracts_with_as_many_zones_are_not_guessed_between(
    phone: Phone, demo_repository: Repository
) -> None:
    demo_repository.import_meters(
        [MeterRecord(Resource.HOT_WATER, "176354", "HW-9", 5, (Register(Zone.SINGLE, 10, 3),))]
    )
    several = (
        "По номеру 176354 2 договора: холодная вода, горячая вода. "
        "Укажите услугу, например: ПС 176354 хв …"
    )
    chat = Chat(
        [("ПС 176354 40", several), ("ПС 176354", several), ("ПС 176354 хв 40", ACCEPTED)],
        [("cold_water", "176354", "single", 40)],
    )
    run(chat, phone, demo_repository)


def test_each_sender_has_a_conversation_of_their_own(
    dialog: TextDialog, demo_repository: Repository
) -> None:
    anna, boris = Phone(dialog, "+79120000001"), Phone(dialog, "+79120000002")

    assert anna.send("ПС 123859").reply == ASK_DAY_NIGHT
    assert boris.send("ПС 777333").reply == ASK_THREE
    assert anna.send("45055 23186").reply == ACCEPTED
    assert boris.send("1250 3480 5690").reply == ACCEPTED

    assert {contract for _, contract, _, _ in stored(demo_repository)} == {"123859", "777333"}


def test_the_conversation_lives_in_the_database_not_in_the_process(
    settings: Settings, demo_repository: Repository, database_url: str
) -> None:
    """Two gateway instances serve one number: the second answers what the first asked."""
    first = text_dialog_for(settings, demo_repository)
    other = Repository(connect(database_url))
    try:
        second = text_dialog_for(settings, other)
        assert Phone(first).send("ПС 123859").reply == ASK_DAY_NIGHT
        assert Phone(second).send("45055 23186").reply == ACCEPTED
    finally:
        other.engine.dispose()
    assert stored(demo_repository) == DAY_NIGHT_ROWS


# --- expiry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "expiry", "reply", "rows"),
    [
        (59, 60, ACCEPTED, DAY_NIGHT_ROWS),
        (60, 60, ACCEPTED, DAY_NIGHT_ROWS),
        (61, 60, EXPIRED, []),
        (6, 5, EXPIRED, []),
        (24 * 60, 60, EXPIRED, []),
    ],
)
def test_a_conversation_expires_after_the_configured_time(
    minutes: int,
    expiry: int,
    reply: str,
    rows: list[tuple[str, str, str, int]],
    settings: Settings,
    demo_repository: Repository,
) -> None:
    settings = settings.model_copy(update={"conversation_expiry_minutes": expiry})
    phone = Phone(text_dialog_for(settings, demo_repository))
    phone.send("ПС 123859")

    answer = phone.send("45055 23186", at=IN_WINDOW + timedelta(minutes=minutes))

    assert answer.reply == reply
    assert stored(demo_repository) == rows


def test_an_expired_conversation_is_gone_and_a_new_ПС_works(
    phone: Phone, demo_repository: Repository
) -> None:
    later = IN_WINDOW + timedelta(hours=2)
    phone.send("ПС 123859")

    assert phone.send("45055 23186", at=later).reply == EXPIRED
    assert phone.send("45055 23186", at=later).reply == HELP
    assert phone.send("ПС 123859", at=later).reply == ASK_DAY_NIGHT
    assert phone.send("45055 23186", at=later).reply == ACCEPTED
    assert stored(demo_repository) == DAY_NIGHT_ROWS


def test_a_questioned_reading_expires_too(phone: Phone, demo_repository: Repository) -> None:
    phone.send("ПС 102057522 15000")

    assert phone.send("да", at=IN_WINDOW + timedelta(hours=2)).reply == EXPIRED
    assert stored(demo_repository) == []


# --- duplicate deliveries --------------------------------------------------------------------


def test_a_redelivered_message_gets_the_same_reply_and_stores_once(
    phone: Phone, demo_repository: Repository
) -> None:
    first = phone.send("ПС 102057522 11638", message_id="gw-7")
    again = phone.send("ПС 102057522 11638", message_id="gw-7", at=IN_WINDOW + timedelta(hours=1))

    assert first == Answer(ACCEPTED, accepted=True, duplicate=False)
    assert again == Answer(ACCEPTED, accepted=True, duplicate=True)
    assert count(demo_repository, SubmissionRow) == 1
    assert count(demo_repository, TextMessageRow) == 1


def test_a_redelivered_question_does_not_restart_the_conversation(
    phone: Phone, demo_repository: Repository
) -> None:
    assert phone.send("ПС 123859", message_id="gw-1").reply == ASK_DAY_NIGHT
    assert phone.send("45055 23186", message_id="gw-2").reply == ACCEPTED

    assert phone.send("ПС 123859", message_id="gw-1").reply == ASK_DAY_NIGHT
    assert phone.send("45055 23186", message_id="gw-3").reply == HELP
    assert count(demo_repository, SubmissionRow) == 1


def test_a_redelivered_refusal_is_refused_again_even_after_the_window(phone: Phone) -> None:
    refused = phone.send("ПС 102057522 11000", message_id="gw-1")

    again = phone.send("ПС 102057522 11000", message_id="gw-1", at=OUTSIDE)

    assert again.reply == refused.reply == below("", 11000)


def test_the_same_message_id_on_another_channel_is_another_message(
    dialog: TextDialog, demo_repository: Repository
) -> None:
    Phone(dialog, channel="sms").send("ПС 102057522 11638", message_id="1")
    answer = Phone(dialog, channel="viber").send("ПС 176354 40", message_id="1")

    assert answer == Answer(ACCEPTED, accepted=True, duplicate=False)
    assert count(demo_repository, SubmissionRow) == 2


@pytest.mark.parametrize(
    ("sender", "text"),
    [(SENDER, "ПС 102057522 11639"), ("+79990000000", "ПС 102057522 11638")],
    ids=["other text", "other sender"],
)
def test_a_message_id_reused_by_another_message_is_refused(
    sender: str, text: str, dialog: TextDialog, demo_repository: Repository
) -> None:
    Phone(dialog).send("ПС 102057522 11638", message_id="gw-1")

    with pytest.raises(MessageIdReused):
        Phone(dialog, sender).send(text, message_id="gw-1")
    assert stored(demo_repository) == [SEED_ROW]


def test_concurrent_deliveries_of_one_message_store_once(
    dialog: TextDialog, demo_repository: Repository
) -> None:
    rounds, copies = 10, 4

    def deliver(gate: threading.Barrier, text: str, message_id: str) -> Answer:
        gate.wait()
        return Phone(dialog).send(text, message_id=message_id)

    for round_ in range(rounds):
        gate = threading.Barrier(copies)
        text, message_id = f"ПС 102057522 {11600 + round_}", f"gw-{round_}"
        with ThreadPoolExecutor(copies) as pool:
            copies_sent = [pool.submit(deliver, gate, text, message_id) for _ in range(copies)]
            answers = [sent.result() for sent in copies_sent]
        assert {a.reply for a in answers} == {ACCEPTED}
        assert sum(not a.duplicate for a in answers) == 1
    assert count(demo_repository, SubmissionRow) == rounds
    assert count(demo_repository, TextMessageRow) == rounds
    assert stored(demo_repository) == [("electricity", "102057522", "single", 11609)]


def failing_store(*_: object) -> None:
    """The database failing while the readings of a message are written."""
    raise OperationalError("INSERT INTO readings ...", {}, Exception("disk I/O error"))


def test_a_message_that_failed_to_store_is_answered_when_delivered_again(
    phone: Phone, demo_repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as broken:
        broken.setattr("agi.storage.conversations.store", failing_store)
        with pytest.raises(StorageError):
            phone.send("ПС 102057522 11638", message_id="gw-1")
    assert count(demo_repository, TextMessageRow) == 0  # the message id went with its readings

    assert phone.send("ПС 102057522 11638", message_id="gw-1").reply == ACCEPTED
    assert stored(demo_repository) == [SEED_ROW]


# --- what the logs show ----------------------------------------------------------------------


def test_logs_mask_the_sender_and_the_contract(
    phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agi")
    phone.send("ПС 102057522 11638", message_id="gw-1\nforged line")

    text = caplog.text
    assert "*******22" in text
    assert "**********00" in text
    assert "102057522" not in text
    assert SENDER not in text and "79120000000" not in text
    assert "gw-1\\nforged line" in text
    assert "\nforged line" not in text


# --- arbitrary messages never store what was not understood ----------------------------------


@pytest.fixture(scope="module")
def shared_dialog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TextDialog]:
    """One SQLite database for every example hypothesis makes (a new one each would be slow)."""
    folder = Path(tmp_path_factory.mktemp("text"))
    url = f"sqlite:///{folder / 'ivr.db'}"
    engine = connect(url)
    upgrade(engine)
    repository = Repository(engine)
    billing.seed_demo(repository)
    # the examples refuse many readings of the demo contracts: no lockout may answer for them
    unlimited = {"max_refused_readings_per_contract": 10**9}
    yield text_dialog_for(
        Settings(database_url=url, state_dir=folder / "state", **unlimited), repository
    )
    engine.dispose()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(MESSAGES, near_misses(), near_misses()), waiting=st.booleans())
def test_an_arbitrary_message_stores_only_what_it_says_exactly(
    shared_dialog: TextDialog, text: str, waiting: bool
) -> None:
    """Whether the sender is new or was just asked for day and night, a message stores
    readings only when the protocol's grammar reads it, and then exactly its numbers; and
    every reply fits in two SMS."""
    phone = Phone(shared_dialog, sender=uuid.uuid4().hex)
    if waiting:
        phone.send("ПС 123859")
    message_id = uuid.uuid4().hex

    answer = phone.send(text, message_id=message_id)

    event(f"accepted={answer.accepted}, waiting={waiting}")
    assert sms_segments(answer.reply) <= 2, answer.reply
    with Session(shared_dialog.readings.repository.engine) as session:
        rows = session.scalars(
            select(SubmissionRow).where(SubmissionRow.source_id == message_id)
        ).all()
        values = tuple(str(r.value) for row in rows for r in row.readings)
    reading = understood(text)
    if answer.accepted:
        assert reading is not None, text
        keyword, fields = reading
        assert values == tuple(str(int(f)) for f in (fields[1:] if keyword else fields))
    else:
        assert values == ()
