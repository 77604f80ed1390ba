"""Guessing contract numbers is limited and locked out, by phone and by text, with the counts
in the database that every server and webhook instance shares.

The defaults: 5 unknown contract numbers from one caller number (or text sender) within an
hour; 3 from all calls without a caller number together; 10 refused readings of one
contract, from anyone. A locked-out caller is put through to the operator, a sender told to
try later, and neither learns whether a number exists.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agi.application import Application
from agi.dialog.engine import Ending
from agi.dialog.simulator import KeypadChannel
from agi.readings.callers import Limit
from agi.storage.models import GuessAttemptRow, SubmissionRow
from agi.text.dialog import LOCKED, TextDialog, text_dialog_for
from tests.conftest import IN_WINDOW, place_call
from tests.test_dialog_calls import TO_OPERATOR, said_in_order
from tests.test_text_dialog import ACCEPTED, Phone, stored

CALLER = "+79120000000"
SEED_CALL = "*2 102057522# 11638# 1"
THREE_UNKNOWN = "*2 999991# . 999992# . 999993#"
"""One call's three tries (then the flow's own limit sends it to the operator)."""
TWO_UNKNOWN = "*2 999994# . 999995#"
ASK_READING = "Введите показания"
NOT_STORED = "Не удалось сохранить показания"


def guesses(app: Application) -> int:
    with Session(app.repository.engine) as session:
        return session.scalar(select(func.count()).select_from(GuessAttemptRow)) or 0


def rows(app: Application) -> int:
    with Session(app.repository.engine) as session:
        return session.scalar(select(func.count()).select_from(SubmissionRow)) or 0


# --- by phone --------------------------------------------------------------------------------


def test_a_caller_who_guessed_five_numbers_goes_straight_to_the_operator(
    app: Application,
) -> None:
    place_call(app, THREE_UNKNOWN, caller=CALLER)
    fifth, channel = place_call(app, TWO_UNKNOWN, caller=CALLER)
    assert fifth.report.ending is Ending.TRANSFERRED
    assert said_in_order(channel.transcript, ["не найден", TO_OPERATOR]) == []
    assert sum("не найден" in line for line in channel.transcript) == 1  # the fifth: no reply

    outcome, channel = place_call(app, SEED_CALL, caller="8 912 000-00-00")

    assert (outcome.accepted, outcome.report.ending) == (False, Ending.TRANSFERRED)
    assert said_in_order(channel.transcript, [TO_OPERATOR]) == []
    assert not any(ASK_READING in line for line in channel.transcript)
    assert rows(app) == 0
    assert guesses(app) == 5  # what is refused unread is not counted again


LOCKED_MEANWHILE = {
    "after its contract was found": ["*2 102057522#", "11638#", "1"],
    "after its reading was checked": ["*2 102057522# 11638#", "1"],
}


@pytest.mark.parametrize("typed", LOCKED_MEANWHILE.values(), ids=LOCKED_MEANWHILE.keys())
def test_a_contract_others_lock_out_during_a_call_is_refused_at_the_submission(
    app: Application, typed: list[str]
) -> None:
    """The call's first value is checked against the count its look-up read; the submission
    counts again, in the transaction that would store it."""
    keys = iter(typed)
    attempts = app.readings().attempts

    def others_refused_ten_readings_after_the_first_keys() -> str | None:
        given = next(keys, None)
        if given == typed[1]:
            for _ in range(10):
                attempts.add(Limit.CONTRACT, "102057522", at=IN_WINDOW, window=timedelta(hours=1))
        return given

    channel = KeypadChannel(
        "meanwhile", CALLER, more_keys=others_refused_ten_readings_after_the_first_keys
    )
    outcome = app.answer(channel, now=lambda: IN_WINDOW)

    assert not outcome.accepted
    assert said_in_order(channel.transcript, ["Вы ввели", NOT_STORED]) == []
    assert rows(app) == 0


def test_another_caller_is_not_locked_out(app: Application) -> None:
    place_call(app, THREE_UNKNOWN, caller=CALLER)
    place_call(app, TWO_UNKNOWN, caller=CALLER)

    outcome, _ = place_call(app, SEED_CALL, caller="+79130000000")

    assert outcome.accepted


def test_calls_without_a_caller_number_share_a_stricter_limit(app: Application) -> None:
    place_call(app, "*2 999991# . 999992#", caller=None)
    place_call(app, "*2 999993#", caller="79995551234231")  # junk: no number either

    anonymous, _ = place_call(app, SEED_CALL, caller=None)
    known, _ = place_call(app, SEED_CALL, caller=CALLER)

    assert (anonymous.accepted, anonymous.report.ending) == (False, Ending.TRANSFERRED)
    assert known.accepted


def test_a_contract_refused_ten_times_takes_readings_only_through_the_operator(
    app: Application, dialog: TextDialog
) -> None:
    for caller in range(3):  # three callers, three refused readings each
        place_call(app, "*2 102057522# 100# 100# 100#", caller=f"+7913000000{caller}")
    Phone(dialog, "+79140000000").send("ПС 102057522 100")  # the tenth, by text

    outcome, channel = place_call(app, SEED_CALL, caller="+79150000000")

    assert (outcome.accepted, outcome.report.ending) == (False, Ending.TRANSFERRED)
    assert said_in_order(channel.transcript, [TO_OPERATOR]) == []
    assert Phone(dialog, "+79160000000").send("ПС 102057522 11638").reply == LOCKED
    assert rows(app) == 0
    assert place_call(app, "*2 176354# 40# 1", caller="+79150000000")[0].accepted


def test_a_lockout_lifts_when_the_window_has_passed(app: Application) -> None:
    place_call(app, THREE_UNKNOWN, caller=CALLER)
    place_call(app, TWO_UNKNOWN, caller=CALLER)

    later, _ = place_call(app, SEED_CALL, caller=CALLER, at=IN_WINDOW + timedelta(minutes=61))

    assert later.accepted


def test_a_lockout_is_logged_with_the_caller_masked(
    app: Application, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    place_call(app, THREE_UNKNOWN, caller=CALLER)
    place_call(app, TWO_UNKNOWN, caller=CALLER)

    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("lockout")]
    assert line == (
        "lockout: caller=**********00 after 5 failed attempts within 60 minutes; "
        "the operator serves it"
    )
    assert "79120000000" not in caplog.text


# --- by text ---------------------------------------------------------------------------------


@pytest.fixture
def dialog(app: Application) -> TextDialog:
    return text_dialog_for(app.settings, app.repository)


def test_a_sender_guessing_numbers_is_told_to_try_later(
    app: Application, dialog: TextDialog
) -> None:
    phone = Phone(dialog, CALLER)
    replies = [phone.send(f"ПС {999000 + n} 100").reply for n in range(50)]

    assert all("не найден" in reply for reply in replies[:4])
    assert replies[4:] == [LOCKED] * 46
    assert phone.send("ПС 102057522 11638").reply == LOCKED
    assert stored(app.repository) == []
    assert guesses(app) == 5


def test_the_reply_to_a_locked_out_sender_tells_nothing_of_the_number(
    dialog: TextDialog,
) -> None:
    phone = Phone(dialog, CALLER)
    for n in range(5):
        phone.send(f"ПС {999000 + n}")

    known, unknown = phone.send("ПС 102057522 11638"), phone.send("ПС 999999 11638")

    assert known.reply == unknown.reply == LOCKED
    assert "102057522" not in known.reply


def test_a_callers_guesses_count_by_phone_and_by_text_alike(
    app: Application, dialog: TextDialog
) -> None:
    place_call(app, THREE_UNKNOWN, caller="89120000000")
    phone = Phone(dialog, "+79120000000")
    phone.send("ПС 999994")

    assert phone.send("ПС 999995").reply == LOCKED


def test_a_messenger_sender_without_a_number_has_a_limit_of_its_own(dialog: TextDialog) -> None:
    viber = Phone(dialog, "Zm9vYmFyYmF6", channel="viber")
    for n in range(5):
        viber.send(f"ПС {999000 + n}")

    assert viber.send("ПС 102057522 11638").reply == LOCKED
    assert Phone(dialog, CALLER).send("ПС 102057522 11638").reply == ACCEPTED


# --- lifting a lockout -----------------------------------------------------------------------

UNLOCKS = {
    "a caller, by any spelling of the number": (
        lambda app, dialog: [place_call(app, THREE_UNKNOWN), place_call(app, TWO_UNKNOWN)],
        ["db", "unlock", "--caller", "8 (912) 000-00-00"],
        "caller +79120000000: 5 failed attempt(s) forgotten",
    ),
    "a contract": (
        lambda app, dialog: [
            place_call(app, "*2 102057522# 100# 100# 100#", caller=f"+7913000000{n}")
            for n in range(4)
        ],
        ["db", "unlock", "102057522"],
        "contract 102057522: 10 failed attempt(s) forgotten",
    ),
    "calls without a caller number": (
        lambda app, dialog: [place_call(app, THREE_UNKNOWN, caller=None)],
        ["db", "unlock", "--without-caller-id"],
        "calls without a caller number: 3 failed attempt(s) forgotten",
    ),
}


@pytest.mark.parametrize(("lock", "command", "says"), UNLOCKS.values(), ids=UNLOCKS.keys())
def test_ivr_db_unlock_lifts_a_lockout(app, dialog, cli, lock, command, says) -> None:
    lock(app, dialog)
    caller = None if "--without-caller-id" in command else CALLER
    assert not place_call(app, SEED_CALL, caller=caller)[0].accepted

    result = cli(*command)

    assert (result.exit_code, result.stdout.strip()) == (0, f"{says}; the limit starts again")
    assert place_call(app, SEED_CALL, caller=caller)[0].accepted


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (["db", "unlock"], "name one"),
        (["db", "unlock", "102057522", "--caller", CALLER], "name one"),
        (["db", "unlock", "--caller", "not a number"], "is not a phone number"),
        (["db", "unlock", "10205-7522"], "a contract number is digits"),
    ],
)
def test_ivr_db_unlock_wants_one_thing_to_unlock(cli, command, error) -> None:
    result = cli(*command)
    assert result.exit_code == 2
    assert error in result.output


def test_the_lockouts_in_force_are_counted(app: Application, dialog: TextDialog) -> None:
    place_call(app, THREE_UNKNOWN, caller=CALLER)
    place_call(app, TWO_UNKNOWN, caller=CALLER)
    place_call(app, THREE_UNKNOWN, caller=None)
    place_call(app, THREE_UNKNOWN, caller="+79130000000")  # three: not yet locked

    assert app.readings().lockouts(IN_WINDOW) == {
        Limit.CALLER: 1,
        Limit.ANONYMOUS: 1,
        Limit.CONTRACT: 0,
    }
    assert app.readings().lockouts(IN_WINDOW + timedelta(hours=2)) == dict.fromkeys(Limit, 0)


def test_the_limits_are_settings(app: Application) -> None:
    app.settings = app.settings.model_copy(update={"max_unknown_contracts_per_caller": 2})

    outcome, _ = place_call(app, "*2 999991# . 999992# . 102057522#", caller=CALLER)

    assert not outcome.accepted
    assert rows(app) == 0
