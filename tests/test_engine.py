"""The engine on small flows of its own: retries, escalation, limits and robustness.

These use scripted actions, not the database: what is tested is how the engine walks nodes.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from agi.dialog.actions import ActionResult, ActionUnavailable, Answers
from agi.dialog.engine import Dialog, Ending
from agi.dialog.flow import Flow
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PromptCatalog, load_catalog
from agi.dialog.simulator import KeypadChannel
from agi.readings.call_actions import ACTIONS, RESOURCE_MENU_PROMPTS

CATALOG = {
    "hello": "Привет.",
    "ask": "Нажмите 1.",
    "again_1": "Повторите.",
    "again_2": "Повторите ещё раз.",
    "wrong": "Не та клавиша.",
    "done": "Готово.",
    "bye": "Пока.",
    "loop": "Снова.",
    "enter": "Введите число.",
    "resource_electricity": "электроэнергия",
    "resource_hot_water": "горячая вода",
    "resource_cold_water": "холодная вода",
    **{prompt: "…" for prompt in RESOURCE_MENU_PROMPTS},
}


def build(
    tmp_path: Path, nodes: str, *, limits: str = "", defaults: str = ""
) -> tuple[Flow, PromptCatalog]:
    (tmp_path / "catalog.yaml").write_text(
        "\n".join(f'{k}: "{v}"' for k, v in CATALOG.items()), encoding="utf-8"
    )
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            start: first
            defaults:
              on_failure: give_up
            {defaults}{limits}
            nodes:
            {nodes}
              give_up:
                type: hangup
                say: bye
            """
        ).format(
            defaults=defaults, limits=limits, nodes=textwrap.indent(textwrap.dedent(nodes), "  ")
        ),
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path / "catalog.yaml")
    return load_flow(tmp_path / "flow.yaml", catalog, ACTIONS), catalog


class Outcomes:
    """Actions that answer from a script, recording what they were asked."""

    def __init__(self, *outcomes: str | ActionResult, error: Exception | None = None) -> None:
        self.outcomes = [o if isinstance(o, ActionResult) else ActionResult(o) for o in outcomes]
        self.error = error
        self.calls: list[str] = []

    def run(self, name: str, answers: Answers) -> ActionResult:
        self.calls.append(name)
        if self.error:
            raise self.error
        return self.outcomes.pop(0)


def call(tmp_path, nodes, keys, actions=None, *, limits="", clock=None):
    flow, catalog = build(tmp_path, nodes, limits=limits)
    channel = KeypadChannel("t-1", None, keys=keys)
    dialog = Dialog(
        flow, catalog, channel, actions or Outcomes(), **({"clock": clock} if clock else {})
    )
    return dialog.run(), channel


MENU = """\
first:
  type: menu
  say: ask
  options:
    "1": finish
  no_input: [again_1, again_2]
  invalid: wrong
  attempts: 4
finish:
  type: hangup
  say: done
"""


def test_retry_prompts_escalate_and_the_last_one_repeats(tmp_path):
    report, channel = call(tmp_path, MENU, "....")
    ivr = [line for line in channel.transcript if line.startswith("IVR:")]
    assert ivr == [
        "IVR: Нажмите 1.",
        "IVR: Повторите. Нажмите 1.",
        "IVR: Повторите ещё раз. Нажмите 1.",
        "IVR: Повторите ещё раз. Нажмите 1.",
        "IVR: Пока.",
    ]
    assert report.ending is Ending.HUNG_UP_BY_IVR
    assert report.path == ["first", "give_up"]


def test_no_input_and_invalid_have_their_own_prompts(tmp_path):
    _, channel = call(tmp_path, MENU, "7.1")
    ivr = [line for line in channel.transcript if line.startswith("IVR:")]
    assert ivr == [
        "IVR: Нажмите 1.",
        "IVR: Не та клавиша. Нажмите 1.",
        "IVR: Повторите. Нажмите 1.",
        "IVR: Готово.",
    ]


def test_a_menu_key_pressed_during_the_prompt_is_the_answer(tmp_path):
    report, channel = call(tmp_path, MENU, "1")
    assert channel.transcript == ["IVR: Нажмите 1.", "caller: 1", "IVR: Готово.", "IVR hangs up"]
    assert report.path == ["first", "finish"]


INPUT = """\
first:
  type: input
  say: enter
  into: number
  min_digits: 2
  max_digits: 4
  terminator: "#"
  invalid: wrong
  next: finish
finish:
  type: hangup
  say: [done, {number: number}]
"""


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ("12#", "Готово. двенадцать"),
        ("1234", "Готово. одна тысяча двести тридцать четыре"),  # the fourth digit ends it
        ("12345#", "Готово. одна тысяча двести тридцать четыре"),  # the rest is not in it
        ("12.", "Готово. двенадцать"),  # waiting after digits ends the input
        ("1# 77#", "Готово. семьдесят семь"),  # too short: asked again
        ("*1*2#", "Готово. двенадцать"),  # keys the input does not take are ignored
    ],
)
def test_digit_input(tmp_path, keys, said):
    _, channel = call(tmp_path, INPUT, keys)
    assert said in channel.transcript[-2]


def test_a_failing_action_sends_the_caller_to_the_failure_node(tmp_path):
    nodes = """\
    first:
      type: action
      action: check_window
      outcomes: {open: finish, closed: finish}
    finish:
      type: hangup
      say: done
    """
    report, channel = call(tmp_path, nodes, "", Outcomes(error=RuntimeError("database down")))
    assert report.path == ["first", "give_up"]
    assert channel.transcript[-2:] == ["IVR: Пока.", "IVR hangs up"]


