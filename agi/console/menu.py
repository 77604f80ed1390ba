"""The menu as a picture, from the flow the server answers calls with, and the prompts'
recordings to listen to."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from agi.audio.library import audio_path
from agi.console.access import Login, Refused
from agi.console.menu_picture import MenuPicture, menu_picture
from agi.console.rendering import trusted
from agi.console.served_flow import served_flow
from agi.console.site import Console, Page
from agi.dialog.prompts import PROMPT_ID


class Pictures:
    """The picture of each version drawn so far: checking a flow runs its scenarios."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._drawn: dict[tuple[object, ...], MenuPicture] = {}
        self._lock = threading.Lock()

    def of(self, key: tuple[object, ...], draw) -> MenuPicture:
        with self._lock:
            picture = self._drawn.get(key)
            if picture is None:
                picture = draw()
                if len(self._drawn) >= self.keep:
                    self._drawn.pop(next(iter(self._drawn)))
                self._drawn[key] = picture
            return picture


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    pictures = Pictures()
    settings = console.app.settings

    @router.get("/menu")
    def menu_page(request: Request, staff: Login) -> Response:
        shown = served_flow(settings)
        audio_dir = settings.prompts_audio_dir

        def draw() -> MenuPicture:
            return menu_picture(console.app, shown.flow_file, shown.prompts_file, audio_dir)

        key = (shown.flow_file, shown.prompts_file, shown.version)
        picture = draw() if shown.version is None else pictures.of(key, draw)
        return console.page(
            request,
            "menu.html",
            title="Menu",
            shown=shown,
            picture=picture,
            svg=trusted(picture.svg) if picture.svg else None,
        )

    @router.get("/prompts/audio/{prompt_id}")
    def prompt_audio(prompt_id: str, staff: Login) -> Response:
        """A prompt's recording, from the prompts folder only."""
        folder = settings.prompts_audio_dir.resolve()
        path = audio_path(folder, prompt_id).resolve()
        if not PROMPT_ID.match(prompt_id) or not path.is_relative_to(folder) or not path.is_file():
            raise Refused(404, "No such recording", f"There is no recording of {prompt_id!r}.")
        return FileResponse(path, media_type="audio/wav")

    return router


PAGE = Page(routes, "/menu", "Menu")
