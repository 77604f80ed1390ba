"""The console's ASGI application: every page behind the session middleware, the pages of
`PAGES`, the shipped static files, and the error pages.

A module adds its pages by appending a `Page` to `PAGES` (its routes, and its place in the
navigation bar); its routes declare `Login`, `Editor` and `Form` (`agi.console.access`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from agi.console import editing_page, keypad_page, login, menu, reports
from agi.console.access import LoginNeeded, Refused, Staff
from agi.console.sessions import COOKIE, SessionSigner, anonymous
from agi.console.site import Console, Page
from agi.console.throttle import Limits, LoginThrottle
from agi.storage.database import StorageError

if TYPE_CHECKING:
    from agi.application import Application

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/static/"
"""Where the shipped CSS and JavaScript are served, to anyone: nothing there is secret, and
no account is looked up for them."""
PAGES: list[Page] = [
    login.PAGE,
    menu.PAGE,
    keypad_page.PAGE,
    editing_page.PAGE,
    reports.PAGE,
]
"""Every part of the console, in the order of the navigation bar."""

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; media-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    app: Application,
    *,
    secret: str,
    secure_cookies: bool = True,
    limits: Limits | None = None,
    pages: list[Page] | None = None,
) -> FastAPI:
    """The console of `app`, its sessions signed with `secret`; `secure_cookies` False only
    to serve plain http on loopback; `pages` instead of `PAGES` (a test's own)."""
    console = Console(
        app=app,
        signer=SessionSigner(secret, max_age_seconds=app.settings.console_session_hours * 3600),
        throttle=LoginThrottle(limits or Limits()),
        secure_cookies=secure_cookies,
    )
    api = FastAPI(
        title="Meter readings: staff console", docs_url=None, redoc_url=None, openapi_url=None
    )
    api.state.console = console
    chosen = PAGES if pages is None else pages
    console.navigation = [(page.path, page.label) for page in chosen if page.path and page.label]
    for page in chosen:
        api.include_router(page.routes(console))
    api.mount(STATIC_PATH.rstrip("/"), StaticFiles(directory=STATIC), name="static")

    @api.middleware("http")
    async def sessions(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        session = console.signer.load(request.cookies.get(COOKIE))
        request.state.session = session or anonymous()
        request.state.staff = None
        static = request.url.path.startswith(STATIC_PATH)
        refusal = None
        if not static and session is not None and session.name is not None:
            try:
                account = await run_in_threadpool(console.accounts.find, session.name)
            except StorageError:
                log.exception("the console could not read its accounts")
                refusal = _error(
                    console,
                    request,
                    Refused(
                        503,
                        "The database does not answer",
                        "The console cannot check who you are now. Try again in a minute.",
                    ),
                )
            else:
                if account is not None and account.admits(session.issued):
                    request.state.staff = Staff(account.name, account.role)
                else:
                    request.state.session = anonymous()
        response = refusal if refusal is not None else await call_next(request)
        if not static and request.state.session is not session:
            response.set_cookie(
                COOKIE,
                console.signer.dump(request.state.session),
                httponly=True,
                secure=console.secure_cookies,
                samesite="strict",
                path="/",
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not static:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @api.exception_handler(LoginNeeded)
    async def login_needed(request: Request, _raised: LoginNeeded) -> Response:
        if request.method == "GET":
            return RedirectResponse(login.login_url(request), status_code=303)
        return _error(
            console,
            request,
            Refused(401, "Sign in first", "This needs a signed-in member of staff."),
        )

    @api.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        return _error(console, request, error)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, _raised: RequestValidationError) -> Response:
        return _error(
            console,
            request,
            Refused(400, "The request is not complete", "Open the page again and use its form."),
        )

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        title = "Not found" if error.status_code == 404 else "Not allowed"
        return _error(console, request, Refused(error.status_code, title, str(error.detail)))

    @api.exception_handler(StorageError)
    async def storage(request: Request, failure: StorageError) -> Response:
        log.error("the readings database failed", exc_info=failure)
        return _error(
            console, request, Refused(503, "The database does not answer", "Try again in a minute.")
        )

    return api


def _error(console: Console, request: Request, error: Refused) -> HTMLResponse:
    response = console.page(
        request, "error.html", status_code=error.status, title=error.title, detail=error.detail
    )
    response.headers.update(error.headers)
    return response
