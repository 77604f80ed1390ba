"""SMS through Kannel: its `sms-service` posts each incoming SMS to `POST /kannel`, and the
answer's body is the reply it sends back as SMS (`config/kannel/ivr-sms-service.conf`).

Kannel posts the text as the body (`post-url`, `mo-recode` turns UCS-2 into UTF-8) and the
URL carries Kannel's escape codes: `id=%I` (the message's id, the same when smsbox delivers
it again after a timeout), `from=%p` (the sender), `to=%P` (the number it was sent to). It
authenticates with HTTP basic credentials in `post-url` (`kannel:<kannel_secret>@`),
checked with the address it comes from before the body is read. The reply is UTF-8 with
`X-Kannel-Coding: 2`, so Kannel sends it as UCS-2 (Cyrillic), at most two SMS.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hmac
from collections.abc import Iterable, Mapping
from email.message import Message

from agi.text.dialog import IncomingMessage, TextChannel
from agi.text.gateway import MAX_MESSAGE_ID, Refused, sender_of, text_of, token, within

USER = "kannel"
UCS2_PART = 67
"""Characters of one UCS-2 SMS of a concatenated message (70 alone, 67 with the header)."""
MAX_PARTS = 2
MAX_REPLY = UCS2_PART * MAX_PARTS
CODING_UCS2 = "2"
CHARSETS = frozenset({"utf-8", "utf-16be", "iso-8859-1", "windows-1252"})
"""What Kannel posts a message in: UTF-8 once recoded, or the coding it arrived in."""
_CODECS = frozenset(codecs.lookup(name).name for name in CHARSETS)


def check_caller(
    authorization: str | None, peer: str | None, *, secret: str, addresses: Iterable[str]
) -> None:
    """Refused 401 unless the request carries Kannel's basic credentials, 403 unless it comes
    from one of `addresses` (addresses or networks)."""
    if not peer or not within(peer, addresses):
        raise Refused(403, "SMS are accepted from the configured Kannel addresses only")
    expected = base64.b64encode(f"{USER}:{secret}".encode())
    scheme, _, given = (authorization or "").partition(" ")
    given_bytes = given.strip().encode("utf-8", "replace")  # compare_digest wants ASCII str
    if scheme.lower() != "basic" or not hmac.compare_digest(given_bytes, expected):
        raise Refused(401, "missing or wrong Kannel credentials")


def incoming(
    query: Mapping[str, str], body: bytes, content_type: str | None, *, region: str
) -> IncomingMessage:
    """The SMS Kannel posted; Refused (400, 422) when a field is missing or unreadable."""
    message_id = token(query.get("id"), "the message id (id=%I)", MAX_MESSAGE_ID)
    sender = sender_of(query.get("from"), region)
    return IncomingMessage(
        channel=TextChannel.SMS,
        sender=sender,
        message_id=f"kannel-{message_id}",
        text=text_of(_decoded(body, content_type)),
    )


def _decoded(body: bytes, content_type: str | None) -> str:
    header = Message()
    header["content-type"] = content_type or "text/plain; charset=utf-8"
    charset = (header.get_content_charset() or "utf-8").lower()
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        raise Refused(400, "the body's charset is unknown") from None
    if charset not in _CODECS:
        raise Refused(400, "the body is UTF-8, UTF-16BE or Latin-1")
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, binascii.Error):
        raise Refused(400, f"the body is not {charset}") from None


def reply(text: str) -> tuple[bytes, dict[str, str]]:
    """The answer's body and headers: the reply in UTF-8 for Kannel to send as UCS-2, cut to
    two SMS if it were ever longer."""
    if len(text) > MAX_REPLY:
        text = text[: MAX_REPLY - 1] + "…"
    headers = {"content-type": "text/plain; charset=utf-8", "x-kannel-coding": CODING_UCS2}
    return text.encode("utf-8"), headers
