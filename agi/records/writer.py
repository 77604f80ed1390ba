"""Writing call records off the call's path: the call hands its record over and goes on;
one thread per process writes what is handed over, several at a time when calls come fast.

A database that fails loses records (logged), never a call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from agi.records.record import CallRecord

log = logging.getLogger(__name__)

BATCH = 100
"""Records written in one transaction at most."""
GATHER_SECONDS = 0.05
"""How long the writer waits for more records to write with the first (one commit for all)."""
BACKLOG = 10000
"""Records waiting at most; beyond that, new ones are dropped (and logged)."""


class RecordWriter:
    def __init__(self, store: Callable[..., None]) -> None:
        self._store = store
        self._queue: queue.Queue[CallRecord] = queue.Queue(BACKLOG)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flushing = threading.Event()
        self.dropped = 0

    def put(self, record: CallRecord) -> None:
        """Hand a record over; it is written soon, in the background."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            log.error("call records are written slower than calls end: one was dropped")
            return
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="call-records", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            until = time.monotonic() + GATHER_SECONDS
            while len(batch) < BATCH:
                wait = 0.0 if self._flushing.is_set() else max(0.0, until - time.monotonic())
                try:
                    batch.append(
                        self._queue.get(timeout=wait) if wait else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
            try:
                self._store(*batch)
            except Exception:
                log.exception("%d call record(s) could not be written", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def flush(self) -> None:
        """Wait until every record handed over is written (or failed), at once: the writer
        gathers no more (a process about to exit)."""
        self._flushing.set()
        try:
            self._queue.join()
        finally:
            self._flushing.clear()
