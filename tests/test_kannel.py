"""SMS through a real Kannel: Debian's bearerbox and smsbox on loopback, the shipped
sms-service (`config/kannel/ivr-sms-service.conf`), and fakesmsc as the operator's SMSC.

Each message is sent from fakesmsc as a phone sends Cyrillic (UCS-2); Kannel posts it to
`ivr web`'s POST /kannel, and the reply comes back out of fakesmsc, where the test reads it
part by part: the texts the README shows, at most two SMS, UCS-2. Kannel is started once for
the module; the webhook answers on a day within the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agi.settings import Settings
from agi.storage.models import SubmissionRow
from agi.storage.repository import Repository
from agi.text.dialog import text_dialog_for
from agi.text.gateway import MAX_MESSAGE_ID, Refused
from agi.text.gateway_routes import Gateways
from agi.text.kannel import MAX_REPLY, check_caller, incoming
from agi.text.kannel_service import SMS_SERVICE, render_sms_service
from tests.conftest import BILLING_IMPORTED, IN_WINDOW, ROOT
from tests.support import demo_database, free_port
from tests.test_text_dialog import (
    ACCEPTED,
    ASK_DAY_NIGHT,
    DAY_NIGHT_ROWS,
    SEED_ROW,
    decimal,
    failing_store,
)
from tests.test_text_webhook import serving

TEMPLATE = (ROOT / SMS_SERVICE).read_text(encoding="utf-8")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
KANNEL = shutil.which("bearerbox", path="/usr/sbin:/usr/bin") and FAKESMSC.exists()
REQUIRED = os.environ.get("IVR_REQUIRE_KANNEL", "") not in ("", "0")
SECRET = "kannel-test-secret-0123456789"
SHORT_CODE = "5520"
UNKNOWN = "Договор 999999 не найден. Проверьте номер в квитанции."
PERIOD = "2026-11"
COULD_NOT_FETCH = "Pokazaniya ne prinyaty: servis nedostupen. Otpravte ih pozzhe."
"""What the README has smsbox send when the IVR cannot answer at all: Kannel sends its own
replies in the GSM alphabet, so in Latin letters."""


def real_kannel(test: Any) -> Any:
    """A test that runs the real bearerbox, smsbox and fakesmsc."""
    skip = pytest.mark.skipif(
        not KANNEL and not REQUIRED, reason="Kannel is not installed (apt-get install kannel)"
    )
    return pytest.mark.gateway(skip(test))


@dataclass(frozen=True)
class Sms:
    """One SMS that came out of fakesmsc: who it went to and its part of the message."""

    sender: str
    receiver: str
    coding: str
    text: str
    part: int = 1
    parts: int = 1


class SmsBox:
    """bearerbox and smsbox on free loopback ports, with the shipped sms-service."""

    def __init__(self, folder: Path, webhook: str, *, secret: str = SECRET) -> None:
        self.folder = folder
        self.smsc_port = free_port()
        boxes = free_port()
        service = render_sms_service(TEMPLATE, secret=secret, webhook=webhook)
        (folder / "kannel.conf").write_text(
            f"""group = core
admin-port = {free_port()}
admin-password = test-only
smsbox-port = {boxes}
box-allow-ip = 127.0.0.1
log-level = 1
log-file = "{folder}/bearerbox.log"

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxes}
log-level = 1
log-file = "{folder}/smsbox.log"
mo-recode = true
reply-couldnotfetch = "{COULD_NOT_FETCH}"
http-timeout = 2
http-request-retry = 2
http-queue-delay = 1

