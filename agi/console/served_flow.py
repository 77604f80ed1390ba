"""Which flow file the console shows: the one `ivr serve` answers calls with.

The server's /status names the live version. That version is the configured files when
they still hash to it, else the last good copy the server keeps in the state folder; when
no server answers, or neither matches, the configured files are shown, and the page says so.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from agi.settings import Settings
from agi.telephony.live_flow import SAVED_FLOW, SAVED_FOLDER, SAVED_PROMPTS, content_version

STATUS_SECONDS = 2.0


@dataclass(frozen=True)
class ShownFlow:
    flow_file: Path
    prompts_file: Path
    version: str | None
    """The version of the files shown (None: they could not be read)."""
    live_version: str | None
    """What the server says it serves; None when it did not answer."""
    note: str
    """Whose flow this is, in words."""

    @property
    def is_live(self) -> bool:
        return self.live_version is not None and self.live_version == self.version


def served_flow(settings: Settings) -> ShownFlow:
    configured = (settings.flow_path, settings.prompts_path)
    saved_dir = settings.state_dir / SAVED_FOLDER
    saved = (saved_dir / SAVED_FLOW, saved_dir / SAVED_PROMPTS)
    live = live_version(settings)
    configured_version = _version(*configured)
    if live is None:
        return ShownFlow(
            *configured,
            configured_version,
            None,
            f"No FastAGI server answers on {status_url(settings)}: this is the configured "
            "flow file, as saved now.",
        )
    if configured_version == live:
        return ShownFlow(*configured, live, live, "The flow the server answers calls with.")
    if _version(*saved) == live:
        return ShownFlow(
            *saved,
            live,
            live,
            f"The server answers calls with its last good copy (the file {configured[0]} was "
            "refused, or changed since): this is that copy.",
        )
    return ShownFlow(
        *configured,
        configured_version,
        live,
        f"The server serves version {live}, which is neither the configured file nor its "
        "kept copy: this is the configured file, as saved now.",
    )


def status_url(settings: Settings) -> str:
    return f"http://{settings.status_host}:{settings.status_port}/status"


def live_version(settings: Settings) -> str | None:
    try:
        with urllib.request.urlopen(status_url(settings), timeout=STATUS_SECONDS) as answer:
            report = json.load(answer)
    except (OSError, ValueError):
        return None
    live = report.get("live") if isinstance(report, dict) else None
    version = live.get("version") if isinstance(live, dict) else None
    return version if isinstance(version, str) else None


def _version(flow: Path, prompts: Path) -> str | None:
    return content_version(_read(flow), _read(prompts))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
