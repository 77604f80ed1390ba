"""Two FastAGI servers (`ivr serve` processes) sharing one PostgreSQL, with calls from two
protocol-level Asterisks: what a caller is told holds whichever server answers.

- The two Asterisks have no system name and reuse each other's uniqueids: every confirmed
  reading is stored, each exactly once.
- Guesses made on one server count on the other, and `ivr db unlock` lifts the lockout
  for both.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agi.readings.rules import AcceptanceWindow
from agi.storage.models import SubmissionRow
from agi.storage.repository import Repository
from tests.asterisk_peer import PeerCall, play_call
from tests.conftest import POSTGRES_URL, _fresh_postgres
from tests.real_line import fastagi_server
from tests.support import ROOT, checkout_environment, demo_database, free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="IVR_TEST_POSTGRES_URL is not set"),
]

PER_ASTERISK = 15
PERIOD = AcceptanceWindow().period(datetime.now(tz=UTC))


class Line:
    """The two servers, the database they share, and the environment of `ivr` commands."""

    def __init__(self, ports: list[int], repository: Repository, environment: dict) -> None:
        self.ports = ports
        self.repository = repository
        self.environment = environment

    def calls(self, calls: list[tuple[int, dict]]) -> list[PeerCall]:
        """Place these calls at once, each (server index, play_call's arguments)."""

        async def all_of_them() -> list[PeerCall]:
            return await asyncio.gather(
                *(play_call("127.0.0.1", self.ports[server], **call) for server, call in calls)
            )

        return asyncio.run(all_of_them())

    def call(self, server: int, keys: str, caller: str) -> PeerCall:
        (peer,) = self.calls(
            [(server, {"keys": keys, "call_id": "1795710000.1", "caller": caller})]
        )
        return peer

    def ivr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agi", *args],
            env=self.environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def submissions(self) -> list[SubmissionRow]:
        with Session(self.repository.engine) as session:
            return list(
                session.scalars(
                    select(SubmissionRow)
                    .where(SubmissionRow.period == PERIOD)
                    .options(selectinload(SubmissionRow.readings))
                )
            )


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    assert POSTGRES_URL
    _fresh_postgres(POSTGRES_URL).dispose()
    repository = demo_database(POSTGRES_URL)
    environment = checkout_environment(tmp_path, POSTGRES_URL)
    with ExitStack() as servers:
        ports = []
        for name in ("one", "two"):
            folder = tmp_path / name
            folder.mkdir()
            ports.append(
                servers.enter_context(fastagi_server(environment, folder, free_port())).port
            )
        yield Line(ports, repository, environment)
    repository.engine.dispose()


def said(peer: PeerCall, prompt: str) -> int:
    return sum(f'/prompts/ru/{prompt}"' in command for command in peer.commands)


def test_two_asterisks_reusing_call_ids_on_two_servers_store_every_reading_once(
    line: Line,
) -> None:
    calls = [
        (
            (asterisk + n) % 2,  # each Asterisk sends its calls to both servers in turn
            {
                "keys": f"*2 102057522# {11700 + 100 * asterisk + n}# 1",
                "call_id": f"1795710000.{n}",
                "caller": f"791{3 + asterisk}000{n:04d}",
            },
        )
        for asterisk in range(2)
        for n in range(PER_ASTERISK)
    ]

    peers = line.calls(calls)

    assert [peer.accepted for peer in peers] == [True] * len(calls)
    rows = line.submissions()
    values = sorted(row.readings[0].value for row in rows)
    assert values == sorted(11700 + 100 * a + n for a in range(2) for n in range(PER_ASTERISK))
    assert len({row.source_id for row in rows}) == len(calls)
    for n in range(PER_ASTERISK):
        assert sum(row.correlation_id == f"1795710000.{n}" for row in rows) == 2
    assert sum(row.superseded_at is None for row in rows) == 1


def test_guesses_on_one_server_count_on_the_other(line: Line) -> None:
    caller = "79120000000"
    first = line.call(0, "*2 999991# 999992# 999993#", caller)
    assert said(first, "contract_unknown") == 3
    assert first.variables.get("IVR_TRANSFER") == "operator"

    fifth = line.call(1, "*2 999994# 999995#", caller)
    assert said(fifth, "contract_unknown") == 1  # the fourth; the fifth locks the caller out
    assert said(fifth, "connecting_operator") == 1
    assert fifth.variables.get("IVR_TRANSFER") == "operator"

    locked = line.call(0, "*2 102057522# 11638# 1", caller)
    assert said(locked, "connecting_operator") == 1
    assert said(locked, "enter_reading") == 0
    assert not locked.accepted
    assert line.submissions() == []

    unlocked = line.ivr("db", "unlock", "--caller", caller)
    assert unlocked.returncode == 0, unlocked.stderr
    assert "5 failed attempt(s) forgotten" in unlocked.stdout

    assert line.call(1, "*2 102057522# 11638# 1", caller).accepted
    assert line.call(0, "*2 102057522# 11639# 1", caller).accepted


def test_refused_readings_on_both_servers_lock_the_contract_for_both(line: Line) -> None:
    for n in range(3):
        line.call(n % 2, "*2 102057522# 100# 100# 100#", f"7913000000{n}")
    tenth = line.call(1, "*2 102057522# 100#", "79130000009")
    assert said(tenth, "connecting_operator") == 1

    for server in (0, 1):
        peer = line.call(server, "*2 102057522# 11638# 1", f"791500000{server}0")
        assert (peer.accepted, said(peer, "connecting_operator")) == (False, 1)
    assert line.submissions() == []
