"""How many scripted calls per second the engine completes end to end, and what one
submission costs, on a temporary SQLite file (or the database of --database-url, which then
gets the demo contracts and the benchmark's readings: never point it at production).

    .venv/bin/python benchmarks/engine_calls.py [--calls 2000] [--database-url URL]

Each call walks the shipped flow through the real engine, actions and database, alternating
the single-tariff and the two-tariff examples; every call stores its readings. The calls run
in rounds, alternately with call records off and on, and the two rates are compared (with
records on, the rate counts the call's path; the background writer's wait after the last
call is printed apart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from agi.application import Application
from agi.dialog.simulator import KeypadChannel
from agi.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import demo_database, machine_line, percentile  # noqa: E402

ROUNDS = 5
CALLS = ["*2 102057522# 11638# 1", "*2 123859# 1 45055# 1 23186# 1"]
WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        repository = demo_database(url)
        engine = repository.engine
        app = Application(
            Settings(
                database_url=url,
                flow_path=ROOT / "ivr_flows.yaml",
                prompts_path=ROOT / "prompts" / "ru.yaml",
            )
        )
        app.repository = repository
        submit_times: list[float] = []
        submit = repository.submit

        def timed_submit(submission, guard=None):
            started = time.perf_counter()
            try:
                return submit(submission, guard)
            finally:
                submit_times.append(time.perf_counter() - started)

        repository.submit = timed_submit  # type: ignore[method-assign]
        accepted = 0
        run = f"bench-{uuid.uuid4().hex[:8]}"  # a database given may hold earlier runs
        elapsed = {False: 0.0, True: 0.0}
        per_round = max(1, args.calls // (2 * ROUNDS))
        number = 0
        for _ in range(ROUNDS):
            for recording in (False, True):
                app.settings = app.settings.model_copy(update={"call_records": recording})
                started = time.perf_counter()
                for _ in range(per_round):
                    keys = CALLS[number % 2]
                    channel = KeypadChannel(f"{run}-{number}", "+79120000000", keys=keys)
                    accepted += app.answer(channel, now=lambda: WHEN).accepted
                    number += 1
                elapsed[recording] += time.perf_counter() - started
        started = time.perf_counter()
        app.record_writer.flush()
        flushed = time.perf_counter() - started
        day = app.call_records.between(WHEN - timedelta(days=1), WHEN + timedelta(days=1))
        written = sum(record.source_id.startswith(f"{run}-") for record in day)
        engine.dispose()
    assert accepted == number, f"only {accepted} of {number} calls were accepted"
    assert written == number // 2, f"{written} records for {number // 2} recorded calls"
    half = number // 2
    off, on = half / elapsed[False], half / elapsed[True]
    print(f"{machine_line()}, database {url.split(':')[0]}")
    print(f"calls, records off: {half} in {elapsed[False]:.2f} s = {off:.0f} calls/s")
    print(
        f"calls, records on:  {half} in {elapsed[True]:.2f} s = {on:.0f} calls/s "
        f"({on / off:.2f} of the rate without); {written} records, the last written "
        f"{flushed * 1000:.0f} ms after the last call"
    )
    print(
        f"submission: p50 {statistics.median(submit_times) * 1000:.2f} ms, "
        f"p99 {percentile(submit_times, 0.99) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
