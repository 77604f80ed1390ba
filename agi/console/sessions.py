"""The console's session cookie: who signed in, when, and the CSRF token of their forms,
signed with the console's secret (HMAC-SHA256) so that no one can make or change one.

Nothing secret is in the cookie; it is signed, not encrypted. The account itself is looked
up on every request, and a cookie issued before the account's `sessions_from` is refused:
signing out, or removing the account and adding it again, ends every cookie issued before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace

COOKIE = "ivr_console"


@dataclass(frozen=True)
class Session:
    csrf: str
    """The token every form and every changing request must carry."""
    name: str | None = None
    """The account signed in; None before a sign-in (the login form needs a token too)."""
    issued: float = 0.0

    def signed_in(self, name: str) -> Session:
        """The session after a sign-in: a new token, so that none seen before counts."""
        return Session(csrf=new_token(), name=name, issued=time.time())

    def signed_out(self) -> Session:
        return replace(self, csrf=new_token(), name=None, issued=0.0)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def anonymous() -> Session:
    return Session(csrf=new_token())


class SessionSigner:
    def __init__(self, secret: str, *, max_age_seconds: float) -> None:
        self._key = hashlib.sha256(b"ivr console session\0" + secret.encode()).digest()
        self.max_age_seconds = max_age_seconds

    def dump(self, session: Session) -> str:
        payload = json.dumps(
            {"c": session.csrf, "n": session.name, "t": session.issued}, separators=(",", ":")
        ).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        return (body + b"." + self._sign(body)).decode()

    def load(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie holds; None when it is missing, forged or too old."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.encode().split(b".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            session = Session(csrf=str(data["c"]), name=data["n"], issued=float(data["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.name is not None:
            age = (time.time() if now is None else now) - session.issued
            if not 0 <= age <= self.max_age_seconds:
                return None
        return session

    def _sign(self, body: bytes) -> bytes:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")
