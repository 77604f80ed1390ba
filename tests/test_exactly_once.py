"""Every confirmed reading is stored exactly once, and what a customer is told is what the
database holds: on SQLite and PostgreSQL, with many calls and messages at once.

Calls come from a protocol-level Asterisk over real FastAGI sockets; messages over real
HTTP to the webhook.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agi.application import Application
from agi.dialog.engine import Ending
from agi.storage.models import SubmissionRow
from agi.storage.repository import Repository
from tests.asterisk_peer import PeerCall, play_call
from tests.conftest import place_call
from tests.test_fastagi import running, this_period
from tests.test_text_dialog import ACCEPTED
from tests.test_text_webhook import message, webhook  # noqa: F401 - a fixture

CALLS = 20
"""Calls (or texts) at once in each test."""
NOT_STORED = "Не удалось сохранить показания."


def submissions(repository: Repository, contract: str, period: str) -> list[SubmissionRow]:
    with Session(repository.engine) as session:
        (meter,) = repository.find_contracts(contract, period)[0].meters
        return list(
            session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.meter_id == meter.id, SubmissionRow.period == period)
                .options(selectinload(SubmissionRow.readings))
                .order_by(SubmissionRow.id)
            )
        )


def calls_at_once(port: int, calls: list[dict]) -> list[PeerCall]:
    async def all_of_them() -> list[PeerCall]:
        return await asyncio.gather(*(play_call("127.0.0.1", port, **call) for call in calls))

    return asyncio.run(all_of_them())


# --- calls whose Asterisk ids collide --------------------------------------------------------

COLLIDING_IDS: dict[str, Callable[[int], str | None]] = {
    "one uniqueid from two Asterisks without a system name": lambda n: "1795710000.1",
    "an empty uniqueid": lambda n: "",
    "no uniqueid at all": lambda n: None,
    "unknown": lambda n: "unknown",
}


@pytest.mark.parametrize("uniqueid", COLLIDING_IDS.values(), ids=COLLIDING_IDS.keys())
def test_calls_with_colliding_asterisk_ids_are_each_stored(
    always_open: Application,
    uniqueid: Callable[[int], str | None],
) -> None:
    calls = [
        {
            "keys": f"*2 102057522# {11800 + n}# 1",
            "call_id": uniqueid(n),
            "caller": f"7913000{n:04d}",
        }
        for n in range(CALLS)
    ]
    with running(always_open, max_calls=CALLS) as server:
        peers = calls_at_once(server.port, calls)

    assert [peer.accepted for peer in peers] == [True] * CALLS
    rows = submissions(always_open.repository, "102057522", this_period(always_open))
    assert sorted(row.readings[0].value for row in rows) == [11800 + n for n in range(CALLS)]
    assert sorted(row.caller for row in rows) == [f"+7913000{n:04d}" for n in range(CALLS)]
    assert len({row.source_id for row in rows}) == CALLS
    assert sum(row.superseded_at is None for row in rows) == 1
    assert {row.correlation_id for row in rows} == {uniqueid(0) or None}


def test_accepted_is_said_only_once_the_callers_rows_are_committed(
    always_open: Application,
) -> None:
    """When the IVR asks Asterisk to play «Показания приняты», another connection to the
    database already sees the caller's rows."""
    period = this_period(always_open)
    seen: dict[str, list[int]] = {}

    def at_each_command(uniqueid: str) -> Callable[[str], None]:
        def look(command: str) -> None:
            if "readings_accepted" in command:
                seen[uniqueid] = [
                    row.readings[0].value
                    for row in submissions(always_open.repository, "102057522", period)
                    if row.correlation_id == uniqueid
                ]

        return look

    calls = [
        {
            "keys": f"*2 102057522# {11900 + n}# 1",
            "call_id": f"1795710000.{n}",
            "on_command": at_each_command(f"1795710000.{n}"),
        }
        for n in range(CALLS)
    ]
    with running(always_open, max_calls=CALLS) as server:
        peers = calls_at_once(server.port, calls)

    assert all(peer.accepted for peer in peers)
    assert seen == {f"1795710000.{n}": [11900 + n] for n in range(CALLS)}


def test_a_call_id_that_submitted_other_readings_is_refused_aloud(app: Application) -> None:
    place_call(app, "*2 102057522# 11638# 1", call_id="same")

    outcome, channel = place_call(app, "*2 102057522# 11700# 1", call_id="same")

    assert not outcome.accepted
    assert outcome.report.ending is Ending.TRANSFERRED
    assert any(NOT_STORED in line for line in channel.transcript)
    (row,) = submissions(app.repository, "102057522", "2026-11")
    assert row.readings[0].value == 11638


def test_the_same_call_submitting_again_is_told_accepted_and_stored_once(app: Application) -> None:
    for _ in range(2):
        outcome, _ = place_call(app, "*2 102057522# 11638# 1", call_id="same")
        assert outcome.accepted

    assert len(submissions(app.repository, "102057522", "2026-11")) == 1


# --- text messages that share a message id ---------------------------------------------------


def test_texts_sharing_a_message_id_store_only_the_one_that_was_answered(
    webhook: httpx.Client,  # noqa: F811
    demo_repository: Repository,
) -> None:
    """Twenty texts at once with one message id and twenty different readings: one is
    answered 200 and stored, every other is answered 409 and stores nothing."""
    rounds = 20

    def send(gate: threading.Barrier, text: str, message_id: str) -> httpx.Response:
        gate.wait(timeout=30)
        return webhook.post("/messages", json=message(text, message_id))

    for round_ in range(rounds):
        message_id, gate = f"gw-{round_}", threading.Barrier(CALLS)
        texts = [f"ПС 102057522 {11500 + 20 * round_ + n}" for n in range(CALLS)]
        with ThreadPoolExecutor(CALLS) as pool:
            answers = list(pool.map(send, [gate] * CALLS, texts, [message_id] * CALLS))

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [409] * (CALLS - 1), f"round {round_}"
        (winner,) = [answer for answer in answers if answer.status_code == 200]
        assert winner.json()["reply"] == ACCEPTED
        sent = answers.index(winner)
        rows = [
            row
            for row in submissions(demo_repository, "102057522", "2026-11")
            if row.source_id == message_id
        ]
        assert [row.readings[0].value for row in rows] == [11500 + 20 * round_ + sent]
        (current,) = demo_repository.export("2026-11")
        assert current.value == 11500 + 20 * round_ + sent, f"round {round_}"
