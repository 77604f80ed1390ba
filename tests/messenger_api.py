"""A messenger's API on a free loopback port, for the tests of the replies sent to it: it
keeps every request as it arrived (method, path, headers, JSON body) and answers with the
statuses it is told to, then 200 and the body it is given."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class MessengerApi:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with, one each, before succeeding."""
    answer: dict[str, Any] = field(default_factory=dict)
    held: threading.Event | None = None
    """An API that hangs: every request waits until this event is set (at most 30 s)."""

    def wait_for(self, count: int, seconds: float = 10) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} requests came"
            time.sleep(0.01)
        return self.received


@contextmanager
def messenger_api(answer: dict[str, Any] | None = None) -> Iterator[MessengerApi]:
    api = MessengerApi(answer=answer or {})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            api.received.append(
                Received(
                    "POST",
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(body) if body else None,
                )
            )
            held = api.held
            if held is not None:
                held.wait(30)
            status = api.failures.pop(0) if api.failures else 200
            out = json.dumps(api.answer if status == 200 else {"error": "busy"}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
