"""WhatsApp, through the WhatsApp Business Cloud API: the verification handshake, and the
notifications of Meta's documentation signed with the app secret as Meta signs them, posted
over real HTTP to `ivr web`; the replies go to a Graph API on loopback, which checks the
method, path, headers and JSON of `/{phone-number-id}/messages`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agi.settings import Settings
from agi.storage.repository import Repository
from agi.text.dialog import text_dialog_for
from agi.text.gateway import ONLY_TEXT, hmac_sha256
from agi.text.gateway_routes import Gateways
from agi.text.replies import ReplySender
from agi.text.webhook import create_app
from agi.text.whatsapp import SIGNATURE_HEADER
from tests.conftest import IN_WINDOW
from tests.messenger_api import MessengerApi, messenger_api
from tests.test_text_dialog import ACCEPTED, ASK_DAY_NIGHT, DAY_NIGHT_ROWS, HELP, SEED_ROW, stored
from tests.test_text_webhook import serving

TEXT_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
APP_SECRET = "whatsapp-app-secret-0123456789"
VERIFY_TOKEN = "meatyhamhock-verify-token"
ACCESS_TOKEN = "EAAJB-whatsapp-access-token-0123456789"
PHONE_NUMBER_ID = "106540352242922"
KANNEL_SECRET = "kannel-test-secret-0123456789"
SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
    "messages": [{"id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}],
}


def envelope(phone_number_id: str = PHONE_NUMBER_ID, **value: Any) -> dict[str, Any]:
    """A notification of the messages webhook, as Meta's reference shows them, around
    `value`'s messages, contacts or statuses."""
    metadata = {"display_phone_number": "15550783881", "phone_number_id": phone_number_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                        "field": "messages",
                    }
                ],
            }
        ],
    }


