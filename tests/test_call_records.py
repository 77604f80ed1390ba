"""Every phone call and text conversation leaves one record: how it ended, where, why, and
the time spent at each node. The calls run through the real engine, actions and database;
the clock is the test's, moving 5 s whenever the caller is asked for keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agi import installation
from agi.application import Application, CallOutcome
from agi.dialog.simulator import KeypadChannel, ScriptedRecogniser
from agi.records.caller_keys import SECRET_FILE, CallerSecretError, caller_keys
from agi.records.record import End
from agi.speech.recognition import Speech
from agi.storage.call_records import CallRecords
from agi.text.dialog import IncomingMessage, TextChannel, text_dialog_for
from tests.conftest import IN_WINDOW

ASK_SECONDS = 5.0
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TimedChannel(KeypadChannel):
    """A keypad call on which every question takes the caller 5 s to answer."""

    def __init__(self, clock: Clock, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def ask(self, utterances, request):
        self.clock.now += ASK_SECONDS
        return super().ask(utterances, request)


def call(app: Application, keys: str, *, at: datetime = IN_WINDOW) -> CallOutcome:
    clock = Clock()
    channel = TimedChannel(clock, "call-1", "+79121234567", keys=keys)
    outcome = app.answer(channel, now=lambda: at, clock=clock)
    app.record_writer.flush()
    return outcome


def records(app: Application) -> list:
    return app.call_records.between(*EVER)


@dataclass
class Ended:
    keys: str
    end: End
    where: str
    path: str = field(kw_only=True)
    """The nodes the call went through, in order."""
    reason: str | None = None
    refusals: Sequence[str] = ()
    asks: int = 0
    """Questions asked (`*` leads to the main menu, another one): 5 s each."""
    at: datetime = IN_WINDOW


TO_CONTRACT = "greeting tone_mode main_menu check_window find_caller ask_contract find_contract"
TO_READING = f"{TO_CONTRACT} next_zone ask_reading check_reading"
ENDINGS = {
    "accepted": Ended(
        "*2 102057522# 11638# 1",
        End.ACCEPTED,
        "accepted",
        path=f"{TO_READING} confirm_reading keep_reading next_zone submit accepted",
        asks=5,
    ),
    "the caller asks for the operator": Ended(
        "0", End.TRANSFERRED, "operator", path="greeting tone_mode operator", reason="key 0", asks=1
    ),
    "transferred after three unknown contracts": Ended(
        "*2 999999# 888888# 777777#",
        End.TRANSFERRED,
        "failed_to_operator",
        path=f"{TO_CONTRACT} contract_unknown ask_contract find_contract contract_unknown "
        "ask_contract find_contract contract_unknown failed_to_operator",
        reason="max_failures",
        refusals=["unknown_contract"] * 3,
        asks=5,
    ),
    "transferred after three refused readings": Ended(
        "*2 102057522# 1# 2# 3#",
        End.TRANSFERRED,
        "failed_to_operator",
        path=f"{TO_READING} reading_rejected ask_reading check_reading reading_rejected "
        "ask_reading check_reading reading_rejected failed_to_operator",
        reason="max_failures",
        refusals=["below_previous"] * 3,
        asks=6,
    ),
    "transferred when the readback gets no answer": Ended(
        "*2 102057522# 11638# ...",
        End.TRANSFERRED,
        "failed_to_operator",
        path=f"{TO_READING} confirm_reading failed_to_operator",
        reason="no_input",
        asks=7,
    ),
    "hung up in the middle of a reading": Ended(
        "*2 102057522# 116",
        End.CALLER_HUNG_UP,
        "ask_reading",
        path=f"{TO_CONTRACT} next_zone ask_reading",
        asks=4,
    ),
    "hung up after the first of two zones": Ended(
        "*2 123859# 1 45055# 1",
        End.CALLER_HUNG_UP,
        "ask_reading",
        path=f"{TO_CONTRACT} choose_resource pick_resource next_zone ask_reading check_reading "
        "confirm_reading keep_reading next_zone ask_reading",
        asks=7,
    ),
    "hung up by the IVR: the window is closed": Ended(
        "*2",
        End.IVR_HUNG_UP,
        "window_closed",
        path="greeting tone_mode main_menu check_window window_closed",
        asks=2,
        at=datetime(2026, 11, 10, 9, tzinfo=UTC),
    ),
}


@pytest.mark.parametrize("case", ENDINGS.values(), ids=ENDINGS.keys())
def test_the_record_of_each_way_a_call_ends(app, case):
    call(app, case.keys, at=case.at)
    (record,) = records(app)
    assert (record.end, record.where, record.reason, list(record.refusals)) == (
        case.end,
        case.where,
        case.reason,
        list(case.refusals),
    )
    assert record.channel == "phone"
    assert record.caller == "**********67"
    assert "79121234567" not in repr(record)
    assert record.started_at == case.at
    assert record.seconds == case.asks * ASK_SECONDS
    assert [visit.node for visit in record.path] == case.path.split()
    assert sum(visit.seconds for visit in record.path) == case.asks * ASK_SECONDS
    accepted = case.end is End.ACCEPTED
    assert record.submission == ("call-1" if accepted else None)
    assert record.resource == ("electricity" if accepted else None)


def test_the_time_spent_at_each_node(app):
    call(app, "*2 102057522# 11638# 1")
    (record,) = records(app)
    waited = {visit.node: visit.seconds for visit in record.path if visit.seconds}
    assert waited == {
        "tone_mode": 5,
        "main_menu": 5,
        "ask_contract": 5,
        "ask_reading": 5,
        "confirm_reading": 5,
    }


def test_a_call_that_reaches_the_time_limit(editable):
    flow = editable.settings.flow_path
    flow.write_text(flow.read_text().replace("call_seconds: 600", "call_seconds: 30"))
    call(editable, "*2 102057522# 11600# 2 11600# 2 11600# 2 11638# 1")  # 6 questions: 30 s
    (record,) = records(editable)
    assert (record.end, record.reason, record.where) == (
        End.LIMIT_REACHED,
        "time_limit",
        "failed_to_operator",
    )


def test_a_call_the_engine_fails_on(app):
    class Broken(TimedChannel):
        def play(self, utterances, *, barge_in=False):
            if any("показания" in getattr(u, "text", "") for u in utterances):
                raise RuntimeError("the line broke")
            super().play(utterances, barge_in=barge_in)

    clock = Clock()
    app.answer(Broken(clock, "call-1", None, keys="*2 102057522#"), now=lambda: IN_WINDOW)
    app.record_writer.flush()
    (record,) = records(app)
    assert (record.end, record.caller) == (End.FAILED, "-")


def test_a_database_that_fails_is_a_transfer_for_unavailable(app):
    with app.repository.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE meter_registers")
    call(app, "*2 102057522# 11638# 1")
    (record,) = records(app)
    assert (record.end, record.reason, record.where) == (
        End.TRANSFERRED,
        "unavailable",
        "unavailable_to_operator",
    )


def test_no_records_when_they_are_off(app):
    app.settings = app.settings.model_copy(update={"call_records": False})
    assert call(app, "*2 102057522# 11638# 1").accepted
    assert records(app) == []


def test_a_record_that_cannot_be_written_loses_no_call(app, caplog):
    with app.repository.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE call_records")
    outcome = call(app, "*2 102057522# 11638# 1")
    assert outcome.accepted
    assert "call record(s) could not be written" in caplog.text


# --- text conversations -----------------------------------------------------------------

SENDER = "+79127654321"


@dataclass
class Message:
    text: str
    minutes: int = 0
    """Minutes after the conversation's first message."""


