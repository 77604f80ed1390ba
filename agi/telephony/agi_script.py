"""The per-call AGI script: Asterisk runs `ivr-agi` for each call, on stdin and stdout.

The simplest installation, and the dialplan's fallback when the FastAGI server does not
answer. stdout is the AGI protocol: nothing else may be written there.

The script takes the call (IVR_ANSWERED) only once it knows it can answer it: the settings
and the flow are checked first (both from the state folder's caches while what they are
made from is unchanged, so that such a call imports no pydantic), and when one cannot be
used it exits without a command, so the dialplan's operator branch takes the call instead.
The database is opened and its schema checked in a
background thread while the caller hears the greeting: SQLAlchemy, the readings service and
the database cost most of a start, and the flow needs none of them before its first action.
When the database cannot be used, that action is unavailable, and the flow says so and hands
the call to the operator (`defaults: on_unavailable`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import IO, Any

from agi.application import Application
from agi.dialog.channel import CallerHungUp
from agi.problems import ProblemsFound
from agi.redact import configure_logging, printable
from agi.settings import load_cached_settings
from agi.speech.availability import speech_off
from agi.telephony.asterisk_channel import AsteriskChannel

log = logging.getLogger(__name__)


class _Stdin:
    """The script's stdin, on which SIGHUP ends a read that waits for Asterisk.

    Python retries a read that a signal interrupted, so a handler that only noted the
    signal would leave the script waiting until Asterisk wrote something. The handler
    raises instead, but only inside such a read: anywhere else the hang-up is noticed at
    the next command.
    """

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.hung_up = False
        self._waiting = False

    def readline(self) -> str:
        if self.hung_up:
            raise CallerHungUp("SIGHUP")
        self._waiting = True
        try:
            return self.stream.readline()
        finally:
            self._waiting = False

    def on_sighup(self, _signum: int, _frame: object) -> None:
        self.hung_up = True
        if self._waiting:
            self._waiting = False
            raise CallerHungUp("SIGHUP")


def main() -> int:
    debug = os.environ.get("IVR_AGI_DEBUG", "") not in ("", "0")
    configure_logging(
        logging.DEBUG if debug else logging.WARNING,
        format="ivr-agi %(levelname)s %(name)s %(message)s",
    )
    stdin = _Stdin(sys.stdin)
    signal.signal(signal.SIGHUP, stdin.on_sighup)
    try:
        settings = load_cached_settings()
    except ProblemsFound as problems:
        log.error("the settings cannot be used; the call is left to the dialplan:\n%s", problems)
        return 1
    # A speech model takes seconds and hundreds of MB to load: never once per call.
    app = Application(settings, speech=speech_off("the per-call AGI script"))
    try:
        channel = AsteriskChannel(
            stdin,
            sys.stdout,
            prompts_dir=app.prompts_audio_dir,
            debug=debug,
            hangup_signalled=lambda: stdin.hung_up,
        )
    except CallerHungUp:
        return 0
    label = printable(channel.call_id)
    problem = _unusable(app)
    if problem:
        log.error("call=%s is left to the dialplan (not taken): %s", label, problem)
        return 1
    app.prepare_storage_in_background(
        lambda problem: log.error(
            "call=%s is told the readings cannot be taken and handed to the operator: %s",
            label,
            problem,
        )
    )
    try:
        channel.claim()
        outcome = app.answer(channel)
    except CallerHungUp:
        log.info("call=%s the caller hung up", label)
        return 0
    except Exception:
        log.exception("call=%s failed", label)
        return 1
    log.info("call=%s ended=%s", label, outcome.report.ending)
    _keep_record(app)
    return 0


def _keep_record(app: Application) -> None:
    """Write the call's record once Asterisk has the call back: closing stdout ends the AGI
    for Asterisk, which goes on with the dialplan while this process writes."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stdout.close()
    app.record_writer.flush()


def _unusable(app: Application) -> str | None:
    """Why this script cannot answer a call, or None: checked before it takes the call."""
    try:
        app.use_cached_menu()
    except ProblemsFound as problems:
        return f"the flow cannot be used; run `ivr check`:\n{problems}"
    return None


if __name__ == "__main__":
    sys.exit(main())
