"""The keypad page: a call tried in the browser (`agi.console.keypad`), its prompts read and
heard in order, and kept as a scenario by an editor.

The page's form holds the try (`day`, `caller`, and the answers so far in `presses`);
every button sends it whole with what was pressed. With JavaScript (static/keypad.js) the
page asks for `?part=call` and swaps in the call alone, playing the new prompts' audio;
without it, the whole page comes back.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agi.audio.library import audio_path
from agi.console.access import Editor, Form, Login
from agi.console.keypad import CallStillGoing, Keypad, MenuOnFile, Speaker, Try, Turn, Walk
from agi.console.site import Console, Page
from agi.problems import ProblemsFound
from agi.scenarios import ScenarioExists
from agi.storage.scratch import NoContracts, ScratchCopies

AUDIO_URL = "/prompts/audio/{}"
"""Where the console serves a prompt's recording (the menu page's player uses it too)."""
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
PART = "call"
PRESS, WAIT, HANG_UP, AGAIN = "press", "wait", "hang_up", "again"


def routes(console: Console) -> APIRouter:
    app = console.app
    scratch = ScratchCopies(app.repository.engine)
    keypad = Keypad(app.settings, scratch, MenuOnFile(app))
    router = APIRouter(on_shutdown=[scratch.close])

    def shown(request: Request, attempt: Try, *, part: bool = False, **extra: Any) -> Response:
        context: dict[str, Any] = {"attempt": attempt, "walk": None, "trouble": None, **extra}
        try:
            context["walk"] = keypad.walk(attempt)
        except ProblemsFound as found:
            context["trouble"] = [str(problem) for problem in found.problems]
        except NoContracts as missing:
            context["trouble"] = [str(missing)]
        walk: Walk | None = context["walk"]
        if walk is not None:
            context["attempt"] = walk.attempt
            context["turns"] = [_turn(turn, app.settings.prompts_audio_dir) for turn in walk.turns]
        return console.page(
            request,
            "keypad_call.html" if part else "keypad.html",
            title="Keypad",
            keys=KEYS,
            accept_days=app.settings.accept_days,
            presses=" ".join(context["attempt"].presses),
            **context,
        )

    @router.get("/keypad")
    def keypad_page(request: Request, staff: Login) -> Response:
        return shown(request, Try(keypad.today()))

    @router.post("/keypad")
    def keypad_step(
        request: Request, staff: Login, form: Form, part: str | None = None
    ) -> Response:
        fragment = part == PART
        try:
            attempt = _try(form, keypad.today())
        except ValueError as error:
            return shown(request, Try(keypad.today()), part=fragment, problem=str(error))
        action = form.get("action", PRESS)
        try:
            if action == AGAIN:
                attempt = Try(attempt.day, attempt.caller)
            elif action == HANG_UP:
                attempt = attempt.hang_up()
            elif action == WAIT:
                attempt = attempt.press(".")
            elif form.get("key") or form.get("keys", "").strip():
                attempt = attempt.press(form.get("key") or form.get("keys", ""))
        except ValueError as error:
            return shown(request, attempt, part=fragment, problem=str(error))
        return shown(request, attempt, part=fragment)

    @router.post("/keypad/scenario")
    def keep_as_scenario(request: Request, staff: Editor, form: Form) -> Response:
        name = form.get("name", "")
        try:
            attempt = _try(form, keypad.today())
        except ValueError as error:
            return shown(request, Try(keypad.today()), problem=str(error))
        try:
            path = keypad.keep(attempt, name)
        except (CallStillGoing, ScenarioExists, ValueError, OSError) as error:
            return shown(request, attempt, problem=f"The scenario was not saved: {error}")
        return shown(
            request,
            attempt,
            kept=f"Saved as the scenario “{name.strip()}” in {path.name}: "
            "every check of the flow runs it from now on.",
        )

    return router


def _try(form: dict[str, str], today: date) -> Try:
    """The try the form holds; ValueError says what is wrong with it."""
    try:
        day = date.fromisoformat(form["day"]) if form.get("day") else today
    except ValueError:
        raise ValueError("the day is a date: 2026-11-20") from None
    caller = "".join(form.get("caller", "").split()) or None
    presses = tuple(form.get("presses", "").split())
    return Try(day, caller, presses, hung_up=form.get("hung_up") == "1")


def _turn(turn: Turn, audio_dir: Path) -> dict[str, Any]:
    return {
        "speaker": turn.speaker.value,
        "who": {Speaker.IVR: "IVR", Speaker.CALLER: "caller", Speaker.EVENT: ""}[turn.speaker],
        "parts": [
            {
                "text": part.text,
                "audio": AUDIO_URL.format(part.prompt)
                if part.prompt and audio_path(audio_dir, part.prompt).is_file()
                else None,
            }
            for part in turn.parts
        ],
    }


PAGE = Page(routes, "/keypad", "Keypad")
