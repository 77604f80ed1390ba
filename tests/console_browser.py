"""What the staff console's tests share: a console served by uvicorn on a free loopback port
over the demo database, its two accounts, a real headless Chromium driven by Selenium, and
screenshots of the pages (in var/screenshots/, which CI keeps).

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`);
without them the browser tests are skipped, unless IVR_REQUIRE_BROWSER is set (CI).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agi.application import Application
from agi.settings import Settings
from tests.console_client import EDITOR, PASSWORD, SUPERVISOR, Visitor
from tests.support import ROOT, demo_database, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRED = os.environ.get("IVR_REQUIRE_BROWSER", "") not in ("", "0")
AVAILABLE = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()
SCREENSHOTS = ROOT / "var" / "screenshots"
SECRET = "console-secret-for-the-tests-0123456789"


def needs_browser(test: Any) -> Any:
    """Marks a test `browser`, and skips it without Chromium unless IVR_REQUIRE_BROWSER."""
    skip = pytest.mark.skipif(
        not AVAILABLE and not REQUIRED,
        reason="needs Chromium and its driver (apt-get install chromium chromium-driver)",
    )
    return pytest.mark.browser(skip(test))


def console_settings(folder: Path, **overrides: Any) -> Settings:
    """The shipped flow, prompts and audio on a demo SQLite database in `folder`, readings
    taken on any day."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'ivr.db'}",
        "flow_path": ROOT / "ivr_flows.yaml",
        "prompts_path": ROOT / "prompts" / "ru.yaml",
        "prompts_audio_dir": ROOT / "prompts" / "ru",
        "accept_days": "1-31",
        "state_dir": folder / "state",
        "status_port": free_port(),
        **overrides,
    }
    return Settings(**values)


def console_application(folder: Path, **overrides: Any) -> Application:
    """An application on the demo database with an editor and a supervisor account
    (`EDITOR`, `SUPERVISOR`, both with `PASSWORD`)."""
    from agi.console.passwords import hash_password

    settings = console_settings(folder, **overrides)
    app = Application(settings)
    app.repository = demo_database(settings.database_url)
    hashed = hash_password(PASSWORD)
    app.accounts.add(EDITOR, "editor", hashed)
    app.accounts.add(SUPERVISOR, "supervisor", hashed)
    return app


@dataclass
class RunningConsole:
    url: str
    app: Application

    def client(self, **options: Any) -> Visitor:
        """An HTTP client of the console that keeps its session cookie (not a browser)."""
        return Visitor(self.url, **options)


@contextmanager
def running_console(app: Application, **options: Any) -> Iterator[RunningConsole]:
    """`create_app(app, **options)` served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from agi.console.app import create_app

    options.setdefault("secret", SECRET)
    api = create_app(app, **options)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.02)
    try:
        yield RunningConsole(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(10)
        app.repository.engine.dispose()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[RunningConsole]:
    """The console of the demo installation, with Secure cookies as `ivr console` serves it
    by default (Chromium sends them to http://127.0.0.1: loopback counts as secure)."""
    with running_console(console_application(tmp_path)) as running:
        yield running


@pytest.fixture
def editable_console(tmp_path: Path) -> Iterator[RunningConsole]:
    """The console on copies of the shipped flow and scenarios, which a test may change (an
    edit saved, a call kept as a scenario)."""
    import shutil

    for name in ("ivr_flows.yaml", "ivr_scenarios.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    app = console_application(tmp_path, flow_path=tmp_path / "ivr_flows.yaml")
    with running_console(app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (one per test module; each test signs in afresh)."""
    if not AVAILABLE:
        pytest.fail("IVR_REQUIRE_BROWSER is set but chromium or chromium-driver is missing")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--autoplay-policy=no-user-gesture-required",
        "--lang=ru-RU",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: Any, console: RunningConsole, path: str) -> None:
    browser.get(console.url + path)


def sign_in(
    browser: Any, console: RunningConsole, name: str = EDITOR, password: str = PASSWORD
) -> None:
    """Sign in through the form, as a person does, and wait for the page that follows."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    open_page(browser, console, "/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    submit_and_wait(browser, By.ID, "sign-in")


def submit_and_wait(browser: Any, by: str, value: str) -> None:
    """Click the button that sends a form, and wait until the next page has loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.ivrPageBefore = true")
    browser.find_element(by, value).click()
    WebDriverWait(browser, 10).until(
        lambda driver: driver.execute_script(
            "return window.ivrPageBefore === undefined && document.readyState === 'complete'"
        )
    )


def signed_in_page(browser: Any, console: RunningConsole, path: str, name: str = EDITOR) -> str:
    """The HTML of `path` as `name` sees it, signed in through the form."""
    sign_in(browser, console, name)
    open_page(browser, console, path)
    return browser.page_source


def screenshot(browser: Any, name: str) -> Path:
    """The page as the browser shows it, in var/screenshots/NAME.png (the path is printed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(target))
    print(f"screenshot: {target}")
    return target


def whole_page_screenshot(browser: Any, name: str, width: int = 1400) -> Path:
    """The whole page, however long, as one picture."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, max(700, min(int(height) + 40, 4000)))
    try:
        return screenshot(browser, name)
    finally:
        browser.set_window_size(width, 1000)
