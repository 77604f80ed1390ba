"""The README's "Install on a server", run literally into a staging root beside a stock
Debian /etc/asterisk copied there; then that Asterisk, and the services as their systemd
units start them, answer real SIPp calls: through the FastAGI server, through the AGI
script with the server stopped, with both broken, and with the database stalled.

Needs root, Asterisk, SIPp and network access to PyPI (the README's block installs the
package into a venv of its own). Skipped without them unless IVR_REQUIRE_TELEPHONY is set.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agi.storage.database import connect
from agi.storage.repository import Repository
from agi.text.webhook import SECRET_HEADER
from tests.own_postgres import MISSING as MISSING_POSTGRES
from tests.own_postgres import own_postgres
from tests.real_line import NGINX, await_listening, hold_calls, listening, private_nginx
from tests.support import ROOT, demo_database, free_port
from tests.test_nginx import REQUIRED as NGINX_REQUIRED
from tests.test_real_calls import MISSING, PERIOD, REQUIRED

pytestmark = [
    pytest.mark.install,
    pytest.mark.telephony,
    pytest.mark.skipif(bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"),
]

STOCK_ASTERISK = Path("/etc/asterisk")
SYSTEM_DATA = Path("/usr/share/asterisk")
SEED_CALL = "*2 102057522# 11638# 1"
CI_BLOCK = re.compile(r"<!-- ci: run -->\n```sh\n(?P<script>.*?)```", re.DOTALL)


def readme_install_blocks() -> list[str]:
    """The shell blocks of the README's "Install on a server" that CI runs."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Install on a server", 1)[1].split("\n## ", 1)[0]
    blocks = [match["script"] for match in CI_BLOCK.finditer(section)]
    assert blocks, "the README's install section has no block marked <!-- ci: run -->"
    return blocks


@dataclass
class Unit:
    command: list[str]
    environment: dict[str, str]


def unit(path: Path) -> Unit:
    """A systemd unit's ExecStart and Environment, as systemd would start it."""
    command: list[str] = []
    environment: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            command = shlex.split(value)
        elif key == "Environment":
            name, _, setting = value.partition("=")
            environment[name] = setting
    return Unit(command, environment)


@dataclass
class Staged:
    root: Path
    sip_port: int
    environment: dict[str, str]
    server: subprocess.Popen | None = None

    @property
    def ivr(self) -> str:
        return str(self.root / "opt" / "ivr" / "bin" / "ivr")

    @property
    def log(self) -> Path:
        return self.root / "var" / "log" / "asterisk" / "messages"

    @property
    def flow(self) -> Path:
        return self.root / "etc" / "ivr" / "ivr_flows.yaml"

    def asterisk(self, *command: str) -> subprocess.CompletedProcess:
        conf = self.root / "etc" / "asterisk" / "asterisk.conf"
        return subprocess.run(
            ["asterisk", "-C", str(conf), *command], capture_output=True, text=True, timeout=30
        )

    def start_server(self, *, nofile: int | None = None) -> None:
        serve = unit(self.root / "etc" / "systemd" / "system" / "ivr-serve.service")
        command = serve.command
        if nofile is not None:
            command = ["prlimit", f"--nofile={nofile}:{nofile}", "--", *command]
        log = (self.root / "serve.log").open("ab")
        self.server = subprocess.Popen(
            command,
            env={**self.environment, **serve.environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
        log_text = (self.root / "serve.log").read_text
        await_listening(self.server, 4573, "ivr serve", 30, log_text)

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=60)
        self.server = None

    def call(self, keys: str = SEED_CALL, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.ivr, "call", "--keys", keys, "--sip-port", str(self.sip_port),
             "--asterisk-log", str(self.log), *options],
            env=self.environment, capture_output=True, text=True, timeout=240,
        )  # fmt: skip

    def stored(self) -> list[int]:
        database = self.root / "var" / "lib" / "ivr" / "ivr.db"
        with sqlite3.connect(database) as connection:
            return [row[0] for row in connection.execute("SELECT value FROM readings")]


