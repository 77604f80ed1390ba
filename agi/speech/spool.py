"""The spool folder: where Asterisk records answers by voice and this process reads them.

Recordings are caller data: each has a random name, is read once and deleted, and one that a
dead process left behind is removed when the folder is next prepared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

RECORDING_PREFIX = "ivr-"
STALE_SECONDS = 15 * 60
"""A recording older than this in the spool folder was left by a process that died: removed."""


def prepare_spool(folder: Path, *, now: float | None = None) -> list[str]:
    """Create the spool folder if needed (no access for others) and remove recordings that a
    dead process left there; return warnings about its permissions."""
    folder.mkdir(mode=0o770, parents=True, exist_ok=True)
    warnings = []
    if folder.stat().st_mode & 0o007:
        warnings.append(
            f"the spool folder {folder} is open to other users; recordings are caller "
            f"data: chmod o-rwx {folder}"
        )
    moment = time.time() if now is None else now
    for stale in folder.glob(f"{RECORDING_PREFIX}*"):
        try:
            if moment - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
        except OSError:
            pass
    return warnings


def recording_name() -> str:
    """A fresh name for one recording: random, so it says nothing about the call."""
    import uuid  # only when a call listens

    return f"{RECORDING_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Spool:
    """The private folder recordings go to: `folder` as this process reads it, and
    `asterisk_folder` as Asterisk writes it (the same folder, seen from another host when
    Asterisk runs elsewhere)."""

    folder: Path
    asterisk_folder: str

    def new_recording(self) -> tuple[str, Path]:
        """A fresh recording: the name to give RECORD FILE (no extension), and the WAV file
        this process will read."""
        name = recording_name()
        return f"{self.asterisk_folder.rstrip('/')}/{name}", self.folder / f"{name}.wav"
