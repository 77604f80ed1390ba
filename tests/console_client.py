"""An HTTP client of a running console (not a browser), and what the console's tests read
off its answers: the session cookie, the forms' token, the line of a flow text.

The tests' accounts are `EDITOR` and `SUPERVISOR`, both with `PASSWORD`
(`tests.console_browser.console_application` makes them).
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import httpx

from agi.console.sessions import COOKIE

if TYPE_CHECKING:
    from tests.console_browser import RunningConsole

PASSWORD = "correct horse battery"
EDITOR = "anna"
SUPERVISOR = "boris"


class Visitor:
    """Requests to the console with the session cookie it last set, Secure or not (httpx,
    as a cookie jar should, sends a Secure cookie over https only). `options` go to
    `httpx.Client` (a transport bound to another loopback address, say)."""

    def __init__(self, url: str, **options: Any) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=60, **options)
        self.cookie: str | None = None

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if self.cookie is not None:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        response = self.http.request(method, path, headers=headers, **options)
        for line in response.headers.get_list("set-cookie"):
            jar = SimpleCookie()
            jar.load(line)
            if COOKIE in jar:
                self.cookie = jar[COOKIE].value
        return response


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match[1]


def signed_in_client(
    console: RunningConsole, name: str = EDITOR, password: str = PASSWORD
) -> Visitor:
    """A client signed in through the sign-in form."""
    client = console.client()
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text), "next": "/menu"},
    )
    assert answer.status_code == 303, answer.text
    return client


def line_of(text: str, part: str) -> int:
    """The number of the first line of `text` holding `part`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if part in line)
