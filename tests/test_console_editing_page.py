"""The flow's pages in a real headless Chromium: a broken edit is refused with its line and
the file stays as it was; a good one is saved, found in the history and compared; the
version before is restored; a supervisor reads and checks but cannot save or restore; and
the running line picks the saved file up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from agi.storage.flow_versions import FlowVersion, FlowVersions
from tests.console_browser import (
    RunningConsole,
    needs_browser,
    open_page,
    screenshot,
    sign_in,
    submit_and_wait,
    whole_page_screenshot,
)
from tests.console_client import SUPERVISOR, csrf_of, line_of, signed_in_client

pytestmark = [pytest.mark.browser]

BROKEN = ("next: ask_contract", "next: ask_contrct")
COMMENT = ("  window_closed:\n", "  # said outside the days readings are taken\n  window_closed:\n")


@pytest.fixture
def console(editable_console: RunningConsole) -> RunningConsole:
    return editable_console


def flow_file(console: RunningConsole) -> Path:
    return console.app.settings.flow_path


def edit_text(browser: Any, old: str, new: str) -> str:
    """Change the text area as typing would, and the text it then holds."""
    text = browser.find_element(By.ID, "text").get_attribute("value")
    assert old in text
    changed = text.replace(old, new, 1)
    browser.execute_script("document.getElementById('text').value = arguments[0]", changed)
    return changed


def history(browser: Any) -> list[str]:
    return [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#versions tbody tr")]


@needs_browser
def test_a_broken_edit_is_refused_with_its_line(browser, console) -> None:
    before = flow_file(console).read_text(encoding="utf-8")
    sign_in(browser, console)
    open_page(browser, console, "/flow")
    screenshot(browser, "flow-edit")
    text = edit_text(browser, *BROKEN)

    submit_and_wait(browser, By.ID, "save")

    assert browser.find_element(By.ID, "message").text.startswith(
        "Not saved: the text has problems"
    )
    problem = browser.find_element(By.CSS_SELECTOR, "#problems li").text
    line = line_of(text, "next: ask_contrct")
    assert problem.startswith(f"ivr_flows.yaml, line {line}, node 'contract_unknown': ")
    assert "did you mean 'ask_contract'" in problem
    assert browser.find_element(By.ID, "text").get_attribute("value") == text  # kept to fix
    selected = browser.execute_script(
        "const t = document.getElementById('text');"
        "return t.value.slice(t.selectionStart, t.selectionEnd)"
    )
    assert selected.strip() == "next: ask_contrct"  # the cursor is on the problem's line
    screenshot(browser, "flow-refused")
    assert flow_file(console).read_text(encoding="utf-8") == before
    open_page(browser, console, "/flow/history")
    assert len(history(browser)) == 1  # only the file as found


@needs_browser
def test_a_good_edit_is_saved_found_in_the_history_compared_and_undone(browser, console) -> None:
    original = flow_file(console).read_text(encoding="utf-8")
    sign_in(browser, console)
    open_page(browser, console, "/flow")
    submit_and_wait(browser, By.ID, "check-button")
    assert browser.find_element(By.ID, "check-passed").text.endswith("14 scenarios pass.")
    text = edit_text(browser, *COMMENT)

    submit_and_wait(browser, By.ID, "save")

    assert browser.find_element(By.ID, "message").text.startswith("Saved as version 2.")
    assert flow_file(console).read_text(encoding="utf-8") == text
    open_page(browser, console, "/flow/history")
    rows = history(browser)
    assert rows[0].startswith("2 (in the file now)") and " anna " in rows[0]
    assert "found in the file" in rows[1]
    whole_page_screenshot(browser, "flow-history")

    submit_and_wait(browser, By.ID, "compare")  # the newest against the one before
    added = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#diff tr.added")]
    line = line_of(text, "# said outside the days")
    assert added == [f"{line} +  # said outside the days readings are taken"]
    assert browser.find_elements(By.CSS_SELECTOR, "#diff tr.removed") == []
    screenshot(browser, "flow-compare")

    open_page(browser, console, "/flow/history")
    submit_and_wait(browser, By.ID, "restore-1-button")
    assert browser.find_element(By.ID, "message").text.startswith("Saved as version 3.")
    assert flow_file(console).read_text(encoding="utf-8") == original
    open_page(browser, console, "/flow/history")
    assert "anna, restoring version 1" in history(browser)[0]


@needs_browser
def test_a_supervisor_reads_and_checks_but_has_no_save(browser, console) -> None:
    sign_in(browser, console, SUPERVISOR)
    open_page(browser, console, "/flow")
    assert browser.find_elements(By.ID, "save") == []
    assert "supervisor" in browser.find_element(By.ID, "read-only").text
    edit_text(browser, *BROKEN)
    submit_and_wait(browser, By.ID, "check-button")
    assert "did you mean 'ask_contract'" in browser.find_element(By.ID, "problems").text
    open_page(browser, console, "/flow/history")
    assert browser.find_elements(By.CSS_SELECTOR, "button[id^=restore-]") == []
    screenshot(browser, "flow-history-supervisor")


@pytest.mark.parametrize("path", ["/flow/save", "/flow/restore"])
def test_a_supervisor_cannot_save_or_restore(console, path) -> None:
    before = flow_file(console).read_text(encoding="utf-8")
    client = signed_in_client(console, SUPERVISOR)
    page = client.get("/flow")
    fields = {"text": before + "# by a supervisor\n", "number": "1", "opened": ""}
    answer = client.post(path, data={"csrf": csrf_of(page.text), **fields})
    assert answer.status_code == 403
    assert "supervisors read, editors save" in answer.text
    assert flow_file(console).read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("forged", 403)], ids=["no-sign-in", "bad-token"]
)
def test_a_save_needs_a_sign_in_and_the_forms_token(console, token, status) -> None:
    before = flow_file(console).read_text(encoding="utf-8")
    client = console.client() if token is None else signed_in_client(console)
    answer = client.post("/flow/save", data={"csrf": token or "", "text": "version: 1\n"})
    assert answer.status_code == status
    assert flow_file(console).read_text(encoding="utf-8") == before


def test_a_saved_text_is_shown_escaped_in_every_page(console) -> None:
    client = signed_in_client(console)
    page = client.get("/flow")
    text = flow_file(console).read_text(encoding="utf-8") + "# <script>alert(1)</script>\n"
    saved = client.post("/flow/save", data={"csrf": csrf_of(page.text), "text": text, "opened": ""})
    assert saved.status_code == 200 and "Saved as version 2." in saved.text
    for shown in (saved, client.get("/flow"), client.get("/flow/compare?old=1&new=2")):
        assert "<script>alert(1)" not in shown.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text


def test_a_restore_reads_its_version_once(console, monkeypatch) -> None:
    reads: list[int] = []
    get = FlowVersions.get

    def counted(self: FlowVersions, number: int) -> FlowVersion | None:
        reads.append(number)
        return get(self, number)

    client = signed_in_client(console)
    page = client.get("/flow")
    original = flow_file(console).read_text(encoding="utf-8")
    text = original.replace(*COMMENT)
    client.post("/flow/save", data={"csrf": csrf_of(page.text), "text": text, "opened": ""})
    monkeypatch.setattr(FlowVersions, "get", counted)

    restored = client.post("/flow/restore", data={"csrf": csrf_of(page.text), "number": "1"})

    assert restored.status_code == 200 and "Saved as version 3." in restored.text
    assert flow_file(console).read_text(encoding="utf-8") == original
    assert reads == [1]


def test_a_stale_save_is_refused_and_versions_that_do_not_exist_are_404(console) -> None:
    client = signed_in_client(console)
    page = client.get("/flow")
    token = csrf_of(page.text)
    opened = page.text.split('name="opened" value="')[1].split('"')[0]
    first = flow_file(console).read_text(encoding="utf-8")
    flow_file(console).write_text(first + "# by hand\n", encoding="utf-8")

    late = client.post(
        "/flow/save", data={"csrf": token, "text": first + "# me\n", "opened": opened}
    )

    assert late.status_code == 409
    assert "someone saved the flow since you opened it" in late.text
    assert flow_file(console).read_text(encoding="utf-8").endswith("# by hand\n")
    assert client.get("/flow/compare?old=1&new=99").status_code == 404
    assert client.post("/flow/restore", data={"csrf": token, "number": "99"}).status_code == 404


def test_the_running_line_picks_up_a_saved_edit(console, tmp_path) -> None:
    from agi.telephony.live_flow import LiveFlow

    live = LiveFlow(console.app, tmp_path / "line-state")
    first = live.start().version
    client = signed_in_client(console)
    page = client.get("/flow")
    text = flow_file(console).read_text(encoding="utf-8").replace(*COMMENT)
    client.post("/flow/save", data={"csrf": csrf_of(page.text), "text": text, "opened": ""})

    live.check()

    assert live.refused is None
    assert live.live is not None and live.live.version not in (first, "changing")
