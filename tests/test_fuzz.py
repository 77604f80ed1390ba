"""Fuzzing what strangers control, with hypothesis: the bodies posted to the webhook, and the
reply lines an Asterisk (or something posing as one) sends the FastAGI server.

The invariant is the same on both: never a 5xx (never a crashed call), and never a stored
row that the customer did not confirm. The webhook's own log, at its most verbose, is then
searched for every number and text that was sent. The number of examples is bounded
(`IVR_FUZZ_EXAMPLES`, default 60 each) so that CI stays quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from asterisk.agi import re_kv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agi.application import Application
from agi.storage.database import connect
from agi.storage.models import SubmissionRow
from agi.telephony.fastagi import FastAgiServer
from agi.telephony.protocol import AgiCommandError
from tests.agi_replies import environment as agi_environment
from tests.agi_replies import reply as normal_reply
from tests.asterisk_peer import play_call
from tests.test_fastagi import running
from tests.test_text_webhook import SECRET, SECRET_HEADER, environment, ivr_web  # noqa: F401 - a fixture

EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- webhook bodies --------------------------------------------------------------------------

CONTRACTS = st.sampled_from(["102057522", "123859", "176354", "777333"]) | st.from_regex(
    r"\A[1-9][0-9]{5,11}\Z"
)
READINGS = st.integers(0, 10**9).map(str)
SENDERS = st.from_regex(r"\A\+79[0-9]{9}\Z")
MARKERS = st.from_regex(r"\Azq[a-z]{10}\Z")
"""A word that cannot occur in a log line unless a text was logged."""
COMMANDS = st.builds(
    lambda contract, values, marker: " ".join(["ПС", contract, *values, marker]),
    CONTRACTS,
    st.lists(READINGS, max_size=3),
    MARKERS,
)
JUNK_JSON = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        '"\\ud800"',
        '"\\udfff x"',
        "[" * 600 + "]" * 600,
        '{"a": {"b": []}}',
        "null",
        "true",
        "12345678901234567890",
        '"' + "x" * 5000 + '"',
    ]
)


@dataclass
class Sent:
    body: bytes
    numbers: set[str] = field(default_factory=set)
    marker: str | None = None


@st.composite
def bodies(draw: st.DrawFn) -> Sent:
    """A message body as a gateway would send it, or one a stranger has bent."""
    sender, text = draw(SENDERS), draw(COMMANDS)
    fields = {
        "channel": draw(st.sampled_from(["sms", "viber", "whatsapp", "telegram"])),
        "sender": sender,
        "message_id": f"fz-{uuid.uuid4().hex}",
        "text": text,
    }
    raw = {
        key: json.dumps(value, ensure_ascii=draw(st.booleans())) for key, value in fields.items()
    }
    bend = draw(st.sampled_from(["none", "junk value", "junk key", "drop", "repeat", "bytes"]))
    if bend == "junk value":
        raw[draw(st.sampled_from(sorted(raw)))] = draw(JUNK_JSON)
    elif bend == "drop":
        raw.pop(draw(st.sampled_from(sorted(raw))))
    pairs = [f"{json.dumps(key)}: {value}" for key, value in raw.items()]
    if bend == "junk key":
        pairs.append(f'"\\ud83d{draw(st.text(max_size=5))}": 1')
    if bend == "repeat":
        pairs.append(f'"text": {json.dumps(draw(COMMANDS))}')
    body = ("{" + ", ".join(pairs) + "}").encode()
    if bend == "bytes":
        body = body[: draw(st.integers(0, len(body)))] + draw(st.binary(max_size=20))
    numbers = {sender.removeprefix("+"), *re.findall(r"[0-9]{6,}", text)}
    return Sent(body, numbers, text.rsplit(" ", 1)[1])


def accepted_sources(url: str) -> set[str]:
    engine = connect(url)
    try:
        with Session(engine) as session:
            return set(session.scalars(select(SubmissionRow.source_id)))
    finally:
        engine.dispose()


def test_fuzzed_bodies_never_get_a_5xx_store_only_what_was_answered_and_leave_no_trace(
    environment: dict[str, str],  # noqa: F811
) -> None:
    sent: list[Sent] = []
    accepted: set[str] = set()
    with ivr_web(environment, "-v") as web, httpx.Client(base_url=web.url, timeout=10) as client:

        @FUZZ
        @given(body=bodies())
        def post(body: Sent) -> None:
            response = client.post(
                "/messages",
                content=body.body,
                headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
            )
            assert response.status_code < 500, (response.status_code, body.body)
            assert response.status_code in (200, 400, 409, 413, 422), response.text
            if response.status_code == 200 and response.json()["accepted"]:
                accepted.add(response.json()["message_id"])
            sent.append(body)

        post()
        log = web.log()
    assert accepted_sources(environment["IVR_DATABASE_URL"]) <= accepted
    for body in sent:
        for number in body.numbers:
            assert number not in log, f"{number} is in the log"
        assert body.marker not in log
    assert "Traceback" not in log


# --- AGI reply lines -------------------------------------------------------------------------

SEED_KEYS = "*2102057522#11638#1"
REPLY_LINES = st.one_of(
    st.sampled_from(
        [
            "HANGUP",
            "200 result=-1",
            "511 Command Not Permitted on a dead channel or intercept routine",
            "510 Invalid or unknown command",
            "520-Invalid command syntax.  Proper usage follows:",
            "200 result=",
            "200 result=49",
            "200 result=50 (dtmf) endpos=8000",
            "200 result=35",
            "200 result=0 (timeout)",
            "200",
            "",
            "agi_uniqueid: forged",
            "200 result=999999999999999999999",
            "200 result=-49",
        ]
    ),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    st.builds(lambda n: f"200 result={n}", st.integers(-5, 300)),
)


@dataclass
class Script:
    keys: list[str]
    bent: dict[int, str]
    """Command number: the line sent instead of Asterisk's normal reply."""


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    bent = draw(st.dictionaries(st.integers(0, 30), REPLY_LINES, max_size=3))
    return Script(list(SEED_KEYS), bent)


