"""A caller's number is stored in one form (E.164), read with the phonenumbers library:
`8 912…` and `+7 912…` are one number, and junk is dropped, never merged into it."""

from __future__ import annotations

import pytest

from agi.application import Application
from agi.problems import ProblemsFound
from agi.readings.callers import Guesser, Limit, guesser, phone_number
from agi.settings import load_settings
from agi.text.dialog import TextDialog, text_dialog_for
from tests.conftest import place_call
from tests.test_text_dialog import Phone

NUMBERS = {
    "international": ("+79120000000", "+79120000000"),
    "as Asterisk gives it, without the plus": ("79120000000", "+79120000000"),
    "the national 8": ("89120000000", "+79120000000"),
    "with spaces": ("+7 912 000 00 00", "+79120000000"),
    "with brackets and dashes": ("8 (912) 000-00-00", "+79120000000"),
    "ten digits, no prefix": ("9120000000", "+79120000000"),
    "abroad": ("+44 20 7946 0958", "+442079460958"),
    "stray digits after the number": ("79995551234231", None),
    "too short": ("7912", None),
    "letters are not read as digits": ("8-912-ABC-00-00", None),
    "an extension": ("79120000000;ext=12", None),
    "a quote and a command": ('7912"; EXEC', None),
    "nothing": ("", None),
    "anonymous": ("Anonymous", None),
    "unknown": ("unknown", None),
    "none at all": (None, None),
}


@pytest.mark.parametrize(("raw", "number"), NUMBERS.values(), ids=NUMBERS.keys())
def test_a_caller_number_in_one_form_or_none(raw: str | None, number: str | None) -> None:
    assert phone_number(raw) == number


def test_a_number_without_a_plus_is_read_in_the_configured_country() -> None:
    assert phone_number("87012345678", "KZ") == "+77012345678"
    assert phone_number("+79120000000", "KZ") == "+79120000000"


GUESSERS = {
    "a phone number": ("+79120000000", "ivr", None, Guesser(Limit.CALLER, "+79120000000")),
    "a messenger id": (None, "viber", "Zm9vYmFy", Guesser(Limit.CALLER, "viber:Zm9vYmFy")),
    "no number": (None, "ivr", None, Guesser(Limit.ANONYMOUS, "-")),
}


@pytest.mark.parametrize(
    ("number", "channel", "sender", "expected"), GUESSERS.values(), ids=GUESSERS.keys()
)
def test_whose_guesses_count_together(number, channel, sender, expected) -> None:
    assert guesser(number, channel=channel, sender=sender) == expected


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("8 912 000-00-00", "+79120000000"),
        ("79995551234231", None),
        ("anonymous", None),
    ],
)
def test_a_call_stores_the_normalised_number(app: Application, raw: str, stored) -> None:
    place_call(app, "*2 102057522# 11638# 1", caller=raw)

    (contract,) = app.repository.find_contracts("102057522", "2026-11")
    (submission,) = app.repository.history(contract.meters[0].id, "2026-11")
    assert submission.caller == stored


@pytest.fixture
def dialog(app: Application) -> TextDialog:
    return text_dialog_for(app.settings, app.repository)


@pytest.mark.parametrize(
    ("channel", "sender", "stored"),
    [
        ("sms", "89120000000", "+79120000000"),
        ("whatsapp", "79120000000", "+79120000000"),
        ("viber", "Zm9vYmFy", None),
    ],
)
def test_a_text_stores_the_normalised_number(dialog, app, channel, sender, stored) -> None:
    Phone(dialog, sender, channel=channel).send("ПС 102057522 11638")

    (contract,) = app.repository.find_contracts("102057522", "2026-11")
    (submission,) = app.repository.history(contract.meters[0].id, "2026-11")
    assert submission.caller == stored


def test_the_country_is_a_setting_checked_at_start(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("IVR_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("IVR_CALLER_REGION", "Russia")

    with pytest.raises(ProblemsFound) as problems:
        load_settings()

    assert "the caller region is a country code such as RU or KZ" in str(problems.value)
