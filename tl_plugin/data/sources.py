"""Reading public tool-use data, one reader per source format, and the one way records are converted and counted.

Every converter, into trajectories (tl_plugin.data.converters) or into PPO prompt rows (tl_plugin.data.prompts), is
`converter(record, notes, **options) -> output` and raises `Drop` to leave a record out; `convert` runs one over
records and returns the outputs with a `Report` of what was kept, masked and dropped, with reasons. A converter
never raises anything else on a bad record: `convert` counts it as malformed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_plugin.core import rotbench
from tl_plugin.core.taxonomy import function_schema
from tl_plugin.core.trajectory import call_categories

_DECODER = json.JSONDecoder()


class Drop(ValueError):
    """Raised by a converter to drop one record; the message is the reason the report counts."""


class InvalidLine(str):
    """A line of a JSON Lines file that is not JSON: `convert` drops it as such, the rest of the file goes on."""


@dataclass
class Report:
    """What a conversion kept, masked (the model's erroneous calls: weight 0 under MAE) and dropped, with reasons."""

    kept: int = 0
    masked: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> records
    notes: Counter = field(default_factory=Counter)  # what was changed in kept records -> times

    def __str__(self) -> str:
        lines = [f"kept {self.kept}, masked {self.masked} erroneous calls, dropped {sum(self.dropped.values())}"]
        lines += [f"  dropped {n}: {reason}" for reason, n in self.dropped.most_common()]
        lines += [f"  note {n}: {reason}" for reason, n in self.notes.most_common()]
        return "\n".join(lines)


def convert(records: Iterable[Any], converter: Callable[..., Any], **options: Any) -> tuple[list[Any], Report]:
    """The converter's outputs for the records it keeps, and the report. An output dict with "messages" is a
    trajectory: its erroneous calls are counted as masked."""
    report, outputs = Report(), []
    for record in records:
        notes = Counter()
        if isinstance(record, InvalidLine):
            report.dropped["invalid JSON line"] += 1
            continue
        try:
            output = converter(record, notes, **options)
            trajectory = isinstance(output, dict) and "messages" in output
            if trajectory and not any(m["role"] == "assistant" for m in output["messages"]):
                raise Drop("no assistant turn")
        except Drop as e:
            report.dropped[str(e)] += 1
            continue
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            report.dropped[f"malformed record ({type(e).__name__}: {str(e)[:60]})"] += 1
            continue
        report.kept += 1
        report.notes.update(notes)
        if trajectory:
            report.masked += sum(category.is_model_error for *_, category in call_categories(output))
        outputs.append(output)
    return outputs, report


def read_records(path: str | Path) -> list[Any]:
    """Records of a .jsonl file (one per line) or a .json file (a list, or one record; BFCL's JSON Lines files
    named .json are read as lines)."""
    text = Path(path).read_text(encoding="utf-8")
    if not str(path).endswith(".jsonl"):
        try:
            value = json.loads(text)
            return value if isinstance(value, list) else [value]
        except ValueError:
            pass
    return [_json_line(line) for line in text.splitlines() if line.strip()]


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return InvalidLine(line)


def read_bfcl(path: str | Path) -> list[dict]:
    """A BFCL v3 file's items, each with its "possible_answer" (from possible_answer/<same name> beside it, when
    there is one: the AST categories) merged in."""
    path = Path(path)
    items = read_records(path)
    answers_path = path.parent / "possible_answer" / path.name
    if answers_path.is_file():
        answers = {record["id"]: record["ground_truth"] for record in read_records(answers_path)}
        items = [{**item, "possible_answer": answers.get(item["id"])} for item in items]
    return items


def bfcl_gold(possible_answer: list[dict], tools: list[dict]) -> list[list[dict]]:
    """BFCL's ground truth [{name: {param: [accepted]}}] as the judge's gold: one answer, its calls in any order.

    A few BFCL possible answers drop the tool's namespace ("find_closest" for "restaurant_search.find_closest"),
    which BFCL's checker never notices in single-function items: the name is restored when exactly one tool fits."""
    names = [tool["name"] for tool in tools]
    gold = []
    for call in possible_answer:
        ((name, arguments),) = call.items()
        fits = [n for n in names if n.endswith("." + name)]
        gold.append({"name": fits[0] if name not in names and len(fits) == 1 else name, "arguments": arguments})
    return [gold]


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows, one JSON object per line; returns how many."""
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def tools_in_text(text: str) -> list[dict] | None:
    """The first JSON list of tool schemas in a text (ToolEyes and RoTBench system prompts), or None."""
    start = text.find("[{")
    while start >= 0:
        try:
            value = _DECODER.raw_decode(text, start)[0]
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(t, dict) and "name" in function_schema(t) for t in value):
            return [dict(function_schema(t)) for t in value]
        start = text.find("[{", start + 1)
    return None


_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "function": "tool"}


def rotbench_item(record: dict) -> tuple[list[dict], list[dict], list[dict]]:
    """(tools, messages before the answer, acceptable gold calls) of a RoTBench item: `conversations` of
    {"from", "value"}, the tools in the system prompt, the last value a list of acceptable ReAct answers."""
    turns = record["conversations"]
    if len(turns) < 3 or not isinstance(turns[-1].get("value"), list):
        raise Drop("no list of gold answers in the last turn")
    tools = tools_in_text(turns[0]["value"])
    if tools is None:
        raise Drop("no JSON tool list in the system prompt")
    gold = [rotbench.read(answer) for answer in turns[-1]["value"] if isinstance(answer, str)]  # as the scorer does
    if len(gold) != len(turns[-1]["value"]) or not all(name and isinstance(args, dict) for name, args in gold):
        raise Drop("a gold answer is not one ReAct call with a JSON object input")
    messages = [{"role": _ROLES.get(t["from"], t["from"]), "content": t["value"]} for t in turns[:-1]]
    return tools, messages, [{"name": name, "arguments": args} for name, args in gold]
