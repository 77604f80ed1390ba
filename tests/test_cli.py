"""The `ivr` command as staff use it: simulate a call, honour the environment, set up a database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.cli import main
from tests.conftest import ROOT

SEED_CALL = "*2 102057522# 11638# 1"


@pytest.fixture
def ivr(monkeypatch, tmp_path):
    """Runs `ivr ...` in-process from the checkout, against a fresh SQLite file with demo data."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("IVR_ACCEPT_DAYS", raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    assert run("db", "seed").exit_code == 0
    return run


def test_the_seed_call_is_accepted_on_a_scratch_copy_and_exits_0(ivr):
    result = ivr("simulate", "--keys", SEED_CALL, "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "IVR: Показания приняты. Спасибо." in result.output
    assert "the configured database's contracts (5 by number and resource)" in result.stderr
    assert "nothing is stored there (--store stores)" in result.stderr
    exported = ivr("db", "export", "--period", "2026-11")
    assert exported.stdout.count("\n") == 1  # the header alone


def test_store_submits_into_the_configured_database_and_says_so(ivr):
    result = ivr("simulate", "--store", "--keys", SEED_CALL, "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert "storing into the configured database sqlite:///" in result.stderr
    exported = ivr("db", "export", "--period", "2026-11")
    assert "2026-11,electricity,102057522,E-0001,single,11638,ivr," in exported.stdout


def test_the_scratch_copy_compares_with_the_configured_readings(ivr):
    """A reading stored last month is what a simulated call this month is compared with
    (months after the demo data came from billing, which would win otherwise)."""
    assert ivr("simulate", "--store", "--keys", SEED_CALL, "--date", "2099-01-20").exit_code == 0
    result = ivr("simulate", "--keys", "*2 102057522# 11600# 1", "--date", "2099-02-20")
    assert "меньше предыдущих" in result.output  # 11600 < January's 11638


def test_a_call_without_accepted_readings_exits_1(ivr):
    result = ivr("simulate", "--keys", "0", "--date", "2026-11-20")
    assert result.exit_code == 1
    assert "transfers the call to: operator" in result.output


def test_outside_the_window_nothing_is_stored(ivr):
    result = ivr("simulate", "--keys", SEED_CALL, "--date", "2026-11-10")
    assert result.exit_code == 1
    assert "Показания принимаются с восемнадцатого по двадцать пятое число" in result.output
    assert ivr("db", "export", "--period", "2026-11").stdout.strip().count("\n") == 0


def test_ivr_accept_days_is_honoured(ivr, monkeypatch):
    monkeypatch.setenv("IVR_ACCEPT_DAYS", "5-12")
    result = ivr("simulate", "--keys", SEED_CALL, "--date", "2026-11-10")
    assert result.exit_code == 0, result.output
    result = ivr("simulate", "--keys", "*2", "--date", "2026-11-20")
    assert "Показания принимаются с пятого по двенадцатое число" in result.output


def test_a_bad_ivr_accept_days_is_explained(ivr, monkeypatch):
    monkeypatch.setenv("IVR_ACCEPT_DAYS", "25-18")
    result = ivr("simulate", "--keys", SEED_CALL)
    assert result.exit_code != 0
    assert "environment: IVR_ACCEPT_DAYS: acceptance days must be days of the month" in (
        result.output
    )
    assert "18-25" in result.output


def test_keys_that_are_not_phone_keys_are_refused(ivr):
    result = ivr("simulate", "--keys", "*2 1020x")
    assert result.exit_code == 2
    assert "'x' (character 7) is not a phone key" in result.output


def test_a_database_without_tables_says_what_to_run(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["simulate", "--keys", SEED_CALL, "--date", "2026-11-20"])
    assert result.exit_code == 1
    assert "the database has no tables yet; run `ivr db upgrade` and `ivr db seed`" in (
        result.output
    )


def test_interactive_call_reads_keys_line_by_line(ivr):
    runner_input = "*\n2\n102057522#\n11638#\n1\n"
    result = CliRunner().invoke(main, ["simulate", "--date", "2026-11-20"], input=runner_input)
    assert result.exit_code == 0, result.output
    assert "Показания приняты. Спасибо." in result.output


def test_interactive_typo_is_explained_and_asked_again(ivr):
    result = CliRunner().invoke(
        main, ["simulate", "--date", "2026-11-20"], input="*\nx\n2\n102057522#\n11638#\n1\n"
    )
    assert "'x' (character 1) is not a phone key" in result.output
    assert result.exit_code == 0, result.output


def test_the_console_script_runs_the_seed_call(tmp_path: Path):
    """The README's command, as a real process with only the environment to configure it."""
    env = {**os.environ, "IVR_DATABASE_URL": f"sqlite:///{tmp_path / 'proc.db'}"}
    for args in (["db", "upgrade"], ["db", "seed"]):
        subprocess.run(
            [sys.executable, "-m", "agi", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
    done = subprocess.run(
        [sys.executable, "-m", "agi", "simulate", "--keys", SEED_CALL, "--date", "2026-11-20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == [
        "IVR: Показания приняты. Спасибо.",
        "IVR hangs up",
        "-- call ended: ivr_hung_up; readings accepted",
    ]


def test_the_readmes_caller_id_example(ivr):
    result = ivr(
        "simulate", "--caller", "89120000001", "--keys", "*2 1 11640# 1", "--date", "2026-11-20"
    )
    assert result.exit_code == 0, result.output
    assert "Номер вашего договора заканчивается на семь пять два два" in result.output
    assert "readings accepted" in result.output
    stored = ivr(
        "simulate",
        "--store",
        "--caller",
        "89120000001",
        "--keys",
        "*2 1 11640# 1",
        "--date",
        "2026-11-20",
    )
    assert stored.exit_code == 0, stored.output
    exported = ivr("db", "export", "--period", "2026-11")
    assert "2026-11,electricity,102057522,E-0001,single,11640,ivr," in exported.stdout


def test_ivr_db_export_contracts_writes_the_phones_back(ivr):
    result = ivr("db", "export-contracts")
    assert result.exit_code == 0, result.output
    assert "electricity,102057522,E-0001,6,single,11480,150,+79120000001" in result.stdout
    assert result.stdout.splitlines()[0].endswith(",average,phone")


README_COMMAND = re.compile(r"^\s*(?:\$ )?(?:IVR_\w+=\S+ )*ivr (simulate|sms|web)\b.*$", re.M)


def test_every_readme_example_works_on_any_day():
    """A reading example names its day (`--date`) or opens the window (`IVR_ACCEPT_DAYS`),
    so that it shows the same on the 3rd as on the 20th."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    commands = [m.group(0) for block in blocks for m in README_COMMAND.finditer(block)]
    assert len(commands) >= 5
    undated = [c for c in commands if "--date" not in c and "IVR_ACCEPT_DAYS" not in c]
    assert undated == []
