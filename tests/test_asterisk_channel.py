"""The AGI channel against literal protocol lines: what it sends, what it makes of replies.

A fake Asterisk is two in-memory streams: the lines Asterisk would send, and what the channel
wrote. The same channel runs against a real Asterisk in test_real_calls.py.
"""

from __future__ import annotations

import io
import re

import pytest

from agi.dialog.channel import CallerHungUp, KeyRequest, KeyStop
from agi.dialog.utterance import Digits, Number, Prompt
from agi.readings.callers import phone_number
from agi.telephony.asterisk_channel import AsteriskChannel

ENV = (
    "agi_request: agi://127.0.0.1:4573/readings\n"
    "agi_channel: PJSIP/caller-00000001\n"
    "agi_language: ru\n"
    "agi_uniqueid: 1795710000.1\n"
    "agi_callerid: +79120000000\n"
    "agi_calleridname: Caller\n"
    "agi_threadid: 1\n"
    "\n"
)
DIGITS = KeyRequest(
    allowed=frozenset("0123456789"),
    max_digits=12,
    first_timeout=6,
    inter_digit_timeout=4,
    terminator="#",
)


def channel(*replies: str, env: str = ENV, **options) -> tuple[AsteriskChannel, io.StringIO]:
    written = io.StringIO()
    reader = io.StringIO(env + "".join(f"{reply}\n" for reply in replies))
    return AsteriskChannel(reader, written, prompts_dir="/srv/ivr/prompts/ru", **options), written


def sent(written: io.StringIO) -> list[str]:
    return written.getvalue().splitlines()


def test_the_environment_names_the_call():
    chan, _ = channel()
    assert (chan.correlation_id, chan.caller_number) == ("1795710000.1", "+79120000000")


def test_every_call_gets_an_id_of_its_own_whatever_asterisk_calls_it():
    """Two Asterisks without a system name repeat each other's uniqueids; some give none."""
    same = [channel()[0] for _ in range(3)]
    none = [channel(env=ENV.replace("agi_uniqueid: 1795710000.1\n", ""))[0] for _ in range(3)]
    ids = [chan.call_id for chan in same + none]

    assert len(set(ids)) == 6
    assert all(re.fullmatch("[a-z]{24}", call_id) for call_id in ids)
    assert [chan.correlation_id for chan in same + none] == ["1795710000.1"] * 3 + [None] * 3


@pytest.mark.parametrize(
    ("arguments", "correlation_id"),
    [
        (["system=pbx-1", "linkedid=1795710000.1"], "pbx-1/1795710000.1"),
        (["system=pbx-1", "linkedid=1795709999.7"], "pbx-1/1795709999.7/1795710000.1"),
        (["system=", "linkedid="], "1795710000.1"),
        (["linkedid=1795709999.7", "system=pbx-1"], "pbx-1/1795709999.7/1795710000.1"),
        (["system=pbx 1; rm", "linkedid=x" * 30], "1795710000.1"),
    ],
)
def test_the_dialplan_names_the_asterisk_for_the_logs(arguments, correlation_id):
    given = "".join(f"agi_arg_{n}: {value}\n" for n, value in enumerate(arguments, 1))
    chan, _ = channel(env=given + ENV)
    assert chan.correlation_id == correlation_id


@pytest.mark.parametrize(
    ("callerid", "number"),
    [
        ("unknown", None),
        ("", None),
        ("Anonymous", None),
        ('7912"; EXEC', None),
        ("+7 (912) 000-00-00", "+79120000000"),
        ("89120000000", "+79120000000"),
        ("79995551234231", None),
    ],
)
def test_the_caller_number_is_stored_normalised_or_not_at_all(callerid, number):
    env = ENV.replace("agi_callerid: +79120000000", f"agi_callerid: {callerid}")
    chan, _ = channel(env=env)
    assert phone_number(chan.caller_number) == number


def test_a_caller_id_cannot_pose_as_another_environment_line():
    env = (
        "agi_uniqueid: 1795710000.1\n"
        "agi_callerid: 7912\n"
        "agi_uniqueid: forged\n"  # a CR/LF inside the caller ID, as Asterisk passes it on
        "not_agi: x\n"
        "\n"
    )
    chan, _ = channel(env=env)
    assert chan.correlation_id == "1795710000.1"
    assert "not_agi" not in chan.env


def test_keys_typed_after_the_prompt_end_with_the_terminator():
    chan, written = channel(
        "200 result=0 endpos=8000",
        "200 result=49",
        "200 result=49",
        "200 result=54",
        "200 result=35",
    )
    keys = chan.ask([Prompt("enter_reading", "Введите показания")], DIGITS)
    assert (keys.digits, keys.stop) == ("116", KeyStop.TERMINATOR)
    assert sent(written) == [
        'STREAM FILE "/srv/ivr/prompts/ru/enter_reading" "#0123456789"',
        'WAIT FOR DIGIT "6000"',
        'WAIT FOR DIGIT "4000"',
        'WAIT FOR DIGIT "4000"',
        'WAIT FOR DIGIT "4000"',
    ]


