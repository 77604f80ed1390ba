"""`ivr console` and its accounts from the command line: what is stored, what is refused."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import text

from agi.cli import main
from agi.console.passwords import password_matches
from agi.storage.accounts import Accounts
from agi.storage.database import alembic_config, connect
from tests.real_line import await_listening
from tests.support import ROOT, checkout_environment, demo_database, free_port

PASSWORD = "a long enough password"


@pytest.fixture
def ivr(cli, database_url):
    """`ivr ...` with standard input, on the test database."""
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)

    run.accounts = Accounts(connect(database_url))
    return run


def test_an_account_is_made_with_its_password_hashed_by_argon2(ivr) -> None:
    made = ivr("console", "user", "add", "anna", "--role", "editor", stdin=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    assert made.output == "account anna (editor) made\n"
    account = ivr.accounts.find("anna")
    assert account.role == "editor"
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert password_matches(account.password_hash, PASSWORD)
    assert not password_matches(account.password_hash, PASSWORD + "x")


def test_accounts_are_listed_and_removed(ivr) -> None:
    ivr("console", "user", "add", "boris", "--role", "supervisor", stdin=PASSWORD)
    ivr("console", "user", "add", "anna", "--role", "editor", stdin=PASSWORD)
    listed = ivr("console", "user", "list")
    assert [line.split("\t")[:2] for line in listed.output.splitlines()] == [
        ["anna", "editor"],
        ["boris", "supervisor"],
    ]
    assert ivr("console", "user", "remove", "boris").output == "account boris removed\n"
    assert [a.name for a in ivr.accounts.all()] == ["anna"]
    gone = ivr("console", "user", "remove", "boris")
    assert (gone.exit_code, "there is no account named boris" in gone.output) == (1, True)


def test_an_operator_ends_every_session_of_an_account(ivr) -> None:
    ivr("console", "user", "add", "anna", "--role", "editor", stdin=PASSWORD)
    made = ivr.accounts.find("anna")
    assert made.sessions_from == made.created_at
    ended = ivr("console", "user", "signout", "anna")
    assert (ended.exit_code, ended.output) == (0, "every session of anna ended\n")
    later = ivr.accounts.find("anna").sessions_from
    assert later > made.sessions_from
    assert not ivr.accounts.find("anna").admits(made.sessions_from.timestamp())
    assert ivr.accounts.find("anna").admits(later.timestamp())
    gone = ivr("console", "user", "signout", "nobody")
    assert (gone.exit_code, "there is no account named nobody" in gone.output) == (1, True)


def test_accounts_from_before_the_upgrade_start_their_sessions_at_it(ivr, database_url) -> None:
    """A sign-out before the upgrade was not kept: every cookie issued before it ends."""
    engine = connect(database_url)
    try:
        command.downgrade(alembic_config(engine), "0008")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO staff_accounts (name, role, password_hash, created_at) "
                    "VALUES ('anna', 'editor', 'hash', :made)"
                ),
                {"made": datetime(2026, 1, 5, tzinfo=UTC)},
            )
        before = datetime.now(UTC)
        upgraded = ivr("db", "upgrade")
    finally:
        engine.dispose()
    assert upgraded.exit_code == 0, upgraded.output
    account = ivr.accounts.find("anna")
    assert account.created_at == datetime(2026, 1, 5, tzinfo=UTC)
    assert before <= account.sessions_from <= datetime.now(UTC)


@pytest.mark.parametrize(
    "args, stdin, said",
    [
        (["anna", "--role", "editor"], "short\n", "the password needs at least 10 characters"),
        (["anna", "--role", "editor"], " padded password \n", "may not begin or end with a space"),
        (["anna", "--role", "admin"], PASSWORD, "'admin' is not one of 'editor', 'supervisor'"),
        (["an na", "--role", "editor"], PASSWORD, "a name is 1 to 64 letters, digits"),
        (["anna"], PASSWORD, "Missing option '--role'"),
    ],
)
def test_a_wrong_account_is_refused_and_nothing_is_stored(ivr, args, stdin, said) -> None:
    result = ivr("console", "user", "add", *args, stdin=stdin)
    assert result.exit_code != 0
    assert said in result.output
    assert ivr.accounts.all() == []


def test_a_second_account_of_the_same_name_is_refused(ivr) -> None:
    ivr("console", "user", "add", "anna", "--role", "editor", stdin=PASSWORD)
    again = ivr("console", "user", "add", "anna", "--role", "supervisor", stdin=PASSWORD)
    assert again.exit_code == 1
    assert "there is an account named anna already" in again.output
    assert ivr.accounts.find("anna").role == "editor"


@pytest.mark.parametrize(
    "args, environment, said",
    [
        ([], {}, "set the console's secret first: IVR_CONSOLE_SECRET"),
        ([], {"IVR_CONSOLE_SECRET": "too short"}, "the console's secret needs at least 32"),
        (
            ["--plain-http", "--host", "0.0.0.0"],
            {"IVR_CONSOLE_SECRET": "x" * 32},
            "--plain-http serves on a loopback address only, not 0.0.0.0",
        ),
    ],
)
def test_the_console_is_not_served_without_its_secret_or_in_the_clear(
    tmp_path, args, environment, said
) -> None:
    env = checkout_environment(tmp_path, f"sqlite:///{tmp_path / 'ivr.db'}") | environment
    done = subprocess.run(
        [sys.executable, "-m", "agi", "console", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert said in done.stderr


@pytest.mark.parametrize(
    "options, secure",
    [([], True), (["--plain-http"], False)],
)
def test_ivr_console_serves_on_loopback_with_its_cookie(tmp_path, options, secure) -> None:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    port = free_port()
    env = checkout_environment(tmp_path, url) | {"IVR_CONSOLE_SECRET": "s" * 40}
    process = subprocess.Popen(
        [sys.executable, "-m", "agi", "console", "--port", str(port), *options],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await_listening(process, port, "ivr console", 30, lambda: process.stderr.read())
        answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
    finally:
        process.terminate()
        said = process.communicate(timeout=10)[1]
    assert answer.status_code == 200
    assert "<h1>Sign in</h1>" in answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert ("; secure" in cookie) is secure
    assert f"console on http://127.0.0.1:{port}/ (" in said
    assert ("Secure cookies" in said) is secure
