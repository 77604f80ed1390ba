"""The flow's pages: its text to edit and check, saved by editors only when it passes
(`agi.console.editing`); its history, any two versions compared, an earlier one restored.
Supervisors read and check; saving and restoring are an editor's (403 for others)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agi.console.access import Editor, Form, Login, Refused
from agi.console.editing import Check, FlowEditor, Saved, Saving, as_saved, diff_rows
from agi.console.site import Console, Page
from agi.problems import shown
from agi.storage.flow_versions import FlowVersion, FlowVersions, text_digest

SAVED_WORDS = {
    Saving.SAVED: "Saved as version {number}. The line answers the next calls with it within "
    "a few seconds.",
    Saving.REFUSED: "Not saved: the text has problems, listed below. The file is as it was.",
    Saving.STALE: "Not saved: someone saved the flow since you opened it. Your text is below; "
    "open the history to see what changed, then save again.",
    Saving.UNCHANGED: "Nothing to save: the text is the same as the file's.",
}


def routes(console: Console) -> APIRouter:
    settings = console.app.settings
    editor = FlowEditor(settings, FlowVersions(console.app.repository.engine))
    zone = ZoneInfo(settings.timezone)
    router = APIRouter()

    def when(version: FlowVersion) -> str:
        return version.saved_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    def edit_page(
        request: Request,
        text: str,
        opened: str,
        *,
        check: Check | None = None,
        message: str | None = None,
        status_code: int = 200,
    ) -> Response:
        return console.page(
            request,
            "flow.html",
            status_code=status_code,
            title="Edit the flow",
            text=text,
            opened=opened,
            file=shown(editor.path),
            check=None if check is None else _check_shown(check),
            message=message,
        )

    def saved_page(request: Request, text: str, opened: str, saved: Saved) -> Response:
        message = SAVED_WORDS[saved.result].format(
            number=saved.version.number if saved.version else "?"
        )
        if saved.result is Saving.SAVED:
            text = editor.current()
            opened = text_digest(text)
        status = 409 if saved.result is Saving.STALE else 200
        status = 422 if saved.result is Saving.REFUSED else status
        return edit_page(
            request, text, opened, check=saved.check, message=message, status_code=status
        )

    @router.get("/flow")
    def flow_page(request: Request, staff: Login) -> Response:
        text = editor.current()
        return edit_page(request, text, text_digest(text))

    @router.post("/flow/check")
    def check_text(request: Request, staff: Login, form: Form) -> Response:
        text = as_saved(form.get("text", ""))
        check = editor.check(text)
        return edit_page(request, text, form.get("opened", ""), check=check)

    @router.post("/flow/save")
    def save_text(request: Request, staff: Editor, form: Form) -> Response:
        text = as_saved(form.get("text", ""))
        opened = form.get("opened", "")
        saved = editor.save(text, staff.name, opened=opened or None)
        return saved_page(request, text, opened, saved)

    @router.get("/flow/history")
    def history_page(request: Request, staff: Login) -> Response:
        versions = editor.history()
        return console.page(
            request,
            "flow_history.html",
            title="The flow's history",
            versions=[
                {
                    "number": v.number,
                    "when": when(v),
                    "by": v.saved_by,
                    "restored_from": v.restored_from,
                    "lines": len(v.text.splitlines()),
                }
                for v in versions
            ],
            opened=versions[0].digest if versions else "",
            zone=settings.timezone,
        )

    @router.get("/flow/compare")
    def compare_page(request: Request, staff: Login, old: int, new: int) -> Response:
        before, after = editor.versions.get(old), editor.versions.get(new)
        if before is None or after is None:
            raise Refused(404, "No such version", "Open the history and choose two versions.")
        return console.page(
            request,
            "flow_compare.html",
            title=f"Version {old} and version {new}",
            old={"number": old, "when": when(before), "by": before.saved_by},
            new={"number": new, "when": when(after), "by": after.saved_by},
            rows=diff_rows(before.text, after.text),
        )

    @router.post("/flow/restore")
    def restore_version(request: Request, staff: Editor, form: Form) -> Response:
        try:
            number = int(form.get("number", ""))
        except ValueError:
            raise Refused(400, "No version chosen", "Choose a version in the history.") from None
        version = editor.versions.get(number)
        if version is None:
            raise Refused(404, "No such version", "Open the history and choose a version.")
        opened = form.get("opened", "")
        saved = editor.restore(version, staff.name, opened=opened or None)
        return saved_page(request, version.text, opened, saved)

    return router


def _check_shown(check: Check) -> dict[str, Any]:
    return {
        "passed": check.passed,
        "scenarios": check.scenarios,
        "nodes": check.nodes,
        "problems": [
            {
                "file": problem.file.name,
                "line": problem.line,
                "node": problem.node,
                "message": problem.message,
            }
            for problem in check.problems
        ],
    }


PAGE = Page(routes, "/flow", "Edit")