{service}"""
        )
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        conf = str(self.folder / "kannel.conf")
        for box in ("bearerbox", "smsbox"):
            self.processes.append(
                subprocess.Popen(
                    [shutil.which(box, path="/usr/sbin:/usr/bin") or box, conf],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            self._await_log(
                f"{box}.log", "smsbox" if box == "bearerbox" else "Connected to bearerbox"
            )

    def _await_log(self, name: str, words: str) -> None:
        """Wait until a box is up: bearerbox listens for boxes, smsbox has connected."""
        log = self.folder / name
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for process in self.processes:
                assert process.poll() is None, (log.read_text() if log.exists() else "")[-2000:]
            if name == "bearerbox.log" and log.exists() and "Start-up done" in log.read_text():
                return
            if name == "smsbox.log" and log.exists() and words in log.read_text():
                return
            time.sleep(0.05)
        raise AssertionError(
            f"{name} did not start in 15 s: {(log.read_text() if log.exists() else '')[-2000:]}"
        )

    def send(self, sender: str, text: str, *, seconds: float = 15) -> list[Sms]:
        """Send one SMS from `sender` as UCS-2 through fakesmsc; the SMS of the reply."""
        data = urllib.parse.quote(text.encode("utf-16-be"))
        fake = subprocess.Popen(
            [
                str(FAKESMSC),
                "-H",
                "127.0.0.1",
                "-r",
                str(self.smsc_port),
                "-m",
                "1",
                f"{sender} {SHORT_CODE} ucs2 {data}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        got: list[Sms] = []
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert fake.stdout is not None
            for raw in fake.stdout:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if "Got message" in line:
                    got.append(_sms(line))
                    if len(got) == got[0].parts:
                        done.set()
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        done.wait(seconds)
        fake.terminate()
        fake.wait(5)
        assert done.is_set(), "no reply came out of fakesmsc:\n" + "".join(lines[-20:])
        return sorted(got, key=lambda sms: sms.part)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _sms(line: str) -> Sms:
    """One line of fakesmsc: `Got message N: <from to ucs-2 DATA>`, or with a concatenation
    header `<from to udh UDH data DATA>` (UDH 05 00 03 ref parts part)."""
    inner = line.split(": <", 1)[1].rsplit(">", 1)[0]
    sender, receiver, kind, rest = inner.split(" ", 3)
    part = parts = 1
    if kind == "udh":
        udh, kind, rest = rest.split(" ", 2)
        header = _octets(udh)
        assert header[:3] == b"\x05\x00\x03", header
        parts, part = header[4], header[5]
    if kind == "text":
        return Sms(sender, receiver, "7bit", rest, part, parts)
    # in a concatenated message the coding is not on the line: UCS-2 text is UTF-16BE
    return Sms(sender, receiver, "ucs-2", _octets(rest).decode("utf-16-be"), part, parts)


def _octets(url_encoded: str) -> bytes:
    return urllib.parse.unquote_to_bytes(url_encoded.replace("+", " "))


def reply_of(parts: list[Sms]) -> str:
    return "".join(sms.text for sms in parts)


class Recorder:
    """The webhook, keeping the id and status of each request Kannel made. While `late` is
    set, the first delivery of each message is answered after Kannel's http-timeout: a
    webhook that stored the reading but answered too late."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, int]] = []
        self.late = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
        message_id = query.get("id", [""])[0]
        late = self.late and message_id not in {seen for seen, _ in self.requests}
        held: list[Any] = []
        statuses: list[int] = []

        async def observed(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            if late:
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, observed)
        self.requests.append((message_id, statuses[0] if statuses else 0))
        if late:
            await asyncio.sleep(3)  # longer than http-timeout: Kannel gives up and retries
            with contextlib.suppress(Exception):  # Kannel has closed the connection
                for message in held:
                    await send(message)


@dataclass
class Line:
    box: SmsBox
    recorder: Recorder
    repository: Repository
    url: str


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    folder = tmp_path_factory.mktemp("kannel")
    database = f"sqlite:///{folder / 'ivr.db'}"
    repository = demo_database(database, at=BILLING_IMPORTED)
    settings = Settings(database_url=database, flow_path=ROOT / "ivr_flows.yaml")
    from agi.text.webhook import create_app

    dialog = text_dialog_for(settings, repository, now=lambda: IN_WINDOW)
    app = create_app(
        dialog,
        secret=None,
        gateways=Gateways(kannel_secret=SECRET, kannel_addresses=("127.0.0.1/32",)),
    )
    recorder = Recorder(app)
    with serving(recorder) as url:
        box = SmsBox(folder, url.removeprefix("http://"))
        box.start()
        try:
            yield Line(box, recorder, repository, url)
        finally:
            box.stop()
    repository.engine.dispose()


def stored(repository: Repository) -> list[tuple[str, str, str, int]]:
    return [(r.resource, r.contract, r.zone, r.value) for r in repository.export(PERIOD)]


def submissions(repository: Repository) -> int:
    with Session(repository.engine) as session:
        return session.scalar(select(func.count()).select_from(SubmissionRow)) or 0


# --- the seed's messages through Kannel ----------------------------------------------------

