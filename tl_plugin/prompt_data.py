"""`tl-prompts`: write OpenRLHF prompt datasets (JSONL) for PPO with the IRM reward.

Each row: {"id": ..., "input": [chat messages], "label": "<label JSON string>"}. The input is a list of
{"role", "content"} messages (system with the tool list, then the user query and any earlier turns), for
`--data.input_key input --data.label_key label --data.apply_chat_template`: the policy's own chat template renders
it. The label follows the schema in `tl_plugin.reward`.
Sources:
- RoTBench files (first_turn/third_turn clean.json): their own ReAct system prompt and history (function turns
  become "tool" messages); gold = the list of acceptable answers; mode "rotbench".
- BFCL v3 AST files (question + function), with the possible answers from `possible_answer/<same name>`;
  mode "bfcl". The system prompt lists the tools and asks for calls in `--call-format`.
- The built-in tasks of ToolUse-v0 (`--builtin-tasks`): the label is the task itself (`envs.tasks.Task` as JSON,
  what tl_plugin.agent resets its env from) plus the reward's keys, gold = the task's first call, mode "exact";
  so one dataset serves single-turn PPO with the IRM reward and multi-turn PPO with the agent.
- Generic JSONL, one {"tools", "messages", "gold", "mode"?} per line (mode default "exact"); a system message
  listing the tools is added when the messages have none.
Kept and dropped counts are reported with a reason for each drop.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tl_plugin.judge import Gold
from tl_plugin.parsing import ToolCall, format_call, parse

_EXAMPLE = ToolCall("get_weather", {"city": "Paris", "days": 3})


def system_prompt(tools: list[dict], call_format: str = "python") -> str:
    """A system message listing the tools and showing how to call them in one format."""
    listing = json.dumps(tools, ensure_ascii=False)
    return (
        f"You can call the following tools (JSON schemas):\n{listing}\n\n"
        f"To call a tool, answer with the call only, in this format:\n{format_call(_EXAMPLE, call_format)}\n"
        "Several calls may be made at once, one after another."
    )


def _row(row_id: str, messages: list[dict], tools: list, gold: object, mode: str) -> dict:
    label = {"tools": tools, "gold": gold, "mode": mode}
    Gold(gold, tools, mode)  # a label the reward cannot read is a converter bug: fail here, not during PPO
    return {"id": row_id, "input": messages, "label": json.dumps(label, ensure_ascii=False)}


def builtin_task_rows() -> tuple[list[dict], Counter]:
    """Rows from the built-in tasks: the env's own first observation as the input, the task as the label."""
    from envs.builtin_tasks import builtin_tasks
    from envs.prompts import system_prompt as env_system_prompt  # adapters may import envs; the core may not

    rows = []
    for task in builtin_tasks():
        messages = [
            {"role": "system", "content": env_system_prompt(task.tools, "chat_template")},
            {"role": "user", "content": task.query},
        ]
        row = _row(task.id, messages, task.tools, [task.gold_calls[0]], "exact")
        row["label"] = json.dumps({**task.to_dict(), **json.loads(row["label"])}, ensure_ascii=False)
        rows.append(row)
    return rows, Counter()


def rotbench_rows(path: str | Path) -> tuple[list[dict], Counter]:
    """Rows from a RoTBench clean.json; the tool list is the JSON array inside the system prompt."""
    rows, dropped = [], Counter()
    for n, item in enumerate(json.loads(Path(path).read_text(encoding="utf-8"))):
        turns = item.get("conversations") or []
        if len(turns) < 3 or not isinstance(turns[-1].get("value"), list):
            dropped["no list of gold answers in the last turn"] += 1
            continue
        system = turns[0]["value"]
        try:
            tools = json.JSONDecoder().raw_decode(system, system.index("["))[0]
        except ValueError:
            dropped["no JSON tool list in the system prompt"] += 1
            continue
        gold = [parse(answer, "react") for answer in turns[-1]["value"]]
        if any(g.error or len(g.calls) != 1 for g in gold):
            dropped["a gold answer is not one ReAct call"] += 1
            continue
        roles = {"system": "system", "user": "user", "assistant": "assistant", "function": "tool"}
        messages = [{"role": roles.get(t["from"], t["from"]), "content": t["value"]} for t in turns[:-1]]
        rows.append(_row(f"{Path(path).stem}:{n}", messages, tools, [g.calls[0].as_dict() for g in gold], "rotbench"))
    return rows, dropped


