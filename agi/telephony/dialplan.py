"""The channel variables the IVR and the dialplan tell each other by, in one place.

The IVR sets them with SET VARIABLE; `config/asterisk/extensions.conf` reads them after
each AGI() to decide where the call goes next.
"""

import re

ANSWERED = "IVR_ANSWERED"
"""`1` once the IVR has taken the call: the dialplan does not run it again elsewhere,
whatever AGISTATUS says."""

TRANSFER = "IVR_TRANSFER"
"""Where the IVR hands the call when it ends (a flow's `transfer: to`, such as `operator`);
the dialplan alone decides what that name leads to."""

BUSY = "IVR_BUSY"
"""`1` when the FastAGI server is at its limit: the dialplan runs the per-call AGI script."""

OUTCOME = "IVR_OUTCOME"
"""What the call achieved: `accepted` once the caller's readings are stored. The dialplan
logs it when the call ends, with IVR_TRANSFER; `ivr call` reads that line."""

ASTERISK_ID = re.compile(r"\A[A-Za-z0-9._-]{1,40}\Z")
"""What a part of Asterisk's id of a call may hold (a system name, a linkedid, a uniqueid):
the dialplan passes them to the IVR (`system=${SYSTEMNAME}`), the private line sets the first."""
