"""The FastAGI server under load beside a do-nothing one: many complete calls at once, played
by a protocol-level fake Asterisk (tests/asterisk_peer.py), against `python -m agi serve` and
`benchmarks/reference_fastagi.py` in subprocesses, in the same run.

    .venv/bin/python benchmarks/fastagi_load.py [--calls 100 1000] [--key-delay 0.3 0.3]
        [--ramp 3] [--database-url URL] [--max-calls N] [--no-reference] [--profile N]

Each call is the seed's single-tariff submission `*2 102057522# 11638# 1`; the caller takes
`--key-delay` seconds per key (spent before Asterisk answers the command that collects it),
and the call starts are spread over `--ramp` seconds, so the N calls of a round are held by
the server at the same time; `--key-delay 0 0 --ramp 0` instead measures how fast the server
completes calls whose caller answers at once. The do-nothing server sends the commands the
IVR sent for one warm-up call, a thread per call, and stores one SQLite row. The database is
a temporary SQLite file with the demo contracts unless --database-url names another (never
the configured one); the servers listen on free ports of 127.0.0.1.

Reported per round and server: calls completed per second, the peak number of calls held,
p50/p99 of the time from a reply to the server's next command (and the slowest steps), CPU
per call (the server's and its child processes'), RSS idle and at peak and per held call,
and rows stored against calls placed;
then the IVR's figures beside the do-nothing server's, with their ratio. `--profile N` runs
the IVR under cProfile (benchmarks/profiled_serve.py) and prints its N functions of most
thread CPU over every call; the profiler's own cost then swells the CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agi.settings import Settings  # noqa: E402
from agi.storage.repository import Repository  # noqa: E402
from agi.telephony.fastagi import wait_until_listening  # noqa: E402
from tests.asterisk_peer import OpenCalls, PeerCall, play_call  # noqa: E402
from tests.support import (  # noqa: E402
    checkout_environment,
    demo_database,
    free_port,
    machine_line,
    percentile,
)

KEYS = "*2 102057522# 11638# 1"
CONTRACT = "102057522"


def raise_file_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; the server inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# --- the server side ------------------------------------------------------------------


def _status(pid: int) -> tuple[int, int]:
    """(RSS in KiB, threads) of a process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of the processes it started (a server may
    hand work to a child of its own): the children it waited for, and those still running,
    started by any of its threads. Without /proc's children files (a kernel without
    CONFIG_PROC_CHILDREN) the running children are not counted; the process itself is."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(field) for field in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK") + sum(_cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> set[int]:
    """The running children of a process: each thread's (/proc lists them by the thread
    that started them)."""
    children: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            children.update(int(child) for child in listing.read_text().split())
    return children


def _listen_overflows() -> int:
    """The machine's TcpExt ListenOverflows: SYNs dropped because an accept queue was full."""
    with open("/proc/net/netstat") as stream:
        lines = stream.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return 0


def _established(port: int) -> int:
    """Established TCP connections whose local port is `port` (the server's ends)."""
    wanted = f":{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as stream:
                next(stream)
                for line in stream:
                    parts = line.split(None, 4)
                    if parts[1].endswith(wanted) and parts[3] == "01":
                        count += 1
        except OSError:
            pass
    return count


@dataclass
class Sampler:
    """Samples the server's RSS and threads every `interval` s, connections every 5th time."""

    pid: int
    port: int
    interval: float = 0.05
    peak_rss: int = 0
    peak_threads: int = 0
    peak_connections: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss, threads = _status(self.pid)
            except OSError:
                return
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_threads = max(self.peak_threads, threads)
            if self.samples % 5 == 0:
                self.peak_connections = max(self.peak_connections, _established(self.port))
            self.samples += 1
            self._stop.wait(self.interval)


# --- a round ------------------------------------------------------------------------


async def _play_round(
    port: int, calls: int, tag: str, key_delay: tuple[float, float], ramp: float
) -> tuple[list[PeerCall], OpenCalls, float]:
    gauge = OpenCalls()

    async def one(number: int) -> PeerCall:
        if ramp > 0:
            await asyncio.sleep(ramp * number / calls)
        return await play_call(
            "127.0.0.1",
            port,
            KEYS,
            call_id=f"{tag}-{number}",
            key_delay=key_delay,
            gauge=gauge,
            record_errors=True,
        )

    started = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in range(calls)))
    return list(results), gauge, time.perf_counter() - started