# The text message of Meta's messages webhook reference, an image, and a delivery status.
TEXT = envelope(
    contacts=[{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
    messages=[
        {
            "from": "16505551234",
            "id": TEXT_ID,
            "timestamp": "1749416383",
            "type": "text",
            "text": {"body": "Does it come in another color?"},
        }
    ],
)
IMAGE = {
    "from": "16505551234",
    "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFFODc0NjlCRTI0NDhDQjk2MAA=",
    "timestamp": "1750090702",
    "type": "image",
    "image": {
        "caption": "Black jacket",
        "mime_type": "image/jpeg",
        "sha256": "1H0kFoEUUR8DJ1ndP4cXnKHovC1qnR2kj5g3rnAbvzA=",
        "id": "1003383421387256",
    },
}
STATUS = envelope(
    statuses=[
        {
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
            "status": "delivered",
            "timestamp": "1750263773",
            "recipient_id": "16505551234",
        }
    ]
)


def notification(*messages: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID) -> dict:
    return envelope(phone_number_id, messages=list(messages))


def text(body: str, message_id: str, wa_id: str = "79120000000") -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": message_id,
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": body},
    }


@dataclass
class Business:
    client: httpx.Client
    api: MessengerApi
    repository: Repository
    pauses: list[float]

    def post(self, body: dict[str, Any] | bytes, *, signature: str | None = None) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        given = "sha256=" + hmac_sha256(APP_SECRET, raw) if signature is None else signature
        if given:
            headers[SIGNATURE_HEADER] = given
        return self.client.post("/whatsapp", content=raw, headers=headers)

    def replies(self, body: dict[str, Any], count: int = 1) -> list[str]:
        """Post a notification; the texts of the `count` replies sent for it."""
        before = len(self.api.received)
        response = self.post(body)
        assert response.status_code == 200, response.text
        return [r.json["text"]["body"] for r in self.api.wait_for(before + count)[before:]]

    def send(self, body: str, message_id: str, wa_id: str = "79120000000") -> str:
        (reply,) = self.replies(notification(text(body, message_id, wa_id)))
        return reply

    def settle(self, outcome: str, count: int) -> None:
        deadline = time.monotonic() + 10
        pattern = rf'ivr_replies_total\{{channel="whatsapp",outcome="{outcome}"\}} {count}\.0'
        while not re.search(pattern, self.client.get("/metrics").text):
            assert time.monotonic() < deadline, self.client.get("/metrics").text
            time.sleep(0.01)


@pytest.fixture
def business(settings: Settings, demo_repository: Repository) -> Iterator[Business]:
    pauses: list[float] = []
    with messenger_api(SENT) as api:
        gateways = Gateways(
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token=VERIFY_TOKEN,
            whatsapp_token=ACCESS_TOKEN,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_api_url=f"{api.url}/v21.0",
            kannel_secret=KANNEL_SECRET,
        )
        app = create_app(
            text_dialog_for(settings, demo_repository, now=lambda: IN_WINDOW),
            secret=None,
            gateways=gateways,
            sender=ReplySender(sleep=pauses.append),
        )
        with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield Business(client, api, demo_repository, pauses)


# --- the verification request ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "answer"),
    [
        (
            {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            },
            200,
            "1158201444",
        ),
        (
            {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1158201444"},
            403,
            None,
        ),
        (
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            403,
            None,
        ),
        ({"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}, 403, None),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}, 400, None),
        (
            {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "<script>",
            },
            400,
            None,
        ),
    ],
)
def test_the_verification_request_gets_its_challenge(
    business: Business, query: dict[str, str], status: int, answer: str | None
) -> None:
    response = business.client.get("/whatsapp", params=query)
    assert response.status_code == status, response.text
    if answer is not None:
        assert response.text == answer
        assert response.headers["content-type"].startswith("text/plain")
    assert "script" not in response.text


# --- the documentation's notifications ---------------------------------------------------


def test_the_documentation_text_gets_the_help_through_the_messages_endpoint(
    business: Business,
) -> None:
    assert business.replies(TEXT) == [HELP]
    (request,) = business.api.received
    assert (request.method, request.path) == ("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": HELP},
    }


def test_an_image_gets_told_only_text_is_understood(business: Business) -> None:
    assert business.replies(notification(IMAGE)) == [ONLY_TEXT]
    assert stored(business.repository) == []


def test_a_status_notification_is_acknowledged_without_a_reply(business: Business) -> None:
    assert business.post(STATUS).status_code == 200
    assert (
        business.post(
            notification(text("ПС 102057522 11638", "other"), phone_number_id="1")
        ).status_code
        == 200
    )
    time.sleep(0.2)
    assert business.api.received == []
    assert stored(business.repository) == []


# --- the seed's messages -----------------------------------------------------------------


def test_the_seed_messages_by_whatsapp(business: Business) -> None:
    assert business.send("ПС 102057522 11638", "wamid.1") == ACCEPTED
    assert business.send("ПС 123859", "wamid.2", wa_id="79120000001") == ASK_DAY_NIGHT
    assert business.send("45055 23186", "wamid.3", wa_id="79120000001") == ACCEPTED
    assert stored(business.repository) == [SEED_ROW, *DAY_NIGHT_ROWS]
    assert {row.channel for row in business.repository.export("2026-11")} == {"whatsapp"}


def test_two_messages_in_one_notification_are_answered_in_order(business: Business) -> None:
    both = notification(text("ПС 123859", "wamid.4"), text("45055 23186", "wamid.5"))
    assert business.replies(both, count=2) == [ASK_DAY_NIGHT, ACCEPTED]
    assert stored(business.repository) == DAY_NIGHT_ROWS


def test_a_redelivered_notification_is_answered_again_and_stored_once(business: Business) -> None:
    assert business.send("ПС 102057522 11638", "wamid.6") == ACCEPTED
    assert business.send("ПС 102057522 11638", "wamid.6") == ACCEPTED
    assert stored(business.repository) == [SEED_ROW]


def test_the_same_number_by_sms_is_another_conversation(business: Business) -> None:
    """+79120000000 asks for the zones on WhatsApp; its SMS with the zones is not the
    answer to that, the WhatsApp message is."""
    assert business.send("ПС 123859", "wamid.7") == ASK_DAY_NIGHT
    sms = business.client.post(
        "/kannel",
        params={"id": "sms-1", "from": "+79120000000", "to": "5520"},
        content=b"45055 23186",
        headers={"content-type": "text/plain; charset=utf-8"},
        auth=("kannel", KANNEL_SECRET),
    )
    assert (sms.status_code, sms.text) == (200, HELP)
    assert stored(business.repository) == []
    assert business.send("45055 23186", "wamid.8") == ACCEPTED
    assert stored(business.repository) == DAY_NIGHT_ROWS


# --- the signature -----------------------------------------------------------------------

SEED_BODY = json.dumps(notification(text("ПС 102057522 11638", "wamid.9"))).encode()


@pytest.mark.parametrize(
    ("why", "body", "signature", "status"),
    [
        ("no signature", SEED_BODY, "", 401),
        ("without sha256=", SEED_BODY, hmac_sha256(APP_SECRET, SEED_BODY), 403),
        (
            "signed with another secret",
            SEED_BODY,
            "sha256=" + hmac_sha256("x" * 30, SEED_BODY),
            403,
        ),
        ("another body's signature", SEED_BODY, "sha256=" + hmac_sha256(APP_SECRET, b"{}"), 403),
        (
            "tampered body",
            SEED_BODY.replace(b"11638", b"99999"),
            "sha256=" + hmac_sha256(APP_SECRET, SEED_BODY),
            403,
        ),
        ("signed, not a notification", b'{"object": "page"}', None, 422),
        ("signed, not JSON", b"\xff not json", None, 400),
    ],
)
def test_the_signature_is_checked_before_the_body(
    business: Business, why: str, body: bytes, signature: str | None, status: int
) -> None:
    response = business.post(body, signature=signature)
    assert response.status_code == status, (why, response.text)
    assert "ПС" not in response.text and "11638" not in response.text
    assert stored(business.repository) == []
    assert business.api.received == []


# --- the replies -------------------------------------------------------------------------


def test_a_failed_reply_is_sent_again_and_the_reading_stored_once(business: Business) -> None:
    business.api.failures = [500, 429]
    assert (
        business.replies(notification(text("ПС 102057522 11638", "wamid.10")), count=3)
        == [ACCEPTED] * 3
    )
    business.settle("sent", 1)
    assert business.pauses == [0.5, 1.0]
    assert stored(business.repository) == [SEED_ROW]


def test_a_reply_the_api_refuses_is_not_sent_again(business: Business) -> None:
    business.api.failures = [400]
    assert business.replies(notification(text("ПС 102057522 11638", "wamid.11"))) == [ACCEPTED]
    business.settle("failed", 1)
    assert len(business.api.received) == 1 and business.pauses == []
    assert stored(business.repository) == [SEED_ROW]
