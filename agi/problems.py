"""Mistakes in files that people edit, reported the way a person can act on them.

The flow, the prompt catalog, the settings file and the billing CSV all report through
`Problem`: the file, the line, a stable rule name, and words that say what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Place = tuple[str | int, ...]
"""Where in a YAML document: the keys and list positions from the top, e.g.
("nodes", "main_menu", "say", 0)."""


@dataclass(frozen=True)
class Problem:
    file: Path
    """The file, or where else the value came from (an environment variable)."""
    line: int | None
    """None where there are no lines (an environment variable)."""
    rule: str
    """A short, stable name of the rule that was broken (tests and support refer to it)."""
    message: str
    node: str | None = None
    place: Place = field(default=(), compare=False, repr=False)
    """Where in the document, when the reader of the file knows it."""

    def __str__(self) -> str:
        where = f"{self.file}" if self.line is None else f"{self.file}, line {self.line}"
        if self.node:
            where += f", node '{self.node}'"
        return f"{where}: {self.message}"


class ProblemsFound(Exception):
    """One or more problems; all of them are listed, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.file), p.line or 0, p.rule))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def shown(path: Path) -> Path:
    """A path as a person at this prompt would write it: relative to the current folder
    when the file is below it."""
    try:
        return path.relative_to(Path.cwd()) if path.is_absolute() else path
    except ValueError:
        return path


def closest(word: object, known: Iterable[object]) -> str | None:
    """The known name `word` is most likely a misspelling of, or None."""
    import difflib  # only for a mistake

    close = difflib.get_close_matches(str(word), sorted(map(str, known)), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: object, known: Iterable[object]) -> str:
    """` (did you mean 'next'?)`, or "" when nothing known is close to `word`."""
    close = closest(word, known)
    return f" (did you mean '{close}'?)" if close else ""


_BOUNDS = {
    "greater_than": "more than",
    "greater_than_equal": "at least",
    "less_than": "less than",
    "less_than_equal": "at most",
}


def explain(detail: Any, label: str) -> tuple[str, str]:
    """A rule and plain words for one of pydantic's errors about the value named `label`."""
    kind = detail["type"]
    given = detail.get("input")
    ctx = detail.get("ctx", {})
    if kind == "missing":
        return "missing-key", f"{label} must be given"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown-key", f"{label} is not a setting here"  # a model's; a dataclass's
    if given is None:
        return "wrong-value", f"{label} is empty: write its value after the colon"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "wrong-value", f"{label} must be a whole number, not '{given}'"
    if kind in ("float_parsing", "float_type"):
        return "wrong-value", f"{label} must be a number, not '{given}'"
    if kind in _BOUNDS:
        limit = _number(next(iter(ctx.values()), ""))
        return "wrong-value", f"{label} must be {_BOUNDS[kind]} {limit}, not {given}"
    if kind == "literal_error":
        return "wrong-value", f"{label} must be one of {ctx.get('expected')}, not '{given}'"
    if kind == "value_error":
        return "wrong-value", f"{label}: {ctx.get('error', detail['msg'])}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return "wrong-value", f"{label} must be a group of settings (name: value lines)"
    if kind == "list_type":
        return "wrong-value", f"{label} must be a list, such as [first, second]"
    if kind == "string_type":
        return "wrong-value", f"{label} must be a single word or text, not a list or group"
    return "wrong-value", f"{label}: {detail['msg']}"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def unreadable(path: Path, what: str, error: OSError) -> Problem:
    """A file that exists but cannot be read, such as a folder in its place."""
    if isinstance(error, IsADirectoryError):
        message = f"{what} is a folder, not a file: put the file itself in its place"
    elif isinstance(error, PermissionError):
        message = f"{what} cannot be read: its permissions do not allow it"
    else:
        message = f"{what} cannot be read ({error.strerror or error})"
    return Problem(path, None, "unreadable-file", message)
