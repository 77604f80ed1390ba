"""The reports as charts, and a contract's readings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agi.console.access import Login
from agi.console.site import Console, Page


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/reports")
    def reports_page(request: Request, staff: Login) -> Response:
        return console.page(request, "reports.html", title="Reports")

    return router


PAGE = Page(routes, "/reports", "Reports")
