"""Every branch of the shipped flow, as scripted calls: keys in, prompts and stored rows out.

The calls run through the real engine, the real domain actions and a real (SQLite or
PostgreSQL) database with the demo contracts; only the telephone is a keypad script.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agi.application import Application
from agi.dialog.engine import Ending
from agi.dialog.simulator import KeypadChannel
from agi.settings import Settings
from tests.conftest import IN_WINDOW, ROOT, place_call
from tests.support import demo_database

MSK = ZoneInfo("Europe/Moscow")
ACCEPTED = "Показания приняты. Спасибо."
TO_OPERATOR = "Соединяю с оператором"
# numbers are said in words, as Asterisk says them in Russian
READ_BACK_11638 = "Вы ввели одиннадцать тысяч шестьсот тридцать восемь"
READ_BACK_11600 = "Вы ввели одиннадцать тысяч шестьсот Если"
CLOSED_18 = "Показания принимаются с восемнадцатого"
CLOSED_18_25 = "Показания принимаются с восемнадцатого по двадцать пятое число каждого месяца"
METER_ONE, METER_TWO = "Счётчик номер один", "Счётчик номер два"


@dataclass
class Call:
    keys: str
    rows: list[tuple[str, str, str, int]]
    """(resource, contract, zone, value) stored, in export order."""
    ending: Ending
    says: list[str] = field(default_factory=list)
    """Fragments the IVR must say, in this order (other lines may come between)."""
    at: datetime = IN_WINDOW


CALLS = {
    "seed example, single-tariff": Call(
        "*2 102057522# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [
            "тоновый режим",
            "нажмите 2",
            "номер договора",
            "показания счётчика",
            READ_BACK_11638,
            ACCEPTED,
        ],
    ),
    "a phone already in tone mode presses 2 at once": Call(
        "2 102057522# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [ACCEPTED],
    ),
    "two-tariff: the shared number asks the resource, then day and night": Call(
        "*2 123859# 1 45055# 1 23186# 1",
        [("electricity", "123859", "day", 45055), ("electricity", "123859", "night", 23186)],
        Ending.HUNG_UP_BY_IVR,
        [
            "несколько договоров",
            "дневной зоны",
            "Вы ввели сорок пять тысяч пятьдесят пять",
            "ночной зоны",
            "Вы ввели двадцать три тысячи сто восемьдесят шесть",
            ACCEPTED,
        ],
    ),
    "hot water on the shared number": Call(
        "*2 123859# 2 20# 1",
        [("hot_water", "123859", "single", 20)],
        Ending.HUNG_UP_BY_IVR,
        ["несколько договоров", "Вы ввели двадцать", ACCEPTED],
    ),
    "cold water": Call(
        "*2 176354# 40# 1",
        [("cold_water", "176354", "single", 40)],
        Ending.HUNG_UP_BY_IVR,
        ["Вы ввели сорок", ACCEPTED],
    ),
    "three-tariff: peak, semi-peak, night": Call(
        "*2 777333# 1250# 1 3480# 1 5700# 1",
        [
            ("electricity", "777333", "peak", 1250),
            ("electricity", "777333", "semipeak", 3480),
            ("electricity", "777333", "night", 5700),
        ],
        Ending.HUNG_UP_BY_IVR,
        ["пиковой зоны", "полупиковой зоны", "ночной зоны", ACCEPTED],
    ),
    "a resource the number does not have, then the right one": Call(
        "*2 123859# 3 2 20# 1",
        [("hot_water", "123859", "single", 20)],
        Ending.HUNG_UP_BY_IVR,
        [
            "несколько договоров",
            "По этой услуге договора с таким номером нет",
            "несколько договоров",
            ACCEPTED,
        ],
    ),
    "contract number ended by waiting instead of #": Call(
        "*2 102057522. 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [ACCEPTED],
    ),
    "a contract number too short is asked again": Call(
        "*2 12# 102057522# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["слишком короткий", "номер договора", ACCEPTED],
    ),
    "an unknown contract, then the right one": Call(
        "*2 999999# 102057522# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["не найден", "номер договора", ACCEPTED],
    ),
    "three unknown contracts reach the operator": Call(
        "*2 999999# 888888# 777777#",
        [],
        Ending.TRANSFERRED,
        ["не найден", "не найден", "не найден", "Не получилось принять показания", TO_OPERATOR],
    ),
    "leading zeros are dropped and read back without them": Call(
        "*2 102057522# 011638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [READ_BACK_11638, ACCEPTED],
    ),
    "the caller re-enters a value after hearing it": Call(
        "*2 102057522# 11600# 2 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [READ_BACK_11600, "Введите показания", READ_BACK_11638, ACCEPTED],
    ),
    "a value below the previous one is refused with the reason": Call(
        "*2 102057522# 11000# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["меньше предыдущих", "Введите показания", ACCEPTED],
    ),
    "more digits than the meter has is refused with the reason": Call(
        "*2 102057522# 1163800# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["больше цифр, чем на вашем счётчике", ACCEPTED],
    ),
    "an empty # is asked again": Call(
        "*2 102057522# # 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["Введите показания", "Введите показания", ACCEPTED],
    ),
    "a star typed among the digits is ignored": Call(
        "*2 102057522# 116*38# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        [READ_BACK_11638, ACCEPTED],
    ),
    "three refused readings in a row reach the operator": Call(
        "*2 102057522# 1# 2# 3#",
        [],
        Ending.TRANSFERRED,
        ["меньше предыдущих", "меньше предыдущих", "меньше предыдущих", TO_OPERATOR],
    ),
    "unusual consumption needs an explicit confirmation": Call(
        "*2 102057522# 13000# 1",
        [("electricity", "102057522", "single", 13000)],
        Ending.HUNG_UP_BY_IVR,
        ["Вы ввели тринадцать тысяч", "намного больше вашего обычного расхода", ACCEPTED],
    ),
    "unusual consumption, re-entered": Call(
        "*2 102057522# 13000# 2 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["намного больше", READ_BACK_11638, ACCEPTED],
    ),
    "outside the window the caller hears the days and nothing is stored": Call(
        "*2",
        [],
        Ending.HUNG_UP_BY_IVR,
        [CLOSED_18_25, "До свидания"],
        at=datetime(2026, 11, 10, 12, 0, tzinfo=MSK),
    ),
    "silence at the welcome: reminded of tone mode, then the operator": Call(
        "...",
        [],
        Ending.TRANSFERRED,
        ["тоновый режим", "Нажмите звёздочку", "Нажмите звёздочку", TO_OPERATOR],
    ),
    "a key that is not in the menu": Call(
        "5 2 102057522# 11638# 1",
        [("electricity", "102057522", "single", 11638)],
        Ending.HUNG_UP_BY_IVR,
        ["Такой клавиши нет в меню", ACCEPTED],
    ),
    "0 for an operator": Call("0", [], Ending.TRANSFERRED, [TO_OPERATOR]),
    "* then 0 for an operator": Call("*0", [], Ending.TRANSFERRED, [TO_OPERATOR]),
    "no answer to the readback reaches the operator": Call(
        "*2 102057522# 11638# ...",
        [],
        Ending.TRANSFERRED,
        [READ_BACK_11638, "не слышу", "не слышу", TO_OPERATOR],
    ),
    "the caller hangs up while typing a reading": Call(
        "*2 102057522# 116", [], Ending.CALLER_HUNG_UP, ["показания счётчика"]
    ),
    "the caller hangs up after confirming the first of two zones": Call(
        "*2 123859# 1 45055# 1", [], Ending.CALLER_HUNG_UP, ["ночной зоны"]
    ),
}


def said_in_order(transcript: list[str], fragments: list[str]) -> list[str]:
    """The fragments the IVR did not say in this order (empty when it said them all)."""
    said = "\n".join(line for line in transcript if line.startswith("IVR"))
    position, missing = 0, []
    for fragment in fragments:
        found = said.find(fragment, position)
        if found < 0:
            missing.append(fragment)
        else:
            position = found + len(fragment)
    return missing


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_call(app, call: Call):
    outcome, channel = place_call(app, call.keys, at=call.at)
    transcript = "\n".join(channel.transcript)
    assert said_in_order(channel.transcript, call.says) == [], transcript
    assert outcome.report.ending == call.ending, transcript
    assert outcome.accepted is bool(call.rows), transcript
    period = app.settings.window.period(call.at)
    stored = [(r.resource, r.contract, r.zone, r.value) for r in app.repository.export(period)]
    assert stored == call.rows, transcript


def test_the_seed_example_word_for_word(app):
    _, channel = place_call(app, "*2 102057522# 11638# 1")
    assert channel.transcript == [
        "IVR: Здравствуйте! Вы позвонили в контакт-центр энергосбытовой компании.",
        "IVR: Переведите телефон в тоновый режим, нажав звёздочку. Для передачи показаний "
        "нажмите 2. Для связи с оператором нажмите 0.",
        "caller: *",
        "IVR: Для передачи показаний приборов учёта нажмите 2. Для связи с оператором нажмите 0.",
        "caller: 2",
        "IVR: Введите номер договора и нажмите решётку.",
        "caller: 102057522#",
        "IVR: Введите показания счётчика без первых нулей и без цифр после запятой, "
        "и нажмите решётку.",
        "caller: 11638#",
        "IVR: Вы ввели одиннадцать тысяч шестьсот тридцать восемь Если верно, нажмите 1. "
        "Чтобы ввести заново, нажмите 2.",
        "caller: 1",
        "IVR: Показания приняты. Спасибо.",
        "IVR hangs up",
    ]


def test_stored_rows_carry_the_call(app):
    place_call(app, "*2 102057522# 11638# 1", call_id="1732000000.42", caller="+79121234567")
    (submission,) = app.repository.history(_meter_id(app, "102057522"), "2026-11")
    assert (submission.channel, submission.source_id, submission.caller, submission.period) == (
        "ivr",
        "1732000000.42",
        "+79121234567",
        "2026-11",
    )


def test_the_same_call_id_is_stored_once(app):
    for _ in range(2):
        outcome, _ = place_call(app, "*2 102057522# 11638# 1", call_id="same")
        assert outcome.accepted
    assert len(app.repository.history(_meter_id(app, "102057522"), "2026-11")) == 1


def test_a_second_call_in_the_period_supersedes_the_first(app):
    place_call(app, "*2 102057522# 11600# 1", call_id="first")
    place_call(app, "*2 102057522# 11638# 1", call_id="second")
    history = app.repository.history(_meter_id(app, "102057522"), "2026-11")
    assert [(s.source_id, s.superseded_at is None) for s in history] == [
        ("first", False),
        ("second", True),
    ]
    assert [r.value for r in app.repository.export("2026-11")] == [11638]


def test_next_month_is_checked_against_this_months_reading(app):
    place_call(app, "*2 102057522# 11638# 1", call_id="november")
    december = datetime(2026, 12, 20, 12, 0, tzinfo=MSK)
    outcome, channel = place_call(
        app, "*2 102057522# 11600# 11700# 1", at=december, call_id="december"
    )
    assert outcome.accepted
    assert said_in_order(channel.transcript, ["меньше предыдущих", ACCEPTED]) == []


def test_the_window_can_be_configured(app):
    app.settings = app.settings.model_copy(update={"accept_days": "1-31"})
    outcome, _ = place_call(
        app, "*2 102057522# 11638# 1", at=datetime(2026, 11, 3, 12, 0, tzinfo=MSK)
    )
    assert outcome.accepted


def _meter_id(app, number: str) -> int:
    (contract,) = app.repository.find_contracts(number, "2026-11")
    return contract.meters[0].id


def test_a_contract_with_two_meters_announces_each_meter(app):
    from agi.readings.rules import Register, Resource, Zone
    from agi.storage.repository import MeterRecord

    app.repository.import_meters(
        MeterRecord(Resource.COLD_WATER, "500500", serial, 5, (Register(Zone.SINGLE, 10, 5),))
        for serial in ("CW-A", "CW-B")
    )
    outcome, channel = place_call(app, "*2 500500# 14# 1 12# 1")
    assert outcome.accepted
    assert (
        said_in_order(
            channel.transcript,
            [METER_ONE, "Вы ввели четырнадцать", METER_TWO, "Вы ввели двенадцать", ACCEPTED],
        )
        == []
    )
    assert [(r.meter, r.value) for r in app.repository.export("2026-11")] == [
        ("CW-A", 14),
        ("CW-B", 12),
    ]


def test_the_window_closing_during_the_call_stores_nothing(app):
    moments = iter([datetime(2026, 11, 25, 23, 58, tzinfo=MSK)] * 2)  # window, contract
    late = datetime(2026, 11, 26, 0, 1, tzinfo=MSK)
    channel = KeypadChannel("call-late", None, keys="*2 102057522# 11638# 1")
    outcome = app.answer(channel, now=lambda: next(moments, late))
    assert not outcome.accepted
    assert said_in_order(channel.transcript, [READ_BACK_11638, CLOSED_18]) == []
    assert app.repository.export("2026-11") == []


def test_a_database_failure_at_submit_reaches_the_operator(app, caplog):
    with app.repository.engine.begin() as connection:
        # a column only storing a submission uses: the contract look-up still works
        connection.exec_driver_sql("ALTER TABLE readings RENAME COLUMN position TO place")
    outcome, channel = place_call(app, "*2 102057522# 11638# 1", caller="+79121234567")
    assert not outcome.accepted
    assert outcome.report.ending == Ending.TRANSFERRED
    assert said_in_order(channel.transcript, ["Не удалось сохранить показания", TO_OPERATOR]) == []
    assert "could not be stored" in caplog.text
    for secret in ("102057522", "11638", "79121234567"):
        assert secret not in caplog.text  # the traceback's SQL parameters are hidden


def test_a_database_that_fails_at_the_contract_says_so_and_reaches_the_operator(app, caplog):
    with app.repository.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE meter_registers")
    outcome, channel = place_call(app, "*2 102057522# 11638# 1")
    assert outcome.report.ending == Ending.TRANSFERRED
    assert outcome.report.path[-2:] == ["find_contract", "unavailable_to_operator"]
    assert channel.transcript[-2:] == [
        "IVR: Извините, сейчас мы не можем принять показания. Соединяю с оператором.",
        "IVR transfers the call to: operator",
    ]
    assert "action lookup_contract cannot be done now" in caplog.text
    assert "102057522" not in caplog.text
    assert app.repository.export("2026-11") == []


def test_a_sqlite_database_locked_at_submit_waits_only_the_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    app = Application(
        Settings(
            database_url=url,
            database_timeout_seconds=1.0,
            flow_path=ROOT / "ivr_flows.yaml",
            prompts_path=ROOT / "prompts" / "ru.yaml",
        )
    )
    blocker = sqlite3.connect(tmp_path / "ivr.db")
    typed = iter(["*2 102057522# 11638#", "1"])

    def caller_while_another_process_writes() -> str | None:
        keys = next(typed, None)
        if keys == "1":
            blocker.execute("BEGIN IMMEDIATE")
        return keys

    channel = KeypadChannel("locked", None, more_keys=caller_while_another_process_writes)
    started = time.monotonic()
    outcome = app.answer(channel, now=lambda: IN_WINDOW)
    assert time.monotonic() - started < 5
    blocker.rollback()
    blocker.close()
    assert outcome.report.ending == Ending.TRANSFERRED
    assert said_in_order(channel.transcript, ["Не удалось сохранить показания", TO_OPERATOR]) == []
    assert app.repository.export("2026-11") == []
    app.repository.engine.dispose()


def test_logs_mask_contract_numbers_and_typed_digits(app, caplog):
    caplog.set_level(logging.INFO)
    place_call(app, "*2 102057522# 11638# 1", caller="+79121234567")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "call=call-1 node=ask_contract" in logged
    assert "*******22" in logged
    for secret in ("102057522", "11638", "79121234567"):
        assert secret not in logged


def test_only_the_resources_of_the_number_are_offered(app):
    _, channel = place_call(app, "*2 123859# 1 45055# 1 23186# 1")
    said = "\n".join(channel.transcript)
    assert "Для электроэнергии нажмите 1, для горячей воды нажмите 2." in said
    assert "холодной воды" not in said