async def bent_call(port: int, script: Script, uniqueid: str, caller: str) -> list[tuple[str, str]]:
    """A call that answers like Asterisk except where the script bends a reply; the
    commands and what was answered to each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    exchanged: list[tuple[str, str]] = []
    keys, variables = list(script.keys), {}
    try:
        writer.write(agi_environment(uniqueid, caller).encode())
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), 20)
            if not line:
                break
            command = line.decode().strip()
            answer = script.bent.get(len(exchanged))
            if answer is None:
                answer = normal_reply(command, keys, variables) or "HANGUP"
            exchanged.append((command, answer))
            writer.write(answer.encode("utf-8", "replace") + b"\n")
            await writer.drain()
            if answer == "HANGUP" or command.startswith("HANGUP"):
                break
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    return exchanged


KEY_COMMANDS = ("STREAM FILE", "SAY ", "WAIT FOR DIGIT")
"""The commands whose `result=` is a key."""


def keys_in(command: str, answer: str) -> str:
    """The keys an answer gave, as the channel reads it: the ASCII code of a prompt's or a
    key wait's result, GET DATA's one key (none with `(timeout)`, `#` for an empty answer,
    none for anything longer), or the keys Read() collected (GET FULL VARIABLE's value
    before `|`)."""
    if command.startswith("GET DATA"):
        if answer.endswith("(timeout)"):
            return ""
        typed = re.fullmatch(r"200 result=([0-9*#]?)", answer)
        return (typed[1] or "#") if typed else ""
    if command.startswith(KEY_COMMANDS):
        key = re.match(r"200 result=([0-9]+)(\s|$)", answer)
        return chr(int(key[1]) % 0x110000) if key and int(key[1]) else ""
    if command.startswith("GET FULL VARIABLE") and answer.startswith("200"):
        values = dict((k, d) for k, _, d in re_kv.findall(answer))
        return values.get("result", "").rpartition("|")[0]
    return ""


def confirmed(exchanged: list[tuple[str, str]]) -> bool:
    """The caller pressed 1 once the read-back had begun: during it (a key stops the
    prompts) or after it."""
    read_back = False
    for command, answer in exchanged:
        if "/you_entered" in command:
            read_back = True
        if read_back and keys_in(command, answer)[:1] == "1":
            return True
    return False


def typed_reading(exchanged: list[tuple[str, str]]) -> str:
    """The digits typed for the reading that was last read back: from the last question
    for it before that read-back to `#`."""
    commands = [command for command, _ in exchanged]
    read_back = max(i for i, command in enumerate(commands) if "/you_entered" in command)
    asked = max(i for i in range(read_back) if "/enter_reading" in commands[i])
    keys = ""
    for command, answer in exchanged[asked:read_back]:
        if "/you_entered" in command:  # keys during a read-back answer its question
            break
        typed = keys_in(command, answer)
        if "#" in typed:
            keys += "".join(k for k in typed.partition("#")[0] if k in "0123456789")
            break
        keys += "".join(k for k in typed if k in "0123456789")
    return keys


@pytest.fixture
def server(always_open: Application) -> Iterator[FastAgiServer]:
    """The server, with no guessing limit in the way: the examples refuse many readings."""
    always_open.settings = always_open.settings.model_copy(
        update={"max_refused_readings_per_contract": 10**9}
    )
    with running(always_open, reply_seconds=5) as fastagi:
        yield fastagi


def test_fuzzed_agi_replies_never_crash_a_call_nor_store_what_was_not_confirmed(
    server: FastAgiServer,
    always_open: Application,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reply the IVR cannot use ends the call the flow's way (to the operator), as a
    hang-up, or, when Asterisk's very first answer is not AGI, as a failed call the
    dialplan sends elsewhere; never by any other error, and the server serves on."""

    @FUZZ
    @given(script=scripts())
    def one_call(script: Script) -> None:
        uniqueid = uuid.uuid4().hex
        caller = f"+7913{int(uniqueid, 16) % 10**7:07d}"  # a caller of its own: no lockout
        exchanged = asyncio.run(bent_call(server.port, script, uniqueid, caller))
        with Session(always_open.repository.engine) as session:
            rows = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.correlation_id == uniqueid)
                .options(selectinload(SubmissionRow.readings))
            ).all()
        heard_accepted = any("readings_accepted" in command for command, _ in exchanged)
        if rows:  # what is stored was read back, and confirmed
            assert confirmed(exchanged), exchanged
            (value,) = [r.value for row in rows for r in row.readings]
            assert str(value) == typed_reading(exchanged).lstrip("0"), exchanged
        if heard_accepted:
            assert rows, exchanged

    one_call()
    escaped = {
        record.exc_info[0]
        for record in caplog.records
        if record.name == "agi.telephony.fastagi" and record.exc_info
    }
    assert escaped <= {AgiCommandError}
    after = asyncio.run(play_call("127.0.0.1", server.port, "*2 102057522# 11638# 1", call_id="x"))
    assert after.accepted
