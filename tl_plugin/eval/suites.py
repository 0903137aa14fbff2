"""The single-turn test sets of `tl-eval`, read into one item shape, and documentation noise applied to them.

An `Item` is one prompt (chat messages whose system message lists the tools), its tools, and how to score the answer:
- "rotbench": RoTBench's scorer (tl_plugin.core.rotbench) on ReAct text. RoTBench files in its own format (any of
  them: first/third turn, clean or the official noisy ones) keep their own system prompt and history. ToolAlpaca's
  eval_real becomes this kind too: its tools (from Function_Description) with ask_to_user and finish appended, as
  RoTBench lists them, the first golden step as the gold answer, the react prompt format's system prompt.
- "bfcl": BFCL's AST checker (tl_plugin.core.bfcl) on Python call lists, gold = the possible answers.
- "bfcl_exec": BFCL's exec sets, read by BFCL's decoder, then TS/PI/CF with RoTBench's semantics (exact names, keys
  and values; parallel calls in any order) against the ground-truth calls.
- "irrelevance": BFCL's irrelevance sets: right when the output holds no call, as BFCL decides it; "relevance"
  (live_relevance): right when it holds one. Dropped: BFCL's Java and JavaScript sets (their checker reads values in
  those languages) and its multi_turn sets (their checker runs the calls on stateful APIs).
- "exact": the built-in tasks of ToolUse-v0, their first gold call, read by our parser (they have no official scorer).
Every reader goes through tl_plugin.data.sources.convert, so an item that cannot be read is dropped with a reason.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tl_plugin.core import bfcl
from tl_plugin.core.formats import ASK_TOOL, FINISH_TOOL, get_format
from tl_plugin.data.sources import Drop, Report, convert, read_bfcl, read_records, rotbench_item
from tool_server.noise import add_noise

BENCHMARKS = ("rotbench", "bfcl", "toolalpaca", "tooleyes", "builtin")
SINGLE_TURN = ("rotbench", "bfcl", "toolalpaca", "builtin")
# What `tl-eval run` reads for each benchmark when --data is not given, relative to the data directory.
DEFAULT_FILES = {
    "rotbench": ["rotbench/first_turn_clean.json", "rotbench/third_turn_clean.json"],
    "bfcl": [
        f"bfcl_v3/BFCL_v3_{name}.json"
        for name in (
            "simple",
            "multiple",
            "parallel",
            "parallel_multiple",
            "exec_simple",
            "exec_multiple",
            "exec_parallel",
            "exec_parallel_multiple",
            "irrelevance",
        )
    ],
    "toolalpaca": ["toolalpaca/eval_real.json"],
}


@dataclass
class Item:
    id: str
    subset: str  # the file (stem) it comes from: the unit results are reported by
    messages: list[dict]
    tools: list[dict]
    kind: str  # rotbench, bfcl, bfcl_exec, irrelevance, exact (see the module docstring)
    gold: Any = None  # the judge's gold; for bfcl BFCL's own ground truth; None: unreadable, the item fails
    category: str | None = None  # the BFCL test category
    scenario: str = ""
    extra: dict = field(default_factory=dict)


def load(benchmark: str, path: str | Path | None = None, prompt_format: str = "react") -> tuple[list[Item], Report]:
    """The items of one file of a benchmark ("builtin": the built-in tasks, no path) and the reader's report."""
    if benchmark == "builtin":
        from envs.builtin_tasks import builtin_tasks

        return convert(builtin_tasks(), _builtin_item, prompt_format=prompt_format)
    path = Path(path)
    reader, converter = {
        "rotbench": (read_records, _rotbench_item),
        "toolalpaca": (_toolalpaca_records, _toolalpaca_item),
        "bfcl": (read_bfcl, _bfcl_item),
    }[benchmark]
    records = [r if not isinstance(r, dict) else {"_index": i, **r} for i, r in enumerate(reader(path))]
    return convert(records, converter, subset=path.stem, prompt_format=prompt_format)


def _rotbench_item(record: dict, notes: Counter, subset: str, prompt_format: str) -> Item:
    tools, messages, gold = rotbench_item(record)
    # RoTBench ids repeat across turns and files: the position in the file is what aligns predictions
    return Item(f"{subset}:{record['_index']}", subset, messages, tools, "rotbench", gold, scenario=record["scenario"])


def _toolalpaca_records(path: Path) -> list[dict]:
    """One record per (API, instruction) pair of eval_real."""
    records = []
    for api in read_records(path):
        instructions, answers = api.get("Instructions", []), api.get("Golden_Answers", [])
        for i, instruction in enumerate(instructions):
            answer = answers[i] if i < len(answers) else None
            records.append({"api": api, "instruction": instruction, "answer": answer, "n": i})
    return records


def _toolalpaca_item(record: dict, notes: Counter, subset: str, prompt_format: str) -> Item:
    api = record["api"]
    tools = [_toolalpaca_tool(name, text) for name, text in api["Function_Description"].items()]
    if not record["answer"]:
        raise Drop("no golden answer")
    first = record["answer"][0]
    try:
        gold = [{"name": first["Action"], "arguments": json.loads(first["Action_Input"])}]
    except (TypeError, ValueError):  # kept, so predictions stay aligned with the file; no answer can match it
        notes["golden Action_Input is not JSON: the item counts as failed"] += 1
        gold = None
    tools = [*tools, ASK_TOOL, FINISH_TOOL]
    messages = [{"role": "system", "content": ""}, {"role": "user", "content": record["instruction"]}]
    item = Item(f"{api['Name']}:{record['n']}", subset, messages, tools, "rotbench", gold, scenario=api["Category"])
    return _with_system_prompt(item, "react", actions=False)


