"""How long slow connections can hold the FastAGI server, and how long it takes to stop.

    .venv/bin/python benchmarks/fastagi_limits.py [--drippers 200] [--drip-every 20]
        [--calls 50] [--drain 60 2]

Against `python -m agi serve` on a temporary SQLite file with the demo contracts, with the
default deadlines (environment 5 s, reply 60 s) and `--max-calls` equal to the drippers:

1. **Dripping environments**: that many connections each send one byte of an AGI
   environment every `--drip-every` seconds. Printed: how long they held the server (from
   the first connection to the last one closed by the server), and what a real call gets
   meanwhile (IVR_BUSY, so the dialplan falls back) and afterwards (the whole seed call).
2. **Dripping replies**: the same number send a whole environment, are taken as calls, and
   then drip the reply to the first command. The same figures.
3. **SIGTERM with calls in progress**: `--calls` seed calls whose callers take 0.2-1 s per
   key; SIGTERM when all are in progress. Printed per drain time: seconds from SIGTERM to
   exit, calls that ended by themselves, calls handed to the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agi_replies import environment  # noqa: E402
from tests.asterisk_peer import PeerCall, play_call  # noqa: E402
from tests.real_line import Server, fastagi_server  # noqa: E402
from tests.support import checkout_environment, demo_database, free_port, machine_line  # noqa: E402

KEYS = "*2 102057522# 11638# 1"
CLAIM = b'SET VARIABLE "IVR_ANSWERED" "1"\n'
BUSY = b'SET VARIABLE "IVR_BUSY" "1"\n'


@contextmanager
def server(folder: Path, max_calls: int, **settings: str) -> Iterator[Server]:
    url = f"sqlite:///{folder / 'ivr.db'}"
    if not (folder / "ivr.db").exists():
        demo_database(url).engine.dispose()
    env = {**checkout_environment(folder, url), **settings}
    options = ["--max-calls", str(max_calls), "--status-port", str(free_port())]
    with fastagi_server(env, folder, free_port(), options) as running:
        yield running


async def drip(port: int, number: int, every: float, whole_environment: bool) -> float | None:
    """One slow connection; the seconds until the server closed it, or None when the server
    took what was dripped and went on (it came whole within the deadline)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    text = environment(f"drip-{number}", "1").encode()
    pending = b"200 result=1\n"
    if whole_environment:
        writer.write(text)
        await writer.drain()
        assert await reader.readline() == CLAIM
    else:
        pending = text
    closed: float | None = None
    try:
        for byte in pending:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(100), every)
            except TimeoutError:
                continue
            if not answer:
                closed = time.perf_counter() - started
            break
    except OSError:
        closed = time.perf_counter() - started
    writer.close()
    return closed


async def first_line(port: int, call_id: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(environment(call_id, "1").encode())
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return line


async def hold(port: int, drippers: int, every: float, whole_environment: bool) -> None:
    tasks = [asyncio.create_task(drip(port, n, every, whole_environment)) for n in range(drippers)]
    await asyncio.sleep(1.0)
    meanwhile = await first_line(port, "meanwhile")
    held = await asyncio.gather(*tasks)
    after = await play_call("127.0.0.1", port, KEYS, call_id=f"after-{whole_environment}")
    closed = [seconds for seconds in held if seconds is not None]
    if closed:
        print(
            f"  held the server {max(closed):.1f} s: {len(closed)} of {drippers} closed by the "
            f"server after p50 {statistics.median(closed):.1f} s, max {max(closed):.1f} s"
        )
    else:
        print(f"  none was closed: each came whole within the deadline ({drippers} calls)")
    verdict = "IVR_BUSY" if meanwhile == BUSY else repr(meanwhile)
    print(f"  a call meanwhile got: {verdict}; a call afterwards: accepted {after.accepted}")


async def calls_in_progress(port: int, calls: int) -> list[PeerCall]:
    return await asyncio.gather(
        *(
            play_call(
                "127.0.0.1",
                port,
                KEYS,
                call_id=f"stop-{n}",
                key_delay=(0.2, 1.0),
                record_errors=True,
            )
            for n in range(calls)
        )
    )


def stop_with_calls(folder: Path, calls: int, drain: float) -> None:
    with server(folder, max(calls, 10), IVR_DRAIN_SECONDS=str(drain)) as running:

        async def scenario() -> tuple[list[PeerCall], float]:
            task = asyncio.create_task(calls_in_progress(running.port, calls))
            await asyncio.sleep(2.0)  # every call has started and waits for keys
            stopped = time.perf_counter()
            running.process.send_signal(signal.SIGTERM)
            while running.process.poll() is None:
                await asyncio.sleep(0.02)
            exited = time.perf_counter() - stopped
            return await task, exited

        peers, exited = asyncio.run(scenario())
    finished = sum(peer.hung_up_by == "ivr" for peer in peers)
    handed = sum(any("IVR_TRANSFER" in command for command in peer.commands) for peer in peers)
    print(
        f"  drain {drain:g} s: exited {exited:.1f} s after SIGTERM; {finished} of {calls} calls "
        f"ended by themselves, {handed} handed to the operator"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drippers", type=int, default=200)
    parser.add_argument("--drip-every", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--drain", type=float, nargs="+", default=[60.0, 2.0])
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="ivr-fastagi-limits-") as name:
        folder = Path(name)
        for whole, what in ((False, "environments"), (True, "replies to the first command")):
            print(
                f"\n{args.drippers} connections dripping their {what}, "
                f"one byte every {args.drip_every:g} s (max_calls {args.drippers}):"
            )
            with server(folder, args.drippers) as running:
                asyncio.run(hold(running.port, args.drippers, args.drip_every, whole))
        print(f"\nSIGTERM with {args.calls} calls in progress (callers take 0.2-1 s per key):")
        for drain in args.drain:
            stop_with_calls(folder, args.calls, drain)


if __name__ == "__main__":
    main()
