"""`ivr report` on a known set of scripted calls and messages: every figure computed by hand
below, from the scripts (each question takes the caller 5 s, as in test_call_records)."""

from __future__ import annotations

import csv
import io
import json
import struct
import sys
import xml.etree.ElementTree as ElementTree
from datetime import timedelta

import pytest

from agi.text.dialog import IncomingMessage, TextChannel, text_dialog_for
from tests.conftest import IN_WINDOW
from tests.test_call_records import call

DAY_ONE, DAY_TWO = IN_WINDOW, IN_WINDOW + timedelta(days=1)

CALLS = [
    # (day, keys): questions asked, how it ends
    (DAY_ONE, "*2 102057522# 11638# 1"),  # 5 questions, 25 s: accepted, electricity
    (DAY_ONE, "*2 123859# 2 20# 1"),  # 6, 30 s: accepted, hot water
    (DAY_ONE, "0"),  # 1, 5 s: transferred, key 0
    (DAY_TWO, "*2 999999# 888888# 777777#"),  # 5, 25 s: transferred, 3 unknown contracts
    (DAY_TWO, "*2 102057522# 1# 2# 3#"),  # 6, 30 s: transferred, 3 below the previous
    (DAY_TWO, "*2 102057522# 116"),  # 4, 20 s: hung up while typing the reading
]
MESSAGES = [
    (TextChannel.SMS, "ПС 176354 40"),  # accepted, cold water
    (TextChannel.VIBER, "ПС 999999 1"),  # answered: unknown contract
]


@pytest.fixture
def scripted(app, cli):
    for day, keys in CALLS:
        call(app, keys, at=day)
    dialog = text_dialog_for(app.settings, app.repository)
    for number, (channel, text) in enumerate(MESSAGES):
        message = IncomingMessage(channel, f"+7912000000{number}", f"m{number}", text)
        dialog.answer(message, at=DAY_TWO)
    return cli


def figures(cli, *options: str) -> dict:
    result = cli(
        "report", "--from", "2026-11-20", "--to", "2026-11-21", "--format", "json", *options
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_figures_of_a_known_set_of_calls_and_messages(scripted):
    report = figures(scripted)
    assert (report["calls"], report["conversations"]) == (6, 2)
    assert report["days"] == [
        {"day": "2026-11-20", "calls": 3, "conversations": 0, "messages": 0},
        {"day": "2026-11-21", "calls": 3, "conversations": 2, "messages": 2},
    ]
    assert report["accepted"] == {
        "phone": {"electricity": 1, "hot_water": 1},
        "sms": {"cold_water": 1},
    }
    assert report["success_rate"] == 0.375  # 3 of 8
    assert report["success_by_channel"] == {"phone": 0.3333, "sms": 1.0, "viber": 0.0}
    assert report["refusals"] == [["unknown_contract", 4], ["below_previous", 3]]
    assert report["transfers"] == {"max_failures": 2, "key 0": 1}
    assert report["endings"] == {
        "accepted": 3,
        "transferred": 3,
        "caller_hung_up": 1,
        "answered": 1,
    }
    # durations 5, 20, 25, 25, 30, 30
    assert (report["duration_median"], report["duration_p90"]) == (25.0, 30.0)
    assert report["by_voice"] == 0.0
    funnel = {stage["node"]: (stage["reached"], stage["ended_here"]) for stage in report["funnel"]}
    assert funnel["greeting"] == (6, {})
    assert funnel["main_menu"] == (5, {})
    assert funnel["ask_contract"] == (5, {})
    assert funnel["find_contract"] == (5, {})
    assert funnel["choose_resource"] == (1, {})
    assert funnel["ask_reading"] == (4, {"caller_hung_up": 1})
    assert funnel["accepted"] == (2, {})
    assert funnel["operator"] == (1, {"transferred": 1})
    assert funnel["failed_to_operator"] == (2, {"transferred": 2})
    assert [stage["node"] for stage in report["funnel"][:2]] == ["greeting", "tone_mode"]


def test_one_channel_and_one_day(scripted):
    report = figures(scripted, "--channel", "phone", "--to", "2026-11-20")
    assert (report["calls"], report["conversations"], report["success_rate"]) == (3, 0, 0.6667)
    assert report["refusals"] == []
    assert (report["duration_median"], report["duration_p90"]) == (25.0, 30.0)  # 5, 25, 30
    texts = figures(scripted, "--channel", "viber")
    assert (texts["calls"], texts["conversations"], texts["success_rate"]) == (0, 1, 0.0)
    assert texts["funnel"] == [{"node": "unknown", "reached": 1, "ended_here": {"answered": 1}}]


def test_the_text_and_csv_reports_say_the_same(scripted):
    result = scripted("report", "--from", "2026-11-20", "--to", "2026-11-21")
    assert result.exit_code == 0, result.output
    for line in (
        "phone calls: 6; text conversations: 2",
        "Success rate: 37.5 % stored readings",
        "phone hot_water: 1",
        "unknown_contract: 4",
        "max_failures: 2",
        "Call duration: median 25 s, 90th percentile 30 s",
        "Calls answered by voice: 0.0 %",
    ):
        assert line in result.output
    result = scripted("report", "--from", "2026-11-20", "--to", "2026-11-21", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["section", "name", "value"]
    assert ["calls per day", "2026-11-21", "3"] in rows
    assert ["accepted", "sms/cold_water", "1"] in rows
    assert ["ended at", "ask_reading/caller_hung_up", "1"] in rows
    assert ["duration seconds", "p90", "30"] in rows


def test_the_chart_as_png_and_svg(scripted, tmp_path):
    png, svg = tmp_path / "report.png", tmp_path / "report.svg"
    for chart in (png, svg):
        result = scripted(
            "report", "--from", "2026-11-20", "--to", "2026-11-21", "--chart", str(chart)
        )
        assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 600 <= width <= 2000 and 600 <= height <= 2000, (width, height)
    assert 10_000 < len(data) < 2_000_000
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "failed_to_operator" in svg.read_text()  # the funnel's labels are drawn as text


def test_a_chart_that_is_no_picture_is_refused(scripted):
    result = scripted("report", "--chart", "report.pdf")
    assert result.exit_code == 2
    assert "name a .png or .svg file" in result.output


def test_a_chart_without_matplotlib_says_what_to_install(scripted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    result = scripted("report", "--chart", str(tmp_path / "report.png"))
    assert result.exit_code == 1
    assert "charts need matplotlib: pip install 'meter-readings-ivr[charts]'" in result.output
    assert not (tmp_path / "report.png").exists()


def test_a_period_without_calls_is_zeros_not_an_error(cli):
    result = cli("report", "--from", "2026-11-20", "--to", "2026-11-21")
    assert result.exit_code == 0, result.output
    assert "phone calls: 0; text conversations: 0" in result.output
    assert "  2026-11-21               0              0         0" in result.output
    assert "Call duration: median -, 90th percentile -" in result.output
    backwards = cli("report", "--from", "2026-11-22", "--to", "2026-11-21")
    assert backwards.exit_code == 2
    assert "--from 2026-11-22 is after --to 2026-11-21" in backwards.output
