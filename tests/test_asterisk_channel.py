"""The AGI channel against literal protocol lines: what it sends, what it makes of replies.

A fake Asterisk is two in-memory streams: the lines Asterisk would send, and what the channel
wrote. The same channel runs against a real Asterisk in test_real_calls.py.
"""

from __future__ import annotations

import io
import logging
import re
import signal
import threading
import time

import pytest

from agi.dialog.channel import CallerHungUp, KeyRequest, KeyStop
from agi.dialog.utterance import Digits, Number, Prompt
from agi.readings.callers import phone_number
from agi.telephony.asterisk_channel import AsteriskChannel
from agi.telephony.protocol import AgiCommandError

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


TIMEOUTS = ['SET VARIABLE "TIMEOUT(response)" "6"', 'SET VARIABLE "TIMEOUT(digit)" "4"']
READ_BACK = 'GET FULL VARIABLE "${IVR_KEYS1}|${READSTATUS}"'


def read(files: str, count: int = 12, terminator: str = "#", n: int = 1) -> str:
    return f'EXEC "Read" "IVR_KEYS{n},{files},{count},t({terminator})"'


@pytest.mark.parametrize(
    ("utterances", "replies", "typed", "commands"),
    [
        (  # the prompt and the keys are Read's: nothing waits on this side between keys
            [Prompt("enter_reading", "…")],
            ["200 result=1", "200 result=1", "200 result=0", "200 result=1 (116|OK)"],
            ("116", KeyStop.TERMINATOR),
            [*TIMEOUTS, read("/srv/ivr/prompts/ru/enter_reading"), READ_BACK],
        ),
        (  # several prompt files play in one Read, each interruptible
            [Prompt("a", "…"), Prompt("b", "…")],
            [
                "200 result=1",
                "200 result=1",
                "200 result=0",
                "200 result=1 (12|TIMEOUT)",
                "200 result=0",
            ],
            ("12", KeyStop.TIMEOUT),
            [*TIMEOUTS, read("/srv/ivr/prompts/ru/a&/srv/ivr/prompts/ru/b"), READ_BACK, "ANSWER"],
        ),
        (  # a timeout is not an empty #
            [Prompt("a", "…")],
            [
                "200 result=1",
                "200 result=1",
                "200 result=0",
                "200 result=1 (|TIMEOUT)",
                "200 result=0",
            ],
            ("", KeyStop.TIMEOUT),
            [*TIMEOUTS, read("/srv/ivr/prompts/ru/a"), READ_BACK, "ANSWER"],
        ),
        (
            [Prompt("a", "…")],
            ["200 result=1", "200 result=1", "200 result=0", "200 result=1 (|OK)"],
            ("", KeyStop.TERMINATOR),
            [*TIMEOUTS, read("/srv/ivr/prompts/ru/a"), READ_BACK],
        ),
        (  # keys the node does not take are ignored
            [Prompt("a", "…")],
            ["200 result=1", "200 result=1", "200 result=0", "200 result=1 (*7|OK)"],
            ("7", KeyStop.TERMINATOR),
            [*TIMEOUTS, read("/srv/ivr/prompts/ru/a"), READ_BACK],
        ),
        (  # a number is said first, with barge-in; the prompt after it is Read's
            [Number(11638), Prompt("confirm", "…")],
            [
                "200 result=0",
                "200 result=1",
                "200 result=1",
                "200 result=0",
                "200 result=1 (|TIMEOUT)",
                "200 result=0",
            ],
            ("", KeyStop.TIMEOUT),
            [
                'SAY NUMBER "11638" "#0123456789"',
                *TIMEOUTS,
                read("/srv/ivr/prompts/ru/confirm"),
                READ_BACK,
                "ANSWER",
            ],
        ),
        (  # a key during the number is the first key: the rest waits the between-keys time
            [Number(11638), Prompt("confirm", "…")],
            [
                "200 result=52",
                "200 result=1",
                "200 result=1",
                "200 result=0",
                "200 result=1 (2|OK)",
            ],
            ("42", KeyStop.TERMINATOR),
            [
                'SAY NUMBER "11638" "#0123456789"',
                'SET VARIABLE "TIMEOUT(response)" "4"',
                'SET VARIABLE "TIMEOUT(digit)" "4"',
                read("", count=11),
                READ_BACK,
            ],
        ),
    ],
    ids=["terminator", "two prompts", "timeout", "empty hash", "ignored key", "number", "barge-in"],
)
def test_keys_are_collected_inside_asterisk(utterances, replies, typed, commands):
    chan, written = channel(*replies)
    keys = chan.ask(utterances, DIGITS)
    assert (keys.digits, keys.stop) == typed
    assert sent(written) == commands


