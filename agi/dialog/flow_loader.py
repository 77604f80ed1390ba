"""Reading `ivr_flows.yaml` into a `Flow`, and every check that a whole flow must pass.

Each rule reports in plain words with file, line and node, and all problems are collected
before anything is raised, so an editor fixes the file in one go.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from agi.dialog.actions import SAYABLE, ActionSpec, ActionTable, Stage
from agi.dialog.channel import DTMF_KEYS
from agi.dialog.flow import (
    KNOWN_KEYS,
    NODE_NAME,
    NODE_TYPES,
    SAY_KINDS,
    TOP_LEVEL_KEYS,
    VARIABLE_NAME,
    ActionNode,
    ConfirmNode,
    Defaults,
    Flow,
    HangupNode,
    InputNode,
    Limits,
    MenuNode,
    Model,
    TransferNode,
    VoiceNode,
    field_names,
    node_targets,
)
from agi.dialog.prompts import PromptCatalog
from agi.located_yaml import HASH_KEY_LINE, Document, YamlSyntaxError, read_yaml_file
from agi.problems import Problem, ProblemsFound, closest, did_you_mean, explain, unreadable

FLOW_VERSION = "1"
M = TypeVar("M", bound=Model)
EMPTY_AFTER_COMMENT = re.compile(r":\s+#")


class _Report:
    def __init__(self, file: Path, document: Document) -> None:
        self.file = file
        self.document = document
        self.problems: list[Problem] = []
        self.suggested: set[tuple[Any, ...]] = set()
        """(place, setting) pairs an unknown key was already said to be a misspelling of."""

    def add(self, path: tuple[Any, ...], rule: str, message: str, line: int | None = None) -> None:
        node = str(path[1]) if len(path) > 1 and path[0] == "nodes" else None
        line = line if line is not None else self.document.line_of(path)
        self.problems.append(Problem(self.file, line, rule, message, node=node))

    def comment_hint(self, path: tuple[Any, ...]) -> str:
        """For an empty value: a hint when a # made the rest of its line a comment."""
        number = self.document.line_of(path)
        lines = self.document.text_lines
        here = lines[number - 1] if 0 < number <= len(lines) else ""
        below = lines[number] if number < len(lines) else ""
        if EMPTY_AFTER_COMMENT.search(here) or HASH_KEY_LINE.match(below):
            return ' (a # starts a comment, so # itself must be written in quotes: "#")'
        return ""


def load_flow(path: Path, catalog: PromptCatalog, actions: ActionTable) -> Flow:
    """Parse and check a flow file against the prompt catalog and the actions that will run
    it; raise ProblemsFound with every problem at once."""
    try:
        document = read_yaml_file(path)
    except FileNotFoundError:
        raise ProblemsFound(
            [Problem(path, 1, "missing-file", "the flow file does not exist")]
        ) from None
    except YamlSyntaxError as error:
        raise ProblemsFound([error.problem(path)]) from None
    except OSError as error:
        raise ProblemsFound([unreadable(path, "the flow file", error)]) from None
    report = _Report(path, document)
    for problem in document.problems:
        where = problem.place or _enclosing_node(document, problem.line)
        report.add(where, problem.rule, problem.message, line=problem.line)
    flow, complete = _build(document.data, actions, report)
    if flow is not None:
        _check(flow, catalog, report, complete=complete)
    if report.problems:
        raise ProblemsFound(report.problems)
    assert flow is not None
    return flow


def _enclosing_node(document: Document, line: int) -> tuple[Any, ...]:
    """The path of the node a line of the file belongs to, or () outside the nodes."""
    if not isinstance(document.data, dict):
        return ()
    sections = [(document.lines[(key,)], key) for key in document.data]
    above = [key for start, key in sections if start <= line]
    if not above or above[-1] != "nodes" or not isinstance(document.data["nodes"], dict):
        return ()
    names = [name for name in document.data["nodes"] if document.lines[("nodes", name)] <= line]
    return ("nodes", names[-1]) if names else ()


# --- structure ------------------------------------------------------------------------


