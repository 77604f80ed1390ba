"""Filling in a shipped configuration template (the nginx site, Kannel's sms-service): each
`@@NAME@@` replaced by a value that matched its pattern, so that no value can end a
directive or a quoted string early, and none left unfilled."""

from __future__ import annotations

import re
from collections.abc import Mapping


def fill(
    template: str,
    values: Mapping[str, str],
    patterns: Mapping[str, re.Pattern[str]],
    *,
    what: str,
    secret: frozenset[str] = frozenset(),
) -> str:
    """`template` with its placeholders filled in; ValueError naming the value (never a
    `secret` one's text) that `what` would read as something else, or a placeholder left."""
    for name, value in values.items():
        if not patterns[name].match(value):
            shown = "" if name in secret else f" {value!r}"
            raise ValueError(f"{name.lower()}{shown} cannot go into {what}")
        template = template.replace(f"@@{name}@@", value)
    left = re.search(r"@@[A-Z_]+@@", template)
    if left:
        raise ValueError(f"{what} has a placeholder nothing fills in: {left[0]}")
    return template
