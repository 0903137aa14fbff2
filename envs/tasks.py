"""Tasks for ToolUse-v0: a built-in suite with checkable answers, the ToolEyes queries, or a user's JSONL.

A task is a user query, the tools the model may use, and optionally gold: the expected calls in order and an
acceptable final answer. Built-in answers are computed by calling the built-in tools themselves, so a gold answer
can never drift from what the tool server returns.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tool_server import ToolServer, load_catalog


@dataclass
class Task:
    id: str
    query: str
    tools: list[dict]  # OpenAI function schemas {"name", "description", "parameters"}
    gold_calls: list[dict] = field(default_factory=list)  # [{"name", "arguments"}], in order
    answer: str | None = None  # an acceptable final answer (see check_answer)
    toolset: str | None = None  # the catalog toolset the tools come from (external catalogs)
    scenario: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """The task of a JSON object (other keys ignored); ValueError names a missing or mistyped field."""
        missing = [key for key in ("id", "query", "tools") if key not in data]
        if missing:
            raise ValueError(f"a task needs the fields id, query and tools; missing {', '.join(missing)}")
        for key, kinds in _FIELD_TYPES.items():
            if key in data and not isinstance(data[key], kinds):
                raise ValueError(f"task field {key!r} must be {kinds[0].__name__}, got {type(data[key]).__name__}")
        return cls(
            **{k: data[k] for k in ("id", "query", "tools") if k in data},
            **{k: data[k] for k in ("gold_calls", "answer", "toolset", "scenario") if k in data},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_TYPES = {
    "id": (str,),
    "query": (str,),
    "tools": (list,),
    "gold_calls": (list,),
    "answer": (str, type(None)),
    "toolset": (str, type(None)),
    "scenario": (str,),
}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def check_answer(expected: str, answer: str) -> bool:
    """Numbers match within 0.5% (any number in the answer); other answers match as case-insensitive substrings."""
    if _NUMBER.fullmatch(expected.strip()):
        target = float(expected)
        found = [float(x) for x in _NUMBER.findall(answer.replace(",", ""))]
        return any(abs(x - target) <= max(abs(target) * 0.005, 0.01) for x in found)
    return expected.strip().lower() in answer.lower()


def load_tasks(path: str | os.PathLike) -> list[Task]:
    """A user's tasks: one JSON object per line with the fields of Task (id, query and tools required)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Task.from_dict(json.loads(line)) for line in lines if line.strip()]


def tooleyes_tasks(data_dir: str | os.PathLike) -> list[Task]:
    """The 382 ToolEyes queries; each may use the tools of its catalog folder (the task's toolset). No gold."""
    data_dir = Path(data_dir)
    catalog = load_catalog(data_dir / "tooleyes" / "catalog")
    server = ToolServer(catalog)
    queries = json.loads((data_dir / "tooleyes" / "queries" / "queries.json").read_text(encoding="utf-8"))
    tasks = []
    for i, q in enumerate(queries):
        toolset = "/".join(q["path"].split("/")[-2:])  # 'ToolEyes/Tool_Library/Random/Random' -> 'Random/Random'
        tasks.append(
            Task(f"tooleyes-{i}", q["query"], server.tools(toolset=toolset), toolset=toolset, scenario=q["scenario"])
        )
    return tasks