def test_the_timeouts_are_set_once_while_they_stay_the_same():
    answer = ["200 result=0", "200 result=1 (5|OK)"]
    chan, written = channel("200 result=1", "200 result=1", *answer, *answer)
    chan.ask([Prompt("a", "…")], DIGITS)
    chan.ask([Prompt("b", "…")], DIGITS)
    assert sent(written)[4:] == [
        read("/srv/ivr/prompts/ru/b", n=2),
        'GET FULL VARIABLE "${IVR_KEYS2}|${READSTATUS}"',
    ]


def test_read_stopping_at_its_count_on_an_ignored_key_goes_on_key_by_key():
    menu = KeyRequest(frozenset("12"), max_digits=1, first_timeout=6, inter_digit_timeout=4)
    replies = ["200 result=1", "200 result=1", "200 result=0", "200 result=1 (5|OK)"]
    chan, written = channel(*replies, "200 result=50")
    keys = chan.ask([Prompt("wrong_key", "…"), Prompt("menu", "…")], menu)
    assert (keys.digits, keys.stop) == ("2", KeyStop.MAX_DIGITS)
    assert sent(written)[-3:] == [
        read("/srv/ivr/prompts/ru/wrong_key&/srv/ivr/prompts/ru/menu", 1, ""),
        READ_BACK,
        'WAIT FOR DIGIT "6000"',
    ]


MENU = KeyRequest(frozenset("*20"), max_digits=1, first_timeout=6, inter_digit_timeout=4)
HASH_ENDS = KeyRequest(
    frozenset("12"), max_digits=1, first_timeout=6, inter_digit_timeout=4, terminator="#"
)
STAR_ENDS = KeyRequest(
    frozenset("0123456789"), max_digits=1, first_timeout=6, inter_digit_timeout=4, terminator="*"
)
HASH_TAKEN = KeyRequest(frozenset("1#"), max_digits=1, first_timeout=6, inter_digit_timeout=4)
TWO_KEYS = KeyRequest(frozenset("0123456789"), max_digits=2, first_timeout=6, inter_digit_timeout=4)


def get_data(path: str = "/srv/ivr/prompts/ru/menu", wait: int = 6000) -> str:
    return f'GET DATA "{path}" "{wait}" "1"'