def _build(data: Any, actions: ActionTable, report: _Report) -> tuple[Flow | None, bool]:
    """The flow, and whether every node in the file made it into the flow."""
    if not isinstance(data, dict):
        report.add(
            (),
            "flow-shape",
            "the file must start with  version:, start:, defaults: "
            "and nodes:  (see the shipped ivr_flows.yaml)",
        )
        return None, False
    _unknown_keys(data, TOP_LEVEL_KEYS, (), "at the top of the file", report)
    version = data.get("version")
    if "version" not in data:
        report.add((), "missing-key", f"the file needs  version: {FLOW_VERSION}  at the top level")
    elif version != FLOW_VERSION:
        report.add(
            ("version",),
            "wrong-value",
            f"'version' must be {FLOW_VERSION} (this IVR reads flow version {FLOW_VERSION})",
        )
    for key in ("start", "defaults", "nodes"):
        if key not in data and (key,) not in report.suggested:
            report.add((), "missing-key", f"the file needs '{key}:' at the top level")
    for key in ("defaults", "limits"):
        if isinstance(data.get(key), dict):
            _unknown_keys(data[key], KNOWN_KEYS[key], (key,), f"in '{key}'", report)
    defaults = None
    if "defaults" in data:
        defaults = _model(Defaults, data["defaults"] or {}, ("defaults",), "'defaults'", report)
    limits = _model(Limits, data.get("limits") or {}, ("limits",), "'limits'", report)
    nodes: dict[str, Any] = {}
    raw_nodes = data.get("nodes")
    if isinstance(raw_nodes, dict):
        for name, raw in raw_nodes.items():
            node = _node(name, raw, report)
            if node is not None:
                nodes[name] = node
    elif "nodes" in data:
        report.add(("nodes",), "wrong-value", "'nodes' must list the nodes by name")
    start = data.get("start")
    if "start" in data and not isinstance(start, str):
        report.add(
            ("start",),
            "wrong-value",
            "'start' must name the node a call begins with, for example  start: welcome"
            + (report.comment_hint(("start",)) if start is None else ""),
        )
    if not isinstance(start, str) or defaults is None or limits is None:
        return None, False
    if not isinstance(raw_nodes, dict):
        return None, False
    flow = Flow(
        file=report.file,
        start=start,
        defaults=defaults,
        limits=limits,
        nodes=nodes,
        actions=actions,
    )
    return flow, len(nodes) == len(raw_nodes)


def _node(name: str, raw: Any, report: _Report) -> Model | None:
    path = ("nodes", name)
    if not NODE_NAME.match(name):
        report.add(
            path,
            "node-name",
            f"node name '{name}' may use only small Latin letters, "
            "digits and _, starting with a letter",
        )
    if not isinstance(raw, dict):
        report.add(
            path, "wrong-value", f"node '{name}' must be a group of settings starting with  type:"
        )
        return None
    kind = raw.get("type")
    if kind is None:
        report.add(
            path, "missing-key", f"node '{name}' needs a 'type': one of {', '.join(NODE_TYPES)}"
        )
        return None
    if not isinstance(kind, str):
        report.add(
            (*path, "type"),
            "wrong-value",
            f"'type' must be one word: one of {', '.join(NODE_TYPES)}",
        )
        return None
    if kind not in NODE_TYPES:
        report.add(
            (*path, "type"),
            "unknown-node-type",
            f"'{kind}' is not a kind of node{did_you_mean(kind, NODE_TYPES)}; the kinds are "
            f"{', '.join(NODE_TYPES)}",
        )
        return None
    _unknown_keys(raw, KNOWN_KEYS[kind], path, f"in a {kind} node", report)
    known = {key: value for key, value in raw.items() if key in KNOWN_KEYS[kind]}
    if kind == "menu" and isinstance(raw.get("options"), dict):
        if not raw["options"]:
            report.add(
                (*path, "options"),
                "wrong-value",
                'a menu needs at least one option, such as  "1": next_node',
            )
        options = {}
        for key, option in raw["options"].items():
            if isinstance(option, dict):
                where = (*path, "options", key)
                _unknown_keys(option, KNOWN_KEYS["option"], where, "in a menu option", report)
                option = {k: v for k, v in option.items() if k in KNOWN_KEYS["option"]}
            options[key] = option
        known["options"] = options
    return _model(NODE_TYPES[kind], known, path, f"node '{name}'", report)


