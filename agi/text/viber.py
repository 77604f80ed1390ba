"""Viber, through the Viber REST bot API: Viber posts the bot's events to `POST /viber`,
signed with `X-Viber-Content-Signature` (the hex HMAC-SHA256 of the body with the bot's
token), and the replies go out through `send_message` with `X-Viber-Auth-Token`.

Events: `webhook` (Viber checking the address, on `set_webhook`), `conversation_started`
(answered with the help text as the welcome message, in the response), `subscribed`
(acknowledged), `message` (a text is answered through the dialog, anything else with what
to send). Every other event (`delivered`, `seen`, `failed`, `unsubscribed`...) is
acknowledged and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from agi.text.dialog import HELP, IncomingMessage, TextChannel
from agi.text.gateway import (
    MAX_MESSAGE_ID,
    MAX_SENDER,
    ONLY_TEXT,
    Refused,
    check_signature,
    json_object,
    text_of,
    token,
)
from agi.text.replies import OutgoingRequest

API_URL = "https://chatapi.viber.com/pa"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
TOKEN_HEADER = "X-Viber-Auth-Token"
MIN_API_VERSION = 1
EVENT_TYPES = ("subscribed", "unsubscribed", "conversation_started", "delivered", "failed")
"""What `set_webhook` asks for besides messages (which are always sent)."""
MAX_SENDER_NAME = 28


@dataclass(frozen=True)
class Event:
    """What one callback asks for: a message for the dialog, a reply that needs no dialog
    (`reply_to`, `reply`), a welcome message in the response, or nothing."""

    kind: str
    message: IncomingMessage | None = None
    reply_to: str | None = None
    reply: str | None = None
    welcome: str | None = None


def event(body: bytes, signature: str | None, *, auth_token: str) -> Event:
    """The callback in `body`, once its signature is checked (Refused 401, 403 before the
    body is parsed; 400, 422 when it is no callback)."""
    check_signature(auth_token, body, signature)
    data = json_object(body)
    kind = data.get("event")
    if not isinstance(kind, str):
        raise Refused(422, "the callback has no event")
    if kind == "conversation_started":
        return Event(kind, welcome=HELP)
    if kind != "message":
        return Event(kind)
    sender = data.get("sender")
    message = data.get("message")
    if not isinstance(sender, dict) or not isinstance(message, dict):
        raise Refused(422, "a message callback has a sender and a message")
    user = token(sender.get("id"), "the sender's id", MAX_SENDER)
    if message.get("type") != "text":
        return Event(kind, reply_to=user, reply=ONLY_TEXT)
    message_token = token(data.get("message_token"), "the message token", MAX_MESSAGE_ID)
    text = text_of(message.get("text"))
    incoming = IncomingMessage(TextChannel.VIBER, user, f"viber-{message_token}", text)
    return Event(kind, message=incoming, reply_to=user)


def welcome(text: str, *, sender_name: str) -> dict[str, Any]:
    """The welcome message: the answer to `conversation_started`, without a receiver."""
    return {"sender": {"name": sender_name[:MAX_SENDER_NAME]}, "type": "text", "text": text}


def send_message(
    receiver: str, text: str, *, auth_token: str, sender_name: str, api_url: str = API_URL
) -> OutgoingRequest:
    """`send_message` of a text to a subscriber, as the API documents it."""
    return OutgoingRequest(
        method="POST",
        url=f"{api_url.rstrip('/')}/send_message",
        headers={TOKEN_HEADER: auth_token},
        json={
            "receiver": receiver,
            "min_api_version": MIN_API_VERSION,
            **welcome(text, sender_name=sender_name),
        },
        recipient=receiver,
        accepted=accepted,
    )


def set_webhook(url: str, *, auth_token: str, api_url: str = API_URL) -> OutgoingRequest:
    """`set_webhook`: Viber posts the bot's events to `url` from then on (it checks the
    address at once with a `webhook` event, which must be answered 200)."""
    return OutgoingRequest(
        method="POST",
        url=f"{api_url.rstrip('/')}/set_webhook",
        headers={TOKEN_HEADER: auth_token},
        json={"url": url, "event_types": list(EVENT_TYPES), "send_name": True, "send_photo": False},
        accepted=accepted,
    )


def accepted(response: httpx.Response) -> bool:
    """Viber answers 200 whether or not it took the request; `status` 0 is success."""
    if not response.is_success:
        return False
    try:
        return response.json().get("status") == 0
    except (ValueError, AttributeError):
        return False


def status_message(response: httpx.Response) -> str:
    """Viber's own words for a refused request (`invalidUrl`, `invalidAuthToken`...)."""
    try:
        data = response.json()
        return f"{data.get('status')} {data.get('status_message')}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


class NotRegistered(Exception):
    """Viber did not take the webhook: its own words (`1 invalidUrl`, `2 invalidAuthToken`)."""


def register_webhook(url: str, *, auth_token: str, api_url: str = API_URL) -> list[str]:
    """Call `set_webhook` once; the event types Viber will send, or NotRegistered."""
    request = set_webhook(url, auth_token=auth_token, api_url=api_url)
    try:
        response = httpx.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            json=request.json,
            timeout=30,
        )
    except httpx.HTTPError as error:
        raise NotRegistered(
            f"Viber's API at {api_url} did not answer: {type(error).__name__}"
        ) from None
    if not accepted(response):
        raise NotRegistered(status_message(response))
    return [str(kind) for kind in response.json().get("event_types", [])]
