"""Writing a file in one step: a reader sees the old content or the new (or no file), never
half. Each writer writes under a temporary name of its own, so writers at the same time
never share one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_STATUS = Path("/proc/self/status")


def replace_file(path: Path, content: bytes | str, *, mode: int | None = None) -> None:
    """Write `content` (text as UTF-8) beside `path`, then rename it over `path`. The file
    gets `mode`; without it, it keeps its permissions (a new one gets the usual ones, not a
    temporary file's owner-only)."""
    temporary = _written_beside(path, content, _kept_mode(path) if mode is None else mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_file(path: Path, content: bytes | str, *, mode: int) -> None:
    """Write a new file, whole, at `path`; FileExistsError when there is one already (the
    first of writers at the same time makes it, and the others read that one)."""
    temporary = _written_beside(path, content, mode)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _written_beside(path: Path, content: bytes | str, mode: int) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())  # on disk before its name is: a crash leaves no empty file
        os.chmod(temporary, mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _kept_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~read_umask()


def read_umask() -> int:
    """The process's umask, read without setting it: `os.umask` sets one to read it, and
    another thread's file made in that moment would get none."""
    try:
        with _STATUS.open() as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _UMASK_AT_IMPORT


_UMASK_AT_IMPORT = os.umask(0o077)  # where the kernel does not say it: read before threads start
os.umask(_UMASK_AT_IMPORT)
