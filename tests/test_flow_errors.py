"""`ivr check`, specified by example: every mistake it reports, in files like the staff's.

Each file in tests/invalid_flows/ is a small flow with one kind of mistake and otherwise
complete. Its first comment lines say what the check must report, one line per problem:

    # expect: LINE RULE [@NODE] PART OF THE MESSAGE

LINE is the line in that file, RULE the problem's rule, NODE the node the report names (left
out when the mistake is not inside a node). A `# catalog: PATH` line (relative to the folder)
checks the flow against that prompt catalog instead of the shipped prompts/ru.yaml. The loader
must report exactly the expected problems: no more, no fewer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.cli import main
from agi.dialog.flow import KNOWN_KEYS, NODE_TYPES, TOP_LEVEL_KEYS, MenuNode
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import PromptCatalog, load_catalog
from agi.located_yaml import read_yaml_file
from agi.problems import Problem, ProblemsFound
from agi.readings.call_actions import ACTIONS

ROOT = Path(__file__).resolve().parent.parent
INVALID = Path(__file__).resolve().parent / "invalid_flows"
SHIPPED_FLOW = ROOT / "ivr_flows.yaml"
SHIPPED_CATALOG = ROOT / "prompts" / "ru.yaml"
CASES = sorted(INVALID.glob("*.yaml"))

EXPECT = re.compile(r"^# expect: (?P<line>\d+) (?P<rule>[a-z-]+) (?:@(?P<node>\S+) )?(?P<text>.+)$")
CATALOG = re.compile(r"^# catalog: (?P<path>\S+)$")

# Every rule the flow check can report; each must have at least one example file.
RULES = {
    "yaml-syntax",
    "yaml-structure",
    "flow-shape",
    "unknown-key",
    "unknown-node-type",
    "missing-key",
    "wrong-value",
    "node-name",
    "unknown-target",
    "unreachable-node",
    "duplicate-key",
    "missing-prompt",
    "bad-digit-key",
    "unknown-action",
    "unknown-outcome",
    "missing-outcome",
    "unknown-variable",
    "wrong-variable-kind",
    "voice-never-listens",
    "action-order",
    "variable-clash",
    "yaml-too-deep",
    "yaml-alias-loop",
    "yaml-alias-bomb",
}


@dataclass(frozen=True)
class Expected:
    line: int
    rule: str
    node: str | None
    text: str


def _header(path: Path) -> list[str]:
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()  # some are not UTF-8
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    return header


def _expected(path: Path) -> list[Expected]:
    expected = []
    for line in _header(path):
        match = EXPECT.match(line)
        if match:
            node = match["node"]
            expected.append(Expected(int(match["line"]), match["rule"], node, match["text"]))
        else:
            assert not line.startswith("# expect"), f"{path.name}: cannot read {line!r}"
    return expected


def _catalog_of(path: Path) -> Path:
    for line in _header(path):
        match = CATALOG.match(line)
        if match:
            return INVALID / match["path"]
    return SHIPPED_CATALOG


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    return load_catalog(SHIPPED_CATALOG)


def _problems(path: Path, catalog: PromptCatalog) -> list[Problem]:
    with pytest.raises(ProblemsFound) as raised:
        load_flow(path, catalog, ACTIONS)
    return raised.value.problems


@pytest.mark.parametrize("path", CASES, ids=[path.name for path in CASES])
def test_invalid_flow_reports_exactly_the_expected_problems(path: Path) -> None:
    expected = _expected(path)
    assert expected, f"{path.name} has no '# expect:' line"
    problems = _problems(path, load_catalog(_catalog_of(path)))

    report = "\n".join(f"  [{p.rule}] {p}" for p in problems)
    assert Counter((p.line, p.rule) for p in problems) == Counter(
        (e.line, e.rule) for e in expected
    ), f"{path.name} reported:\n{report}"

    unmatched = list(problems)
    for want in expected:
        problem = next(
            (
                p
                for p in unmatched
                if (p.line, p.rule) == (want.line, want.rule) and want.text in p.message
            ),
            None,
        )
        assert problem is not None, f"no {want} in:\n{report}"
        unmatched.remove(problem)
        text = str(problem)
        assert text.startswith(f"{path}, line {want.line}"), text
        assert problem.node == want.node, text
        if want.node:
            assert f", node '{want.node}': " in text
        else:
            assert ", node '" not in text


def test_every_rule_has_an_example() -> None:
    covered = {expected.rule for path in CASES for expected in _expected(path)}
    assert covered >= RULES, f"no example file for {sorted(RULES - covered)}"
    assert covered <= RULES, f"rules not listed in RULES: {sorted(covered - RULES)}"


def test_all_problems_are_reported_at_once(catalog: PromptCatalog) -> None:
    problems = _problems(INVALID / "three_mistakes.yaml", catalog)
    assert len(problems) == 3
    assert {problem.node for problem in problems} == {"welcome", "ask_contract", "goodbye"}
    assert {problem.rule for problem in problems} == {
        "unknown-key",
        "missing-prompt",
        "unreachable-node",
    }


def test_shipped_flow_has_no_problems(catalog: PromptCatalog) -> None:
    flow = load_flow(SHIPPED_FLOW, catalog, ACTIONS)
    assert flow.start in flow.nodes


VALID_KEYS = """\
version: 1
start: welcome
defaults:
  on_failure: operator
