"""AGI lines as Asterisk writes them, and commands as we write them."""

import pytest

from agi.telephony.protocol import AgiResult, command_line, digit_of, quote_argument


@pytest.mark.parametrize(
    ("result", "key"), [(0, None), (35, "#"), (42, "*"), (48, "0"), (None, None)]
)
def test_keys_are_ascii_codes(result, key):
    assert digit_of(AgiResult(200, result)) == key


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
