"""The prompt catalog: the text of every prompt id, in `prompts/<language>.yaml`.

Audio is found by the same ids, so a prompt can be regenerated or re-recorded without
touching the flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from agi.problems import Problem, ProblemsFound, unreadable

PROMPT_ID = re.compile(r"\A[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class PromptCatalog:
    path: Path
    texts: dict[str, str]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.texts

    def text(self, prompt_id: str) -> str:
        return self.texts[prompt_id]


def load_catalog(path: Path) -> PromptCatalog:
    from agi.located_yaml import STRUCTURE, YamlSyntaxError, read_yaml_file  # YAML: only here

    try:
        document = read_yaml_file(path)
    except FileNotFoundError:
        raise ProblemsFound(
            [Problem(path, 1, "missing-file", "the prompt catalog file does not exist")]
        ) from None
    except YamlSyntaxError as error:
        raise ProblemsFound([error.problem(path)]) from None
    except OSError as error:
        raise ProblemsFound([unreadable(path, "the prompt catalog", error)]) from None
    problems = [replace(problem, rule=STRUCTURE) for problem in document.problems]
    texts: dict[str, str] = {}
    if not isinstance(document.data, dict):
        problems.append(
            Problem(path, 1, "catalog-shape", "the catalog must list prompts as  id: text")
        )
    else:
        for prompt_id, text in document.data.items():
            line = document.line_of((prompt_id,))
            if not PROMPT_ID.match(prompt_id):
                problems.append(
                    Problem(
                        path,
                        line,
                        "prompt-id",
                        f"prompt id '{prompt_id}' may use only "
                        "small Latin letters, digits and _, starting with a letter",
                    )
                )
            elif not isinstance(text, str) or not text.strip():
                problems.append(
                    Problem(
                        path,
                        line,
                        "prompt-text",
                        f"prompt '{prompt_id}' needs its text on the same line, in quotes",
                    )
                )
            else:
                texts[prompt_id] = " ".join(text.split())
    if problems:
        raise ProblemsFound(problems)
    return PromptCatalog(path=path, texts=texts)
