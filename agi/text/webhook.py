"""The HTTP webhook that an SMS or messenger gateway calls: one JSON request per incoming
message, one JSON reply with the answer text. `ivr web` serves it.

The shared secret and the body size are checked by `Guard`, in front of the framework: a
request without the secret is refused before its body is read, and no body larger than the
limit is ever held in memory.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from agi.storage.database import StorageError
from agi.text.dialog import IncomingMessage, MessageIdReused, TextChannel, TextDialog
from agi.text.webhook_metrics import CONTENT_TYPE, WebhookMetrics

log = logging.getLogger(__name__)

SECRET_HEADER = "X-IVR-Secret"
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json"})
MAX_TEXT = 4096
"""The longest message a messenger delivers (WhatsApp); longer bodies are malformed."""
TOKEN = r"^[!-~]+$"
"""Printable ASCII without spaces: phone numbers, messenger user ids, gateway message ids."""

SECRET_SCHEME = APIKeyHeader(name=SECRET_HEADER, auto_error=False)
"""The secret as the OpenAPI description shows it; `Guard` is what checks it."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class IncomingText(BaseModel):
    """One message a customer sent to the company's number."""

    model_config = ConfigDict(extra="ignore")

    channel: TextChannel
    sender: str = Field(min_length=1, max_length=64, pattern=TOKEN, examples=["+79120000000"])
    message_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=TOKEN,
        description="The gateway's id of the message: a redelivery carries the same id.",
    )
    text: str = Field(max_length=MAX_TEXT, examples=["ПС 102057522 11638"])


class TextReply(BaseModel):
    message_id: str
    reply: str = Field(description="The text to send back to the sender, as it is.")
    accepted: bool = Field(description="The readings of this message are stored.")
    duplicate: bool = Field(
        description="The message id was answered before: the same reply, nothing done again."
    )


def create_app(dialog: TextDialog, *, secret: str, max_body_bytes: int = 32768) -> ASGIApp:
    """The webhook's ASGI application, guarded by the shared secret and the body limit."""
    api = FastAPI(
        title="Meter readings: text messages",
        version="1",
        summary="Readings sent by SMS, Viber or WhatsApp with the «ПС» command.",
        docs_url=None,
        redoc_url=None,
    )

    @api.post(
        "/messages",
        summary="Answer one incoming message",
        response_model=TextReply,
        responses={
            401: {"description": f"The {SECRET_HEADER} header is missing or wrong."},
            409: {"description": "The message id was used before by another message."},
            413: {"description": "The body is larger than the limit."},
            503: {"description": "The readings database is not available; deliver again."},
        },
    )
    def answer_message(
        message: IncomingText,
        _secret: Annotated[str | None, Security(SECRET_SCHEME)] = None,
    ) -> TextReply:
        """Answer one message a customer sent; send `reply` back to the sender as it is.

        A redelivery of the same `message_id` gets the same reply and changes nothing.
        """
        try:
            answer = dialog.answer(
                IncomingMessage(
                    channel=message.channel,
                    sender=message.sender,
                    message_id=message.message_id,
                    text=message.text,
                )
            )
        except MessageIdReused as error:
            raise HTTPException(409, str(error)) from None
        except StorageError:
            log.exception("the readings database failed")
            raise HTTPException(503, "the readings database is not available") from None
        return TextReply(
            message_id=message.message_id,
            reply=answer.reply,
            accepted=answer.accepted,
            duplicate=answer.duplicate,
        )

    @api.get("/health")
    def health() -> dict[str, str]:
        """Whether the webhook can answer: the database is reachable and up to date."""
        problem = dialog.readings.repository.schema_problem()
        if problem:
            raise HTTPException(503, problem)
        return {"status": "ok"}

    metrics = WebhookMetrics()

    @api.get("/metrics", include_in_schema=False)
    def metrics_page() -> Response:
        """The webhook's counters in Prometheus' text format (no secret, as /health)."""
        return Response(metrics.text(), media_type=CONTENT_TYPE)

    return metrics.counting(Guard(api, secret=secret, max_body_bytes=max_body_bytes))


class Guard:
    """Refuses requests without the shared secret (401) or with a body over the limit (413)."""

    def __init__(self, app: ASGIApp, *, secret: str, max_body_bytes: int) -> None:
        if not secret:
            raise ValueError("the webhook needs a shared secret")
        self.app = app
        self.secret = secret.encode()
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(SECRET_HEADER.lower().encode(), b"")
        if not hmac.compare_digest(given, self.secret):
            await _refuse(send, 401, f"missing or wrong {SECRET_HEADER} header")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _refuse(send, 413, f"the body is limited to {self.max_body_bytes} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _refuse(send, 413, f"the body is limited to {self.max_body_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the guard, handed to the application as if it came from the client."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(app: ASGIApp, *, host: str, port: int) -> None:
    """Serve the webhook until stopped (uvicorn), logging as verbosely as the `agi` loggers."""
    import uvicorn

    verbose = logging.getLogger("agi").isEnabledFor(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info" if verbose else "warning",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=200,
    )
