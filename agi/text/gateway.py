"""What every gateway's protocol shares: a refusal with its HTTP status, the fields of an
`IncomingMessage` checked as the storage keeps them, and the signatures gateways sign with.

A gateway module (`kannel`, `viber`, `whatsapp`) turns one request into zero or more
`IncomingMessage`s for the one text dialog, and says how the reply goes back. None of them
imports the web framework: `agi.text.gateway_routes` serves them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from agi.readings.callers import phone_number

MAX_SENDER = 64
MAX_MESSAGE_ID = 112
"""A gateway's message id, with room for its prefix (`kannel-`, `viber-`) in the 128
characters the database keeps; a longer one is refused, never a database error redelivered."""
MAX_TEXT = 4096
"""The longest message a messenger delivers (WhatsApp); longer ones are refused."""
TOKEN = re.compile(r"[!-~]+")
"""Printable ASCII without spaces: phone numbers, messenger user ids, gateway message ids."""
ONLY_TEXT = (
    "Понимаю только текст. Чтобы передать показания, отправьте: ПС номер договора показания. "
    "Например: ПС 102057522 11638"
)
"""The reply to a picture, a voice message, a sticker or a location."""


class Refused(Exception):
    """A request answered with `status` and `detail`, which never repeats what was sent."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def token(value: Any, what: str, longest: int) -> str:
    """`value` as an id the storage keeps (printable ASCII, no spaces, at most `longest`
    characters); Refused 422 otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not TOKEN.fullmatch(value) or len(value) > longest:
        raise Refused(422, f"{what} is missing or not a printable id of at most {longest}")
    return value


def text_of(value: Any) -> str:
    """A message's text as the dialog reads it; Refused 422 when it is no text."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Refused(422, f"the text is missing or longer than {MAX_TEXT} characters")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise Refused(422, "the text holds a lone surrogate")
    return value


def sender_of(raw: Any, region: str) -> str:
    """The sender as a conversation is kept: a phone number in E.164 whatever the network
    wrote (`89120000000`, `79120000000`), or else the gateway's id as it is (a short code,
    a messenger user id)."""
    sender = token(raw, "the sender", MAX_SENDER)
    return phone_number(sender, region) or sender


def hmac_sha256(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def check_signature(key: str, body: bytes, given: str | None, *, prefix: str = "") -> None:
    """Refused 401 unless `given` is `prefix` and the hex HMAC-SHA256 of `body` with `key`:
    the only thing read of a body before its sender is known."""
    if not given:
        raise Refused(401, "the request is not signed")
    expected = prefix + hmac_sha256(key, body)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise Refused(403, "the signature does not match the body")


def json_object(body: bytes) -> dict[str, Any]:
    """The body as one JSON object; Refused 400 or 422 for anything else (not UTF-8, not JSON,
    NaN or Infinity, nested too deep)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body must be UTF-8") from None
    try:
        data = json.loads(text, parse_constant=no_constant, parse_float=finite)
    except RecursionError:
        raise Refused(422, "the body is nested too deep") from None
    except ValueError:
        raise Refused(422, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused(422, "the body is one JSON object")
    return data


def no_constant(name: str) -> float:
    """For json.loads: NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"{name} is not JSON")


def finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large")
    return value


def within(address: str, networks: Iterable[str]) -> bool:
    """Whether `address` is in one of `networks` (`127.0.0.1/32`, `10.0.0.0/8`, `::1`)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)
