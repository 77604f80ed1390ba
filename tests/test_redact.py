"""Caller data in log lines: masked numbers, no way to forge a line, and a safety net at the
logging layer for whatever else a library or a traceback would write."""

import io
import logging

import pytest

from agi.redact import configure_logging, mask_digits, printable, redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("102057522", "*******22"),
        ("+79121234567", "**********67"),
        ("12", "**"),
        ("", "-"),
        (None, "-"),
    ],
)
def test_numbers_keep_only_their_last_two_digits(text, masked):
    assert mask_digits(text) == masked


def test_control_characters_are_escaped():
    assert printable('a"b\r\nINFO forged') == 'a"b\\r\\nINFO forged'
    assert "\n" not in mask_digits("12\n34")


def test_a_call_id_with_a_newline_cannot_forge_a_log_line(app, caplog):
    import logging

    from tests.conftest import place_call

    caplog.set_level(logging.INFO)
    place_call(app, "0", call_id="abc\nINFO forged")
    for record in caplog.records:
        assert "\n" not in record.getMessage()


# --- the safety net at the logging layer -------------------------------------------------------

REDACTED = {
    "a contract number": ("contract 102057522 not found", "contract *******22 not found"),
    "a phone number": ("from +79120000000", "from +*********00"),
    "a phone number with separators": ("from +7 912 000-00-00", "from +* *** ***-**-00"),
    "numbers inside a text": ("text='ПС102057522 11638'", "text='ПС********* ***38'"),
    "what a validation error repeats of its input": (
        "1 validation error input_value='ПС 102057522 11638', input_type=str",
        "1 validation error input_value=<withheld>, input_type=str",
    ),
    "FastAPI's error details": (
        "{'loc': ('body', 'text'), 'input': 'ПС 1 2'}",
        "{'loc': ('body', 'text'), 'input': <withheld>}",
    ),
    "short numbers stay: ports, line numbers, years, masked numbers": (
        "line 1234 of a.py, port 8080, period 2026-11, contract *******22",
        "line 1234 of a.py, port 8080, period 2026-11, contract *******22",
    ),
}


@pytest.mark.parametrize(("text", "redacted"), REDACTED.values(), ids=REDACTED.keys())
def test_long_numbers_and_repeated_input_are_redacted(text, redacted):
    assert redact(text) == redacted
    assert redact(redacted) == redacted


@pytest.fixture
def log_stream():
    """The root logger as `ivr` sets it up, writing to a string; put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(logging.INFO, stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_every_record_is_redacted_whichever_library_logs_it(log_stream):
    logging.getLogger("fastapi").warning("client sent %s", "ПС 102057522")
    logging.getLogger("sqlalchemy.engine").warning("caller=%s", "+79120000000")
    logging.getLogger("agi.x").info("multi\nINFO forged line")

    text = log_stream.getvalue()
    assert "102057522" not in text and "79120000000" not in text
    assert "*******22" in text and "+*********00" in text
    assert "\nINFO forged line" not in text
    assert "\n    INFO forged line" in text  # a further line of a message is set off


def test_a_traceback_shows_where_but_not_the_data_it_failed_on(log_stream):
    body = '{"sender": "+79120000000", "text": "ПС 102057522 11638 ' + "x" * 500 + '"}'
    try:
        try:
            raise ValueError(f"cannot read the body {body}")
        except ValueError as error:
            raise RuntimeError("the request failed") from error
    except RuntimeError:
        logging.getLogger("fastapi").exception("Exception in ASGI application")

    text = log_stream.getvalue()
    assert "Traceback (most recent call last):" in text
    assert "in test_a_traceback_shows_where_but_not_the_data_it_failed_on" in text
    assert "The above exception was the direct cause" in text
    assert "RuntimeError: the request failed" in text
    assert "102057522" not in text and "79120000000" not in text
    assert "x" * 200 not in text  # the message is cut short
    assert " [...]" in text


def test_a_record_with_a_bad_format_is_still_logged(log_stream):
    logging.getLogger("agi.x").warning("%d calls", "many")
    assert "many" in log_stream.getvalue()
