"""Mistakes in files that people edit, reported the way a person can act on them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    rule: str
    """A short, stable name of the rule that was broken (tests and support refer to it)."""
    message: str
    node: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}"
        if self.node:
            where += f", node '{self.node}'"
        return f"{where}: {self.message}"


class ProblemsFound(Exception):
    """One or more problems; all of them are listed, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.file), p.line, p.rule))
        super().__init__("\n".join(str(problem) for problem in self.problems))