def _unknown_keys(
    raw: dict[str, Any], known: frozenset[str], path: tuple[Any, ...], where: str, report: _Report
) -> None:
    for key in raw:
        if key not in known:
            close = closest(key, known)
            if close:
                report.suggested.add((*path, close))
            report.add(
                (*path, key),
                "unknown-key",
                f"'{key}' is not a setting {where}{did_you_mean(key, known)}; the settings "
                f"here are {', '.join(sorted(known))}",
            )


_field_names = functools.cache(field_names)
"""`field_names` of a part of a flow, gathered once for each kind of part."""


@functools.cache
def _validator(cls: type[M]) -> TypeAdapter[M]:
    """pydantic's validator of a part of a flow, built when a file first needs it."""
    return TypeAdapter(cls)


def _model(cls: type[M], raw: Any, path: tuple[Any, ...], what: str, report: _Report) -> M | None:
    if isinstance(raw, dict):
        names = _field_names(cls)
        raw = {key: value for key, value in raw.items() if key in names}
    try:
        return _validator(cls).validate_python(raw)
    except ValidationError as error:
        for detail in error.errors():
            loc = tuple(detail["loc"])
            if detail["type"] == "missing" and (*path, *loc) in report.suggested:
                continue  # already reported as a misspelt setting, with the right name
            rule, message = _explain(detail, what)
            if detail.get("input", ...) is None:
                message += report.comment_hint((*path, *loc))
            report.add((*path, *loc), rule, message)
        return None


def _label(loc: tuple[Any, ...], what: str) -> str:
    """How to name the place `loc` (inside `what`) to a person."""
    if not loc:
        return what
    if loc[0] == "options" and len(loc) >= 2:
        option = f"menu option '{loc[1]}'"
        return option if len(loc) == 2 else f"'{loc[-1]}' of {option}"
    if loc[0] == "outcomes" and len(loc) >= 2:
        return f"outcome '{loc[1]}'"
    if len(loc) >= 2 and isinstance(loc[1], int):
        return f"item {loc[1] + 1} of '{loc[0]}'"
    return f"'{loc[-1]}'"


GROUP_EXAMPLES = {
    "options": 'each key and the node it leads to, for example  "1": ask_contract',
    "outcomes": "each outcome and the node it leads to, for example  found: ask_reading",
    "set": "variable: value  pairs, for example  {resource: electricity}",
}


def _explain(detail: Any, what: str) -> tuple[str, str]:
    loc = tuple(detail["loc"])
    label = _label(loc, what)
    kind = detail["type"]
    given = detail.get("input")
    if kind == "missing":
        return "missing-key", f"{_label(loc[:-1], what)} needs the setting '{loc[-1]}'"
    said_as = next(iter(given)) if isinstance(given, dict) and len(given) == 1 else None
    if kind == "value_error" and loc[:1] == ("say",) and said_as not in (None, *SAY_KINDS):
        return "unknown-key", (
            f"'{said_as}' is not a way to say a variable{did_you_mean(said_as, SAY_KINDS)}; "
            "write  {number: VARIABLE},  {digits: VARIABLE}  or  {prompt: VARIABLE}"
        )
    if given is not None and kind in ("model_type", "dataclass_type") and loc[:1] == ("options",):
        return "wrong-value", (
            f"{label} must name the node it leads to, or be  {{next: NODE, set: {{...}}}}"
        )
    if given is not None and kind in (
        "dict_type",
        "model_type",
        "model_attributes_type",
        "dataclass_type",
    ):
        example = GROUP_EXAMPLES.get(str(loc[-1]) if loc else "")
        if example:
            return "wrong-value", f"{label} must list {example}"
    return explain(detail, label)


# --- the flow as a whole --------------------------------------------------------------


def _check(flow: Flow, catalog: PromptCatalog, report: _Report, *, complete: bool) -> None:
    _check_references(flow, report, broken_nodes=not complete)
    for name, node in flow.nodes.items():
        path = ("nodes", name)
        _check_prompts(node, path, catalog, report)
        _check_keys(node, path, report)
        if isinstance(node, InputNode) and node.min_digits > node.max_digits:
            report.add(
                (*path, "min_digits"),
                "wrong-value",
                f"'min_digits' ({node.min_digits}) is more than 'max_digits' "
                f"({node.max_digits}): no number could ever be accepted; make 'min_digits' "
                "the fewest digits a caller may type and 'max_digits' the most",
            )
        if isinstance(node, ActionNode):
            _check_action(node, path, flow, catalog, report)
    if complete:
        _check_variables(flow, report)
        _check_voice(flow, report)
        _check_order(flow, report)
    if (
        flow.limits.then is not None
        and flow.limits.then in flow.nodes
        and not isinstance(flow.nodes[flow.limits.then], TransferNode | HangupNode)
    ):
        report.add(
            ("limits", "then"),
            "wrong-value",
            "'limits: then' must name a transfer or hangup node: the call is over",
        )


