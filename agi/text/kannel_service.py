"""Kannel's sms-service for the IVR (`config/kannel/ivr-sms-service.conf`), filled in: the
secret Kannel sends and where it reaches `ivr web`. A pure function of the template's
text, as the nginx site is; every value is checked, so that none can end the quoted URL.
"""

from __future__ import annotations

import re
from pathlib import Path

from agi.text.placeholders import fill

SMS_SERVICE = Path("config/kannel/ivr-sms-service.conf")
"""The template, relative to the checkout (`agi.settings.shipped` finds it anywhere)."""
VALUES = {
    "KANNEL_SECRET": re.compile(r"^[A-Za-z0-9_-]{16,128}$"),
    "WEBHOOK": re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$"),
}


def render_sms_service(template: str, *, secret: str, webhook: str) -> str:
    """The sms-service with `secret` (URL-safe, 16 characters or more) and `webhook`
    (`127.0.0.1:8080`); ValueError for a value that cannot go into the URL."""
    return fill(
        template,
        {"KANNEL_SECRET": secret, "WEBHOOK": webhook},
        VALUES,
        what="Kannel's sms-service",
        secret=frozenset({"KANNEL_SECRET"}),
    )
