"""How many text messages per second the webhook answers end to end over HTTP on loopback,
and what one answer costs, on a SQLite file (or IVR_DATABASE_URL).

    .venv/bin/python benchmarks/text_webhook.py [--messages 2000] [--clients 4]

uvicorn serves the real application on a free port of 127.0.0.1; httpx clients post the
seed's messages, alternating the single-tariff one and the two-message two-tariff dialog,
each from its own sender; every dialog stores its readings. The conversations alternate, in
rounds, between call records off and on (a text conversation's record is written with the
answer), and the two rates are compared. The run is bounded by the number of messages and
sends nothing off this machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from agi.settings import Settings
from agi.text.dialog import text_dialog_for
from agi.text.webhook import SECRET_HEADER, create_app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import demo_database, machine_line, percentile  # noqa: E402

WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
SECRET = "benchmark-only-secret-0123456789"
ROUNDS = 4
"""The conversations run in rounds, alternately with call records off and on."""
DIALOGS = [["ПС 102057522 11638"], ["ПС 123859", "45055 23186"]]
ACCEPTED = "Показания приняты. Спасибо."


def tcp_listener() -> socket.socket:
    """A socket on a free port of 127.0.0.1 that asyncio recognises as TCP.

    asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP; one made with
    `socket.socket()` says 0, and every response then waits ~40 ms for a delayed ACK.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    return listener


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("IVR_DATABASE_URL", f"sqlite:///{folder}/bench.db")
        repository = demo_database(url)
        engine = repository.engine
        dialog = text_dialog_for(Settings(database_url=url), repository, now=lambda: WHEN)
        app = create_app(dialog, secret=SECRET)
        listener = tcp_listener()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
        thread.start()
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        latencies: dict[bool, list[float]] = {False: [], True: []}
        lock = threading.Lock()
        records = dialog.records

        def converse(number: int, client: httpx.Client, recording: bool) -> int:
            texts = DIALOGS[number % 2]
            reply = ""
            for step, text in enumerate(texts):
                body = {
                    "channel": "sms",
                    "sender": f"+7912{number:07d}",
                    "message_id": f"bench-{number}-{step}",
                    "text": text,
                }
                started = time.perf_counter()
                response = client.post("/messages", json=body)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                reply = response.json()["reply"]
                with lock:
                    latencies[recording].append(elapsed)
            return len(texts) if reply == ACCEPTED else 0

        clients = [
            httpx.Client(base_url=base, headers={SECRET_HEADER: SECRET}, timeout=30)
            for _ in range(args.clients)
        ]
        dialogs = args.messages * 2 // 3
        per_round = max(1, dialogs // (2 * ROUNDS))
        elapsed = {False: 0.0, True: 0.0}
        accepted = 0
        number = 0
        with ThreadPoolExecutor(args.clients) as pool:
            for _ in range(ROUNDS):
                for recording in (False, True):
                    dialog.records = records if recording else None
                    numbers = range(number, number + per_round)
                    started = time.perf_counter()
                    accepted += sum(
                        pool.map(
                            lambda n, r=recording: converse(n, clients[n % args.clients], r),
                            numbers,
                        )
                    )
                    elapsed[recording] += time.perf_counter() - started
                    number += per_round
        for client in clients:
            client.close()
        server.should_exit = True
        thread.join()
        engine.dispose()
    sent = sum(len(times) for times in latencies.values())
    assert accepted == sent, f"only {accepted} of {sent} messages ended in accepted readings"
    print(f"{machine_line()}, database {url.split(':')[0]}, {args.clients} clients")
    rates = {}
    for recording in (False, True):
        times = latencies[recording]
        rates[recording] = len(times) / elapsed[recording]
        print(
            f"records {'on: ' if recording else 'off:'} {len(times)} messages in "
            f"{elapsed[recording]:.2f} s = {rates[recording]:.0f} messages/s; answer over HTTP "
            f"p50 {statistics.median(times) * 1000:.2f} ms, "
            f"p99 {percentile(times, 0.99) * 1000:.2f} ms"
        )
    print(f"with records, {rates[True] / rates[False]:.2f} of the rate without")


if __name__ == "__main__":
    main()