@pytest.mark.parametrize(
    ("request_", "utterances", "replies", "typed", "commands"),
    [
        (MENU, [Prompt("menu", "…")], ["200 result=*"], ("*", KeyStop.MAX_DIGITS), [get_data()]),
        (  # GET DATA marks a wait without a key
            MENU,
            [Prompt("menu", "…")],
            ["200 result= (timeout)"],
            ("", KeyStop.TIMEOUT),
            [get_data()],
        ),
        (  # GET DATA ends on # with nothing: a key this menu does not take, so it waits on
            MENU,
            [Prompt("menu", "…")],
            ["200 result=", "200 result=50"],
            ("2", KeyStop.MAX_DIGITS),
            [get_data(), 'WAIT FOR DIGIT "6000"'],
        ),
        (  # an answer that # ends
            HASH_ENDS,
            [Prompt("menu", "…")],
            ["200 result="],
            ("", KeyStop.TERMINATOR),
            [get_data()],
        ),
        (
            HASH_TAKEN,
            [Prompt("menu", "…")],
            ["200 result="],
            ("#", KeyStop.MAX_DIGITS),
            [get_data()],
        ),
        (  # another terminator comes as itself
            STAR_ENDS,
            [Prompt("menu", "…")],
            ["200 result=*"],
            ("", KeyStop.TERMINATOR),
            [get_data()],
        ),
        (  # a missing prompt file: the channel lives, so the key is waited for without it
            MENU,
            [Prompt("menu", "…")],
            ["200 result=-1", "200 result=6", "200 result=0"],
            ("0", KeyStop.MAX_DIGITS),
            [get_data(), "CHANNEL STATUS", get_data("")],
        ),
        (  # a number first, with barge-in; the prompt after it is GET DATA's
            MENU,
            [Number(5), Prompt("menu", "…")],
            ["200 result=0", "200 result=2"],
            ("2", KeyStop.MAX_DIGITS),
            ['SAY NUMBER "5" "*02"', get_data()],
        ),
        (  # the last key of two, after one typed during the number: the between-keys wait
            TWO_KEYS,
            [Number(5), Prompt("menu", "…")],
            ["200 result=52", "200 result=7"],
            ("47", KeyStop.MAX_DIGITS),
            ['SAY NUMBER "5" "0123456789"', get_data("", 4000)],
        ),
    ],
    ids=[
        "key",
        "timeout",
        "ignored hash",
        "hash ends",
        "hash taken",
        "star ends",
        "missing file",
        "number",
        "last of two",
    ],
)
def test_one_key_comes_with_get_data_whose_reply_is_the_key(
    request_, utterances, replies, typed, commands
):
    chan, written = channel(*replies)
    keys = chan.ask(utterances, request_)
    assert (keys.digits, keys.stop) == typed
    assert sent(written) == commands


@pytest.mark.parametrize(
    "replies",
    [
        ["200 result=-1", "511 Command Not Permitted on a dead channel or intercept routine"],
        ["HANGUP"],
        ["511 Command Not Permitted on a dead channel or intercept routine"],
    ],
    ids=["result=-1 on a dead channel", "HANGUP line", "511"],
)
def test_a_hang_up_during_get_data_is_a_hang_up(replies):
    chan, written = channel(*replies)
    with pytest.raises(CallerHungUp):
        chan.ask([Prompt("menu", "…")], MENU)
    assert get_data("") not in sent(written)


def test_a_hang_up_during_read_is_a_hang_up():
    """Asterisk answers EXEC and GET FULL VARIABLE on a dead channel too; ANSWER, after a
    Read that did not end with OK, tells (511)."""
    dead = "511 Command Not Permitted on a dead channel or intercept routine"
    for replies in (
        ["200 result=-1"],
        ["200 result=0", "200 result=1 (12|HANGUP)"],
        ["200 result=0", "200 result=1 (|TIMEOUT)", dead],
        ["200 result=0", "200 result=0", dead],
    ):
        chan, _ = channel("200 result=1", "200 result=1", *replies)
        with pytest.raises(CallerHungUp):
            chan.ask([Prompt("a", "…")], DIGITS)


def test_a_hangup_line_before_read_is_asked_for_its_answer_is_a_hang_up_at_once():
    """FastAGI sends HANGUP when the caller goes, ahead of the reply it belongs before: the
    answer's reply is not read as the next command's."""
    chan, written = channel(
        "200 result=1", "200 result=1", "200 result=0", "HANGUP", "200 result=1 (|TIMEOUT)"
    )
    with pytest.raises(CallerHungUp):
        chan.ask([Prompt("a", "…")], DIGITS)
    assert "ANSWER" not in sent(written)


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
        'STREAM FILE "/srv/ivr/prompts/ru/missing" "" "0"',
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


