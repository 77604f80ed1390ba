"""The webhook that SMS and messenger gateways call, exercised over real HTTP: uvicorn serves
the application on a free port of 127.0.0.1 and httpx posts to it, as a gateway would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from agi.settings import Settings
from agi.storage.repository import Repository
from agi.text.dialog import text_dialog_for
from agi.text.webhook import SECRET_HEADER, create_app
from tests.conftest import IN_WINDOW, ROOT
from tests.support import free_port
from tests.test_text_dialog import (
    ACCEPTED,
    ASK_DAY_NIGHT,
    DAY_NIGHT_ROWS,
    HELP,
    SEED_ROW,
    failing_store,
    stored,
)

SECRET = "test-only-secret-0123456789"
MAX_BODY = 8192
SENDER = "+79120000000"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI application with uvicorn on a free port of 127.0.0.1, in a thread.

    The socket says IPPROTO_TCP so that asyncio sets TCP_NODELAY on its connections, as it
    does when uvicorn binds the port itself (`ivr web`); without it each response waits
    for a delayed ACK, about 40 ms.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture
def webhook(settings: Settings, demo_repository: Repository) -> Iterator[httpx.Client]:
    """A client of the webhook, sending the shared secret; the day is within the window."""
    dialog = text_dialog_for(settings, demo_repository, now=lambda: IN_WINDOW)
    app = create_app(dialog, secret=SECRET, max_body_bytes=MAX_BODY)
    with (
        serving(app) as url,
        httpx.Client(base_url=url, headers={SECRET_HEADER: SECRET}, timeout=10) as client,
    ):
        yield client


def message(text: str, message_id: str, channel: str = "sms", sender: str = SENDER) -> dict:
    return {"channel": channel, "sender": sender, "message_id": message_id, "text": text}


def post(client: httpx.Client, text: str, message_id: str, **fields: str) -> dict:
    response = client.post("/messages", json=message(text, message_id, **fields))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


# --- what a gateway gets ---------------------------------------------------------------------


def test_the_seed_examples_over_http(webhook: httpx.Client, demo_repository: Repository) -> None:
    assert post(webhook, "ПС 102057522 11638", "m1") == {
        "message_id": "m1",
        "reply": ACCEPTED,
        "accepted": True,
        "duplicate": False,
    }
    assert post(webhook, "ПС 123859", "m2")["reply"] == ASK_DAY_NIGHT
    assert post(webhook, "45055 23186", "m3")["reply"] == ACCEPTED
    assert post(webhook, "ПС 123859 гв 20", "m4", sender="+79120000001")["reply"] == ACCEPTED
    assert post(webhook, "ПС 176354 40", "m5", channel="whatsapp")["reply"] == ACCEPTED

    assert [
        (r.resource, r.contract, r.zone, r.value, r.channel)
        for r in demo_repository.export("2026-11")
    ] == [
        ("cold_water", "176354", "single", 40, "whatsapp"),
        ("electricity", "102057522", "single", 11638, "sms"),
        ("electricity", "123859", "day", 45055, "sms"),
        ("electricity", "123859", "night", 23186, "sms"),
        ("hot_water", "123859", "single", 20, "sms"),
    ]


def test_a_message_that_is_not_a_command_gets_the_help_text(webhook: httpx.Client) -> None:
    answer = post(webhook, "Добрый день! " * 200, "m1")
    assert (answer["reply"], answer["accepted"]) == (HELP, False)


def test_a_redelivery_is_answered_the_same_and_stored_once(
    webhook: httpx.Client, demo_repository: Repository
) -> None:
    first = post(webhook, "ПС 102057522 11638", "gw-42")
    again = post(webhook, "ПС 102057522 11638", "gw-42")

    assert first == {**again, "duplicate": False}
    assert again["duplicate"] is True
    assert len(demo_repository.history(_meter_id(demo_repository), "2026-11")) == 1


def test_concurrent_redeliveries_store_once(
    webhook: httpx.Client, demo_repository: Repository
) -> None:
    copies = 6
    body = message("ПС 102057522 11638", "gw-1")
    with ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(lambda _: webhook.post("/messages", json=body), range(copies)))

    assert {a.status_code for a in answers} == {200}
    assert {a.json()["reply"] for a in answers} == {ACCEPTED}
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    assert stored(demo_repository) == [SEED_ROW]


def test_a_message_id_reused_by_another_message_is_a_conflict(
    webhook: httpx.Client, demo_repository: Repository
) -> None:
    post(webhook, "ПС 102057522 11638", "gw-1")

    response = webhook.post("/messages", json=message("ПС 102057522 11700", "gw-1"))

    assert response.status_code == 409
    assert "already used" in response.json()["detail"]
    assert stored(demo_repository) == [SEED_ROW]


def test_a_database_failure_is_503_and_the_redelivery_is_answered(
    webhook: httpx.Client, demo_repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as broken:
        broken.setattr("agi.storage.conversations.store", failing_store)
        failed = webhook.post("/messages", json=message("ПС 102057522 11638", "gw-1"))

    assert (failed.status_code, failed.json()) == (
        503,
        {"detail": "the readings database is not available"},
    )
    assert post(webhook, "ПС 102057522 11638", "gw-1")["reply"] == ACCEPTED


def test_the_conversation_goes_on_across_requests(
    webhook: httpx.Client, demo_repository: Repository
) -> None:
    assert post(webhook, "PS 123859", "a")["reply"] == ASK_DAY_NIGHT
    assert post(webhook, "45055, 23186.", "b")["reply"] == ACCEPTED
    assert stored(demo_repository) == DAY_NIGHT_ROWS


# --- malformed requests ----------------------------------------------------------------------

VALID = json.dumps(message("ПС 102057522 11638", "gw-1"), ensure_ascii=False).encode()
JSON = {"content-type": "application/json"}
MALFORMED = {
    "no secret": ({SECRET_HEADER: ""}, VALID, 401),
    "a wrong secret": ({SECRET_HEADER: "x" * len(SECRET)}, VALID, 401),
    "a wrong secret of another length": ({SECRET_HEADER: SECRET + "x"}, VALID, 401),
    "no secret and a huge body: refused before the body is read": (
        {SECRET_HEADER: ""},
        b"x" * (10 * MAX_BODY),
        401,
    ),
    "not JSON": (JSON, b"{channel: sms", 422),
    "JSON, but not an object": (JSON, b"[]", 422),
    "not UTF-8": (JSON, "ПС".encode("cp1251"), 400),
    "no text": (JSON, json.dumps({k: v for k, v in message("", "1").items() if k != "text"}), 422),
    "text that is not a string": (JSON, json.dumps({**message("", "1"), "text": 11638}), 422),
    "an unknown channel": (JSON, json.dumps(message("ПС 102057522 11638", "1", "telegram")), 422),
    "a sender with a line break": (
        JSON,
        json.dumps(message("ПС 102057522 11638", "1", sender="+7912\nforged")),
        422,
    ),
    "an empty message id": (JSON, json.dumps(message("ПС 102057522 11638", "")), 422),
    "a message id longer than 128": (JSON, json.dumps(message("ПС 1 2", "x" * 129)), 422),
    "a text longer than any messenger sends": (JSON, json.dumps(message("1" * 4097, "1")), 422),
    "a body over the limit": (JSON, json.dumps(message(" " * MAX_BODY, "1")), 413),
}


@pytest.mark.parametrize(("headers", "body", "status"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_refused_and_stores_nothing(
    headers: dict[str, str],
    body: bytes | str,
    status: int,
    webhook: httpx.Client,
    demo_repository: Repository,
) -> None:
    response = webhook.post("/messages", content=body, headers=headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()
    assert stored(demo_repository) == []


def test_a_body_over_the_limit_without_a_length_is_refused_as_it_arrives(
    webhook: httpx.Client, demo_repository: Repository
) -> None:
    chunks = (b" " * 1024 for _ in range(4 * MAX_BODY // 1024))

    response = webhook.post("/messages", content=chunks, headers=JSON)

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert stored(demo_repository) == []


def test_only_post_is_served(webhook: httpx.Client) -> None:
    assert webhook.get("/messages").status_code == 405


# --- the description and the health check ----------------------------------------------------


def test_the_openapi_description_names_the_message_the_reply_and_the_secret(
    webhook: httpx.Client,
) -> None:
    response = httpx.get(webhook.base_url.join("/openapi.json"))

    assert response.status_code == 200
    spec = response.json()
    operation = spec["paths"]["/messages"]["post"]
    schemas = spec["components"]["schemas"]
    assert set(schemas["IncomingText"]["required"]) == {"channel", "sender", "message_id", "text"}
    assert set(schemas["TextReply"]["properties"]) == {
        "message_id",
        "reply",
        "accepted",
        "duplicate",
    }
    assert {"401", "409", "413", "422", "503"} <= set(operation["responses"])
    (scheme,) = spec["components"]["securitySchemes"].values()
    assert scheme == {"type": "apiKey", "in": "header", "name": SECRET_HEADER}


def test_the_health_check_needs_no_secret(webhook: httpx.Client) -> None:
    response = httpx.get(webhook.base_url.join("/health"))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def _meter_id(repository: Repository) -> int:
    return repository.find_contracts("102057522", "2026-11")[0].meters[0].id


# --- `ivr web` -------------------------------------------------------------------------------


def _ivr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IVR_")},
        "IVR_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        "IVR_ACCEPT_DAYS": "1-31",
    }
    for args in (["db", "upgrade"], ["db", "seed"]):
        assert _ivr(env, *args).returncode == 0
    return env


@dataclass
class WebProcess:
    url: str
    port: int
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")


@contextmanager
def ivr_web(environment: dict[str, str], *options: str, **settings: str) -> Iterator[WebProcess]:
    """`ivr [OPTIONS] web` on a free port of 127.0.0.1, with these settings (`IVR_*`), until
    the block ends; what it writes to stderr is `log()`."""
    port = free_port()
    env = {
        **environment,
        "IVR_WEBHOOK_SECRET": SECRET,
        "IVR_WEB_PORT": str(port),
        **{f"IVR_{name.upper()}": value for name, value in settings.items()},
    }
    log_file = Path(environment["IVR_DATABASE_URL"].removeprefix("sqlite:///")).with_name(
        f"web-{port}.log"
    )
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "agi", *options, "web"], cwd=ROOT, env=env, stderr=log
        )
    process = WebProcess(f"http://127.0.0.1:{port}", port, log_file)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, process.log()
            try:
                if httpx.get(f"{process.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ivr web did not answer in 30 s"
            time.sleep(0.1)
        yield process
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ivr_web_serves_the_webhook_on_loopback(environment: dict[str, str]) -> None:
    with ivr_web(environment) as web:
        response = httpx.post(
            f"{web.url}/messages",
            json=message("ПС 102057522 11638", "gw-1"),
            headers={SECRET_HEADER: SECRET},
        )
        assert (response.status_code, response.json()["reply"]) == (200, ACCEPTED)
    errors = web.log()
    assert f"webhook on http://127.0.0.1:{web.port}/messages" in errors
    assert SECRET not in errors
    assert "102057522" not in errors
    period = datetime.now(ZoneInfo("Europe/Moscow")).strftime("%Y-%m")
    exported = _ivr(environment, "db", "export", "--period", period)
    assert ",102057522,E-0001,single,11638,sms," in exported.stdout


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "IVR_WEBHOOK_SECRET"),
        ("short", "the webhook secret needs at least 16 characters"),
    ],
)
def test_ivr_web_will_not_start_without_a_proper_secret(
    secret: str | None, says: str, environment: dict[str, str]
) -> None:
    env = {**environment, **({"IVR_WEBHOOK_SECRET": secret} if secret else {})}
    done = _ivr(env, "web", "--port", str(free_port()))
    assert done.returncode == 1
    assert says in done.stderr
