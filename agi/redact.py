"""What caller data may look like in a log line: masked numbers, no control characters.

The IVR masks every caller and contract number it logs (`mask_digits`). `Redacting` is the
safety net behind that, at the logging layer: every record that reaches a handler set up
by `configure_logging`, tracebacks and other libraries' messages included, has its long
numbers masked and its control characters escaped, and the message of an exception is cut
short, so that no log line carries a phone number, a contract number or a request body.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterator
from typing import IO

LONG_NUMBER = re.compile(r"[0-9]{5,}")
"""Five digits or more: a contract number, a phone number, a reading."""
SPACED_NUMBER = re.compile(r"\+?[0-9][0-9 ()\-]{7,}[0-9]")
"""A phone number written with separators, `+7 912 000-00-00`."""
INPUT_VALUE = re.compile(r"(input_value|'input'|\"input\")([=:]\s*)('[^']*'|\"[^\"]*\"|[^\s,}]+)")
"""Where validation errors (pydantic, FastAPI) repeat what they were given."""
MAX_EXCEPTION_MESSAGE = 200
"""Characters of an exception's message kept in a logged traceback."""
CONTINUATION = "\n    "
"""How the further lines of a message are set off: no text can pose as a log line of its own."""


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
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def redact(text: str) -> str:
    """`text` with every long number masked but its last two digits (phone numbers written
    with spaces or dashes too) and what validation errors repeat of their input withheld."""
    text = INPUT_VALUE.sub(lambda m: f"{m[1]}{m[2]}<withheld>", text)
    text = SPACED_NUMBER.sub(_mask_spaced, text)
    return LONG_NUMBER.sub(lambda m: mask_digits(m[0]), text)


def _mask_spaced(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match[0])
    if digits < 9:
        return match[0]
    seen = 0
    masked = []
    for ch in match[0]:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > digits - 2 else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def redacted_traceback(error: BaseException) -> str:
    """A traceback that shows where the error happened, and of what each exception says only
    its first `MAX_EXCEPTION_MESSAGE` characters, redacted: an exception's message may quote
    the data it failed on (a request body, a caller's number)."""
    return redact("".join(_traceback_lines(traceback.TracebackException.from_exception(error))))


def _traceback_lines(error: traceback.TracebackException) -> Iterator[str]:
    if error.__cause__ is not None:
        yield from _traceback_lines(error.__cause__)
        yield "\nThe above exception was the direct cause of the following exception:\n\n"
    elif error.__context__ is not None and not error.__suppress_context__:
        yield from _traceback_lines(error.__context__)
        yield "\nDuring handling of the above exception, another exception occurred:\n\n"
    if error.stack:
        yield "Traceback (most recent call last):\n"
        yield from error.stack.format()
    said = "".join(error.format_exception_only()).rstrip("\n")
    if len(said) > MAX_EXCEPTION_MESSAGE:
        said = said[:MAX_EXCEPTION_MESSAGE] + " [...]"
    yield printable(said) + "\n"


class Redacting(logging.Filter):
    """Redacts each record in place before a handler formats it: its message (arguments
    merged in), its traceback and its stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = CONTINUATION.join(printable(line) for line in redact(message).split("\n"))
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redacted_traceback(record.exc_info[1])
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(
    level: int,
    *,
    format: str = "%(asctime)s %(levelname)s %(name)s %(message)s",
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Log to `stream` (stderr) at `level`, every record redacted; replaces the handlers
    the root logger had. Libraries that log (uvicorn, SQLAlchemy) propagate to it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(format))
    handler.addFilter(Redacting())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
