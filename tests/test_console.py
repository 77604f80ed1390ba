"""The staff console's sign-in and its guards, in a real headless Chromium, over HTTP and
through nginx: who gets in, who is refused and how, what the session cookie is, and that a
session ended stays ended in every copy of its cookie."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from selenium.webdriver.common.by import By

from agi.application import Application
from agi.cli import main
from agi.console.access import Editor, Form
from agi.console.app import PAGES
from agi.console.sessions import COOKIE
from agi.console.site import Console, Page
from agi.console.throttle import Limits
from agi.text.nginx_site import CONSOLE_SITE_TEMPLATE, render_site
from tests.console_browser import (
    RunningConsole,
    console_application,
    needs_browser,
    open_page,
    running_console,
    screenshot,
    sign_in,
    submit_and_wait,
)
from tests.console_client import (
    EDITOR,
    PASSWORD,
    SUPERVISOR,
    Visitor,
    csrf_of,
    signed_in_client,
)
from tests.real_line import NGINX, private_nginx
from tests.support import ROOT, free_port
from tests.test_nginx import REQUIRED as NGINX_REQUIRED

COOKIE_FIELDS = ("name", "value", "path", "secure", "httpOnly", "sameSite")
"""What Selenium gives back of a cookie and takes to set one again."""

# --- in the browser -----------------------------------------------------------------------


@needs_browser
def test_staff_sign_in_and_see_who_they_are(browser, console) -> None:
    open_page(browser, console, "/login")
    screenshot(browser, "login")
    sign_in(browser, console, EDITOR)
    assert browser.current_url == console.url + "/menu"
    assert browser.find_element(By.ID, "who").text == f"{EDITOR} (editor)"
    cookie = browser.get_cookie("ivr_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"


@needs_browser
def test_a_page_without_a_sign_in_goes_to_the_sign_in_form(browser, console) -> None:
    browser.delete_all_cookies()
    open_page(browser, console, "/reports")
    assert browser.current_url == console.url + "/login?next=%2Freports"
    sign_in_then = browser.find_element(By.NAME, "next").get_attribute("value")
    assert sign_in_then == "/reports"


@needs_browser
def test_a_wrong_password_is_refused_with_words(browser, console) -> None:
    sign_in(browser, console, EDITOR, "not the password")
    assert browser.current_url == console.url + "/login"
    assert browser.find_element(By.ID, "problem").text == "The name or the password is wrong."
    assert browser.find_elements(By.ID, "who") == []


@needs_browser
def test_a_form_with_a_bad_csrf_token_is_refused(browser, console) -> None:
    sign_in(browser, console, EDITOR)
    browser.execute_script("document.querySelector('form.who input[name=csrf]').value = 'forged'")
    submit_and_wait(browser, By.ID, "logout")
    assert browser.find_element(By.ID, "error-title").text == "The form has expired"
    screenshot(browser, "refused-csrf")
    open_page(browser, console, "/menu")
    assert browser.find_element(By.ID, "who").text.startswith(EDITOR), "still signed in"


@needs_browser
def test_signing_out_ends_the_session_and_a_copy_of_its_cookie(browser, console) -> None:
    sign_in(browser, console, SUPERVISOR)
    copied = browser.get_cookie(COOKIE)
    assert "every browser" in browser.find_element(By.ID, "logout").get_attribute("title")
    submit_and_wait(browser, By.ID, "logout")
    assert browser.current_url == console.url + "/login"
    open_page(browser, console, "/menu")
    assert browser.current_url.startswith(console.url + "/login")

    browser.delete_cookie(COOKIE)
    browser.add_cookie({key: copied[key] for key in COOKIE_FIELDS})
    open_page(browser, console, "/menu")
    assert browser.current_url == console.url + "/login?next=%2Fmenu"
    sign_in(browser, console, SUPERVISOR)
    assert browser.find_element(By.ID, "who").text == f"{SUPERVISOR} (supervisor)"


# --- over HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_sign_in_without_the_forms_token_is_refused_with_403(console, token) -> None:
    client = console.client()
    client.get("/login")
    data = {"name": EDITOR, "password": PASSWORD}
    if token is not None:
        data["csrf"] = token
    answer = client.post("/login", data=data)
    assert answer.status_code == 403
    assert "The form has expired" in answer.text
    assert client.get("/menu").status_code == 303, "not signed in"


def test_a_token_from_before_the_sign_in_no_longer_counts(console) -> None:
    client = console.client()
    before = csrf_of(client.get("/login").text)
    client.post("/login", data={"name": EDITOR, "password": PASSWORD, "csrf": before})
    assert client.post("/logout", data={"csrf": before}).status_code == 403


def probe(console: Console) -> APIRouter:
    router = APIRouter()

    @router.post("/probe-save")
    def save(staff: Editor, form: Form) -> PlainTextResponse:
        return PlainTextResponse(f"saved by {staff.name}: {form.get('text')}")

    return router


@pytest.mark.parametrize(
    "name, status, said",
    [
        (EDITOR, 200, "saved by anna: new"),
        (SUPERVISOR, 403, "supervisors read, editors save"),
    ],
)
def test_only_an_editor_can_save(tmp_path: Path, name, status, said) -> None:
    app = console_application(tmp_path)
    with running_console(app, pages=[*PAGES, Page(probe)]) as console:
        client = signed_in_client(console, name)
        token = csrf_of(client.get("/menu").text)
        answer = client.post("/probe-save", data={"csrf": token, "text": "new"})
    assert (answer.status_code, said in answer.text) == (status, True)


def test_without_a_sign_in_a_page_goes_to_the_form_and_a_change_is_refused_with_401(
    tmp_path: Path,
) -> None:
    with running_console(console_application(tmp_path), pages=[*PAGES, Page(probe)]) as console:
        client = console.client()
        token = csrf_of(client.get("/login").text)
        page = client.get("/menu")
        change = client.post("/probe-save", data={"csrf": token, "text": "new"})
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fmenu")
    assert change.status_code == 401
    assert "Sign in first" in change.text


def test_failed_sign_ins_are_limited_per_account_and_per_address(tmp_path: Path) -> None:
    app = console_application(tmp_path)
    limits = Limits(per_account=3, per_address=5, window_seconds=600)
    with running_console(app, limits=limits) as console:
        client = console.client()
        token = csrf_of(client.get("/login").text)

        def attempt(name: str, password: str) -> int:
            data = {"name": name, "password": password, "csrf": token}
            return client.post("/login", data=data).status_code

        assert [attempt(EDITOR, "wrong") for _ in range(4)] == [401, 401, 401, 429]
        refused = client.post("/login", data={"name": EDITOR, "password": PASSWORD, "csrf": token})
        assert refused.status_code == 429, "the right password waits too"
        assert "too many wrong passwords for this account" in refused.text
        assert "Wait 10 minutes" in refused.text
        assert 590 <= int(refused.headers["retry-after"]) <= 600
        assert [attempt(SUPERVISOR, "wrong"), attempt("nobody", "x")] == [401, 401]
        address = client.post(
            "/login", data={"name": SUPERVISOR, "password": PASSWORD, "csrf": token}
        )
        assert "for this computer" in address.text


def test_a_removed_account_is_signed_out(console) -> None:
    client = signed_in_client(console, SUPERVISOR)
    assert client.get("/menu").status_code == 200
    console.app.accounts.remove(SUPERVISOR)
    assert client.get("/menu").status_code == 303


def ivr(console: RunningConsole, *args: str, stdin: str | None = None) -> Result:
    """`ivr ...` on the console's database, as an operator runs it on the server."""
    env = {"IVR_DATABASE_URL": console.app.settings.database_url, "IVR_CONFIG": ""}
    result = CliRunner().invoke(main, list(args), input=stdin, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def sign_out_on_the_page(console: RunningConsole, client: Visitor) -> None:
    token = csrf_of(client.get("/menu").text)
    assert client.post("/logout", data={"csrf": token}).status_code == 303


def sign_out_by_the_operator(console: RunningConsole, client: Visitor) -> None:
    ivr(console, "console", "user", "signout", EDITOR)


def remove_and_add_again(console: RunningConsole, client: Visitor) -> None:
    ivr(console, "console", "user", "remove", EDITOR)
    ivr(console, "console", "user", "add", EDITOR, "--role", "editor", stdin=PASSWORD)


@pytest.mark.parametrize(
    "end", [sign_out_on_the_page, sign_out_by_the_operator, remove_and_add_again]
)
def test_an_ended_session_stays_ended_in_every_copy_of_its_cookie(console, end) -> None:
    client = signed_in_client(console)
    elsewhere = signed_in_client(console)
    colleague = signed_in_client(console, SUPERVISOR)
    copied = client.cookie
    token = csrf_of(client.get("/keypad").text)

    def with_copy(method: str, path: str, **options: Any) -> httpx.Response:
        thief = console.client()
        thief.cookie = copied
        return thief.request(method, path, **options)

    change = {"data": {"csrf": token, "day": "2026-11-20", "keys": "*"}}
    assert [
        with_copy("GET", "/menu").status_code,
        with_copy("POST", "/keypad", **change).status_code,
    ] == [200, 200]

    end(console, client)

    page, refused = with_copy("GET", "/menu"), with_copy("POST", "/keypad", **change)
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fmenu")
    assert (refused.status_code, "Sign in first" in refused.text) == (401, True)
    assert elsewhere.get("/menu").status_code == 303, "every session of the account ends"
    assert colleague.get("/menu").status_code == 200, "another account's do not"
    again = signed_in_client(console)
    assert f'<span id="who">{EDITOR} (editor)</span>' in again.get("/menu").text


def test_a_forged_or_expired_cookie_counts_as_no_sign_in(tmp_path: Path) -> None:
    app = console_application(tmp_path, console_session_hours=0.0001)
    with running_console(app) as console:
        client = signed_in_client(console)
        cookie = client.cookie
        body, signature = cookie.split(".")
        client.cookie = body + "." + signature[::-1]
        assert client.get("/menu").status_code == 303
        client.cookie = cookie
        time.sleep(0.5)
        assert client.get("/menu").status_code == 303


needs_nginx = pytest.mark.skipif(NGINX is None and not NGINX_REQUIRED, reason="needs nginx")


@contextmanager
def behind_nginx(console: RunningConsole, folder: Path) -> Iterator[RunningConsole]:
    """The console behind the site `ivr install` writes, in a real nginx on a free port; its
    access log is folder/nginx/access.log."""
    if NGINX is None:
        pytest.fail("IVR_REQUIRE_NGINX is set but nginx is not installed")
    port = free_port()
    prefix = folder / "nginx"
    prefix.mkdir()
    site = render_site(
        (ROOT / CONSOLE_SITE_TEMPLATE).read_text(encoding="utf-8"),
        server_name="localhost",
        listen=f"127.0.0.1:{port}",
        webhook=console.url.removeprefix("http://"),
        access_log=str(prefix / "access.log"),
    )
    (prefix / "ivr-console.conf").write_text("log_format ivr_webhook '$remote_addr $uri';\n" + site)
    with private_nginx(prefix / "ivr-console.conf", prefix, port):
        yield RunningConsole(f"http://127.0.0.1:{port}", console.app)


def from_address(console: RunningConsole, address: str) -> Visitor:
    """A client whose connections come from `address` (another loopback one: a computer of
    its own, as nginx sees it)."""
    return console.client(transport=httpx.HTTPTransport(local_address=address))


@needs_browser
@needs_nginx
def test_staff_sign_in_through_the_installed_nginx_site(browser, console, tmp_path) -> None:
    with behind_nginx(console, tmp_path) as proxied:
        sign_in(browser, proxied, EDITOR)
        assert browser.current_url == proxied.url + "/menu"
        assert browser.find_element(By.ID, "who").text == f"{EDITOR} (editor)"
    assert "/login" in (tmp_path / "nginx" / "access.log").read_text()


@needs_nginx
def test_through_nginx_failed_sign_ins_count_by_the_address_nginx_passes_on(tmp_path) -> None:
    """nginx puts the client's address in X-Real-IP, over whatever the client sent there:
    one computer's wrong passwords are refused with 429 past the limit, however it changes
    the header, while another computer signs in."""
    limits = Limits(per_account=10, per_address=3, window_seconds=600)
    with (
        running_console(console_application(tmp_path), limits=limits) as console,
        behind_nginx(console, tmp_path) as proxied,
    ):
        guesser = from_address(proxied, "127.0.0.2")
        token = csrf_of(guesser.get("/login").text)
        answers = [
            guesser.post(
                "/login",
                data={"name": EDITOR, "password": f"guess {n}", "csrf": token},
                headers={"X-Real-IP": f"10.0.0.{n}"},
            )
            for n in range(4)
        ]
        colleague = from_address(proxied, "127.0.0.3")
        form = colleague.get("/login")
        signed_in = colleague.post(
            "/login", data={"name": EDITOR, "password": PASSWORD, "csrf": csrf_of(form.text)}
        )
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    refused = answers[-1]
    assert "too many wrong passwords for this computer" in refused.text
    assert 590 <= int(refused.headers["retry-after"]) <= 600
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/menu")
    logged = (tmp_path / "nginx" / "access.log").read_text()
    assert "127.0.0.2 /login" in logged and "127.0.0.3 /login" in logged


def stop_database(folder: Path, app: Application) -> None:
    """Put a folder where the console's SQLite file was: nothing opens it."""
    app.repository.engine.dispose()
    (folder / "ivr.db").unlink()
    (folder / "ivr.db").mkdir()


def test_a_database_that_does_not_answer_is_said_with_503(tmp_path: Path) -> None:
    app = console_application(tmp_path)
    with running_console(app) as console:
        client = console.client()
        token = csrf_of(client.get("/login").text)
        stop_database(tmp_path, app)
        answer = client.post("/login", data={"name": EDITOR, "password": PASSWORD, "csrf": token})
    assert answer.status_code == 503
    assert "The database does not answer" in answer.text


def test_a_sign_out_the_database_refuses_still_ends_this_browsers_session(
    tmp_path: Path,
) -> None:
    app = console_application(tmp_path)
    with running_console(app) as console:
        client = signed_in_client(console)
        copied = client.cookie
        token = csrf_of(client.get("/menu").text)
        with app.repository.engine.begin() as connection:
            connection.exec_driver_sql(
                "create trigger refuse_sign_out before update on staff_accounts "
                "begin select raise(abort, 'the disk is full'); end"
            )
        answer = client.post("/logout", data={"csrf": token})
        page = client.get("/menu")
        thief = console.client()
        thief.cookie = copied
        stolen = thief.get("/menu")
    assert answer.status_code == 503
    assert "Your other sessions were not ended" in answer.text
    assert "still signed in in other browsers" in answer.text
    assert 'id="who"' not in answer.text
    assert client.cookie != copied
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fmenu")
    assert stolen.status_code == 200, "the page says the other sessions still count"


def test_static_files_are_served_while_the_database_does_not_answer(tmp_path: Path) -> None:
    app = console_application(tmp_path)
    with running_console(app) as console:
        client = signed_in_client(console)
        anonymous = console.client()
        stop_database(tmp_path, app)
        style, script = client.get("/static/console.css"), anonymous.get("/static/keypad.js")
        page, sign_in_page = client.get("/menu"), anonymous.get("/menu")
    assert (style.status_code, style.headers["content-type"]) == (200, "text/css; charset=utf-8")
    assert (script.status_code, "keypadHeard" in script.text) == (200, True)
    assert "set-cookie" not in style.headers and "set-cookie" not in script.headers
    assert style.headers["x-content-type-options"] == "nosniff"
    assert page.status_code == 503
    assert "The console cannot check who you are now" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (sign_in_page.status_code, sign_in_page.headers["location"]) == (
        303,
        "/login?next=%2Fmenu",
    )