@dataclass
class Conversation:
    messages: list[Message]
    end: End
    outcomes: list[str]
    refusals: Sequence[str] = ()
    accepted_by: int | None = None
    """Which message (from 0) stored the readings."""


CONVERSATIONS = {
    "the seed's single-tariff message": Conversation(
        [Message("ПС 102057522 11638")], End.ACCEPTED, ["accepted"], accepted_by=0
    ),
    "two-tariff in two messages": Conversation(
        [Message("ПС 123859"), Message("45055 23186", minutes=2)],
        End.ACCEPTED,
        ["asked", "accepted"],
        accepted_by=1,
    ),
    "a refused reading, then the right one": Conversation(
        [Message("ПС 102057522 11000"), Message("11638", minutes=1)],
        End.ACCEPTED,
        ["below_previous", "accepted"],
        refusals=["below_previous"],
        accepted_by=1,
    ),
    "an unknown contract": Conversation(
        [Message("ПС 999999 1")], End.ANSWERED, ["unknown"], refusals=["unknown_contract"]
    ),
    "asked for the zones, and never answered": Conversation(
        [Message("ПС 123859")], End.WAITING, ["asked"]
    ),
    "a message that is no command": Conversation([Message("привет")], End.ANSWERED, ["help"]),
}


@pytest.mark.parametrize("case", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_the_record_of_each_way_a_text_conversation_ends(app, case):
    dialog = text_dialog_for(app.settings, app.repository)
    for number, message in enumerate(case.messages):
        dialog.answer(
            IncomingMessage(TextChannel.SMS, SENDER, f"m{number}", message.text),
            at=IN_WINDOW + timedelta(minutes=message.minutes),
        )
    (record,) = CallRecords(app.repository.engine).between(*EVER)
    assert record.channel == "sms"
    assert (record.end, [visit.node for visit in record.path], list(record.refusals)) == (
        case.end,
        case.outcomes,
        list(case.refusals),
    )
    assert record.source_id == "m0"
    assert record.caller == "**********21"
    assert record.caller_key == keyed(app.settings.state_dir, f"sms\n{SENDER}")
    last = case.messages[-1].minutes
    assert record.seconds == last * 60
    assert record.path[0].seconds == (case.messages[1].minutes * 60 if last else 0)
    accepted = case.accepted_by is not None
    assert record.submission == (f"m{case.accepted_by}" if accepted else None)
    assert record.resource == ("electricity" if accepted else None)


def test_each_conversation_its_own_record_and_a_redelivery_none(app):
    dialog = text_dialog_for(app.settings, app.repository)
    seed = IncomingMessage(TextChannel.SMS, SENDER, "m1", "ПС 102057522 11638")
    dialog.answer(seed, at=IN_WINDOW)
    dialog.answer(seed, at=IN_WINDOW)  # the gateway delivers it again
    dialog.answer(IncomingMessage(TextChannel.VIBER, SENDER, "m2", "ПС 999999 1"), at=IN_WINDOW)
    found = CallRecords(app.repository.engine).between(*EVER)
    assert [(r.channel, r.end) for r in found] == [("sms", End.ACCEPTED), ("viber", End.ANSWERED)]


# --- callers' keys ---------------------------------------------------------------------


def keyed(state_dir: Path, text: str) -> str:
    """The key of `text` under the installation's secret, computed here from the file."""
    secret = (state_dir / SECRET_FILE).read_bytes().strip()
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:32]


