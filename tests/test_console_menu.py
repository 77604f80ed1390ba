"""The console's picture of the menu: drawn from the flow the server answers calls with,
every node a box, its prompts readable and playable, the faults `ivr check` finds marked."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from agi.application import Application
from agi.console.served_flow import served_flow
from agi.telephony.line_status import StatusListener, json_answer
from agi.telephony.live_flow import LiveFlow
from tests.console_browser import (
    console_application,
    needs_browser,
    open_page,
    running_console,
    screenshot,
    sign_in,
    whole_page_screenshot,
)
from tests.console_client import SUPERVISOR, csrf_of, signed_in_client
from tests.support import ROOT

SHIPPED_NODES = list(yaml.safe_load((ROOT / "ivr_flows.yaml").read_text())["nodes"])


@contextmanager
def serving(app: Application) -> Iterator[LiveFlow]:
    """The flow keeping of `ivr serve` and its status listener, on `app`'s settings."""
    live = LiveFlow(app, app.settings.state_dir)
    live.start()
    listener = StatusListener(
        "127.0.0.1", app.settings.status_port, {"/status": lambda: json_answer(live.status())}
    )
    listener.start()
    try:
        yield live
    finally:
        listener.stop()


def editable_application(folder: Path) -> Application:
    """The console's application on copies of the shipped flow and catalog."""
    shutil.copy(ROOT / "ivr_flows.yaml", folder / "ivr_flows.yaml")
    shutil.copy(ROOT / "ivr_scenarios.yaml", folder / "ivr_scenarios.yaml")
    shutil.copy(ROOT / "prompts" / "ru.yaml", folder / "ru.yaml")
    return console_application(
        folder, flow_path=folder / "ivr_flows.yaml", prompts_path=folder / "ru.yaml"
    )


@needs_browser
def test_every_node_of_the_shipped_flow_is_a_box_of_the_picture(browser, console) -> None:
    sign_in(browser, console, SUPERVISOR)
    open_page(browser, console, "/menu")
    boxes = browser.find_elements(By.CSS_SELECTOR, "#picture svg g.node")
    names = {box.find_element(By.TAG_NAME, "title").get_attribute("textContent") for box in boxes}
    assert set(SHIPPED_NODES) <= names
    assert browser.find_element(By.ID, "fault-count").text == "no problems"
    arrows = browser.find_elements(By.CSS_SELECTOR, "#picture svg g.edge")
    labels = {arrow.get_attribute("textContent") for arrow in arrows}
    assert any("tone_mode->check_window" in label and "2" in label for label in labels)
    whole_page_screenshot(browser, "menu")


@needs_browser
def test_a_clicked_node_shows_its_prompts_and_plays_their_recordings(browser, console) -> None:
    sign_in(browser, console)
    with serving(console.app) as live:
        open_page(browser, console, "/menu")
    assert browser.find_element(By.ID, "live-version").text == live.live.version
    assert (
        "The flow the server answers calls with." in browser.find_element(By.ID, "which-flow").text
    )
    browser.find_element(By.CSS_SELECTOR, "#picture g#node-greeting").click()
    details = browser.find_element(By.ID, "details-greeting")
    assert details.is_displayed()
    assert "Здравствуйте! Вы позвонили в контакт-центр" in details.text
    player = details.find_element(By.CSS_SELECTOR, "audio[data-prompt=welcome]")
    duration = WebDriverWait(browser, 10).until(
        lambda driver: driver.execute_script(
            "const a = arguments[0]; return a.readyState >= 1 && a.duration > 0 && a.duration",
            player,
        )
    )
    assert 1 < duration < 20
    browser.execute_script("return arguments[0].play()", player)
    WebDriverWait(browser, 10).until(
        lambda driver: driver.execute_script("return arguments[0].currentTime > 0.2", player)
    )
    Select(browser.find_element(By.ID, "node-choice")).select_by_value("tone_mode")
    assert not details.is_displayed()
    assert browser.find_element(By.ID, "details-tone_mode").is_displayed()
    screenshot(browser, "menu-node")


@needs_browser
def test_the_nodes_ivr_check_faults_are_marked_with_the_words_and_line(
    browser, tmp_path: Path
) -> None:
    app = editable_application(tmp_path)
    flow = app.settings.flow_path
    flow.write_text(
        flow.read_text().replace('"2": check_window\n', '"2": chek_window\n', 1), encoding="utf-8"
    )
    line = next(n for n, text in enumerate(flow.read_text().splitlines(), 1) if "chek_" in text)
    with running_console(app) as console:
        sign_in(browser, console)
        open_page(browser, console, "/menu")
        assert browser.find_element(By.ID, "fault-count").text.startswith("1 problem")
        assert browser.find_elements(By.CSS_SELECTOR, "#picture g#missing-chek_window")
        Select(browser.find_element(By.ID, "node-choice")).select_by_value("tone_mode")
        faults = browser.find_element(By.CSS_SELECTOR, "#details-tone_mode .faults").text
        screenshot(browser, "menu-fault")
    assert f"line {line}:" in faults
    assert "chek_window" in faults and "check_window" in faults


def test_without_a_server_the_configured_file_is_shown_and_said(tmp_path: Path) -> None:
    app = editable_application(tmp_path)
    shown = served_flow(app.settings)
    assert shown.flow_file == app.settings.flow_path
    assert shown.live_version is None
    assert shown.note.startswith("No FastAGI server answers on http://127.0.0.1:")


def test_the_picture_is_of_the_flow_the_server_serves(tmp_path: Path) -> None:
    app = editable_application(tmp_path)
    flow = app.settings.flow_path
    with serving(app) as live:
        shown = served_flow(app.settings)
        assert (shown.flow_file, shown.is_live) == (flow, True)
        assert shown.version == live.live.version
    good = live.live.version
    flow.write_text(flow.read_text().replace("next: tone_mode", "next: nowhere", 1))
    with serving(app) as live:  # started on a broken file: the last good copy serves
        assert live.live.saved_copy is not None
        shown = served_flow(app.settings)
    assert shown.version == good and shown.is_live
    assert shown.flow_file == app.settings.state_dir / "last-good-flow" / "ivr_flows.yaml"
    assert "last good copy" in shown.note
    with running_console(app) as console:
        client = console.client()
        token = csrf_of(client.get("/login").text)
        client.post(
            "/login", data={"name": SUPERVISOR, "password": "correct horse battery", "csrf": token}
        )
        with serving(app):
            page = client.get("/menu").text
    assert str(shown.flow_file) in page and good in page


@pytest.mark.parametrize(
    "path, status",
    [
        ("/prompts/audio/welcome", 200),
        ("/prompts/audio/no_such_prompt", 404),
        ("/prompts/audio/..%2F..%2Fivr_flows", 404),
        ("/prompts/audio/digits%2F1", 404),
        ("/prompts/audio/Welcome", 404),
    ],
)
def test_recordings_are_served_from_the_prompts_folder_only(console, path, status) -> None:
    unsigned = console.client().get(path).status_code
    assert unsigned in (303, 404), "no recording without a sign-in"
    answer = signed_in_client(console).get(path)
    assert answer.status_code == status
    if status == 200:
        assert answer.headers["content-type"] == "audio/wav"
        assert answer.content[:4] == b"RIFF"
