"""Staff passwords, hashed by argon2 (argon2-cffi's defaults, RFC 9106's second choice)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

MIN_LENGTH = 10
"""The shortest password an account may have."""


def hash_password(password: str) -> str:
    """The encoded hash to store: algorithm, parameters, salt and hash in one string."""
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_new_hash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


def password_problem(password: str) -> str | None:
    """Why a new password cannot be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if password != password.strip():
        return "the password may not begin or end with a space"
    return None


def waste_time(password: str) -> None:
    """Spend a verification's time on a name that has no account, so that a sign-in's speed
    does not tell which names exist."""
    password_matches(_DUMMY, password)


_DUMMY = _HASHER.hash("no account has this password")
