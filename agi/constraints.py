"""Checks that plain dataclasses carry in their annotations, for pydantic to apply when it
validates them (`pydantic.TypeAdapter`).

The flow's nodes and the settings are plain dataclasses, so that a process that takes them
from a cache never imports pydantic; only the code that checks a file does. These markers
do nothing until pydantic asks them for their part of a schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_NUMBER = frozenset({"gt", "ge", "lt", "le"})
_LENGTH = frozenset({"min_length", "max_length"})
TAKEN_BY: dict[str, frozenset[str]] = {
    "int": _NUMBER,
    "float": _NUMBER,
    "str": _LENGTH | {"pattern"},
    "list": _LENGTH,
    "dict": _LENGTH,
    "set": _LENGTH,
    "tuple": _LENGTH,
}
"""The bounds each type of pydantic's core schema takes (a bound elsewhere would be lost)."""
BOUNDS = frozenset().union(*TAKEN_BY.values())


class Constraint:
    """Bounds of a number or a text, as pydantic's core schema names them: `gt`, `ge`,
    `lt`, `le`, `pattern`, `min_length`, `max_length`. A bound of another name, or one that
    the annotated type does not take (`pattern` on an int, any bound on `int | None`), is
    a TypeError, not a check that silently does nothing."""

    def __init__(self, **bounds: Any) -> None:
        unknown = sorted(set(bounds) - BOUNDS)
        if unknown:
            raise TypeError(f"no such bound: {', '.join(unknown)} (bounds: {sorted(BOUNDS)})")
        self.bounds = bounds

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        schema = handler(source)
        kind = schema.get("type")
        refused = sorted(set(self.bounds) - TAKEN_BY.get(kind, frozenset()))
        if refused:
            raise TypeError(
                f"{', '.join(refused)} cannot bound {source!r}: its schema is of type "
                f"{kind!r}, which takes {sorted(TAKEN_BY.get(kind, ())) or 'no bound'}"
            )
        schema.update(self.bounds)
        return schema


class Before:
    """A function that turns what a file writes into the value's usual form first."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.function, handler(source))


class After:
    """A function that checks (and may change) a value once it has its type; a ValueError
    says what is wrong with it."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.function, handler(source))
