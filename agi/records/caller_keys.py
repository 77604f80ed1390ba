"""Callers' keys: what finds one sender's conversation again without keeping the sender's
number. A key is an HMAC-SHA256 of the channel and the number under the installation's
secret, so that hashing every number of a region finds no one; the keys of one
installation are the same in all its processes, those of another differ.

The secret is a file in the state folder: `ivr install` makes it, readable by the service's
group; a process that finds none makes one, readable by its user alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from agi.atomic_file import create_file
from agi.file_access import anyone_may_read, others_may_write, owner_and_service_only

SECRET_FILE = "caller-keys.secret"


class CallerSecretError(Exception):
    """The callers' secret cannot be read, made or trusted; the text says what to do."""


def new_secret() -> str:
    """The text of a new secret: 32 random bytes, URL-safe, on one line."""
    return secrets.token_urlsafe(32) + "\n"


@dataclass(frozen=True)
class CallerKeys:
    secret: bytes = field(repr=False)

    def of(self, channel: str, sender: str) -> str:
        message = f"{channel}\n{sender}".encode("utf-8", "surrogatepass")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]


def caller_keys(state_dir: Path) -> CallerKeys:
    """The keys of the installation whose state folder is `state_dir`, by the secret kept
    there (made now when there is none); CallerSecretError when it cannot be used."""
    path = state_dir / SECRET_FILE
    try:
        return CallerKeys(_read(path))
    except FileNotFoundError:
        pass
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        create_file(path, new_secret(), mode=0o600)
    except FileExistsError:
        pass  # another process made it first: its secret is the installation's
    except OSError as error:
        raise CallerSecretError(
            f"cannot make the callers' secret {path}: {error.strerror or error}"
        ) from None
    return CallerKeys(_read(path))


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            if anyone_may_read(mode):
                raise CallerSecretError(
                    f"anyone on this server can read the callers' secret {path}: "
                    f"{owner_and_service_only(path)}"
                )
            if others_may_write(mode):
                raise CallerSecretError(
                    f"others on this server can change the callers' secret {path} (to one "
                    f"they know): {owner_and_service_only(path)}"
                )
            secret = stream.read().strip()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise CallerSecretError(
            f"cannot read the callers' secret {path}: {error.strerror or error}"
        ) from None
    if not secret:
        raise CallerSecretError(f"the callers' secret {path} is empty: delete it to make one")
    return secret
