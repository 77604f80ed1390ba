"""Editing the flow from the console, with a safety net.

A text is checked as `ivr check` checks the file (the flow's rules, then every scenario
beside it) without touching the file; it is saved only when it passes, in one step, and
kept as a new version with who saved it and when. Restoring an earlier version saves its
text again through the same check. A running server picks the saved file up as it picks up
any saved change.
"""

from __future__ import annotations

import difflib
import enum
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from agi.application import Application
from agi.atomic_file import replace_file
from agi.problems import Problem, ProblemsFound
from agi.scenarios import check_scenarios, scenarios_path
from agi.settings import Settings
from agi.storage.flow_versions import FlowVersion, FlowVersions, text_digest

MAX_TEXT = 1_000_000
"""Characters of a flow text: the shipped one is about 30 000."""


@dataclass(frozen=True)
class Check:
    problems: tuple[Problem, ...]
    """With the configured files' paths and lines, as `ivr check` reports them."""
    scenarios: int
    """How many scenarios ran (none when the flow itself has problems)."""
    nodes: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems


class Saving(enum.StrEnum):
    SAVED = "saved"
    REFUSED = "refused"
    """The check or a scenario failed: the file is as it was."""
    STALE = "stale"
    """The file was saved by someone else since the text was opened."""
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Saved:
    result: Saving
    check: Check | None = None
    version: FlowVersion | None = None


class Mark(enum.StrEnum):
    SAME = "same"
    REMOVED = "removed"
    ADDED = "added"
    GAP = "gap"
    """Unchanged lines left out between two changes."""


@dataclass(frozen=True)
class DiffRow:
    mark: Mark
    old_line: int | None
    new_line: int | None
    text: str


def diff_rows(old: str, new: str, *, context: int = 3) -> list[DiffRow]:
    """The lines that differ between two texts, with `context` unchanged lines around each
    change and the line numbers on both sides; no rows for equal texts."""
    before, after = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    rows: list[DiffRow] = []
    end = 0
    for group in matcher.get_grouped_opcodes(context):
        if group[0][1] > end:
            rows.append(DiffRow(Mark.GAP, None, None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [
                    DiffRow(Mark.SAME, i + 1, j + 1, before[i])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
            else:
                rows += [DiffRow(Mark.REMOVED, i + 1, None, before[i]) for i in range(i1, i2)]
                rows += [DiffRow(Mark.ADDED, None, j + 1, after[j]) for j in range(j1, j2)]
        end = group[-1][2]
    if rows and end < len(before):
        rows.append(DiffRow(Mark.GAP, None, None, ""))
    return rows


def as_saved(text: str) -> str:
    """A text from the browser as it is written to the file: a browser sends a text area's
    lines ended by CR LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class FlowEditor:
    """The configured flow file, its checks and its saved versions."""

    def __init__(self, settings: Settings, versions: FlowVersions) -> None:
        self.settings = settings
        self.versions = versions
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.settings.flow_path

    def current(self) -> str:
        """The text in the file now."""
        return self.path.read_text(encoding="utf-8")

    def check(self, text: str) -> Check:
        """Check `text` as the flow file, with the configured catalog and the scenarios
        beside the file, in a scratch folder: the file itself is not touched."""
        if len(text) > MAX_TEXT:
            problem = Problem(
                self.path, None, "too-long", f"the text is over {MAX_TEXT} characters"
            )
            return Check((problem,), 0)
        with tempfile.TemporaryDirectory(prefix="ivr-edit-") as folder:
            draft = Path(folder) / self.path.name
            draft.write_text(as_saved(text), encoding="utf-8")
            scenarios = scenarios_path(self.path)
            if scenarios.exists():
                shutil.copyfile(scenarios, scenarios_path(draft))
            where = {draft: self.path, scenarios_path(draft): scenarios}
            app = Application(self.settings)
            try:
                flow, catalog = app.read_menu(draft)
            except ProblemsFound as found:
                return Check(_moved(found.problems, where), 0)
            ran, failed = check_scenarios(self.settings, flow, catalog, draft)
            return Check(_moved(failed, where), ran, len(flow.nodes))

    def save(
        self, text: str, editor: str, *, opened: str | None, restored_from: int | None = None
    ) -> Saved:
        """Save `text` as the flow file if it passes the check and the file is still the one
        whose digest is `opened` (None: whatever it is), and keep it as a new version."""
        text = as_saved(text)
        check = self.check(text)
        if not check.passed:
            return Saved(Saving.REFUSED, check)
        with self._lock:
            on_file = self._note_file()
            if opened is not None and opened != on_file.digest:
                return Saved(Saving.STALE, check, on_file)
            if text_digest(text) == on_file.digest:
                return Saved(Saving.UNCHANGED, check, on_file)
            replace_file(self.path, text)
            version = self.versions.add(text, editor, restored_from=restored_from)
        return Saved(Saving.SAVED, check, version)

    def restore(self, version: FlowVersion, editor: str, *, opened: str | None) -> Saved:
        """Save `version`'s text again, as a new version."""
        return self.save(version.text, editor, opened=opened, restored_from=version.number)

    def history(self) -> list[FlowVersion]:
        """Every version, the newest first; the text in the file is the newest (noted as
        found in the file when it was changed outside the console)."""
        with self._lock:
            self._note_file()
        return self.versions.all()

    def _note_file(self) -> FlowVersion:
        text = self.current()
        latest = self.versions.latest()
        if latest is not None and latest.digest == text_digest(text):
            return latest
        return self.versions.add(text, None)


def _moved(problems: list[Problem], where: dict[Path, Path]) -> tuple[Problem, ...]:
    """Problems of the scratch copies, told of the files they stand for."""
    return tuple(replace(p, file=where.get(p.file, p.file)) for p in problems)
