"""The FastAGI server: one long-lived process that answers the calls of one or more Asterisks.

It holds the parsed flow and the database pool; each call runs in its own thread, and one
call's failure ends that call only. The flow file is watched: a change that passes the
checks is used by the next calls, a change that does not is refused and logged, and the
last good flow keeps serving.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from agi.application import Application
from agi.dialog.channel import CallerHungUp
from agi.dialog.engine import Ending
from agi.problems import ProblemsFound
from agi.redact import printable
from agi.telephony import dialplan
from agi.telephony.asterisk_channel import AsteriskChannel

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 4573
    max_calls: int = 200
    allow: tuple[str, ...] = LOOPBACK
    """Networks whose Asterisks may connect."""
    debug: bool = False
    watch_seconds: float = 1.0
    command_seconds: float = 180.0
    """The longest a command may go unanswered (the longest prompt or key wait) before the
    Asterisk at the other end is taken for gone."""


@dataclass
class _Counters:
    active: int = 0
    answered: int = 0
    refused_busy: int = 0
    refused_address: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _CallHandler(socketserver.BaseRequestHandler):
    server: FastAgiServer

    def handle(self) -> None:
        self.connection: socket.socket = self.request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.settimeout(self.server.options.command_seconds)
        with (
            self.connection.makefile("r", encoding="utf-8", errors="replace", newline="") as reader,
            self.connection.makefile("w", encoding="utf-8", newline="") as writer,
        ):
            self.server.answer(self.connection, reader, writer, self.client_address[0])


class FastAgiServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, app: Application, options: ServerOptions) -> None:
        self.app = app
        self.options = options
        self.networks = [ipaddress.ip_network(net, strict=False) for net in options.allow]
        self.counters = _Counters()
        self._slots = threading.BoundedSemaphore(options.max_calls)
        self._stopping = threading.Event()
        self._flow_stamp = app.flow_stamp()
        app.flow  # noqa: B018 - a broken flow must stop the start, not the first call
        level = logging.INFO if app.speech.available else logging.WARNING
        log.log(level, "%s", app.speech.status)
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        self.address_family = family
        super().__init__((options.host, options.port), _CallHandler)
        self._watcher = threading.Thread(target=self._watch_flow, name="flow-watcher", daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def serve(self) -> None:
        """Serve until `stop()`; then wait for the calls in progress to finish."""
        self._watcher.start()
        log.info(
            "FastAGI listening on %s:%d, at most %d calls",
            self.options.host,
            self.port,
            self.options.max_calls,
        )
        try:
            self.serve_forever(poll_interval=0.2)
        finally:
            self.server_close()
            log.info("FastAGI stopped after %d calls", self.counters.answered)

    def stop(self) -> None:
        """Stop accepting calls; `serve()` returns once the calls in progress have ended."""
        self._stopping.set()
        threading.Thread(target=self.shutdown, name="fastagi-stop").start()

    def allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%")[0])
        return any(ip in network for network in self.networks)

    def answer(
        self, connection: socket.socket, reader: IO[Any], writer: IO[Any], address: str
    ) -> None:
        if not self.allowed(address):
            with self.counters.lock:
                self.counters.refused_address += 1
            log.warning(
                "refused a FastAGI connection from %s: not in the allow-list", printable(address)
            )
            return
        if not self._slots.acquire(blocking=False):
            self._refuse_busy(reader, writer)
            return
        with self.counters.lock:
            self.counters.active += 1
        try:
            self._run_call(reader, writer)
        finally:
            with self.counters.lock:
                self.counters.active -= 1
                self.counters.answered += 1
            self._slots.release()

    def _run_call(self, reader: IO[Any], writer: IO[Any]) -> None:
        try:
            channel = AsteriskChannel(
                reader,
                writer,
                prompts_dir=self.app.prompts_audio_dir,
                debug=self.options.debug,
                spool=self.app.spool if self.app.speech.available else None,
            )
        except CallerHungUp:
            return
        try:
            channel.claim()
            outcome = self.app.answer(channel)
            if outcome.report.ending is Ending.FAILED:
                with self.counters.lock:
                    self.counters.failed += 1
            log.info(
                "call=%s ended=%s accepted=%s",
                printable(channel.call_id),
                outcome.report.ending,
                outcome.accepted,
            )
        except CallerHungUp:
            log.info("call=%s hung up before the IVR took it", printable(channel.call_id))
        except Exception:
            with self.counters.lock:
                self.counters.failed += 1
            log.exception("call=%s failed", printable(channel.call_id))

    def _refuse_busy(self, reader: IO[Any], writer: IO[Any]) -> None:
        """At the cap: tell the dialplan to run this call elsewhere (the AGI script)."""
        with self.counters.lock:
            self.counters.refused_busy += 1
        log.warning("at the limit of %d calls: a call goes to the fallback", self.options.max_calls)
        try:
            channel = AsteriskChannel(reader, writer, prompts_dir="")
            channel.command("SET VARIABLE", dialplan.BUSY, "1")
        except (CallerHungUp, OSError):
            pass

    def _watch_flow(self) -> None:
        while not self._stopping.wait(self.options.watch_seconds):
            current = self.app.flow_stamp()
            if current == self._flow_stamp:
                continue
            self._flow_stamp = current
            try:
                flow = self.app.reload_flow()
            except ProblemsFound as problems:
                log.error(
                    "the changed flow was refused; the last good one keeps serving:\n%s", problems
                )
            else:
                log.info("flow reloaded: %d nodes", len(flow.nodes))


def parse_allow(values: Iterable[str]) -> tuple[str, ...]:
    """Networks from the command line (`10.0.0.5`, `10.0.0.0/24`); ValueError if one is not."""
    networks = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
    return tuple(networks)


def wait_until_listening(host: str, port: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
