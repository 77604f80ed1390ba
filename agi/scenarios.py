"""Scenarios: the calls that must keep working, written by the staff who edit the flow.

They live beside the flow, in `ivr_scenarios.yaml`. Each is a call: what the caller hears
and presses (or says), step by step, on a given day from a given number, and how the call
must end, with the readings it must store. `ivr check` runs every scenario against a
scratch database with the demo contracts, and a running server refuses a flow edit that
breaks one, as it refuses one that fails the checks. A failing scenario is a `Problem`:
which scenario, at which step, what was expected and what happened.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agi.application import Application, CallOutcome
from agi.dialog.flow import Flow
from agi.dialog.prompts import PromptCatalog
from agi.dialog.simulator import KeypadChannel, ScriptedRecogniser, parse_script
from agi.dialog.utterance import Prompt, Utterance
from agi.located_yaml import Document, YamlSyntaxError, read_yaml_file
from agi.problems import Problem, did_you_mean, unreadable
from agi.readings import billing
from agi.readings.rules import parse_accept_days, zone_steps
from agi.records.record import END_OF, End
from agi.settings import Settings, setting_default
from agi.speech.recognition import Speech, speech_off
from agi.storage.database import connect, upgrade
from agi.storage.repository import Repository

SCENARIOS_FILE = "ivr_scenarios.yaml"
FAILED = "scenario-failed"
WRONG = "scenario-file"
SCENARIO_KEYS = ("date", "caller", "steps", "ends", "stored", "speech", "accept_days")
RULES = (
    "high_consumption_multiple",
    "high_consumption_floor",
    "guess_window_minutes",
    "max_unknown_contracts_per_caller",
    "max_unknown_contracts_without_caller_id",
    "max_refused_readings_per_contract",
)
"""The settings of the readings rules a scenario runs with their defaults: a scenario tests
the menu, and means the same on a line whose limits are set otherwise."""
SEED_WINDOW = "18-25"
"""The days a scenario's date is judged against, unless it says `accept_days`: the seed's,
whatever the line is configured with, so that a scenario means the same on every line."""
STEP_KEYS = ("hears", "keys", "says")
STORED_KEYS = ("contract", "resource", "zone", "value")
DAY = re.compile(r"^(\d{1,2})$")
GROUP = re.compile(r'"[^"]*"|[^\s"]+')
ENDS = [end.value for end in End if end not in (End.WAITING, End.ANSWERED)]
HEADER = """\
# The calls that must keep working. `ivr check` runs each one against a scratch database
# with the demo contracts, and the running line refuses a change of the flow that breaks
# one. The README ("Writing a scenario") explains every key.
version: 1
scenarios:
"""


def scenarios_path(flow_path: Path) -> Path:
    """The scenarios of a flow: `ivr_scenarios.yaml` in the flow file's folder."""
    return flow_path.with_name(SCENARIOS_FILE)


@dataclass(frozen=True)
class Step:
    keys: str | None
    """What the caller does after hearing `hears`: keys, waits and "quoted words", in the
    simulator's notation; None for a last step that only hears."""
    hears: tuple[str, ...] = ()
    """Prompt ids the IVR says before those keys (after the previous step's)."""
    line: int = 0


@dataclass(frozen=True)
class Reading:
    contract: str
    zone: str
    value: int
    resource: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    line: int
    day: date
    caller: str | None
    steps: tuple[Step, ...]
    ends: End
    stored: tuple[Reading, ...] | None = None
    """None: not checked; empty: nothing may be stored."""
    speech: bool = True
    accept_days: str = SEED_WINDOW


# --- reading the file ---------------------------------------------------------------------


def read_scenarios(path: Path, catalog: PromptCatalog) -> tuple[list[Scenario], list[Problem]]:
    """The scenarios of `path` (none when there is no such file), and what is wrong in it."""
    if not path.exists():
        return [], []
    try:
        document = read_yaml_file(path)
    except YamlSyntaxError as error:
        return [], [error.problem(path)]
    except OSError as error:
        return [], [unreadable(path, "the scenarios file", error)]
    reader = _Reader(path, document, catalog)
    return reader.scenarios(), reader.problems + list(document.problems)