def _check_references(flow: Flow, report: _Report, *, broken_nodes: bool) -> None:
    roots = {("start",): flow.start, ("defaults", "on_failure"): flow.defaults.on_failure}
    if flow.defaults.on_unavailable:
        roots[("defaults", "on_unavailable")] = flow.defaults.on_unavailable
    if flow.limits.then:
        roots[("limits", "then")] = flow.limits.then
    for path, target in roots.items():
        _check_target(flow, path, target, report, broken_nodes)
    for name, node in flow.nodes.items():
        for setting, target in node_targets(node).items():
            _check_target(flow, ("nodes", name, *setting), target, report, broken_nodes)
    if broken_nodes:
        return

    # A misspelt target already reported with "did you mean" counts as leading to that node,
    # so one typo does not also make the rest of the menu "unreachable".
    def resolve(target: str) -> str | None:
        return target if target in flow.nodes else closest(target, flow.nodes)

    seen = set()
    queue = deque(roots.values())
    while queue:
        name = resolve(queue.popleft())
        if name is None or name in seen:
            continue
        seen.add(name)
        queue.extend(node_targets(flow.nodes[name]).values())
    for name in flow.nodes:
        if name not in seen:
            report.add(
                ("nodes", name),
                "unreachable-node",
                f"no caller can ever reach node '{name}': no other node leads to it. "
                "Lead to it from a menu option or a 'next', or delete it",
            )


def _check_target(
    flow: Flow, path: tuple[Any, ...], target: str, report: _Report, broken_nodes: bool
) -> None:
    if target in flow.nodes:
        return
    if broken_nodes and target in (report.document.data.get("nodes") or {}):
        return
    setting = _label(path[2:], "") if path[0] == "nodes" else "'" + ": ".join(path) + "'"
    report.add(
        path,
        "unknown-target",
        f"{setting} leads to '{target}', but there is no node by that name"
        f"{did_you_mean(target, flow.nodes)}",
    )


