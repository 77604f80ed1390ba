"""A caller whose number billing knows is offered the contract by its last four digits.

Scripted calls through the shipped flow, the real actions and a real database with the demo
contracts (102057522 has the phone +7 912 000-00-01): keys in, what the IVR says and the
rows stored out. The line says no more of a contract than its last four digits, and nothing
of one to a number billing does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml

from agi.application import Application
from agi.dialog.engine import Ending
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import load_catalog
from agi.problems import ProblemsFound
from agi.readings.call_actions import ACTIONS
from agi.readings.rules import Register, Resource, Zone
from agi.storage.repository import MeterRecord
from tests.conftest import place_call
from tests.test_dialog_calls import ACCEPTED, said_in_order

KNOWN = "+79120000001"
"""The demo contract 102057522's phone."""
HOUSEHOLD = "+79120000002"
"""A phone billing knows for two contracts (imported by `household`)."""
ENDS_7522 = "Номер вашего договора заканчивается на семь пять два два"
USE_OR_ANOTHER = "Если это он, нажмите 1. Чтобы ввести другой номер договора, нажмите 2."
ASK_CONTRACT = "Введите номер договора и нажмите решётку."
SEED_ROW = ("electricity", "102057522", "single", 11638)
FULL_NUMBERS = ["один ноль два ноль пять", "один два три восемь пять девять", "пять пять пять"]


@dataclass
class Call:
    caller: str | None
    keys: str
    rows: list[tuple[str, str, str, int]]
    says: list[str] = field(default_factory=list)
    never: list[str] = field(default_factory=list)
    ending: Ending = Ending.HUNG_UP_BY_IVR


CALLS = {
    "one match: its last four digits, 1 uses it": Call(
        KNOWN, "*2 1 11638# 1", [SEED_ROW], [ENDS_7522, USE_OR_ANOTHER, ACCEPTED], [ASK_CONTRACT]
    ),
    "one match, written as the network sends it (8 912…)": Call(
        "89120000001", "*2 1 11638# 1", [SEED_ROW], [ENDS_7522, ACCEPTED]
    ),
    "one match, 2 to type another contract": Call(
        KNOWN,
        "*2 2 176354# 40# 1",
        [("cold_water", "176354", "single", 40)],
        [ENDS_7522, ASK_CONTRACT, "Вы ввели сорок", ACCEPTED],
    ),
    "one match, no key: the usual question": Call(
        KNOWN, "*2 ... 102057522# 11638# 1", [SEED_ROW], [ENDS_7522, ASK_CONTRACT, ACCEPTED]
    ),
    "several matches: a short menu, 2 picks the second": Call(
        HOUSEHOLD,
        "*2 2 1 45055# 1 23186# 1",
        [("electricity", "123859", "day", 45055), ("electricity", "123859", "night", 23186)],
        [
            "К вашему номеру телефона относятся два договора.",
            "Договор, который заканчивается на семь пять два два нажмите 1.",
            "Договор, который заканчивается на три восемь пять девять нажмите 2.",
            "Чтобы ввести другой номер договора, нажмите 9.",
            "несколько договоров",  # 123859: electricity or hot water, asked as always
            ACCEPTED,
        ],
    ),
    "several matches, 9 to type another": Call(
        HOUSEHOLD,
        "*2 9 102057522# 11638# 1",
        [SEED_ROW],
        ["относятся два договора", ASK_CONTRACT, ACCEPTED],
    ),
    "no match: the usual question, nothing about contracts": Call(
        "+79120000000",
        "*2 102057522# 11638# 1",
        [SEED_ROW],
        [ASK_CONTRACT, ACCEPTED],
        ["заканчивается", "относятся"],
    ),
    "anonymous: the usual question": Call(
        None, "*2 102057522# 11638# 1", [SEED_ROW], [ASK_CONTRACT, ACCEPTED], ["заканчивается"]
    ),
    "a number that is no number: the usual question": Call(
        "anonymous", "*2 102057522# 11638# 1", [SEED_ROW], [ASK_CONTRACT], ["заканчивается"]
    ),
}


