"""The HTTP webhook that SMS and messenger gateways call. `ivr web` serves it: POST /messages
(one JSON request per incoming message, one JSON reply with the answer text), and the
routes of the real gateways, Kannel, Viber and WhatsApp (`agi.text.gateway_routes`).

`Guard` stands in front of the framework: it refuses a request to /messages without the one
shared secret before its body is read (a gateway's route checks its gateway's own
credentials or signature), holds no body larger than the limit nor waits for one
longer than the body deadline, answers at most so many requests at once, and lets through
only a body that is one flat JSON object of plain values (no lone surrogates, NaN or
Infinity, nesting or repeated keys), so that nothing a client sends can make the
application fail. Bad requests get 4xx, and no answer repeats what was sent.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from agi.storage.database import StorageError
from agi.text.dialog import IncomingMessage, MessageIdReused, TextChannel, TextDialog
from agi.text.gateway import Refused, finite, no_constant
from agi.text.gateway_routes import GATEWAY_PATHS, Gateways, add_gateway_routes
from agi.text.replies import ReplySender
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
SINGLE_HEADERS = frozenset(
    {SECRET_HEADER.lower().encode(), b"content-length", b"content-type", b"transfer-encoding"}
)
"""Headers a request may carry once: with two, which one counts is anyone's guess."""

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


