"""The nginx site in front of the webhook (`config/nginx/ivr-webhook.conf`), filled in.

A pure function of the template's text: installing the site is the installation's job.
Every value is checked before it goes into the configuration, so that none can end a
directive early or open a block of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

from agi.text.placeholders import fill

SITE_TEMPLATE = Path("config/nginx/ivr-webhook.conf")
"""The template, relative to the checkout (`agi.settings.shipped` finds it anywhere)."""
CONSOLE_SITE_TEMPLATE = Path("config/nginx/ivr-console.conf")
"""The staff console's site, filled in the same way (its upstream in WEBHOOK)."""
DEFAULT_ACCESS_LOG = "/var/log/nginx/ivr-webhook.access.log"

_NAME = r"[A-Za-z0-9*_-][A-Za-z0-9.*_-]*"
VALUES = {
    "SERVER_NAME": re.compile(rf"^{_NAME}( {_NAME})*$"),
    "LISTEN": re.compile(r"^[A-Za-z0-9.:\[\]_-]+( (default_server|ssl|http2|reuseport))*$"),
    "WEBHOOK": re.compile(r"^[A-Za-z0-9.\[\]:_-]+:[0-9]{1,5}$"),
    "ACCESS_LOG": re.compile(r"^(off|/[A-Za-z0-9._/-]+ ivr_webhook)$"),
}


def render_site(
    template: str,
    *,
    server_name: str,
    listen: str,
    webhook: str,
    access_log: str = DEFAULT_ACCESS_LOG,
) -> str:
    """The site with its placeholders filled in: `server_name` (one or more names),
    `listen` (`127.0.0.1:8443`, `443 ssl`), `webhook` (`127.0.0.1:8080`), `access_log`
    (a file or `off`). ValueError for a value nginx would read as something else, or a
    placeholder nothing fills in."""
    values = {
        "SERVER_NAME": server_name,
        "LISTEN": listen,
        "WEBHOOK": webhook,
        "ACCESS_LOG": access_log if access_log == "off" else f"{access_log} ivr_webhook",
    }
    return fill(template, values, VALUES, what="the nginx site")
