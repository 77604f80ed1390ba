"""A real line for tests and benchmarks: an `ivr serve` process and private Asterisks that
send their calls to it (or, with nothing listening, to the per-call AGI script)."""

from __future__ import annotations

import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from agi.settings import local_fastagi_server
from agi.telephony import private_asterisk
from tests.agi_replies import environment
from tests.support import ROOT

AGI_SCRIPT = str(Path(sys.executable).with_name("ivr-agi"))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """The server as a dialplan names it."""
        return f"agi://{self.host}:{self.port}/readings"


@contextmanager
def fastagi_server(
    environment: Mapping[str, str],
    folder: Path,
    port: int,
    options: Sequence[str] = (),
    *,
    host: str = "127.0.0.1",
    start_seconds: float = 60,
    open_files: int | None = None,
) -> Iterator[Server]:
    """`ivr -v serve` on `host`:`port` until the block ends; its log is `folder`/serve.log.
    `open_files` is the server's limit of open files (RLIMIT_NOFILE), soft and hard."""
    log_path = folder / "serve.log"

    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    listen = ["--host", host, "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agi", "-v", "serve", *listen, *options],
            env=dict(environment),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            preexec_fn=limit_files,
        )
    try:
        deadline = time.monotonic() + start_seconds
        while "FastAGI listening" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the FastAGI server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield Server(process, log_path, port, host)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def asterisk_options(
    root: Path,
    sip_port: int,
    fastagi_port: int,
    environment: Mapping[str, str],
    *,
    system_name: str | None = None,
    fastagi_servers: Sequence[str] = (),
) -> private_asterisk.LineOptions:
    """A private Asterisk in `root` answering SIP on `sip_port`, with the project's own
    number words, whose calls go to the FastAGI server on `fastagi_port` first (or to
    `fastagi_servers`, in order), then to the AGI script."""
    return private_asterisk.LineOptions(
        root=root,
        config_dir=ROOT / "config" / "asterisk",
        sip_port=sip_port,
        fastagi_servers=tuple(fastagi_servers) or (local_fastagi_server(fastagi_port),),
        agi_script=AGI_SCRIPT,
        environment=tuple((k, v) for k, v in environment.items() if k.startswith("IVR_")),
        number_words=ROOT / "prompts" / "ru" / "digits",
        system_name=system_name,
    )


@contextmanager
def private_asterisks(options: Sequence[private_asterisk.LineOptions]) -> Iterator[None]:
    """These private Asterisks up until the block ends."""
    try:
        for line in options:
            private_asterisk.up(line)
        yield
    finally:
        for line in options:
            private_asterisk.down(line.root)


def hold_calls(port: int, count: int, stack: ExitStack) -> None:
    """`count` calls that the server takes and that then wait, holding their slots until
    `stack` closes."""
    held = []
    for number in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        sock.sendall(environment(f"held-{number}", "1").encode())
        held.append(sock)
    for sock in held:
        assert sock.recv(100).startswith(b'SET VARIABLE "IVR_ANSWERED"')


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def await_listening(
    process: subprocess.Popen, port: int, name: str, seconds: float, output: Callable[[], str]
) -> None:
    """Wait until `process` listens on `port` of 127.0.0.1; fail with `output()` if it ends
    first, or when it has not listened within `seconds`."""
    deadline = time.monotonic() + seconds
    while not listening(port):
        assert process.poll() is None, output()
        assert time.monotonic() < deadline, f"{name} did not listen within {seconds:g} s"
        time.sleep(0.05)


@contextmanager
def private_nginx(site: Path, prefix: Path, port: int) -> Iterator[None]:
    """Debian's nginx in a private prefix, serving `site` (a file for nginx's http block)
    until the block ends; it must listen on `port`."""
    assert NGINX, "nginx is not installed"
    prefix.mkdir(parents=True, exist_ok=True)
    temp = "\n".join(
        f"  {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 2048; }\n"
        f"http {{\n{temp}\n  include {site};\n}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await_listening(process, port, "nginx", 10, lambda: process.stderr.read())
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
