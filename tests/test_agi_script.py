"""The per-call AGI script as Asterisk runs it: a real `ivr-agi` process on pipes, an AGI
environment on its stdin, and commands read from its stdout.

It takes a call only when its settings and flow can be used; otherwise it leaves the call to
the dialplan's operator branch without a command. A database it cannot use is found while
the greeting plays: the caller is told at the first step that needs it and handed to the
operator. A hang-up (SIGHUP) ends it at once, even while it waits for Asterisk.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agi_replies import environment, reply
from tests.real_line import AGI_SCRIPT
from tests.support import ROOT, checkout_environment, demo_database, free_port


class Script:
    """One `ivr-agi` process and the Asterisk end of its pipes."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.process = subprocess.Popen(
            [AGI_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=folder,
        )
        self._pending = b""

    def send(self, text: str) -> None:
        assert self.process.stdin
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def command(self, seconds: float = 20.0) -> str:
        """The next command the script sends ('' when it closed stdout)."""
        assert self.process.stdout
        deadline = time.monotonic() + seconds
        while b"\n" not in self._pending:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            if not ready:
                raise TimeoutError("no command from the script")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                return ""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def commands_until_exit(self, seconds: float = 20.0) -> list[str]:
        commands = []
        while command := self.command(seconds):
            commands.append(command)
            self.send("200 result=0\n")
        self.process.wait(timeout=seconds)
        return commands

    def call(self, keys: str, seconds: float = 20.0) -> tuple[list[str], dict[str, str]]:
        """Answer as Asterisk does for a caller who presses `keys`: the commands until the
        script exits, and the channel variables it set."""
        commands: list[str] = []
        variables: dict[str, str] = {}
        script = list(keys)
        while command := self.command(seconds):
            commands.append(command)
            self.send((reply(command, script, variables) or "HANGUP") + "\n")
        self.process.wait(timeout=seconds)
        return commands, variables

    def log(self) -> str:
        assert self.process.stderr
        return self.process.stderr.read().decode(errors="replace")


