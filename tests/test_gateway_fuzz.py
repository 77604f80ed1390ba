"""Fuzzing the gateways' routes with hypothesis: whatever body Kannel, Viber or WhatsApp (or
someone posing as one) posts, correctly signed or not, the answer is never a 5xx, and no
reading is stored that the customer was not told was accepted.

The routes run in-process (the ASGI application through httpx's ASGI transport, which
raises what the application would have answered 500 with), and the messengers' replies go
to an httpx mock transport that keeps them: a stored submission's message id must be one
whose reply was «Показания приняты. Спасибо.». Bounded by `IVR_FUZZ_EXAMPLES`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from agi.settings import Settings
from agi.storage.models import SubmissionRow
from agi.storage.repository import Repository
from agi.text.dialog import text_dialog_for
from agi.text.gateway import hmac_sha256
from agi.text.gateway_routes import Gateways
from agi.text.replies import ReplySender
from agi.text.viber import SIGNATURE_HEADER as VIBER_SIGNATURE
from agi.text.webhook import create_app
from agi.text.whatsapp import SIGNATURE_HEADER as WHATSAPP_SIGNATURE
from tests.conftest import BILLING_IMPORTED, IN_WINDOW, ROOT
from tests.support import demo_database
from tests.test_fuzz import EXAMPLES, FUZZ
from tests.test_text_dialog import ACCEPTED

KANNEL_SECRET = "kannel-fuzz-secret-0123456789"
VIBER_TOKEN = "viber-fuzz-token-0123456789abcdef"
APP_SECRET = "whatsapp-fuzz-secret-0123456789"
PHONE_NUMBER_ID = "106540352242922"

# --- what is posted ----------------------------------------------------------------------

CONTRACTS = st.sampled_from(["102057522", "123859", "176354", "999999"])
READINGS = st.integers(0, 10**7).map(str)
TEXTS = (
    st.sampled_from(
        [
            "ПС 102057522 11638",
            "ПС 102057522 11638",
            "ПС 102057522 11700",
            "ПС 123859 20",
            "ПС 176354 40",
            "ПС 176354 41",
        ]
    )
    | st.builds(
        lambda contract, values: " ".join(["ПС", contract, *values]),
        CONTRACTS,
        st.lists(READINGS, max_size=3),
    )
    | st.sampled_from(["да", "нет", "45055 23186", "11638,5", ""])
    | st.text(max_size=50)
)
IDS = st.from_regex(r"\A[A-Za-z0-9.=_-]{1,40}\Z") | st.text(max_size=10) | st.integers()
EVENTS = st.sampled_from(["message"] * 6 + ["conversation_started", "subscribed", "seen", "x"])
TOKENS = st.uuids().map(lambda u: u.int >> 65)
USERS = st.from_regex(r"\A[A-Za-z0-9+/]{10,22}=\Z")
WAMIDS = st.from_regex(r"\Awamid\.[A-Za-z0-9=]{8,40}\Z")
SENDERS = st.from_regex(r"\A\+?79[0-9]{9}\Z") | st.text(max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
SOMETHING = JSON | TEXTS | IDS


def rarely(data: st.DataObject, label: str) -> bool:
    """True one time in five: most examples stay close enough to a real one to be answered."""
    return data.draw(st.sampled_from([False] * 4 + [True]), label=label)


def viber_callback(data: st.DataObject) -> Any:
    """A Viber message callback with fields replaced by anything, or anything at all."""
    callback: dict[str, Any] = {
        "event": data.draw(
            st.sampled_from(["message", "message", "subscribed", "seen"]) | SOMETHING
        ),
        "timestamp": 1457764197627,
        "message_token": data.draw(IDS) if rarely(data, "odd token") else data.draw(TOKENS),
        "sender": {"id": data.draw(SENDERS) if rarely(data, "odd id") else data.draw(USERS)},
        "message": {
            "type": data.draw(st.sampled_from(["text", "picture"]) | SOMETHING),
            "text": data.draw(TEXTS),
        },
    }
    for key in data.draw(st.lists(st.sampled_from(list(callback)), max_size=2)):
        callback[key] = data.draw(SOMETHING)
    return data.draw(st.just(callback) | JSON)


def whatsapp_notification(data: st.DataObject) -> Any:
    message: dict[str, Any] = {
        "from": data.draw(st.from_regex(r"\A79[0-9]{9}\Z")),
        "id": data.draw(IDS) if rarely(data, "odd id") else data.draw(WAMIDS),
        "type": data.draw(SOMETHING) if rarely(data, "odd type") else "text",
        "text": {"body": data.draw(TEXTS)},
    }
    if rarely(data, "odd fields"):
        for key in data.draw(st.lists(st.sampled_from(list(message)), max_size=2)):
            message[key] = data.draw(SOMETHING)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": PHONE_NUMBER_ID},
        "messages": [data.draw(SOMETHING) if rarely(data, "odd message") else message],
    }
    if rarely(data, "odd metadata"):
        value["metadata"] = data.draw(SOMETHING)
    body = {
        "object": data.draw(SOMETHING)
        if rarely(data, "odd object")
        else "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return data.draw(JSON) if rarely(data, "any JSON") else body


def encoded(data: st.DataObject, value: Any) -> bytes:
    if rarely(data, "raw bytes instead"):
        return data.draw(st.binary(max_size=200))
    return json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode()


# --- the routes under test ---------------------------------------------------------------


class InProcess:
    """Requests to an ASGI application from 127.0.0.1, answered once its background tasks
    (the replies) are done."""

    def __init__(self, app: Any) -> None:
        self.transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

    def post(self, path: str, **request: Any) -> httpx.Response:
        async def post() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://ivr.test"
            ) as client:
                return await client.post(path, **request)

        return asyncio.run(post())


@dataclass
class Routes:
    client: InProcess
    repository: Repository
    confirmed: set[str] = field(default_factory=set)
    """The message ids whose customer was told the readings were accepted."""
    replies: list[dict[str, Any]] = field(default_factory=list)

    def check(self, response: httpx.Response) -> None:
        assert response.status_code < 500, response.text
        with Session(self.repository.engine) as session:
            sources = set(session.scalars(select(SubmissionRow.source_id)))
        assert sources <= self.confirmed, sources - self.confirmed


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Routes]:
    folder: Path = tmp_path_factory.mktemp("gateway-fuzz")
    url = f"sqlite:///{folder / 'ivr.db'}"
    repository = demo_database(url, at=BILLING_IMPORTED)
    settings_ = Settings(
        database_url=url,
        flow_path=ROOT / "ivr_flows.yaml",
        max_refused_readings_per_contract=10**6,
        max_unknown_contracts_per_caller=10**6,
        max_unknown_contracts_without_caller_id=10**6,
    )
    sent: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"status": 0, "status_message": "ok"})

    app = create_app(
        text_dialog_for(settings_, repository, now=lambda: IN_WINDOW),
        secret=None,
        gateways=Gateways(
            kannel_secret=KANNEL_SECRET,
            viber_token=VIBER_TOKEN,
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token="fuzz-verify-token",
            whatsapp_token="fuzz-access-token-0123456789",
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
        ),
        sender=ReplySender(transport=httpx.MockTransport(api), sleep=lambda _: None, workers=0),
    )
    yield Routes(InProcess(app), repository, replies=sent)
    repository.engine.dispose()


@FUZZ
@given(data=st.data())
def test_kannel_bodies(routes: Routes, data: st.DataObject) -> None:
    message_id = data.draw(IDS.map(str))
    text = data.draw(TEXTS)
    body = data.draw(st.just(text.encode()) | st.binary(max_size=100))
    response = routes.client.post(
        "/kannel",
        params={"id": message_id, "from": data.draw(SENDERS), "to": "5520"},
        content=body,
        headers={
            "content-type": data.draw(
                st.sampled_from(
                    [
                        "text/plain; charset=UTF-8",
                        "text/plain; charset=UTF-16BE",
                        "text/plain; charset=koi8-r",
                        "x/y",
                        "",
                    ]
                )
            )
        },
        auth=data.draw(st.sampled_from([("kannel", KANNEL_SECRET), ("kannel", "wrong"), None])),
    )
    if response.status_code == 200 and response.text == ACCEPTED:
        routes.confirmed.add(f"kannel-{message_id}")
    routes.check(response)


def post_signed(
    routes: Routes, data: st.DataObject, path: str, body: bytes, header: str, sign: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """Post `body` signed right (mostly), wrong or not at all; the answer and the replies
    sent for it."""
    signed = data.draw(st.sampled_from(["right", "right", "right", "wrong", "none"]))
    headers = {"content-type": "application/json"}
    if signed != "none":
        headers[header] = sign(body, right=signed == "right")
    before = len(routes.replies)
    response = routes.client.post(path, content=body, headers=headers)
    return response, routes.replies[before:]


@FUZZ
@given(data=st.data())
def test_viber_bodies(routes: Routes, data: st.DataObject) -> None:
    body = encoded(data, viber_callback(data))
    response, replies = post_signed(
        routes,
        data,
        "/viber",
        body,
        VIBER_SIGNATURE,
        lambda body, right: hmac_sha256(VIBER_TOKEN if right else "x", body),
    )
    if response.status_code == 200 and any(r.get("text") == ACCEPTED for r in replies):
        routes.confirmed.add(f"viber-{json.loads(body)['message_token']}")
    routes.check(response)


@FUZZ
@given(data=st.data())
def test_whatsapp_bodies(routes: Routes, data: st.DataObject) -> None:
    body = encoded(data, whatsapp_notification(data))
    response, replies = post_signed(
        routes,
        data,
        "/whatsapp",
        body,
        WHATSAPP_SIGNATURE,
        lambda body, right: "sha256=" + hmac_sha256(APP_SECRET if right else "x", body),
    )
    if response.status_code == 200 and ACCEPTED in [
        r.get("text", {}).get("body") for r in replies
    ]:  # one message per notification: its reply
        (message,) = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"]
        routes.confirmed.add(str(message["id"]))
    routes.check(response)


def test_the_fuzzing_stored_readings(routes: Routes) -> None:
    """Run after the others: the invariant held while readings were being stored."""
    if EXAMPLES >= 30:
        assert len(routes.confirmed) > 0
