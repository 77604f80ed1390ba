"""Everything one installation needs to answer calls, built once from the settings.

A per-call AGI script builds it for its single call; a long-lived server keeps it and
starts every call from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from agi.dialog.channel import Channel
from agi.dialog.engine import CallReport, Dialog
from agi.dialog.flow import Flow
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PromptCatalog, load_catalog
from agi.readings.call_actions import ACCEPTED, ACTIONS, CallActions
from agi.readings.service import ReadingsService, utc_now
from agi.records.record import SERVER, CallRecord, phone_record
from agi.records.writer import RecordWriter
from agi.redact import printable
from agi.settings import Settings
from agi.speech.recognition import Speech, load_speech
from agi.speech.spool import Spool
from agi.storage.accounts import Accounts
from agi.storage.call_records import CallRecords
from agi.storage.database import connect
from agi.storage.repository import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallOutcome:
    report: CallReport
    actions: CallActions
    record: CallRecord | None = None

    @property
    def accepted(self) -> bool:
        return self.actions.accepted


class Application:
    def __init__(self, settings: Settings, *, speech: Speech | None = None) -> None:
        self.settings = settings
        self._loaded: tuple[Flow, PromptCatalog] | None = None
        self._service: tuple[tuple[object, ...], ReadingsService] | None = None
        if speech is not None:
            self.speech = speech

    @cached_property
    def speech(self) -> Speech:
        """The configured speech model, loaded once for every call this process answers."""
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

    def read_menu(
        self, flow_path: Path | None = None, prompts_path: Path | None = None
    ) -> tuple[Flow, PromptCatalog]:
        """A flow and its catalog checked against this installation's actions (the
        configured files unless others are named); ProblemsFound lists what is wrong."""
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
        return Repository(
            connect(
                self.settings.database_url,
                timeout_seconds=self.settings.database_timeout_seconds,
                pool_size=self.settings.database_pool_size,
            )
        )

    @cached_property
    def call_records(self) -> CallRecords:
        return CallRecords(self.repository.engine)

    @cached_property
    def accounts(self) -> Accounts:
        """The staff console's accounts."""
        return Accounts(self.repository.engine)

    @cached_property
    def record_writer(self) -> RecordWriter:
        """Writes the calls' records in the background (`flush()` waits for them)."""
        return RecordWriter(self.call_records.add)

    def answer(
        self,
        channel: Channel,
        *,
        now: Callable[[], datetime] = utc_now,
        clock: Callable[[], float] | None = None,
    ) -> CallOutcome:
        """Walk one call through the flow, from the first prompt to the hang-up; its record
        is handed to the background writer (when `call_records` is on)."""
        clock = clock or time.monotonic
        started_at, started = now(), clock()
        actions = CallActions(
            self.readings(now=now),
            source_id=channel.call_id,
            caller=channel.caller_number,
            correlation_id=channel.correlation_id,
            on_accepted=lambda: channel.mark(ACCEPTED),
        )
        flow, catalog = self._menu()
        dialog = Dialog(
            flow,
            catalog,
            channel,
            actions,
            recogniser=self.speech.recogniser,
            clock=clock,
        )
        report = dialog.run()
        record = None
        if self.settings.call_records:
            try:
                record = phone_record(
                    report,
                    call_id=channel.call_id,
                    started_at=started_at,
                    started=started,
                    caller=channel.caller_number,
                    system=channel.system_name,
                    server=SERVER,
                    accepted=actions.accepted,
                    resource=actions.contract.resource.value if actions.contract else None,
                    refusals=actions.refusals,
                    by_voice=dialog.by_voice,
                )
                self.record_writer.put(record)
            except Exception:
                log.exception("the record of call %s could not be made", printable(channel.call_id))
        return CallOutcome(report=report, actions=actions, record=record)

    def readings(self, *, now: Callable[[], datetime] = utc_now) -> ReadingsService:
        """The readings service of this installation, on its database: built once for
        every call while the settings, the database and the clock stay the same."""
        made = self._service
        basis = (self.settings, self.repository, now)
        if made is None or any(old is not new for old, new in zip(made[0], basis, strict=True)):
            made = (basis, ReadingsService.configured(self.settings, self.repository, now=now))
            self._service = made
        return made[1]
