"""Two FastAGI servers on two loopback addresses, two private Asterisks with system names of
their own, one database: real SIPp calls in two waves around the SIGKILL of one server, and
how each call ended, from Asterisk's log and the stored rows. For tests/test_real_failover.py
and benchmarks/two_servers.py.

Each Asterisk prefers a server of its own and has the other as its second, as two machines
would: the first Asterisk tries the first server, then the second; the second Asterisk the
other way round. Then both try the AGI script.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agi.readings.rules import AcceptanceWindow
from agi.storage.models import SubmissionRow
from agi.storage.repository import Repository
from agi.telephony.sipp import CallResult, CallScript, place_call
from tests.real_line import (
    AGI_SCRIPT,
    Server,
    asterisk_options,
    fastagi_server,
    private_asterisks,
)
from tests.support import ROOT, checkout_environment, free_port, free_udp_range

HOSTS = ("127.0.0.1", "127.0.0.2")
"""One server on each: all of 127.0.0.0/8 is loopback on Linux."""
SYSTEM_NAMES = ("pbx-a", "pbx-b")
PORTS_PER_CALL = 4
"""SIPp's media ports for one call: audio RTP and RTCP, video RTP and RTCP."""
CONTRACT = "102057522"
FIRST_VALUE = 11700
"""Call n submits FIRST_VALUE + n, so that every stored reading names its call."""
APOLOGY = f"Playing '{ROOT / 'prompts' / 'ru' / 'readings_unavailable'}."
NO_OUTCOME = "no outcome from the IVR"
LEFT_AFTER_STORING = "the IVR stored the readings and left before its goodbye"
THANKS = f"Playing '{ROOT / 'prompts' / 'ru' / 'readings_accepted'}."
OPERATOR = "IVR transfer to the operator queue"
ENDED = re.compile(
    r"\[(?P<tag>C-[0-9a-f]+)\] Ext\. s: IVR call (?P<call>\S+) ended: "
    r"outcome=(?P<outcome>\S*) transfer=(?P<transfer>\S*) by=(?P<by>\S*)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlacedCall:
    number: int
    asterisk: str
    """The system name of the Asterisk it was placed on."""
    after_kill: bool
    value: int
    sipp_succeeded: bool
    sipp_status: int
    sipp_output: str
    outcome: str | None
    """IVR_OUTCOME as the end of the call logged it; None: no end was logged."""
    transfer: str
    by: str
    """The server URL or the AGI script that had the call; empty: none took it."""
    log: str
    """Every line Asterisk logged of this call."""
    seconds: float
    """From placing the call to SIPp's end of it."""

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    @property
    def apologised(self) -> bool:
        """The dialplan's apology was played and the call went to the operator."""
        return NO_OUTCOME in self.log and APOLOGY in self.log and OPERATOR in self.log

    @property
    def thanked_by_the_dialplan(self) -> bool:
        """The IVR left after storing the readings, and the dialplan said they were taken."""
        left = self.log.find(LEFT_AFTER_STORING)
        return left >= 0 and THANKS in self.log[left:]

    def logged_at(self, text: str) -> datetime | None:
        """When Asterisk logged the first line of this call with `text` (its local time)."""
        for line in self.log.splitlines():
            if text in line:
                return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S.%f")
        return None


@dataclass(frozen=True)
class Stored:
    value: int
    system: str
    """The Asterisk the correlation id names."""
    source_id: str


@dataclass
class Asterisk:
    system: str
    root: Path
    sip_port: int

    @property
    def log(self) -> Path:
        return self.root / "log" / "messages.log"


class FailoverLine:
    def __init__(
        self, servers: list[Server], asterisks: list[Asterisk], repository: Repository
    ) -> None:
        self.servers = servers
        self.asterisks = asterisks
        self.repository = repository
        self.period = AcceptanceWindow().period(datetime.now(tz=UTC))
        self.killed_at: datetime | None = None
        """When the first server was killed (local time, as Asterisk logs it)."""

    script = AGI_SCRIPT
    """The fallback after both servers, as `by` names it."""

    def stored(self) -> list[Stored]:
        with Session(self.repository.engine) as session:
            rows = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.period == self.period)
                .options(selectinload(SubmissionRow.readings))
            )
            return [
                Stored(
                    reading.value,
                    (row.correlation_id or "").partition("/")[0],
                    row.source_id,
                )
                for row in rows
                for reading in row.readings
            ]

    def run(
        self,
        before: int,
        after: int,
        *,
        spread: float,
        kill: bool = True,
        kill_timeout: float = 120,
    ) -> list[PlacedCall]:
        """Place `before` calls over `spread` seconds, alternating between the Asterisks;
        SIGKILL the first server once it has stored a reading (its other calls still in
        progress; without `kill`, only wait for that reading); then place `after` calls over
        `spread` seconds. Every call presses `*2 102057522# <its value># 1`."""
        media = free_udp_range(PORTS_PER_CALL * (before + after))
        with ThreadPoolExecutor(max_workers=before + after) as pool:
            futures = []
            for number in range(before + after):
                if number == before:
                    self._kill_first_server_once_it_stored(kill_timeout, kill=kill)
                asterisk = self.asterisks[number % len(self.asterisks)]
                call = pool.submit(self._call, number, asterisk, media + PORTS_PER_CALL * number)
                futures.append((number, asterisk, call))
                time.sleep(spread / max(1, before if number < before else after))
            results = [(number, asterisk, future.result()) for number, asterisk, future in futures]
        time.sleep(1.0)  # the last lines of the calls' ends
        logs = {a.system: a.log.read_text(errors="replace") for a in self.asterisks}
        return [
            _placed(number, asterisk, number >= before, result, logs[asterisk.system])
            for number, asterisk, result in results
        ]

    def _call(self, number: int, asterisk: Asterisk, media_port: int) -> tuple[CallResult, float]:
        script = CallScript(f"*2 {CONTRACT}# {FIRST_VALUE + number}# 1", caller=f"7913{number:07d}")
        started = time.monotonic()
        result = place_call(script, sip_port=asterisk.sip_port, media_port=media_port, timeout=180)
        return result, time.monotonic() - started

    def _kill_first_server_once_it_stored(self, timeout: float, *, kill: bool) -> None:
        first = self.asterisks[0].system
        deadline = time.monotonic() + timeout
        while not any(row.system == first for row in self.stored()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no call of {first} was stored within {timeout:.0f} s")
            time.sleep(0.1)
        if kill:
            process = self.servers[0].process
            process.kill()
            process.wait()
            self.killed_at = datetime.now()


def _placed(
    number: int, asterisk: Asterisk, after_kill: bool, done: tuple[CallResult, float], log: str
) -> PlacedCall:
    result, seconds = done
    ended = next((m for m in ENDED.finditer(log) if m["call"] == result.call_id), None)
    lines = ""
    if ended:
        tag = f"[{ended['tag']}]"
        lines = "\n".join(line for line in log.splitlines() if tag in line)
    return PlacedCall(
        number=number,
        asterisk=asterisk.system,
        after_kill=after_kill,
        value=FIRST_VALUE + number,
        sipp_succeeded=result.succeeded,
        sipp_status=result.returncode,
        sipp_output=result.output,
        outcome=ended["outcome"] if ended else None,
        transfer=ended["transfer"] if ended else "",
        by=ended["by"] if ended else "",
        log=lines,
        seconds=seconds,
    )


@contextmanager
def failover_line(
    folder: Path,
    repository: Repository,
    database_url: str,
    options: tuple[str, ...] = (),
) -> Iterator[FailoverLine]:
    """The two servers (`ivr serve` with `options`) and the two Asterisks, until the block
    ends."""
    with ExitStack() as stack:
        servers = []
        for number, host in enumerate(HOSTS):
            home = folder / f"server-{number + 1}"
            home.mkdir()
            environment = checkout_environment(home, database_url)
            servers.append(
                stack.enter_context(
                    fastagi_server(
                        environment,
                        home,
                        free_port(host=host),
                        ["--status-port", "0", *options],
                        host=host,
                    )
                )
            )
        environment = checkout_environment(folder, database_url)
        asterisks = [
            Asterisk(system, folder / system, free_port(socket.SOCK_DGRAM))
            for system in SYSTEM_NAMES
        ]
        orders = [[s.url for s in servers], [s.url for s in reversed(servers)]]
        stack.enter_context(
            private_asterisks(
                [
                    asterisk_options(
                        a.root,
                        a.sip_port,
                        0,
                        environment,
                        system_name=a.system,
                        fastagi_servers=order,
                    )
                    for a, order in zip(asterisks, orders, strict=True)
                ]
            )
        )
        yield FailoverLine(servers, asterisks, repository)
