"""The IVR installed as a package, outside the checkout: the shipped flow, prompts, audio,
migrations and demo data come with it, and no command depends on the current folder."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agi_replies import environment, reply
from tests.support import ROOT

pytestmark = pytest.mark.install

SEED_CALL = "*2 102057522# 11638# 1"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment with the built wheel of this checkout (its dependencies are
    borrowed from the test environment, so nothing is downloaded)."""
    folder = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = folder.glob("*.whl")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    yield venv


def run(venv: Path, *args: str, cwd: Path, env: dict[str, str], stdin: str = ""):
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def elsewhere(tmp_path: Path) -> dict[str, str]:
    """The environment of a user outside the checkout, with no settings file and no IVR_*."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "PYTHON"))},
        "IVR_CONFIG": "",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "HOME": str(tmp_path),
    }


def test_the_package_carries_the_shipped_files(installed: Path) -> None:
    site = next((installed / "lib").glob("python3*/site-packages"))
    shipped = site / "agi" / "shipped"
    for relative in (
        "ivr_flows.yaml",
        "ivr_scenarios.yaml",
        "prompts/ru.yaml",
        "prompts/ru/welcome.wav",
    ):
        assert (shipped / relative).is_file(), relative
    assert (shipped / "config" / "asterisk" / "extensions.conf").is_file()
    assert (site / "agi" / "storage" / "migrations" / "versions" / "0001_readings.py").is_file()
    assert (site / "agi" / "readings" / "demo_contracts.csv").is_file()
    assert not (site / "agi" / "settings.py").resolve().is_relative_to(ROOT)


def test_check_and_a_simulated_call_work_from_any_folder(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    somewhere = tmp_path / "somewhere"
    somewhere.mkdir()
    checked = run(installed, "ivr", "check", cwd=somewhere, env=elsewhere)
    assert checked.returncode == 0, checked.stderr
    assert "ivr_flows.yaml: OK" in checked.stdout
    assert "ivr_scenarios.yaml: 14 scenarios pass" in checked.stdout
    for step in ("upgrade", "seed"):
        done = run(installed, "ivr", "db", step, cwd=somewhere, env=elsewhere)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "ivr" / "ivr.db").is_file()
    call = run(
        installed,
        "ivr",
        "simulate",
        "--keys",
        SEED_CALL,
        "--date",
        "2026-11-20",
        cwd=Path("/"),
        env=elsewhere,
    )
    assert call.returncode == 0, call.stdout + call.stderr
    assert "IVR: Показания приняты. Спасибо." in call.stdout


def test_the_agi_script_run_from_root_finds_everything_its_settings_file_names(
    installed: Path, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    """Asterisk runs the AGI script from `/`; the paths of the settings file are relative to
    the file, wherever that is."""
    home = tmp_path / "opt-ivr"
    (home / "config").mkdir(parents=True)
    (home / "config" / "ivr.yaml").write_text(
        "database_url: sqlite:///../var/ivr.db\naccept_days: 1-31\n", encoding="utf-8"
    )
    env = {**elsewhere, "IVR_CONFIG": str(home / "config" / "ivr.yaml")}
    for step in ("upgrade", "seed"):
        done = run(installed, "ivr", "db", step, cwd=Path("/"), env=env)
        assert done.returncode == 0, done.stderr
    assert (home / "var" / "ivr.db").is_file()
    script = str(installed / "bin" / "ivr-agi")
    keys: list = list(SEED_CALL.replace(" ", ""))
    process = subprocess.Popen(
        [script], cwd="/", env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin and process.stdout
    process.stdin.write(environment("from-root", "79120000000", script, network=False))
    process.stdin.flush()
    commands, variables = [], {}
    while line := process.stdout.readline():
        commands.append(line.strip())
        answer = reply(line.strip(), keys, variables)
        process.stdin.write((answer or "HANGUP") + "\n")
        process.stdin.flush()
        if answer is None:
            break
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert any("readings_accepted" in command for command in commands), commands
    welcome = next(command for command in commands if command.startswith("STREAM FILE"))
    assert "/agi/shipped/prompts/ru/welcome" in welcome
