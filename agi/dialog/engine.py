"""The dialog engine: walks a checked `Flow` over a `Channel`, one call at a time.

It knows nodes, keys and prompts; what an action means is up to the `Actions` it is given,
and how a prompt reaches the caller is up to the channel.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agi.dialog.actions import Actions, ActionUnavailable, Given, PromptRef
from agi.dialog.channel import (
    DIGITS,
    DTMF_KEYS,
    CallerHungUp,
    Channel,
    KeyRequest,
    Keys,
    KeyStop,
    ListenFailed,
    ListenRequest,
    Recording,
)
from agi.dialog.flow import (
    ActionNode,
    AskingNode,
    ConfirmNode,
    Flow,
    HangupNode,
    InputNode,
    MenuNode,
    Option,
    PlayNode,
    SayItem,
    TransferNode,
    VoiceNode,
)
from agi.dialog.prompts import PromptCatalog
from agi.dialog.recogniser import Recogniser, SpeechError
from agi.dialog.utterance import Digits, Number, Prompt, Utterance
from agi.redact import mask_digits, printable
from agi.speech.number_parser import NumberRefused, parse_digits
from agi.speech.words import parse_yes_no

log = logging.getLogger(__name__)

DIGIT_KEYS = frozenset(DIGITS)


class Ending(enum.StrEnum):
    HUNG_UP_BY_IVR = "ivr_hung_up"
    TRANSFERRED = "transferred"
    CALLER_HUNG_UP = "caller_hung_up"
    TIME_LIMIT = "time_limit"
    STEP_LIMIT = "step_limit"
    FAILED = "failed"


@dataclass(frozen=True)
class NodeEntry:
    """One node of a call's path: when the call entered it (on the dialog's clock), and how
    it got there: an action's outcome (`lookup_contract=locked`), a menu key (`key 0`), or a
    fallback (`max_failures`, `no_input`, `invalid`, `not_understood`, `unavailable`,
    `action_failed`, `voice_failed`, `limit`); None after a play or an input."""

    node: str
    entered: float
    arrival: str | None = None


@dataclass
class CallReport:
    ending: Ending
    entries: list[NodeEntry] = field(default_factory=list)
    """The path with the moment each node was entered; what a call record is made of."""
    ended: float = 0.0
    """When the call ended, on the dialog's clock."""

    @property
    def path(self) -> list[str]:
        return [entry.node for entry in self.entries]


class _LimitReached(Exception):
    def __init__(self, ending: Ending) -> None:
        self.ending = ending


class _VoiceFailed(Exception):
    """Recording or recognising failed in this call: it goes on at `on_failure`."""


