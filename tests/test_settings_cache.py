"""The checked settings the per-call AGI script keeps in the state folder: used while the
files, the variables, the current folder and the code are unchanged; checked again after
any change; settings with a mistake are never kept; an unsafe cache is not used; a start
from both caches imports no pydantic.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agi import settings as settings_module
from agi.problems import ProblemsFound
from agi.settings import CACHE_FILE, Settings, load_cached_settings
from tests.support import ROOT, checkout_environment


class Checks:
    """`agi.settings._check`, counting how often the settings were checked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._check = settings_module._check
        monkeypatch.setattr(settings_module, "_check", self)

    def __call__(self, values: dict[str, object]) -> Settings:
        self.count += 1
        return self._check(values)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file that names a state folder; no IVR_* variable of the machine's."""
    for name in list(os.environ):
        if name.startswith("IVR_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "state"
    (tmp_path / "ivr.yaml").write_text(f"state_dir: {folder}\naccept_days: 20-24\n")
    monkeypatch.setenv("IVR_CONFIG", str(tmp_path / "ivr.yaml"))
    monkeypatch.chdir(tmp_path)
    return folder


def edit_file(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = state.parent / "ivr.yaml"
    path.write_text(path.read_text().replace("20-24", "19-24"))


def add_override(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (state.parent / "ivr.d").mkdir()
    (state.parent / "ivr.d" / "10-speed.yaml").write_text("tts_speed: 170\n")


def set_variable(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_TTS_SPEED", "170")


def move_to_another_folder(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative path in a variable is relative to the current folder."""
    monkeypatch.setenv("IVR_FLOW_PATH", "flows.yaml")
    load_cached_settings()
    (state.parent / "elsewhere").mkdir()
    monkeypatch.chdir(state.parent / "elsewhere")


def damage_entry(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = state / CACHE_FILE
    data = bytearray(entry.read_bytes())
    data[-10] ^= 0xFF
    entry.write_bytes(bytes(data))


def test_unchanged_settings_are_checked_once(state: Path, monkeypatch: pytest.MonkeyPatch):
    checks = Checks(monkeypatch)
    first = load_cached_settings()
    reads = []
    monkeypatch.setattr(settings_module, "read_settings_file", reads.append)
    again = load_cached_settings()
    assert checks.count == 1 and reads == []  # the file is not even read as YAML
    assert again == first and again is not first
    assert (again.window.first_day, again.window.last_day) == (20, 24)
    assert again.state_dir == state
    assert (state / CACHE_FILE).stat().st_mode & 0o077 == 0


WARM_READS = """\
import os, sys
from agi.settings import load_cached_settings
load_cached_settings()
opened = []
sys.addaudithook(lambda event, args: event == "open" and opened.append(args[0]))
load_cached_settings()
print("\\n".join(sorted(os.fspath(p) for p in opened if not isinstance(p, int))))
"""


def test_a_start_from_the_cache_reads_each_settings_file_once(
    state: Path, monkeypatch: pytest.MonkeyPatch
):
    """The state folder the cache is in and the cache's key come from one reading."""
    add_override(state, monkeypatch)
    opened = subprocess.run(
        [sys.executable, "-c", WARM_READS], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    files = [state.parent / "ivr.d" / "10-speed.yaml", state.parent / "ivr.yaml"]
    assert [name for name in opened if name.endswith(".yaml")] == [str(p) for p in files]
    assert str(state / CACHE_FILE) in opened


@pytest.mark.parametrize(
    ("change", "checked"),
    [
        (edit_file, lambda s: s.accept_days == "19-24"),
        (add_override, lambda s: s.tts_speed == 170),
        (set_variable, lambda s: s.tts_speed == 170),
        (move_to_another_folder, lambda s: s.flow_path == Path.cwd() / "flows.yaml"),
        (damage_entry, lambda s: s.accept_days == "20-24"),
    ],
    ids=["file edited", "override added", "variable set", "another folder", "entry damaged"],
)
def test_a_change_checks_the_settings_again(
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path, pytest.MonkeyPatch], None],
    checked: Callable[[Settings], bool],
):
    load_cached_settings()
    change(state, monkeypatch)
    checks = Checks(monkeypatch)
    assert checked(load_cached_settings())
    assert checks.count == 1
    load_cached_settings()
    assert checks.count == 1  # the new entry


@pytest.mark.parametrize(
    ("line", "folder"),
    [
        ('state_dir: "{state}"', "{state}"),
        ("state_dir: '{state}'  # quoted", "{state}"),
        ("state_dir: state", "{state}"),
        ('state_dir: ""', "{cwd}"),
        ("state_dir: {state}\r", "{state}"),
    ],
    ids=[
        "double quotes",
        "single quotes",
        "relative to the file",
        "empty: current folder",
        "a line ending in CR LF",
    ],
)
def test_a_state_folder_the_file_names_keeps_the_cache(
    state: Path, monkeypatch: pytest.MonkeyPatch, line: str, folder: str
):
    (state.parent / "ivr.yaml").write_text(line.format(state=state) + "\naccept_days: 20-24\n")
    expected = Path(folder.format(state=state, cwd=Path.cwd()))
    checks = Checks(monkeypatch)
    for _ in range(2):
        assert load_cached_settings().state_dir == expected
    assert checks.count == 1
    assert (expected / CACHE_FILE).exists()


@pytest.mark.parametrize(
    ("variable", "value", "folder"),
    [
        ("IVR_STATE_DIR", "{state}", "{state}"),
        ("IVR_STATE_DIR", "", "{cwd}"),
        ("ivr_state_dir", "{state}", "{state}"),
    ],
    ids=["a folder", "empty: current folder", "in lower case"],
)
def test_a_state_folder_a_variable_names_keeps_the_cache(
    state: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, folder: str
):
    monkeypatch.setenv(variable, value.format(state=state))
    expected = Path(folder.format(state=state, cwd=Path.cwd()))
    checks = Checks(monkeypatch)
    for _ in range(2):
        assert load_cached_settings().state_dir == expected
    assert checks.count == 1


def test_a_state_folder_written_in_another_form_costs_the_check_and_keeps_nothing(
    state: Path, monkeypatch: pytest.MonkeyPatch
):
    """Where the cache is looked for is read from the file without YAML; a form that
    reading misses costs the check on each call, never the right settings, and no entry
    (holding the secrets) is written where it is never looked for."""
    (state.parent / "ivr.yaml").write_text(f"state_dir: >-\n  {state}\naccept_days: 20-24\n")
    checks = Checks(monkeypatch)
    for _ in range(2):
        assert load_cached_settings().state_dir == state
    assert checks.count == 2
    assert not (state / CACHE_FILE).exists()


def test_a_checkout_without_a_settings_file_keeps_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """No IVR_CONFIG, no /etc/ivr/ivr.yaml, no config/ivr.yaml in the checkout."""
    for name in list(os.environ):
        if name.startswith("IVR_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(settings_module, "CHECKOUT", tmp_path)
    monkeypatch.setattr(settings_module, "SYSTEM_CONFIG", tmp_path / "etc" / "ivr.yaml")
    monkeypatch.chdir(tmp_path)
    checks = Checks(monkeypatch)
    for _ in range(2):
        assert load_cached_settings().state_dir == tmp_path / "var" / "state"
    assert checks.count == 1
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ivr.yaml").write_text("accept_days: 19-24\n")
    assert load_cached_settings().accept_days == "19-24"
    assert checks.count == 2


def test_a_file_changed_while_it_is_checked_is_not_kept(
    state: Path, monkeypatch: pytest.MonkeyPatch
):
    """The key is made from one reading of the files and the check reads them again: an
    entry is kept only if the files still have the key's bytes after the check."""
    path = state.parent / "ivr.yaml"
    original = path.read_text()
    check = settings_module._load

    def check_while_edited(*args: object) -> Settings:
        path.write_text(original.replace("20-24", "19-24"))
        return check(*args)

    monkeypatch.setattr(settings_module, "_load", check_while_edited)
    assert load_cached_settings().accept_days == "19-24"
    monkeypatch.setattr(settings_module, "_load", check)
    path.write_text(original)
    assert load_cached_settings().accept_days == "20-24"


def test_a_secret_in_a_file_others_can_read_is_refused_after_it_was_cached(state: Path):
    path = state.parent / "ivr.yaml"
    path.write_text(path.read_text() + "webhook_secret: a-secret-of-twenty-chars\n")
    os.chmod(path, 0o640)
    assert load_cached_settings().webhook_secret.get_secret_value() == "a-secret-of-twenty-chars"
    os.chmod(path, 0o644)
    with pytest.raises(ProblemsFound, match="'webhook_secret' is a secret, and anyone"):
        load_cached_settings()


def test_settings_with_a_mistake_are_reported_on_every_call_and_never_kept(state: Path):
    (state.parent / "ivr.yaml").write_text(f"state_dir: {state}\ntts_speed: fast\n")
    for _ in range(2):
        with pytest.raises(ProblemsFound, match="'tts_speed' must be a whole number"):
            load_cached_settings()
    assert not (state / CACHE_FILE).exists()


@pytest.mark.parametrize("mode", [0o620, 0o602], ids=["its group", "anyone"])
def test_an_entry_others_may_write_is_not_used_and_is_replaced(
    state: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, mode: int
):
    load_cached_settings()
    os.chmod(state / CACHE_FILE, mode)
    checks = Checks(monkeypatch)
    caplog.set_level(logging.WARNING, logger="agi.settings")
    assert load_cached_settings().accept_days == "20-24"
    assert checks.count == 1
    assert caplog.messages == [
        f"the settings cache is not used: {state / CACHE_FILE} is not this user's own, or "
        "others may write it"
    ]
    assert (state / CACHE_FILE).stat().st_mode & 0o077 == 0  # replaced by one of ours
    load_cached_settings()
    assert checks.count == 1


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Installs a copy of the code that checks settings in a folder of `tmp_path` (it takes
    the place of the `agi` package): settings without a file, in one state folder."""
    for name in list(os.environ):
        if name.startswith("IVR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IVR_CONFIG", "")
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(settings_module, "CHECKOUT", None)

    def install(copy: str) -> Path:
        package = tmp_path / copy / "agi"
        for name in settings_module.CODE:
            (package.parent / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, package.parent / name)
        (package / "shipped").mkdir(exist_ok=True)
        monkeypatch.setattr(settings_module, "PACKAGE", package)
        return package

    return install


def test_two_installed_copies_keep_entries_of_their_own(installed: Callable[[str], Path]):
    """Two copies of the same code in two places (two virtual environments) whose settings
    name one state folder: each has the defaults of its own place."""
    for copy in ("one", "two"):
        package = installed(copy)
        assert load_cached_settings().flow_path == package / "shipped" / "ivr_flows.yaml"


def test_another_environment_has_another_key(
    installed: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
):
    installed("one")
    key = settings_module._cache_key([])
    monkeypatch.setattr(sys, "prefix", sys.prefix + "-another")
    assert settings_module._cache_key([]) != key


WARM_START = """\
import sys
from agi.application import Application
from agi.settings import load_cached_settings
Application(load_cached_settings()).use_cached_menu()
print(sorted(name for name in sys.modules if name.split(".")[0] in ("pydantic", "yaml")))
"""


def test_a_start_from_both_caches_imports_no_pydantic(tmp_path: Path):
    environment = checkout_environment(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")

    def loaded() -> str:
        return subprocess.run(
            [sys.executable, "-c", WARM_START],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert "pydantic" in loaded()  # the first start checks, and fills both caches
    assert loaded() == "[]"
