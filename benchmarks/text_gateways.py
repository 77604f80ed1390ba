"""What each gateway's route costs next to `/messages`, end to end over HTTP on loopback, on
a SQLite file (or IVR_DATABASE_URL).

    .venv/bin/python benchmarks/text_gateways.py [--messages 300]

uvicorn serves the real application with the three gateways configured; one httpx client
posts the seed's single-tariff message the way each gateway does (Kannel's text body with
basic credentials, Viber's and WhatsApp's signed JSON), from a new sender each time, in
turns, so that every route meets the same database. The messengers' replies go to an HTTP
server on loopback, after the answer; the figures are the answer's latency, and its ratio to
`/messages` measured in the same run. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agi.settings import Settings  # noqa: E402
from agi.text.dialog import text_dialog_for  # noqa: E402
from agi.text.gateway import hmac_sha256  # noqa: E402
from agi.text.gateway_routes import Gateways  # noqa: E402
from agi.text.webhook import SECRET_HEADER, create_app  # noqa: E402
from benchmarks.text_webhook import ACCEPTED, SECRET, WHEN, tcp_listener  # noqa: E402
from tests.messenger_api import messenger_api  # noqa: E402
from tests.support import demo_database, machine_line, percentile  # noqa: E402

TEXT = "ПС 102057522 11638"
KANNEL = "benchmark-kannel-secret-0123"
VIBER = "benchmark-viber-token-0123456789"
APP_SECRET = "benchmark-whatsapp-secret-0123"
PHONE_NUMBER_ID = "106540352242922"


def requests(n: int) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    """One message by each route, from sender number `n`."""
    viber = json.dumps(
        {
            "event": "message",
            "message_token": 10**12 + n,
            "sender": {"id": f"bench{n:08d}="},
            "message": {"type": "text", "text": TEXT},
        }
    ).encode()
    whatsapp = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                                "messages": [
                                    {
                                        "from": f"7913{n:07d}",
                                        "id": f"wamid.bench-{n}",
                                        "type": "text",
                                        "text": {"body": TEXT},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    return {
        "/messages": lambda c: c.post(
            "/messages",
            headers={SECRET_HEADER: SECRET},
            json={
                "channel": "sms",
                "sender": f"+7912{n:07d}",
                "message_id": f"m-{n}",
                "text": TEXT,
            },
        ),
        "/kannel": lambda c: c.post(
            "/kannel",
            params={"id": f"k-{n}", "from": f"+7914{n:07d}", "to": "5520"},
            content=TEXT.encode(),
            headers={"content-type": "text/plain; charset=utf-8"},
            auth=("kannel", KANNEL),
        ),
        "/viber": lambda c: c.post(
            "/viber",
            content=viber,
            headers={"X-Viber-Content-Signature": hmac_sha256(VIBER, viber)},
        ),
        "/whatsapp": lambda c: c.post(
            "/whatsapp",
            content=whatsapp,
            headers={"X-Hub-Signature-256": "sha256=" + hmac_sha256(APP_SECRET, whatsapp)},
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="per route")
    args = parser.parse_args()
    latencies: dict[str, list[float]] = {route: [] for route in requests(0)}
    with tempfile.TemporaryDirectory() as folder, messenger_api({"status": 0}) as api:
        url = os.environ.get("IVR_DATABASE_URL", f"sqlite:///{folder}/bench.db")
        repository = demo_database(url)
        gateways = Gateways(
            kannel_secret=KANNEL,
            viber_token=VIBER,
            viber_api_url=f"{api.url}/pa",
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token="benchmark",
            whatsapp_token="benchmark-access-token-0123",
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_api_url=f"{api.url}/v21.0",
        )
        dialog = text_dialog_for(Settings(database_url=url), repository, now=lambda: WHEN)
        app = create_app(dialog, secret=SECRET, gateways=gateways)
        listener = tcp_listener()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
        thread.start()
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with httpx.Client(base_url=base, timeout=30) as client:
            for n in range(args.messages):
                for route, post in requests(n).items():
                    started = time.perf_counter()
                    response = post(client)
                    latencies[route].append(time.perf_counter() - started)
                    response.raise_for_status()
                    if route in ("/messages", "/kannel"):
                        reply = response.json()["reply"] if route == "/messages" else response.text
                        assert reply == ACCEPTED, (route, reply)
        api.wait_for(2 * args.messages, seconds=60)
        replies = [r.json.get("text") for r in api.received]
        accepted = sum(
            1 for r in replies if r == ACCEPTED or r == {"preview_url": False, "body": ACCEPTED}
        )
        server.should_exit = True
        thread.join()
        repository.engine.dispose()
    assert accepted == 2 * args.messages, f"{accepted} of {2 * args.messages} replies accepted"
    reference = statistics.median(latencies["/messages"])
    print(f"{machine_line()}, database {url.split(':')[0]}, {args.messages} messages per route")
    for route, times in latencies.items():
        p50 = statistics.median(times)
        print(
            f"{route:10} answer p50 {p50 * 1000:6.2f} ms, p99 {percentile(times, 0.99) * 1000:6.2f}"
            f" ms, {p50 / reference:4.2f} x /messages"
        )


if __name__ == "__main__":
    main()
