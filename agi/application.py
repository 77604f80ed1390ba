"""Everything one installation needs to answer calls, built once from the settings.

A per-call AGI script builds it for its single call; a long-lived server keeps it and
starts every call from it. The database, the readings service, the speech back-end and the
call's record are imported when first used, so that a per-call script says its first words
without them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from agi.dialog.actions import ActionResult, ActionUnavailable, Answers
from agi.dialog.channel import Channel
from agi.dialog.engine import CallReport, Dialog
from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog
from agi.redact import printable
from agi.settings import Settings
from agi.speech.spool import Spool

if TYPE_CHECKING:
    from agi.readings.call_actions import CallActions
    from agi.readings.service import ReadingsService
    from agi.records.record import CallRecord
    from agi.records.writer import RecordWriter
    from agi.speech.recognition import Speech
    from agi.storage.accounts import Accounts
    from agi.storage.call_records import CallRecords
    from agi.storage.repository import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallOutcome:
    report: CallReport
    actions: CallActions | None
    """None: the call ended before the flow ran its first action."""
    record: CallRecord | None = None

    @property
    def accepted(self) -> bool:
        return self.actions is not None and self.actions.accepted


class _FirstAction:
    """A call's actions, made when the flow runs its first one: the greeting and the menu
    before it need neither the database nor the readings service."""

    def __init__(self, make: Callable[[], CallActions]) -> None:
        self._make = make
        self.made: CallActions | None = None

    def run(self, name: str, answers: Answers) -> ActionResult:
        if self.made is None:
            from agi.storage.database import StorageError

            try:
                self.made = self._make()
            except StorageError as error:
                raise ActionUnavailable(str(error)) from error
        return self.made.run(name, answers)

    @property
    def accepted(self) -> bool:
        return self.made is not None and self.made.accepted

    @property
    def resource(self) -> str | None:
        contract = self.made.contract if self.made is not None else None
        return contract.resource.value if contract else None

    @property
    def refusals(self) -> list[str]:
        return self.made.refusals if self.made is not None else []


class Application:
    def __init__(self, settings: Settings, *, speech: Speech | None = None) -> None:
        self.settings = settings
        self._loaded: tuple[Flow, PromptCatalog] | None = None
        self._service: tuple[tuple[object, ...], ReadingsService] | None = None
        self._storage_lock = threading.Lock()
        self._storage_checked: str | None = None
        """After `prepare_storage`: why the database cannot be used ('' when it can)."""
        self._preparing: threading.Thread | None = None
        if speech is not None:
            self.speech = speech

    @cached_property
    def speech(self) -> Speech:
        """The configured speech model, loaded once for every call this process answers."""
        from agi.speech.recognition import load_speech

        return load_speech(self.settings.speech_model, self.settings.speech_spool_dir)

    @property
    def spool(self) -> Spool:
        """Where Asterisk records answers by voice, and where this process reads them."""
        folder = self.settings.speech_spool_dir.resolve()
        return Spool(folder, self.settings.speech_spool_asterisk_dir or str(folder))

    @property
    def catalog(self) -> PromptCatalog:
        return self._menu()[1]

    @property
    def flow(self) -> Flow:
        return self._menu()[0]

    def _menu(self) -> tuple[Flow, PromptCatalog]:
        if self._loaded is None:
            self.reload_flow()
        assert self._loaded is not None
        return self._loaded

    def reload_flow(self) -> Flow:
        """Read the flow and its catalog again; on problems keep the ones in use and raise."""
        flow, catalog = self.read_menu()
        self.use_menu(flow, catalog)
        return flow

    def use_cached_menu(self) -> Flow:
        """`reload_flow`, through the cache in the state folder: the flow and catalog are
        read and checked only when a file or the code has changed since they were cached."""
        from agi.dialog.flow_cache import cached_menu

        settings = self.settings
        menu = cached_menu(
            settings.flow_path, settings.prompts_path, settings.state_dir, self.read_menu
        )
        self.use_menu(*menu)
        return menu[0]

    def read_menu(
        self, flow_path: Path | None = None, prompts_path: Path | None = None
    ) -> tuple[Flow, PromptCatalog]:
        """A flow and its catalog checked against this installation's actions (the
        configured files unless others are named); ProblemsFound lists what is wrong."""
        from agi.dialog.flow_loader import load_flow
        from agi.dialog.prompts import load_catalog
        from agi.readings.call_actions import ACTIONS

        catalog = load_catalog(prompts_path or self.settings.prompts_path)
        return load_flow(flow_path or self.settings.flow_path, catalog, ACTIONS), catalog

    def use_menu(self, flow: Flow, catalog: PromptCatalog) -> None:
        """Answer the next calls with this flow and catalog."""
        self._loaded = (flow, catalog)

    def flow_stamp(self) -> tuple[float, ...]:
        """Changes whenever the flow file or the prompt catalog is saved."""
        stamps = []
        for path in (self.settings.flow_path, self.settings.prompts_path):
            try:
                stamp = path.stat()
                stamps += [stamp.st_mtime, stamp.st_size]
            except OSError:
                stamps += [-1.0, -1.0]
        return tuple(stamps)

    @property
    def prompts_audio_dir(self) -> str:
        """Where Asterisk finds the prompt recordings, one file per prompt id."""
        return str(self.settings.prompts_audio_dir.resolve())

    @cached_property
    def repository(self) -> Repository:
        from agi.storage.database import connect
        from agi.storage.repository import Repository

        return Repository(
            connect(
                self.settings.database_url,
                timeout_seconds=self.settings.database_timeout_seconds,
                pool_size=self.settings.database_pool_size,
            )
        )

    @cached_property
    def call_records(self) -> CallRecords:
        from agi.storage.call_records import CallRecords

        return CallRecords(self.repository.engine)

    @cached_property
    def accounts(self) -> Accounts:
        """The staff console's accounts."""
        from agi.storage.accounts import Accounts

        return Accounts(self.repository.engine)

    @cached_property
    def record_writer(self) -> RecordWriter:
        """Writes the calls' records in the background (`flush()` waits for them)."""
        from agi.records.writer import RecordWriter

        return RecordWriter(self._store_records)

    def _store_records(self, *records: CallRecord) -> None:
        """The writer's work: once the database is prepared, and not at all when it
        cannot be used (the call was told so, and the problem logged)."""
        if self.storage_failed():
            log.info("%d call record(s) not written: the database cannot be used", len(records))
            return
        self.call_records.add(*records)

    def answer(
        self,
        channel: Channel,
        *,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> CallOutcome:
        """Walk one call through the flow, from the first prompt to the hang-up; its record
        is handed to the background writer (when `call_records` is on)."""
        clock = clock or time.monotonic
        started_at, started = (now() if now else datetime.now(UTC)), clock()

        def make_actions() -> CallActions:
            from agi.readings.call_actions import ACCEPTED, CallActions

            return CallActions(
                self.readings(now=now),
                source_id=channel.call_id,
                caller=channel.caller_number,
                correlation_id=channel.correlation_id,
                on_accepted=lambda: channel.mark(ACCEPTED),
            )

        first_action = _FirstAction(make_actions)
        flow, catalog = self._menu()
        dialog = Dialog(
            flow,
            catalog,
            channel,
            first_action,
            recogniser=self.speech.recogniser,
            clock=clock,
        )
        report = dialog.run()
        record = None
        if self.settings.call_records:
            from agi.records.record import SERVER, phone_record  # once the call has ended

            try:
                record = phone_record(
                    report,
                    call_id=channel.call_id,
                    started_at=started_at,
                    started=started,
                    caller=channel.caller_number,
                    system=channel.system_name,
                    server=SERVER,
                    accepted=first_action.accepted,
                    resource=first_action.resource,
                    refusals=first_action.refusals,
                    by_voice=dialog.by_voice,
                )
                self.record_writer.put(record)
            except Exception:
                log.exception("the record of call %s could not be made", printable(channel.call_id))
        return CallOutcome(report=report, actions=first_action.made, record=record)

    def prepare_storage(self) -> str | None:
        """Open the database and check its schema once, and make the readings service: why
        the database cannot be used, or None. Once this found a problem, `readings()`
        raises StorageError with it (a call then reaches the flow's `on_unavailable`)."""
        with self._storage_lock:
            if self._storage_checked is None:
                try:
                    self._storage_checked = self.repository.schema_problem() or ""
                    if not self._storage_checked:
                        self._readings()
                except Exception as error:  # a URL that is no URL, a driver not installed ...
                    self._storage_checked = (
                        f"the readings database cannot be used ({type(error).__name__})"
                    )
            return self._storage_checked or None

    def prepare_storage_in_background(self, on_problem: Callable[[str], None]) -> None:
        """`prepare_storage` in a thread, for a process that answers one call: the database
        is opened while the caller hears the greeting, and `readings()` waits for it.
        `on_problem` is told why the database cannot be used, if it cannot."""

        def prepare() -> None:
            problem = self.prepare_storage()
            if problem:
                on_problem(problem)

        self._preparing = threading.Thread(target=prepare, name="storage", daemon=True)
        self._preparing.start()

    def storage_failed(self) -> bool:
        """Whether `prepare_storage` found the database unusable (once the background
        preparation, if one was started, has finished)."""
        if self._preparing is not None:
            self._preparing.join()
        return bool(self._storage_checked)

    def readings(self, *, now: Callable[[], datetime] | None = None) -> ReadingsService:
        """The readings service of this installation, on its database: built once for
        every call while the settings, the database and the clock stay the same."""
        if self.storage_failed():
            from agi.storage.database import StorageError

            raise StorageError(self._storage_checked)
        return self._readings(now=now)

    def _readings(self, *, now: Callable[[], datetime] | None = None) -> ReadingsService:
        from agi.readings.service import ReadingsService, utc_now

        now = now or utc_now
        made = self._service
        basis = (self.settings, self.repository, now)
        if made is None or any(old is not new for old, new in zip(made[0], basis, strict=True)):
            made = (basis, ReadingsService.configured(self.settings, self.repository, now=now))
            self._service = made
        return made[1]
