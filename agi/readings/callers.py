"""Who is calling or writing, and how much guessing they are allowed: plain rules, no I/O.

A caller's number is kept in one form, E.164 (`+79120000000`), whatever the network sent
(`89120000000`, `+7 912 000-00-00`); what is not a valid number is dropped, never merged
into one. The limits count failed attempts per caller and per contract over a sliding
window; the counts themselves live in the database (`agi.storage.attempts`), so that every
server and webhook instance shares them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_REGION = "RU"
PHONE_TEXT = re.compile(r"\+?[0-9][0-9 ()\-]{0,30}")
"""What a phone number may be written with: digits, a leading `+`, spaces, dashes and
brackets. Letters are never read as digits (phonenumbers would take `8-800-FLOWERS`)."""
UNKNOWN_CALLER = frozenset({"", "unknown", "anonymous", "restricted", "private"})


def phone_number(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when `raw` is not a valid phone number of `region`'s
    numbering (or an international one): `8 912 000-00-00` and `+7 912 000 00 00` are both
    `+79120000000`; `79995551234231` (stray digits after a number) is None."""
    if raw is None:
        return None
    text = raw.strip()
    if text.lower() in UNKNOWN_CALLER or not PHONE_TEXT.fullmatch(text):
        return None
    import phonenumbers  # its metadata costs a per-call process before its first number

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_region(code: str) -> bool:
    """Whether `code` is a region phone numbers can be read in (`RU`, `KZ`...)."""
    if code == DEFAULT_REGION:
        return True  # the settings' default, checked on every start without the look-up
    import phonenumbers

    return code in phonenumbers.SUPPORTED_REGIONS


class Limit(enum.StrEnum):
    """What a count of failed attempts is kept for."""

    CALLER = "caller"
    """Unknown contract numbers given by one caller number or text sender."""
    ANONYMOUS = "anonymous"
    """Unknown contract numbers given by calls without a caller number, all together."""
    CONTRACT = "contract"
    """Refused readings of one contract number, from anyone."""


ANONYMOUS_KEY = "-"


@dataclass(frozen=True)
class Guesser:
    """Whose unknown contract numbers are counted together."""

    limit: Limit
    key: str


def guesser(number: str | None, *, channel: str, sender: str | None = None) -> Guesser:
    """The count a caller's unknown contract numbers go to: their phone number (the same
    over the phone and by text), the messenger's id of a sender that has no phone number,
    or the one shared count of every call without a caller number."""
    if number is not None:
        return Guesser(Limit.CALLER, number)
    if sender:
        return Guesser(Limit.CALLER, f"{channel}:{sender}")
    return Guesser(Limit.ANONYMOUS, ANONYMOUS_KEY)


@dataclass(frozen=True)
class GuessLimits:
    """How many failed attempts are allowed within `window` before the line says no."""

    window: timedelta = timedelta(hours=1)
    unknown_per_caller: int = 5
    unknown_without_caller_id: int = 3
    refused_per_contract: int = 10

    def allowed(self, limit: Limit) -> int:
        return {
            Limit.CALLER: self.unknown_per_caller,
            Limit.ANONYMOUS: self.unknown_without_caller_id,
            Limit.CONTRACT: self.refused_per_contract,
        }[limit]

    def reached(self, limit: Limit, failures: int) -> bool:
        """Whether `failures` within the window lock this caller or contract out."""
        return failures >= self.allowed(limit)
