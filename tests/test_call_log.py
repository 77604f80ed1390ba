"""How `ivr call` reads the end of a call from Asterisk's log: literal lines as Asterisk
writes them for the dialplan's Log(NOTICE, ...)."""

from __future__ import annotations

import pytest

from agi.telephony.call_log import CallEnd, call_end

CALL = "ivr-call-4f1c@127.0.0.1"
OTHER = "ivr-call-9a0b@127.0.0.1"


def notice(call_id: str, outcome: str, transfer: str, by: str | None = None) -> str:
    """The line; `by` None: as a dialplan that names no server writes it."""
    server = "" if by is None else f" by={by}"
    return (
        "[2026-12-01 09:15:02.118] NOTICE[5127][C-00000003]: Ext. h:1 @ ivr-call: "
        f"IVR call {call_id} ended: outcome={outcome} transfer={transfer}{server}\n"
    )


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (notice(CALL, "accepted", ""), (CallEnd.ACCEPTED, "")),
        (notice(CALL, "", "operator"), (CallEnd.TRANSFERRED, "operator")),
        (notice(CALL, "", ""), (CallEnd.NO_OUTCOME, "")),
        (notice(OTHER, "accepted", ""), (CallEnd.NOT_LOGGED, "")),
        (
            notice(OTHER, "accepted", "") + notice(CALL, "", "operator"),
            (CallEnd.TRANSFERRED, "operator"),
        ),
        ("", (CallEnd.NOT_LOGGED, "")),
        (notice(CALL, "accepted", "", "agi://10.0.0.6:4573/readings"), (CallEnd.ACCEPTED, "")),
        (notice(CALL, "", "operator", ""), (CallEnd.TRANSFERRED, "operator")),
        (
            "[2026-12-01 09:35:36.650] VERBOSE[23094][C-00000001] pbx.c: Executing "
            '[s@ivr-ended:1] Log("PJSIP/ivr-callers-00000000", "NOTICE,IVR call '
            f'{CALL} ended: outcome= transfer=operator") in new stack\n'
            + notice(CALL, "", "operator"),
            (CallEnd.TRANSFERRED, "operator"),
        ),
    ],
    ids=[
        "accepted",
        "transferred",
        "no outcome",
        "another call",
        "among others",
        "empty",
        "by a server",
        "by none",
        "the command that writes it",
    ],
)
def test_the_end_of_one_call(log: str, expected: tuple[CallEnd, str]) -> None:
    assert call_end(log, CALL) == expected
