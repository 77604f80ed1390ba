"""The flow a running server answers calls with: watched, checked, and kept.

A saved change of the flow file or the prompt catalog that passes the checks, and with which
every scenario beside the flow still runs as written, is used by the next call; one that
does not is refused, its problems kept for `ivr status`, and the flow in
use keeps serving. Every flow that passes is also copied into the state folder, so that a
server started while the file is broken serves the last good flow instead of refusing to
start; it refuses only when it never had one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agi.application import Application
from agi.atomic_file import replace_file
from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog
from agi.problems import Problem, ProblemsFound
from agi.scenarios import check_scenarios
from agi.telephony.line_status import LineMetrics

log = logging.getLogger(__name__)

SAVED_FOLDER = "last-good-flow"
SAVED_FLOW = "ivr_flows.yaml"
SAVED_PROMPTS = "prompts.yaml"
SAVED_FACTS = "saved.json"


@dataclass(frozen=True)
class LiveVersion:
    """The flow the calls get now."""

    version: str
    """A hash of the flow file and the catalog as they were read."""
    flow_file: Path
    prompts_file: Path
    loaded_at: datetime
    nodes: int
    saved_copy: Path | None = None
    """The state folder's copy it was read from, when the files themselves were refused."""


@dataclass(frozen=True)
class RefusedEdit:
    version: str | None
    at: datetime
    problems: tuple[Problem, ...]


def content_version(*contents: bytes | None) -> str | None:
    """The version of files with these contents; None when one could not be read."""
    if any(content is None for content in contents):
        return None
    digest = hashlib.sha256()
    for content in contents:
        assert content is not None
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:12]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


