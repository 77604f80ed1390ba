"""Shared fixtures: a migrated database (SQLite, and PostgreSQL when configured), the shipped
flow and catalog, and a way to place scripted calls."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, make_url, text

from agi.application import Application, CallOutcome
from agi.cli import main
from agi.dialog.simulator import KeypadChannel
from agi.readings import billing
from agi.settings import Settings
from agi.storage.database import connect, upgrade
from agi.storage.models import Base
from agi.storage.repository import Repository

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.console_browser"]
"""The staff console's fixtures (a running console, a headless Chromium), for every module."""


def _worker_postgres(url: str | None) -> str | None:
    """The PostgreSQL database of this test process: under pytest-xdist each worker gets a
    database of its own (`test_gw0`, ...), created on first use, so workers never drop each
    other's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("select 1 from pg_database where datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(text(f'create database "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = _worker_postgres(os.environ.get("IVR_TEST_POSTGRES_URL"))
BILLING_IMPORTED = datetime(2026, 1, 5, tzinfo=UTC)
"""When the demo contracts came from billing: before every reading the tests submit."""
IN_WINDOW = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def _fresh_postgres(url: str) -> Engine:
    engine = connect(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not POSTGRES_URL, reason="IVR_TEST_POSTGRES_URL is not set"),
            ],
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or the PostgreSQL of IVR_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ivr.db'}"
        engine = connect(url)
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
        engine = _fresh_postgres(url)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture
def repository(database_url: str) -> Iterator[Repository]:
    repo = Repository(connect(database_url))
    yield repo
    repo.engine.dispose()


@pytest.fixture
def demo_repository(repository: Repository) -> Repository:
    billing.seed_demo(repository, at=BILLING_IMPORTED)
    return repository


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        state_dir=tmp_path / "state",
        flow_path=ROOT / "ivr_flows.yaml",
        prompts_path=ROOT / "prompts" / "ru.yaml",
    )


@pytest.fixture
def app(settings: Settings, demo_repository: Repository) -> Application:
    application = Application(settings)
    application.repository = demo_repository
    return application


@pytest.fixture
def always_open(app: Application) -> Application:
    """The application taking readings on any day."""
    app.settings = app.settings.model_copy(update={"accept_days": "1-31"})
    return app


@pytest.fixture
def editable(always_open: Application, tmp_path: Path) -> Application:
    """The application on copies of the shipped flow and catalog that a test may change."""
    shutil.copy(ROOT / "ivr_flows.yaml", tmp_path / "ivr_flows.yaml")
    shutil.copy(ROOT / "prompts" / "ru.yaml", tmp_path / "ru.yaml")
    always_open.settings = always_open.settings.model_copy(
        update={"flow_path": tmp_path / "ivr_flows.yaml", "prompts_path": tmp_path / "ru.yaml"}
    )
    return always_open


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """`ivr ...` against the test database, keeping its state in `tmp_path`; a
    config/ivr.yaml in the checkout is ignored."""
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVR_CONFIG", "")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def place_call(
    app: Application,
    keys: str,
    *,
    at: datetime = IN_WINDOW,
    call_id: str = "call-1",
    caller: str | None = "+79120000000",
) -> tuple[CallOutcome, KeypadChannel]:
    """A scripted call through the real engine, actions and database."""
    channel = KeypadChannel(call_id, caller, keys=keys)
    return app.answer(channel, now=lambda: at), channel


ONE_WORKER_MODULES = frozenset(
    {
        "test_console",
        "test_console_menu",
        "test_console_reports",
        "test_database_stall",
        "test_install",
        "test_gateway_fuzz",
        "test_installation",
        "test_kannel",
        "test_prompt_audio",
        "test_speech",
        "test_speech_real_calls",
        "test_text_dialog",
    }
)
"""Modules whose module- or session-wide set-up (a staged installation, a built venv, a loaded
speech model, a PostgreSQL of their own) is worth making once: under `pytest -n N --dist
loadgroup` (scripts/test) all of a module's tests run on one worker. The other modules'
tests, real calls included, spread over the workers."""


WHEEL_BUILDERS = frozenset({"test_install", "test_installation"})
"""Modules that build a wheel of this checkout, which setuptools does in its build/ folder:
they share one worker, so that two builds never write that folder at once."""


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if module in ONE_WORKER_MODULES:
            group = "wheel-builders" if module in WHEEL_BUILDERS else module
            item.add_marker(pytest.mark.xdist_group(group))
