"""Viber, through the Viber REST bot API: the callbacks of the API's documentation, signed
as Viber signs them, posted over real HTTP to `ivr web`; the replies are sent to a
messenger API on loopback, which checks the method, path, headers and JSON of
`send_message`. A wrong signature is refused before the body is read as JSON.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from agi.cli import main
from agi.settings import Settings
from agi.storage.repository import Repository
from agi.text.gateway import ONLY_TEXT, hmac_sha256
from agi.text.gateway_routes import Gateways
from agi.text.replies import ReplySender
from agi.text.viber import SIGNATURE_HEADER, TOKEN_HEADER
from agi.text.webhook import create_app
from tests.conftest import IN_WINDOW
from tests.messenger_api import MessengerApi, messenger_api
from tests.test_text_dialog import ACCEPTED, ASK_DAY_NIGHT, DAY_NIGHT_ROWS, HELP, SEED_ROW, stored
from tests.test_text_webhook import serving

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
"""The token of the documentation's examples."""
USER = "01234567890A="
SENDER_NAME = "Показания"
SENT = {"status": 0, "status_message": "ok", "message_token": 5098034272017990000}

# The callbacks as the Viber REST API documentation shows them.
WEBHOOK = {
    "event": "webhook",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "message_token": 241256543215,
}
SUBSCRIBED = {
    "event": "subscribed",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "user": {
        "id": USER,
        "name": "John McClane",
        "avatar": "http://avatar.example.com",
        "country": "UK",
        "language": "en",
        "api_version": 1,
    },
    "message_token": 4912661846655238145,
}
CONVERSATION_STARTED = {
    "event": "conversation_started",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "message_token": 4912661846655238145,
    "type": "open",
    "context": "context information",
    "user": SUBSCRIBED["user"],
    "subscribed": False,
}
MESSAGE = {
    "event": "message",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "message_token": 4912661846655238145,
    "sender": SUBSCRIBED["user"],
    "message": {
        "type": "text",
        "text": "a message to the service",
        "tracking_data": "tracking data",
    },
}
UNSUBSCRIBED = {
    "event": "unsubscribed",
    "timestamp": 1457764196627,
    "chat_hostname": "SN-376_",
    "user_id": USER,
    "message_token": 4912661846655238145,
}
DELIVERED = {
    "event": "delivered",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "message_token": 4912661846655238145,
    "user_id": USER,
}
PICTURE = {
    **MESSAGE,
    "message": {"type": "picture", "text": "", "media": "http://www.images.com/img.jpg"},
}


def text_message(text: str, token: int, user: str = USER) -> dict[str, Any]:
    message = copy.deepcopy(MESSAGE)
    message["message_token"] = token
    message["message"]["text"] = text
    message["sender"]["id"] = user
    return message


@dataclass
class Bot:
    client: httpx.Client
    api: MessengerApi
    repository: Repository
    pauses: list[float]

    def post(
        self, callback: dict[str, Any] | bytes, *, signature: str | None = None
    ) -> httpx.Response:
        body = callback if isinstance(callback, bytes) else json.dumps(callback).encode()
        headers = {"content-type": "application/json"}
        given = hmac_sha256(TOKEN, body) if signature is None else signature
        if given:
            headers[SIGNATURE_HEADER] = given
        return self.client.post("/viber", content=body, headers=headers)

    def send(self, text: str, token: int, user: str = USER) -> str:
        """A text message from `user`; the text of the reply the bot sent back."""
        before = len(self.api.received)
        response = self.post(text_message(text, token, user))
        assert response.status_code == 200, response.text
        return self.api.wait_for(before + 1)[before].json["text"]

    def send_and_wait(self, text: str, token: int, *, requests: int) -> list[str]:
        """A text message; the texts of the `requests` attempts to send its reply, once the
        sender has given its last word (sent or failed) and no more came."""
        before = len(self.api.received)
        assert self.post(text_message(text, token)).status_code == 200
        self.api.wait_for(before + requests)
        deadline = time.monotonic() + 10
        while not re.search(
            r'ivr_replies_total\{channel="viber",outcome="(sent|failed)"\} [1-9]',
            self.client.get("/metrics").text,
        ):
            assert time.monotonic() < deadline, "the reply was neither sent nor given up"
            time.sleep(0.01)
        assert len(self.api.received) == before + requests
        return [request.json["text"] for request in self.api.received[before:]]


