"""Caller data in log lines: masked numbers, no way to forge a line."""

import pytest

from agi.redact import mask_digits, printable


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