@dataclass
class _Reader:
    path: Path
    document: Document
    catalog: PromptCatalog
    problems: list[Problem] = field(default_factory=list)

    def wrong(self, place: tuple, message: str) -> None:
        line = self.document.line_of(place)
        self.problems.append(Problem(self.path, line, WRONG, message, place=place))

    def scenarios(self) -> list[Scenario]:
        data = self.document.data
        if data is None:
            return []
        if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
            self.wrong((), "the scenarios file holds `scenarios:`, one named call under it")
            return []
        found = []
        for name, body in data["scenarios"].items():
            scenario = self.scenario(str(name), body)
            if scenario is not None:
                found.append(scenario)
        return found

    def scenario(self, name: str, body: object) -> Scenario | None:
        place: tuple = ("scenarios", name)
        if not isinstance(body, dict):
            self.wrong(place, f"scenario '{name}' needs date, steps and ends")
            return None
        before = len(self.problems)
        for key in body:
            if key not in SCENARIO_KEYS:
                self.wrong(
                    (*place, key),
                    f"scenario '{name}': '{key}' is not a scenario key"
                    f"{did_you_mean(key, SCENARIO_KEYS)}; it may have {', '.join(SCENARIO_KEYS)}",
                )
        day = self.day(place, name, body.get("date"))
        ends = str(body.get("ends", ""))
        if ends not in ENDS:
            self.wrong(
                (*place, "ends"),
                f"scenario '{name}': ends must be one of {', '.join(ENDS)}, not '{ends}'",
            )
        steps = self.steps(place, name, body.get("steps"))
        stored = None if "stored" not in body else self.stored(place, name, body["stored"])
        accept_days = str(body.get("accept_days", SEED_WINDOW))
        try:
            parse_accept_days(accept_days)
        except ValueError as error:
            self.wrong((*place, "accept_days"), f"scenario '{name}': {error}")
        speech = str(body.get("speech", "on"))
        if speech not in ("on", "off"):
            self.wrong((*place, "speech"), f"scenario '{name}': speech is on or off")
        if len(self.problems) > before or day is None:
            return None
        return Scenario(
            name=name,
            line=self.document.line_of(place),
            day=day,
            caller=str(body["caller"]) if body.get("caller") else None,
            steps=tuple(steps),
            ends=End(ends),
            stored=stored,
            speech=speech == "on",
            accept_days=accept_days,
        )

    def day(self, place: tuple, name: str, value: object) -> date | None:
        text = str(value or "")
        day = DAY.match(text)
        try:
            if day:  # a day of January: every day of the month exists in it
                return date(date.today().year, 1, int(day[1]))
            return date.fromisoformat(text)
        except ValueError:
            self.wrong(
                (*place, "date"),
                f"scenario '{name}': date is a day of the month (20) or a date (2026-11-20), "
                f"not '{text}'",
            )
            return None

    def steps(self, place: tuple, name: str, value: object) -> list[Step]:
        if not isinstance(value, list) or not value:
            self.wrong((*place, "steps"), f"scenario '{name}': steps is a list of hears/keys")
            return []
        steps = []
        for number, item in enumerate(value):
            where = (*place, "steps", number)
            if not isinstance(item, dict):
                self.wrong(where, f"scenario '{name}', step {number + 1}: write hears and keys")
                continue
            for key in item:
                if key not in STEP_KEYS:
                    self.wrong(
                        (*where, key),
                        f"scenario '{name}', step {number + 1}: '{key}' is not a step key"
                        f"{did_you_mean(key, STEP_KEYS)}; a step has hears, keys or says",
                    )
            hears = item.get("hears", [])
            hears = [hears] if isinstance(hears, str) else hears
            for prompt in hears:
                if str(prompt) not in self.catalog:
                    self.wrong(
                        (*where, "hears"),
                        f"scenario '{name}', step {number + 1}: there is no prompt '{prompt}'"
                        f"{did_you_mean(prompt, self.catalog.texts)}",
                    )
            keys = item.get("keys")
            if "says" in item:
                keys = f'{keys or ""} "{item["says"]}"'.strip()
            if keys is not None:
                try:
                    parse_script(str(keys))
                except ValueError as error:
                    self.wrong((*where, "keys"), f"scenario '{name}', step {number + 1}: {error}")
            steps.append(
                Step(
                    None if keys is None else str(keys),
                    tuple(str(prompt) for prompt in hears),
                    self.document.line_of(where),
                )
            )
        if any(step.keys is None for step in steps[:-1]):
            self.wrong(
                (*place, "steps"),
                f"scenario '{name}': only the last step may have no keys",
            )
        return steps

    def stored(self, place: tuple, name: str, value: object) -> tuple[Reading, ...]:
        if value in (None, "none", "nothing"):
            return ()
        if not isinstance(value, list):
            self.wrong((*place, "stored"), f"scenario '{name}': stored is a list of readings")
            return ()
        readings = []
        for number, item in enumerate(value):
            where = (*place, "stored", number)
            if not isinstance(item, dict) or not {"contract", "zone", "value"} <= set(item):
                self.wrong(where, f"scenario '{name}': a stored reading has contract, zone, value")
                continue
            unknown = set(item) - set(STORED_KEYS)
            if unknown or not str(item["value"]).isdigit():
                self.wrong(where, f"scenario '{name}': a stored reading is contract, zone, value")
                continue
            readings.append(
                Reading(
                    str(item["contract"]),
                    str(item["zone"]),
                    int(item["value"]),
                    str(item["resource"]) if "resource" in item else None,
                )
            )
        return tuple(readings)


