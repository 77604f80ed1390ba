"""One call record: a phone call or a text conversation, from its start to its end.

A record holds no contract number and no readings; the caller is kept masked (and, for a
text conversation, as a key that finds the sender's next message: `agi.records.caller_keys`).
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from agi.dialog.engine import CallReport, Ending
from agi.redact import mask_digits

SERVER = socket.gethostname()
"""The host a call record names as the server that answered the call or message."""

PHONE = "phone"
"""The channel of a phone call's record (a text conversation's is sms, viber, whatsapp)."""


class End(enum.StrEnum):
    """How a call or a conversation ended, as the report counts it."""

    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    CALLER_HUNG_UP = "caller_hung_up"
    IVR_HUNG_UP = "ivr_hung_up"
    """The IVR ended the call without readings (the window is closed, say)."""
    LIMIT_REACHED = "limit_reached"
    FAILED = "failed"
    WAITING = "waiting"
    """A text conversation that waits for the customer's next message."""
    ANSWERED = "answered"
    """A text conversation that ended with a reply and no readings (help, a refusal)."""


@dataclass(frozen=True)
class Visit:
    """A node of the path (a phone call), or a message's outcome (a text conversation),
    and the seconds spent there."""

    node: str
    seconds: float


@dataclass(frozen=True)
class CallRecord:
    channel: str
    source_id: str
    """The IVR's call id, or the id of the conversation's first message."""
    started_at: datetime
    ended_at: datetime
    end: End
    caller: str = "-"
    """Masked: `**********00`."""
    caller_key: str | None = None
    system: str | None = None
    """The Asterisk (its SYSTEMNAME) that carried the call."""
    server: str | None = None
    """The host of the IVR process that served it."""
    path: tuple[Visit, ...] = ()
    where: str | None = None
    """The last node (a phone call), or the last message's outcome (a text)."""
    reason: str | None = None
    """Why it was transferred, or which limit was reached."""
    refusals: tuple[str, ...] = ()
    submission: str | None = None
    """The source id the stored readings carry (the call id, or the accepted message id)."""
    resource: str | None = None
    """The resource of the accepted readings."""
    by_voice: bool = False
    id: int | None = field(default=None, compare=False)

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def masked_caller(number: str | None) -> str:
    return mask_digits(number)


END_OF = {
    Ending.TRANSFERRED: End.TRANSFERRED,
    Ending.CALLER_HUNG_UP: End.CALLER_HUNG_UP,
    Ending.HUNG_UP_BY_IVR: End.IVR_HUNG_UP,
    Ending.TIME_LIMIT: End.LIMIT_REACHED,
    Ending.STEP_LIMIT: End.LIMIT_REACHED,
    Ending.FAILED: End.FAILED,
}
"""How a call without accepted readings ended, by the engine's ending."""


def phone_record(
    report: CallReport,
    *,
    call_id: str,
    started_at: datetime,
    started: float,
    caller: str | None,
    system: str | None,
    server: str | None,
    accepted: bool,
    resource: str | None,
    refusals: Sequence[str],
    by_voice: bool,
) -> CallRecord:
    """The record of a phone call the engine walked; `started` is when it began on the
    dialog's clock, `started_at` the same moment on the wall clock."""
    steps = report.entries
    ends = [step.entered for step in steps[1:]] + [report.ended]
    path = tuple(
        Visit(step.node, round(max(0.0, end - step.entered), 3))
        for step, end in zip(steps, ends, strict=True)
    )
    end = End.ACCEPTED if accepted else END_OF[report.ending]
    reason = None
    if end is End.LIMIT_REACHED:
        reason = report.ending.value
    elif report.ending is Ending.TRANSFERRED:
        reason = _why(report)
    return CallRecord(
        channel=PHONE,
        source_id=call_id,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=max(0.0, report.ended - started)),
        end=end,
        caller=masked_caller(caller),
        system=system,
        server=server,
        path=path,
        where=steps[-1].node if steps else None,
        reason=reason,
        refusals=tuple(refusals),
        submission=call_id if accepted else None,
        resource=resource if accepted else None,
        by_voice=by_voice,
    )


def _why(report: CallReport) -> str | None:
    """Why a call was transferred: how the transfer was reached, or the node before it
    (a play node passes on the reason of the node before it)."""
    for step in reversed(report.entries):
        if step.arrival is not None:
            return step.arrival
    return None


def next_message(
    record: CallRecord | None,
    *,
    channel: str,
    sender: str,
    caller_key: str,
    message_id: str,
    at: datetime,
    outcome: str,
    waiting: bool,
    refusal: str | None,
    accepted_resource: str | None,
    server: str | None,
) -> CallRecord:
    """A text conversation's record after one more message: `record` is the conversation
    so far when it waits for this sender (`caller_key` finds it), None when this message
    starts one."""
    refusals = (refusal,) if refusal else ()
    if record is None or record.end is not End.WAITING:
        record = CallRecord(
            channel=channel,
            source_id=message_id,
            started_at=at,
            ended_at=at,
            end=End.WAITING,
            caller=masked_caller(sender),
            caller_key=caller_key,
            server=server,
        )
    elif record.path:
        last = record.path[-1]
        spent = max(0.0, (at - record.ended_at).total_seconds())
        record = replace(record, path=(*record.path[:-1], Visit(last.node, round(spent, 3))))
    if accepted_resource is not None:
        end = End.ACCEPTED
    elif waiting:
        end = End.WAITING
    elif outcome == "locked":
        end = End.LIMIT_REACHED
    else:
        end = End.ANSWERED
    return replace(
        record,
        ended_at=at,
        end=end,
        path=(*record.path, Visit(outcome, 0.0)),
        where=outcome,
        reason="locked_out" if end is End.LIMIT_REACHED else None,
        refusals=record.refusals + refusals,
        submission=message_id if accepted_resource else None,
        resource=accepted_resource,
    )
