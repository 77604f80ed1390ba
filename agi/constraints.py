"""Checks that plain dataclasses carry in their annotations, for pydantic to apply when it
validates them (`pydantic.TypeAdapter`).

The flow's nodes and the settings are plain dataclasses, so that a process that takes them
from a cache never imports pydantic; only the code that checks a file does. These markers
do nothing until pydantic asks them for their part of a schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Constraint:
    """Bounds of a number or a text, as pydantic's core schema names them: `gt`, `ge`,
    `lt`, `le`, `pattern`, `min_length`, `max_length`."""

    def __init__(self, **bounds: Any) -> None:
        self.bounds = bounds

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        schema = handler(source)
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
