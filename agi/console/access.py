"""Who may see and do what: the dependencies that the console's routes declare.

- `require_login`: a signed-in member of staff (`Staff`), or the sign-in page;
- `require_editor`: an editor; a supervisor is refused with 403;
- `require_csrf`: a changing request carries the session's token, in the form field `csrf`
  or the header `X-CSRF-Token`; refused with 403 otherwise. It returns the form's fields.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 1024 * 1024
"""The largest form the console reads (an edited flow file fits many times)."""


@dataclass(frozen=True)
class Staff:
    name: str
    role: str

    @property
    def editor(self) -> bool:
        return self.role == "editor"


class Refused(Exception):
    """A request the console answers with an error page: `status` and what to do."""

    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


class LoginNeeded(Exception):
    """No one is signed in: a page goes to the sign-in form, anything else gets 401."""


def require_login(request: Request) -> Staff:
    staff = getattr(request.state, "staff", None)
    if staff is None:
        raise LoginNeeded
    return staff


def require_editor(staff: Annotated[Staff, Depends(require_login)]) -> Staff:
    if not staff.editor:
        raise Refused(
            403,
            "Only an editor can do this",
            f"{staff.name} is signed in as a supervisor: supervisors read, editors save. "
            "Ask an editor, or an administrator for an editor's account.",
        )
    return staff


async def require_csrf(request: Request) -> dict[str, str]:
    """The fields of the request's form (empty for a request without one), once its token
    matches the session's."""
    fields = await form_fields(request)
    given = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD, "")
    expected = request.state.session.csrf
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(
            403,
            "The form has expired",
            "This form was not sent by the page the console gave you, or the page is too "
            "old (you signed in or out since). Open the page again and repeat what you did.",
        )
    return fields


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value of a repeated one); {} for other bodies."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "The form is too large", "Send less than 1 MiB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(
            400, "The form is not UTF-8", "Send the form from the console's page."
        ) from None
    return dict(parse_qsl(text, keep_blank_values=True))


Login = Annotated[Staff, Depends(require_login)]
Editor = Annotated[Staff, Depends(require_editor)]
Form = Annotated[dict[str, str], Depends(require_csrf)]
"""Route parameter types: `def save(staff: Editor, form: Form)`."""