def said_prompts(node: Model) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every prompt id a node may say, with the place of each in the node."""
    for setting, index, item in _say_items(node):
        if item.kind == "prompt":
            yield (setting, index), item.ref
    for setting in ("no_input", "invalid", "not_understood"):
        for index, prompt in enumerate(getattr(node, setting, [])):
            yield (setting, index), prompt


def says_prompts_of(flow: Flow, spec: ActionSpec) -> bool:
    """Whether the flow says any prompt the action gives (`{prompt: zone}`): only then must
    the catalog hold every prompt it may give (a flow that says the window's days as
    numbers needs no text for them)."""
    given = {name for name, kind in spec.sets.items() if kind == "prompt"}
    return any(
        item.kind == "prompt_of" and item.ref in given
        for node in flow.nodes.values()
        for _, _, item in _say_items(node)
    )


def _say_items(node: Model) -> Iterator[tuple[str, int, Any]]:
    """Everything a node may say: its `say`, and its `voice_say` when it has one."""
    for setting in ("say", "voice_say"):
        for index, item in enumerate(getattr(node, setting, None) or []):
            yield setting, index, item


def _check_voice(flow: Flow, report: _Report) -> None:
    """A `voice` node is pointless, and its callers stuck, when no question listens."""
    listening = any(getattr(node, "voice_say", None) for node in flow.nodes.values())
    if listening:
        return
    for name, node in flow.nodes.items():
        if isinstance(node, VoiceNode):
            report.add(
                ("nodes", name),
                "voice-never-listens",
                f"node '{name}' switches the call to answers by voice, but no menu, input or "
                "confirm node has 'voice_say', so nothing would listen: add 'voice_say' to "
                "the questions a caller may answer by voice",
            )


def _check_prompts(
    node: Model, path: tuple[Any, ...], catalog: PromptCatalog, report: _Report
) -> None:
    for setting, prompt in said_prompts(node):
        if prompt not in catalog:
            report.add(
                (*path, *setting),
                "missing-prompt",
                f"prompt '{prompt}' is not in the prompt catalog {catalog.path}"
                f"{did_you_mean(prompt, catalog.texts)}; add its text there, or fix the id",
            )


def _check_keys(node: Model, path: tuple[Any, ...], report: _Report) -> None:
    keys: dict[tuple[Any, ...], str] = {}
    if isinstance(node, MenuNode):
        keys = {("options", key): key for key in node.options}
    if isinstance(node, ConfirmNode):
        keys = {("confirm_key",): node.confirm_key, ("reenter_key",): node.reenter_key}
        if node.confirm_key == node.reenter_key:
            report.add(
                (*path, "reenter_key"),
                "duplicate-key",
                "'confirm_key' and 'reenter_key' must be different keys",
            )
    for setting, key in keys.items():
        if key not in DTMF_KEYS:
            report.add(
                (*path, *setting),
                "bad-digit-key",
                f"'{key}' is not a phone key; a key is one of 0-9, * or #, written in "
                'quotes ("1", "*")',
            )


def _check_action(
    node: ActionNode,
    path: tuple[Any, ...],
    flow: Flow,
    catalog: PromptCatalog,
    report: _Report,
) -> None:
    spec = flow.actions.get(node.action)
    if spec is None:
        report.add(
            (*path, "action"),
            "unknown-action",
            f"there is no action '{node.action}'{did_you_mean(node.action, flow.actions)}; "
            f"the actions are {', '.join(flow.actions)}",
        )
        return
    for outcome in sorted(set(node.outcomes) - spec.outcomes):
        report.add(
            (*path, "outcomes", outcome),
            "unknown-outcome",
            f"action '{node.action}' never answers '{outcome}'"
            f"{did_you_mean(outcome, spec.outcomes)}; its outcomes are "
            f"{', '.join(sorted(spec.outcomes))}",
        )
    missing = sorted(spec.outcomes - set(node.outcomes))
    if missing:
        report.add(
            (*path, "outcomes"),
            "missing-outcome",
            f"say where to go when action '{node.action}' answers {', '.join(missing)}",
        )
    for prompt in sorted(spec.prompts - set(catalog.texts) if says_prompts_of(flow, spec) else ()):
        report.add(
            (*path, "action"),
            "missing-prompt",
            f"action '{node.action}' may say prompt '{prompt}', which is not in the "
            f"prompt catalog {catalog.path}; add its text there",
        )


def _check_variables(flow: Flow, report: _Report) -> None:
    answered: dict[str, set[str]] = {}
    """What the caller's answers hold, by variable: typed digits, or a word a menu sets."""
    given: dict[str, set[str]] = {}
    """What actions give to say, by variable, and which actions give it."""
    kinds: dict[str, set[str]] = {}
    choices: dict[str, frozenset[str]] = {}
    for spec in flow.actions.values():
        choices.update(spec.choices)
    for name, node in flow.nodes.items():
        if isinstance(node, InputNode):
            answered.setdefault(node.into, set()).add(name)
            kinds.setdefault(node.into, set()).add("digits")
        if isinstance(node, MenuNode):
            for key, option in node.options.items():
                for variable, value in option.set.items():
                    answered.setdefault(variable, set()).add(name)
                    kinds.setdefault(variable, set()).add("word")
                    _check_choice(
                        ("nodes", name, "options", key, "set", variable),
                        variable,
                        value,
                        choices,
                        report,
                    )
        if isinstance(node, ActionNode) and node.action in flow.actions:
            for variable, kind in flow.actions[node.action].sets.items():
                given.setdefault(variable, set()).add(node.action)
                kinds.setdefault(variable, set()).add(kind)
    for name, node in flow.nodes.items():
        path = ("nodes", name)
        if isinstance(node, InputNode):
            if not VARIABLE_NAME.match(node.into):
                report.add(
                    (*path, "into"),
                    "wrong-value",
                    f"variable name '{node.into}' may use only small Latin letters, digits and _",
                )
            elif node.into in given:
                report.add(
                    (*path, "into"),
                    "variable-clash",
                    f"'{node.into}' is already the name of what action "
                    f"'{sorted(given[node.into])[0]}' gives to say, so {{number: {node.into}}} "
                    "could mean either; keep the caller's answer under another name",
                )
        for setting, index, item in _say_items(node):
            if item.kind == "prompt":
                continue
            if item.ref not in kinds:
                report.add(
                    (*path, setting, index),
                    "unknown-variable",
                    f"nothing sets the variable '{item.ref}'{did_you_mean(item.ref, kinds)}"
                    "; variables come from an input's 'into', a menu option's 'set' or "
                    "an action",
                )
            elif not kinds[item.ref] & SAYABLE[item.kind]:
                report.add(
                    (*path, setting, index),
                    "wrong-variable-kind",
                    f"'{item.ref}' holds {_kinds(kinds[item.ref])}, which cannot be said "
                    f"as {_WAYS[item.kind]}; {_FIX[item.kind]}",
                )
        if isinstance(node, ActionNode) and node.action in flow.actions:
            for variable in sorted(flow.actions[node.action].reads - set(answered)):
                report.add(
                    (*path, "action"),
                    "unknown-variable",
                    f"action '{node.action}' needs the variable '{variable}', which no "
                    "input or menu option sets",
                )