@pytest.fixture
def bot(settings: Settings, demo_repository: Repository) -> Iterator[Bot]:
    pauses: list[float] = []
    with messenger_api(SENT) as api:
        gateways = Gateways(viber_token=TOKEN, viber_api_url=f"{api.url}/pa")
        app = create_app(
            _dialog(settings, demo_repository),
            secret=None,
            gateways=gateways,
            sender=ReplySender(sleep=pauses.append),
        )
        with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield Bot(client, api, demo_repository, pauses)


def _dialog(settings: Settings, repository: Repository) -> Any:
    from agi.text.dialog import text_dialog_for

    return text_dialog_for(settings, repository, now=lambda: IN_WINDOW)


# --- the documentation's callbacks ---------------------------------------------------------


@pytest.mark.parametrize("callback", [WEBHOOK, SUBSCRIBED, UNSUBSCRIBED, DELIVERED])
def test_events_without_a_message_are_acknowledged(bot: Bot, callback: dict[str, Any]) -> None:
    response = bot.post(callback)
    assert (response.status_code, response.json()) == (200, {"status": 0, "status_message": "ok"})
    assert bot.api.received == []
    assert stored(bot.repository) == []


def test_a_conversation_started_gets_the_help_as_its_welcome_message(bot: Bot) -> None:
    response = bot.post(CONVERSATION_STARTED)
    assert response.status_code == 200
    assert response.json() == {"sender": {"name": SENDER_NAME}, "type": "text", "text": HELP}
    assert bot.api.received == []


def test_the_documentation_message_gets_the_help_through_send_message(bot: Bot) -> None:
    assert bot.post(MESSAGE).status_code == 200
    (request,) = bot.api.wait_for(1)
    assert (request.method, request.path) == ("POST", "/pa/send_message")
    assert request.headers[TOKEN_HEADER.lower()] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "receiver": USER,
        "min_api_version": 1,
        "sender": {"name": SENDER_NAME},
        "type": "text",
        "text": HELP,
    }


def test_a_picture_gets_told_only_text_is_understood(bot: Bot) -> None:
    assert bot.post(PICTURE).status_code == 200
    assert bot.api.wait_for(1)[0].json["text"] == ONLY_TEXT
    assert stored(bot.repository) == []


# --- the seed's messages -----------------------------------------------------------------


def test_the_seed_messages_by_viber(bot: Bot) -> None:
    assert bot.send("ПС 102057522 11638", 1001) == ACCEPTED
    assert bot.send("ПС 123859", 1002, user="5678901234B=") == ASK_DAY_NIGHT
    assert bot.send("45055 23186", 1003, user="5678901234B=") == ACCEPTED
    assert stored(bot.repository) == [SEED_ROW, *DAY_NIGHT_ROWS]
    assert {row.channel for row in bot.repository.export("2026-11")} == {"viber"}
    metrics = bot.client.get("/metrics").text
    assert 'ivr_messages_total{outcome="accepted"} 2.0' in metrics
    assert 'ivr_messages_total{outcome="answered"} 1.0' in metrics
    assert 'ivr_webhook_responses_total{path="/viber",status="200"} 3.0' in metrics


def test_a_redelivered_callback_is_answered_again_and_stored_once(bot: Bot) -> None:
    assert bot.send("ПС 102057522 11638", 2001) == ACCEPTED
    assert bot.send("ПС 102057522 11638", 2001) == ACCEPTED
    assert stored(bot.repository) == [SEED_ROW]


# --- the signature -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "body", "signature", "status"),
    [
        ("no signature", json.dumps(MESSAGE).encode(), "", 401),
        (
            "signed with another token",
            json.dumps(MESSAGE).encode(),
            hmac_sha256("x" * 40, b"{}"),
            403,
        ),
        (
            "another body's signature",
            json.dumps(text_message("ПС 102057522 11638", 7)).encode(),
            hmac_sha256(TOKEN, json.dumps(MESSAGE).encode()),
            403,
        ),
        ("not hex", json.dumps(MESSAGE).encode(), "zz" * 32, 403),
        ("not JSON, signed", b"\xff\xfe not json", None, 400),
    ],
)
def test_the_signature_is_checked_before_the_body(
    bot: Bot, why: str, body: bytes, signature: str | None, status: int
) -> None:
    response = bot.post(body, signature=signature)
    assert response.status_code == status, (why, response.text)
    assert "ПС" not in response.text and "McClane" not in response.text
    assert stored(bot.repository) == []