def create_app(
    dialog: TextDialog,
    *,
    secret: str | None,
    max_body_bytes: int = 32768,
    body_seconds: float = 10.0,
    max_requests: int = 64,
    gateways: Gateways | None = None,
    sender: ReplySender | None = None,
) -> ASGIApp:
    """The webhook's ASGI application, behind its `Guard`: POST /messages with `secret`
    (None: not served), and the routes of the configured `gateways`, whose replies to
    messengers `sender` sends."""
    api = FastAPI(
        title="Meter readings: text messages",
        version="1",
        summary="Readings sent by SMS, Viber or WhatsApp with the «ПС» command.",
        docs_url=None,
        redoc_url=None,
    )

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        """Which field is wrong and why, without repeating what was sent."""
        detail = [
            {"loc": [str(part) for part in problem["loc"]], "msg": str(problem["msg"])}
            for problem in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @api.post(
        "/messages",
        summary="Answer one incoming message",
        response_model=TextReply,
        responses={
            400: {"description": "The body is not UTF-8, or a header is repeated."},
            401: {"description": f"The {SECRET_HEADER} header is missing or wrong."},
            408: {"description": "The body took longer than the limit to arrive."},
            409: {"description": "The message id was used before by another message."},
            413: {"description": "The body is larger than the limit."},
            503: {
                "description": "The readings database is not available, or the webhook is "
                "answering as many requests as it may: deliver again."
            },
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
        metrics.count_answer(accepted=answer.accepted, duplicate=answer.duplicate)
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
    if sender is None:
        sender = ReplySender()
    if sender.outcome is None:
        sender.outcome = metrics.count_reply
    add_gateway_routes(
        api,
        dialog,
        gateways or Gateways(),
        sender,
        lambda answer: metrics.count_answer(accepted=answer.accepted, duplicate=answer.duplicate),
    )
    metrics.count_lockouts(lambda: dialog.readings.lockouts(dialog.readings.now()))

    @api.get("/metrics", include_in_schema=False)
    def metrics_page() -> Response:
        """The webhook's counters in Prometheus' text format (no secret, as /health)."""
        return Response(metrics.text(), media_type=CONTENT_TYPE)

    return metrics.counting(
        Guard(
            api,
            secret=secret,
            max_body_bytes=max_body_bytes,
            body_seconds=body_seconds,
            max_requests=max_requests,
        )
    )


class Guard:
    """What every request passes before the application sees it (the module says why)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str | None,
        max_body_bytes: int,
        body_seconds: float = 10.0,
        max_requests: int = 64,
    ) -> None:
        self.app = app
        self.secret = secret.encode() if secret else None
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds
        self.max_requests = max_requests
        self.answering = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.answering >= self.max_requests:
            await _refuse(send, 503, "the webhook is busy: deliver the message again")
            return
        self.answering += 1
        try:
            if scope["path"] in OPEN_PATHS:
                await self.app(scope, receive, send)
                return
            body = await self._body(scope, receive)
            await self.app(scope, _replay(body, receive), send)
        except Refused as refused:
            await _refuse(send, refused.status, refused.detail)
        except _Disconnected:
            return
        finally:
            self.answering -= 1

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The body of a request that carries the secret once, read within the limits, and
        one flat JSON object of plain values; Refused otherwise. A gateway's route checks
        its own authentication, and reads its own body format."""
        names = [name for name, _ in scope["headers"]]
        repeated = sorted({name.decode("latin-1") for name in names if names.count(name) > 1})
        repeated = [name for name in repeated if name.encode() in SINGLE_HEADERS]
        headers = dict(scope["headers"])
        if repeated:
            raise Refused(400, f"send the header {repeated[0]} once")
        gateway = scope["path"] in GATEWAY_PATHS
        if not gateway:
            if self.secret is None:
                raise Refused(404, "not found")
            given = headers.get(SECRET_HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self.secret):
                raise Refused(401, f"missing or wrong {SECRET_HEADER} header")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            raise Refused(413, f"the body is limited to {self.max_body_bytes} bytes")
        try:
            body = await asyncio.wait_for(self._read(receive), self.body_seconds)
        except TimeoutError:
            raise Refused(408, f"the body must arrive within {self.body_seconds:g} s") from None
        if scope["method"] == "POST" and not gateway:
            check_message_body(body)
        return body

    async def _read(self, receive: Receive) -> bytes:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                raise Refused(413, f"the body is limited to {self.max_body_bytes} bytes")
            if not message.get("more_body", False):
                return bytes(body)


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""


def check_message_body(body: bytes) -> None:
    """Refused (400, 422) unless `body` is UTF-8 JSON holding one object whose values are
    plain (strings, numbers, true, false, null), with no key twice, no NaN or Infinity and
    no lone surrogate: what the framework could not turn into a clean 422."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body must be UTF-8") from None
    try:
        data = json.loads(
            text,
            parse_constant=no_constant,
            parse_float=finite,
            object_pairs_hook=_no_repeated_keys,
        )
    except RecursionError:
        raise Refused(422, "the body is one JSON object of plain values") from None
    except ValueError as error:
        raise Refused(422, f"the body is not valid JSON: {_why(error)}") from None
    if not isinstance(data, dict):
        raise Refused(422, "the body is one JSON object")
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise Refused(422, "the body is one JSON object of plain values")
        if _has_surrogate(key) or (isinstance(value, str) and _has_surrogate(value)):
            raise Refused(422, "the body holds a lone surrogate (\\ud800-\\udfff)")


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key given twice")
    return dict(pairs)


def _why(error: ValueError) -> str:
    """What is wrong, never the text around it (a JSONDecodeError's message quotes none,
    and the other errors come from the checks above or from reading a number)."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos}"
    return str(error)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


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


def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    max_connections: int = 1000,
    header_seconds: float = 10.0,
) -> None:
    """Serve an ASGI application (the webhook, the staff console) until stopped (uvicorn),
    logging as verbosely as the `agi` loggers and through the same redacting handler
    (uvicorn installs none of its own)."""
    import uvicorn

    verbose = logging.getLogger("agi").isEnabledFor(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="info" if verbose else "warning",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=max_connections,
        http=header_deadline(header_seconds),
    )


def header_deadline(seconds: float) -> type:
    """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a request's
    headers within `seconds` of connecting or of its last response: connections that
    never finish their headers cannot hold the webhook's connections for long."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_headers()

        def _await_headers(self) -> None:
            waiting_after = self.cycle

            def too_slow() -> None:
                if self.cycle is waiting_after and not self.transport.is_closing():
                    self.transport.close()

            self.loop.call_later(seconds, too_slow)

    return HeaderDeadline
