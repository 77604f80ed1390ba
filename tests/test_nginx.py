"""The webhook's nginx site (`config/nginx/ivr-webhook.conf`): filled in safely, and in a
real nginx (Debian's package, in a private prefix on free ports) in front of a real
`ivr web`, it passes only what the webhook serves, and 300 connections that never finish
their headers or bodies do not stop real requests.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agi import installation
from agi.text.nginx_site import SITE_TEMPLATE, render_site
from agi.text.webhook import SECRET_HEADER
from tests.real_line import NGINX, private_nginx
from tests.support import ROOT, free_port, percentile
from tests.test_text_dialog import ACCEPTED
from tests.test_text_webhook import SECRET, environment, ivr_web, message  # noqa: F401

TEMPLATE = (ROOT / SITE_TEMPLATE).read_text(encoding="utf-8")
REQUIRED = os.environ.get("IVR_REQUIRE_NGINX", "") not in ("", "0")
SLOW = 300


def site(**values: str) -> str:
    given = {"server_name": "ivr.example", "listen": "127.0.0.1:8443", "webhook": "127.0.0.1:8080"}
    return render_site(TEMPLATE, **(given | values))


def test_the_site_is_filled_in() -> None:
    text = site(access_log="off")
    assert "server 127.0.0.1:8080;" in text
    assert "listen 127.0.0.1:8443;" in text
    assert "server_name ivr.example;" in text
    assert "access_log off;" in text
    assert "@@" not in text


@pytest.mark.parametrize(
    "values",
    [
        {"server_name": "ivr.example; include /etc/passwd"},
        {"server_name": "ivr.example\n}"},
        {"listen": "8443; location / {"},
        {"webhook": "127.0.0.1"},
        {"webhook": "127.0.0.1:8080; server evil:80"},
        {"access_log": "/var/log/x.log syslog:server=evil"},
    ],
)
def test_a_value_nginx_would_read_as_more_is_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="cannot go into the nginx site"):
        site(**values)


def test_a_placeholder_nothing_fills_in_is_refused() -> None:
    with pytest.raises(ValueError, match="@@TLS_CERTIFICATE@@"):
        render_site(
            TEMPLATE + "ssl_certificate @@TLS_CERTIFICATE@@;",
            server_name="ivr",
            listen="127.0.0.1:1",
            webhook="127.0.0.1:2",
        )


@pytest.mark.parametrize(
    ("site", "lines"),
    [
        (
            "ivr-webhook",
            [
                "server 127.0.0.1:8181;",
                "listen 443 ssl;",
                "access_log {root}/var/log/nginx/ivr-webhook.access.log ivr_webhook;",
            ],
        ),
        (
            "ivr-console",
            [
                "server 127.0.0.1:9000;",
                "listen 10.0.0.1:8443;",
                "access_log {root}/var/log/nginx/ivr-console.access.log ivr_webhook;",
            ],
        ),
    ],
)
def test_each_installed_site_stands_in_front_of_its_own_server(
    tmp_path: Path, site: str, lines: list[str]
) -> None:
    options = installation.Options(
        root=tmp_path,
        server_name="ivr.example",
        web_listen="443 ssl",
        web_port=8181,
        console_listen="10.0.0.1:8443",
        console_port=9000,
    )
    (entry,) = [
        entry
        for entry in installation.plan(options)
        if entry.path == installation.Layout(tmp_path).nginx / "sites-available" / site
    ]
    text = entry.content.decode()
    found = [line.strip() for line in text.splitlines()]
    for line in [*lines, "server_name ivr.example;"]:
        assert line.format(root=tmp_path) in found
    assert "@@" not in text


# --- a real nginx ----------------------------------------------------------------------------

needs_nginx = pytest.mark.skipif(
    NGINX is None and not REQUIRED, reason="needs nginx (apt-get install nginx)"
)


@pytest.fixture
def nginx(environment: dict[str, str], tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """nginx with the rendered site on a free port, in front of `ivr web`; its URL."""
    if NGINX is None:
        pytest.fail("IVR_REQUIRE_NGINX is set but nginx is not installed")
    port = free_port()
    with ivr_web(environment, **GATEWAYS) as web:
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        (prefix / "ivr-webhook.conf").write_text(
            render_site(
                TEMPLATE,
                server_name="localhost",
                listen=f"127.0.0.1:{port}",
                webhook=f"127.0.0.1:{web.port}",
                access_log=str(prefix / "access.log"),
            )
        )
        with private_nginx(prefix / "ivr-webhook.conf", prefix, port):
            yield f"http://127.0.0.1:{port}"


GATEWAYS = {
    "kannel_secret": "kannel-nginx-secret-0123456789",
    "viber_token": "viber-nginx-token-0123456789",
    "whatsapp_app_secret": "whatsapp-nginx-secret-0123456789",
    "whatsapp_verify_token": "verify-nginx",
    "whatsapp_token": "whatsapp-nginx-access-token",
    "whatsapp_phone_number_id": "106540352242922",
}
HANDSHAKE = "?hub.mode=subscribe&hub.verify_token=verify-nginx&hub.challenge=1158201444"

ROUTES = {
    "a message": ("POST", "/messages", 200),
    "an SMS without Kannel's credentials": ("POST", "/kannel", 401),
    "a Viber callback without its signature": ("POST", "/viber", 401),
    "a WhatsApp notification without its signature": ("POST", "/whatsapp", 401),
    "WhatsApp's verification": ("GET", "/whatsapp" + HANDSHAKE, 200),
    "an SMS by GET": ("GET", "/kannel", 403),
    "a Viber callback by GET": ("GET", "/viber", 403),
    "a WhatsApp notification by PUT": ("PUT", "/whatsapp", 403),
    "the health check": ("GET", "/health", 200),
    "the metrics": ("GET", "/metrics", 404),
    "the OpenAPI description": ("GET", "/openapi.json", 404),
    "another path": ("GET", "/admin", 404),
    "a message by GET": ("GET", "/messages", 403),
    "the health check by POST": ("POST", "/health", 403),
}


def logged_once(log: Path, line: str, seconds: float = 5) -> str:
    """The access log once it holds `line`: nginx writes a request's line after its response."""
    deadline = time.monotonic() + seconds
    while line not in (text := log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line in text
    return text


@needs_nginx
def test_only_the_webhook_is_passed_through(nginx: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=nginx, headers={SECRET_HEADER: SECRET}, timeout=10) as client:
        for n, (name, (method, path, status)) in enumerate(ROUTES.items()):
            body = message("ПС 102057522 11638", f"gw-{n}") if method == "POST" else None
            response = client.request(method, path, json=body)
            assert response.status_code == status, name
        huge = client.post("/messages", json=message(" " * 40_000, "gw-huge"))
        assert huge.status_code == 413
        sms = client.post(
            "/kannel",
            params={"id": "nginx-1", "from": "+79120000000", "to": "5520"},
            content="ПС 102057522 11638".encode(),
            auth=("kannel", GATEWAYS["kannel_secret"]),
        )
        assert (sms.status_code, sms.text) == (200, ACCEPTED)
    logged = logged_once(tmp_path / "nginx" / "access.log", '"POST /kannel" 200')
    assert '"GET /whatsapp" 200' in logged
    for secret in ("79120000000", "verify-nginx", "hub.challenge", SECRET):
        assert secret not in logged


@needs_nginx
def test_slow_connections_do_not_stop_real_requests(nginx: str) -> None:
    port = int(nginx.rsplit(":", 1)[1])
    slow = []
    try:
        for n in range(SLOW):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 2:
                sock.sendall(b"POST /messages HTTP/1.1\r\nHost: localhost\r\nX-IVR-Sec")
            else:
                sock.sendall(
                    f"POST /messages HTTP/1.1\r\nHost: localhost\r\n{SECRET_HEADER}: {SECRET}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{".encode()
                )
            slow.append(sock)
        times = []
        with httpx.Client(base_url=nginx, headers={SECRET_HEADER: SECRET}, timeout=5) as client:
            for n in range(20):
                started = time.perf_counter()
                health = client.get("/health")
                answer = client.post("/messages", json=message("ПС 102057522 11638", f"m-{n}"))
                times.append(time.perf_counter() - started)
                assert health.status_code == 200
                assert (answer.status_code, answer.json()["reply"]) == (200, ACCEPTED)
        print(
            f"\n{SLOW} slow connections held by nginx: health + message p50 "
            f"{percentile(times, 0.5) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
        )
        assert max(times) < 2
    finally:
        for sock in slow:
            sock.close()