SCRIPT = [
    # (sender, text, reply, rows stored after it)
    ("+79120000000", "ПС 102057522 11638", ACCEPTED, [SEED_ROW]),
    ("+79120000001", "ПС 123859", ASK_DAY_NIGHT, [SEED_ROW]),
    ("89120000001", "45055 23186", ACCEPTED, [SEED_ROW, *DAY_NIGHT_ROWS]),
    (
        "+79120000002",
        "ПС 102057522 11638,5",
        decimal("11638,5", "ПС 102057522 11638"),
        [SEED_ROW, *DAY_NIGHT_ROWS],
    ),
    ("+79120000003", "ПС 999999 100", UNKNOWN, [SEED_ROW, *DAY_NIGHT_ROWS]),
]


@real_kannel
def test_the_seed_messages_come_back_as_sms(line: Line) -> None:
    """`89120000001` is the same sender as `+79120000001`: its conversation goes on. (The
    module's other tests share the database: only the rows this script adds count.)"""
    before = stored(line.repository)
    for sender, text, reply, rows in SCRIPT:
        parts = line.box.send(sender, text)
        assert reply_of(parts) == reply, text
        assert len(parts) <= 2 and len(reply) <= MAX_REPLY
        assert all(sms.coding == "ucs-2" for sms in parts), parts
        assert all(sms.receiver == sender and sms.sender == SHORT_CODE for sms in parts)
        assert len(parts) == (1 if len(reply) <= 70 else 2), (reply, parts)
        assert [r for r in stored(line.repository) if r not in before] == rows, text
    exported = line.repository.export(PERIOD)
    added = [r for r in exported if (r.resource, r.contract, r.zone, r.value) not in before]
    assert [row.channel for row in added] == ["sms"] * 3


@real_kannel
def test_a_redelivery_after_a_timeout_is_answered_and_stored_once(line: Line) -> None:
    """The webhook stores the reading but answers after Kannel's http-timeout: smsbox posts
    the message again with the same id, and the customer gets the reply of the first
    delivery, with the reading stored once."""
    before = submissions(line.repository)
    line.recorder.late = True
    try:
        parts = line.box.send("+79120000004", "ПС 176354 40", seconds=20)
    finally:
        line.recorder.late = False
    assert reply_of(parts) == ACCEPTED
    (message_id, _), *redelivered = line.recorder.requests[-2:]
    assert [seen for seen, _ in redelivered] == [message_id]
    assert submissions(line.repository) == before + 1
    assert ("cold_water", "176354", "single", 40) in stored(line.repository)


# --- who may post ------------------------------------------------------------------------


def kannel_post(url: str, *, auth: tuple[str, str] | None, source: str = "127.0.0.1") -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        response = client.post(
            f"{url}/kannel",
            params={"id": "auth-probe", "from": "+79120000009", "to": SHORT_CODE},
            content="ПС 102057522 11638".encode(),
            headers={"content-type": "text/plain; charset=UTF-8"},
            auth=auth,
        )
    return response.status_code


@real_kannel
@pytest.mark.parametrize(
    ("auth", "source", "status"),
    [
        (None, "127.0.0.1", 401),
        (("kannel", "wrong-secret-0123456789"), "127.0.0.1", 401),
        (("someone", SECRET), "127.0.0.1", 401),
        (("kannel", SECRET), "127.0.0.2", 403),
    ],
)
def test_only_kannel_with_its_secret_and_address_is_heard(
    line: Line, auth: tuple[str, str] | None, source: str, status: int
) -> None:
    before = submissions(line.repository)
    assert kannel_post(line.url, auth=auth, source=source) == status
    assert submissions(line.repository) == before


# --- the shipped sms-service --------------------------------------------------------------


def test_the_sms_service_is_filled_in() -> None:
    text = render_sms_service(TEMPLATE, secret="s" * 32, webhook="127.0.0.1:8080")
    assert (
        f'post-url = "http://kannel:{"s" * 32}@127.0.0.1:8080/kannel?id=%I&from=%p&to=%P"' in text
    )
    for line in ("max-messages = 2", "concatenation = true", "assume-plain-text = true",
                 "accept-x-kannel-headers = true", "catch-all = true"):  # fmt: skip
        assert line in text.splitlines()
    assert "@@" not in text


