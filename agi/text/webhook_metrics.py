"""The webhook's counters, served at /metrics in Prometheus' text format: the one module of
the text side that imports prometheus-client.

They are counted around the application, from the responses it sends, so that nothing in
the answering of a message has to know about them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
)

from agi.lockout_metrics import LockoutGauge

disable_created_metrics()

CONTENT_TYPE = CONTENT_TYPE_LATEST
PATHS = ("/messages", "/kannel", "/viber", "/whatsapp", "/health", "/metrics", "/openapi.json")
OUTCOMES = ("accepted", "answered", "duplicate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.responses = Counter(
            "ivr_webhook_responses",
            "HTTP responses of the webhook, by path (other: any path it does not serve) and "
            "status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.messages = Counter(
            "ivr_messages",
            "Messages answered, by what became of them: accepted (readings stored), answered "
            "(a reply without readings stored), duplicate (a message delivered again).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.messages.labels(outcome)
        self.replies = Counter(
            "ivr_replies",
            "Replies sent through a messenger's API, by channel and outcome: sent, retried (one "
            "more attempt after a failure), failed (given up after the last attempt).",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def count_reply(self, channel: str, outcome: str) -> None:
        self.replies.labels(channel, outcome).inc()

    def count_answer(self, *, accepted: bool, duplicate: bool) -> None:
        """One message answered, by /messages or a gateway's route."""
        outcome = "duplicate" if duplicate else "accepted" if accepted else "answered"
        self.messages.labels(outcome).inc()

    def count_lockouts(self, lockouts: Callable[[], Mapping[str, int]]) -> None:
        """Serve the lockouts in force (`ivr_lockouts`), read at each scrape."""
        self.registry.register(LockoutGauge(lockouts))

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def counting(self, app: ASGIApp) -> ASGIApp:
        """`app`, with each of its responses counted."""

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope["path"] if scope["path"] in PATHS else "other"
            status: list[int] = []

            async def observed(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                await send(message)

            await app(scope, receive, observed)
            if status:
                self.responses.labels(path, str(status[0])).inc()

        return counted
