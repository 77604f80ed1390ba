"""The seam between the dialog and speech recognition: what the engine asks of a recogniser.

The Vosk recogniser (`agi.speech.recognition`) and the simulator's scripted one each provide
a `Recogniser`; the engine imports no speech back-end.
"""

from __future__ import annotations

from typing import Protocol

from agi.dialog.channel import Recording


class SpeechError(Exception):
    """A recording could not be recognised (no file, not a WAV, a recogniser failure)."""


class Recogniser(Protocol):
    def transcribe(self, recording: Recording) -> str:
        """The words heard in `recording` ("" for silence); SpeechError when it cannot tell.
        It does not delete the recording: the caller of `transcribe` does, whatever happens."""
