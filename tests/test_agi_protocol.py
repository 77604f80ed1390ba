"""AGI lines as Asterisk writes them, and commands as we write them."""

import pytest

from agi.telephony.protocol import (
    AgiCommandError,
    AgiHangup,
    command_line,
    digit_of,
    parse_agi_result,
    quote_argument,
)


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "fields"),
    [
        ("200 result=0\n", 200, 0, None, {}),
        ("200 result=1\n", 200, 1, None, {}),
        ("200 result=49 endpos=12345\n", 200, 49, None, {"endpos": "12345"}),
        ("200 result=0 endpos=0", 200, 0, None, {"endpos": "0"}),
        ("200 result=-1 endpos=0\n", 200, -1, None, {"endpos": "0"}),
        ("200 result=1 (operator)\n", 200, 1, "operator", {}),
        ("200 result=102057522 (timeout)\n", 200, 102057522, "timeout", {}),
        ("200 result= (timeout)\n", 200, None, "timeout", {}),
        ("200 result=\n", 200, None, None, {}),
        ("200 result=6\r\n", 200, 6, None, {}),
        ("510 Invalid or unknown command\n", 510, None, "Invalid or unknown command", {}),
        (
            "511 Command Not Permitted on a dead channel or intercept routine\n",
            511,
            None,
            "Command Not Permitted on a dead channel or intercept routine",
            {},
        ),
        (
            "520-Invalid command syntax.  Proper usage follows:\n",
            520,
            None,
            "Invalid command syntax.  Proper usage follows:",
            {},
        ),
    ],
)
def test_result_lines(line, code, result, data, fields):
    parsed = parse_agi_result(line)
    assert (parsed.code, parsed.result, parsed.data, parsed.fields) == (code, result, data, fields)


def test_a_hangup_line_is_a_hangup():
    with pytest.raises(AgiHangup):
        parse_agi_result("HANGUP\n")


@pytest.mark.parametrize("line", ["", "agi_callerid: 7912", "OK", "20 result=1"])
def test_anything_else_is_not_a_result(line):
    with pytest.raises(AgiCommandError):
        parse_agi_result(line)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("200 result=0", None),
        ("200 result=35", "#"),
        ("200 result=42", "*"),
        ("200 result=48 endpos=8000", "0"),
        ("200 result= (timeout)", None),
    ],
)
def test_keys_are_ascii_codes(line, key):
    assert digit_of(parse_agi_result(line)) == key


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("operator", '"operator"'),
        (11638, '"11638"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("two words", '"two words"'),
        ("line\nbreak\rEXEC Dial", '"line break EXEC Dial"'),
        ("tab\there", '"tab here"'),
    ],
)
def test_every_argument_is_quoted_and_escaped(value, quoted):
    assert quote_argument(value) == quoted


def test_a_command_is_one_line_whatever_its_arguments():
    line = command_line("SET VARIABLE", "IVR_TRANSFER", 'x"\nHANGUP\n')
    assert line == 'SET VARIABLE "IVR_TRANSFER" "x\\" HANGUP "\n'
    assert line.count("\n") == 1


@pytest.mark.parametrize("name", ["stream file", "EXEC\nHANGUP", "SET VARIABLE;", ""])
def test_command_names_are_fixed_words(name):
    with pytest.raises(ValueError, match="not an AGI command"):
        command_line(name)
