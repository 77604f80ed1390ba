"""Signing in and out, and the console's front page."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from agi.console.access import Form, Login, Refused
from agi.console.passwords import hash_password, needs_new_hash, password_matches, waste_time
from agi.console.site import Console, Page
from agi.storage.database import StorageError

HOME = "/menu"
log = logging.getLogger(__name__)


def login_url(request: Request) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if wanted in ("/", "/login") else f"/login?next={quote(wanted, safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this console only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target


def client_address(request: Request) -> str:
    """The client's address; behind the local nginx, the one nginx says (X-Real-IP)."""
    peer = request.client.host if request.client else "-"
    forwarded = request.headers.get("x-real-ip", "").strip()
    try:
        if forwarded and ipaddress.ip_address(peer).is_loopback:
            return str(ipaddress.ip_address(forwarded))
    except ValueError:
        pass
    return peer


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/")
    def front(staff: Login) -> Response:
        return RedirectResponse(HOME, status_code=303)

    @router.get("/login")
    def login_form(request: Request, next: str | None = None) -> Response:
        if request.state.staff is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return console.page(request, "login.html", next=safe_next(next), name="", problem=None)

    @router.post("/login")
    def sign_in(request: Request, form: Form) -> Response:
        name = form.get("name", "").strip()
        password = form.get("password", "")
        target = safe_next(form.get("next"))
        address = client_address(request)
        refusal = console.throttle.refusal(name, address)
        if refusal is not None:
            minutes = (refusal.retry_after + 59) // 60
            whose = "this account" if refusal.who == "account" else "this computer"
            raise Refused(
                429,
                "Too many failed sign-ins",
                f"There were too many wrong passwords for {whose}. Wait {minutes} "
                f"minute{'s' if minutes != 1 else ''} and try again, or ask an "
                "administrator to set a new password.",
                headers={"Retry-After": str(refusal.retry_after)},
            )
        account = console.accounts.find(name) if name else None
        if account is None:
            waste_time(password)
        if account is None or not password_matches(account.password_hash, password):
            console.throttle.failed(name, address)
            return console.page(
                request,
                "login.html",
                status_code=401,
                next=target,
                name=name,
                problem="The name or the password is wrong.",
            )
        console.throttle.succeeded(name)
        if needs_new_hash(account.password_hash):
            console.accounts.change_hash(account.name, hash_password(password))
        request.state.session = request.state.session.signed_in(account.name)
        return RedirectResponse(target, status_code=303)

    @router.post("/logout")
    def sign_out(request: Request, form: Form) -> Response:
        """Every session of the account ends, in every browser (a copied cookie too); this
        browser's ends even when the database does not answer."""
        staff = request.state.staff
        request.state.session = request.state.session.signed_out()
        request.state.staff = None
        if staff is not None:
            try:
                console.accounts.sign_out(staff.name)
            except StorageError:
                log.exception("the console could not end the sessions of an account")
                raise Refused(
                    503,
                    "Your other sessions were not ended",
                    "You are signed out in this browser, but the database does not answer, "
                    "so the account is still signed in in other browsers. Sign in and out "
                    "again in a minute.",
                ) from None
        return RedirectResponse("/login", status_code=303)

    return router


PAGE = Page(routes)
