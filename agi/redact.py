"""What caller data may look like in a log line: masked numbers, no control characters."""

from __future__ import annotations


def mask_digits(text: str | None, visible: int = 2) -> str:
    """`102057522` becomes `*******22`: enough to tell calls apart, not to identify anyone."""
    if not text:
        return "-"
    text = printable(text)
    if len(text) <= visible:
        return "*" * len(text)
    return "*" * (len(text) - visible) + text[-visible:]


def printable(text: str) -> str:
    """Caller data with CR, LF and other control characters escaped, so it cannot forge lines."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
