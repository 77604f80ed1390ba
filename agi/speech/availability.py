"""Whether this process takes answers by voice: a recogniser, or None and why not.

Apart from the back-end (`agi.speech.recognition`), so that a process that never listens
(the per-call AGI script) says so without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agi.dialog.recogniser import Recogniser


@dataclass(frozen=True)
class Speech:
    """Speech recognition as this process has it: a recogniser, or None and why not."""

    recogniser: Recogniser | None
    status: str
    """One line for the start-up log: what was loaded, or why speech is off."""

    @property
    def available(self) -> bool:
        return self.recogniser is not None


def speech_off(reason: str) -> Speech:
    return Speech(None, f"speech recognition is off: {reason}; voice nodes go to 'unavailable'")
