"""The menu as a picture: every node of a flow file a box named as in the file, every key
or outcome an arrow labelled with it, drawn by Graphviz (`dot -Tsvg`); and, for each node,
its prompts' text and the problems `ivr check` finds in it, with their lines.

The picture is drawn from the file as written, so that a flow with mistakes is drawn too,
its faulty nodes marked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi.application import Application
from agi.audio.library import audio_path
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PROMPT_ID, PromptCatalog, load_catalog
from agi.located_yaml import Document, YamlSyntaxError, read_yaml_file
from agi.problems import Problem, ProblemsFound
from agi.readings.call_actions import ACTIONS
from agi.scenarios import check_scenarios

DOT_SECONDS = 20.0
PROMPT_FIELDS = ("say", "voice_say", "no_input", "invalid", "not_understood")
"""The node fields that name prompts, in the order a call may say them."""
SAY_KINDS = {"number": "said as a number", "digits": "said digit by digit", "prompt": "a prompt"}


@dataclass(frozen=True)
class PromptShown:
    field: str
    """Where the node says it: say, no_input..."""
    prompt_id: str | None
    """None for a variable said as a number or digits."""
    text: str
    has_audio: bool = False


@dataclass
class NodeShown:
    name: str
    kind: str
    line: int | None
    prompts: list[PromptShown] = field(default_factory=list)
    faults: list[Problem] = field(default_factory=list)


@dataclass
class MenuPicture:
    flow_file: Path
    nodes: list[NodeShown]
    faults: list[Problem]
    """The problems of no one node: the file as a whole, the catalog, the scenarios."""
    svg: str | None
    drawing_problem: str | None = None

    @property
    def fault_count(self) -> int:
        return len(self.faults) + sum(len(node.faults) for node in self.nodes)


def check_problems(
    app: Application, flow_file: Path, prompts_file: Path
) -> tuple[list[Problem], PromptCatalog | None]:
    """What `ivr check` says of these files (the scenarios beside the flow included)."""
    try:
        catalog = load_catalog(prompts_file)
    except ProblemsFound as found:
        return found.problems, None
    try:
        flow = load_flow(flow_file, catalog, ACTIONS)
    except ProblemsFound as found:
        return found.problems, catalog
    _, failed = check_scenarios(app.settings, flow, catalog, flow_file)
    return failed, catalog


def menu_picture(
    app: Application, flow_file: Path, prompts_file: Path, audio_dir: Path
) -> MenuPicture:
    problems, catalog = check_problems(app, flow_file, prompts_file)
    texts = catalog.texts if catalog is not None else _raw_catalog(prompts_file)
    try:
        document: Document | None = read_yaml_file(flow_file)
    except (OSError, YamlSyntaxError):
        document = None
    raw = document.data if document is not None and isinstance(document.data, dict) else {}
    raw_nodes = raw.get("nodes") if isinstance(raw.get("nodes"), dict) else {}
    nodes: dict[str, NodeShown] = {}
    for name, body in raw_nodes.items():
        body = body if isinstance(body, dict) else {}
        assert document is not None
        nodes[str(name)] = NodeShown(
            name=str(name),
            kind=str(body.get("type", "?")),
            line=document.lines.get(("nodes", name)),
            prompts=list(_prompts(body, texts, audio_dir)),
        )
    faults = []
    for problem in problems:
        node = nodes.get(problem.node or "") if problem.file == flow_file else None
        if node is None and problem.file == flow_file and problem.place[:1] == ("nodes",):
            node = nodes.get(str(problem.place[1])) if len(problem.place) > 1 else None
        (node.faults if node is not None else faults).append(problem)
    start = raw.get("start") if isinstance(raw.get("start"), str) else None
    svg, why = draw(dot_source(raw_nodes, start, {n.name for n in nodes.values() if n.faults}))
    return MenuPicture(flow_file, list(nodes.values()), faults, svg, why)


def _raw_catalog(path: Path) -> dict[str, str]:
    try:
        data = read_yaml_file(path).data
    except (OSError, YamlSyntaxError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): str(value) for key, value in data.items() if isinstance(value, str)}


def _prompts(body: dict[str, Any], texts: dict[str, str], audio_dir: Path):
    for name in PROMPT_FIELDS:
        value = body.get(name)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            if isinstance(item, str):
                has_audio = bool(PROMPT_ID.match(item)) and audio_path(audio_dir, item).is_file()
                text = texts.get(item, "(no such prompt in the catalog)")
                yield PromptShown(name, item, text, has_audio)
            elif isinstance(item, dict) and len(item) == 1:
                ((kind, variable),) = item.items()
                said = SAY_KINDS.get(str(kind), str(kind))
                yield PromptShown(name, None, f"the value of {variable}, {said}")


def edges(name: str, body: Any) -> list[tuple[str, str]]:
    """(target, label) of each arrow out of a node as written: keys, outcomes, timeouts."""
    if not isinstance(body, dict):
        return []
    kind = body.get("type")
    labels = {
        "next": "digits" if kind == "input" else "",
        "on_no_input": "no key",
        "on_invalid": "wrong key",
        "on_confirm": f"{body.get('confirm_key', '1')} confirm",
        "on_reenter": f"{body.get('reenter_key', '2')} again",
        "unavailable": "no speech model",
    }
    found = [(body[key], label) for key, label in labels.items() if key in body]
    for group in ("options", "outcomes"):
        choices = body.get(group)
        if isinstance(choices, dict):
            for key, target in choices.items():
                if isinstance(target, dict):
                    target = target.get("next")
                found.append((target, str(key)))
    return [(target, label) for target, label in found if isinstance(target, str)]


def dot_source(nodes: dict[Any, Any], start: str | None, faulty: set[str]) -> str:
    lines = [
        "digraph menu {",
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.5, fontname="DejaVu Sans"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fa", color="#4a6384",'
        ' fontname="DejaVu Sans", fontsize=12];',
        '  edge [fontname="DejaVu Sans", fontsize=10, color="#56657a"];',
    ]
    names = [str(name) for name in nodes]
    for name in names:
        kind = nodes[name].get("type", "?") if isinstance(nodes[name], dict) else "?"
        style = ' fillcolor="#fde2e1", color="#a4161a", penwidth=2' if name in faulty else ""
        mark = "\\n⚠ see the problems" if name in faulty else ""
        lines.append(
            f"  {_quoted(name)} [id={_quoted('node-' + name)}, "
            f"label={_quoted(name, raw_suffix=chr(92) + 'n(' + _escape(str(kind)) + ')' + mark)}"
            f"{style}];"
        )
    missing: set[str] = set()
    for name in names:
        for target, label in edges(name, nodes[name]):
            if target not in nodes and target not in missing:
                missing.add(target)
                label_of_missing = _quoted(target, raw_suffix=chr(92) + "n(missing)")
                lines.append(
                    f"  {_quoted(target)} [id={_quoted('missing-' + target)}, style=dashed,"
                    f' color="#a4161a", label={label_of_missing}];'
                )
            lines.append(f"  {_quoted(name)} -> {_quoted(target)} [label={_quoted(label)}];")
    if start is not None:
        lines.append(
            '  "start·" [shape=circle, label="", width=0.2, style=filled, fillcolor=black];'
        )
        lines.append(f'  "start·" -> {_quoted(start)} [label="call"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return re.sub(r'(["\\])', r"\\\1", text).replace("\n", " ").replace("\r", " ")


def _quoted(text: str, raw_suffix: str = "") -> str:
    return f'"{_escape(text)}{raw_suffix}"'


def draw(source: str) -> tuple[str | None, str | None]:
    """The SVG of a DOT source, or None and why not."""
    dot = shutil.which("dot")
    if dot is None:
        return None, "Graphviz is not installed on this server (apt-get install graphviz)."
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=source.encode(),
            capture_output=True,
            timeout=DOT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"Graphviz could not draw the menu ({error})."
    if done.returncode != 0:
        return None, "Graphviz could not draw the menu: " + done.stderr.decode(errors="replace")[
            :300
        ]
    svg = done.stdout.decode("utf-8")
    return svg[svg.find("<svg") :], None