def _toolalpaca_tool(name: str, text: str) -> dict:
    """A Function_Description entry ("summary\\nParameters: {json}\\nOutput: ...") as an OpenAI function schema;
    each parameter reads "[Required. ]type. description"."""
    summary, _, rest = text.partition("\nParameters: ")
    params_text = rest.split("\nOutput:", 1)[0]
    try:
        params = json.loads(params_text) if params_text.strip() else {}
    except ValueError:
        raise Drop(f"unreadable parameters of {name}") from None
    properties, required = {}, []
    for key, spec in params.items():
        words = str(spec).split(". ", 2) + ["", ""]
        if words[0] == "Required":
            required.append(key)
            words = words[1:]
        properties[key] = {"type": words[0].rstrip("."), "description": words[1].strip()}
    return {"name": name, "description": summary, "parameters": {"properties": properties, "required": required}}


def _bfcl_item(record: dict, notes: Counter, subset: str, prompt_format: str) -> Item:
    if len(record.get("question", [])) != 1:
        raise Drop("multi-turn question")
    tools = record["function"]
    messages = [{"role": "system", "content": ""}, *record["question"][0]]
    category = subset.removeprefix("BFCL_v3_")
    # java, javascript: BFCL reads their values as Java / JavaScript literals; multi_turn: it runs the calls'
    # effects on stateful APIs, turn by turn. Neither is an AST check of one Python answer.
    if "java" in category or "multi_turn" in category:
        raise Drop(f"BFCL's {category} set is not supported: only its single-turn Python sets are scored here")
    item = _with_system_prompt(Item(record["id"], subset, messages, tools, "bfcl", category=category), "python", False)
    if "relevance" in category:  # irrelevance: right without a call; (live_)relevance: right with one
        return replace(item, kind="irrelevance" if "irrelevance" in category else "relevance")
    if "ground_truth" in record:  # the exec sets: ground-truth calls as Python text
        try:
            calls = [call.as_dict() for text in record["ground_truth"] for call in bfcl.decode(text)]
        except bfcl.DecodeError:
            raise Drop("unreadable ground truth") from None
        return replace(item, kind="bfcl_exec", gold=[calls])
    if not record.get("possible_answer"):
        raise Drop("no possible answer (possible_answer/ missing beside the file)")
    return replace(item, gold=record["possible_answer"])


def _builtin_item(task: Any, notes: Counter, prompt_format: str) -> Item:
    messages = [{"role": "system", "content": ""}, {"role": "user", "content": task.query}]
    item = Item(task.id, "builtin", messages, task.tools, "exact", [task.gold_calls[0]], scenario=task.scenario)
    return _with_system_prompt(item, prompt_format, actions=True)


def _with_system_prompt(item: Item, prompt_format: str, actions: bool) -> Item:
    """The item with its first message the format's system prompt for its tools (remembered, for the noise)."""
    content = get_format(prompt_format).system_prompt(item.tools, actions=actions)
    messages = [{"role": "system", "content": content}, *item.messages[1:]]
    return replace(item, messages=messages, extra={**item.extra, "system_prompt": (prompt_format, actions)})


def with_noise(item: Item, level: str, seed: int = 0) -> Item:
    """The item with RoTBench-style documentation noise on its tools (tool_server.noise): the tool list the model
    sees and the gold answers are renamed alike. Seeded per item, so a level is the same test on every run."""
    if level == "clean" or (item.gold is None and item.kind not in ("irrelevance", "relevance")):
        return item
    noisy = add_noise(item.tools, level, seed=zlib.crc32(f"{seed}/{item.id}".encode()))
    if "system_prompt" in item.extra:  # a prompt we wrote: write it again for the noisy tools
        prompt_format, actions = item.extra["system_prompt"]
        content = get_format(prompt_format).system_prompt(noisy.tools, actions=actions)
    else:  # RoTBench's own prompt: keep its wording
        content = _replace_tool_list(item.messages[0]["content"], noisy.tools)
    messages = [{**item.messages[0], "content": content}, *item.messages[1:]]
    if item.kind == "bfcl":
        gold = [_noisy_bfcl_answer(noisy, answer) for answer in item.gold]
    elif item.kind in ("rotbench", "exact"):
        gold = [noisy.rewrite_call(call) for call in item.gold]
    elif item.kind == "bfcl_exec":
        gold = [[noisy.rewrite_call(call) for call in answer] for answer in item.gold]
    else:
        gold = item.gold
    return replace(item, messages=messages, tools=noisy.tools, gold=gold, extra={**item.extra, "noise": level})


def _noisy_bfcl_answer(noisy: Any, answer: dict) -> dict:
    ((name, arguments),) = answer.items()
    call = noisy.rewrite_call({"name": name, "arguments": arguments})
    added = noisy.extra_arguments.get(name, {})
    return {call["name"]: {k: [v] if k in added else v for k, v in call["arguments"].items()}}


def _replace_tool_list(text: str, noisy: list[dict]) -> str:
    """A RoTBench system prompt with its JSON tool list swapped for the noisy one (the prompt keeps its wording)."""
    start = text.find("[{")
    end = json.JSONDecoder().raw_decode(text, start)[1] if start >= 0 else -1
    if start < 0 or end <= start:
        raise ValueError("no JSON tool list in the RoTBench system prompt")
    return text[:start] + json.dumps(noisy, ensure_ascii=False) + text[end:]
