"""The `ivr` command: check the flow, simulate a call, run the line, manage the database.

Each module of this package adds the commands of one area to `main`.
"""

from agi.cli import console, db, flow, install, line, prompts, report, speech, status, text
from agi.cli.common import main

__all__ = [
    "console",
    "db",
    "flow",
    "install",
    "line",
    "main",
    "prompts",
    "report",
    "speech",
    "status",
    "text",
]
