"""The keypad page in a real headless Chromium: the seed call made key by key ends with
«Показания приняты. Спасибо.», the prompts' audio heard in the order they are said, the
real readings untouched; a finished call kept as a scenario by an editor, never by a
supervisor."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from agi.scenarios import scenarios_path
from tests.console_browser import (
    RunningConsole,
    console_application,
    needs_browser,
    open_page,
    running_console,
    screenshot,
    sign_in,
    submit_and_wait,
    whole_page_screenshot,
)
from tests.console_client import SUPERVISOR, csrf_of, signed_in_client
from tests.support import ROOT

pytestmark = [pytest.mark.browser]

DAY = "2026-11-20"
"""Inside the seed's window (the 18th to the 25th)."""
ACCEPTED = "Показания приняты. Спасибо."
AUDIO = "/prompts/audio/"


@pytest.fixture
def console(editable_console: RunningConsole) -> RunningConsole:
    return editable_console


def heard(browser: Any) -> list[dict[str, Any]]:
    """The recordings the page played to their end, in order: {url, seconds}."""
    return browser.execute_script("return window.keypadHeard")


def turns(browser: Any) -> list[str]:
    return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#transcript > li")]


def press(browser: Any, how: str, what: str) -> None:
    """Press a key button, type keys and press Enter, or use a button by id; wait for the
    call to come back."""
    steps = browser.find_element(By.ID, "keypad-form").get_attribute("data-steps")
    if how == "key":
        browser.find_element(By.CSS_SELECTOR, f'button.key[data-key="{what}"]').click()
    elif how == "type":
        field = browser.find_element(By.ID, "keys")
        field.send_keys(what)
        field.send_keys(Keys.ENTER)
    else:
        browser.find_element(By.ID, what).click()
    WebDriverWait(browser, 15).until(
        lambda driver: (
            driver.find_element(By.ID, "keypad-form").get_attribute("data-steps") != steps
        )
    )


def start(browser: Any, console: RunningConsole, day: str = DAY, caller: str = "") -> None:
    open_page(browser, console, "/keypad")
    WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.ID, "keypad-form").get_attribute("data-ready")
    )
    browser.execute_script("document.getElementById('day').value = arguments[0]", day)
    if caller:
        browser.find_element(By.ID, "caller").send_keys(caller)
    press(browser, "id", "again")


SEED_CALL = [
    ("key", "*"),
    ("key", "2"),
    ("type", "123859#"),
    ("key", "1"),
    ("type", "45055#"),
    ("key", "1"),
    ("type", "23186#"),
    ("key", "1"),
]


@needs_browser
def test_the_seed_call_is_made_on_the_keypad(browser, console) -> None:
    sign_in(browser, console)
    start(browser, console)
    assert turns(browser)[-1].startswith("IVR: Переведите телефон в тоновый режим")
    for how, what in SEED_CALL:
        press(browser, how, what)

    said = turns(browser)
    assert said[-2] == f"IVR: {ACCEPTED} ▶"
    assert said[-1] == "IVR hangs up"
    assert browser.find_element(By.ID, "state").get_attribute("data-state") == "accepted"
    assert browser.find_element(By.ID, "presses").get_attribute("value") == (
        "* 2 123859# 1 45055# 1 23186# 1"
    )
    assert "caller: 23186#" in said
    accepted = WebDriverWait(browser, 30).until(
        lambda driver: [h for h in heard(driver) if h["url"] == AUDIO + "readings_accepted"]
    )
    assert 0.5 < accepted[-1]["seconds"] < 10
    whole_page_screenshot(browser, "keypad")
    app = console.app
    assert app.repository.export("2026-11") == []


@needs_browser
@pytest.mark.parametrize(
    ("damaged", "played", "failed"),
    [
        pytest.param(None, ["enter_reading", "zone_day", "end_with_hash"], [], id="every-one"),
        pytest.param("zone_day", ["enter_reading", "end_with_hash"], ["zone_day"], id="damaged"),
    ],
)
def test_the_audio_of_a_turn_is_heard_in_the_order_it_is_said(
    browser, tmp_path, damaged, played, failed
) -> None:
    """Each recording is loaded and played to its end before the next starts; one that does
    not load is told apart, and the rest still play."""
    audio = tmp_path / "audio"
    shutil.copytree(ROOT / "prompts" / "ru", audio)
    if damaged:
        (audio / f"{damaged}.wav").write_bytes(b"RIFF, but not a recording")
    with running_console(console_application(tmp_path, prompts_audio_dir=audio)) as console:
        sign_in(browser, console)
        start(browser, console)
        for how, what in SEED_CALL[:4]:
            press(browser, how, what)
        expected = [AUDIO + name for name in played]
        WebDriverWait(browser, 30).until(
            lambda driver: [h["url"] for h in heard(driver)][-len(expected) :] == expected
        )
        tail = heard(browser)[-len(expected) :]
        assert all(0.3 < h["seconds"] < 15 for h in tail), tail
        assert browser.execute_script("return window.keypadFailed") == [
            AUDIO + name for name in failed
        ]


