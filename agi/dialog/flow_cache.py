"""The checked flow and prompt catalog, kept in the state folder between processes
(`agi.state_cache`, which says when an entry is trusted).

An entry is keyed by the bytes of both files and of the code that reads and checks them (and
by the Python version the objects were pickled with and the pydantic version that checked
them), so an edit of either file or an upgrade misses, and the files are read and checked
again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog
from agi.state_cache import cached, key_of

log = logging.getLogger(__name__)

CACHE_FILE = "flow-cache.pickle"
PACKAGE = Path(__file__).resolve().parent.parent
CODE = (
    "constraints.py",
    "dialog/actions.py",
    "dialog/channel.py",
    "dialog/flow.py",
    "dialog/flow_cache.py",
    "dialog/flow_loader.py",
    "dialog/prompts.py",
    "located_yaml.py",
    "problems.py",
    "readings/call_actions.py",
    "readings/rules.py",
    "state_cache.py",
)
"""The modules that read and check a flow and define its objects and actions, relative to
the `agi` package: a change in any of them makes every entry miss."""

Menu = tuple[Flow, PromptCatalog]


def cached_menu(
    flow_path: Path, prompts_path: Path, folder: Path, read: Callable[[], Menu]
) -> Menu:
    """The flow and catalog of these files: the cache's entry when it is theirs, otherwise
    `read()` (whose ProblemsFound goes through, and is not cached), written to the cache."""

    def key() -> bytes:
        parts = [
            part
            for path in (flow_path, prompts_path)
            for part in (str(path).encode(), path.read_bytes())
        ]
        return key_of(parts, PACKAGE, CODE)

    return cached(folder / CACHE_FILE, key, read, _is_menu, log, "flow cache")


def _is_menu(entry: object) -> bool:
    return (
        isinstance(entry, tuple)
        and len(entry) == 2
        and isinstance(entry[0], Flow)
        and isinstance(entry[1], PromptCatalog)
    )
