"""YAML read for people: every value stays text, every place keeps its line.

Call-center staff edit the flow, so YAML 1.1's surprises must not change a menu behind their
backs: `yes`, `no`, `on` and `off` stay words, `0` and `08` stay keys, and a key written twice
is an error instead of the last one silently winning. Types are decided later, by the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agi.problems import Place, Problem

HASH_KEY_LINE = re.compile(r"^\s*#:")
STRUCTURE = "yaml-structure"
MAX_DEPTH = 50
"""Groups and lists nested deeper than this are refused: no menu needs it, and reading a
file thousands of levels deep would exhaust the stack."""
MAX_VALUES = 50_000
"""The most values a file may hold once every alias (*name) is copied out: a few aliases
that repeat each other can otherwise stand for billions of values."""


@dataclass
class Document:
    file: Path
    data: Any
    lines: dict[Place, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    text_lines: list[str] = field(default_factory=list)
    """The file's lines, to tell what a mistake looks like where it is."""

    def problem(self, line: int, place: Place, message: str, rule: str = STRUCTURE) -> None:
        self.problems.append(Problem(self.file, line, rule, message, place=place))

    def line_of(self, path: Place) -> int:
        """The line of `path`, or of its nearest enclosing value that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    """The file cannot be read as YAML at all; `rule` names why (`yaml-syntax` mostly)."""

    def __init__(self, line: int, message: str, rule: str = "yaml-syntax") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.rule = rule

    def problem(self, file: Path) -> Problem:
        return Problem(file, self.line, self.rule, self.message)


def read_yaml(text: str, file: Path = Path("<text>")) -> Document:
    try:
        _check_size(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line, message = _describe(error)
        if line is None:
            mark = error.problem_mark or error.context_mark
            line = (mark.line + 1) if mark else 1
        raise YamlSyntaxError(line, message) from None
    document = Document(file=file, data=None, text_lines=text.splitlines())
    if root is not None:
        document.data = _convert(root, (), document)
    for number, line in enumerate(document.text_lines, start=1):
        if HASH_KEY_LINE.match(line):
            document.problem(
                number,
                (),
                "this line starts with # so it is read as a comment and ignored; to use "
                'the key # write it in quotes:  "#": ...',
                rule="bad-digit-key",
            )
    return document


def _check_size(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and aliases that refer to themselves or copy out
    more than MAX_VALUES values, before anything is built from the file.

    Reads PyYAML's event stream, which needs no recursion; composing the nodes and
    converting them (`_convert`) recurse, and a converted alias is a full copy.
    """
    sizes: dict[str, int] = {}
    """Values an anchor stands for, once its group or list has ended."""
    open_anchors: list[str | None] = []
    counts = [0]
    """Values inside each group or list still open, the whole document first."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise YamlSyntaxError(
                    line,
                    f"*{event.anchor} refers to the group or list it is inside (&{event.anchor}"
                    "), so it would never end; write the settings out instead of *",
                    rule="yaml-alias-loop",
                )
            counts[-1] += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            counts[-1] += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_anchors) >= MAX_DEPTH:
                raise YamlSyntaxError(
                    line,
                    f"groups and lists are nested more than {MAX_DEPTH} levels deep here; "
                    "a menu needs only a few levels: check the indentation and the brackets",
                    rule="yaml-too-deep",
                )
            open_anchors.append(event.anchor)
            counts.append(1)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor = open_anchors.pop()
            size = counts.pop()
            if anchor:
                sizes[anchor] = size
            counts[-1] += size
        if sum(counts) > MAX_VALUES:
            raise YamlSyntaxError(
                line,
                f"the aliases (*name) here copy out more than {MAX_VALUES} values; write the "
                "settings out instead of repeating them with & and *",
                rule="yaml-alias-bomb",
            )


def read_yaml_file(path: Path) -> Document:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise YamlSyntaxError(
            line,
            "this line is not in UTF-8 (the file was probably saved as Windows-1251); save "
            "the file again with the encoding UTF-8",
        ) from None
    return read_yaml(text, path)


def _describe(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """The line to show and a plain-words explanation of a YAML syntax error.

    PyYAML's own wording ("expected <block end>") means nothing to the people who edit the
    file, so the common mistakes are named; anything else keeps PyYAML's text after ours.
    """
    problem = error.problem or ""
    context = error.context or ""
    at_context = error.context_mark.line + 1 if error.context_mark else None
    if context in ("while scanning an alias", "while scanning an anchor") or (
        "undefined alias" in problem
    ):
        sign = "&" if "anchor" in context else "*"
        return None, (
            f"a key or value that starts with {sign} must be written in quotes: "
            f'"{sign}" (without quotes, YAML gives {sign} a special meaning)'
        )
    if "'\\t'" in problem:
        return None, "a tab character is used here: indent with spaces only, never with tabs"
    if "cannot start any token" in problem:
        char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        return None, f"a value cannot start with {char}: write the value in quotes"
    if context == "while scanning a quoted scalar":
        return at_context, (
            "a quote opened on this line is never closed: end the text with the same quote "
            "on the same line"
        )
    if context in ("while parsing a flow sequence", "while parsing a flow mapping"):
        bracket, closing = ("[", "]") if "sequence" in context else ("{", "}")
        return at_context, (
            f"the {bracket} opened on this line is not closed by {closing} on the same line, "
            "or a comma is missing between its items"
        )
    if "could not find expected ':'" in problem:
        return at_context, "this line has no ':'; each setting is written  name: value"
    if "mapping values are not allowed" in problem:
        return None, (
            "a ':' is in an unexpected place: check that this line is indented like the "
            "lines around it, and put text that contains ': ' in quotes"
        )
    if "expected <block end>" in problem or "did not find expected" in problem:
        return None, (
            "this line is not indented like the lines around it: settings of the same group "
            "must start in the same column"
        )
    if "expected a single document" in context:
        return None, "a second document starts here (a line with ---): keep only one per file"
    return None, f"the file is not valid YAML here ({problem or context or error})"


def _convert(node: yaml.Node, path: Place, document: Document) -> Any:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                document.problem(
                    line,
                    path,
                    "a key must be a single word or number, not a list or a group; "
                    "a key that starts with [ or { must be written in quotes",
                )
                continue
            key = key_node.value
            if key == "<<":
                document.problem(
                    line,
                    path,
                    "'<<' (copying settings from another place) is not supported; "
                    "write each setting out in full",
                )
                continue
            if key in result:
                first = document.lines[(*path, key)]
                document.problem(
                    line,
                    (*path, key),
                    f"'{key}' is written twice here (first on line {first}); keep only one of them",
                    rule="duplicate-key",
                )
                continue
            document.lines[(*path, key)] = line
            result[key] = _convert(value_node, (*path, key), document)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, index), document) for index, item in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:null" and node.value in ("", "~", "null", "Null", "NULL"):
        return None
    return node.value
