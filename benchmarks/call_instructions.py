"""Instructions per call of the FastAGI server, one call after another in one process, counted
by valgrind (callgrind): with the real database (a SQLite file with the demo contracts), and
with the readings' storage stubbed (contracts, counts of failed attempts and submissions
answered from memory; the call records are written in both).

    .venv/bin/python benchmarks/call_instructions.py [--calls 20] [--database-url URL]

Each call is the seed's single-tariff submission `*2 102057522# 11638# 1`, played by the
protocol-level Asterisk (tests/asterisk_peer.py) in the main thread against the server in
the same process. Callgrind counts from the first call after a warm-up to the last, each
thread apart; the main thread's count (the caller's side) is left out, every other thread's
(the accepting thread, the call threads, the SQLite writer, the call records' writer) is the
server's. Instructions do not depend on what else the machine runs, so figures from a busy
machine compare with a quiet one's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = "*2 102057522# 11638# 1"
CALLER = "+79120000000"
WARM_UP = 2
TOTALS = re.compile(r"^(?:totals|summary):\s*(\d+)", re.M)
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def play(calls: int, *, database_url: str | None) -> None:
    """Seed calls against a server in this process: `calls` with the real database, then
    `calls` with the readings' storage stubbed, each after `WARM_UP` calls uncounted, each
    counted in a callgrind dump of its own."""
    from agi.application import Application
    from agi.settings import Settings
    from agi.storage.models import SubmissionRow
    from agi.telephony.fastagi import FastAgiServer, ServerOptions
    from tests.asterisk_peer import play_call
    from tests.support import demo_database

    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{folder}/calls.db"
        repository = demo_database(url)
        app = Application(
            Settings(
                database_url=url,
                accept_days="1-31",
                state_dir=Path(folder) / "state",
                flow_path=ROOT / "ivr_flows.yaml",
                prompts_path=ROOT / "prompts" / "ru.yaml",
            )
        )
        app.repository = repository
        server = FastAgiServer(app, ServerOptions(port=0, watch_seconds=1.0))
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        run = Path(folder).name
        accepted = 0
        for stub in (False, True):
            if stub:
                stub_storage(app)
            for number in range(WARM_UP + calls):
                if number == WARM_UP:
                    callgrind("--zero")
                call = asyncio.run(
                    play_call(
                        "127.0.0.1",
                        server.port,
                        KEYS,
                        call_id=f"{run}-{stub}-{number}",
                        caller=CALLER,
                    )
                )
                accepted += call.accepted
            app.record_writer.flush()
            callgrind("--dump")
        server.stop()
        thread.join(timeout=10)
        with repository.engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(SubmissionRow))
        repository.engine.dispose()
    placed = WARM_UP + calls
    if (accepted, stored) != (2 * placed, placed):
        raise SystemExit(f"{accepted} of {2 * placed} calls accepted, {stored} readings stored")


def callgrind(command: str) -> None:
    """Zero or dump the counts of the callgrind this process runs under (`--instr=on` first:
    start-up is not counted)."""
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, **QUIET)
    subprocess.run(["callgrind_control", command, str(os.getpid())], check=True, **QUIET)


def stub_storage(app) -> None:
    """Answer the readings' storage of `app`'s calls from memory, with what the database
    answers the seed call (taken from it once, before the calls)."""
    from agi.storage.repository import SubmitResult

    service = app.readings()
    repository, attempts = service.repository, service.attempts
    period = service.window.period(service.now())
    contracts = repository.find_contracts("102057522", period)
    phones = repository.contracts_of_phone(CALLER)
    repository.find_contracts_counting = lambda _number, _period, keys, _since: (
        contracts,
        [0] * len(keys),
    )
    repository.contracts_of_phone_counting = lambda _phone, _key, _since: (phones, 0)
    repository.submit = lambda _submission, _guard=None: SubmitResult(stored=True)
    attempts.count = lambda _limit, _key, *, since: 0


def instructions(calls: int, database_url: str | None) -> tuple[int, int]:
    """The instructions callgrind counts for `calls` calls with the real database, and with
    the readings' storage stubbed."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--separate-threads=yes",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--play",
            str(calls),
            *(["--database-url", database_url] if database_url else []),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        real, stubbed = (server_instructions(Path(folder), dump) for dump in (1, 2))
    return real, stubbed


def server_instructions(folder: Path, dump: int) -> int:
    """The instructions of every thread of dump `dump` but the first (the caller's side)."""
    return sum(
        int(TOTALS.search(path.read_text()).group(1))
        for path in folder.glob(f"callgrind.out.{dump}-*")
        if not path.name.endswith("-01")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--play", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.play is not None:
        play(args.play, database_url=args.database_url)
        return
    from tests.support import machine_line

    real, stubbed = (count / args.calls for count in instructions(args.calls, args.database_url))
    print(machine_line())
    print(f"real database: {real / 1e6:.2f} million instructions per call")
    print(f"readings' storage stubbed: {stubbed / 1e6:.2f} million")
    print(f"the readings' storage: {(real - stubbed) / 1e6:.2f} million ({1 - stubbed / real:.0%})")


if __name__ == "__main__":
    main()
