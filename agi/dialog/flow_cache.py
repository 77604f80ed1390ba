"""The checked flow and prompt catalog, kept in the state folder between processes.

The per-call AGI script would otherwise read and check the YAML on every call. An entry is
keyed by the bytes of both files and of the code that reads and checks them (and by the
Python version the objects were pickled with and the pydantic version that checked them),
so an edit of either file or an upgrade misses, and the files are read and checked again.
An entry that is damaged, of another key or of another format is ignored and written anew.

Loading a pickle runs code, so an entry is loaded only from a file this user owns that no
one else may write, in a folder that users outside its owner and group cannot write into (as
the settings reader refuses a secret in a file others can read). An entry is written to a
temporary file and renamed, so a reader sees a whole entry or none. A state folder that
cannot be written costs the parse, never the call.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pickle
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog

log = logging.getLogger(__name__)

CACHE_FILE = "flow-cache.pickle"
MAGIC = b"ivr-flow-cache 1\n"
PACKAGE = Path(__file__).resolve().parent.parent
CODE = (
    "dialog/actions.py",
    "dialog/channel.py",
    "dialog/flow.py",
    "dialog/flow_cache.py",
    "dialog/flow_loader.py",
    "dialog/prompts.py",
    "constraints.py",
    "located_yaml.py",
    "problems.py",
    "readings/call_actions.py",
    "readings/rules.py",
)
"""The modules that read and check a flow and define its objects and actions, relative to
the `agi` package: a change in any of them makes every entry miss."""

Menu = tuple[Flow, PromptCatalog]


class UnsafeCache(Exception):
    """The cache's folder or file could be written by someone else: it is not used."""


def cached_menu(
    flow_path: Path, prompts_path: Path, folder: Path, read: Callable[[], Menu]
) -> Menu:
    """The flow and catalog of these files: the cache's entry when it is theirs, otherwise
    `read()` (whose ProblemsFound goes through, and is not cached), written to the cache."""
    try:
        key = _key(flow_path, prompts_path)
    except OSError:
        return read()  # a missing or unreadable file: `read` says so in its own words
    path = folder / CACHE_FILE
    try:
        menu = _load(path, key)
    except UnsafeCache as unsafe:
        log.warning("the flow cache is not used: %s", unsafe)
        return read()
    if menu is not None:
        return menu
    menu = read()
    try:
        _store(path, key, menu)
    except (OSError, UnsafeCache) as error:
        log.warning(
            "the flow cache %s cannot be written (%s); each call reads the flow", path, error
        )
    return menu


def _key(flow_path: Path, prompts_path: Path) -> bytes:
    digest = hashlib.sha256(MAGIC)
    digest.update(f"{sys.version}\0".encode())
    digest.update(_checker_version())
    for path in (flow_path, prompts_path):
        data = path.read_bytes()
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    for name in CODE:
        try:
            code = (PACKAGE / name).read_bytes()
        except OSError:
            code = b"(missing)"
        digest.update(f"{name}\0{len(code)}\0".encode())
        digest.update(code)
    return digest.hexdigest().encode()


def _checker_version() -> bytes:
    """pydantic's version, which decides what passes the checks, read from its file: importing
    pydantic is what a cached flow saves."""
    spec = importlib.util.find_spec("pydantic")
    folders = spec.submodule_search_locations if spec else None
    try:
        return (Path(next(iter(folders or []))) / "version.py").read_bytes()
    except (OSError, StopIteration):
        return b"(no pydantic)"


def _check_folder(folder: Path) -> None:
    """Refuse a folder that users outside its owner and group may write into (the state
    folder an installation shares between the service and Asterisk is 2770)."""
    if folder.stat().st_mode & stat.S_IWOTH:
        raise UnsafeCache(f"anyone can write into {folder}: chmod o-w {folder}")


def _load(path: Path, key: bytes) -> Menu | None:
    """The entry for `key`, or None when there is none, it is another's, or it is damaged."""
    try:
        with open(path, "rb") as stream:
            status = os.fstat(stream.fileno())
            _check_folder(path.parent)
            if status.st_uid != os.geteuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise UnsafeCache(f"{path} is not this user's own, or others may write it")
            data = stream.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("the flow cache %s cannot be read (%s); it is written anew", path, error)
        return None
    header, payload = data[: len(MAGIC) + 130], data[len(MAGIC) + 130 :]
    expected = MAGIC + key + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    if header != expected:
        return None  # another key (a file edited), another format, or a damaged entry
    try:
        menu = pickle.loads(payload)
    except Exception as error:  # a damaged pickle can raise almost anything
        log.warning("the flow cache %s is damaged (%s); it is written anew", path, error)
        return None
    if not (
        isinstance(menu, tuple)
        and len(menu) == 2
        and isinstance(menu[0], Flow)
        and isinstance(menu[1], PromptCatalog)
    ):
        return None
    return menu


def _store(path: Path, key: bytes, menu: Menu) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_folder(path.parent)
    import tempfile  # only to write

    payload = pickle.dumps(menu, protocol=pickle.HIGHEST_PROTOCOL)
    header = MAGIC + key + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    descriptor, temporary = tempfile.mkstemp(prefix=".flow-cache-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(header + payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