def bfcl_rows(path: str | Path, call_format: str = "python") -> tuple[list[dict], Counter]:
    """Rows from a BFCL v3 AST file and its possible answers (possible_answer/ beside it)."""
    path = Path(path)
    answers_path = path.parent / "possible_answer" / path.name
    rows, dropped = [], Counter()
    if not answers_path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        dropped[f"no possible answers ({answers_path} missing)"] += sum(1 for line in lines if line.strip())
        return rows, dropped
    answers = {}
    for line in answers_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            answers[record["id"]] = record["ground_truth"]
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item["id"] not in answers:
            dropped["no possible answer for the id"] += 1
            continue
        if len(item["question"]) != 1:
            dropped["multi-turn question"] += 1
            continue
        tools = item["function"]
        names = [tool["name"] for tool in tools]
        gold = []
        for call in answers[item["id"]]:
            ((name, arguments),) = call.items()
            gold.append({"name": _bfcl_name(name, names), "arguments": arguments})
        if any(call["name"] not in names for call in gold):
            dropped["gold tool not in the function list"] += 1
            continue
        messages = [{"role": "system", "content": system_prompt(tools, call_format)}, *item["question"][0]]
        rows.append(_row(item["id"], messages, tools, [gold], "bfcl"))
    return rows, dropped


def _bfcl_name(name: str, names: list[str]) -> str:
    """A few BFCL possible answers drop the tool's namespace ("find_closest" for "restaurant_search.find_closest"),
    which BFCL's checker never notices in single-function items: restore it when exactly one tool fits."""
    if name in names:
        return name
    fits = [n for n in names if n.endswith("." + name)]
    return fits[0] if len(fits) == 1 else name


def jsonl_rows(path: str | Path, call_format: str = "python") -> tuple[list[dict], Counter]:
    """Rows from a JSONL of {"tools", "messages", "gold", "mode"?}."""
    rows, dropped = [], Counter()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            dropped["invalid JSON line"] += 1
            continue
        if not isinstance(item, dict) or not all(item.get(key) for key in ("tools", "messages", "gold")):
            dropped["missing tools, messages or gold"] += 1
            continue
        messages = item["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
            dropped["messages are not a list of {role, content}"] += 1
            continue
        if messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system_prompt(item["tools"], call_format)}, *messages]
        try:
            rows.append(
                _row(
                    str(item.get("id", f"{Path(path).stem}:{n}")),
                    messages,
                    item["tools"],
                    item["gold"],
                    item.get("mode", "exact"),
                )
            )
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            dropped[f"unreadable gold or tools ({type(e).__name__})"] += 1
    return rows, dropped


def write_rows(rows: Iterable[dict], out: str | Path) -> int:
    """Write rows as JSONL; returns how many."""
    count = 0
    with open(out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tl-prompts", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output JSONL (columns id, input, label)")
    parser.add_argument("--rotbench", nargs="*", default=[], help="RoTBench clean.json files")
    parser.add_argument("--bfcl", nargs="*", default=[], help="BFCL v3 AST files (possible_answer/ beside them)")
    parser.add_argument("--jsonl", nargs="*", default=[], help='JSONL files of {"tools", "messages", "gold"}')
    parser.add_argument("--builtin-tasks", action="store_true", help="the built-in tasks of ToolUse-v0")
    parser.add_argument(
        "--call-format",
        default="python",
        choices=["python", "json", "tool_call", "react"],
        help="the call format the system prompt asks for (BFCL and JSONL sources)",
    )
    args = parser.parse_args(argv)
    sources = [(p, rotbench_rows, ()) for p in args.rotbench]
    sources += [(p, bfcl_rows, (args.call_format,)) for p in args.bfcl]
    sources += [(p, jsonl_rows, (args.call_format,)) for p in args.jsonl]
    if args.builtin_tasks:
        sources.append(("builtin tasks", lambda _: builtin_task_rows(), ()))
    if not sources:
        parser.error("give at least one of --rotbench, --bfcl, --jsonl, --builtin-tasks")
    rows = []
    for path, reader, extra in sources:
        kept, dropped = reader(path, *extra)
        rows += kept
        reasons = "".join(f"\n    {count} {reason}" for reason, count in dropped.most_common())
        print(f"{path}: kept {len(kept)}, dropped {sum(dropped.values())}{reasons}")
    print(f"wrote {write_rows(rows, args.out)} rows to {args.out}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
