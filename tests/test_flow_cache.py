"""The checked flow kept in the state folder: used while the flow, the catalog and the code
are unchanged; read and checked again after any change; a damaged, foreign or unsafe entry
is never loaded; a state folder that cannot be written costs the parse, not the call.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agi.application import Application
from agi.dialog import flow_cache
from agi.dialog.flow_cache import CACHE_FILE, Menu, cached_menu
from agi.problems import ProblemsFound
from agi.settings import Settings
from tests.support import ROOT


class Reader:
    """`Application.read_menu`, counting how often the YAML was read and checked."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.reads = 0

    def __call__(self) -> Menu:
        self.reads += 1
        return self.app.read_menu()


@pytest.fixture
def app(tmp_path: Path) -> Application:
    shutil.copy(ROOT / "ivr_flows.yaml", tmp_path / "ivr_flows.yaml")
    shutil.copy(ROOT / "prompts" / "ru.yaml", tmp_path / "ru.yaml")
    return Application(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            flow_path=tmp_path / "ivr_flows.yaml",
            prompts_path=tmp_path / "ru.yaml",
            state_dir=tmp_path / "state",
        )
    )


def menu_of(app: Application, reader: Reader) -> Menu:
    settings = app.settings
    return cached_menu(settings.flow_path, settings.prompts_path, settings.state_dir, reader)


def edit_flow(app: Application) -> None:
    path = app.settings.flow_path
    path.write_text(path.read_text().replace("say: welcome", "say: tone_mode", 1))


def edit_catalog(app: Application) -> None:
    path = app.settings.prompts_path
    path.write_text(path.read_text() + "\nextra_prompt: «Ещё одна фраза.»\n")


def damage(app: Application) -> None:
    entry = app.settings.state_dir / CACHE_FILE
    data = bytearray(entry.read_bytes())
    data[-20] ^= 0xFF
    entry.write_bytes(bytes(data))


def truncate(app: Application) -> None:
    entry = app.settings.state_dir / CACHE_FILE
    entry.write_bytes(entry.read_bytes()[:100])


def garbage(app: Application) -> None:
    (app.settings.state_dir / CACHE_FILE).write_bytes(b"not a cache at all\n" * 10)


def edit_code(app: Application, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The code that checks flows is upgraded: a copy of the package with one module changed."""
    package = tmp_path / "agi"
    for name in flow_cache.CODE:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(flow_cache.PACKAGE / name, package / name)
    with open(package / "dialog/flow.py", "a") as stream:
        stream.write("\n# a new release\n")
    monkeypatch.setattr(flow_cache, "PACKAGE", package)


def test_an_unchanged_flow_is_read_from_the_cache(app):
    reader = Reader(app)
    flow, catalog = menu_of(app, reader)
    cached_flow, cached_catalog = menu_of(app, reader)
    assert reader.reads == 1
    assert cached_flow == flow and cached_catalog == catalog
    assert cached_flow.nodes["greeting"].say[0].ref == "welcome"
    entry = app.settings.state_dir / CACHE_FILE
    assert entry.stat().st_mode & 0o077 == 0  # the service's own


@pytest.mark.parametrize(
    "change",
    [edit_flow, edit_catalog, damage, truncate, garbage],
    ids=["flow edited", "catalog edited", "entry damaged", "entry truncated", "not an entry"],
)
def test_a_change_or_a_damaged_entry_reads_the_files_again_and_rewrites_it(app, change):
    reader = Reader(app)
    menu_of(app, reader)
    change(app)
    flow, _ = menu_of(app, reader)
    assert reader.reads == 2
    assert menu_of(app, reader)[0] == flow  # written anew: the next start hits
    assert reader.reads == 2
    expected = "tone_mode" if change is edit_flow else "welcome"
    assert flow.nodes["greeting"].say[0].ref == expected


def test_new_code_reads_the_files_again(app, monkeypatch, tmp_path):
    reader = Reader(app)
    menu_of(app, reader)
    edit_code(app, monkeypatch, tmp_path)
    menu_of(app, reader)
    assert reader.reads == 2


def test_a_flow_with_problems_is_refused_and_not_cached(app):
    path = app.settings.flow_path
    path.write_text(path.read_text().replace("next: tone_mode", "nxt: tone_mode"))
    reader = Reader(app)
    for _ in range(2):
        with pytest.raises(ProblemsFound, match="'nxt' is not a setting"):
            menu_of(app, reader)
    assert reader.reads == 2
    assert not (app.settings.state_dir / CACHE_FILE).exists()


def _make_folder_a_file(app: Application) -> None:
    app.settings.state_dir.write_text("a file where the state folder should be\n")


def _open_folder(app: Application) -> None:
    app.settings.state_dir.mkdir()
    os.chmod(app.settings.state_dir, 0o777)


@pytest.mark.parametrize(
    ("prepare", "warning"),
    [
        (_make_folder_a_file, "cannot be written"),
        (_open_folder, "anyone can write into"),
    ],
    ids=["state folder unwritable", "folder open to all"],
)
def test_an_unusable_or_unsafe_cache_costs_the_parse_and_is_logged(
    app, caplog, prepare: Callable[[Application], None], warning
):
    prepare(app)
    reader = Reader(app)
    caplog.set_level(logging.WARNING, logger="agi.dialog.flow_cache")
    for _ in range(2):
        flow, _ = menu_of(app, reader)
        assert flow.start == "greeting"
    assert reader.reads == 2
    assert warning in caplog.text


def test_an_entry_others_may_write_is_not_loaded_and_is_replaced_by_one_of_ours(app, caplog):
    menu_of(app, Reader(app))
    entry = app.settings.state_dir / CACHE_FILE
    os.chmod(entry, 0o666)
    reader = Reader(app)
    caplog.set_level(logging.WARNING, logger="agi.dialog.flow_cache")
    for _ in range(2):
        assert menu_of(app, reader)[0].start == "greeting"
    assert reader.reads == 1
    assert "the flow cache is not used: " in caplog.text
    assert entry.stat().st_mode & 0o077 == 0


def test_a_flow_edited_while_it_is_read_is_not_kept(app):
    """The key is made from one reading of the files and `read` reads them again: an entry
    is kept only if the files still have the key's bytes after it."""
    path = app.settings.flow_path
    original = path.read_text()
    reader = Reader(app)

    def read_while_edited() -> Menu:
        edit_flow(app)
        return reader()

    assert menu_of(app, read_while_edited)[0].nodes["greeting"].say[0].ref == "tone_mode"
    path.write_text(original)
    assert menu_of(app, reader)[0].nodes["greeting"].say[0].ref == "welcome"
    assert reader.reads == 2
