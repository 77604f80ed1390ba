"""The FastAGI server: one long-lived process that answers the calls of one or more Asterisks.

It holds the flow (`agi.telephony.live_flow`: watched, and kept in the state folder) and the
database pool. Each call runs in a thread of its own, at most `max_calls` at once, or fewer
when the open-files limit leaves room for fewer; a call beyond that gets IVR_BUSY, so the
dialplan runs it in the AGI script instead, and one call's failure ends that call only.

Nothing at the other end can hold a call slot for long: the AGI environment must arrive
within `environment_seconds` of the connection, and each command's whole reply within
`reply_seconds` of the command, however slowly the bytes drip. A stop closes the listening
socket at once, closes connections that are not yet calls, lets calls in progress finish
for `drain_seconds`, and then hands the rest to the operator at their next command.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import resource
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agi.application import Application
from agi.dialog.channel import CallerHungUp
from agi.dialog.engine import Ending
from agi.dialog.flow import TransferNode
from agi.readings.service import utc_now
from agi.redact import printable
from agi.telephony import dialplan
from agi.telephony.asterisk_channel import AsteriskChannel
from agi.telephony.line_status import (
    Answer,
    LineMetrics,
    StatusListener,
    json_answer,
    metrics_answer,
)
from agi.telephony.live_flow import LiveFlow
from agi.telephony.protocol import command_line

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.0/8", "::1/128")
NO_REPLY = "no_reply"
"""The ending of a call whose Asterisk did not answer a command within `reply_seconds`."""
SERVER_STOPPED = "server_stopped"
"""The ending of a call handed to the operator because the drain time ran out."""
ENDINGS = (*(ending.value for ending in Ending), NO_REPLY, SERVER_STOPPED)
AT_MAX_CALLS, OUT_OF_FILES = "max_calls", "open_files"
NOT_ALLOWED, NO_ENVIRONMENT, STOPPING = "not_allowed", "no_environment", "stopping"

WAIT_SLACK_SECONDS = 0.05
"""How far past its deadline a read may end, so that the first read after a command does
not have to shorten the socket's wait by the microseconds since the command."""
MAX_LINE = 65536
"""The longest AGI line accepted, in bytes."""
BUSY_LINE = command_line("SET VARIABLE", dialplan.BUSY, "1").encode()
LINGER_SECONDS = 2.0
"""How long a refused connection may stay open to read its IVR_BUSY before it is closed."""
MAX_LINGERING = 64
"""Refused connections kept open at once; beyond that they are closed at once (the dialplan
falls back the same: the call was not taken)."""
RESERVED_FILES = 64
"""Open files kept free for what calls open besides their socket: database connections and
their journals, recordings, logs, the status listener."""
HAND_OVER_SECONDS = 15.0
"""After the drain time, how long calls get to reach their next command (a prompt or a key
wait ending) and be handed over, before their connections are closed."""
REPORT_EVERY_SECONDS = 10.0
MAX_KNOWN_ADDRESSES = 1024
"""Addresses whose allow-list answer is kept; past that the answers are forgotten."""
DEFAULT_MAX_CALLS = 400
"""Calls one server holds at once by default: on 2 cores (benchmarks/fastagi_load.py) 400
typing callers are answered within 5 ms at the 99th percentile on SQLite and 27 ms on
PostgreSQL, every reading stored; at 700 PostgreSQL's submissions wait most of a second for
a pooled connection (SQLite's one writer still answers within 25 ms)."""


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 4573
    max_calls: int = DEFAULT_MAX_CALLS
    allow: tuple[str, ...] = LOOPBACK
    """Networks whose Asterisks may connect."""
    debug: bool = False
    watch_seconds: float = 1.0
    environment_seconds: float = 5.0
    """Asterisk sends the AGI environment at once; a connection without it by then is not
    an Asterisk, or one too busy to serve a caller."""
    reply_seconds: float = 60.0
    """The longest a command may take to be answered whole (the longest prompt, key wait or
    answer by voice) before the Asterisk at the other end is taken for gone."""
    drain_seconds: float = 60.0
    """On stop, how long calls in progress may take to end by themselves."""
    state_dir: Path | None = None
    """Where the last good flow is kept; None: the settings' state_dir."""
    status_host: str = "127.0.0.1"
    status_port: int | None = None
    """The port of /health, /metrics and /status; None: no status listener (0: any free
    port)."""


class _HandedOver(ConnectionAbortedError):
    """The server stopped and handed the call over; the channel takes it for a hang-up."""


