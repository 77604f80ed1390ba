"""What every page of the console shares: the settings and stores, the session signer,
the sign-in throttle and the templates (`Console`), and how a module adds its pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agi.console.rendering import Templates
from agi.console.sessions import SessionSigner
from agi.console.throttle import LoginThrottle

if TYPE_CHECKING:
    from agi.application import Application
    from agi.storage.accounts import Accounts


@dataclass
class Console:
    app: Application
    """The configured application: settings, the readings database, the flow files."""
    signer: SessionSigner
    throttle: LoginThrottle
    secure_cookies: bool = True
    """False only for plain http on loopback (`ivr console --plain-http`)."""
    templates: Templates = field(default_factory=Templates)
    navigation: list[tuple[str, str]] = field(default_factory=list)
    """(path, label) of the pages in the navigation bar, in order."""

    @property
    def accounts(self) -> Accounts:
        return self.app.accounts

    def page(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page of `template` (which extends base.html), for the staff signed in."""
        session = request.state.session
        values = {
            "staff": getattr(request.state, "staff", None),
            "csrf": session.csrf,
            "navigation": self.navigation,
            "here": request.url.path,
            **context,
        }
        html = self.templates.render(template, values)
        return HTMLResponse(html, status_code=status_code)


@dataclass(frozen=True)
class Page:
    """A module's part of the console: `routes(console)` gives its router; `path` and
    `label`, when given, put it in the navigation bar."""

    routes: Callable[[Console], APIRouter]
    path: str | None = None
    label: str | None = None
