"""Replies sent to a messenger's API after the message was answered (Viber, WhatsApp): the
one module of the text side that makes outgoing HTTP requests (httpx).

The readings were stored before a reply is sent, so a reply that fails is sent again, never
the message answered again: a few attempts with a growing pause between them, then the
failure is recorded (a log line, and `ivr_replies_total{outcome="failed"}`), and the
customer's next message, or the messenger's redelivery, gets its answer as usual.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from agi.redact import mask_digits

log = logging.getLogger(__name__)

WORKERS = 8
"""Replies sent at once; more wait their turn, so that a messenger's API that is down holds
these threads and never the ones that answer messages. Each thread is a lane of its own, and
a customer's replies always take the same lane, so they arrive in the order they were given."""
ATTEMPTS = 4
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 8.0
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses worth another attempt: the API was busy or down, not the request wrong."""


@dataclass(frozen=True)
class OutgoingRequest:
    """One call of a messenger's API, as its documentation shows it."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: dict[str, Any]
    recipient: str = ""
    """Whom the reply goes to (for the log, masked)."""
    accepted: Callable[[httpx.Response], bool] = field(
        default=lambda response: response.is_success, compare=False
    )
    """Whether the API took the reply (Viber answers 200 with a status of its own)."""


Outcome = Callable[[str, str], None]
"""Told (channel, outcome) of every reply: `sent`, `retried` (per extra attempt), `failed`."""


class ReplySender:
    def __init__(
        self,
        *,
        attempts: int = ATTEMPTS,
        first_pause: float = FIRST_PAUSE,
        longest_pause: float = LONGEST_PAUSE,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        outcome: Outcome | None = None,
        workers: int = WORKERS,
    ) -> None:
        """`workers` 0: each reply is sent in the thread that submits it (for tests)."""
        self.attempts = attempts
        self.first_pause = first_pause
        self.longest_pause = longest_pause
        self.sleep = sleep
        self.outcome = outcome
        self.client = httpx.Client(timeout=TIMEOUT, transport=transport, follow_redirects=False)
        self.lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reply-{n}")
            for n in range(workers)
        ]

    def submit(self, request: OutgoingRequest, *, channel: str) -> None:
        """Send the reply in the sender's thread for this recipient, after the replies to the
        same recipient submitted before it."""
        if not self.lanes:
            self.send(request, channel=channel)
            return
        lane = zlib.crc32(f"{channel}:{request.recipient}".encode()) % len(self.lanes)
        self.lanes[lane].submit(self.send, request, channel=channel)

    def pauses(self) -> list[float]:
        """The pause before each attempt after the first: doubling, capped."""
        return [min(self.first_pause * 2**n, self.longest_pause) for n in range(self.attempts - 1)]

    def send(self, request: OutgoingRequest, *, channel: str) -> bool:
        """Send one reply, again after each pause while the API fails; whether it was taken."""
        why, attempts = "", 0
        for pause in [0.0, *self.pauses()]:
            attempts += 1
            if pause:
                self._tell(channel, "retried")
                self.sleep(pause)
            try:
                response = self.client.request(
                    request.method, request.url, headers=dict(request.headers), json=request.json
                )
            except httpx.HTTPError as error:
                why = type(error).__name__
                continue
            if request.accepted(response):
                self._tell(channel, "sent")
                return True
            why = f"HTTP {response.status_code}"
            if response.is_success or response.status_code not in RETRIED:
                break
        self._tell(channel, "failed")
        log.warning(
            "reply not sent: channel=%s recipient=%s attempts=%d last=%s",
            channel,
            mask_digits(request.recipient),
            attempts,
            why,
        )
        return False

    def _tell(self, channel: str, outcome: str) -> None:
        if self.outcome is not None:
            self.outcome(channel, outcome)

    def close(self) -> None:
        """Wait for the replies under way, then close the connections."""
        for lane in self.lanes:
            lane.shutdown(wait=True)
        self.client.close()
