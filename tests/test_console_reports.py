"""The console's reports: the charts of `ivr report`'s figures, and a contract's readings,
with no other customer's phone or contract number in any page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from agi.application import Application
from agi.records import report as figures_of
from agi.text.dialog import IncomingMessage, TextChannel, text_dialog_for
from tests.conftest import IN_WINDOW, place_call
from tests.console_browser import (
    RunningConsole,
    console_application,
    needs_browser,
    open_page,
    running_console,
    sign_in,
    submit_and_wait,
    whole_page_screenshot,
)
from tests.console_client import SUPERVISOR, signed_in_client

LOOKED_UP = "102057522"
CALLS = [
    # (day, caller, keys)
    (0, "+79120000001", f"*2 {LOOKED_UP}# 11638# 1"),  # accepted
    (0, "+79125550002", "*2 123859# 2 20# 1"),  # accepted: another customer's hot water
    (0, "+79125550003", "0"),  # to the operator
    (1, "+79125550004", "*2 999999# 888888# 777777#"),  # three unknown contracts
    (1, "+79125550005", f"*2 {LOOKED_UP}# 1# 2# 3#"),  # three readings below the previous
    (2, "+79120000006", f"*2 {LOOKED_UP}# 11650# 1"),  # accepted again: supersedes
    (2, "+79125550007", "*2 176354# 40# 1"),  # accepted: cold water, another customer
]
PERIOD = "first=2026-11-19&last=2026-11-25"
MESSAGES = [
    # (day, channel, sender, text)
    (0, TextChannel.SMS, "+79125550011", "ПС 176354 41"),
    (1, TextChannel.VIBER, "+79125550012", "ПС 999999 1"),
    (2, TextChannel.WHATSAPP, "+79125550013", "ПС 123859"),
    (2, TextChannel.WHATSAPP, "+79125550013", "45055 23186"),
]
OTHER_CUSTOMERS = ["123859", "176354", "999999", "888888", "777777"]


def called(app: Application) -> Application:
    for number, (day, caller, keys) in enumerate(CALLS):
        place_call(
            app, keys, at=IN_WINDOW + timedelta(days=day), call_id=f"call-{number}", caller=caller
        )
    dialog = text_dialog_for(app.settings, app.repository)
    for number, (day, channel, sender, text) in enumerate(MESSAGES):
        message = IncomingMessage(channel, sender, f"message-{number}", text)
        dialog.answer(message, at=IN_WINDOW + timedelta(days=day, hours=1))
    app.record_writer.flush()
    return app


@pytest.fixture
def reporting(tmp_path: Path):
    with running_console(called(console_application(tmp_path))) as running:
        yield running


def full_numbers(html: str) -> set[str]:
    """The phone numbers of the calls and the other customers' contracts found in a page."""
    digits = re.sub(r"[^0-9]", "", html)
    callers = {caller.lstrip("+") for _, caller, _ in CALLS}
    callers |= {sender.lstrip("+") for _, _, sender, _ in MESSAGES}
    found = {number for number in callers | {c[1:] for c in callers} if number in digits}
    return found | {number for number in OTHER_CUSTOMERS if number in html}


PAGES = ["/login", "/menu", f"/reports?{PERIOD}", f"/reports/contract?number={LOOKED_UP}"]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_shows_a_full_phone_number_or_another_customers_contract(
    reporting: RunningConsole, path: str
) -> None:
    html = signed_in_client(reporting, SUPERVISOR).get(path).text
    assert full_numbers(html) == set()


def test_a_contracts_history_shows_its_readings_with_masked_callers(reporting) -> None:
    html = signed_in_client(reporting).get(f"/reports/contract?number={LOOKED_UP}").text
    rows = re.findall(r"<tr(?: class=\"superseded\")?>\s*<td>(.*?)</tr>", html, re.S)
    assert len(rows) == 2, "the two accepted calls, newest first"
    assert "11650" in rows[0] and "**********06" in rows[0] and "current" in rows[0]
    assert "11638" in rows[1] and "**********01" in rows[1] and "replaced by a later" in rows[1]


def test_the_report_page_has_the_figures_of_ivr_report(reporting) -> None:
    html = signed_in_client(reporting).get(f"/reports?{PERIOD}").text
    records = reporting.app.call_records.between(
        *figures_of.day_bounds(IN_WINDOW.date(), IN_WINDOW.date() + timedelta(6), "Europe/Moscow")
    )
    figures = figures_of.report(
        records,
        start=IN_WINDOW.date() - timedelta(1),
        end=IN_WINDOW.date() + timedelta(5),
        timezone="Europe/Moscow",
    )
    assert (figures.calls, figures.conversations) == (7, 3)  # WhatsApp's two messages: one
    assert "7 phone calls and 3 text conversations" in html
    # too_many_digits: the first caller's phone finds his contract, and the contract number
    # he keys in is taken for his reading
    refused = [("unknown_contract", 4), ("below_previous", 3), ("too_many_digits", 1)]
    assert figures.refusals == refused
    for shown in (
        "Calls and messages per day",
        "Funnel: calls that reached each step",
        "Why readings were refused",
        *(reason for reason, _ in refused),
    ):
        assert shown in html


@pytest.mark.parametrize(
    "query, said",
    [
        ("first=2026-11-25&last=2026-11-19", "The period is backwards"),
        ("first=2026-01-01&last=2026-11-19", "The period is too long"),
        ("first=yesterday", "Not a date"),
    ],
)
def test_a_wrong_period_is_refused_with_words(console, query, said) -> None:
    answer = signed_in_client(console).get(f"/reports?{query}")
    assert (answer.status_code, said in answer.text) == (400, True)


@needs_browser
def test_the_report_page_in_the_browser(browser, reporting) -> None:
    sign_in(browser, reporting, SUPERVISOR)
    open_page(browser, reporting, f"/reports?{PERIOD}")
    charts = browser.find_element(By.CSS_SELECTOR, "#charts svg")
    assert charts.size["height"] > 300
    assert "Why readings were refused" in charts.get_attribute("textContent")
    whole_page_screenshot(browser, "reports")
    browser.find_element(By.ID, "contract-number").send_keys(LOOKED_UP)
    submit_and_wait(browser, By.ID, "look-up")
    table = browser.find_element(By.ID, "history")
    assert "**********06" in table.text
    whole_page_screenshot(browser, "contract")
    assert full_numbers(browser.page_source) == set()
