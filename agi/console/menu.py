"""The menu as a picture."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agi.console.access import Login
from agi.console.site import Console, Page


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/menu")
    def menu_page(request: Request, staff: Login) -> Response:
        return console.page(request, "menu.html", title="Menu")

    return router


PAGE = Page(routes, "/menu", "Menu")
