"""WhatsApp, through the WhatsApp Business Cloud API: Meta checks the webhook with a GET
handshake (`hub.mode`, `hub.verify_token`, `hub.challenge`), then posts notifications to
`POST /whatsapp` signed with `X-Hub-Signature-256` (`sha256=` and the hex HMAC-SHA256 of
the body with the app secret). Messages are in `entry[].changes[].value.messages[]`; a text
is answered through the dialog, anything else (a picture, a voice message, a location)
with what to send. Replies go to `/{phone-number-id}/messages` with the access token.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agi.text.dialog import IncomingMessage, TextChannel
from agi.text.gateway import (
    MAX_MESSAGE_ID,
    MAX_SENDER,
    ONLY_TEXT,
    Refused,
    check_signature,
    json_object,
    sender_of,
    text_of,
    token,
)
from agi.text.replies import OutgoingRequest

API_URL = "https://graph.facebook.com/v21.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
MAX_CHALLENGE = 128


def challenge(query: Mapping[str, str], *, verify_token: str) -> str:
    """The answer to Meta's verification request: its challenge, when the mode is
    `subscribe` and the token is ours; Refused 403 otherwise."""
    given = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
        given.encode(), verify_token.encode()
    ):
        raise Refused(403, "the verification token does not match")
    answer = query.get("hub.challenge", "")
    if not answer or len(answer) > MAX_CHALLENGE or not answer.isascii() or not answer.isalnum():
        raise Refused(400, "the challenge is missing or not a short token")
    return answer


@dataclass(frozen=True)
class Received:
    """One message of a notification: for the dialog, or answered with `reply` at once."""

    wa_id: str
    """The number to reply to, as WhatsApp writes it (digits, no `+`)."""
    message: IncomingMessage | None = None
    reply: str | None = None


def received(
    body: bytes, signature: str | None, *, app_secret: str, phone_number_id: str, region: str
) -> list[Received]:
    """The messages of a notification to our number, once its signature is checked (Refused
    401, 403 before the body is parsed; 422 when it is not a notification). Statuses and
    notifications for other numbers hold none."""
    check_signature(app_secret, body, signature, prefix=SIGNATURE_PREFIX)
    data = json_object(body)
    found = []
    for value in _values(data):
        metadata = value.get("metadata")
        to = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if str(to) != phone_number_id:
            continue
        messages = value.get("messages", [])
        if not isinstance(messages, list):
            raise Refused(422, "messages is a list")
        found += [_one(message, region) for message in messages]
    return found


def _values(data: dict[str, Any]) -> list[dict[str, Any]]:
    entries = data.get("entry")
    if data.get("object") != "whatsapp_business_account" or not isinstance(entries, list):
        raise Refused(422, "the body is not a WhatsApp Business Account notification")
    values = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise Refused(422, "an entry has a list of changes")
        for change in changes:
            if not isinstance(change, dict):
                raise Refused(422, "a change is an object")
            value = change.get("value")
            if change.get("field") == "messages" and isinstance(value, dict):
                values.append(value)
    return values


def _one(message: Any, region: str) -> Received:
    if not isinstance(message, dict):
        raise Refused(422, "a message is an object")
    wa_id = token(message.get("from"), "the sender", MAX_SENDER)
    if message.get("type") != "text":
        return Received(wa_id, reply=ONLY_TEXT)
    message_id = token(message.get("id"), "the message id", MAX_MESSAGE_ID)
    text = message.get("text")
    body = text_of(text.get("body") if isinstance(text, dict) else None)
    sender = sender_of("+" + wa_id if wa_id.isdigit() else wa_id, region)
    return Received(wa_id, IncomingMessage(TextChannel.WHATSAPP, sender, message_id, body))


def send_text(
    to: str, text: str, *, access_token: str, phone_number_id: str, api_url: str = API_URL
) -> OutgoingRequest:
    """A text message to `to` through `/{phone-number-id}/messages`, as the API documents it."""
    return OutgoingRequest(
        method="POST",
        url=f"{api_url.rstrip('/')}/{phone_number_id}/messages",
        headers={"Authorization": f"Bearer {access_token}"},
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": text},
        },
        recipient=to,
    )
