"""A database that stalls or fails never stalls the caller: within the configured seconds
the phone caller hears that the readings cannot be taken now and reaches the operator, a
gateway gets 503, and nothing is written that the customer was told failed.

The stall is real: a PostgreSQL of the test's own, stopped with SIGSTOP mid-call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from agi.application import Application
from agi.dialog.engine import Ending
from agi.dialog.simulator import KeypadChannel
from agi.settings import Settings
from agi.storage.database import StorageError, connect
from agi.storage.repository import Repository
from agi.text.dialog import IncomingMessage, TextChannel, text_dialog_for
from tests.conftest import IN_WINDOW, ROOT
from tests.own_postgres import MISSING, OwnPostgres, own_postgres
from tests.support import demo_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}"),
]

TIMEOUT = 2.0
SORRY = "IVR: Извините, сейчас мы не можем принять показания. Соединяю с оператором."
NOT_STORED = "IVR: Не удалось сохранить показания."


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    with own_postgres() as server:
        demo_database(server.url).engine.dispose()
        yield server


@pytest.fixture
def app(postgres: OwnPostgres) -> Iterator[Application]:
    settings = Settings(
        database_url=postgres.url,
        database_timeout_seconds=TIMEOUT,
        flow_path=ROOT / "ivr_flows.yaml",
        prompts_path=ROOT / "prompts" / "ru.yaml",
    )
    application = Application(settings)
    yield application
    postgres.resume()
    application.repository.engine.dispose()


def stored(url: str) -> list[int]:
    repository = Repository(connect(url))
    try:
        return [row.value for row in repository.export("2026-11")]
    finally:
        repository.engine.dispose()


def call(app: Application, channel: KeypadChannel) -> tuple[Ending, float]:
    started = time.monotonic()
    outcome = app.answer(channel, now=lambda: IN_WINDOW)
    return outcome.report.ending, time.monotonic() - started


def test_a_stall_before_the_contract_reaches_the_operator_within_the_timeout(
    app: Application, postgres: OwnPostgres
) -> None:
    app.repository.find_contracts("0", "2026-11")  # a pooled connection, then the stall
    postgres.stall()
    channel = KeypadChannel("stall-1", "+79120000001", keys="*2 102057522# 11638# 1")
    ending, seconds = call(app, channel)
    assert ending is Ending.TRANSFERRED
    assert channel.transcript[-2:] == [SORRY, "IVR transfers the call to: operator"]
    assert seconds < TIMEOUT + 3
    postgres.resume()
    assert stored(postgres.url) == []


def test_a_stall_at_the_submission_stores_nothing_even_after_the_database_comes_back(
    app: Application, postgres: OwnPostgres
) -> None:
    typed = iter(["*2 102057522# 11638#", "1"])

    def caller_then_stall() -> str | None:
        keys = next(typed, None)
        if keys == "1":
            postgres.stall()  # the caller confirms; the submission meets a stopped server
        return keys

    channel = KeypadChannel("stall-2", "+79120000002", more_keys=caller_then_stall)
    ending, seconds = call(app, channel)
    assert ending is Ending.TRANSFERRED
    assert NOT_STORED in channel.transcript
    assert seconds < 2 * TIMEOUT + 5
    postgres.resume()
    time.sleep(TIMEOUT)  # the stalled worker goes on, and may not commit
    assert stored(postgres.url) == []
    # the database is back: the same caller can submit now
    channel = KeypadChannel("stall-3", "+79120000002", keys="*2 102057522# 11638# 1")
    assert call(app, channel)[0] is Ending.HUNG_UP_BY_IVR
    assert stored(postgres.url) == [11638]


def test_a_stall_answers_a_text_with_a_storage_error_within_the_timeout(
    app: Application, postgres: OwnPostgres
) -> None:
    dialog = text_dialog_for(app.settings, app.repository, now=lambda: IN_WINDOW)
    postgres.stall()
    started = time.monotonic()
    with pytest.raises(StorageError):
        dialog.answer(
            IncomingMessage(TextChannel.SMS, "+79120000003", "gw-stall", "ПС 102057522 11650"),
            at=datetime.fromisoformat("2026-11-20T12:00:00+03:00"),
        )
    assert time.monotonic() - started < TIMEOUT + 3
