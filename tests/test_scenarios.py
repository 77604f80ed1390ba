"""Scenarios guard the menu: `ivr check` runs the shipped ones, an edit that breaks one fails
naming the scenario and the step, the running line keeps the last good flow on such an
edit, and a call saved with `ivr simulate --save-scenario` runs green."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.cli import main
from agi.dialog.prompts import load_catalog
from agi.scenarios import read_scenarios
from tests.conftest import ROOT
from tests.test_fastagi import call, running, sample, stored, wait_for

TWO_ZONE = "seed two-zone electricity, day then night"
TWO_ZONE_CALL = "*2 123859# 1 45055# 1 23186# 1"
BREAKS_TWO_ZONE = (
    '"1": {next: pick_resource, set: {resource: electricity}}',
    '"1": {next: pick_resource, set: {resource: hot_water}}',
)
"""Key 1 of the resource menu picks hot water: every check passes, the single-tariff call
still works, and the two-zone electricity of 123859 is out of reach."""


@pytest.fixture
def menu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """Copies of the shipped flow, catalog and scenarios that a test may edit, configured."""
    for name in ("ivr_flows.yaml", "ivr_scenarios.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "prompts" / "ru.yaml", tmp_path / "ru.yaml")
    monkeypatch.setenv("IVR_CONFIG", "")
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_FLOW_PATH", str(tmp_path / "ivr_flows.yaml"))
    monkeypatch.setenv("IVR_PROMPTS_PATH", str(tmp_path / "ru.yaml"))
    monkeypatch.setenv("IVR_PROMPTS_AUDIO_DIR", str(ROOT / "prompts" / "ru"))
    return tmp_path


def ivr(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_shipped_scenarios_pass(menu, demo_repository):
    result = ivr("check")
    assert result.exit_code == 0, result.output
    assert "ivr_scenarios.yaml: 14 scenarios pass" in result.output
    scenarios, problems = read_scenarios(
        ROOT / "ivr_scenarios.yaml", load_catalog(ROOT / "prompts" / "ru.yaml")
    )
    assert problems == []
    refusals = {prompt for s in scenarios for step in s.steps for prompt in step.hears}
    assert {"reason_below_previous", "reason_too_many_digits", "contract_unknown"} <= refusals
    assert {"failed_connecting_operator", "connecting_operator", "goodbye"} <= refusals


def test_scenarios_mean_the_same_whatever_the_line_limits_are(menu, monkeypatch):
    """The window and the guessing limits are the seed's in a scenario: a line that takes
    readings every day and allows more unknown numbers checks the same scenarios."""
    monkeypatch.setenv("IVR_ACCEPT_DAYS", "1-31")
    monkeypatch.setenv("IVR_MAX_UNKNOWN_CONTRACTS_WITHOUT_CALLER_ID", "9")
    result = ivr("check")
    assert result.exit_code == 0, result.output
    assert "14 scenarios pass" in result.output
    assert "lockout" not in result.output  # the lockout a scenario provokes is not logged


def test_an_edit_that_breaks_the_two_zone_path_fails_naming_scenario_and_step(menu):
    edit(menu / "ivr_flows.yaml", *BREAKS_TWO_ZONE)
    result = ivr("check")
    assert result.exit_code == 1
    scenarios = menu / "ivr_scenarios.yaml"
    step_line = line_of(scenarios, "hears: [enter_reading, zone_day]")
    assert (
        f"{scenarios}, line {step_line}: scenario '{TWO_ZONE}', step 4: expected the IVR to "
        "say enter_reading, zone_day before the keys 45055#; it said enter_reading, "
        "zone_single, end_with_hash"
    ) in result.output
    assert "1 problem found; nothing was changed" in result.output
    assert "single-tariff" not in result.output  # the one-zone call still works


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "    ends: ivr_hung_up\n",
            "    ends: accepted\n",
            "scenario 'outside the window the caller is told when to call', after step 1: "
            "expected the call to end accepted; it ended ivr_hung_up at 'window_closed'",
        ),
        (
            '      - {contract: "176354", resource: cold_water, zone: single, value: 40}',
            '      - {contract: "176354", resource: cold_water, zone: single, value: 41}',
            "scenario 'seed cold water': expected stored 176354 cold_water single 41; stored "
            "176354 cold_water single 40",
        ),
        (
            "      - hears: [contract_unknown, enter_contract]",
            "      - hears: [contract_unknwn, enter_contract]",
            "scenario 'an unknown contract is said, and asked again', step 3: there is no "
            "prompt 'contract_unknwn' (did you mean 'contract_unknown'?)",
        ),
        (
            "    date: 10\n",
            "    date: 10\n    dat: 11\n",
            "'dat' is not a scenario key (did you mean 'date'?)",
        ),
        ('keys: "116"', 'keys: "11x"', "'x' (character 3) is not a phone key"),
    ],
    ids=["ending", "stored", "no such prompt", "unknown key", "not a key"],
)
def test_each_mistake_or_mismatch_is_a_problem_with_its_line(menu, old, new, says):
    edit(menu / "ivr_scenarios.yaml", old, new)
    result = ivr("check")
    assert result.exit_code == 1
    assert says in result.output
    assert f"{menu / 'ivr_scenarios.yaml'}, line " in result.output


def test_the_line_keeps_the_last_good_flow_when_an_edit_breaks_a_scenario(editable):
    shutil.copy(ROOT / "ivr_scenarios.yaml", editable.settings.flow_path.parent)
    with running(editable) as server:
        edit(editable.settings.flow_path, *BREAKS_TWO_ZONE)
        assert wait_for(lambda: sample(server, "ivr_flow_reloads_total", result="refused") == 1)
        refused = server.flow.refused
        assert refused is not None
        assert [p.rule for p in refused.problems] == ["scenario-failed"]
        assert f"scenario '{TWO_ZONE}', step 4" in refused.problems[0].message
        peer = call(server, TWO_ZONE_CALL)
    assert peer.hung_up_by == "ivr"
    assert stored(editable) == [("123859", "day", 45055), ("123859", "night", 23186)]


def test_a_call_saved_on_a_line_with_its_own_window_keeps_that_window(
    menu, demo_repository, monkeypatch
):
    """Saved on the 3rd of a line open every day, the call is a scenario of that window:
    judged against the leaflet's 18th to 25th it would have been refused."""
    monkeypatch.setenv("IVR_ACCEPT_DAYS", "1-31")
    saved = ivr(
        "simulate", "--keys", TWO_ZONE_CALL, "--date", "2026-11-03", "--save-scenario", "on the 3rd"
    )  # fmt: skip
    assert saved.exit_code == 0, saved.output
    assert "    accept_days: 1-31\n" in (menu / "ivr_scenarios.yaml").read_text()
    monkeypatch.delenv("IVR_ACCEPT_DAYS")
    result = ivr("check")
    assert result.exit_code == 0, result.output
    assert "15 scenarios pass" in result.output


def test_a_saved_scenario_runs_green_and_then_guards_the_flow(menu, demo_repository):
    saved = ivr(
        "simulate", "--keys", TWO_ZONE_CALL, "--date", "2026-11-20", "--caller",
        "+79120000000", "--save-scenario", "my two-zone call",
    )  # fmt: skip
    assert saved.exit_code == 0, saved.output
    assert "saved as scenario 'my two-zone call'" in saved.stderr
    text = (menu / "ivr_scenarios.yaml").read_text()
    assert "  my two-zone call:\n    date: '2026-11-20'\n" in text
    assert "    ends: accepted\n" in text.split("my two-zone call")[1]
    result = ivr("check")
    assert result.exit_code == 0, result.output
    assert "15 scenarios pass" in result.output
    again = ivr("simulate", "--keys", "0", "--save-scenario", "my two-zone call")
    assert "already has a scenario named 'my two-zone call'" in again.output
    edit(menu / "ivr_flows.yaml", *BREAKS_TWO_ZONE)
    broken = ivr("check")
    assert "scenario 'my two-zone call', step 4" in broken.output
    assert "2 problems found" in broken.output
