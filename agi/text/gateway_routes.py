"""The gateways' routes of `ivr web`: `POST /kannel`, `POST /viber`, `GET|POST /whatsapp`.

Each turns its gateway's request into `IncomingMessage`s (`agi.text.kannel`, `viber`,
`whatsapp`), has the one text dialog answer them, and sends the reply the gateway's way:
Kannel in the response, the messengers through their API once the response is sent (with
`agi.text.replies`: a failed reply is sent again, the message is never answered again). A
gateway that is not configured answers 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fastapi import BackgroundTasks, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from agi.settings import Settings
from agi.storage.database import StorageError
from agi.text import kannel, viber, whatsapp
from agi.text.dialog import Answer, IncomingMessage, MessageIdReused, TextDialog
from agi.text.gateway import Refused, within
from agi.text.replies import OutgoingRequest, ReplySender

log = logging.getLogger(__name__)

GATEWAY_PATHS = frozenset({"/kannel", "/viber", "/whatsapp"})
"""Paths that authenticate by their gateway's own means, not the X-IVR-Secret header."""


@dataclass(frozen=True)
class Gateways:
    """The gateways an installation has: each is served when its secrets are set."""

    region: str = "RU"
    kannel_secret: str | None = None
    kannel_addresses: Sequence[str] = ("127.0.0.1/32", "::1/128")
    viber_token: str | None = None
    viber_api_url: str = viber.API_URL
    viber_sender_name: str = "Показания"
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_url: str = whatsapp.API_URL
    trusted_proxies: Sequence[str] = field(default=("127.0.0.1/32", "::1/128"))
    """Whose X-Forwarded-For names the client (nginx in front of `ivr web`)."""

    @classmethod
    def configured(cls, settings: Settings) -> Gateways:
        def secret(name: str) -> str | None:
            value = getattr(settings, name)
            return None if value is None else value.get_secret_value()

        return cls(
            region=settings.caller_region,
            kannel_secret=secret("kannel_secret"),
            kannel_addresses=tuple(settings.kannel_addresses),
            viber_token=secret("viber_token"),
            viber_api_url=settings.viber_api_url,
            viber_sender_name=settings.viber_sender_name,
            whatsapp_app_secret=secret("whatsapp_app_secret"),
            whatsapp_verify_token=secret("whatsapp_verify_token"),
            whatsapp_token=secret("whatsapp_token"),
            whatsapp_phone_number_id=settings.whatsapp_phone_number_id,
            whatsapp_api_url=settings.whatsapp_api_url,
        )

    @property
    def whatsapp_ready(self) -> bool:
        return None not in (
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
            self.whatsapp_token,
            self.whatsapp_phone_number_id,
        )

    @property
    def any(self) -> bool:
        return bool(self.kannel_secret or self.viber_token or self.whatsapp_ready)


