"""`ivr web` tells on itself too: /health and /metrics without the secret, on loopback, and
counters of the messages it answered. A real `ivr web` process over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import checkout_environment, demo_database, free_port

SECRET = "test-only-secret-0123456789"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    port = free_port()
    env = {**checkout_environment(tmp_path, url), "IVR_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "agi", "web", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "ivr web died"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def samples(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"{base}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def send(base: str, message_id: str, text: str, secret: str = SECRET) -> httpx.Response:
    return httpx.post(
        f"{base}/messages",
        headers={"X-IVR-Secret": secret},
        json={"channel": "sms", "sender": "+79120000000", "message_id": message_id, "text": text},
    )


def test_metrics_count_the_messages_and_the_responses(web):
    assert httpx.get(f"{web}/health").json() == {"status": "ok"}
    assert send(web, "m-1", "ПС 102057522 11638").json()["accepted"] is True
    send(web, "m-1", "ПС 102057522 11638")  # delivered again
    send(web, "m-2", "Привет")
    assert send(web, "m-3", "ПС 1", secret="wrong-secret-0123456789").status_code == 401
    shown = samples(web)
    messages = {
        outcome: shown[("ivr_messages_total", (("outcome", outcome),))]
        for outcome in ("accepted", "answered", "duplicate")
    }
    assert messages == {"accepted": 1, "answered": 1, "duplicate": 1}
    responses = ("ivr_webhook_responses_total", (("path", "/messages"), ("status", "200")))
    assert shown[responses] == 3
    refused = ("ivr_webhook_responses_total", (("path", "/messages"), ("status", "401")))
    assert shown[refused] == 1


def test_metrics_need_no_secret_and_the_rest_still_does(web):
    assert httpx.get(f"{web}/metrics").status_code == 200
    assert httpx.get(f"{web}/messages").status_code == 401


def test_metrics_show_a_sender_locked_out_for_guessing(web):
    """The webhook's window is the real day: the demo line takes readings on any day."""
    for number in range(5):
        assert send(web, f"guess-{number}", f"ПС 99999{number} 100").status_code == 200
    shown = samples(web)
    assert shown[("ivr_lockouts", (("limit", "caller"),))] == 1
    assert shown[("ivr_lockouts", (("limit", "contract"),))] == 0
