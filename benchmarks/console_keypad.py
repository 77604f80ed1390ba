"""What one key on the console's keypad costs the server: the whole call made again from its
first prompt on a fresh scratch copy, with the flow read from its file.

    .venv/bin/python benchmarks/console_keypad.py [--rounds 20] [--contracts 0]

Subject: `Keypad.walk` of the seed's two-zone call with all its answers (its last step, the
longest). Reference, in the same rounds: the same call through `Application.answer` on a
scratch copy made beforehand, with the flow already parsed (what `ivr simulate` spends on
the call itself). The difference is what re-running costs: the copy of the scratch file,
the flow's files looked at (read again only when saved) and the application built.
`--contracts N` adds N single-tariff contracts to the demo ones, to see the copy grow with
the database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agi.application import Application  # noqa: E402
from agi.console.keypad import Keypad, MenuOnFile, Try  # noqa: E402
from agi.dialog.simulator import KeypadChannel  # noqa: E402
from agi.readings.rules import Register, Resource, Zone  # noqa: E402
from agi.settings import Settings  # noqa: E402
from agi.storage.repository import MeterRecord  # noqa: E402
from agi.storage.scratch import ScratchCopies  # noqa: E402
from tests.support import demo_database, machine_line, percentile  # noqa: E402

SEED_TWO_ZONE = ("*2", "123859#", "1", "45055#", "1", "23186#", "1")
DAY = date(2026, 11, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--contracts", type=int, default=0)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ivr-keypad-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'real.db'}",
        flow_path=ROOT / "ivr_flows.yaml",
        prompts_path=ROOT / "prompts" / "ru.yaml",
        call_records=False,
    )
    real = demo_database(settings.database_url)
    if options.contracts:
        real.import_meters(
            MeterRecord(
                Resource.ELECTRICITY, str(500000 + n), f"S{n}", 6,
                (Register(Zone.SINGLE, 100, 10),),
            )
            for n in range(options.contracts)
        )  # fmt: skip
    app = Application(settings)
    app.repository = real
    scratch = ScratchCopies(real.engine, max_age=1e9)
    keypad = Keypad(settings, scratch, MenuOnFile(app))
    attempt = Try(DAY, presses=SEED_TWO_ZONE)
    assert keypad.walk(attempt).ending == "accepted"

    moment = datetime(2026, 11, 20, 12, tzinfo=ZoneInfo(settings.timezone))
    flow, catalog = app.read_menu()
    subject, reference = [], []
    for _ in range(options.rounds):
        started = time.perf_counter()
        keypad.walk(attempt)
        subject.append(time.perf_counter() - started)
        with scratch.copy() as url:
            once = Application(settings.model_copy(update={"database_url": url}))
            once.use_menu(flow, catalog)
            channel = KeypadChannel("reference", None, keys=" ".join(SEED_TWO_ZONE))
            started = time.perf_counter()
            outcome = once.answer(channel, now=lambda: moment)
            reference.append(time.perf_counter() - started)
            once.repository.engine.dispose()
        assert outcome.accepted
    scratch.close()
    print(machine_line())
    print(f"contracts: {options.contracts + 4} numbers; rounds: {options.rounds}")
    for name, values in (("keypad step (subject)", subject), ("the call alone", reference)):
        print(
            f"{name:24} median {statistics.median(values) * 1000:6.1f} ms, "
            f"p90 {percentile(values, 0.9) * 1000:6.1f} ms"
        )
    print(f"ratio of the medians: {statistics.median(subject) / statistics.median(reference):.2f}")


if __name__ == "__main__":
    main()