# --- running them -------------------------------------------------------------------------


class StepChannel(KeypadChannel):
    """A keypad call fed one group of keys at a time from `next_keys` (None: the caller
    hangs up): it notes the groups taken and the prompts said before each (`heard[n]`
    before group n; the last, after the last group)."""

    def __init__(
        self,
        call_id: str,
        caller: str | None,
        next_keys: Callable[[], str | None],
        **options: Any,
    ) -> None:
        self.next_keys = next_keys
        self.groups: list[str] = []
        self.heard: list[list[str]] = [[]]
        super().__init__(call_id, caller, more_keys=self._next_group, **options)

    @property
    def taken(self) -> int:
        return len(self.groups)

    def _next_group(self) -> str | None:
        keys = self.next_keys()
        if keys is not None:
            self.groups.append(keys)
            self.heard.append([])
        return keys

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        super().play(utterances, barge_in=barge_in)
        self.heard[-1] += [u.id for u in utterances if isinstance(u, Prompt)]


def key_groups(script: str) -> list[str]:
    """A script's groups, as the caller types them at once: `*2 "один ноль" 5#` is `*2`,
    `"один ноль"`, `5#`."""
    return GROUP.findall(script)


@dataclass(frozen=True)
class Run:
    """What happened in one scenario's call."""

    channel: StepChannel
    end: End
    where: str | None
    stored: tuple[Reading, ...]


class Scratch:
    """A scratch SQLite database with the demo contracts, copied afresh for every call."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ivr-scenarios-"))
        self.template = self.folder / "template.db"
        engine = connect(f"sqlite:///{self.template}")
        upgrade(engine)
        billing.seed_demo(Repository(engine), at=datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
        engine.dispose()
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        target = self.folder / f"call-{self.count}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def run_scenario(
    scenario: Scenario, settings: Settings, flow: Flow, catalog: PromptCatalog, scratch: Scratch
) -> Run:
    app = Application(
        _settings(
            settings,
            database_url=scratch.fresh(),
            call_records=False,
            accept_days=scenario.accept_days,
            **{name: setting_default(name) for name in RULES},
        ),
        speech=Speech(ScriptedRecogniser(), "scenario")
        if scenario.speech
        else speech_off("scenario"),
    )
    app.use_menu(flow, catalog)
    moment = datetime.combine(scenario.day, time(12, 0), tzinfo=ZoneInfo(settings.timezone))
    steps = iter([step.keys for step in scenario.steps])
    channel = StepChannel(f"scenario-{scenario.name}", scenario.caller, lambda: next(steps, None))
    try:
        outcome = app.answer(channel, now=lambda: moment)
        stored = tuple(
            Reading(row.contract, row.zone, row.value, row.resource)
            for row in app.repository.export(app.settings.window.period(moment))
        )
    finally:
        app.repository.engine.dispose()
    end = End.ACCEPTED if outcome.accepted else END_OF[outcome.report.ending]
    return Run(channel, end, outcome.report.path[-1] if outcome.report.path else None, stored)


def _settings(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update=update)


def failures(scenario: Scenario, run: Run, path: Path) -> list[Problem]:
    """How the call of `run` differs from its scenario: the first step that went otherwise,
    then the ending and the readings."""
    heard = run.channel.heard
    for number, step in enumerate(scenario.steps):
        if not step.hears:
            continue
        said = heard[number] if number < len(heard) else None
        if said is None:
            happened = f"the call had ended before ({run.end.value} at '{run.where}')"
        else:
            missing = [prompt for prompt in step.hears if prompt not in said]
            if not missing:
                continue
            happened = "it said " + (", ".join(said) if said else "nothing")
        expected = ", ".join(step.hears)
        return [
            _failed(
                path,
                step.line,
                f"scenario '{scenario.name}', step {number + 1}: expected the IVR to say "
                f"{expected}{_before(step)}; {happened}",
            )
        ]
    problems = []
    if run.end is not scenario.ends:
        step = min(run.channel.taken, len(scenario.steps))
        problems.append(
            _failed(
                path,
                scenario.line,
                f"scenario '{scenario.name}', after step {step}: expected the call to end "
                f"{scenario.ends.value}; it ended {run.end.value} at '{run.where}'",
            )
        )
    if scenario.stored is not None:
        expected = sorted(_shown(r) for r in scenario.stored)
        got = sorted(
            _shown(r if any(e.resource for e in scenario.stored) else _bare(r)) for r in run.stored
        )
        if expected != got:
            problems.append(
                _failed(
                    path,
                    scenario.line,
                    f"scenario '{scenario.name}': expected stored "
                    f"{'; '.join(expected) or 'nothing'}; stored {'; '.join(got) or 'nothing'}",
                )
            )
    return problems


def _bare(reading: Reading) -> Reading:
    return Reading(reading.contract, reading.zone, reading.value)


def _shown(reading: Reading) -> str:
    resource = f" {reading.resource}" if reading.resource else ""
    return f"{reading.contract}{resource} {reading.zone} {reading.value}"


def _before(step: Step) -> str:
    return f" before the keys {step.keys}" if step.keys else " at the end"


def _failed(path: Path, line: int, message: str) -> Problem:
    return Problem(path, line, FAILED, message)


def check_scenarios(
    settings: Settings, flow: Flow, catalog: PromptCatalog, flow_path: Path
) -> tuple[int, list[Problem]]:
    """Run every scenario beside `flow_path` against this flow and catalog: how many ran,
    and the problems of the file and of each scenario that fails."""
    path = scenarios_path(flow_path)
    scenarios, problems = read_scenarios(path, catalog)
    if not scenarios:
        return 0, problems
    scratch = Scratch()
    try:
        with _quiet():
            for scenario in scenarios:
                problems += failures(
                    scenario, run_scenario(scenario, settings, flow, catalog, scratch), path
                )
    finally:
        scratch.close()
    return len(scenarios), problems


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep what the scenarios' calls log below ERROR (a lockout they provoke on purpose)
    out of the logs; other threads (a server's calls) log as before."""
    ident = threading.get_ident()

    def shown(record: logging.LogRecord) -> bool:
        return record.thread != ident or record.levelno >= logging.ERROR

    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(shown)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(shown)


