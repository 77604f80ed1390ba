"""What the running server tells about itself: /health, /metrics in Prometheus' text format,
/status, and `ivr status`, the feedback a call-center editor gets after saving the menu."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from agi.cli import main
from agi.telephony.live_flow import content_version
from tests.asterisk_peer import play_call
from tests.conftest import place_call
from tests.real_line import fastagi_server
from tests.support import ROOT, checkout_environment, demo_database, free_port
from tests.test_fastagi import SEED_CALL, call, running, sample, wait_for

BROKEN = ("next: find_contract", "nxt: find_contract")


def get(port: int, path: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET on the status listener."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, parsed by prometheus-client's own parser."""
    status, kind, body = get(port, "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_count_the_calls_and_the_time_from_a_reply_to_the_next_command(always_open):
    with running(always_open, status_port=0) as server:
        port = server.status.port
        call(server, SEED_CALL)
        call(server, "*2 102057522# 116", call_id="c-2")  # the caller hangs up
        assert wait_for(lambda: sample(server, "ivr_calls_active") == 0)
        shown = metrics(port)
    assert shown[("ivr_calls_answered_total", ())] == 2
    assert shown[("ivr_calls_active", ())] == 0
    assert shown[("ivr_calls_ended_total", (("ending", "ivr_hung_up"),))] == 1
    assert shown[("ivr_calls_ended_total", (("ending", "caller_hung_up"),))] == 1
    assert shown[("ivr_calls_ended_total", (("ending", "failed"),))] == 0
    assert shown[("ivr_calls_refused_busy_total", (("reason", "max_calls"),))] == 0
    assert shown[("ivr_flow_reloads_total", (("result", "refused"),))] == 0
    replies = shown[("ivr_reply_to_command_seconds_count", ())]
    assert replies >= 20
    assert shown[("ivr_reply_to_command_seconds_bucket", (("le", "+Inf"),))] == replies


def test_metrics_show_the_lockouts_in_force_on_the_whole_line(always_open):
    """Counted from the database every server shares, so another server's lockouts too."""
    now = datetime.now(UTC)
    place_call(always_open, "*2 999991# . 999992# . 999993#", caller="+79120000000", at=now)
    place_call(always_open, "*2 999994# . 999995#", caller="+79120000000", at=now)
    with running(always_open, status_port=0) as server:
        shown = metrics(server.status.port)
    assert shown[("ivr_lockouts", (("limit", "caller"),))] == 1
    assert shown[("ivr_lockouts", (("limit", "anonymous"),))] == 0


def test_health_says_whether_calls_can_be_answered(always_open):
    with running(always_open, status_port=0) as server:
        port = server.status.port
        assert get(port, "/health")[::2] == (200, json.dumps({"status": "ok"}, indent=2) + "\n")
        assert get(port, "/nothing")[0] == 404
        assert server.status.server_address[0] == "127.0.0.1"
        with always_open.repository.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
        status, _, body = get(port, "/health")
    assert status == 503
    assert json.loads(body) == {"status": "database", "problem": "the database has no tables yet"}


def test_status_names_the_live_flow_and_the_last_refused_change(editable):
    flow_file = editable.settings.flow_path
    good = content_version(flow_file.read_bytes(), editable.settings.prompts_path.read_bytes())
    with running(editable, status_port=0) as server:
        port = server.status.port
        before = json.loads(get(port, "/status")[2])
        flow_file.write_text(flow_file.read_text().replace(*BROKEN))
        assert wait_for(lambda: server.flow.refused is not None)
        after = json.loads(get(port, "/status")[2])
        assert sample(server, "ivr_flow_file_refused") == 1
    assert before["live"]["version"] == good
    assert before["live"]["flow_file"] == str(flow_file)
    assert before["refused"] is None
    assert after["live"] == before["live"]
    (problem,) = after["refused"]["problems"]
    assert problem["rule"] == "unknown-key"
    assert problem["text"].startswith(f"{flow_file}, line {problem['line']}, node '")
    assert "'nxt' is not a setting" in problem["text"]


def test_ivr_status_tells_the_editor_what_the_server_made_of_the_saved_file(editable, monkeypatch):
    flow_file = editable.settings.flow_path
    monkeypatch.setenv("IVR_CONFIG", "")
    monkeypatch.setenv("IVR_FLOW_PATH", str(flow_file))
    monkeypatch.setenv("IVR_PROMPTS_PATH", str(editable.settings.prompts_path))
    runner = CliRunner()
    with running(editable, status_port=0) as server:
        port = str(server.status.port)
        fine = runner.invoke(main, ["status", "--port", port])
        flow_file.write_text(flow_file.read_text().replace(*BROKEN))
        refused = runner.invoke(main, ["status", "--port", port])
    assert fine.exit_code == 0, fine.output
    assert f"live flow: version {server.flow.live.version}, {flow_file}, " in fine.output
    assert "no saved change was refused" in fine.output
    assert refused.exit_code == 1
    assert "the last saved change was refused at " in refused.output
    assert f"\n  {flow_file}, line " in refused.output
    assert "'nxt' is not a setting" in refused.output


def test_ivr_status_without_a_server_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("IVR_CONFIG", "")
    result = CliRunner().invoke(main, ["status", "--port", "1", "--wait", "0"])
    assert result.exit_code == 1
    assert "no FastAGI server answers on http://127.0.0.1:1/status" in result.output


def ivr_status(env: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agi", "status"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("restart", [False, True], ids=["while it runs", "then a restart"])
def test_an_editor_who_saves_a_broken_file_sees_why_and_calls_go_on(tmp_path, restart):
    """`ivr serve` and `ivr status` as processes, with the settings in the environment."""
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    flow = tmp_path / "ivr_flows.yaml"
    flow.write_text((ROOT / "ivr_flows.yaml").read_text())
    env = {
        **checkout_environment(tmp_path, url),
        "IVR_FLOW_PATH": str(flow),
        "IVR_STATUS_PORT": str(free_port()),
    }
    with ExitStack() as stack:
        server = stack.enter_context(fastagi_server(env, tmp_path, free_port()))
        assert ivr_status(env, tmp_path).returncode == 0
        flow.write_text(flow.read_text().replace(*BROKEN))
        if restart:
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=20)
            server = stack.enter_context(fastagi_server(env, tmp_path, free_port()))
        shown = ivr_status(env, tmp_path)
        peer = asyncio.run(play_call("127.0.0.1", server.port, SEED_CALL, call_id="after"))
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "the last saved change was refused at " in shown.stdout
    assert f"\n  {flow}, line " in shown.stdout
    assert "'nxt' is not a setting" in shown.stdout
    if restart:
        assert f"the copy of {flow} kept in {tmp_path / 'state' / 'last-good-flow'}" in shown.stdout
    assert peer.accepted