@pytest.mark.parametrize(
    ("secret", "webhook"),
    [
        ('s3cret" text = "owned', "127.0.0.1:8080"),
        ("short", "127.0.0.1:8080"),
        ("s" * 32, "127.0.0.1:8080/x?"),
        ("s" * 32, "evil@host:80"),
    ],
)
def test_a_value_that_would_end_the_url_is_refused(secret: str, webhook: str) -> None:
    with pytest.raises(ValueError, match="cannot go into Kannel's sms-service") as refused:
        render_sms_service(TEMPLATE, secret=secret, webhook=webhook)
    assert secret not in str(refused.value)


def test_ivr_install_writes_the_sms_service_and_its_secret_for_the_ivr_group_only(
    tmp_path: Path,
) -> None:
    from agi.installation import USER, Options, plan

    entries = {entry.path: entry for entry in plan(Options(root=tmp_path))}
    service = entries[tmp_path / "etc" / "ivr" / "kannel-sms-service.conf"]
    gateways = entries[tmp_path / "etc" / "ivr" / "ivr.d" / "60-gateways.yaml"]
    assert (service.mode, service.group, service.keep) == (0o640, USER, True)
    assert (gateways.mode, gateways.group, gateways.keep) == (0o640, USER, True)
    secret = gateways.content.decode().split("kannel_secret: ", 1)[1].split("\n", 1)[0]
    assert f"http://kannel:{secret}@127.0.0.1:8080/kannel?" in service.content.decode()


# --- when the database fails -------------------------------------------------------------


@real_kannel
def test_a_message_the_database_failed_is_posted_again_and_answered(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery finds the database failing (503); smsbox posts it again after
    http-queue-delay, and the customer gets the reply, with the reading stored once."""
    from agi.storage import conversations

    real_store = conversations.store
    failures = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            failing_store()
        return real_store(*args, **kwargs)

    monkeypatch.setattr(conversations, "store", fails_once)
    before = submissions(line.repository)
    parts = line.box.send("+79120000005", "ПС 123859 гв 20")
    assert reply_of(parts) == ACCEPTED
    statuses = [status for _, status in line.recorder.requests[-2:]]
    assert statuses == [503, 200]
    assert submissions(line.repository) == before + 1


@real_kannel
def test_a_database_that_stays_down_gets_the_customer_a_reply(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every delivery gets 503; once smsbox has tried them all, the customer is told to
    send the readings later, and nothing is stored."""
    from agi.storage import conversations

    monkeypatch.setattr(conversations, "store", failing_store)
    before = submissions(line.repository)
    parts = line.box.send("+79120000006", "ПС 176354 41", seconds=20)
    assert [(sms.coding, sms.text) for sms in parts] == [("7bit", COULD_NOT_FETCH)]
    assert [status for _, status in line.recorder.requests[-3:]] == [503] * 3
    assert submissions(line.repository) == before


def test_the_readme_shows_the_shipped_sms_service() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```\ngroup = sms-service\n", 1)[1].split("```", 1)[0]
    shipped = render_sms_service(TEMPLATE, secret="k" * 32, webhook="127.0.0.1:8080")
    settings = [line for line in shipped.splitlines() if line and not line.startswith("#")]
    assert ["group = sms-service", *shown.splitlines()] == [
        line.replace("k" * 32, "<kannel_secret>") for line in settings
    ]


@pytest.mark.parametrize(
    "authorization",
    ["Basic ключ", "Basic " + "é" * 40, "Basic", "Digest x", ""],
    ids=["cyrillic", "latin-1", "no credentials", "another scheme", "empty"],
)
def test_credentials_that_are_not_kannels_are_refused_401(authorization: str) -> None:
    with pytest.raises(Refused) as refused:
        check_caller(authorization, "127.0.0.1", secret=SECRET, addresses=["127.0.0.1"])
    assert refused.value.status == 401


def test_the_longest_message_id_fits_the_database_with_its_prefix() -> None:
    longest = incoming(
        {"id": "x" * MAX_MESSAGE_ID, "from": "+79120000000"}, b"hi", None, region="RU"
    )
    assert len(longest.message_id) <= 128  # text_messages.message_id, submissions.source_id
    with pytest.raises(Refused) as refused:
        incoming(
            {"id": "x" * (MAX_MESSAGE_ID + 1), "from": "+79120000000"}, b"hi", None, region="RU"
        )
    assert 400 <= refused.value.status < 500
