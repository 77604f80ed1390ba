"""A PostgreSQL server of the test's own, on a free port, that a test may stop and resume
(SIGSTOP) without touching the machine's server. Needs root (it runs as `postgres`) and
Debian's PostgreSQL binaries."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
MISSING = [] if BINARIES and os.geteuid() == 0 else ["root and Debian's PostgreSQL binaries"]


@dataclass
class OwnPostgres:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stall(self) -> None:
        """Stop the server and every backend: connections stay open, nothing answers.
        (Backends start sessions of their own, so each is stopped by its pid.)"""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _processes(self) -> list[int]:
        """runuser, the postmaster and every process the postmaster started."""
        children: dict[int, list[int]] = {}
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
            except OSError:
                continue
            children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue.extend(children.get(pid, []))
        return found


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    binaries = BINARIES[-1]
    folder = Path(tempfile.mkdtemp(prefix="ivr-postgres-"))  # pytest's folders are root's only
    folder.chmod(0o755)
    data = folder / "pgdata"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        _as_postgres(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"),
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        _as_postgres(
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = OwnPostgres(process, port)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        ).returncode:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test's own PostgreSQL did not start")
            time.sleep(0.2)
        yield server
    finally:
        server.resume()
        # SIGINT is PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every client,
        # and a connection a test's pool still holds would keep it up.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