def test_failures_in_a_row_reach_on_failure_and_a_success_resets_the_count(tmp_path):
    nodes = """\
    first:
      type: input
      say: enter
      into: contract
      max_digits: 6
      next: lookup
    lookup:
      type: action
      action: lookup_contract
      outcomes: {found: finish, several: finish, unknown: first, locked: first}
    finish:
      type: hangup
      say: done
    """
    keys = "11# 22# 33#"
    report, _ = call(tmp_path, nodes, keys, Outcomes("unknown", "unknown", "found"))
    assert report.path == ["first", "lookup"] * 3 + ["finish"]
    report, _ = call(tmp_path, nodes, keys, Outcomes("unknown", "unknown", "unknown"))
    assert report.path == ["first", "lookup"] * 3 + ["give_up"]
    keys = "11# 22# 33# 44# 55# 66#"
    report, _ = call(
        tmp_path,
        nodes.replace("several: finish", "several: first"),
        keys,
        Outcomes("unknown", "unknown", "several", "unknown", "unknown", "found"),
    )
    assert report.path == ["first", "lookup"] * 6 + ["finish"]


TWICE = """\
first:
  type: action
  action: check_window
  outcomes: {open: tell, closed: tell}
tell:
  type: play
  say: [done, {number: first_day}]
  next: again
again:
  type: action
  action: check_window
  outcomes: {open: tell_again, closed: tell_again}
tell_again:
  type: play
  say: [done, {number: first_day}]
  next: give_up
"""


def test_an_actions_values_last_until_it_runs_again(tmp_path):
    actions = Outcomes(ActionResult("open", {"first_day": 18}), ActionResult("open"))
    _, channel = call(tmp_path, TWICE, "", actions)
    assert channel.transcript[:2] == ["IVR: Готово. восемнадцать", "IVR: Готово."]


def test_an_outcome_the_node_does_not_know_reaches_the_failure_node(tmp_path):
    report, _ = call(tmp_path, TWICE, "", Outcomes("ajar"))
    assert report.path == ["first", "give_up"]


def test_an_action_that_cannot_be_done_now_reaches_on_unavailable(tmp_path):
    nodes = """\
    first:
      type: action
      action: check_window
      outcomes: {open: finish, closed: finish}
    finish:
      type: hangup
      say: done
    """
    sorry = "sorry:\n  type: hangup\n  say: loop\n"
    flow, catalog = build(
        tmp_path, textwrap.dedent(nodes) + sorry, defaults="  on_unavailable: sorry\n"
    )
    channel = KeypadChannel("t-3", None)
    unavailable = Outcomes(error=ActionUnavailable("the database does not answer"))
    report = Dialog(flow, catalog, channel, unavailable).run()
    assert report.path == ["first", "sorry"]
    assert channel.transcript == ["IVR: Снова.", "IVR hangs up"]
    # without on_unavailable: on_failure
    report, channel = call(tmp_path, nodes, "", unavailable)
    assert report.path == ["first", "give_up"]


LOOP = """\
first:
  type: play
  say: loop
  next: second
second:
  type: play
  say: loop
  next: first
"""


def test_every_loop_is_capped_by_the_step_limit(tmp_path):
    report, channel = call(tmp_path, LOOP, "", limits="limits:\n  steps: 10\n  then: give_up")
    assert report.ending is Ending.STEP_LIMIT
    assert len(report.path) == 11
    assert channel.transcript[-2:] == ["IVR: Пока.", "IVR hangs up"]


def test_a_call_has_an_absolute_time_limit(tmp_path):
    seconds = itertools.count(0, 7)
    report, channel = call(
        tmp_path, LOOP, "", limits="limits:\n  call_seconds: 60", clock=lambda: next(seconds)
    )
    assert report.ending is Ending.TIME_LIMIT
    assert channel.transcript[-1] == "IVR hangs up"
    assert len(report.path) < 12


def test_a_hang_up_anywhere_ends_the_call_quietly(tmp_path):
    report, channel = call(tmp_path, MENU, "")
    assert report.ending is Ending.CALLER_HUNG_UP
    assert channel.transcript[-1] == "caller hangs up"


class BrokenChannel(KeypadChannel):
    """A channel whose telephone side fails in a way the engine does not know."""

    def __init__(self, fail_on: int) -> None:
        super().__init__("t-broken", None, keys="1")
        self.asks = 0
        self.fail_on = fail_on

    def ask(self, utterances, request):
        self.asks += 1
        if self.asks == self.fail_on:
            raise RuntimeError("AGI said something unexpected")
        return super().ask(utterances, request)


def test_an_unexpected_error_ends_the_call_at_the_limits_node(tmp_path):
    flow, catalog = build(tmp_path, MENU, limits="limits:\n  then: give_up")
    channel = BrokenChannel(fail_on=1)
    report = Dialog(flow, catalog, channel, Outcomes()).run()
    assert report.ending is Ending.FAILED
    assert channel.transcript[-2:] == ["IVR: Пока.", "IVR hangs up"]


def test_a_variable_that_cannot_be_said_is_skipped_not_fatal(tmp_path):
    nodes = """\
    first:
      type: input
      say: enter
      into: number
      max_digits: 4
      next: finish
    finish:
      type: hangup
      say: [done, {number: number}]
    """
    flow, catalog = build(tmp_path, nodes)
    channel = KeypadChannel("t-2", None, keys="12#")
    dialog = Dialog(flow, catalog, channel, Outcomes())
    dialog.answers["number"] = "not a number"
    original = dialog._input

    def typed_then_spoiled(node):
        target = original(node)
        dialog.answers["number"] = "twelve"
        return target

    dialog._input = typed_then_spoiled
    report = dialog.run()
    assert report.ending is Ending.HUNG_UP_BY_IVR
    assert channel.transcript[-2] == "IVR: Готово."
