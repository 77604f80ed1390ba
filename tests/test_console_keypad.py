"""The console's keypad: a try, answer by answer, makes the call `ivr simulate` makes, on a
scratch copy of the contracts; the real readings are never touched; a finished try is
kept as a scenario that `ivr check` then runs green."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from agi.application import Application
from agi.console.keypad import CallStillGoing, Keypad, MenuOnFile, Speaker, Try, Walk
from agi.problems import ProblemsFound
from agi.readings import billing
from agi.scenarios import ScenarioExists, check_scenarios, scenarios_path
from agi.storage.database import connect, upgrade
from agi.storage.repository import Repository
from agi.storage.scratch import NoContracts, ScratchCopies
from tests.conftest import IN_WINDOW

DAY = IN_WINDOW.date()
CLOSED_DAY = date(2026, 11, 3)
SEED_TWO_ZONE = ("*2", "123859#", "1", "45055#", "1", "23186#", "1")
ACCEPTED = "Показания приняты. Спасибо."


@pytest.fixture
def keypad(app: Application) -> Keypad:
    scratch = ScratchCopies(app.repository.engine)
    yield Keypad(app.settings, scratch, app.read_menu)
    scratch.close()


def walk(keypad: Keypad, presses: tuple[str, ...], **options: object) -> Walk:
    """Press each answer in turn, as the page sends them, and the last walk."""
    attempt = Try(options.pop("day", DAY), **options)  # type: ignore[arg-type]
    result = keypad.walk(attempt)
    for keys in presses:
        result = keypad.walk(result.attempt.press(keys))
    return result


def said(result: Walk, speaker: Speaker = Speaker.IVR) -> list[str]:
    return [turn.text for turn in result.turns if turn.speaker is speaker]


@pytest.mark.parametrize(
    ("presses", "day", "waiting", "ending", "last_said", "taken"),
    [
        pytest.param((), DAY, True, None, "Переведите телефон в тоновый режим", (), id="first"),
        pytest.param(
            SEED_TWO_ZONE, DAY, False, "accepted", ACCEPTED, SEED_TWO_ZONE, id="seed-two-zone"
        ),
        pytest.param(
            ("*2", "1", "2", "3", "8", "5", "9", "#"),
            DAY,
            True,
            None,
            "По этому номеру есть несколько договоров",
            ("*2", "123859#"),
            id="keys-of-one-number-join",
        ),
        pytest.param(
            ("*", "."),
            DAY,
            True,
            None,
            "Извините, я вас не слышу. Для передачи показаний",
            ("*", "."),
            id="a-wait-repeats-the-menu",
        ),
        pytest.param(
            ("*2", "9", "9"),
            CLOSED_DAY,
            False,
            "ivr_hung_up",
            "Показания принимаются с восемнадцатого по двадцать пятое число",
            ("*2",),
            id="closed-window-ends-and-drops-later-keys",
        ),
    ],
)
def test_a_try_goes_as_far_as_its_answers(
    keypad, presses, day, waiting, ending, last_said, taken
) -> None:
    result = walk(keypad, presses, day=day)
    assert (result.waiting, result.ending, result.attempt.presses) == (waiting, ending, taken)
    assert said(result)[-1].startswith(last_said)


def test_the_transcript_is_the_simulators_in_order_with_prompt_ids(keypad) -> None:
    result = walk(keypad, SEED_TWO_ZONE[:4])
    assert [turn.speaker for turn in result.turns[:4]] == [
        Speaker.IVR, Speaker.IVR, Speaker.CALLER, Speaker.IVR,
    ]  # fmt: skip
    assert said(result, Speaker.CALLER) == ["*2", "123859#", "1", "45055#"]
    confirm = result.turns[-1]
    assert [part.prompt for part in confirm.parts] == ["you_entered", None, "confirm_or_reenter"]
    assert confirm.parts[1].text == "сорок пять тысяч пятьдесят пять"
    assert result.turns[0].parts[0].prompt == "welcome"


@pytest.mark.parametrize(
    ("presses", "hung_up", "last_event"),
    [
        (("*2",), True, "caller hangs up"),
        (SEED_TWO_ZONE, False, "IVR hangs up"),
        (("*0",), False, "IVR transfers the call to: "),
    ],
)
def test_how_the_line_ends_is_said(keypad, presses, hung_up, last_event) -> None:
    attempt = Try(DAY, presses=presses, hung_up=hung_up)
    result = keypad.walk(attempt)
    assert not result.waiting
    assert said(result, Speaker.EVENT)[-1].startswith(last_event)


def test_no_key_is_pressed_after_the_caller_hung_up() -> None:
    attempt = Try(DAY, presses=("*2",)).hang_up()
    assert attempt.press("5").presses == ("*2",)


def test_the_real_readings_are_never_touched(keypad, app) -> None:
    result = walk(keypad, SEED_TWO_ZONE)
    assert result.ending == "accepted"
    assert app.repository.export(app.settings.window.period(IN_WINDOW)) == []


def test_a_caller_billing_knows_is_offered_the_contract(keypad) -> None:
    result = walk(keypad, ("*2",), caller="+79120000001")
    assert "заканчивается на семь пять два два" in said(result)[-1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Try(DAY, caller="8 912 000"), "the caller's number is digits"),
        (lambda: Try(DAY, caller="<script>"), "the caller's number is digits"),
        (lambda: Try(DAY, caller="+7912\n"), "the caller's number is digits"),
        (lambda: Try(DAY).press("12a"), "'a' (character 3) is not a phone key"),
        (lambda: Try(DAY).press('"один"'), "is not a phone key"),
        (lambda: Try(DAY).press(" "), "an answer is 1 to 64 keys"),
        (lambda: Try(DAY, presses=("1 2",)), "has spaces"),
        (lambda: Try(DAY, presses=("1",) * 201), "at most 200 answers"),
        (lambda: Try(DAY).press("1" * 65), "an answer is 1 to 64 keys"),
    ],
)
def test_what_is_no_try_is_refused_in_words(make, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_finished_try_kept_as_a_scenario_runs_green(editable) -> None:
    scratch = ScratchCopies(editable.repository.engine)
    keypad = Keypad(editable.settings, scratch, editable.read_menu)
    try:
        attempt = Try(DAY, caller="+79120000000", presses=SEED_TWO_ZONE)
        with pytest.raises(CallStillGoing):
            keypad.keep(Try(DAY, presses=SEED_TWO_ZONE[:3]), "unfinished")
        path = keypad.keep(attempt, "  tried on the keypad ")
        with pytest.raises(ScenarioExists):
            keypad.keep(attempt, "tried on the keypad")
        with pytest.raises(ValueError, match="one line"):
            keypad.keep(attempt, "two\nlines")
    finally:
        scratch.close()
    assert path == scenarios_path(editable.settings.flow_path)
    text = path.read_text(encoding="utf-8")
    assert "  tried on the keypad:\n    date: '2026-11-20'\n" in text
    assert "accept_days: 1-31" in text  # the line's window, not the leaflet's
    assert "unfinished" not in text
    flow, catalog = editable.read_menu()
    assert check_scenarios(editable.settings, flow, catalog, editable.settings.flow_path) == (
        1,
        [],
    )


def test_the_copies_follow_the_database_once_they_are_old(tmp_path: Path) -> None:
    source = Repository(connect(f"sqlite:///{tmp_path / 'real.db'}"))
    upgrade(source.engine)
    now = [0.0]
    copies = ScratchCopies(source.engine, max_age=60, clock=lambda: now[0])
    try:
        with pytest.raises(NoContracts, match="ivr db seed"), copies.copy():
            pass
        billing.seed_demo(source)
        with copies.copy() as first:
            assert _contracts(first) > 0
        source.engine.dispose()
        (tmp_path / "real.db").unlink()
        source = Repository(connect(f"sqlite:///{tmp_path / 'real.db'}"))
        upgrade(source.engine)
        copies.source = source.engine
        now[0] = 59
        with copies.copy() as second:
            assert _contracts(second) > 0  # still the copy made at 0
        now[0] = 61
        with pytest.raises(NoContracts), copies.copy():
            pass
    finally:
        copies.close()
        source.engine.dispose()


def _contracts(url: str) -> int:
    repository = Repository(connect(url))
    try:
        return len(repository.find_contracts("123859", "2026-11"))
    finally:
        repository.engine.dispose()


def test_the_flow_is_read_again_only_once_it_was_saved(editable) -> None:
    menu = MenuOnFile(editable)
    first = menu()
    assert menu() is first
    path = editable.settings.flow_path
    path.write_text(path.read_text(encoding="utf-8") + "# saved again\n", encoding="utf-8")
    assert menu() is not first
    path.write_text("nodes: [\n", encoding="utf-8")
    with pytest.raises(ProblemsFound):
        menu()
