"""The webhook against what a stranger may send: bad bodies and headers get 4xx and store
nothing, no answer or log line repeats what was sent, and connections that never finish
their headers or bodies do not stop real requests. Over real HTTP: uvicorn in this process,
and `ivr web` as a process of its own for what its logs show and how it bounds connections.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from agi.storage.repository import Repository
from agi.text.webhook import SECRET_HEADER, Guard
from tests.test_text_dialog import ACCEPTED, stored
from tests.test_text_webhook import (  # noqa: F401 - fixtures
    SECRET,
    environment,
    ivr_web,
    message,
    serving,
    webhook,
)

SEED = {"channel": "sms", "sender": "+79120000000", "message_id": "gw-1"}
SEED_TEXT = "ПС 102057522 11638"


def body(text: str = '"ПС 102057522 11638"', extra: str = "") -> bytes:
    """A message body with `text` as the raw JSON of its text field."""
    fields = ", ".join(f'"{k}": "{v}"' for k, v in SEED.items())
    return f'{{{fields}, "text": {text}{extra}}}'.encode()


BAD_BODIES = {
    "a lone surrogate in the text": (body(r'"\ud800 ПС 102057522 11638"'), 422),
    "a lone low surrogate": (body(r'"ПС 102057522 11638 \udfff"'), 422),
    "a lone surrogate in a key": (body(extra=r', "\ud800": 1'), 422),
    "a lone surrogate in the sender": (body().replace(b"+7912", rb"\ud83d+7912"), 422),
    "NaN for the text": (body("NaN"), 422),
    "Infinity for the text": (body("Infinity"), 422),
    "-Infinity for the text": (body("-Infinity"), 422),
    "a number too large for a float": (body("1e999"), 422),
    "an integer of 5000 digits": (body("1" * 5000), 422),
    "deeply nested arrays": (b"[" * 4000 + b"]" * 4000, 422),
    "deeply nested objects": (b'{"a":' * 1300 + b"1" + b"}" * 1300, 422),
    "a nested value": (body('{"a": ["ПС 102057522 11638"]}'), 422),
    "a key given twice": (body(extra=', "text": "ПС 102057522 99999"'), 422),
    "invalid UTF-8": (body().replace("ПС".encode(), b"\xff\xfe"), 400),
    "a truncated body": (body()[:-5], 422),
    "an empty body": (b"", 422),
    "a string, not an object": ('"ПС 102057522 11638"'.encode(), 422),
    "a pair of surrogates is a proper character": (body(r'"\ud83d\ude00 ПС 102057522 11638"'), 200),
}


@pytest.mark.parametrize(("content", "status"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_body_gets_4xx_stores_nothing_and_is_not_repeated(
    content: bytes,
    status: int,
    webhook: httpx.Client,  # noqa: F811
    demo_repository: Repository,
) -> None:
    response = webhook.post(
        "/messages", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    if status != 200:
        assert "detail" in response.json()
        assert "102057522" not in response.text and "79120000000" not in response.text
        assert stored(demo_repository) == []


FIELDS = {
    "text": 11638,
    "channel": "telegram",
    "sender": "+7912\nforged",
    "message_id": "",
}


@pytest.mark.parametrize(("field", "value"), FIELDS.items())
def test_a_wrong_field_is_named_without_repeating_it(
    field: str,
    value: object,
    webhook: httpx.Client,  # noqa: F811
) -> None:
    sent = {**message(SEED_TEXT, "gw-1"), field: value}

    response = webhook.post("/messages", json=sent)

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", field]
    assert set(problem) == {"loc", "msg"}
    assert "79120000000" not in response.text and "11638" not in response.text


HEADERS = {
    "two secrets, the wrong one first": [(SECRET_HEADER, "x" * 20), (SECRET_HEADER, SECRET)],
    "two secrets, the right one first": [(SECRET_HEADER, SECRET), (SECRET_HEADER, "x" * 20)],
    "the right secret twice": [(SECRET_HEADER, SECRET), (SECRET_HEADER, SECRET)],
    "two content types": [
        (SECRET_HEADER, SECRET),
        ("content-type", "application/json"),
        ("content-type", "text/plain"),
    ],
}


@pytest.mark.parametrize("headers", HEADERS.values(), ids=HEADERS.keys())
def test_a_header_that_must_come_once_is_refused_when_repeated(
    headers: list[tuple[str, str]],
    webhook: httpx.Client,  # noqa: F811
    demo_repository: Repository,
) -> None:
    with httpx.Client(base_url=webhook.base_url, timeout=10) as bare:
        response = bare.post("/messages", content=body(), headers=headers)

    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("send the header ")
    assert stored(demo_repository) == []


# --- `ivr web`: its logs, its connections ----------------------------------------------------


def test_what_made_the_webhook_fail_is_in_no_log_line(
    environment: dict[str, str],  # noqa: F811
) -> None:
    """The requests that used to make it answer 500 and log the whole request."""
    with ivr_web(environment, "-v") as web, httpx.Client(base_url=web.url) as client:
        for name in (
            "a lone surrogate in the text",
            "a lone surrogate in a key",
            "NaN for the text",
        ):
            content, status = BAD_BODIES[name]
            response = client.post("/messages", content=content, headers={SECRET_HEADER: SECRET})
            assert response.status_code == status, name
        answered = client.post(
            "/messages", json=message(SEED_TEXT, "gw-2"), headers={SECRET_HEADER: SECRET}
        )
        assert answered.json()["reply"] == ACCEPTED
    log = web.log()
    assert "message=gw-2 channel=sms sender=**********00 outcome=accepted" in log
    for leaked in ("102057522", "79120000000", "11638", "ПС", "Traceback"):
        assert leaked not in log


def slow_connections(port: int, count: int) -> list[socket.socket]:
    """Connections that start a request and never finish its headers."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /messages HTTP/1.1\r\nHost: ivr\r\nX-IVR-Secret: ")
        sockets.append(sock)
    return sockets


