"""The per-call AGI script: Asterisk runs `ivr-agi` for each call, on stdin and stdout.

The simplest installation, and the dialplan's fallback when the FastAGI server does not
answer. stdout is the AGI protocol: nothing else may be written there.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from agi.application import Application
from agi.dialog.channel import CallerHungUp
from agi.problems import ProblemsFound
from agi.redact import configure_logging, printable
from agi.settings import load_settings
from agi.speech.recognition import speech_off
from agi.telephony.asterisk_channel import AsteriskChannel

log = logging.getLogger(__name__)


def main() -> int:
    debug = os.environ.get("IVR_AGI_DEBUG", "") not in ("", "0")
    configure_logging(
        logging.DEBUG if debug else logging.WARNING,
        format="ivr-agi %(levelname)s %(name)s %(message)s",
    )
    hung_up = False

    def on_sighup(_signum: int, _frame: object) -> None:
        nonlocal hung_up
        hung_up = True

    signal.signal(signal.SIGHUP, on_sighup)
    try:
        # A speech model takes seconds and hundreds of MB to load: never once per call.
        app = Application(load_settings(), speech=speech_off("the per-call AGI script"))
        channel = AsteriskChannel(
            sys.stdin,
            sys.stdout,
            prompts_dir=app.prompts_audio_dir,
            debug=debug,
            hangup_signalled=lambda: hung_up,
        )
    except CallerHungUp:
        return 0
    except ProblemsFound as problems:
        log.error("the flow cannot be used; run `ivr check`:\n%s", problems)
        return 1
    try:
        channel.claim()
        outcome = app.answer(channel)
    except CallerHungUp:
        return 0
    except Exception:
        log.exception("call=%s failed", printable(channel.call_id))
        return 1
    log.info("call=%s ended=%s", printable(channel.call_id), outcome.report.ending)
    return 0


if __name__ == "__main__":
    sys.exit(main())
