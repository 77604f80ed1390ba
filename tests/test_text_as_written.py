"""Text messages as customers really write them: the words of the bot's own replies, zones
by name in any order, politeness and emoji, look-alike letters, and answers to a question.

Each chat goes through the real parser, readings service and database with the demo
contracts; the expected reply is written out in full, and so are the rows stored.
"""

from __future__ import annotations

import pytest

from agi.storage.repository import Repository
from tests.test_text_dialog import (
    ACCEPTED,
    ASK_DAY_NIGHT,
    ASK_SINGLE,
    DAY_NIGHT_ROWS,
    HELP,
    HIGH,
    SEED_ROW,
    Chat,
    Phone,
    decimal,
    dialog,
    phone,
    run,
)

HOT_WATER_20 = [("hot_water", "123859", "single", 20)]
THREE_ZONES = [
    ("electricity", "777333", "peak", 1250),
    ("electricity", "777333", "semipeak", 3480),
    ("electricity", "777333", "night", 5690),
]
DAY_NIGHT_COUNT = "Для договора 123859 нужно 2 числа через пробел (день, ночь)."
WHICH_HOT_WATER = (
    "Договор 123859, горячая вода: {}? Если верно, ответьте ДА. "
    "Для электроэнергии: ПС 123859 день … ночь …"
)
WHICH_ELECTRICITY = (
    "Договор 123859, электроэнергия: 45055 23186? Если верно, ответьте ДА. "
    "Для горячей воды: ПС 123859 гв …"
)
REMIND_HIGH = "Жду ответ ДА или НЕТ: электроэнергия, показания 15000 верны? Или отправьте другие."
SEED_DIGITS = "Показания пишутся цифрами, например: ПС 102057522 11638"


def accepted(text: str, rows: list[tuple[str, str, str, int]] = [SEED_ROW]) -> Chat:  # noqa: B006
    return Chat([(text, ACCEPTED)], rows)


def after_ask(text: str, reply: str, rows: list[tuple[str, str, str, int]]) -> Chat:
    return Chat([("ПС 123859", ASK_DAY_NIGHT), (text, reply)], rows)