class Dialog:
    """One call through the flow. `run()` returns how it ended; it never raises for a hang-up."""

    def __init__(
        self,
        flow: Flow,
        catalog: PromptCatalog,
        channel: Channel,
        actions: Actions,
        *,
        clock: Callable[[], float] = time.monotonic,
        recogniser: Recogniser | None = None,
    ) -> None:
        self.flow = flow
        self.catalog = catalog
        self.channel = channel
        self.actions = actions
        self.clock = clock
        self.recogniser = recogniser
        """None: no speech model, so `voice` nodes go to `unavailable`."""
        self.by_voice = False
        """Whether a `voice` node switched this call to answers by voice."""
        self.answers: dict[str, str] = {}
        """What the caller typed or chose, by variable (an input's `into`, a menu's `set`)."""
        self.given: dict[str, Given] = {}
        """What actions gave to say, by variable; an action's next run replaces its own."""
        self.failures = 0
        self._escalating = False
        self.report = CallReport(ending=Ending.CALLER_HUNG_UP)
        self._deadline = 0.0
        self._arrival: str | None = None
        self.call_label = printable(channel.call_id)

    def run(self) -> CallReport:
        self._deadline = self.clock() + self.flow.limits.call_seconds
        name: str | None = self.flow.start
        try:
            try:
                while name is not None:
                    name = self._step(name)
            except _LimitReached as limit:
                log.info("call=%s limit=%s", self.call_label, limit.ending)
                self._end_at_limit()
                self.report.ending = limit.ending
            except CallerHungUp:
                raise
            except Exception:
                log.exception("call=%s failed at node %s", self.call_label, self.report.path[-1:])
                self.report.ending = Ending.FAILED
                try:
                    self._end_at_limit()
                except Exception:
                    log.exception("call=%s could not be ended cleanly", self.call_label)
                self.report.ending = Ending.FAILED
        except CallerHungUp:
            self.report.ending = Ending.CALLER_HUNG_UP
            log.info("call=%s caller hung up", self.call_label)
        self.report.ended = self.clock()
        return self.report

    def _enter(self, name: str) -> None:
        self.report.entries.append(NodeEntry(name, self.clock(), self._arrival))
        self._arrival = None

    def _via(self, why: str, target: str) -> str:
        """Go on at `target`, noting why (an outcome, a key, a fallback): the call record
        tells how each node was reached."""
        self._arrival = why
        return target

    def _end_at_limit(self) -> None:
        then = self.flow.limits.then
        if then is None:
            self.channel.hang_up()
            return
        self._arrival = "limit"
        self._enter(then)
        node = self.flow.nodes[then]
        assert isinstance(node, TransferNode | HangupNode)
        self._finish(node)

    def _step(self, name: str) -> str | None:
        if len(self.report.entries) >= self.flow.limits.steps:
            raise _LimitReached(Ending.STEP_LIMIT)
        if self.clock() >= self._deadline:
            raise _LimitReached(Ending.TIME_LIMIT)
        node = self.flow.nodes[name]
        if self._escalating and not isinstance(node, PlayNode):
            self._escalating = False
            name = self._via("max_failures", self.flow.defaults.on_failure)
            node = self.flow.nodes[name]
        self._enter(name)
        log.info("call=%s node=%s type=%s", self.call_label, name, node.type)
        match node:
            case PlayNode():
                asks_next = isinstance(self.flow.nodes[node.next], AskingNode)
                self.channel.play(self._render(node.say), barge_in=asks_next)
                if self._escalating:
                    self._escalating = False
                    return self._via("max_failures", self.flow.defaults.on_failure)
                return node.next
            case ActionNode():
                return self._act(node)
            case MenuNode():
                return self._menu(node)
            case InputNode():
                return self._input(node)
            case ConfirmNode():
                return self._confirm(node)
            case VoiceNode():
                return self._voice(node)
            case TransferNode() | HangupNode():
                self._finish(node)
                return None
        raise AssertionError(f"unhandled node type {node.type}")

    def _finish(self, node: TransferNode | HangupNode) -> None:
        self.channel.play(self._render(node.say))
        if isinstance(node, TransferNode):
            self.report.ending = Ending.TRANSFERRED
            self.channel.transfer(node.to)
        else:
            self.report.ending = Ending.HUNG_UP_BY_IVR
            self.channel.hang_up()

    def _voice(self, node: VoiceNode) -> str:
        if self.recogniser is None:
            log.info("call=%s voice unavailable: no speech model", self.call_label)
            return node.unavailable
        self.by_voice = True
        self.channel.play(self._render(node.say))
        return node.next

    def _act(self, node: ActionNode) -> str:
        spec = self.flow.actions[node.action]
        try:
            result = self.actions.run(node.action, dict(self.answers))
            if result.outcome not in node.outcomes or not result.values.keys() <= spec.sets.keys():
                raise ValueError(f"action {node.action} answered {result!r}")
        except CallerHungUp:
            raise
        except ActionUnavailable as unavailable:
            log.error(
                "call=%s action %s cannot be done now: %s",
                self.call_label,
                node.action,
                unavailable,
            )
            target = self.flow.defaults.on_unavailable or self.flow.defaults.on_failure
            return self._via("unavailable", target)
        except Exception:
            log.exception("call=%s action %s failed", self.call_label, node.action)
            return self._via("action_failed", self.flow.defaults.on_failure)
        outcome = result.outcome
        log.info("call=%s action=%s outcome=%s", self.call_label, node.action, outcome)
        for name in spec.sets:
            self.given.pop(name, None)
        self.given.update(result.values)
        if outcome in spec.failures:
            self.failures += 1
            if self.failures >= self.flow.defaults.max_failures:
                self.failures = 0
                self._escalating = True  # after the reason is said, if the next node says it
        else:
            self.failures = 0
        return self._via(f"{node.action}={outcome}", node.outcomes[outcome])

    # --- nodes that wait for keys ---------------------------------------------------------

    def _menu(self, node: MenuNode) -> str:
        def choose(keys: Keys) -> str | None:
            option: Option | None = node.options.get(keys.digits)
            if option is None:
                return None
            self.answers.update(option.set)
            return self._via(f"key {keys.digits}", option.next)

        request = self._request(node, allowed=DTMF_KEYS, max_digits=1, terminator="none")
        return self._ask(node, request, choose)

    def _confirm(self, node: ConfirmNode) -> str:
        choices = {node.confirm_key: node.on_confirm, node.reenter_key: node.on_reenter}
        request = self._request(node, allowed=DTMF_KEYS, max_digits=1, terminator="none")
        return self._ask(node, request, lambda keys: choices.get(keys.digits))

    def _input(self, node: InputNode) -> str:
        def accept(keys: Keys) -> str | None:
            if not node.min_digits <= len(keys.digits) <= node.max_digits:
                return None
            self.answers[node.into] = keys.digits
            return node.next

        request = self._request(
            node,
            allowed=DIGIT_KEYS,
            max_digits=node.max_digits,
            terminator=node.terminator,
        )
        return self._ask(node, request, accept)

    def _request(
        self, node: AskingNode, *, allowed: frozenset[str], max_digits: int, terminator: str
    ) -> KeyRequest:
        defaults = self.flow.defaults
        own = node.inter_digit_timeout if isinstance(node, InputNode) else None
        inter = own or defaults.inter_digit_timeout
        return KeyRequest(
            allowed=allowed,
            max_digits=max_digits,
            first_timeout=node.timeout or defaults.timeout,
            inter_digit_timeout=inter,
            terminator="" if terminator == "none" else terminator,
        )

    def _ask(
        self, node: AskingNode, request: KeyRequest, interpret: Callable[[Keys], str | None]
    ) -> str:
        """Ask up to `attempts` times, saying the escalating retry prompt before each retry."""
        attempts = node.attempts or self.flow.defaults.attempts
        missed = {"no_input": 0, "invalid": 0, "not_understood": 0}
        retry: list[str] = []
        last = "no_input"
        voice = self.by_voice and node.voice_say is not None
        for _ in range(attempts):
            if self.clock() >= self._deadline:
                raise _LimitReached(Ending.TIME_LIMIT)
            say = node.voice_say if voice and node.voice_say is not None else node.say
            utterances = [self._prompt(prompt) for prompt in retry] + self._render(say)
            understood = True
            if voice:
                try:
                    keys, understood = self._listen(node, utterances, request)
                except _VoiceFailed:
                    return self._via("voice_failed", self.flow.defaults.on_failure)
            else:
                keys = self.channel.ask(utterances, request)
                log.info(
                    "call=%s keys=%s ending=%s",
                    self.call_label,
                    mask_digits(keys.digits),
                    keys.stop,
                )
            if not keys.nothing and understood:
                target = interpret(keys)
                if target is not None:
                    return target
            last = "no_input" if keys.nothing else "invalid"
            if not understood:
                last = "not_understood"
            retry = self._retry_prompt(getattr(node, last), missed[last])
            missed[last] += 1
        fallback = node.on_no_input if last == "no_input" else node.on_invalid
        return self._via(last, fallback or self.flow.defaults.on_failure)

    # --- answers by voice -------------------------------------------------------------------

    def _listen(
        self, node: AskingNode, utterances: list[Utterance], request: KeyRequest
    ) -> tuple[Keys, bool]:
        """Listen for an answer by voice; return it as the keys it stands for, and whether
        it was understood. Keys the caller pressed instead count as they are."""
        assert self.recogniser is not None
        defaults = self.flow.defaults
        listening = ListenRequest(defaults.listen_seconds, defaults.silence_seconds)
        try:
            heard = self.channel.listen(utterances, request, listening)
        except ListenFailed as failure:
            log.error("call=%s cannot record: %s", self.call_label, failure)
            raise _VoiceFailed from None
        if isinstance(heard, Keys):
            log.info(
                "call=%s keys=%s ending=%s",
                self.call_label,
                mask_digits(heard.digits),
                heard.stop,
            )
            return heard, True
        text = self._transcribe(heard)
        if not text.strip():
            log.info("call=%s voice=nothing heard", self.call_label)
            return Keys("", KeyStop.TIMEOUT), True
        keys, problem = self._spoken_keys(node, text)
        if keys is None:
            log.info("call=%s voice=not understood (%s)", self.call_label, problem)
            return Keys("", KeyStop.TERMINATOR), False
        log.info("call=%s voice=%s", self.call_label, mask_digits(keys))
        return Keys(keys, KeyStop.TERMINATOR), True

    def _transcribe(self, recording: Recording) -> str:
        assert self.recogniser is not None
        try:
            return self.recogniser.transcribe(recording)
        except SpeechError as error:
            log.error("call=%s recognition failed: %s", self.call_label, error)
            raise _VoiceFailed from None
        finally:
            recording.discard()

    @staticmethod
    def _spoken_keys(node: AskingNode, text: str) -> tuple[str | None, str]:
        """The keys an answer by voice stands for: «да» / «нет» are the confirm and re-enter
        keys, a number is its digits (a menu's «два» is the key 2). None and why, when the
        words mean neither."""
        if isinstance(node, ConfirmNode):
            answer = parse_yes_no(text)
            if answer is not None:
                return (node.confirm_key if answer else node.reenter_key), "yes-no"
        try:
            digits = parse_digits(text)
        except NumberRefused as refused:
            return None, refused.rule
        if isinstance(node, InputNode) and len(digits) > node.max_digits:
            return None, "too-long"  # never cut to fit: that would be a guess
        return digits, "number"

    @staticmethod
    def _retry_prompt(prompts: list[str], count: int) -> list[str]:
        if not prompts:
            return []
        return [prompts[min(count, len(prompts) - 1)]]

    # --- what to say ------------------------------------------------------------------------

    def _prompt(self, prompt_id: str) -> Prompt:
        return Prompt(prompt_id, self.catalog.text(prompt_id))

    def _render(self, say: Sequence[SayItem]) -> list[Utterance]:
        utterances: list[Utterance] = []
        for item in say:
            if item.kind == "prompt":
                utterances.append(self._prompt(item.ref))
                continue
            value = self.given.get(item.ref, self.answers.get(item.ref))
            try:
                utterances.append(self._variable(item.kind, value))
            except (TypeError, ValueError, KeyError):
                log.warning(
                    "call=%s variable %s cannot be said as %s", self.call_label, item.ref, item.kind
                )
        return utterances

    def _variable(self, kind: str, value: Given | str | None) -> Utterance:
        """A variable as something to say; raises when it does not hold what `kind` says."""
        if value is None:
            raise ValueError("not set")
        if isinstance(value, PromptRef):
            if kind != "prompt_of":
                raise TypeError(value)
            return self._prompt(value.id)
        if kind == "prompt_of":
            raise TypeError(value)
        digits = str(value)
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(value)
        return Number(int(digits)) if kind == "number" else Digits(digits)