def test_a_key_during_the_prompt_stops_it_and_is_the_first_digit():
    chan, written = channel("200 result=49 endpos=2000", "200 result=50", "200 result=0")
    keys = chan.ask([Prompt("a", "…"), Prompt("b", "…")], DIGITS)
    assert (keys.digits, keys.stop) == ("12", KeyStop.TIMEOUT)
    assert sent(written)[0].startswith('STREAM FILE "/srv/ivr/prompts/ru/a"')
    assert not any("/b" in line for line in sent(written))
    assert sent(written)[1:] == ['WAIT FOR DIGIT "4000"', 'WAIT FOR DIGIT "4000"']


def test_a_timeout_is_not_an_empty_hash():
    silent, _ = channel("200 result=0 endpos=100", "200 result=0")
    hashed, _ = channel("200 result=0 endpos=100", "200 result=35")
    assert silent.ask([Prompt("a", "…")], DIGITS).nothing
    empty = hashed.ask([Prompt("a", "…")], DIGITS)
    assert (empty.digits, empty.stop, empty.nothing) == ("", KeyStop.TERMINATOR, False)


def test_keys_the_node_does_not_take_are_ignored():
    chan, _ = channel("200 result=0", "200 result=42", "200 result=55", "200 result=35")
    assert chan.ask([Prompt("a", "…")], DIGITS).digits == "7"


def test_numbers_and_digits_are_said_by_asterisk():
    chan, written = channel("200 result=0", "200 result=0")
    chan.play([Number(45055), Digits("102057522")])
    assert sent(written) == ['SAY NUMBER "45055" ""', 'SAY DIGITS "102057522" ""']


def test_a_number_beyond_what_asterisk_says_in_russian_is_said_digit_by_digit():
    chan, written = channel("200 result=0", "200 result=0")
    chan.play([Number(999_999_999), Number(1_000_000_000)])
    assert sent(written) == ['SAY NUMBER "999999999" ""', 'SAY DIGITS "1000000000" ""']


def test_a_missing_prompt_file_is_skipped_while_the_channel_lives():
    chan, written = channel("200 result=-1 endpos=0", "200 result=6", "200 result=0")
    chan.play([Prompt("missing", "…"), Number(5)])
    assert sent(written) == [
        'STREAM FILE "/srv/ivr/prompts/ru/missing" ""',
        "CHANNEL STATUS",
        'SAY NUMBER "5" ""',
    ]


@pytest.mark.parametrize(
    "replies",
    [
        ["HANGUP"],
        ["200 result=-1"],
        ["511 Command Not Permitted on a dead channel or intercept routine"],
        [],  # the connection closed
        ["200 result=-1 endpos=0", "511 Command Not Permitted on a dead channel"],
    ],
    ids=["HANGUP line", "result=-1", "511", "closed stream", "dead after a prompt"],
)
def test_every_sign_of_a_hangup_is_one_exception(replies):
    chan, _ = channel(*replies)
    with pytest.raises(CallerHungUp):
        chan.ask([Prompt("a", "…")], DIGITS)
    with pytest.raises(CallerHungUp):
        chan.play([Number(1)])  # and nothing is sent on a dead channel


def test_sighup_stops_the_next_command_before_it_is_sent():
    chan, written = channel("200 result=0", hangup_signalled=lambda: True)
    with pytest.raises(CallerHungUp):
        chan.play([Number(1)])
    assert sent(written) == []


def test_transfer_names_the_destination_for_the_dialplan():
    chan, written = channel("200 result=1")
    chan.transfer('operator"\nEXEC Dial')
    assert sent(written) == ['SET VARIABLE "IVR_TRANSFER" "operator\\" EXEC Dial"']


def test_no_environment_means_no_call():
    with pytest.raises(CallerHungUp):
        channel(env="")


def test_a_key_during_a_plain_prompt_before_a_question_is_its_first_key():
    chan, written = channel("200 result=0 endpos=100", "200 result=42", "200 result=50")
    chan.play([Prompt("hello", "…"), Prompt("tone", "…")], barge_in=True)
    menu = KeyRequest(
        allowed=frozenset("0123456789*#"), max_digits=1, first_timeout=6, inter_digit_timeout=4
    )
    assert chan.ask([Prompt("menu", "…")], menu).digits == "*"
    assert sent(written) == [
        'STREAM FILE "/srv/ivr/prompts/ru/hello" "#*0123456789"',
        'STREAM FILE "/srv/ivr/prompts/ru/tone" "#*0123456789"',
    ]


def test_a_plain_prompt_before_the_end_cannot_be_interrupted():
    chan, written = channel("200 result=0 endpos=100")
    chan.play([Prompt("readings_accepted", "…")])
    assert sent(written) == ['STREAM FILE "/srv/ivr/prompts/ru/readings_accepted" ""']