def add_gateway_routes(
    api: FastAPI,
    dialog: TextDialog,
    gateways: Gateways,
    sender: ReplySender,
    counted: Callable[[Answer], None],
) -> None:
    """The three routes, on `api`."""

    async def answer(message: IncomingMessage) -> Answer:
        try:
            result = await run_in_threadpool(dialog.answer, message)
        except MessageIdReused as error:
            raise Refused(409, str(error)) from None
        except StorageError:
            log.exception("the readings database failed")
            raise Refused(503, "the readings database is not available") from None
        counted(result)
        return result

    def refusal(refused: Refused) -> JSONResponse:
        return JSONResponse({"detail": refused.detail}, status_code=refused.status)

    def not_configured() -> JSONResponse:
        return JSONResponse({"detail": "this gateway is not configured"}, status_code=404)

    @api.post("/kannel", summary="An SMS from Kannel's sms-service", include_in_schema=True)
    async def from_kannel(request: Request) -> Response:
        """The text of one SMS, posted by Kannel (`post-url`); the reply SMS is the answer."""
        if not gateways.kannel_secret:
            return not_configured()
        try:
            kannel.check_caller(
                request.headers.get("authorization"),
                _client(request, gateways.trusted_proxies),
                secret=gateways.kannel_secret,
                addresses=gateways.kannel_addresses,
            )
            message = kannel.incoming(
                request.query_params,
                await request.body(),
                request.headers.get("content-type"),
                region=gateways.region,
            )
            result = await answer(message)
        except Refused as refused:
            return refusal(refused)
        body, headers = kannel.reply(result.reply)
        return Response(body, headers=headers)

    @api.post("/viber", summary="A Viber bot callback")
    async def from_viber(request: Request, background: BackgroundTasks) -> Response:
        """One callback of the Viber REST bot API, signed with the bot's token."""
        if not gateways.viber_token:
            return not_configured()
        token = gateways.viber_token
        try:
            event = viber.event(
                await request.body(),
                request.headers.get(viber.SIGNATURE_HEADER),
                auth_token=token,
            )
            reply = event.reply
            if event.message is not None:
                reply = (await answer(event.message)).reply
        except Refused as refused:
            return refusal(refused)
        if event.welcome:
            return JSONResponse(
                viber.welcome(event.welcome, sender_name=gateways.viber_sender_name)
            )
        if event.reply_to and reply:
            outgoing = viber.send_message(
                event.reply_to,
                reply,
                auth_token=token,
                sender_name=gateways.viber_sender_name,
                api_url=gateways.viber_api_url,
            )
            background.add_task(sender.submit, outgoing, channel="viber")
        return JSONResponse({"status": 0, "status_message": "ok"})

    @api.get("/whatsapp", summary="WhatsApp's webhook verification")
    def whatsapp_handshake(request: Request) -> Response:
        """Meta's verification request: the challenge, when the verify token is ours."""
        if not gateways.whatsapp_ready:
            return not_configured()
        assert gateways.whatsapp_verify_token
        try:
            answer_text = whatsapp.challenge(
                request.query_params, verify_token=gateways.whatsapp_verify_token
            )
        except Refused as refused:
            return refusal(refused)
        return PlainTextResponse(answer_text)

    @api.post("/whatsapp", summary="A WhatsApp Cloud API notification")
    async def from_whatsapp(request: Request, background: BackgroundTasks) -> Response:
        """One notification of the WhatsApp Business Cloud API, signed with the app secret."""
        if not gateways.whatsapp_ready:
            return not_configured()
        assert gateways.whatsapp_app_secret and gateways.whatsapp_phone_number_id
        try:
            found = whatsapp.received(
                await request.body(),
                request.headers.get(whatsapp.SIGNATURE_HEADER),
                app_secret=gateways.whatsapp_app_secret,
                phone_number_id=gateways.whatsapp_phone_number_id,
                region=gateways.region,
            )
            replies: list[OutgoingRequest] = []
            for one in found:
                text = one.reply
                if one.message is not None:
                    text = (await answer(one.message)).reply
                assert text is not None
                replies.append(_whatsapp_reply(gateways, one.wa_id, text))
        except Refused as refused:
            return refusal(refused)
        for outgoing in replies:
            background.add_task(sender.submit, outgoing, channel="whatsapp")
        return Response(status_code=200)


def _whatsapp_reply(gateways: Gateways, to: str, text: str) -> OutgoingRequest:
    assert gateways.whatsapp_token and gateways.whatsapp_phone_number_id
    return whatsapp.send_text(
        to,
        text,
        access_token=gateways.whatsapp_token,
        phone_number_id=gateways.whatsapp_phone_number_id,
        api_url=gateways.whatsapp_api_url,
    )


def _client(request: Request, trusted: Sequence[str]) -> str | None:
    """The client's address: the peer, or the X-Forwarded-For nginx sets when the peer is a
    trusted proxy."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if peer and forwarded and within(peer, trusted):
        return forwarded.split(",")[-1].strip()
    return peer
