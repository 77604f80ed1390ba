"""`ivr sms`, as staff use it: one message in, the reply out, the same database as the phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from agi.cli import main
from tests.conftest import ROOT
from tests.test_text_dialog import ACCEPTED, ASK_DAY_NIGHT, CLOSED, HELP

Ivr = Callable[..., Result]
ON = ("--date", "2026-11-20")


@pytest.fixture
def ivr(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Ivr:
    """Runs `ivr ...` in-process from the checkout, against a fresh SQLite file with demo data."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("IVR_ACCEPT_DAYS", raising=False)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    assert run("db", "seed").exit_code == 0
    return run


def test_the_seed_message_is_accepted_and_exits_0(ivr: Ivr) -> None:
    result = ivr("sms", "--from", "+79120000000", "ПС 102057522 11638", *ON)
    assert (result.exit_code, result.stdout) == (0, ACCEPTED + "\n")


def test_by_default_nothing_is_stored_and_it_says_so(ivr: Ivr) -> None:
    tried = ivr("sms", "--from", "+79120000000", "ПС 102057522 11638", *ON)
    assert "the configured database's contracts (5 by number and resource)" in tried.stderr
    assert ivr("db", "export", "--period", "2026-11").stdout.count("\n") == 1
    stored = ivr("sms", "--store", "--from", "+79120000000", "ПС 102057522 11638", *ON)
    assert stored.exit_code == 0
    assert "storing into the configured database sqlite:///" in stored.stderr
    assert ivr("db", "export", "--period", "2026-11").stdout.count("\n") == 2


def test_a_conversation_goes_on_over_several_runs(ivr: Ivr) -> None:
    asked = ivr("sms", "--from", "+79120000000", "ПС 123859", *ON)
    other = ivr("sms", "--from", "+79990000000", "45055 23186", *ON)
    done = ivr("sms", "--from", "+79120000000", "45055 23186", *ON)

    assert (asked.exit_code, asked.stdout) == (1, ASK_DAY_NIGHT + "\n")
    assert (other.exit_code, other.stdout) == (1, HELP + "\n")
    assert (done.exit_code, done.stdout) == (0, ACCEPTED + "\n")


def test_outside_the_window_the_dates_are_given_and_nothing_is_stored(ivr: Ivr) -> None:
    result = ivr("sms", "--from", "+79120000000", "ПС 102057522 11638", "--date", "2026-11-10")

    assert (result.exit_code, result.stdout) == (1, CLOSED + "\n")
    assert ivr("db", "export", "--period", "2026-11").stdout.count("\n") == 1


def test_the_same_message_id_is_answered_once(ivr: Ivr) -> None:
    args = ("sms", "--store", "--from", "+79120000000", "--message-id", "gw-1", *ON)
    first = ivr(*args, "ПС 102057522 11638")
    again = ivr(*args, "ПС 102057522 11638")
    reused = ivr(*args, "ПС 102057522 11700")

    assert first.stdout == again.stdout == ACCEPTED + "\n"
    assert reused.exit_code == 1
    assert "message id 'gw-1' was already used by another message" in reused.output
    assert ivr("db", "export", "--period", "2026-11").stdout.count("\n") == 2


def test_text_and_phone_readings_are_exported_together(ivr: Ivr) -> None:
    """To billing a reading sent by text and one given by phone are the same thing."""
    store = ("--store", *ON)
    assert ivr("sms", "--from", "+79120000000", "ПС 102057522 11638", *store).exit_code == 0
    assert (
        ivr("sms", "--from", "+79120000001", "ПС 176354 40", "--channel", "viber", *store).exit_code
        == 0
    )
    call = ivr("simulate", "--keys", "*2 123859# 1 45055# 1 23186# 1", *store)
    assert call.exit_code == 0, call.output

    lines = ivr("db", "export", "--period", "2026-11").stdout.splitlines()

    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "period,resource,contract,meter,zone,value,channel",
        "2026-11,cold_water,176354,CW-0004,single,40,viber",
        "2026-11,electricity,102057522,E-0001,single,11638,sms",
        "2026-11,electricity,123859,E-0002,day,45055,ivr",
        "2026-11,electricity,123859,E-0002,night,23186,ivr",
    ]


def test_the_sender_is_required(ivr: Ivr) -> None:
    result = ivr("sms", "ПС 102057522 11638")
    assert result.exit_code == 2
    assert "--from" in result.output


def test_a_database_without_tables_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["sms", "--from", "1", "ПС 102057522 11638"])
    assert result.exit_code == 1
    assert "run `ivr db upgrade` and `ivr db seed`" in result.output
