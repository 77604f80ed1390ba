"""The flow a running server keeps: a saved change is used when it passes the checks and
refused when it does not; the last good flow is copied into the state folder and served
when the server starts on a broken file; no file, however broken, stops the watching.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agi.application import Application
from agi.problems import ProblemsFound
from agi.telephony.fastagi import FastAgiServer, ServerOptions
from agi.telephony.live_flow import content_version
from tests.support import checkout_environment, demo_database
from tests.test_fastagi import SEED_CALL, call, running, sample, stored, wait_for

INVALID = Path(__file__).resolve().parent / "invalid_flows"
BROKEN = ("next: find_contract", "nxt: find_contract")


def break_flow(path: Path) -> None:
    path.write_text(path.read_text().replace(*BROKEN))


def version_of(app: Application) -> str | None:
    return content_version(
        app.settings.flow_path.read_bytes(), app.settings.prompts_path.read_bytes()
    )


def test_a_server_started_on_a_broken_flow_serves_the_last_good_one(editable, caplog):
    good = version_of(editable)
    with running(editable):
        pass  # a start on the good flow keeps a copy of it
    break_flow(editable.settings.flow_path)
    with running(editable) as server:
        assert server.flow.live is not None and server.flow.live.version == good
        assert server.flow.live.saved_copy == editable.settings.state_dir / "last-good-flow"
        assert server.flow.refused is not None
        assert sample(server, "ivr_flow_file_refused") == 1
        peer = call(server, SEED_CALL)
    assert peer.hung_up_by == "ivr"
    assert stored(editable) == [("102057522", "single", 11638)]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        f"{editable.settings.flow_path}, line " in e and "'nxt' is not a setting" in e
        for e in errors
    ), errors
    assert f"serving the last flow that passed the checks (version {good}" in caplog.text


def test_a_server_that_never_had_a_good_flow_refuses_to_start(editable):
    break_flow(editable.settings.flow_path)
    with pytest.raises(ProblemsFound, match="'nxt' is not a setting"):
        FastAgiServer(editable, ServerOptions(port=0))


def test_ivr_serve_that_never_had_a_good_flow_says_why_it_does_not_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    flow = tmp_path / "ivr_flows.yaml"
    shutil.copy(INVALID / "unknown_setting.yaml", flow)
    env = {**checkout_environment(tmp_path, url), "IVR_FLOW_PATH": str(flow)}
    done = subprocess.run(
        [sys.executable, "-m", "agi", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        f"the flow has problems and no good flow was ever saved in {tmp_path / 'state'}"
        in done.stderr
    )
    assert f"{flow}, line 11, node 'welcome': 'timout' is not a setting" in done.stderr


def test_a_copy_that_no_longer_matches_its_record_is_not_served(editable):
    with running(editable):
        pass
    saved = editable.settings.state_dir / "last-good-flow" / "ivr_flows.yaml"
    saved.write_text(saved.read_text() + "\n# changed by hand\n")
    break_flow(editable.settings.flow_path)
    with pytest.raises(ProblemsFound):
        FastAgiServer(editable, ServerOptions(port=0))


def _alias_bomb() -> str:
    return (INVALID / "yaml_alias_bomb.yaml").read_text()


BAD_FILES = {
    "a folder": None,
    "5,000 levels deep": "version: 1\nstart: " + "[" * 5000 + "]" * 5000 + "\n",
    "an alias of itself": "version: 1\nnodes: &nodes\n  - *nodes\n",
    "an alias bomb": _alias_bomb(),
    "not UTF-8": "version: 1\nstart: 'приветствие'\n".encode("cp1251"),
    "a broken edit": "",
}


def test_the_watcher_survives_any_bad_file_and_keeps_watching(editable, caplog):
    flow_file = editable.settings.flow_path
    good = flow_file.read_text()
    with running(editable) as server:
        for what, content in BAD_FILES.items():
            refused = sample(server, "ivr_flow_reloads_total", result="refused")
            if flow_file.is_dir():
                flow_file.rmdir()
            if content is None:
                flow_file.unlink()
                flow_file.mkdir()
            elif isinstance(content, bytes):
                flow_file.write_bytes(content)
            else:
                flow_file.write_text(content or good.replace(*BROKEN))
            assert wait_for(
                lambda n=refused: sample(server, "ivr_flow_reloads_total", result="refused") > n
            ), f"{what} was not refused"
            assert server.flow.refused is not None
        flow_file.write_text(good.replace("    say: welcome\n", "    say: main_menu\n"))
        assert wait_for(lambda: sample(server, "ivr_flow_reloads_total", result="accepted") == 1)
        peer = call(server, "0", call_id="after")
        assert server.flow.refused is None
        assert sample(server, "ivr_flow_file_refused") == 0
    assert "/main_menu" in peer.commands[1]
    assert "the flow watcher failed" not in caplog.text
    assert "Traceback" not in caplog.text


def test_saving_the_same_broken_content_again_is_not_refused_twice(editable):
    flow_file = editable.settings.flow_path
    with running(editable) as server:
        break_flow(flow_file)
        assert wait_for(lambda: sample(server, "ivr_flow_reloads_total", result="refused") == 1)
        flow_file.write_text(flow_file.read_text())  # saved again, unchanged
        flow_file.touch()
        assert not wait_for(
            lambda: sample(server, "ivr_flow_reloads_total", result="refused") == 2, seconds=1
        )