_KIND_WORDS = {
    "number": "a number",
    "digits": "typed digits",
    "prompt": "a prompt id",
    "word": "a word set by a menu",
}
_WAYS = {"number": "{number: ...}", "digits": "{digits: ...}", "prompt_of": "{prompt: ...}"}
_FIX = {
    "number": "use {prompt: ...} for a name such as a zone or a reason",
    "digits": "use {prompt: ...} for a name such as a zone or a reason",
    "prompt_of": "use {number: ...} or {digits: ...} for numbers",
}


def _kinds(kinds: set[str]) -> str:
    return " or ".join(_KIND_WORDS[kind] for kind in sorted(kinds))


def _check_choice(
    path: tuple[Any, ...],
    variable: str,
    value: str,
    choices: dict[str, frozenset[str]],
    report: _Report,
) -> None:
    allowed = choices.get(variable)
    if allowed is not None and value not in allowed:
        report.add(
            path,
            "wrong-value",
            f"'{value}' is not a {variable}{did_you_mean(value, allowed)}; it is one of "
            f"{', '.join(sorted(allowed))}",
        )


# --- the order of actions ---------------------------------------------------------------


def _check_order(flow: Flow, report: _Report) -> None:
    """Every action runs only after what it needs, on every way a caller can get to it.

    The stages a call has surely reached on entering each node are the ones reached on
    every way in (a must-analysis over the flow's graph). The call starts with none, and
    so do the nodes the engine may jump to from anywhere: `defaults: on_failure`,
    `defaults: on_unavailable` and `limits: then`.
    """
    everything = frozenset(
        stage
        for spec in flow.actions.values()
        for stage in spec.needs | spec.undoes | frozenset().union(*spec.reaches.values())
    )
    entry: dict[str, frozenset[Stage]] = {}
    roots = [flow.start, flow.defaults.on_failure, flow.defaults.on_unavailable, flow.limits.then]
    pending: deque[tuple[str | None, frozenset[Stage]]] = deque(
        (root, frozenset()) for root in roots
    )
    while pending:
        name, reached = pending.popleft()
        if name is None or name not in flow.nodes:
            continue
        known = entry.get(name, everything)
        narrowed = known & reached
        if name in entry and narrowed == known:
            continue
        entry[name] = narrowed
        for setting, target in node_targets(flow.nodes[name]).items():
            pending.append((target, _after(flow, flow.nodes[name], setting, narrowed)))
    for name, node in flow.nodes.items():
        if not isinstance(node, ActionNode) or name not in entry:
            continue
        spec = flow.actions.get(node.action)
        if spec is None:
            continue
        for stage in sorted(spec.needs - entry[name], key=lambda stage: stage.name):
            report.add(
                ("nodes", name, "action"),
                "action-order",
                f"action '{node.action}' needs {stage.how} first, but a caller can reach "
                f"node '{name}' another way; lead to '{name}' only from there, or from nodes "
                "that come after it",
            )


def _after(flow: Flow, node: Model, setting: tuple[str, ...], reached: frozenset[Stage]):
    """The stages reached after leaving `node` by `setting` (an action's outcome)."""
    if not isinstance(node, ActionNode) or setting[0] != "outcomes":
        return reached
    spec = flow.actions.get(node.action)
    if spec is None:
        return reached
    return (reached - spec.undoes) | spec.reaches.get(setting[1], frozenset())
