"""What the FastAGI server tells about itself: its metrics, and a loopback HTTP listener that
answers `/health`, `/metrics` (Prometheus' text format) and `/status` (JSON, for `ivr status`).

The one module of the telephone side that imports prometheus-client.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from agi.lockout_metrics import LockoutGauge
from agi.redact import printable

log = logging.getLogger(__name__)

disable_created_metrics()

REPLY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds from a reply to the next command: a healthy server answers in about a
millisecond; a caller notices from about a quarter of a second."""


class LineMetrics:
    """The server's counters, in a registry of its own (several servers may share a process
    in tests)."""

    def __init__(
        self,
        *,
        endings: Iterable[str],
        refusals: Iterable[str],
        drops: Iterable[str],
    ) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.calls_active = Gauge(
            "ivr_calls_active", "Calls the server is answering now.", registry=registry
        )
        self.calls_answered = Counter(
            "ivr_calls_answered",
            "Calls the server took (it set IVR_ANSWERED).",
            registry=registry,
        )
        self.calls_ended = Counter(
            "ivr_calls_ended",
            "Calls taken by the server that ended, by how they ended (failed: an error of the "
            "IVR; no_reply: Asterisk did not answer a command in time; server_stopped: handed "
            "to the operator when the drain time ran out).",
            ["ending"],
            registry=registry,
        )
        self.calls_refused_busy = Counter(
            "ivr_calls_refused_busy",
            "Calls sent to the dialplan's fallback: at max_calls, or out of open files.",
            ["reason"],
            registry=registry,
        )
        self.connections_dropped = Counter(
            "ivr_connections_dropped",
            "Connections closed before they became a call: not in the allow-list, no AGI "
            "environment in time, or the server stopping.",
            ["reason"],
            registry=registry,
        )
        self.flow_reloads = Counter(
            "ivr_flow_reloads",
            "Saved changes of the flow or the prompt catalog, accepted or refused.",
            ["result"],
            registry=registry,
        )
        self.flow_file_refused = Gauge(
            "ivr_flow_file_refused",
            "1 while the flow file as saved is refused and an earlier flow serves the calls.",
            registry=registry,
        )
        self.reply_to_command = Histogram(
            "ivr_reply_to_command_seconds",
            "Seconds from a reply of Asterisk to the server's next command.",
            buckets=REPLY_BUCKETS,
            registry=registry,
        )
        for ending in endings:
            self.calls_ended.labels(ending)
        for reason in refusals:
            self.calls_refused_busy.labels(reason)
        for reason in drops:
            self.connections_dropped.labels(reason)
        for result in ("accepted", "refused"):
            self.flow_reloads.labels(result)

    def count_lockouts(self, lockouts: Callable[[], Mapping[str, int]]) -> None:
        """Serve the lockouts in force (`ivr_lockouts`), read at each scrape."""
        self.registry.register(LockoutGauge(lockouts))

    def text(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def json_answer(data: Any, status: int = 200) -> Answer:
    body = json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n"
    return Answer(status, "application/json; charset=utf-8", body)


def metrics_answer(metrics: LineMetrics) -> Answer:
    return Answer(200, CONTENT_TYPE_LATEST, metrics.text())


Routes = dict[str, Callable[[], Answer]]


class StatusListener(ThreadingHTTPServer):
    """A small HTTP listener for GET requests on a few paths; a thread per request, each
    with a short socket timeout, on loopback unless configured otherwise."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, routes: Routes) -> None:
        self.routes = routes
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, name="status", daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: StatusListener
    timeout = 5
    server_version = "ivr"
    sys_version = ""

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        try:
            answer = route() if route else json_answer({"error": "not found"}, 404)
        except Exception:
            log.exception("the status listener failed on %s", printable(self.path[:100]))
            answer = json_answer({"error": "the server could not answer"}, 500)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status %s", format % args)
