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


class FileProblem(ValueError):
    """A file that cannot be read as records at all; its message is `FILE:LINE: what is wrong`."""

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        self.path, self.line, self.problem = str(path), line, problem
        super().__init__(f"{path}:{line}: {problem}")


@dataclass(frozen=True)
class InvalidLine:
    """A line of a JSON Lines file that is not JSON: `convert` drops and counts it, the rest of the file goes on."""

    line: int  # 1-based, counting every line of the file
    problem: str


@dataclass
class Report:
    """What a conversion kept, masked (the model's erroneous calls: weight 0 under MAE) and dropped, with reasons."""

    kept: int = 0
    masked: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> records
    notes: Counter = field(default_factory=Counter)  # what was changed in kept records -> times
    invalid_lines: list[InvalidLine] = field(default_factory=list)  # the lines behind "invalid JSON line"

    def __str__(self) -> str:
        lines = [f"kept {self.kept}, masked {self.masked} erroneous calls, dropped {sum(self.dropped.values())}"]
        lines += [f"  dropped {n}: {reason}" for reason, n in self.dropped.most_common()]
        lines += [f"  note {n}: {reason}" for reason, n in self.notes.most_common()]
        return "\n".join(lines)


def convert(records: Iterable[Any], converter: Callable[..., Any], **options: Any) -> tuple[list[Any], Report]:
    """The converter's outputs for the records it keeps, and the report. An output dict with "messages" is a
    trajectory: its erroneous calls are counted as masked. An output dict that JSON cannot carry (NaN or Infinity,
    a lone surrogate, nesting too deep to write) is dropped with that reason rather than written broken."""
    report, outputs = Report(), []
    for record in records:
        notes = Counter()
        if isinstance(record, InvalidLine):
            report.dropped["invalid JSON line"] += 1
            report.invalid_lines.append(record)
            continue
        try:
            output = converter(record, notes, **options)
            trajectory = isinstance(output, dict) and "messages" in output
            if trajectory and not any(m["role"] == "assistant" for m in output["messages"]):
                raise Drop("no assistant turn")
            if isinstance(output, dict):
                _writable(output)
        except Drop as e:
            report.dropped[str(e)] += 1
            continue
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError) as e:
            report.dropped[f"malformed record ({type(e).__name__}: {str(e)[:60]})"] += 1
            continue
        report.kept += 1
        report.notes.update(notes)
        if trajectory:
            report.masked += sum(category.is_model_error for *_, category in call_categories(output))
        outputs.append(output)
    return outputs, report


def _writable(output: dict) -> None:
    """Drop unless `write_jsonl` can write the output as valid JSON in UTF-8."""
    try:
        json.dumps(output, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Drop("text with a lone surrogate (not valid Unicode)") from None
    except ValueError:
        raise Drop("a value is NaN or Infinity, which JSON cannot hold") from None
    except RecursionError:
        raise Drop("nested too deeply to write") from None


def read_records(path: str | Path) -> list[Any]:
    """Records of a .jsonl file (one per line) or a .json file (a list, one record, or JSON Lines: BFCL names its
    JSON Lines files .json). A UTF-8 byte-order mark is skipped. What makes the whole file unreadable (not UTF-8
    text, another suffix, empty, a .json that is not JSON) raises FileProblem; a line of JSON Lines that is not
    JSON becomes an InvalidLine record, so the other lines still count."""
    path = Path(path)
    if path.suffix not in (".json", ".jsonl"):
        raise FileProblem(path, 1, f"expected a .json or .jsonl file, not {path.suffix or 'a file without suffix'}")
    text = _utf8(path)
    if not text.strip():
        raise FileProblem(path, 1, "the file is empty")
    if path.suffix == ".json":
        try:
            value = json.loads(text)
            return value if isinstance(value, list) else [value]
        except RecursionError:
            raise FileProblem(path, 1, "nested too deeply to read") from None
        except json.JSONDecodeError as e:  # a first line that is a whole value, then more: JSON Lines
            if e.msg != "Extra data" or isinstance(_json_line(text.partition("\n")[0], 1), InvalidLine):
                raise FileProblem(path, e.lineno, f"not JSON: {e.msg} (column {e.colno})") from None
    # split on "\n" alone: str.splitlines also splits at U+2028 and friends, which JSON strings may hold
    return [_json_line(line, n) for n, line in enumerate(text.split("\n"), 1) if line.strip()]


def _utf8(path: Path) -> str:
    data = path.read_bytes()
    head = data[:256]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) > 3 and 0 in (max(head[0::2]), max(head[1::2]))):
        raise FileProblem(path, 1, "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FileProblem(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x}): a binary file?") from None
    if "\x00" in text:
        raise FileProblem(path, text.count("\n", 0, text.index("\x00")) + 1, "a NUL byte: a binary file?")
    return text


def _json_line(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        return InvalidLine(number, "nested too deeply to read")
    except json.JSONDecodeError as e:
        return InvalidLine(number, f"not JSON: {e.msg} (column {e.colno})")


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
    # the scorer's reading decides the tool list (its order and last two names matter); other files, ours
    tools = rotbench.tools(turns[0]["value"]) or tools_in_text(turns[0]["value"])
    if tools is None:
        raise Drop("no JSON tool list in the system prompt")
    gold = [rotbench.read(answer) for answer in turns[-1]["value"] if isinstance(answer, str)]  # as the scorer does
    if len(gold) != len(turns[-1]["value"]) or not all(name and isinstance(args, dict) for name, args in gold):
        raise Drop("a gold answer is not one ReAct call with a JSON object input")
    messages = [{"role": _ROLES.get(t["from"], t["from"]), "content": t["value"]} for t in turns[:-1]]
    return tools, messages, [{"name": name, "arguments": args} for name, args in gold]
