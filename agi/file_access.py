"""Who besides the service may read or change a file: the checks a secret and an object
kept for the next processes are made with, and the advice that mends a file that fails
them (an installation leaves such files to their owner and the service's group, `ivr`)."""

from __future__ import annotations

import stat
from pathlib import Path


def anyone_may_read(mode: int) -> bool:
    """Whether a file of `mode` (its `st_mode`) is readable by every user of the server."""
    return bool(mode & stat.S_IROTH)


def others_may_write(mode: int) -> bool:
    """Whether users besides its owner, its group's included, may change a file of `mode`."""
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH))


def owner_and_service_only(path: Path) -> str:
    """The commands that leave `path` to its owner to change and the service to read."""
    return f"chmod 640 {path} and chgrp ivr {path}"