def test_a_callers_key_is_the_same_in_one_installation_and_no_plain_hash(tmp_path):
    one, again = caller_keys(tmp_path / "state"), caller_keys(tmp_path / "state")
    other = caller_keys(tmp_path / "another")
    key = one.of("sms", SENDER)
    assert again.of("sms", SENDER) == key == keyed(tmp_path / "state", f"sms\n{SENDER}")
    assert re.fullmatch(r"[0-9a-f]{32}", key), key
    assert key != hashlib.sha256(f"sms\n{SENDER}".encode()).hexdigest()[:32]
    assert other.of("sms", SENDER) != key
    assert one.of("viber", SENDER) != key
    assert one.of("sms", "+79127654320") != key
    assert stat.S_IMODE((tmp_path / "state" / SECRET_FILE).stat().st_mode) == 0o600


def test_processes_that_make_the_secret_at_once_agree_on_it(tmp_path):
    state = tmp_path / "state"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: caller_keys(state).of("sms", SENDER), range(32)))
    assert keys == {keyed(state, f"sms\n{SENDER}")}
    assert [p.name for p in state.iterdir()] == [SECRET_FILE]


def test_the_installed_secret_is_the_one_the_records_use(tmp_path):
    layout = installation.Layout(tmp_path)
    installation.apply(installation.plan(installation.Options(root=tmp_path)), dry_run=False)
    secret = layout.state / "state" / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    kept = secret.read_bytes()
    assert len(kept.strip()) >= 40
    assert caller_keys(secret.parent).of("sms", SENDER) == keyed(secret.parent, f"sms\n{SENDER}")
    installation.apply(installation.plan(installation.Options(root=tmp_path)), dry_run=False)
    assert secret.read_bytes() == kept


MENDED = "chmod 640 {secret} and chgrp ivr {secret}"


