"""The SIPp scenario written from a keypad script, and one scenario for many calls that differ
in their caller and some keys (SIPp's injection fields). Real calls: test_real_calls.py and
benchmarks/sipp_concurrency.py."""

from __future__ import annotations

import re

import pytest

from agi.telephony.sipp import CallScript, injection_file, scenario

SCRIPT = CallScript("*2 400000001# 20159# 1", caller="79130000001")


def dtmf(xml: str) -> list[str]:
    return re.findall(r'play_dtmf="([^"]*)"', xml)


def pauses(xml: str) -> list[int]:
    return [int(ms) for ms in re.findall(r'<pause milliseconds="(\d+)"/>', xml)]


@pytest.mark.parametrize(
    ("fields", "keys", "user"),
    [
        ((), ["*2", "400000001#", "20159#", "1"], "79130000001"),
        (("79130000001",), ["*2", "400000001#", "20159#", "1"], "[field0]"),
        (
            ("79130000001", "400000001", "20159"),
            ["*2", "[field1]#", "[field2]#", "1"],
            "[field0]",
        ),
        (("1",), ["*2", "400000001#", "20159#", "[field0]"], "79130000001"),
    ],
    ids=["none", "the caller", "caller, contract and reading", "a whole run of keys only"],
)
def test_fields_replace_the_caller_and_whole_runs_of_keys(fields, keys, user):
    xml = scenario(SCRIPT, fields=fields)
    assert dtmf(xml) == keys
    assert f"<sip:{user}@[local_ip]:[local_port]>" in xml
    assert pauses(xml) == pauses(scenario(SCRIPT))  # timed by the example's lengths


def test_the_injection_file_gives_each_call_its_line_in_order(tmp_path):
    path = injection_file(tmp_path / "calls.csv", [("79130000001", "400000001", "20159")] * 2)
    assert path.read_text() == "SEQUENTIAL\n" + "79130000001;400000001;20159\n" * 2


@pytest.mark.parametrize("value", ["1;2", "12\n34", "[field0]", ""])
def test_an_injected_value_is_digits_only(tmp_path, value):
    with pytest.raises(ValueError, match="injection fields are digits"):
        injection_file(tmp_path / "calls.csv", [("79130000001", value)])