class _Connection:
    """One FastAGI socket as the text streams a channel reads and writes, under deadlines:
    the whole environment within `environment_seconds` of the connection, and each whole
    reply within `reply_seconds` of its command, however the bytes arrive."""

    def __init__(
        self,
        sock: socket.socket,
        address: str,
        *,
        environment_seconds: float,
        reply_seconds: float,
        on_command: Callable[[float], None],
    ) -> None:
        self.sock = sock
        self.address = address
        self.reply_seconds = reply_seconds
        self.on_command = on_command
        self.calling = False
        """The AGI environment came and the server took the call: drained on stop, not
        dropped."""
        self.expired = False
        self.handed_over = False
        self._hand_over_to: str | None = None
        self._deadline = time.monotonic() + environment_seconds
        self._buffer = bytearray()
        self._pending: list[str] = []
        self._replied_at: float | None = None
        self._commands = 0
        self._waits = 0.0
        sock.settimeout(None)
        self._wait_at_most(environment_seconds)

    def readline(self) -> str:
        buffer = self._buffer
        end = buffer.find(b"\n")
        while end < 0:
            if len(buffer) > MAX_LINE:
                raise ValueError(f"an AGI line longer than {MAX_LINE} bytes")
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                self.expired = True
                raise TimeoutError("the other end did not answer in time")
            if remaining < self._waits - WAIT_SLACK_SECONDS:
                self._wait_at_most(remaining)
            try:
                chunk = self.sock.recv(4096)
            except BlockingIOError:  # the socket's own timeout: the deadline passed
                self.expired = True
                raise TimeoutError("the other end did not answer in time") from None
            if not chunk:
                return ""
            buffer += chunk
            end = buffer.find(b"\n", len(buffer) - len(chunk))
        line = buffer[: end + 1].decode("utf-8", errors="replace")
        del buffer[: end + 1]
        if self._commands:
            self._replied_at = time.monotonic()
        return line

    def write(self, text: str) -> int:
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        data, self._pending = "".join(self._pending), []
        if not data:
            return
        if self.handed_over:
            raise _HandedOver("the call was handed over")
        if self._hand_over_to is not None:
            self._hand_over()
        now = time.monotonic()
        if self._replied_at is not None:
            self.on_command(now - self._replied_at)
            self._replied_at = None
        self._commands += 1
        self._send(data.encode(), now)

    def _send(self, data: bytes, now: float | None = None) -> None:
        if now is None:
            now = time.monotonic()
        self._deadline = now + self.reply_seconds
        if self._waits != self.reply_seconds:
            self._wait_at_most(self.reply_seconds)
        try:
            self.sock.sendall(data)
        except BlockingIOError:
            self.expired = True
            raise TimeoutError("the other end took no command in time") from None

    def _wait_at_most(self, seconds: float) -> None:
        """Let a receive or a send block for at most `seconds`, in the kernel
        (SO_RCVTIMEO, SO_SNDTIMEO): a Python socket timeout costs two system calls more per
        receive and per send (it polls first, and each change is an ioctl), each a round of
        the interpreter lock; the socket's waits change only when a reply comes in parts."""
        seconds = max(seconds, 0.001)
        whole = int(seconds)
        wait = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, wait)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, wait)
        self._waits = seconds

    def hand_over(self, destination: str | None) -> None:
        """At the next command, name `destination` for the dialplan and end the call."""
        self._hand_over_to = destination or ""

    def _hand_over(self) -> None:
        self.handed_over = True
        if self._hand_over_to:
            self._send(command_line("SET VARIABLE", dialplan.TRANSFER, self._hand_over_to).encode())
            self.readline()
        raise _HandedOver("the server is stopping")

    def abort(self) -> None:
        """End any read or write in progress at once."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sock.close()


class _Every:
    """Logs an event that may repeat many times a second at most once every
    REPORT_EVERY_SECONDS, with the count since the last line."""

    def __init__(self, level: int, message: str) -> None:
        self.level = level
        self.message = message
        self._count = 0
        self._last = -REPORT_EVERY_SECONDS
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if now - self._last < REPORT_EVERY_SECONDS:
                return
            count, self._count, self._last = self._count, 0, now
        suffix = f" ({count} times in the last {REPORT_EVERY_SECONDS:.0f} s)" if count > 1 else ""
        log.log(self.level, self.message + suffix, *args)


def room_for_calls(max_calls: int) -> int:
    """How many calls the open-files limit leaves room for, at most `max_calls`. The soft
    limit is raised as far as the hard limit allows first."""
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32
    overhead = in_use + RESERVED_FILES + MAX_LINGERING
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_calls
    wanted = overhead + max_calls
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
    return max(1, min(max_calls, soft - overhead))


class FastAgiServer:
    def __init__(self, app: Application, options: ServerOptions) -> None:
        self.app = app
        self.options = options
        self.networks = [ipaddress.ip_network(net, strict=False) for net in options.allow]
        self._known: dict[str, bool] = {}
        self.metrics = LineMetrics(
            endings=ENDINGS,
            refusals=(AT_MAX_CALLS, OUT_OF_FILES),
            drops=(NOT_ALLOWED, NO_ENVIRONMENT, STOPPING),
        )
        self.metrics.count_lockouts(lambda: app.readings().lockouts(utc_now()))
        self.flow = LiveFlow(app, options.state_dir or app.settings.state_dir, self.metrics)
        self._prompts_dir = app.prompts_audio_dir
        """Resolved once: every call names the same folder to Asterisk, and a symlink
        repointed later is followed after a restart."""
        self.flow.start()
        level = logging.INFO if app.speech.available else logging.WARNING
        log.log(level, "%s", app.speech.status)
        self.max_calls = room_for_calls(options.max_calls)
        if self.max_calls < options.max_calls:
            log.warning(
                "the open-files limit (%d) leaves room for %d calls at once, not max_calls %d: "
                "more go to the fallback; raise the limit (LimitNOFILE) to serve them all",
                resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                self.max_calls,
                options.max_calls,
            )
        self._slots = threading.BoundedSemaphore(self.max_calls)
        self._listener = _listen(options.host, options.port)
        self._spare: int | None = _spare_file()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._hurry = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._connections: set[_Connection] = set()
        self._lingering: dict[socket.socket, float] = {}
        self._answered = 0
        self.started_at = datetime.now(tz=UTC)
        self._watcher = threading.Thread(
            target=self.flow.watch,
            args=(self._stopping, options.watch_seconds),
            name="flow-watcher",
            daemon=True,
        )
        self._report_busy = _Every(
            logging.WARNING, "at the limit of %d calls: a call went to the fallback"
        )
        self._report_no_files = _Every(
            logging.ERROR,
            "out of open files (%s): a call went to the fallback; raise the open-files limit "
            "(LimitNOFILE) or lower max_calls",
        )
        self._report_dropped = _Every(logging.WARNING, "closed a FastAGI connection from %s: %s")
        self.status = self._status_listener()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    # --- accepting ----------------------------------------------------------------------

    def serve(self) -> None:
        """Serve until `stop()`; then drain the calls in progress and return."""
        self._watcher.start()
        if self.status:
            self.status.start()
        log.info(
            "FastAGI listening on %s:%d, at most %d calls",
            self.options.host,
            self.port,
            self.max_calls,
        )
        try:
            self._accept_until_stopped()
        finally:
            self._listener.close()
            for sock in self._lingering:
                sock.close()
            self._lingering.clear()
            self._drain()
            if self.status:
                self.status.stop()
            self._wake_r.close()
            self._wake_w.close()
            if self._spare is not None:
                os.close(self._spare)
            log.info("FastAGI stopped after %d calls", self._answered)

    def stop(self) -> None:
        """Stop accepting calls; `serve()` returns once the calls in progress have ended.
        A second stop does not wait for the drain time. Safe in a signal handler."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept_until_stopped(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        with selector:
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.5):
                    if key.fileobj is self._listener:
                        self._accept_waiting(selector)
                    elif key.fileobj is self._wake_r:
                        self._wake_r.recv(64)
                    else:
                        self._read_lingering(selector, key.fileobj)  # type: ignore[arg-type]
                self._expire_lingering(selector)

    def _accept_waiting(self, selector: selectors.BaseSelector) -> None:
        for _ in range(64):
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._out_of_files(error)
                    return
                if error.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue
                raise
            self._arrived(sock, peer[0], selector)
        if self._spare is None:
            self._spare = _spare_file()

    def _arrived(self, sock: socket.socket, address: str, selector: selectors.BaseSelector) -> None:
        if not self.allowed(address):
            self._dropped(NOT_ALLOWED)
            self._let_go(sock, b"", selector)
            log.warning(
                "refused a FastAGI connection from %s: not in the allow-list", printable(address)
            )
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._slots.acquire(blocking=False):
            full = AT_MAX_CALLS if self.max_calls == self.options.max_calls else OUT_OF_FILES
            self._refuse(sock, full, selector)
            self._report_busy(self.max_calls)
            return
        connection = _Connection(
            sock,
            address,
            environment_seconds=self.options.environment_seconds,
            reply_seconds=self.options.reply_seconds,
            on_command=self.metrics.reply_to_command.observe,
        )
        with self._lock:
            self._connections.add(connection)
        thread = threading.Thread(target=self._serve_connection, args=(connection,), daemon=True)
        try:
            thread.start()
        except RuntimeError as error:
            with self._lock:
                self._connections.discard(connection)
            self._slots.release()
            self._refuse(sock, OUT_OF_FILES, selector)
            self._report_no_files(f"no thread: {error}")

    def _out_of_files(self, error: OSError) -> None:
        """No file for a new connection: free the spare one to accept it and send it to the
        fallback, so it does not wait in silence; without a spare, wait a moment rather
        than spin."""
        self._report_no_files(errno.errorcode.get(error.errno or 0, str(error)))
        if self._spare is None:
            time.sleep(0.1)
            self._spare = _spare_file()
            return
        os.close(self._spare)
        self._spare = None
        try:
            sock, _ = self._listener.accept()
        except OSError:
            pass
        else:
            self._refuse(sock, OUT_OF_FILES, None)
        self._spare = _spare_file()

    # --- refused connections ------------------------------------------------------------

    def _refuse(
        self, sock: socket.socket, reason: str, selector: selectors.BaseSelector | None
    ) -> None:
        """Tell the dialplan to run this call elsewhere (the AGI script), without a thread.
        Asterisk reads the command after sending its environment."""
        self.metrics.calls_refused_busy.labels(reason).inc()
        self._let_go(sock, BUSY_LINE, selector)

    def _let_go(
        self, sock: socket.socket, last: bytes, selector: selectors.BaseSelector | None
    ) -> None:
        """Send `last` and close our side; what the other end still sends is read and
        dropped for a moment, so that it sees the end of the stream rather than a reset."""
        try:
            sock.setblocking(False)
            if last:
                sock.send(last)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if selector is None or len(self._lingering) >= MAX_LINGERING:
            sock.close()
            return
        self._lingering[sock] = time.monotonic() + LINGER_SECONDS
        selector.register(sock, selectors.EVENT_READ)

    def _read_lingering(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        try:
            if sock.recv(4096):
                return
        except OSError:
            pass
        selector.unregister(sock)
        del self._lingering[sock]
        sock.close()

    def _expire_lingering(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for sock, deadline in list(self._lingering.items()):
            if deadline <= now:
                selector.unregister(sock)
                del self._lingering[sock]
                sock.close()

    # --- a call -------------------------------------------------------------------------

    def allowed(self, address: str) -> bool:
        """Whether `address` is in the allow-list; the answer is kept for the few Asterisks
        that call again and again (at most MAX_KNOWN_ADDRESSES of them)."""
        known = self._known.get(address)
        if known is None:
            ip = ipaddress.ip_address(address.split("%")[0])
            known = any(ip in network for network in self.networks)
            if len(self._known) >= MAX_KNOWN_ADDRESSES:
                self._known.clear()
            self._known[address] = known
        return known

    def _serve_connection(self, connection: _Connection) -> None:
        try:
            self._serve(connection)
        finally:
            connection.close()
            with self._lock:
                self._connections.discard(connection)
                self._changed.notify_all()
            self._slots.release()

    def _serve(self, connection: _Connection) -> None:
        address = printable(connection.address)
        try:
            channel = AsteriskChannel(
                connection,
                connection,
                prompts_dir=self._prompts_dir,
                debug=self.options.debug,
                spool=self.app.spool if self.app.speech.available else None,
            )
        except CallerHungUp:
            self._dropped(STOPPING if self._stopping.is_set() else NO_ENVIRONMENT)
            log.info("a FastAGI connection from %s closed without an AGI environment", address)
            return
        except (OSError, ValueError) as error:
            self._dropped(STOPPING if self._stopping.is_set() else NO_ENVIRONMENT)
            self._report_dropped(address, f"no AGI environment ({error})")
            return
        with self._lock:
            connection.calling = not self._stopping.is_set()
        if not connection.calling:
            self._dropped(STOPPING)
            return
        label = printable(channel.call_id)
        try:
            channel.claim()
        except CallerHungUp:
            if connection.expired:
                self._no_reply(label)
                self.metrics.calls_ended.labels(NO_REPLY).inc()
            else:
                log.info("call=%s the caller hung up before the IVR took the call", label)
                self.metrics.calls_ended.labels(Ending.CALLER_HUNG_UP.value).inc()
            return
        except Exception:
            log.exception("call=%s failed before the IVR took it", label)
            self.metrics.calls_ended.labels(Ending.FAILED.value).inc()
            return
        self._answer(channel, connection, label)

    def _answer(self, channel: AsteriskChannel, connection: _Connection, label: str) -> None:
        self.metrics.calls_answered.inc()
        self.metrics.calls_active.inc()
        with self._lock:
            self._answered += 1
        ending = Ending.FAILED.value
        try:
            outcome = self.app.answer(channel)
            ending = outcome.report.ending.value
            if connection.handed_over:
                ending = SERVER_STOPPED
            elif connection.expired:
                ending = NO_REPLY
                self._no_reply(label)
            log.info("call=%s ended=%s accepted=%s", label, ending, outcome.accepted)
        except Exception:
            log.exception("call=%s failed", label)
        finally:
            self.metrics.calls_active.dec()
            self.metrics.calls_ended.labels(ending).inc()

    def _no_reply(self, label: str) -> None:
        log.warning(
            "call=%s Asterisk did not answer a command within %g s: the call ended",
            label,
            self.options.reply_seconds,
        )

    def _dropped(self, reason: str) -> None:
        self.metrics.connections_dropped.labels(reason).inc()

    # --- stopping -----------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            waiting = [c for c in self._connections if not c.calling]
            calls = len(self._connections) - len(waiting)
        for connection in waiting:
            connection.abort()
        if calls:
            log.info(
                "FastAGI accepts no more calls; %d in progress may finish within %.0f s",
                calls,
                self.options.drain_seconds,
            )
        if self._wait_for_calls(self.options.drain_seconds, hurry=True):
            return
        destination = self._operator()
        with self._lock:
            remaining = list(self._connections)
        for connection in remaining:
            connection.hand_over(destination)
        log.warning(
            "the drain time ran out: %d calls go to %s at their next command",
            len(remaining),
            destination or "the dialplan",
        )
        if self._wait_for_calls(HAND_OVER_SECONDS):
            return
        with self._lock:
            remaining = list(self._connections)
        for connection in remaining:
            connection.abort()
        log.warning("%d calls did not reach their next command in time: closed", len(remaining))
        self._wait_for_calls(2.0)

    def _wait_for_calls(self, seconds: float, *, hurry: bool = False) -> bool:
        """Whether every call ended within `seconds` (a second stop cuts it short)."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while self._connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (hurry and self._hurry.is_set()):
                    return False
                self._changed.wait(min(remaining, 0.2))
        return True

    def _operator(self) -> str | None:
        """Where the flow sends a call it cannot finish: its limits' or failures' transfer."""
        flow = self.app.flow
        for name in (flow.limits.then, flow.defaults.on_failure):
            node = flow.nodes.get(name)
            if isinstance(node, TransferNode):
                return node.to
        return None

    # --- status -------------------------------------------------------------------------

    def _status_listener(self) -> StatusListener | None:
        if self.options.status_port is None:
            return None
        routes = {"/health": self._health, "/metrics": self._metrics, "/status": self._status}
        try:
            return StatusListener(self.options.status_host, self.options.status_port, routes)
        except OSError as error:
            log.error(
                "no /health, /metrics or /status: cannot listen on %s:%d (%s)",
                self.options.status_host,
                self.options.status_port,
                error.strerror or error,
            )
            return None

    def _health(self) -> Answer:
        if self._stopping.is_set():
            return json_answer({"status": "stopping"}, 503)
        problem = self.app.repository.schema_problem()
        if problem:
            return json_answer({"status": "database", "problem": problem}, 503)
        return json_answer({"status": "ok"})

    def _metrics(self) -> Answer:
        return metrics_answer(self.metrics)

    def _status(self) -> Answer:
        with self._lock:
            calls = sum(1 for c in self._connections if c.calling)
        return json_answer(
            {
                "server": {
                    "listening": f"{self.options.host}:{self.port}",
                    "started_at": self.started_at.isoformat(timespec="seconds"),
                    "stopping": self._stopping.is_set(),
                    "max_calls": self.max_calls,
                    "calls_in_progress": calls,
                    "calls_answered": self._answered,
                },
                **self.flow.status(),
            }
        )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _spare_file() -> int | None:
    """A file held back for the moment the others run out (see `_out_of_files`)."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


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
