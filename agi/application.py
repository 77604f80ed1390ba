"""Everything one installation needs to answer calls, built once from the settings.

A per-call AGI script builds it for its single call; a long-lived server keeps it and
starts every call from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from agi.channel import Channel
from agi.database import connect
from agi.engine import CallReport, Dialog
from agi.flow import Flow
from agi.flow_loader import load_flow
from agi.prompts import PromptCatalog, load_catalog
from agi.readings_call import ReadingsCall, utc_now
from agi.repository import Repository
from agi.settings import Settings


@dataclass(frozen=True)
class CallOutcome:
    report: CallReport
    readings: ReadingsCall

    @property
    def accepted(self) -> bool:
        return self.readings.accepted


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def catalog(self) -> PromptCatalog:
        return load_catalog(self.settings.prompts_path)

    @cached_property
    def flow(self) -> Flow:
        return load_flow(self.settings.flow_path, self.catalog)

    @cached_property
    def repository(self) -> Repository:
        return Repository(connect(self.settings.database_url))

    def answer(
        self,
        channel: Channel,
        *,
        now: Callable[[], datetime] = utc_now,
        clock: Callable[[], float] | None = None,
    ) -> CallOutcome:
        """Walk one call through the flow, from the first prompt to the hang-up."""
        readings = ReadingsCall(
            self.repository,
            self.settings.window,
            self.settings.consumption_policy,
            source_id=channel.call_id,
            caller=channel.caller_number,
            now=now,
        )
        dialog = Dialog(
            self.flow, self.catalog, channel, readings, **({"clock": clock} if clock else {})
        )
        return CallOutcome(report=dialog.run(), readings=readings)
