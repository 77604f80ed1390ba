"""Reading `ivr_flows.yaml` into a `Flow`, and every check that a whole flow must pass.

Each rule reports in plain words with file, line and node, and all problems are collected
before anything is raised, so an editor fixes the file in one go.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from agi.actions import ACTIONS
from agi.channel import DTMF_KEYS
from agi.flow import (
    KNOWN_KEYS,
    NODE_NAME,
    NODE_TYPES,
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
    node_targets,
)
from agi.located_yaml import Document, YamlSyntaxError, read_yaml_file
from agi.problems import Problem, ProblemsFound
from agi.prompts import PromptCatalog

FLOW_VERSION = "1"
M = TypeVar("M", bound=Model)


class _Report:
    def __init__(self, file: Path, document: Document) -> None:
        self.file = file
        self.document = document
        self.problems: list[Problem] = []

    def add(self, path: tuple[Any, ...], rule: str, message: str) -> None:
        node = path[1] if len(path) > 1 and path[0] == "nodes" else None
        self.problems.append(
            Problem(self.file, self.document.line_of(path), rule, message, node=node)
        )


def load_flow(path: Path, catalog: PromptCatalog) -> Flow:
    """Parse and check a flow file; raise ProblemsFound with every problem at once."""
    try:
        document = read_yaml_file(path)
    except FileNotFoundError:
        raise ProblemsFound(
            [Problem(path, 1, "missing-file", "the flow file does not exist")]
        ) from None
    except YamlSyntaxError as error:
        raise ProblemsFound([Problem(path, error.line, "yaml-syntax", error.message)]) from None
    report = _Report(path, document)
    for problem in document.problems:
        rule = "duplicate-key" if "written twice" in problem.message else "yaml-structure"
        report.add(problem.path, rule, problem.message)
    flow, complete = _build(document.data, report)
    if flow is not None:
        _check(flow, catalog, report, complete=complete)
    if report.problems:
        raise ProblemsFound(report.problems)
    assert flow is not None
    return flow


# --- structure ------------------------------------------------------------------------


def _build(data: Any, report: _Report) -> tuple[Flow | None, bool]:
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
    if version != FLOW_VERSION:
        report.add(
            ("version",),
            "wrong-value",
            f"'version' must be {FLOW_VERSION} (this IVR reads flow version {FLOW_VERSION})",
        )
    for key in ("start", "defaults", "nodes"):
        if key not in data:
            report.add((), "missing-key", f"the file needs '{key}:' at the top level")
    defaults = _model(Defaults, data.get("defaults"), ("defaults",), "defaults", report)
    limits = _model(Limits, data.get("limits") or {}, ("limits",), "limits", report)
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
    if not isinstance(start, str) or defaults is None or limits is None:
        return None, False
    if not isinstance(raw_nodes, dict):
        return None, False
    flow = Flow(file=report.file, start=start, defaults=defaults, limits=limits, nodes=nodes)
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
    if kind not in NODE_TYPES:
        report.add(
            (*path, "type"),
            "unknown-node-type",
            f"'{kind}' is not a kind of node{_suggest(kind, NODE_TYPES)}; the kinds are "
            f"{', '.join(NODE_TYPES)}",
        )
        return None
    _unknown_keys(raw, KNOWN_KEYS[kind], path, f"in a {kind} node", report)
    if kind == "menu" and isinstance(raw.get("options"), dict):
        for key, option in raw["options"].items():
            if isinstance(option, dict):
                _unknown_keys(
                    option,
                    KNOWN_KEYS["option"],
                    (*path, "options", key),
                    "in a menu option",
                    report,
                )
    known = {key: value for key, value in raw.items() if key in KNOWN_KEYS[kind]}
    return _model(NODE_TYPES[kind], known, path, f"node '{name}'", report)


def _unknown_keys(
    raw: dict[str, Any], known: frozenset[str], path: tuple[Any, ...], where: str, report: _Report
) -> None:
    for key in raw:
        if key not in known:
            report.add(
                (*path, key),
                "unknown-key",
                f"'{key}' is not a setting {where}{_suggest(key, known)}; the settings "
                f"here are {', '.join(sorted(known))}",
            )


def _suggest(word: str, known: Any) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model(cls: type[M], raw: Any, path: tuple[Any, ...], what: str, report: _Report) -> M | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        raw = {key: value for key, value in raw.items() if key in cls.model_fields}
    try:
        return cls.model_validate(raw)
    except ValidationError as error:
        for detail in error.errors():
            loc = tuple(detail["loc"])
            rule, message = _explain(detail, what)
            report.add((*path, *loc), rule, message)
        return None


def _explain(detail: Any, what: str) -> tuple[str, str]:
    loc = detail["loc"]
    field = next((str(part) for part in reversed(loc) if isinstance(part, str)), what)
    kind = detail["type"]
    given = detail.get("input")
    ctx = detail.get("ctx", {})
    if kind == "missing":
        return "missing-key", f"{what} needs the setting '{field}'"
    if kind in ("int_parsing", "int_from_float", "float_parsing", "int_type", "float_type"):
        return "wrong-value", f"'{field}' must be a number, not '{given}'"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        limit = next(iter(ctx.values()), "")
        words = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        return "wrong-value", f"'{field}' must be {words} {limit}, not {given}"
    if kind == "literal_error":
        return "wrong-value", f"'{field}' must be one of {ctx.get('expected')}, not '{given}'"
    if kind == "value_error":
        return "wrong-value", str(ctx.get("error", detail["msg"]))
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "wrong-value", f"'{field}' must be a group of settings (name: value lines)"
    if kind == "list_type":
        return "wrong-value", f"'{field}' must be a list, such as [first, second]"
    if kind == "string_type":
        return "wrong-value", f"'{field}' must be a single word or text, not a list or group"
    return "wrong-value", f"'{field}': {detail['msg']}"


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
                f"'min_digits' ({node.min_digits}) is more than 'max_digits' ({node.max_digits})",
            )
        if isinstance(node, ActionNode):
            _check_action(node, path, catalog, report)
    if complete:
        _check_variables(flow, report)
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
    if flow.limits.then:
        roots[("limits", "then")] = flow.limits.then
    for path, target in roots.items():
        _check_target(flow, path, target, report, broken_nodes)
    for name, node in flow.nodes.items():
        for setting, target in node_targets(node).items():
            _check_target(flow, ("nodes", name, *setting), target, report, broken_nodes)
    if broken_nodes:
        return
    seen = set()
    queue = deque(target for target in roots.values() if target in flow.nodes)
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        queue.extend(t for t in node_targets(flow.nodes[name]).values() if t in flow.nodes)
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
    setting = " ".join(str(part) for part in path[2:]) if path[0] == "nodes" else ": ".join(path)
    report.add(
        path,
        "unknown-target",
        f"'{setting}' leads to '{target}', but there is no node by that name"
        f"{_suggest(target, flow.nodes)}",
    )


def _said_prompts(node: Model) -> Iterator[tuple[tuple[Any, ...], str]]:
    for index, item in enumerate(getattr(node, "say", [])):
        if item.kind == "prompt":
            yield ("say", index), item.ref
    for setting in ("no_input", "invalid"):
        for index, prompt in enumerate(getattr(node, setting, [])):
            yield (setting, index), prompt


def _check_prompts(
    node: Model, path: tuple[Any, ...], catalog: PromptCatalog, report: _Report
) -> None:
    for setting, prompt in _said_prompts(node):
        if prompt not in catalog:
            report.add(
                (*path, *setting),
                "missing-prompt",
                f"prompt '{prompt}' is not in the prompt catalog {catalog.path}"
                f"{_suggest(prompt, catalog.texts)}; add its text there, or fix the id",
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
    node: ActionNode, path: tuple[Any, ...], catalog: PromptCatalog, report: _Report
) -> None:
    spec = ACTIONS.get(node.action)
    if spec is None:
        report.add(
            (*path, "action"),
            "unknown-action",
            f"there is no action '{node.action}'{_suggest(node.action, ACTIONS)}; the "
            f"actions are {', '.join(ACTIONS)}",
        )
        return
    for outcome in sorted(set(node.outcomes) - spec.outcomes):
        report.add(
            (*path, "outcomes", outcome),
            "unknown-outcome",
            f"action '{node.action}' never answers '{outcome}'; its outcomes are "
            f"{', '.join(sorted(spec.outcomes))}",
        )
    missing = sorted(spec.outcomes - set(node.outcomes))
    if missing:
        report.add(
            (*path, "outcomes"),
            "missing-outcome",
            f"say where to go when action '{node.action}' answers {', '.join(missing)}",
        )
    for prompt in sorted(spec.prompts - set(catalog.texts)):
        report.add(
            (*path, "action"),
            "missing-prompt",
            f"action '{node.action}' may say prompt '{prompt}', which is not in the "
            f"prompt catalog {catalog.path}; add its text there",
        )


def _check_variables(flow: Flow, report: _Report) -> None:
    produced: set[str] = set()
    for node in flow.nodes.values():
        if isinstance(node, InputNode):
            produced.add(node.into)
        if isinstance(node, MenuNode):
            for option in node.options.values():
                produced.update(option.set)
        if isinstance(node, ActionNode) and node.action in ACTIONS:
            produced.update(ACTIONS[node.action].sets)
    for name, node in flow.nodes.items():
        path = ("nodes", name)
        if isinstance(node, InputNode) and not VARIABLE_NAME.match(node.into):
            report.add(
                (*path, "into"),
                "wrong-value",
                f"variable name '{node.into}' may use only small Latin letters, digits and _",
            )
        for index, item in enumerate(getattr(node, "say", [])):
            if item.kind != "prompt" and item.ref not in produced:
                report.add(
                    (*path, "say", index),
                    "unknown-variable",
                    f"nothing sets the variable '{item.ref}'{_suggest(item.ref, produced)}"
                    "; variables come from an input's 'into', a menu option's 'set' or "
                    "an action",
                )
        if isinstance(node, ActionNode) and node.action in ACTIONS:
            for variable in sorted(ACTIONS[node.action].reads - produced):
                report.add(
                    (*path, "action"),
                    "unknown-variable",
                    f"action '{node.action}' needs the variable '{variable}', which no "
                    "input or menu option sets",
                )