def closed_by_the_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_that_never_finish_their_headers_do_not_stop_requests(
    environment: dict[str, str],  # noqa: F811
) -> None:
    with ivr_web(environment, web_header_seconds="3") as web:
        hanging = slow_connections(web.port, 210)
        try:
            started = time.monotonic()
            health = httpx.get(f"{web.url}/health", timeout=5)
            answered = httpx.post(
                f"{web.url}/messages",
                json=message(SEED_TEXT, "gw-1"),
                headers={SECRET_HEADER: SECRET},
                timeout=5,
            )
            took = time.monotonic() - started
            assert (health.status_code, answered.status_code) == (200, 200)
            assert took < 2
            assert all(closed_by_the_server(sock, within=6) for sock in hanging)
        finally:
            for sock in hanging:
                sock.close()


def test_a_body_that_does_not_arrive_in_time_is_refused(
    environment: dict[str, str],  # noqa: F811
) -> None:
    with ivr_web(environment, web_body_seconds="1") as web:
        sock = socket.create_connection(("127.0.0.1", web.port), timeout=5)
        head = (
            f"POST /messages HTTP/1.1\r\nHost: ivr\r\n{SECRET_HEADER}: {SECRET}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.sendall(head.encode())
        started = time.monotonic()
        answer = sock.recv(1024)
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < time.monotonic() - started < 3


@pytest.fixture
def slow_guard() -> Iterator[tuple[str, threading.Event]]:
    """A guard that answers two requests at once, in front of an application that holds
    every request until `release` is set."""
    release = threading.Event()

    async def held(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while not release.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = Guard(held, secret=SECRET, max_body_bytes=1024, max_requests=2)
    with serving(guard) as url:
        yield url, release
        release.set()


def test_requests_beyond_the_limit_are_refused_at_once(slow_guard) -> None:
    url, release = slow_guard
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(httpx.get, f"{url}/health", timeout=10) for _ in range(2)]
        time.sleep(0.5)
        refused = httpx.get(f"{url}/health", timeout=10)
        release.set()
        assert [future.result().status_code for future in held] == [200, 200]
    assert refused.status_code == 503
    assert "busy" in json.loads(refused.text)["detail"]