nodes:
  welcome:
    type: menu
    say: main_menu
    options:
      0: operator
      "*": operator
      "#": operator
      "1": {next: operator, set: {answer: yes, lights: on}}
  operator:
    type: transfer
    say: connecting_operator
    to: operator
"""


def test_unquoted_zero_and_quoted_star_are_menu_keys(
    tmp_path: Path, catalog: PromptCatalog
) -> None:
    path = tmp_path / "ivr_flows.yaml"
    path.write_text(VALID_KEYS, encoding="utf-8")
    flow = load_flow(path, catalog, ACTIONS)
    welcome = flow.nodes["welcome"]
    assert isinstance(welcome, MenuNode)
    assert list(welcome.options) == ["0", "*", "#", "1"]
    assert welcome.options["0"].next == "operator"
    # yes and on stay the words the editor wrote, not YAML 1.1 booleans.
    assert welcome.options["1"].set == {"answer": "yes", "lights": "on"}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(ROOT)
    for name in ("IVR_CONFIG", "IVR_FLOW_PATH", "IVR_PROMPTS_PATH"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_cli_check_reports_file_line_and_message(runner: CliRunner) -> None:
    path = Path("tests/invalid_flows/unknown_setting.yaml")
    result = runner.invoke(main, ["check", str(path), "--prompts", "prompts/ru.yaml"])
    assert result.exit_code != 0
    assert (
        f"{path}, line 11, node 'welcome': 'timout' is not a setting in a menu node "
        "(did you mean 'timeout'?)" in result.stderr
    )
    assert "1 problem found" in result.stderr
    assert result.stdout == ""


def test_cli_check_reports_every_problem(runner: CliRunner) -> None:
    path = Path("tests/invalid_flows/three_mistakes.yaml")
    result = runner.invoke(main, ["check", str(path), "--prompts", "prompts/ru.yaml"])
    assert result.exit_code != 0
    for line in (16, 19, 27):
        assert f"{path}, line {line}, node '" in result.stderr
    assert "3 problems found" in result.stderr


def test_cli_check_passes_the_shipped_flow(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", "ivr_flows.yaml", "--prompts", "prompts/ru.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ivr_flows.yaml: OK")
    assert result.stderr == ""
    default = runner.invoke(main, ["check"])
    assert default.exit_code == 0, default.output


# --- the schema, kept in sync -------------------------------------------------------


README_NODE_ROW = re.compile(r"^\| `(?P<kind>[a-z]+)` \| [^|]+ \| (?P<settings>[^|]+) \|$")


def _documented_settings() -> dict[str, set[str]]:
    """The node table of README.md: kind -> the settings its last column names."""
    documented = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = README_NODE_ROW.match(line)
        if match and match["kind"] in NODE_TYPES:
            settings = re.sub(r"\([^)]*\)", "", match["settings"])  # (what values look like)
            named = set(re.findall(r"`([a-z_]+)`", settings))
            if "the retry settings of `menu`" in match["settings"]:
                named |= {"timeout", "attempts", "no_input", "invalid", "on_no_input", "on_invalid"}
            documented[match["kind"]] = named - {"menu"}
    return documented


def test_the_readme_documents_every_setting_of_every_node_kind() -> None:
    """The editors' reference in README.md is kept in step with the models."""
    documented = _documented_settings()
    assert set(documented) == set(NODE_TYPES)
    for kind, known in KNOWN_KEYS.items():
        if kind in NODE_TYPES:
            assert documented[kind] | {"type"} == set(known), kind