@pytest.fixture
def household(app: Application) -> Application:
    """102057522 and 123859 (electricity) both billed to HOUSEHOLD, 102057522 to KNOWN too."""
    single = (Register(Zone.SINGLE, 11480, 150),)
    day_night = (Register(Zone.DAY, 44810, 240), Register(Zone.NIGHT, 23050, 130))
    app.repository.import_meters(
        [
            MeterRecord(Resource.ELECTRICITY, "102057522", "E-0001", 6, single, (KNOWN, HOUSEHOLD)),
            MeterRecord(Resource.ELECTRICITY, "123859", "E-0002", 6, day_night, (HOUSEHOLD,)),
        ]
    )
    return app


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_call_from_a_number(household: Application, call: Call) -> None:
    outcome, channel = place_call(household, call.keys, caller=call.caller)
    transcript = "\n".join(channel.transcript)
    assert said_in_order(channel.transcript, call.says) == [], transcript
    for words in [*call.never, *FULL_NUMBERS]:
        assert words not in transcript, transcript
    assert outcome.report.ending == call.ending, transcript
    stored = [
        (r.resource, r.contract, r.zone, r.value) for r in household.repository.export("2026-11")
    ]
    assert stored == call.rows, transcript


def test_the_caller_is_stored_with_a_pre_filled_contract(household: Application) -> None:
    place_call(household, "*2 1 11638# 1", caller="8 912 000-00-01", call_id="prefilled")
    (contract,) = household.repository.find_contracts("102057522", "2026-11")
    (submission,) = household.repository.history(contract.meters[0].id, "2026-11")
    assert (submission.source_id, submission.caller) == ("prefilled", KNOWN)


def test_four_contracts_on_one_number_are_not_listed(household: Application) -> None:
    records = [
        MeterRecord(
            Resource.COLD_WATER, f"55500{n}", f"CW-{n}", 5, (Register(Zone.SINGLE),), (KNOWN,)
        )
        for n in range(3)
    ]
    household.repository.import_meters(records)
    _, channel = place_call(household, "*2 102057522# 11638# 1", caller=KNOWN)
    assert said_in_order(channel.transcript, [ASK_CONTRACT, ACCEPTED]) == []
    assert "заканчивается" not in "\n".join(channel.transcript)


def test_a_locked_out_caller_is_offered_nothing(household: Application) -> None:
    for n, keys in enumerate(["*2 2 999999# 999998# 999997#", "*2 2 999996# 999995#"]):
        _, channel = place_call(household, keys, caller=KNOWN, call_id=f"guess-{n}")
        assert ENDS_7522 in "\n".join(channel.transcript)
    _, channel = place_call(household, "*2 1", caller=KNOWN, call_id="after")
    assert "заканчивается" not in "\n".join(channel.transcript)


def test_staff_can_turn_it_off(editable: Application) -> None:
    flow = editable.settings.flow_path
    document = yaml.safe_load(flow.read_text(encoding="utf-8"))
    document["nodes"]["check_window"]["outcomes"]["open"] = "ask_contract"
    for name in [n for n in document["nodes"] if "caller" in n]:
        del document["nodes"][name]
    flow.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    outcome, channel = place_call(editable, "*2 102057522# 11638# 1", caller=KNOWN)
    assert outcome.accepted
    assert "заканчивается" not in "\n".join(channel.transcript)


def test_ivr_check_knows_a_pre_filled_contract_needs_the_callers_contracts(
    editable: Application,
) -> None:
    flow = editable.settings.flow_path
    document = yaml.safe_load(flow.read_text(encoding="utf-8"))
    document["nodes"]["check_window"]["outcomes"]["open"] = "offer_caller_contract"
    flow.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    catalog = load_catalog(editable.settings.prompts_path)
    with pytest.raises(ProblemsFound) as problems:
        load_flow(flow, catalog, ACTIONS)
    assert "find_caller_contracts answering one, two or three" in str(problems.value)