def _stage_asterisk(root: Path) -> None:
    """A stock /etc/asterisk in the staging root, pointed at folders of the staging root,
    with the system's sounds and modules."""
    shutil.copytree(STOCK_ASTERISK, root / "etc" / "asterisk", symlinks=True)
    data = root / "usr" / "share" / "asterisk"
    (data / "sounds").mkdir(parents=True)
    for entry in SYSTEM_DATA.iterdir():
        if entry.name != "sounds":
            (data / entry.name).symlink_to(entry)
    for entry in (SYSTEM_DATA / "sounds").iterdir():
        if entry.name != "ru":
            (data / "sounds" / entry.name).symlink_to(entry)
    (root / "var" / "log" / "nginx").mkdir(parents=True)  # as Debian's nginx package has it
    conf = root / "etc" / "asterisk" / "asterisk.conf"
    text = conf.read_text().replace("[directories](!)", "[directories]")  # Debian's: a template
    for name, default in (
        ("astetcdir", "/etc/asterisk"),
        ("astvarlibdir", "/var/lib/asterisk"),
        ("astdbdir", "/var/lib/asterisk"),
        ("astkeydir", "/var/lib/asterisk"),
        ("astdatadir", "/usr/share/asterisk"),
        ("astspooldir", "/var/spool/asterisk"),
        ("astrundir", "/var/run/asterisk"),
        ("astlogdir", "/var/log/asterisk"),
        ("astcachedir", "/var/cache/asterisk"),
    ):
        folder = root / default.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        text = re.sub(rf"(?m)^;?\s*{name}\s*=>.*$", f"{name} => {folder}", text)
    conf.write_text(text)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_TELEPHONY is set but this machine lacks {', '.join(MISSING)}")
    if listening(4573):
        pytest.fail("port 4573 is taken: the staged server listens where the units say")
    root = tmp_path_factory.mktemp("staged")
    _stage_asterisk(root)
    sip_port = free_port(socket.SOCK_DGRAM)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IVR_")},
        "ROOT": str(root),
        "TRUNK": "127.0.0.1",
        "SIP_PORT": str(sip_port),
        "OPERATORS": "Playback(pls-hold-while-try)",
        "WEBHOOK_NAME": "localhost",
        "WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}",
        "AS_IVR": "",
    }
    for block in readme_install_blocks():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
    # a test line takes readings on any day of the month
    (root / "etc/ivr/ivr.d/10-any-day.yaml").write_text("accept_days: 1-31\n", encoding="utf-8")
    staged = Staged(root, sip_port, {**environment, "IVR_CONFIG": str(root / "etc/ivr/ivr.yaml")})
    asterisk = subprocess.Popen(
        ["asterisk", "-C", str(root / "etc/asterisk/asterisk.conf"), "-f", "-n"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while staged.asterisk("-rx", "core waitfullybooted").returncode:
            assert asterisk.poll() is None, "the staged Asterisk exited at start"
            assert time.monotonic() < deadline, "the staged Asterisk did not boot"
            time.sleep(0.5)
        staged.start_server()
        yield staged
    finally:
        staged.stop_server()
        staged.asterisk("-rx", "core stop now")
        try:
            asterisk.wait(timeout=20)
        except subprocess.TimeoutExpired:
            asterisk.kill()


def test_the_units_verify(staged: Staged) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze on this machine")
    units = sorted((staged.root / "etc" / "systemd" / "system").glob("ivr-*.service"))
    assert [u.name for u in units] == [
        "ivr-console.service",
        "ivr-serve.service",
        "ivr-web.service",
    ]
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True
    )
    problems = [line for line in done.stderr.splitlines() if "ivr-" in line]
    assert problems == [], done.stderr


def test_a_second_install_changes_nothing(staged: Staged) -> None:
    done = subprocess.run(
        [staged.ivr, "install", "--root", str(staged.root), "--trunk", "127.0.0.1",
         "--sip-port", str(staged.sip_port), "--operator-dial", "Playback(pls-hold-while-try)",
         "--server-name", "localhost", "--web-listen", staged.environment["WEBHOOK_LISTEN"]],
        env=staged.environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nothing to change: the installation is up to date" in done.stdout
    assert "created:" not in done.stdout and "updated:" not in done.stdout


def test_a_submission_through_the_fastagi_server(staged: Staged) -> None:
    before = staged.stored()
    done = staged.call()
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "the call went through; the readings were accepted",
    ), done.stderr
    assert staged.stored() == [*before, 11638]


def test_a_submission_through_the_agi_script_with_the_server_stopped(staged: Staged) -> None:
    staged.stop_server()
    try:
        before = staged.stored()
        done = staged.call("*2 102057522# 11640# 1")
        assert (done.returncode, done.stdout.strip()) == (
            0,
            "the call went through; the readings were accepted",
        ), done.stderr
        assert staged.stored()[len(before) :] == [11640]
    finally:
        staged.start_server()


def test_both_broken_reaches_the_operator(staged: Staged) -> None:
    """No server, and a flow the AGI script cannot use: an apology and the operator."""
    shipped = staged.flow.read_bytes()
    staged.stop_server()
    staged.flow.write_text("version: 1\nstart: nowhere\n", encoding="utf-8")
    since = staged.log.stat().st_size
    try:
        done = staged.call()
        assert (done.returncode, done.stdout.strip()) == (
            3,
            "the call went through; the call was transferred to operator",
        ), done.stderr
        assert "no outcome from the IVR" in staged.log.read_text(errors="replace")[since:]
    finally:
        staged.flow.write_bytes(shipped)
        staged.start_server()


def test_at_its_open_files_limit_the_server_leaves_the_call_to_the_agi_script(
    staged: Staged,
) -> None:
    staged.stop_server()
    staged.start_server(nofile=160)
    try:
        room = re.findall(r"leaves room for (\d+) calls", (staged.root / "serve.log").read_text())
        with ExitStack() as stack:
            hold_calls(4573, int(room[-1]), stack)
            before = staged.stored()
            done = staged.call("*2 102057522# 11642# 1")
            assert (done.returncode, done.stdout.strip()) == (
                0,
                "the call went through; the readings were accepted",
            ), done.stderr
        assert staged.stored()[len(before) :] == [11642]
        assert "a call went to the fallback" in (staged.root / "serve.log").read_text()
    finally:
        staged.stop_server()
        staged.start_server()


@pytest.mark.skipif(NGINX is None and not NGINX_REQUIRED, reason="needs nginx")
def test_a_message_through_the_installed_nginx_site_and_the_web_unit(staged: Staged) -> None:
    web = unit(staged.root / "etc" / "systemd" / "system" / "ivr-web.service")
    assert not listening(8080), "port 8080 is taken: the staged webhook listens where its unit says"
    secret_file = staged.root / "etc" / "ivr" / "ivr.d" / "50-webhook-secret.yaml"
    secret = secret_file.read_text().split(":", 1)[1].strip()
    listen = staged.environment["WEBHOOK_LISTEN"]
    site = staged.root / "etc" / "nginx" / "sites-enabled" / "ivr-webhook"
    server = subprocess.Popen(
        web.command, env={**staged.environment, **web.environment}, cwd="/",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await_listening(server, 8080, "ivr web", 30, lambda: "ivr web ended")
        with private_nginx(site, staged.root / "nginx-prefix", int(listen.rsplit(":", 1)[1])):
            answer = httpx.post(
                f"http://{listen}/messages",
                headers={SECRET_HEADER: secret},
                json={"channel": "sms", "sender": "+79120000009", "message_id": "staged-1",
                      "text": "ПС 102057522 11650"},
                timeout=30,
            )  # fmt: skip
            metrics = httpx.get(f"http://{listen}/metrics", timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (answer.status_code, answer.json()["reply"]) == (200, "Показания приняты. Спасибо.")
    assert metrics.status_code == 404  # nginx keeps the counters to the machine
    assert 11650 in staged.stored()


@pytest.mark.skipif(
    bool(MISSING_POSTGRES) and not REQUIRED, reason="needs root and PostgreSQL's binaries"
)
def test_a_stalled_database_reaches_the_operator_within_the_timeout(staged: Staged) -> None:
    override = staged.root / "etc" / "ivr" / "ivr.d" / "20-database.yaml"
    with own_postgres() as postgres:
        demo_database(postgres.url).engine.dispose()
        override.write_text(
            f"database_url: {postgres.url}\ndatabase_timeout_seconds: 2\n", encoding="utf-8"
        )
        staged.stop_server()
        staged.start_server()
        try:
            postgres.stall()
            started = time.monotonic()
            done = staged.call()
            seconds = time.monotonic() - started
            assert (done.returncode, done.stdout.strip()) == (
                3,
                "the call went through; the call was transferred to operator",
            ), done.stderr
            assert seconds < 90
            logged = (staged.root / "serve.log").read_text(errors="replace")
            # the first action that asks the database: the contracts of the caller's number
            assert "action find_caller_contracts cannot be done now" in logged
        finally:
            postgres.resume()
            override.unlink()
            staged.stop_server()
            staged.start_server()
        repository = Repository(connect(postgres.url))
        try:
            assert repository.export(PERIOD) == []
        finally:
            repository.engine.dispose()