def test_every_setting_in_the_shipped_flow_is_known() -> None:
    data = read_yaml_file(SHIPPED_FLOW).data
    assert set(data) <= TOP_LEVEL_KEYS
    assert set(data["defaults"]) <= KNOWN_KEYS["defaults"]
    assert set(data.get("limits", {})) <= KNOWN_KEYS["limits"]
    for name, node in data["nodes"].items():
        unknown = set(node) - KNOWN_KEYS[node["type"]]
        assert not unknown, f"node {name!r}: {sorted(unknown)}"
        for option in node.get("options", {}).values():
            if isinstance(option, dict):
                assert set(option) <= KNOWN_KEYS["option"], f"node {name!r}: {option}"


@pytest.mark.parametrize(
    ("name", "line"),
    [("yaml_too_deep.yaml", 5), ("yaml_alias_loop.yaml", 6), ("yaml_alias_bomb.yaml", 10)],
)
def test_cli_check_reports_a_file_made_to_crash_the_reader_as_a_problem(
    runner: CliRunner, name: str, line: int
) -> None:
    path = Path("tests/invalid_flows") / name
    result = runner.invoke(main, ["check", str(path), "--prompts", "prompts/ru.yaml"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert f"{path}, line {line}: " in result.stderr
    assert "Traceback" not in result.output
    assert "1 problem found" in result.stderr


def test_a_folder_in_place_of_the_flow_is_a_problem(tmp_path: Path, catalog: PromptCatalog) -> None:
    folder = tmp_path / "ivr_flows.yaml"
    folder.mkdir()
    with pytest.raises(ProblemsFound) as raised:
        load_flow(folder, catalog, ACTIONS)
    (problem,) = raised.value.problems
    assert problem.rule == "unreadable-file"
    assert (
        str(problem)
        == f"{folder}: the flow file is a folder, not a file: put the file itself in its place"
    )


def test_a_folder_in_place_of_the_catalog_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ProblemsFound) as raised:
        load_catalog(tmp_path)
    (problem,) = raised.value.problems
    assert (problem.file, problem.rule) == (tmp_path, "unreadable-file")


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("greeting", False),
        ("zone_2", False),
        ('"greeting\\n"', True),
        ('"\\ngreeting"', True),
        ("Greeting", True),
        ("2nd_try", True),
        ("zone-day", True),
    ],
    ids=[
        "letters",
        "digits and _",
        "a newline after",
        "a newline before",
        "capital",
        "digit first",
        "dash",
    ],
)
def test_a_prompt_id_is_small_latin_letters_digits_and_underscores(
    tmp_path: Path, key: str, refused: bool
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(f'{key}: "Текст"\n', encoding="utf-8")
    if not refused:
        assert load_catalog(path).texts == {key: "Текст"}
        return
    with pytest.raises(ProblemsFound) as raised:
        load_catalog(path)
    (problem,) = raised.value.problems
    assert (problem.line, problem.rule) == (1, "prompt-id")