def stored_for(repository: Repository, period: str, tag: str) -> int:
    """Submissions of this round's calls for the meters of the seed's contract."""
    count = 0
    for contract in repository.find_contracts(CONTRACT, period):
        for meter in contract.meters:
            rows = repository.history(meter.id, period)
            count += sum(1 for row in rows if (row.correlation_id or "").startswith(f"{tag}-"))
    return count


def stored_by_reference(database: Path, tag: str) -> int:
    """Rows the do-nothing server stored for this round's calls."""
    with sqlite3.connect(database, timeout=30) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM calls WHERE uniqueid LIKE ?", (f"{tag}-%",)
        ).fetchone()
    connection.close()
    return count


def run_round(
    server: subprocess.Popen,
    port: int,
    stored: Callable[[str], int],
    calls: int,
    key_delay: tuple[float, float],
    ramp: float,
) -> dict[str, object]:
    tag = f"load{calls}x{int(key_delay[1] * 1000)}-{server.pid}-{int(time.time())}"
    idle_rss, idle_threads = _status(server.pid)
    sampler = Sampler(server.pid, port)
    overflows = _listen_overflows()
    server_cpu = _cpu_seconds(server.pid)
    client_cpu = time.process_time()
    sampler.start()
    try:
        results, gauge, elapsed = asyncio.run(_play_round(port, calls, tag, key_delay, ramp))
    finally:
        sampler.stop()
    server_cpu = _cpu_seconds(server.pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    overflows = _listen_overflows() - overflows
    time.sleep(0.5)
    after_rss, _ = _status(server.pid)
    errors = [c for c in results if c.error]
    think = [t for c in results for t in c.think_times[1:]]
    first = [c.think_times[0] for c in results if c.think_times]
    connects = [c.connect_seconds for c in results if not c.error]
    durations = [c.ended - c.started for c in results]
    time.sleep(0.2)
    stored_rows = stored(tag)
    held = max(sampler.peak_threads - idle_threads, 0)
    return {
        "calls": calls,
        "elapsed": elapsed,
        "accepted": sum(c.accepted for c in results),
        "hung_up_by_ivr": sum(c.hung_up_by == "ivr" for c in results),
        "errors": errors,
        "stored": stored_rows,
        "commands": sum(len(c.commands) for c in results),
        "think": think,
        "first": first,
        "connects": connects,
        "durations": durations,
        "held_threads": held,
        "held_connections": sampler.peak_connections,
        "held_client": gauge.peak,
        "steps": _slowest_steps(results),
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "overflows": overflows,
        "idle_rss": idle_rss,
        "peak_rss": sampler.peak_rss,
        "after_rss": after_rss,
    }


def _slowest_steps(results: list[PeerCall]) -> list[tuple[float, float, str]]:
    """(p50, p99, what) of the three steps with the slowest p99: the reply to a command
    (masked) and the server's next command."""
    steps: dict[int, list[float]] = {}
    names: dict[int, str] = {}
    for call in results:
        for index in range(1, len(call.think_times)):
            steps.setdefault(index, []).append(call.think_times[index])
            if index not in names and index < len(call.commands):
                before = " ".join(call.commands[index - 1].split()[:3])
                after = " ".join(call.commands[index].split()[:2])
                names[index] = f"step {index}: after {before} -> {after}"
    ranked = sorted(steps, key=lambda i: percentile(steps[i], 0.99), reverse=True)[:3]
    return [
        (statistics.median(steps[i]), percentile(steps[i], 0.99), names.get(i, str(i)))
        for i in ranked
    ]


def report(result: dict[str, object], key_delay: tuple[float, float], name: str) -> None:
    calls = result["calls"]
    elapsed = result["elapsed"]
    think = result["think"]
    ms = 1000
    held = max(result["held_threads"], 1)
    print(f"\n== {name}: {calls} calls, key delay {key_delay[0]}-{key_delay[1]} s ==")
    print(
        f"completed: {calls} in {elapsed:.1f} s = {calls / elapsed:.1f} calls/s; "
        f"call duration p50 {statistics.median(result['durations']):.1f} s, "
        f"max {max(result['durations']):.1f} s"
    )
    print(
        f"accepted (heard readings_accepted): {result['accepted']}/{calls}; "
        f"IVR hung up: {result['hung_up_by_ivr']}; client errors: {len(result['errors'])}"
    )
    for call in result["errors"][:5]:
        print(f"  error {call.call_id}: {call.error}")
    verdict = "OK" if result["stored"] == calls else "MISMATCH"
    print(f"database: {result['stored']} new submissions for {calls} calls: {verdict}")
    print(
        f"held at once: {result['held_threads']} call threads in the server, "
        f"{result['held_connections']} established connections (sampled), "
        f"{result['held_client']} open on the client side"
    )
    print(
        f"think time (reply -> next command), {len(think)} replies: "
        f"p50 {statistics.median(think) * ms:.2f} ms, p99 {percentile(think, 0.99) * ms:.2f} ms, "
        f"max {max(think) * ms:.1f} ms"
    )
    for p50, p99, name in result["steps"]:
        print(f"  slowest: {name}: p50 {p50 * ms:.1f} ms, p99 {p99 * ms:.1f} ms")
    first = result["first"]
    connects = result["connects"]
    slow_connects = sum(1 for c in connects if c >= 0.9)
    print(
        f"environment -> first command: p50 {statistics.median(first) * ms:.1f} ms, "
        f"p99 {percentile(first, 0.99) * ms:.1f} ms; "
        f"connect p50 {statistics.median(connects) * ms:.1f} ms, "
        f"p99 {percentile(connects, 0.99) * ms:.1f} ms, max {max(connects) * ms:.0f} ms; "
        f"{slow_connects} connects took >= 0.9 s (a SYN resent), "
        f"machine ListenOverflows +{result['overflows']}"
    )
    print(
        f"CPU: server {result['server_cpu']:.1f} s, load generator {result['client_cpu']:.1f} s "
        f"in {elapsed:.1f} s wall on {os.cpu_count()} cores"
    )
    idle, peak = result["idle_rss"], result["peak_rss"]
    print(
        f"server RSS: idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
        f"after {result['after_rss'] / 1024:.1f} MiB; "
        f"per active call {per_call_kib(result):.0f} KiB ((peak-idle)/{held})"
    )


def start(command: list[str], environment: dict[str, str], log_path: Path, port: int, cwd: str):
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=cwd
        )
    if not wait_until_listening("127.0.0.1", port, seconds=20) or server.poll() is not None:
        server.kill()
        raise SystemExit(f"{command[1]} did not start:\n{log_path.read_text()}")
    return server


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def summary(calls: int, ivr: dict[str, object], floor: dict[str, object]) -> None:
    """The figures the line is judged by, the IVR beside the do-nothing server."""
    ms = 1000

    def row(name: str, of) -> None:
        mine, reference = of(ivr), of(floor)
        ratio = f"{mine / reference:.1f}x" if reference else "-"
        print(f"  {name:<34} {mine:>10.2f} {reference:>10.2f} {ratio:>8}")

    print(f"\n-- {calls} calls: ivr serve beside the do-nothing server (same run) --")
    print(f"  {'':<34} {'ivr':>10} {'floor':>10} {'ratio':>8}")
    row("CPU per call, ms", lambda r: r["server_cpu"] / r["calls"] * ms)
    row("reply -> next command p50, ms", lambda r: statistics.median(r["think"]) * ms)
    row("reply -> next command p99, ms", lambda r: percentile(r["think"], 0.99) * ms)
    row("memory per held call, KiB", per_call_kib)
    row("peak RSS, MiB", lambda r: r["peak_rss"] / 1024)
    for name, result in (("ivr", ivr), ("floor", floor)):
        verdict = "all stored" if result["stored"] == calls else "MISSING OR EXTRA"
        print(f"  {name}: calls placed {calls}, rows stored {result['stored']}: {verdict}")


