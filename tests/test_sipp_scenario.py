"""The SIPp scenario written from a keypad script, and one scenario for many calls that differ
in their caller and some keys (SIPp's injection fields). Real calls: test_real_calls.py and
benchmarks/sipp_concurrency.py."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

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


def _benchmark():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "sipp_concurrency.py"
    spec = importlib.util.spec_from_file_location("sipp_concurrency", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _asterisk_line(at: str, channel: str, message: str) -> str:
    return f"[2026-12-01 18:28:{at}] VERBOSE[22175][{channel}] app_read.c: {message}"


def _read(at: str, channel: str, prompts: str) -> str:
    options = f"Options: (IVR_KEYS1,{prompts},1,t())"
    return _asterisk_line(at, channel, f"AGI Script Executing Application: (Read) {options}")


def _agi(at: str, channel: str, line: str) -> str:
    """res_agi's debug line of a command it took (`Rx << …`) or a reply it sent (`Tx >> …`)."""
    return _asterisk_line(at, channel, f"<PJSIP/ivr-callers-00000000>AGI {line}")


def _get_data(at: str, channel: str, prompt: str) -> str:
    return _agi(at, channel, f'Rx << GET DATA "{prompt}" "6000" "1"')


def _got(at: str, channel: str, result: str) -> str:
    return _agi(at, channel, f"Tx >> 200 result={result}")


def _ended(at: str, channel: str, outcome: str, transfer: str) -> str:
    return _asterisk_line(
        at, channel, f"IVR call 1-1@127.0.0.1 ended: outcome={outcome} transfer={transfer} by="
    )


KEPT_2 = [
    _read("53.680", "C-01", "/p/tone_mode"),
    _asterisk_line("56.290", "C-01", "User entered '*'"),
    _read("56.330", "C-01", "/p/main_menu"),
    _asterisk_line("57.084", "C-01", "User entered '2'"),
    _ended("59.000", "C-01", "accepted", ""),
]
LOST_2 = [
    _read("53.680", "C-02", "/p/tone_mode"),
    _asterisk_line("56.290", "C-02", "User entered '*'"),
    _read("56.990", "C-02", "/p/main_menu"),
    _asterisk_line("57.500", "C-02", "User entered '4'"),
    _read("57.600", "C-02", "/p/wrong_key&/p/main_menu"),
    _asterisk_line("58.000", "C-02", "User entered '0'"),
    _ended("59.000", "C-02", "", "operator"),
]


LOST_BY_GET_DATA = [
    _get_data("53.680", "C-03", "/p/tone_mode"),
    _got("56.290", "C-03", "*"),
    _got("56.300", "C-03", "1"),  # another command's reply: not a key
    _get_data("56.990", "C-03", "/p/main_menu"),
    _got("57.500", "C-03", "4"),
    _get_data("57.600", "C-03", "/p/wrong_key"),
    _got("58.600", "C-03", " (timeout)"),
    _get_data("58.700", "C-03", "/p/main_menu"),
    _got("59.000", "C-03", ""),
    _ended("59.500", "C-03", "", "operator"),
]


DROPPED_REPLY = [
    _get_data("53.680", "C-04", "/p/tone_mode"),
    _agi("54.000", "C-04", 'Rx << STREAM FILE "/p/welcome" "" "0"'),
    _got("54.500", "C-04", "0 endpos=8000"),
    _ended("55.000", "C-04", "", "operator"),
]


@pytest.mark.parametrize(
    ("lines", "heard", "turnarounds"),
    [
        (KEPT_2, {}, [0.04]),
        (  # the log lost GET DATA's reply: the next command's is not taken for a key
            DROPPED_REPLY,
            {"tone_mode: -> operator": 1},
            [],
        ),
        (
            LOST_BY_GET_DATA,
            {"tone_mode: * main_menu: 4 wrong_key: nothing main_menu: # -> operator": 1},
            [0.7, 0.1, 0.1],
        ),
        (LOST_2, {"tone_mode: * main_menu: 4 wrong_key: 0 -> operator": 1}, [0.7, 0.1]),
        (LOST_2[:3], {"tone_mode: * main_menu: -> no end logged": 1}, [0.7]),
    ],
)
def test_the_benchmark_tells_what_each_key_collection_heard(lines, heard, turnarounds):
    benchmark = _benchmark()
    channels = benchmark.key_collections("\n".join(lines) + "\n")
    assert benchmark.heard_without_rows(channels) == heard
    found = [t for calls in channels.values() for t in calls.turnarounds]
    assert found == pytest.approx(turnarounds, abs=0.002)