@pytest.fixture
def line(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    demo_database(url).engine.dispose()
    return checkout_environment(tmp_path, url)


@pytest.fixture
def script(line: dict[str, str], tmp_path: Path) -> Iterator[Script]:
    started = Script(line, tmp_path)
    yield started
    if started.process.poll() is None:
        started.process.kill()
    started.process.wait()


def run(env: dict[str, str], folder: Path) -> Script:
    started = Script(env, folder)
    started.send(environment("script-1", "+79120000000", "readings", network=False))
    return started


def test_the_script_takes_the_call_when_it_can_answer_it(script):
    script.send(environment("script-1", "+79120000000", "readings", network=False))
    assert script.command() == 'SET VARIABLE "IVR_ANSWERED" "1"'


def test_sighup_while_the_script_waits_for_a_reply_ends_it_at_once(script):
    """At once, not at the reply deadline (a minute): a few seconds allow for a loaded machine."""
    script.send(environment("script-1", "+79120000000", "readings", network=False))
    assert script.command().startswith('SET VARIABLE "IVR_ANSWERED"')
    script.send("200 result=1\n")
    assert script.command().startswith("STREAM FILE")  # now it waits for Asterisk
    time.sleep(0.2)
    hung_up = time.monotonic()
    script.process.send_signal(signal.SIGHUP)
    script.process.wait(timeout=15)
    assert time.monotonic() - hung_up < 5.0
    assert script.process.returncode == 0
    assert "Traceback" not in script.log()


def test_sighup_while_the_script_waits_for_the_environment_ends_it_too(script):
    script.send("agi_request: readings\n")
    time.sleep(1.0)  # the script has started and waits for the rest of the environment
    hung_up = time.monotonic()
    script.process.send_signal(signal.SIGHUP)
    script.process.wait(timeout=15)
    assert time.monotonic() - hung_up < 5.0
    assert "Traceback" not in script.log()


def test_with_a_broken_flow_the_script_does_not_take_the_call(line, tmp_path):
    broken = tmp_path / "ivr_flows.yaml"
    broken.write_text(
        (ROOT / "ivr_flows.yaml").read_text().replace("next: tone_mode", "nxt: tone_mode")
    )
    started = run({**line, "IVR_FLOW_PATH": str(broken)}, tmp_path)
    assert started.commands_until_exit() == []
    log = started.log()
    assert started.process.returncode == 1
    assert re.search(
        r"call=[a-z]{24} is left to the dialplan \(not taken\): the flow cannot be used", log
    )
    assert f"{broken}, line " in log
    assert "'nxt' is not a setting" in log
    assert "Traceback" not in log


def test_the_next_call_uses_a_flow_edited_since_the_last(line, tmp_path):
    flow = tmp_path / "ivr_flows.yaml"
    shutil.copy(ROOT / "ivr_flows.yaml", flow)
    env = {**line, "IVR_FLOW_PATH": str(flow)}
    first, _ = run(env, tmp_path).call("")  # hangs up at the first question
    assert (tmp_path / "state" / "flow-cache.pickle").is_file()
    flow.write_text(flow.read_text().replace("say: welcome", "say: tone_mode", 1))
    second, _ = run(env, tmp_path).call("")
    assert first[1].startswith("STREAM FILE") and first[1].split()[2].endswith('/welcome"')
    assert second[1].startswith("STREAM FILE") and second[1].split()[2].endswith('/tone_mode"')


def test_with_a_state_folder_it_cannot_write_the_script_still_answers(line, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    started = run({**line, "IVR_STATE_DIR": str(blocked)}, tmp_path)
    commands, _ = started.call("")
    assert commands[0] == 'SET VARIABLE "IVR_ANSWERED" "1"'
    assert "/welcome" in commands[1]
    log = started.log()
    assert f"the flow cache {blocked}/flow-cache.pickle cannot be written" in log
    assert "Traceback" not in log


def test_with_a_folder_in_place_of_the_flow_the_script_does_not_take_the_call(line, tmp_path):
    folder = tmp_path / "flow-folder"
    folder.mkdir()
    started = run({**line, "IVR_FLOW_PATH": str(folder)}, tmp_path)
    assert started.commands_until_exit() == []
    assert "the flow file is a folder" in started.log()


@pytest.mark.parametrize(
    ("database", "reason"),
    [
        ("sqlite:///{folder}/empty.db", "the database has no tables yet"),
        (
            "postgresql+psycopg://ivr@127.0.0.1:{closed}/ivr",
            "the readings database is not reachable",
        ),
        ("not a database url", "the readings database cannot be used (ArgumentError)"),
    ],
    ids=["no tables", "unreachable", "not a URL"],
)
def test_with_an_unusable_database_the_caller_is_told_and_reaches_the_operator(
    line, tmp_path, database, reason
):
    url = database.format(folder=tmp_path, closed=free_port())
    started = run({**line, "IVR_DATABASE_URL": url}, tmp_path)
    commands, variables = started.call("2")  # tone mode, then straight to the readings
    log = started.log()
    assert commands[0] == 'SET VARIABLE "IVR_ANSWERED" "1"'
    assert any("/welcome" in command for command in commands[1:3])  # the greeting first
    said = [command for command in commands if command.startswith("STREAM FILE")]
    assert "/readings_unavailable" in said[-1]
    assert variables.get("IVR_TRANSFER") == "operator"
    assert "IVR_OUTCOME" not in variables
    assert started.process.returncode == 0
    assert re.search(
        r"call=[a-z]{24} is told the readings cannot be taken and handed to the operator: "
        + re.escape(reason),
        log,
    )
    assert "Traceback" not in log


def test_with_broken_settings_the_script_does_not_take_the_call(line, tmp_path):
    started = run({**line, "IVR_ACCEPT_DAYS": "25-18"}, tmp_path)
    assert started.commands_until_exit() == []
    assert "the settings cannot be used; the call is left to the dialplan" in started.log()


def test_a_caller_who_hangs_up_at_the_first_command_is_no_failure(script):
    script.send(environment("script-1", "+79120000000", "readings", network=False))
    assert script.command().startswith('SET VARIABLE "IVR_ANSWERED"')
    script.send("HANGUP\n")
    script.process.wait(timeout=10)
    assert script.process.returncode == 0
    assert "ERROR" not in script.log()


@pytest.fixture(autouse=True)
def _script_installed() -> None:
    if not shutil.which(AGI_SCRIPT):
        pytest.fail(f"{AGI_SCRIPT} is not installed: run scripts/bootstrap")