def test_a_tampered_body_is_refused(bot: Bot) -> None:
    body = json.dumps(text_message("ПС 102057522 11638", 3001)).encode()
    signature = hmac_sha256(TOKEN, body)
    tampered = body.replace(b"11638", b"99999")
    assert bot.post(tampered, signature=signature).status_code == 403
    assert stored(bot.repository) == []
    assert bot.api.received == []


# --- the replies -------------------------------------------------------------------------


def test_a_failed_reply_is_sent_again_after_a_pause_and_stored_once(bot: Bot) -> None:
    bot.api.failures = [503, 500]
    assert bot.send_and_wait("ПС 102057522 11638", 4001, requests=3) == [ACCEPTED] * 3
    assert bot.pauses == [0.5, 1.0]
    assert stored(bot.repository) == [SEED_ROW]


def test_a_reply_that_keeps_failing_is_given_up_and_recorded(bot: Bot) -> None:
    bot.api.failures = [503] * 10
    assert bot.send_and_wait("ПС 102057522 11638", 5001, requests=4) == [ACCEPTED] * 4
    assert bot.pauses == [0.5, 1.0, 2.0]
    assert stored(bot.repository) == [SEED_ROW]
    metrics = bot.client.get("/metrics").text
    assert 'ivr_replies_total{channel="viber",outcome="failed"} 1.0' in metrics
    assert 'ivr_replies_total{channel="viber",outcome="retried"} 3.0' in metrics


def test_an_api_that_hangs_does_not_hold_the_answers(bot: Bot) -> None:
    """While Viber's API hangs, more messages than the web server has threads are still
    answered: the replies wait for the sender's own few threads, and go out once the API
    answers again."""
    released = threading.Event()
    bot.api.held = released
    try:
        for token in range(7001, 7046):
            response = bot.post(text_message("ПС 102057522 11638", token))
            assert response.status_code == 200, token
    finally:
        released.set()
    replies = bot.api.wait_for(45, seconds=60)
    assert {r.json["receiver"] for r in replies} == {USER}
    assert {r.json["text"] for r in replies} == {ACCEPTED}


def test_a_refused_reply_is_not_sent_again(bot: Bot) -> None:
    """Viber answers 200 with a status of its own: 6, the receiver is not subscribed."""
    bot.api.answer = {"status": 6, "status_message": "notSubscribed"}
    assert bot.send_and_wait("ПС 102057522 11638", 6001, requests=1) == [ACCEPTED]
    assert bot.pauses == []
    metrics = bot.client.get("/metrics").text
    assert 'ivr_replies_total{channel="viber",outcome="failed"} 1.0' in metrics


# --- registering the webhook -------------------------------------------------------------


def test_ivr_viber_set_webhook_calls_set_webhook(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"status": 0, "status_message": "ok", "event_types": ["subscribed", "delivered"]}
    with messenger_api(answer) as api:
        monkeypatch.setenv("IVR_VIBER_TOKEN", TOKEN)
        monkeypatch.setenv("IVR_VIBER_API_URL", f"{api.url}/pa")
        result = cli("viber", "set-webhook", "https://ivr.example.ru/viber")
        assert result.exit_code == 0, result.output
        assert (
            result.output == "Viber posts to https://ivr.example.ru/viber: subscribed, delivered\n"
        )
        (request,) = api.received
    assert (request.method, request.path) == ("POST", "/pa/set_webhook")
    assert request.headers[TOKEN_HEADER.lower()] == TOKEN
    assert request.json == {
        "url": "https://ivr.example.ru/viber",
        "event_types": [
            "subscribed",
            "unsubscribed",
            "conversation_started",
            "delivered",
            "failed",
        ],
        "send_name": True,
        "send_photo": False,
    }


def test_ivr_viber_set_webhook_says_what_viber_refused(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with messenger_api({"status": 1, "status_message": "invalidUrl"}) as api:
        monkeypatch.setenv("IVR_VIBER_TOKEN", TOKEN)
        monkeypatch.setenv("IVR_VIBER_API_URL", f"{api.url}/pa")
        result = CliRunner().invoke(main, ["viber", "set-webhook", "http://x"])
    assert result.exit_code == 1
    assert "Viber did not take the webhook: 1 invalidUrl" in result.output


def test_ivr_viber_set_webhook_needs_the_token(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR_VIBER_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["viber", "set-webhook", "https://ivr.example.ru/viber"])
    assert result.exit_code == 1
    assert "IVR_VIBER_TOKEN" in result.output
