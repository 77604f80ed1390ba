"""How many scripted calls per second the engine completes end to end, and what one
submission costs, on a temporary SQLite file (or the database of --database-url, which then
gets the demo contracts and the benchmark's readings: never point it at production).

    .venv/bin/python benchmarks/engine_calls.py [--calls 2000] [--database-url URL]

Each call walks the shipped flow through the real engine, actions and database, alternating
the single-tariff and the two-tariff examples; every call stores its readings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agi.application import Application
from agi.dialog.simulator import KeypadChannel
from agi.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import demo_database, machine_line, percentile  # noqa: E402

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

        def timed_submit(submission):
            started = time.perf_counter()
            try:
                return submit(submission)
            finally:
                submit_times.append(time.perf_counter() - started)

        repository.submit = timed_submit  # type: ignore[method-assign]
        accepted = 0
        started = time.perf_counter()
        for number in range(args.calls):
            channel = KeypadChannel(f"bench-{number}", "+79120000000", keys=CALLS[number % 2])
            accepted += app.answer(channel, now=lambda: WHEN).accepted
        elapsed = time.perf_counter() - started
        engine.dispose()
    assert accepted == args.calls, f"only {accepted} of {args.calls} calls were accepted"
    print(f"{machine_line()}, database {url.split(':')[0]}")
    print(f"calls: {args.calls} in {elapsed:.2f} s = {args.calls / elapsed:.0f} calls/s")
    print(
        f"submission: p50 {statistics.median(submit_times) * 1000:.2f} ms, "
        f"p99 {percentile(submit_times, 0.99) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