@needs_browser
def test_waiting_and_hanging_up(browser, console) -> None:
    sign_in(browser, console)
    start(browser, console)
    press(browser, "key", "*")
    press(browser, "id", "wait")
    assert turns(browser)[-2:] == [
        "caller: (waits)",
        "IVR: Извините, я вас не слышу. ▶ Для передачи показаний приборов учёта нажмите 2. "
        "Для связи с оператором нажмите 0. ▶",
    ]
    press(browser, "id", "hang-up")
    assert turns(browser)[-1] == "caller hangs up"
    assert browser.find_element(By.ID, "state").get_attribute("data-state") == "caller_hung_up"


@needs_browser
def test_a_caller_billing_knows_hears_their_contract(browser, console) -> None:
    sign_in(browser, console)
    start(browser, console, caller="+79120000001")
    press(browser, "type", "*2")
    assert "заканчивается на ▶ семь пять два два Если это он" in turns(browser)[-1]


@needs_browser
def test_an_editor_keeps_a_finished_call_as_a_scenario(browser, console) -> None:
    sign_in(browser, console)
    start(browser, console)
    assert browser.find_elements(By.ID, "keep") == []  # not before the call has ended
    for how, what in SEED_CALL:
        press(browser, how, what)
    browser.find_element(By.ID, "scenario-name").send_keys("two zones on the keypad")
    submit_and_wait(browser, By.ID, "keep")

    kept = browser.find_element(By.ID, "kept").text
    assert kept.startswith("Saved as the scenario “two zones on the keypad” in ivr_scenarios.yaml")
    text = scenarios_path(console.app.settings.flow_path).read_text(encoding="utf-8")
    assert "  two zones on the keypad:\n    date: '2026-11-20'\n" in text
    assert "- {contract: '123859', resource: electricity, zone: night, value: 23186}" in text


def test_a_supervisor_cannot_keep_a_scenario(console) -> None:
    client = signed_in_client(console, SUPERVISOR)
    page = client.get("/keypad")
    assert page.status_code == 200
    answer = client.post(
        "/keypad/scenario",
        data={
            "csrf": csrf_of(page.text),
            "day": DAY,
            "presses": "*2 123859# 1 45055# 1 23186# 1",
            "name": "by a supervisor",
        },
    )
    assert answer.status_code == 403
    assert "by a supervisor" not in scenarios_path(console.app.settings.flow_path).read_text()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"caller": "<b>me</b>"}, "the caller&#39;s number is digits"),
        ({"keys": "12x"}, "&#39;x&#39; (character 3) is not a phone key"),
        ({"day": "20.11.2026"}, "the day is a date"),
        ({"presses": "1 2 <script>"}, "is not a phone key"),
    ],
)
def test_what_is_no_call_is_said_on_the_page(console, fields, problem) -> None:
    client = signed_in_client(console)
    page = client.get("/keypad")
    answer = client.post("/keypad", data={"csrf": csrf_of(page.text), "day": DAY, **fields})
    assert answer.status_code == 200
    assert problem in answer.text
    assert "<b>me</b>" not in answer.text and "<script>" not in answer.text


def test_the_keypad_needs_a_sign_in_and_the_forms_token(console) -> None:
    anonymous = console.client()
    assert anonymous.get("/keypad").status_code == 303
    assert anonymous.post("/keypad", data={"keys": "1"}).status_code == 401
    client = signed_in_client(console)
    assert client.post("/keypad", data={"csrf": "forged", "keys": "1"}).status_code == 403


@needs_browser
def test_the_keypad_page_screenshot_for_a_supervisor(browser, console) -> None:
    sign_in(browser, console, SUPERVISOR)
    start(browser, console)
    for how, what in SEED_CALL[:3]:
        press(browser, how, what)
    assert browser.find_elements(By.ID, "keep") == []
    screenshot(browser, "keypad-supervisor")