class LiveFlow:
    def __init__(
        self, app: Application, state_dir: Path, metrics: LineMetrics | None = None
    ) -> None:
        self.app = app
        self.saved_dir = state_dir / SAVED_FOLDER
        self.metrics = metrics
        self.live: LiveVersion | None = None
        self.refused: RefusedEdit | None = None
        self._stamp: tuple[float, ...] = ()
        self._lock = threading.Lock()

    @property
    def _files(self) -> tuple[Path, Path]:
        return self.app.settings.flow_path, self.app.settings.prompts_path

    def _contents(self) -> tuple[bytes | None, bytes | None]:
        flow_path, prompts_path = self._files
        return _read(flow_path), _read(prompts_path)

    # --- start --------------------------------------------------------------------------

    def start(self) -> LiveVersion:
        """Serve the configured files, or the saved copy of the last good flow when they do
        not pass the checks; ProblemsFound when there is neither."""
        self._stamp = self.app.flow_stamp()
        contents = self._contents()
        try:
            flow, catalog = self._read_menu()
        except ProblemsFound as problems:
            self._refuse(content_version(*contents), problems.problems)
            log.error("the flow cannot be used; run `ivr check`:\n%s", problems)
            saved = self._saved()
            if saved is None:
                raise
            flow, catalog, live = saved
            self.app.use_menu(flow, catalog)
            self.live = live
            log.warning(
                "serving the last flow that passed the checks (version %s, saved %s) until "
                "%s is fixed",
                live.version,
                live.loaded_at.isoformat(timespec="seconds"),
                self._files[0],
            )
            return live
        return self._use(flow, catalog, contents)

    # --- changes ------------------------------------------------------------------------

    def watch(self, stop: threading.Event, seconds: float) -> None:
        """Check for saved changes every `seconds` until `stop`; nothing a file holds ends
        the watching."""
        while not stop.wait(seconds):
            try:
                self.check()
            except Exception:
                log.exception("the flow watcher failed on this change; it keeps watching")

    def check(self) -> None:
        """Load the files again if they were saved since the last look."""
        with self._lock:
            stamp = self.app.flow_stamp()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            contents = self._contents()
            version = content_version(*contents)
            if version is not None and self.refused and version == self.refused.version:
                return
            if self.live and self.live.saved_copy is None and version == self.live.version:
                return
            try:
                flow, catalog = self._read_menu()
            except ProblemsFound as problems:
                self._refuse(version, problems.problems)
                log.error(
                    "the changed flow was refused; the last good one keeps serving:\n%s", problems
                )
                return
            except Exception as error:
                flow_path, _ = self._files
                problem = Problem(
                    flow_path, None, "unreadable-file", f"the file could not be checked ({error})"
                )
                self._refuse(version, [problem])
                raise
            live = self._use(flow, catalog, contents)
            if self.metrics:
                self.metrics.flow_reloads.labels("accepted").inc()
            log.info("flow reloaded: %d nodes, version %s", live.nodes, live.version)

    def _read_menu(self) -> tuple[Flow, PromptCatalog]:
        """The configured flow and catalog once they pass the checks and the scenarios
        beside the flow; ProblemsFound otherwise."""
        flow, catalog = self.app.read_menu()
        _, failed = check_scenarios(self.app.settings, flow, catalog, self._files[0])
        if failed:
            raise ProblemsFound(failed)
        return flow, catalog

    def _use(
        self, flow: Flow, catalog: PromptCatalog, contents: tuple[bytes | None, bytes | None]
    ) -> LiveVersion:
        flow_path, prompts_path = self._files
        unchanged = contents == self._contents()
        version = content_version(*contents) if unchanged else None
        self.app.use_menu(flow, catalog)
        self.live = LiveVersion(
            version=version or "changing",
            flow_file=flow_path,
            prompts_file=prompts_path,
            loaded_at=datetime.now(tz=UTC),
            nodes=len(flow.nodes),
        )
        self.refused = None
        if self.metrics:
            self.metrics.flow_file_refused.set(0)
        if version is not None:
            self._save(version, contents)
        return self.live

    def _refuse(self, version: str | None, problems: list[Problem]) -> None:
        self.refused = RefusedEdit(version, datetime.now(tz=UTC), tuple(problems))
        if self.metrics:
            if self.live is not None:
                self.metrics.flow_reloads.labels("refused").inc()
            self.metrics.flow_file_refused.set(1)

    # --- the saved copy -----------------------------------------------------------------

    def _save(self, version: str, contents: tuple[bytes | None, bytes | None]) -> None:
        """Keep a copy of a flow that passed; a folder that cannot be written is logged."""
        flow, prompts = contents
        assert flow is not None and prompts is not None
        facts = {
            "version": version,
            "flow_file": str(self._files[0]),
            "prompts_file": str(self._files[1]),
            "saved_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        }
        try:
            if self._saved_facts().get("version") == version:
                return
            self.saved_dir.mkdir(parents=True, exist_ok=True)
            replace_file(self.saved_dir / SAVED_FLOW, flow)
            replace_file(self.saved_dir / SAVED_PROMPTS, prompts)
            replace_file(self.saved_dir / SAVED_FACTS, json.dumps(facts, indent=2))
        except OSError as error:
            log.warning(
                "cannot keep a copy of the good flow in %s (%s): a server started while the "
                "flow file is broken will not start",
                self.saved_dir,
                error.strerror or error,
            )

    def _saved_facts(self) -> dict[str, Any]:
        try:
            facts = json.loads((self.saved_dir / SAVED_FACTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return facts if isinstance(facts, dict) else {}

    def _saved(self) -> tuple[Flow, PromptCatalog, LiveVersion] | None:
        facts = self._saved_facts()
        flow_copy, prompts_copy = self.saved_dir / SAVED_FLOW, self.saved_dir / SAVED_PROMPTS
        version = content_version(_read(flow_copy), _read(prompts_copy))
        if not facts or version is None or facts.get("version") != version:
            log.error("no saved copy of a good flow in %s", self.saved_dir)
            return None
        try:
            flow, catalog = self.app.read_menu(flow_copy, prompts_copy)
        except ProblemsFound as problems:
            log.error("the saved copy of the last good flow does not pass either:\n%s", problems)
            return None
        try:
            saved_at = datetime.fromisoformat(str(facts.get("saved_at")))
        except ValueError:
            saved_at = datetime.now(tz=UTC)
        live = LiveVersion(
            version=version,
            flow_file=Path(str(facts.get("flow_file", flow_copy))),
            prompts_file=Path(str(facts.get("prompts_file", prompts_copy))),
            loaded_at=saved_at,
            nodes=len(flow.nodes),
            saved_copy=self.saved_dir,
        )
        return flow, catalog, live

    # --- for ivr status -----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        live, refused = self.live, self.refused
        return {
            "live": None
            if live is None
            else {
                "version": live.version,
                "flow_file": str(live.flow_file),
                "prompts_file": str(live.prompts_file),
                "loaded_at": live.loaded_at.isoformat(timespec="seconds"),
                "nodes": live.nodes,
                "saved_copy": str(live.saved_copy) if live.saved_copy else None,
            },
            "refused": None
            if refused is None
            else {
                "version": refused.version,
                "at": refused.at.isoformat(timespec="seconds"),
                "problems": [
                    {
                        "file": str(problem.file),
                        "line": problem.line,
                        "rule": problem.rule,
                        "node": problem.node,
                        "text": str(problem),
                    }
                    for problem in refused.problems
                ],
            },
        }