MESSAGES = {
    # --- the words the replies themselves use ---------------------------------------------
    "«договор» and «показания» in the message": accepted("ПС договор 102057522 показания 11638"),
    "«номер договора», «показания счётчика»": accepted(
        "ПС номер договора 102057522 показания счётчика 11638"
    ),
    # --- politeness and emoji ---------------------------------------------------------------
    "«спасибо» after the reading": accepted("ПС 102057522 11638 спасибо"),
    "a thumbs-up after the reading": accepted("ПС 102057522 11638 👍"),
    "a check mark after the reading": accepted("ПС 102057522 11638 ✅"),
    "a greeting and thanks around it": accepted("Здравствуйте! ПС 102057522 11638. Спасибо!"),
    "«Добрый день» is no day zone": accepted("Добрый день, ПС 102057522 11638"),
    # --- zones by name --------------------------------------------------------------------------
    "Т1 on a single-tariff meter is its reading": accepted("ПС 102057522 Т1 11638"),
    "day and night named, in the answer to the question": after_ask(
        "день 45055 ночь 23186", ACCEPTED, DAY_NIGHT_ROWS
    ),
    "night first, then day": after_ask("ночь 23186 день 45055", ACCEPTED, DAY_NIGHT_ROWS),
    "Т1 and Т2 as the display shows them": after_ask("Т1 45055 Т2 23186", ACCEPTED, DAY_NIGHT_ROWS),
    "each zone after its reading": after_ask("45055 день 23186 ночь", ACCEPTED, DAY_NIGHT_ROWS),
    "zones in the first message": accepted("ПС 123859 день 45055 ночь 23186", DAY_NIGHT_ROWS),
    "Т1=…, Т2=… in the first message": accepted("пс 123859 т1=45055 т2=23186", DAY_NIGHT_ROWS),
    "three zones by Т1, Т3, Т2": accepted("ПС 777333 Т1 1250 Т3 3480 Т2 5690", THREE_ZONES),
    "three zones by name": accepted("ПС 777333 пик 1250 полупик 3480 ночь 5690", THREE_ZONES),
    "one zone of two": after_ask("день 45055", DAY_NIGHT_COUNT, []),
    "Т1 alone for a two-zone meter": Chat([("ПС 123859 Т1 11650", DAY_NIGHT_COUNT)], []),
    "a zone the meter does not have": after_ask(
        "пик 45055 ночь 23186", "У договора 123859 нет зоны «пик»; его зоны: день, ночь.", []
    ),
    "day and night on a three-zone meter": Chat(
        [
            (
                "ПС 777333 день 1250 ночь 5690",
                "У договора 777333 нет зоны «день»; его зоны: пик, полупик, ночь.",
            )
        ],
        [],
    ),
    "a zone twice": after_ask(
        "день 45055 день 23186",
        "Зона «день» указана дважды. Отправьте по одному числу на зону: день, ночь.",
        [],
    ),
    "a zone without its reading": Chat(
        [
            (
                "ПС 123859 день 45055 ночь",
                "«ночь» — без показаний. Отправьте: ПС 123859 день 45055 ночь …",
            )
        ],
        [],
    ),
    # --- every refusal names what it could not read, and the message to send --------------
    "a Cyrillic О for a zero": Chat(
        [("ПС 102057522 1175О", "1175О: буква О вместо нуля? Отправьте: ПС 102057522 11750")], []
    ),
    "a Latin o for a zero, in the answer": Chat(
        [("ПС 102057522", ASK_SINGLE), ("1163o", "1163O: буква О вместо нуля? Отправьте: 11630")],
        [],
    ),
    "a slash between day and night": after_ask(
        "45100/23200", "45100/23200: числа пишутся через пробел. Отправьте: 45100 23200", []
    ),
    "a slash in the first message": Chat(
        [
            (
                "ПС 123859 45100/23200",
                "45100/23200: числа пишутся через пробел. Отправьте: ПС 123859 45100 23200",
            )
        ],
        [],
    ),
    "a decimal comma": Chat(
        [("ПС 102057522 11638,5", decimal("11638,5", "ПС 102057522 11638"))], []
    ),
    "a unit after the reading": Chat(
        [("ПС 102057522 11638 кВт", "«квт» — не число. Отправьте: ПС 102057522 11638")], []
    ),
    "a letter inside the reading": Chat(
        [("ПС 102057522 11б38", f"«11б38» — не число. {SEED_DIGITS}")], []
    ),
    # --- a command without ПС -------------------------------------------------------------------
    "«показания» without ПС": Chat(
        [("показания 102057522 11639", "Начните сообщение с ПС: ПС 102057522 11639")], []
    ),
    "«договор» without ПС": Chat(
        [("договор 102057522 показания 11638", "Начните сообщение с ПС: ПС 102057522 11638")],
        [],
    ),
    "a question about the readings": Chat([("Привет! Как передать показания?", HELP)], []),
    # --- while a «да» is awaited -----------------------------------------------------------------
    "«да, верно» confirms": Chat(
        [("ПС 102057522 15000", HIGH), ("да, верно", ACCEPTED)],
        [("electricity", "102057522", "single", 15000)],
    ),
    "«ок» confirms": Chat(
        [("ПС 102057522 15000", HIGH), ("ок", ACCEPTED)],
        [("electricity", "102057522", "single", 15000)],
    ),
    "anything else is reminded of the question": Chat(
        [("ПС 102057522 15000", HIGH), ("а почему?", REMIND_HIGH), ("Да", ACCEPTED)],
        [("electricity", "102057522", "single", 15000)],
    ),
    "a look-alike letter while a «да» is awaited is named, and the question stays": Chat(
        [
            ("ПС 102057522 15000", HIGH),
            ("1163О", "1163О: буква О вместо нуля? Отправьте: 11630"),
            ("да", ACCEPTED),
        ],
        [("electricity", "102057522", "single", 15000)],
    ),
    "«нет, неверно», then the right reading": Chat(
        [
            ("ПС 102057522 15000", HIGH),
            ("нет, неверно", "Показания не сохранены. Отправьте верные, одним числом."),
            ("11638 спасибо", ACCEPTED),
        ],
        [SEED_ROW],
    ),
    "a thank-you while the reading is awaited asks for it again": Chat(
        [("ПС 102057522", ASK_SINGLE), ("спасибо", ASK_SINGLE), ("11638", ACCEPTED)], [SEED_ROW]
    ),
    # --- never a resource the customer did not choose ---------------------------------------
    "the night zone forgotten: not taken for hot water": Chat(
        [("ПС 123859 45200", WHICH_HOT_WATER.format(45200))], []
    ),
    "…and «нет» stores nothing and says how to name the resource": Chat(
        [
            ("ПС 123859 45200", WHICH_HOT_WATER.format(45200)),
            (
                "нет",
                "Показания не сохранены. Укажите услугу, например: "
                "ПС 123859 день … ночь … или ПС 123859 гв …",
            ),
            ("ПС 123859 день 45055 ночь 23186", ACCEPTED),
        ],
        DAY_NIGHT_ROWS,
    ),
    "…and a chat message is reminded which resource is asked": Chat(
        [
            ("ПС 123859 45200", WHICH_HOT_WATER.format(45200)),
            ("спасибо", "Жду ответ ДА или НЕТ: договор 123859, горячая вода, показания 45200?"),
        ],
        [],
    ),
    "…and a bare reading is not stored for the resource the question guessed": Chat(
        [
            ("ПС 123859 20", WHICH_HOT_WATER.format(20)),
            ("21", "Жду ответ ДА или НЕТ: договор 123859, горячая вода, показания 20?"),
            ("ПС 123859 гв 21", ACCEPTED),
        ],
        [("hot_water", "123859", "single", 21)],
    ),
    "hot water confirmed with «да, верно»": Chat(
        [("ПС 123859 20", WHICH_HOT_WATER.format(20)), ("да, верно", ACCEPTED)], HOT_WATER_20
    ),
    "two readings on the shared number are named before they are stored": Chat(
        [("ПС 123859 45055 23186", WHICH_ELECTRICITY), ("да", ACCEPTED)], DAY_NIGHT_ROWS
    ),
    "hot water named as ГВ": accepted("ПС 123859 гв 20", HOT_WATER_20),
    "hot water named in words": accepted("ПС 123859 горячая вода 20", HOT_WATER_20),
    "cold water named as ХВ": accepted("ПС 176354 хв 40", [("cold_water", "176354", "single", 40)]),
    "a resource the number has no contract for": Chat(
        [("ПС 176354 гв 40", "По номеру 176354 нет договора «горячая вода»; есть: холодная вода.")],
        [],
    ),
}


@pytest.mark.parametrize("chat", MESSAGES.values(), ids=MESSAGES.keys())
def test_a_message_as_people_write_it(chat: Chat, phone: Phone, demo_repository: Repository):
    run(chat, phone, demo_repository)


__all__ = ["dialog", "phone"]  # the fixtures, shared with the dialog's tests


def test_there_are_forty_realistic_messages() -> None:
    assert sum(len(chat.messages) for chat in MESSAGES.values()) >= 40
