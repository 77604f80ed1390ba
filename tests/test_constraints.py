"""The checks that plain dataclasses carry in their annotations: a bound that could not
apply is refused when the code is written, not ignored when a file is checked."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from agi.constraints import Constraint


@pytest.mark.parametrize(
    ("annotation", "good", "bad"),
    [
        (Annotated[int, Constraint(ge=1, le=10)], 10, 11),
        (Annotated[float, Constraint(gt=0)], 0.5, 0.0),
        (Annotated[str, Constraint(pattern=r"^[0-9]+$")], "42", "4x"),
        (Annotated[str, Constraint(min_length=1, max_length=3)], "abc", "abcd"),
        (Annotated[list[int], Constraint(max_length=1)], [1], [1, 2]),
    ],
    ids=["int", "float", "pattern", "text length", "list length"],
)
def test_a_bound_is_checked(annotation: Any, good: object, bad: object):
    check = TypeAdapter(annotation)
    assert check.validate_python(good) == good
    with pytest.raises(ValidationError):
        check.validate_python(bad)


def test_a_misspelt_bound_is_refused():
    with pytest.raises(TypeError, match="no such bound: gte"):
        Constraint(gte=5)


@pytest.mark.parametrize(
    ("annotation", "says"),
    [
        (Annotated[int, Constraint(pattern="^1$")], "pattern cannot bound .* of type 'int'"),
        (Annotated[str, Constraint(ge=1)], "ge cannot bound .* of type 'str'"),
        (Annotated[int | None, Constraint(ge=1)], "ge cannot bound .* of type 'nullable'"),
        (Annotated[bool, Constraint(max_length=1)], "max_length cannot bound .* of type 'bool'"),
    ],
    ids=["pattern on an int", "bound on a text", "around an optional", "length of a bool"],
)
def test_a_bound_the_type_does_not_take_is_refused(annotation: Any, says: str):
    with pytest.raises(TypeError, match=says):
        TypeAdapter(annotation)
