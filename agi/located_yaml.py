"""YAML read for people: every value stays text, every place keeps its line.

Call-center staff edit the flow, so YAML 1.1's surprises must not change a menu behind their
backs: `yes`, `no`, `on` and `off` stay words, `0` and `08` stay keys, and a key written twice
is an error instead of the last one silently winning. Types are decided later, by the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    line: int
    path: Path_
    message: str


@dataclass
class Document:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest enclosing value that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def read_yaml(text: str) -> Document:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlSyntaxError((mark.line + 1) if mark else 1, _describe(error)) from None
    document = Document(data=None)
    if root is not None:
        document.data = _convert(root, (), document)
    return document


def read_yaml_file(path: Path) -> Document:
    return read_yaml(path.read_text(encoding="utf-8"))


def _describe(error: yaml.MarkedYAMLError) -> str:
    problem = error.problem or "the file is not valid YAML"
    if "alias" in problem or "alphabetic or numeric character" in problem:
        return (
            f"{problem}; a value that starts with * or & (such as the key '*') must be "
            'written in quotes: "*"'
        )
    if "mapping values are not allowed" in problem:
        return f"{problem}; check the indentation and that text with ':' is in quotes"
    return problem


def _convert(node: yaml.Node, path: Path_, document: Document) -> Any:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                document.problems.append(
                    Problem(line, path, "a key must be a plain word or number")
                )
                continue
            key = key_node.value
            if key == "<<":
                document.problems.append(
                    Problem(line, path, "merge keys (<<) are not supported; write the settings out")
                )
                continue
            if key in result:
                first = document.lines[(*path, key)]
                document.problems.append(
                    Problem(
                        line, (*path, key), f"'{key}' is written twice here (first on line {first})"
                    )
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
