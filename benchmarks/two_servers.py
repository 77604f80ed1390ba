"""Two FastAGI servers, two Asterisks, one PostgreSQL, and one server killed under load.

    sudo .venv/bin/python benchmarks/two_servers.py --database-url postgresql+psycopg://...
        [--before 60] [--after 40] [--spread 20] [--max-calls N] [--no-reference]

Needs root (SIPp sends RTP from raw sockets), Asterisk, SIPp and a PostgreSQL database
that it may empty (its tables are dropped and made afresh, with the demo contracts). The
line is tests/failover.py's: `ivr serve` on 127.0.0.1 and on 127.0.0.2, two private
Asterisks (`pbx-a` tries the first server and then the second, `pbx-b` the other way round,
both then the AGI script), one SIPp process per call, `*2 102057522# <value># 1` with a value
of its own per call.

`--before` calls start within `--spread` seconds, alternating between the Asterisks; the
first server is killed (SIGKILL) as soon as it has stored a reading, its other calls in
progress; then `--after` calls start within `--spread` seconds. The reference, in the same
run and first, is the same load on a fresh line with nobody killed. With `--max-calls`, a
server at its limit leaves calls to the next one and, after the last, to the AGI script.

Printed for each: calls placed, readings stored, accepted calls, calls that reached the
operator with the apology, calls completed by the fallback script, what each server took,
the readings stored twice or lost (accepted but not stored: both must be 0), the calls'
p50 length, and after the kill how long the interrupted callers waited for the apology.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import _fresh_postgres  # noqa: E402
from tests.failover import NO_OUTCOME, FailoverLine, PlacedCall, failover_line  # noqa: E402
from tests.support import demo_database, machine_line, percentile  # noqa: E402


def report(name: str, line: FailoverLine, calls: list[PlacedCall]) -> None:
    stored = line.stored()
    values = Counter(row.value for row in stored)
    accepted = [call for call in calls if call.accepted]
    operator = [call for call in calls if call.apologised]
    by_script = [call for call in accepted if call.by == line.script]
    names = {server.url: f"server {n} ({server.url})" for n, server in enumerate(line.servers, 1)}
    names[line.script] = "the AGI script"
    print(f"\n{name}: load average {os.getloadavg()[0]:.1f} after the run")
    print(
        f"  calls placed {len(calls)}, readings stored {len(stored)}, accepted {len(accepted)}, "
        f"reached the operator {len(operator)}, completed by the fallback script "
        f"{len(by_script)}, ended otherwise "
        f"{len(calls) - len(accepted) - len(operator)}"
    )
    for url, label in names.items():
        had = [call for call in calls if call.by == url]
        if had:
            before = sum(not call.after_kill for call in had)
            print(
                f"  {label}: {len(had)} calls ({before} of the first wave, "
                f"{len(had) - before} of the second), {sum(c.accepted for c in had)} accepted, "
                f"{sum(c.apologised for c in had)} to the operator"
            )
    otherwise = [call for call in calls if not call.accepted and not call.apologised]
    if otherwise:
        kinds = Counter(
            f"SIPp {'ok' if c.sipp_succeeded else 'failed'} ({c.sipp_status}), "
            + (f"outcome={c.outcome} transfer={c.transfer} by={c.by}" if c.outcome is not None
               else "no end logged")
            for c in otherwise
        )  # fmt: skip
        for kind, count in kinds.most_common():
            print(f"    ended otherwise x{count}: {kind}")
        played = re.findall(r"Playing '[^']*/([^/.']+)\.|User entered '([^']*)'", otherwise[0].log)
        heard = " ".join(prompt or f"[{keys}]" for prompt, keys in played)
        print(f"    the first heard and typed: {heard}")
    doubled = sum(count > 1 for count in values.values())
    lost = sum(call.value not in values for call in accepted)
    unconfirmed = sum(call.value in values for call in calls if not call.accepted)
    print(
        f"  readings stored twice {doubled}, accepted but not stored {lost}, stored for a "
        f"call that ended at the operator {unconfirmed}"
    )
    if accepted:
        lengths = [call.seconds for call in accepted]
        print(
            f"  accepted calls' length p50 {statistics.median(lengths):.1f} s, "
            f"p99 {percentile(lengths, 0.99):.1f} s"
        )
    if line.killed_at is not None and operator:
        waits = [
            (at - line.killed_at).total_seconds()
            for call in operator
            if (at := call.logged_at(NO_OUTCOME)) is not None
        ]
        print(
            f"  from the kill to the apology: p50 {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s"
        )


def run(folder: Path, url: str, args: argparse.Namespace, *, kill: bool) -> None:
    _fresh_postgres(url).dispose()
    repository = demo_database(url)
    try:
        options = ("--max-calls", str(args.max_calls)) if args.max_calls else ()
        with failover_line(folder, repository, url, options) as line:
            calls = line.run(args.before, args.after, spread=args.spread, kill=kill)
            name = "one server killed" if kill else "reference (nobody killed)"
            report(name, line, calls)
    finally:
        repository.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL it may empty")
    parser.add_argument("--before", type=int, default=60, help="calls placed before the kill")
    parser.add_argument("--after", type=int, default=40, help="calls placed after it")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds per wave")
    parser.add_argument(
        "--max-calls", type=int, help="each server's --max-calls: beyond it, the next, the script"
    )
    parser.add_argument("--no-reference", action="store_true", help="only the run with a kill")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: SIPp sends RTP from raw sockets")
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("two servers share one PostgreSQL: --database-url postgresql+psycopg://")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup
    print(machine_line())
    print(
        f"{args.before} calls within {args.spread:.0f} s, the kill (or, for the reference, "
        f"none), {args.after} calls within {args.spread:.0f} s; one SIPp process per call; "
        f"--max-calls {args.max_calls or 'default'} per server",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ivr-two-servers-") as name:
        if not args.no_reference:
            (Path(name) / "reference").mkdir()
            run(Path(name) / "reference", args.database_url, args, kill=False)
        (Path(name) / "killed").mkdir()
        run(Path(name) / "killed", args.database_url, args, kill=True)


if __name__ == "__main__":
    main()
