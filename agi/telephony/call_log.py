"""What became of a call, as the dialplan (config/asterisk/extensions_ivr.conf) logs it.

At the end of every call the IVR took the dialplan writes, at NOTICE level, which Debian's
stock logger.conf keeps in /var/log/asterisk/messages:

    IVR call <SIP Call-ID> ended: outcome=<IVR_OUTCOME> transfer=<IVR_TRANSFER> by=<server>

`by` is the FastAGI server or the AGI script that had the call (empty when none took it;
a dialplan written before it had no `by`).
"""

from __future__ import annotations

import enum
import re
import time
from pathlib import Path

ENDED = re.compile(
    r'NOTICE.*IVR call (?P<call>\S+) ended: outcome=(?P<outcome>[^\s"]*) transfer=(?P<to>[^\s"]*)'
    r'(?: by=(?P<by>[^\s"]*))?$',
    re.MULTILINE,
)
"""The NOTICE line itself: a verbose log also shows the Log() command that writes it."""


class CallEnd(enum.Enum):
    ACCEPTED = "the readings were accepted"
    TRANSFERRED = "the call was transferred to"
    NO_OUTCOME = "the line hung up with no outcome"
    NOT_LOGGED = "the line logged no end of this call"


def call_end(text: str, call_id: str) -> tuple[CallEnd, str]:
    """How the call `call_id` ended in this log text, and where it was transferred."""
    for match in ENDED.finditer(text):
        if match["call"] != call_id:
            continue
        if match["outcome"] == "accepted":
            return CallEnd.ACCEPTED, ""
        if match["to"]:
            return CallEnd.TRANSFERRED, match["to"]
        return CallEnd.NO_OUTCOME, ""
    return CallEnd.NOT_LOGGED, ""


def wait_for_end(
    log: Path, call_id: str, *, since: int = 0, seconds: float = 10
) -> tuple[CallEnd, str]:
    """Read `log` from byte `since` until it tells how the call ended (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with log.open("rb") as stream:
                stream.seek(since)
                text = stream.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        found = call_end(text, call_id)
        if found[0] is not CallEnd.NOT_LOGGED or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