def per_call_kib(result: dict[str, object]) -> float:
    held = max(result["held_threads"], 1)
    return (result["peak_rss"] - result["idle_rss"]) / held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--key-delay",
        type=float,
        nargs=2,
        default=[0.3, 0.3],
        metavar=("MIN", "MAX"),
        help="seconds before each WAIT FOR DIGIT reply (0 0: answer at once)",
    )
    parser.add_argument(
        "--ramp", type=float, default=3.0, help="spread the call starts over this many seconds"
    )
    parser.add_argument("--max-calls", type=int, default=None, help="the server's --max-calls")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--no-reference", action="store_true", help="skip the do-nothing server")
    parser.add_argument("--keep", action="store_true", help="print the server log at the end")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    args = parser.parse_args()
    key_delay = (args.key_delay[0], args.key_delay[1])
    limits = raise_file_limit()
    with tempfile.TemporaryDirectory(prefix="ivr-fastagi-load-") as folder:
        url = args.database_url or f"sqlite:///{folder}/load.db"
        repository = demo_database(url)
        settings = Settings(database_url=url, accept_days="1-31")
        period = settings.window.period(datetime.now(tz=UTC))
        port = free_port()
        environment_vars = checkout_environment(Path(folder), url)
        log_path = Path(folder) / "serve.log"
        command = [sys.executable, "-m", "agi", "serve", "--port", str(port), "--status-port", "0"]
        stats_file = Path(folder) / "calls.prof"
        if args.profile:
            command[1:3] = [str(ROOT / "benchmarks" / "profiled_serve.py"), str(stats_file)]
        if args.max_calls:
            command += ["--max-calls", str(args.max_calls)]
        server = start(command, environment_vars, log_path, port, folder)
        reference = None
        try:
            started_rss, _ = _status(server.pid)
            warm = asyncio.run(_play_round(port, 1, f"warm-{os.getpid()}", (0, 0), 0))[0][0]
            assert warm.accepted, warm.commands
            print(
                f"{machine_line()}, database {url.split(':')[0]}, "
                f"RLIMIT_NOFILE {limits[0]}, somaxconn "
                f"{Path('/proc/sys/net/core/somaxconn').read_text().strip()}"
            )
            print(
                f"server: {' '.join(command[1:])} (pid {server.pid}); RSS at start "
                f"{started_rss / 1024:.1f} MiB, after one warm-up call "
                f"{_status(server.pid)[0] / 1024:.1f} MiB; "
                f"{len(warm.commands)} commands per call, "
                f"{sum(c.startswith('WAIT FOR DIGIT') for c in warm.commands)} of them key waits"
            )
            if not args.no_reference:
                commands_file = Path(folder) / "commands.txt"
                commands_file.write_text("\n".join(warm.commands) + "\n")
                reference_db = Path(folder) / "reference.db"
                reference_port = free_port()
                reference = start(
                    [
                        sys.executable,
                        str(ROOT / "benchmarks" / "reference_fastagi.py"),
                        str(reference_port),
                        str(commands_file),
                        str(reference_db),
                    ],
                    dict(os.environ),
                    Path(folder) / "reference.log",
                    reference_port,
                    folder,
                )
                print(
                    f"reference: benchmarks/reference_fastagi.py (pid {reference.pid}): the same "
                    f"{len(warm.commands)} commands, a thread per call, one SQLite insert"
                )
            for calls in args.calls:
                floor = None
                if reference is not None:
                    floor = run_round(
                        reference,
                        reference_port,
                        lambda tag: stored_by_reference(reference_db, tag),
                        calls,
                        key_delay,
                        args.ramp,
                    )
                    report(floor, key_delay, "do-nothing server")
                result = run_round(
                    server,
                    port,
                    lambda tag: stored_for(repository, period, tag),
                    calls,
                    key_delay,
                    args.ramp,
                )
                report(result, key_delay, "ivr serve")
                if floor is not None:
                    summary(calls, result, floor)
        finally:
            stop(server)
            if reference is not None:
                stop(reference)
            repository.engine.dispose()
            text = log_path.read_text(errors="replace")
            problems = [line for line in text.splitlines() if "WARNING" in line or "ERROR" in line]
            print(f"\nserver log: {len(text.splitlines())} lines, {len(problems)} warnings/errors")
            for line in text.splitlines():
                if line.startswith("garbage collections:"):
                    print(f"  the whole run's {line}")
            for line in (text.splitlines() if args.keep else problems)[:20]:
                print(f"  {line}")
            if args.profile and stats_file.exists():
                print_profile(stats_file, args.profile)


def print_profile(stats_file: Path, count: int) -> None:
    stats = pstats.Stats(str(stats_file), stream=sys.stdout)
    print("\nivr serve's call threads, thread CPU under cProfile (warm-up call included):")
    stats.strip_dirs().sort_stats("tottime").print_stats(count)


if __name__ == "__main__":
    main()