class BrokenPipe(io.StringIO):
    """A socket whose caller's side has gone: `broken` (write or flush) raises EPIPE."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        if self.broken == "write":
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)

    def flush(self) -> None:
        if self.broken == "flush" and self.getvalue():
            self.attempts += 1
            raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("broken", ["write", "flush"])
def test_a_broken_pipe_is_a_hang_up_and_the_next_command_is_not_sent(broken):
    writer = BrokenPipe(broken)
    chan = AsteriskChannel(
        io.StringIO(ENV + "200 result=0\n"), writer, prompts_dir="/srv/ivr/prompts/ru"
    )
    with pytest.raises(CallerHungUp, match="Broken pipe"):
        chan.play([Number(1)])
    attempts = writer.attempts
    started = time.monotonic()
    with pytest.raises(CallerHungUp):
        chan.ask([Prompt("a", "…")], DIGITS)
    assert time.monotonic() - started < 1
    assert writer.attempts == attempts


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
        'STREAM FILE "/srv/ivr/prompts/ru/hello" "#*0123456789" "0"',
        'STREAM FILE "/srv/ivr/prompts/ru/tone" "#*0123456789" "0"',
    ]


def test_a_plain_prompt_before_the_end_cannot_be_interrupted():
    chan, written = channel("200 result=0 endpos=100")
    chan.play([Prompt("readings_accepted", "…")])
    assert sent(written) == ['STREAM FILE "/srv/ivr/prompts/ru/readings_accepted" "" "0"']


def test_a_prompt_path_read_cannot_take_is_played_before_the_files_read_plays():
    chan, written = channel(
        "200 result=0 endpos=10",
        "200 result=0 endpos=10",
        "200 result=1",
        "200 result=1",
        "200 result=0",
        "200 result=1 (7|OK)",
    )
    keys = chan.ask([Prompt("a", "…"), Prompt("b,c", "…"), Prompt("d", "…")], DIGITS)
    assert (keys.digits, keys.stop) == ("7", KeyStop.TERMINATOR)
    assert sent(written) == [
        'STREAM FILE "/srv/ivr/prompts/ru/a" "#0123456789" "0"',
        'STREAM FILE "/srv/ivr/prompts/ru/b,c" "#0123456789" "0"',
        *TIMEOUTS,
        read("/srv/ivr/prompts/ru/d"),
        READ_BACK,
    ]


NO_READ = ["200 result=1", "200 result=1", "200 result=-2"]
"""The timeouts set, then an Asterisk without Read(): its first answer goes key by key."""


def test_without_read_a_one_key_answer_still_comes_by_get_data():
    chan, written = channel(*NO_READ, "200 result=0 endpos=10", "200 result=35", "200 result=2")
    chan.ask([Prompt("a", "…")], DIGITS)
    keys = chan.ask([Prompt("menu", "…")], MENU)
    assert (keys.digits, keys.stop) == ("2", KeyStop.MAX_DIGITS)
    assert sent(written)[-1] == get_data()


def test_without_read_a_missing_prompt_file_is_skipped_while_the_channel_lives():
    chan, written = channel(*NO_READ, "200 result=-1 endpos=0", "200 result=6", "200 result=35")
    keys = chan.ask([Prompt("a", "…")], DIGITS)
    assert (keys.digits, keys.stop) == ("", KeyStop.TERMINATOR)
    assert sent(written)[3:] == [
        'STREAM FILE "/srv/ivr/prompts/ru/a" "#0123456789" "0"',
        "CHANNEL STATUS",
        'WAIT FOR DIGIT "6000"',
    ]


def test_without_read_the_keys_come_one_command_per_key():
    chan, written = channel(*NO_READ, "200 result=0 endpos=10", "200 result=55", "200 result=35")
    keys = chan.ask([Prompt("a", "…")], DIGITS)
    assert (keys.digits, keys.stop) == ("7", KeyStop.TERMINATOR)
    assert sent(written)[3:] == [
        'STREAM FILE "/srv/ivr/prompts/ru/a" "#0123456789" "0"',
        'WAIT FOR DIGIT "6000"',
        'WAIT FOR DIGIT "4000"',
    ]


# --- pyst2's AGI, made safe (SafeAgi) -------------------------------------------------


def test_pyst2_installs_no_signal_handler_and_works_off_the_main_thread():
    before = signal.getsignal(signal.SIGHUP)
    made: list[object] = []
    worker = threading.Thread(target=lambda: made.append(channel("200 result=1")[0]))
    worker.start()
    worker.join()
    assert isinstance(made[0], AsteriskChannel)
    assert signal.getsignal(signal.SIGHUP) is before


def test_pyst2_writes_no_trace_to_stderr(capsys):
    chan, _ = channel("200 result=0 endpos=10")
    chan.play([Prompt("a", "…")])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("debug", "traced"),
    [
        (False, []),
        (
            True,
            [
                'pyst2 -> STREAM FILE "/srv/ivr/prompts/ru/a" "" "0"',
                "pyst2 RESULT_LINE: 200 result=0 endpos=10",
                "pyst2 RESULT_DICT: {'result': ('0', ''), 'endpos': ('10', '')}",
            ],
        ),
    ],
    ids=["off: nothing is traced", "on (--debug-agi): each command and its result"],
)
def test_the_trace_of_commands_goes_to_the_debug_log_only_when_on(caplog, debug, traced):
    chan, _ = channel("200 result=0 endpos=10", debug=debug)
    with caplog.at_level(logging.DEBUG, logger="agi.telephony.asterisk_channel"):
        chan.play([Prompt("a", "…")])
    lines = [record.getMessage() for record in caplog.records if "pyst2" in record.getMessage()]
    assert [line.split(" ", 1)[1] for line in lines] == traced


@pytest.mark.parametrize(
    "replies",
    [
        [],  # pyst2 alone: AGIUnknownError for the empty line
        ["520-Invalid command syntax.  Proper usage follows:", "Usage: STREAM FILE"],
    ],
    ids=["end of stream", "end of stream inside a 520 block (pyst2 alone: reads forever)"],
)
def test_the_end_of_the_stream_is_a_hang_up_at_once(replies):
    chan, _ = channel(*replies)
    started = time.monotonic()
    with pytest.raises(CallerHungUp):
        chan.play([Prompt("a", "…")])
    assert time.monotonic() - started < 1


def test_a_usage_error_is_a_refused_command_and_the_next_reply_is_read():
    usage = ["520-Invalid command syntax.  Proper usage follows:", "Usage: X", "520 End."]
    chan, written = channel(*usage, "200 result=1")
    with pytest.raises(AgiCommandError):
        chan.command("NOOP")
    chan.claim()
    assert sent(written) == ["NOOP", 'SET VARIABLE "IVR_ANSWERED" "1"']


def test_every_bare_argument_pyst2_passes_is_quoted_and_escaped():
    chan, written = channel("200 result=0 endpos=1", "200 result=0", "200 result=1")
    chan.prompts_dir = f'{chan.prompts_dir}/x" "1\nHANGUP'
    chan.play([Prompt("a", "…")])
    chan.agi.wait_for_digit(1500)
    chan.agi.hangup()
    assert sent(written) == [
        'STREAM FILE "/srv/ivr/prompts/ru/x\\" \\"1 HANGUP/a" "" "0"',
        'WAIT FOR DIGIT "1500"',
        "HANGUP",
    ]


@pytest.mark.parametrize(
    ("line", "result", "data", "fields"),
    [
        ("200 result=0", 0, None, {}),
        ("200 result=49 endpos=12345", 49, None, {"endpos": "12345"}),
        ("200 result=1 (operator)", 1, "operator", {}),
        ("200 result=0 (timeout) endpos=16000", 0, "timeout", {"endpos": "16000"}),
        ("200 result=6\r", 6, None, {}),
    ],
)
def test_results_as_pyst2_reads_them(line, result, data, fields):
    chan, _ = channel(line)
    got = chan.command("NOOP")
    assert (got.result, got.data, got.fields) == (result, data, fields)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("510 Invalid or unknown command", AgiCommandError),
        ("this is not AGI", AgiCommandError),
        ("511 Command Not Permitted on a dead channel or intercept routine", CallerHungUp),
        ("HANGUP", CallerHungUp),
        ("200 result=-1 (hangup)", CallerHungUp),
    ],
)
def test_refusals_and_hang_ups_as_pyst2_reads_them(line, error):
    chan, _ = channel(line)
    with pytest.raises(error):
        chan.command("NOOP")
