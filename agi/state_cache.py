"""Objects that a process checked once, kept in the state folder for the next processes.

The per-call AGI script would otherwise read and check its settings and its flow on every
call. An entry is keyed by what it was made from (the caller's key: the bytes of the files,
the code that checked them, the versions); an entry that is damaged, of another key or of
another format is ignored and written anew, and so is one that others may write (by a
file of this user's own, when the folder is safe).

Loading a pickle runs code, so an entry is loaded only from a file this user owns that no
one else may write, in a folder that users outside its owner and group cannot write into (as
the settings reader refuses a secret in a file others can read). An entry is written to a
temporary file and renamed, so a reader sees a whole entry or none. A state folder that
cannot be written costs the check, never the call.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from agi.file_access import others_may_write

T = TypeVar("T")
MAGIC = b"ivr-state-cache 1\n"


class UnsafeCache(Exception):
    """The cache's folder or file could be written by someone else: it is not used."""


def cached(
    path: Path,
    key: Callable[[], bytes],
    make: Callable[[], T],
    accept: Callable[[object], bool],
    log: logging.Logger,
    what: str,
    keep: Callable[[T], bool] = lambda _made: True,
    now: bytes | None = None,
) -> T:
    """The entry in `path` when it has the `key()` of now (or `now`, when the caller made it
    already from the bytes it read) and `accept` takes it, otherwise `make()` (whose
    exceptions go through, and are not cached), written there when `keep` takes it and
    `key()` is still the same after it: `make` reads the files again, and an entry must be
    of the files its key describes. `what` names the cache in the warnings `log` is given."""
    try:
        before = key() if now is None else now
    except OSError:
        return make()  # a missing or unreadable file: `make` says so in its own words
    entry = _load(path, before, log, what)
    if entry is not None and accept(entry):
        return entry  # type: ignore[return-value]
    made = make()
    with contextlib.suppress(OSError):
        if keep(made) and key() == before:
            _store(path, before, made, log, what)
    return made


def key_of(parts: Iterable[bytes], code: Path, modules: Iterable[str]) -> bytes:
    """A key of `parts`, the Python and pydantic versions, and the bytes of `modules`
    (relative to the package folder `code`): a change in any of them makes entries miss."""
    digest = hashlib.sha256(MAGIC)
    for part in [sys.version.encode(), checker_version(), *parts]:
        digest.update(f"{len(part)}\0".encode())
        digest.update(part)
    for name in modules:
        try:
            data = (code / name).read_bytes()
        except OSError:
            data = b"(missing)"
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest().encode()


@functools.cache
def checker_version() -> bytes:
    """pydantic's version, which decides what passes the checks, read from its file:
    importing pydantic is what an entry saves."""
    spec = importlib.util.find_spec("pydantic")
    folders = list(spec.submodule_search_locations or []) if spec else []
    try:
        return (Path(folders[0]) / "version.py").read_bytes()
    except (OSError, IndexError):
        return b"(no pydantic)"


def _check_folder(folder: Path) -> None:
    """Refuse a folder that users outside its owner and group may write into (the state
    folder an installation shares between the service and Asterisk is 2770)."""
    if folder.stat().st_mode & stat.S_IWOTH:
        raise UnsafeCache(f"anyone can write into {folder}: chmod o-w {folder}")


def _load(path: Path, key: bytes, log: logging.Logger, what: str) -> object | None:
    """The entry for `key`, or None when there is none, it is damaged or it is not safe to
    load (logged: `_store` replaces it with a file of this user's own, unless the folder
    itself is unsafe)."""
    try:
        with open(path, "rb") as stream:
            status = os.fstat(stream.fileno())
            _check_folder(path.parent)
            if status.st_uid != os.geteuid() or others_may_write(status.st_mode):
                raise UnsafeCache(f"{path} is not this user's own, or others may write it")
            data = stream.read()
    except FileNotFoundError:
        return None
    except UnsafeCache as unsafe:
        log.warning("the %s is not used: %s", what, unsafe)
        return None
    except OSError as error:
        log.warning("the %s %s cannot be read (%s); it is written anew", what, path, error)
        return None
    header, payload = data[: len(MAGIC) + 130], data[len(MAGIC) + 130 :]
    if header != _header(key, payload):
        return None  # another key (a file edited), another format, or a damaged entry
    try:
        return pickle.loads(payload)
    except Exception as error:  # a damaged pickle can raise almost anything
        log.warning("the %s %s is damaged (%s); it is written anew", what, path, error)
        return None


def _store(path: Path, key: bytes, entry: object, log: logging.Logger, what: str) -> None:
    """Keep `entry` in `path` under `key`; a folder that cannot be written is logged."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_folder(path.parent)
        from agi.atomic_file import replace_file  # only to write: it imports tempfile

        payload = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        replace_file(path, _header(key, payload) + payload, mode=0o600)
    except (OSError, UnsafeCache) as error:
        log.warning("the %s %s cannot be written (%s); each call checks anew", what, path, error)


def _header(key: bytes, payload: bytes) -> bytes:
    """What comes before an entry's pickle: the format, its key and the pickle's digest (130
    bytes after MAGIC)."""
    return MAGIC + key + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"