@pytest.mark.parametrize(
    ("content", "mode", "said"),
    [
        (b"", 0o600, "the callers' secret {secret} is empty: delete it to make one"),
        (
            b"a secret of the installation\n",
            0o644,
            "anyone on this server can read the callers' secret {secret}: " + MENDED,
        ),
        (
            b"a secret of the installation\n",
            0o660,
            "others on this server can change the callers' secret {secret} (to one they "
            "know): " + MENDED,
        ),
        (
            b"a secret of the installation\n",
            0o602,
            "others on this server can change the callers' secret {secret} (to one they "
            "know): " + MENDED,
        ),
    ],
    ids=["empty", "anyone may read it", "its group may change it", "anyone may change it"],
)
def test_a_secret_that_cannot_be_used_is_refused_with_words(tmp_path, content, mode, said):
    secret = tmp_path / SECRET_FILE
    secret.write_bytes(content)
    secret.chmod(mode)
    with pytest.raises(CallerSecretError) as refused:
        caller_keys(tmp_path)
    assert str(refused.value) == said.format(secret=secret)


def test_a_conversation_goes_on_in_another_process_of_the_installation(app):
    first, second = (text_dialog_for(app.settings, app.repository) for _ in range(2))
    first.answer(IncomingMessage(TextChannel.SMS, SENDER, "m1", "ПС 123859"), at=IN_WINDOW)
    second.answer(IncomingMessage(TextChannel.SMS, SENDER, "m2", "45055 23186"), at=IN_WINDOW)
    (record,) = CallRecords(app.repository.engine).between(*EVER)
    assert (record.end, [visit.node for visit in record.path]) == (
        End.ACCEPTED,
        ["asked", "accepted"],
    )


# --- retention ------------------------------------------------------------------------


def test_db_purge_removes_old_records_and_answered_message_ids(app, cli):
    now = datetime.now(tz=UTC)
    dialog = text_dialog_for(app.settings, app.repository)
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    for at, name in ((old, "old"), (recent, "recent")):
        dialog.answer(IncomingMessage(TextChannel.SMS, SENDER, name, "привет"), at=at)
        call(app, "0", at=at)
    result = cli("db", "purge")
    assert result.exit_code == 0, result.output
    assert "2 call records and 1 answered message ids older than 90 days removed" in result.output
    kept = CallRecords(app.repository.engine).between(*EVER)
    assert {r.started_at for r in kept} == {recent}
    assert dialog.conversations.delivery("sms", "old") is None
    assert dialog.conversations.delivery("sms", "recent") is not None


def test_a_conversation_record_that_cannot_be_written_loses_no_message(app, caplog):
    with app.repository.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE call_records")
    dialog = text_dialog_for(app.settings, app.repository)
    message = IncomingMessage(TextChannel.SMS, SENDER, "m1", "ПС 102057522 11638")
    assert dialog.answer(message, at=IN_WINDOW).accepted
    assert [row.value for row in app.repository.export("2026-11")] == [11638]
    assert dialog.conversations.delivery("sms", "m1") is not None
    assert "a text conversation's call record was not kept" in caplog.text


def test_a_sender_locked_out_is_a_conversation_that_reached_a_limit(app):
    dialog = text_dialog_for(app.settings, app.repository)
    allowed = app.settings.max_unknown_contracts_per_caller
    for number in range(allowed):
        message = IncomingMessage(TextChannel.SMS, SENDER, f"m{number}", f"ПС 99999{number} 1")
        dialog.answer(message, at=IN_WINDOW + timedelta(minutes=number))
    found = CallRecords(app.repository.engine).between(*EVER)
    assert [r.end for r in found] == [End.ANSWERED] * (allowed - 1) + [End.LIMIT_REACHED]
    assert (found[-1].reason, found[-1].refusals) == ("locked_out", ("locked_out",))


def test_a_call_answered_by_voice_is_marked_so(app):
    app.speech = Speech(ScriptedRecogniser(), "the test hears the words in quotes")
    spoken = '. "один ноль два ноль пять семь пять два два" "одиннадцать тысяч шестьсот тридцать восемь" "да"'  # noqa: E501
    assert call(app, spoken).accepted
    (record,) = records(app)
    assert (record.end, record.by_voice) == (End.ACCEPTED, True)
    assert "offer_voice" in [visit.node for visit in record.path]
