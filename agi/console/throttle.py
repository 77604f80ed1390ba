"""Failed sign-ins counted per account and per client address over a sliding window: past
the limit, further attempts are refused until the oldest failure leaves the window, even
with the right password, so that guessing costs hours, not seconds."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000
"""Names and addresses remembered before those with no recent failure are forgotten."""


@dataclass(frozen=True)
class Limits:
    per_account: int = 5
    per_address: int = 20
    window_seconds: float = 15 * 60


@dataclass(frozen=True)
class Refusal:
    who: str
    """`account` or `address`: which limit was reached."""
    retry_after: int
    """Whole seconds until one more attempt is allowed."""


class LoginThrottle:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def refusal(self, account: str, address: str) -> Refusal | None:
        """Why an attempt for `account` from `address` may not be tried now, or None."""
        with self._lock:
            now = self.clock()
            for who, key, limit in self._keys(account, address):
                failures = self._recent(key, now)
                if len(failures) >= limit:
                    wait = failures[0] + self.limits.window_seconds - now
                    return Refusal(who, max(1, int(wait + 0.999)))
        return None

    def failed(self, account: str, address: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) > MAX_KEYS:
                self._forget_old(now)
            for _, key, _ in self._keys(account, address):
                self._recent(key, now).append(now)

    def _forget_old(self, now: float) -> None:
        """Drop the names and addresses whose failures have all left the window."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]

    def succeeded(self, account: str) -> None:
        """A right password clears the account's failures (not the address's)."""
        with self._lock:
            self._failures.pop(("account", account.casefold()), None)

    def _keys(self, account: str, address: str) -> list[tuple[str, tuple[str, str], int]]:
        return [
            ("account", ("account", account.casefold()), self.limits.per_account),
            ("address", ("address", address), self.limits.per_address),
        ]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.limits.window_seconds:
            failures.popleft()
        return failures