# --- saving a simulated call --------------------------------------------------------------


def scenario_of(
    channel: StepChannel,
    *,
    day: date,
    caller: str | None,
    end: End,
    stored: Sequence[Reading],
) -> dict[str, Any]:
    """A call just simulated, as a scenario's YAML: what it heard before each group of keys,
    how it ended and what it stored."""
    steps: list[dict[str, Any]] = []
    for number, keys in enumerate(channel.groups):
        step: dict[str, Any] = (
            {"hears": _unique(channel.heard[number])} if channel.heard[number] else {}
        )
        step["keys"] = keys
        steps.append(step)
    if channel.heard[-1]:
        steps.append({"hears": _unique(channel.heard[-1])})
    body: dict[str, Any] = {"date": day.isoformat()}
    if caller:
        body["caller"] = caller
    body["steps"] = steps
    body["ends"] = end.value
    body["stored"] = [
        {"contract": r.contract, "resource": r.resource, "zone": r.zone, "value": r.value}
        for r in stored
    ]
    return body


def scenario_of_call(
    channel: StepChannel,
    outcome: CallOutcome,
    *,
    day: date,
    caller: str | None,
    accept_days: str = SEED_WINDOW,
) -> dict[str, Any]:
    """A call just made on a line whose window is `accept_days`, as a scenario's YAML, with
    the readings it stored (`scenario_of`): a window other than the leaflet's is written
    down, so that the scenario runs as the call did."""
    actions = outcome.actions
    stored = []
    if outcome.accepted and actions.contract is not None:
        contract = actions.contract
        stored = [
            Reading(contract.number, step.register.zone.value, actions.kept[step.key],
                    contract.resource.value)
            for step in zone_steps(contract)
        ]  # fmt: skip
    end = End.ACCEPTED if outcome.accepted else END_OF[outcome.report.ending]
    body = scenario_of(channel, day=day, caller=caller, end=end, stored=stored)
    if accept_days != SEED_WINDOW:
        body = {**body, "accept_days": accept_days}
    return body


def _unique(prompts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(prompts))


class ScenarioExists(ValueError):
    pass


def append_scenario(path: Path, name: str, body: dict[str, Any]) -> None:
    """Add a scenario at the end of the file (made with its header when there is none);
    ScenarioExists when the name is taken, ValueError when `scenarios:` is not the file's
    last top-level key (then an append would not land in it)."""
    import yaml

    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    document = read_yaml_file(path) if path.exists() else None
    if document is not None:
        data = document.data if isinstance(document.data, dict) else {}
        if name in (data.get("scenarios") or {}):
            raise ScenarioExists(f"{path} already has a scenario named '{name}'")
        if not data or list(data)[-1] != "scenarios":
            raise ValueError(f"{path}: `scenarios:` must be the last key of the file")
    dumped = yaml.safe_dump(
        {name: body}, allow_unicode=True, sort_keys=False, width=100, default_flow_style=None
    )
    indented = "".join(f"  {line}" if line.strip() else line for line in dumped.splitlines(True))
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(f"{text}\n{indented}", encoding="utf-8")
