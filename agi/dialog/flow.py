"""The voice menu as typed objects: what each kind of node in `ivr_flows.yaml` may say and do.

`agi.dialog.flow_loader` turns the YAML into these objects and checks them as a whole; the
engine only ever sees a flow that passed. They are plain frozen dataclasses whose
annotations carry the checks (`agi.constraints`), which pydantic applies when the loader
reads a file: a flow taken from the cache (`agi.dialog.flow_cache`) needs no pydantic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from agi.constraints import Before, Constraint
from agi.dialog.actions import ActionTable

NODE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VARIABLE_NAME = NODE_NAME

SAY_KINDS = {"number": "number", "digits": "digits", "prompt": "prompt_of"}


flow_part = dataclass(frozen=True, slots=True, kw_only=True)
"""How every part of a flow is declared."""


class Model:
    """A part of a flow; pydantic refuses keys it does not declare."""

    __slots__ = ()
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}


@flow_part
class SayItem(Model):
    """One thing to say: a prompt id, or a variable said as a number, digits or a prompt."""

    kind: Literal["prompt", "number", "digits", "prompt_of"]
    ref: str


def _parse_say_item(value: Any) -> Any:
    if isinstance(value, SayItem):
        return value
    if isinstance(value, str):
        return {"kind": "prompt", "ref": value}
    if isinstance(value, dict) and len(value) == 1:
        ((key, ref),) = value.items()
        if key in SAY_KINDS and isinstance(ref, str):
            return {"kind": SAY_KINDS[key], "ref": ref}
    raise ValueError(
        "each thing to say is a prompt id, or one of  {number: VARIABLE},  "
        "{digits: VARIABLE},  {prompt: VARIABLE}"
    )


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | dict) else value


Say = Annotated[list[Annotated[SayItem, Before(_parse_say_item)]], Before(_as_list)]
PromptIds = Annotated[list[str], Before(_as_list)]
Seconds = Annotated[float, Constraint(gt=0, le=60)]
Attempts = Annotated[int, Constraint(ge=1, le=10)]


@flow_part
class Defaults(Model):
    timeout: Seconds = 5
    inter_digit_timeout: Seconds = 3
    attempts: Attempts = 3
    max_failures: Attempts = 3
    on_failure: str
    on_unavailable: str | None = None
    """Where a call goes when an action cannot be done now (the database does not answer);
    None: to `on_failure`."""
    listen_seconds: Seconds = 15
    """The longest answer by voice that is recorded."""
    silence_seconds: Annotated[int, Constraint(ge=1, le=10)] = 2
    """Whole seconds of silence that end an answer by voice."""


@flow_part
class Limits(Model):
    call_seconds: Annotated[int, Constraint(ge=30, le=3600)] = 600
    steps: Annotated[int, Constraint(ge=10, le=10_000)] = 300
    then: str | None = None


@flow_part
class Option(Model):
    next: str
    set: dict[str, str] = field(default_factory=dict)


def _option(value: Any) -> Any:
    return {"next": value} if isinstance(value, str) else value


@flow_part
class Asking(Model):
    """Settings shared by the nodes that wait for keys."""

    say: Say = field(default_factory=list)
    timeout: Seconds | None = None
    attempts: Attempts | None = None
    no_input: PromptIds = field(default_factory=list)
    invalid: PromptIds = field(default_factory=list)
    on_no_input: str | None = None
    on_invalid: str | None = None
    voice_say: Say | None = None
    """Once a `voice` node switched the call to answers by voice: what to say instead of
    `say` before listening. Without it the node waits for keys even then."""
    not_understood: PromptIds = field(default_factory=list)
    """Said before asking again when an answer by voice was heard but not understood."""


@flow_part
class PlayNode(Model):
    type: Literal["play"]
    say: Say
    next: str


@flow_part
class MenuNode(Asking):
    type: Literal["menu"]
    options: dict[str, Annotated[Option, Before(_option)]]


@flow_part
class InputNode(Asking):
    type: Literal["input"]
    into: str
    min_digits: Annotated[int, Constraint(ge=1, le=32)] = 1
    max_digits: Annotated[int, Constraint(ge=1, le=32)]
    terminator: Literal["#", "*", "none"] = "#"
    inter_digit_timeout: Seconds | None = None
    next: str


@flow_part
class ConfirmNode(Asking):
    type: Literal["confirm"]
    confirm_key: str = "1"
    reenter_key: str = "2"
    on_confirm: str
    on_reenter: str


@flow_part
class VoiceNode(Model):
    """From here on, nodes with `voice_say` listen to the caller's voice (keys still work);
    without a speech model the call goes to `unavailable` instead."""

    type: Literal["voice"]
    say: Say = field(default_factory=list)
    next: str
    unavailable: str


@flow_part
class ActionNode(Model):
    type: Literal["action"]
    action: str
    outcomes: dict[str, str]


@flow_part
class TransferNode(Model):
    type: Literal["transfer"]
    say: Say = field(default_factory=list)
    to: str


@flow_part
class HangupNode(Model):
    type: Literal["hangup"]
    say: Say = field(default_factory=list)


Node = (
    PlayNode
    | MenuNode
    | InputNode
    | ConfirmNode
    | VoiceNode
    | ActionNode
    | TransferNode
    | HangupNode
)
AskingNode = MenuNode | InputNode | ConfirmNode

NODE_TYPES: dict[str, type[Model]] = {
    "play": PlayNode,
    "menu": MenuNode,
    "input": InputNode,
    "confirm": ConfirmNode,
    "voice": VoiceNode,
    "action": ActionNode,
    "transfer": TransferNode,
    "hangup": HangupNode,
}

TOP_LEVEL_KEYS = frozenset({"version", "start", "defaults", "limits", "nodes"})


def field_names(part: type[Model]) -> frozenset[str]:
    """The keys a part of a flow declares: those a file may write in it."""
    return frozenset(each.name for each in fields(part))  # type: ignore[arg-type]


KNOWN_KEYS: dict[str, frozenset[str]] = {
    kind: field_names(node) for kind, node in NODE_TYPES.items()
}
KNOWN_KEYS["defaults"] = field_names(Defaults)
KNOWN_KEYS["limits"] = field_names(Limits)
KNOWN_KEYS["option"] = field_names(Option)


@dataclass(frozen=True)
class Flow:
    """A flow that passed every check, with the actions it was checked against."""

    file: Path
    start: str
    defaults: Defaults
    limits: Limits
    nodes: dict[str, Node]
    actions: ActionTable


def node_targets(node: Model) -> dict[tuple[str, ...], str]:
    targets: dict[tuple[str, ...], str] = {}
    for setting in ("next", "on_no_input", "on_invalid", "on_confirm", "on_reenter", "unavailable"):
        target = getattr(node, setting, None)
        if target is not None:
            targets[(setting,)] = target
    if isinstance(node, MenuNode):
        for key, option in node.options.items():
            targets[("options", key)] = option.next
    if isinstance(node, ActionNode):
        for outcome, target in node.outcomes.items():
            targets[("outcomes", outcome)] = target
    return targets
