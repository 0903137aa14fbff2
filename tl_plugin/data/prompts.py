"""`tl-prompts`: write OpenRLHF prompt datasets (JSONL) for PPO with the IRM reward.

Each row: {"id": ..., "input": [chat messages], "label": "<label JSON string>"}. The input is a list of
{"role", "content"} messages (system with the tool list, then the user query and any earlier turns), for
`--data.input_key input --data.label_key label --data.apply_chat_template`: the policy's own chat template renders
it. The label follows the schema in `tl_plugin.adapters.reward`.
Sources:
- RoTBench files (first_turn/third_turn clean.json): their own ReAct system prompt and history (function turns
  become "tool" messages); gold = the list of acceptable answers; mode "rotbench".
- BFCL v3 AST files (question + function), with the possible answers from `possible_answer/<same name>`;
  mode "bfcl"; the exec files with their ground-truth calls, mode "exact". The system prompt is the
  `--prompt-format`'s (tl_plugin.core.formats).
- The built-in tasks of ToolUse-v0 (`--builtin-tasks`): the label is the task itself (`envs.tasks.Task` as JSON,
  what tl_plugin.adapters.agent resets its env from) plus the reward's keys, gold = the task's first call, mode "exact";
  so one dataset serves single-turn PPO with the IRM reward and multi-turn PPO with the agent.
- Generic JSONL, one {"tools", "messages", "gold", "mode"?} per line (mode default "exact"); a system message
  listing the tools (the `--prompt-format`'s) is added when the messages have none.
Every source runs through tl_plugin.data.sources.convert: kept and dropped counts, with a reason for each drop.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from tl_plugin.core import bfcl
from tl_plugin.core.formats import FORMATS, get_format
from tl_plugin.core.judge import Gold
from tl_plugin.data.sources import Drop, Report, bfcl_gold, convert, read_bfcl, read_records, rotbench_item, write_jsonl


def _row(row_id: str, messages: list[dict], tools: list, gold: object, mode: str) -> dict:
    label = {"tools": tools, "gold": gold, "mode": mode}
    try:
        Gold(gold, tools, mode)  # a label the reward cannot read must fail here, not during PPO
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise Drop(f"unreadable gold or tools ({type(e).__name__})") from None
    return {"id": row_id, "input": messages, "label": json.dumps(label, ensure_ascii=False)}


def builtin_row(task: object, notes: Counter, prompt_format: str = "chat_template") -> dict:
    """A built-in task: the env's own first observation as the input, the task plus the reward's keys as the label."""
    messages = [
        {"role": "system", "content": get_format(prompt_format).system_prompt(task.tools)},
        {"role": "user", "content": task.query},
    ]
    row = _row(task.id, messages, task.tools, [task.gold_calls[0]], "exact")
    row["label"] = json.dumps({**task.to_dict(), **json.loads(row["label"])}, ensure_ascii=False)
    return row


def rotbench_row(record: dict, notes: Counter, prompt_format: str = "react") -> dict:
    """A RoTBench item with its own system prompt and history; gold = the acceptable answers (mode rotbench)."""
    tools, messages, gold = rotbench_item(record)
    return _row(str(record["id"]), messages, tools, gold, "rotbench")


def bfcl_row(item: dict, notes: Counter, prompt_format: str = "python") -> dict:
    """A BFCL v3 item: an AST one with its possible answers (read_bfcl merges them in), mode bfcl; an exec one with
    its ground-truth calls (read by BFCL's decoder), mode exact. Irrelevance items have no call to reward."""
    if len(item["question"]) != 1:
        raise Drop("multi-turn question")
    tools = item["function"]
    if "ground_truth" in item:
        try:
            calls = [call.as_dict() for text in item["ground_truth"] for call in bfcl.decode(text)]
        except bfcl.DecodeError:
            raise Drop("unreadable ground truth") from None
        system = {"role": "system", "content": get_format(prompt_format).system_prompt(tools, actions=False)}
        return _row(item["id"], [system, *item["question"][0]], tools, [calls], "exact")
    if item.get("possible_answer") is None:
        raise Drop("no possible answer (the irrelevance set, or possible_answer/ missing)")
    gold = bfcl_gold(item["possible_answer"], tools)
    names = [tool["name"] for tool in tools]
    if any(call["name"] not in names for call in gold[0]):
        raise Drop("gold tool not in the function list")
    system = {"role": "system", "content": get_format(prompt_format).system_prompt(tools, actions=False)}
    return _row(item["id"], [system, *item["question"][0]], tools, gold, "bfcl")


def jsonl_row(item: dict, notes: Counter, prompt_format: str = "python") -> dict:
    """A {"tools", "messages", "gold", "mode"?} record; a system prompt is added when the messages have none."""
    if not isinstance(item, dict) or not all(item.get(key) for key in ("tools", "messages", "gold")):
        raise Drop("missing tools, messages or gold")
    messages = item["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise Drop("messages are not a list of {role, content}")
    if messages[0]["role"] != "system":
        system = get_format(prompt_format).system_prompt(item["tools"], actions=False)
        messages = [{"role": "system", "content": system}, *messages]
    return _row(str(item["id"]), messages, item["tools"], item["gold"], item.get("mode", "exact"))


SOURCES = {"rotbench": (read_records, rotbench_row), "bfcl": (read_bfcl, bfcl_row), "jsonl": (read_records, jsonl_row)}


def prompt_rows(source: str, path: str | Path | None = None, prompt_format: str = "python") -> tuple[list, Report]:
    """The rows of one file of a source ("rotbench", "bfcl", "jsonl"), or of the built-in tasks ("builtin", no
    path), and the report. Rows without an id of their own get FILE:N, N counting every record of the file."""
    if source == "builtin":
        from envs.builtin_tasks import builtin_tasks  # the data tools may import envs; the core may not

        return convert(builtin_tasks(), builtin_row, prompt_format="chat_template")
    reader, converter = SOURCES[source]
    records = reader(path)
    rows, report = convert(
        [{"id": f"{Path(path).stem}:{n}", **r} if isinstance(r, dict) else r for n, r in enumerate(records)],
        converter,
        prompt_format=prompt_format,
    )
    return rows, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tl-prompts", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output JSONL (columns id, input, label)")
    parser.add_argument("--rotbench", nargs="*", default=[], help="RoTBench clean.json files")
    parser.add_argument("--bfcl", nargs="*", default=[], help="BFCL v3 AST and exec files")
    parser.add_argument("--jsonl", nargs="*", default=[], help='JSONL files of {"tools", "messages", "gold"}')
    parser.add_argument("--builtin-tasks", action="store_true", help="the built-in tasks of ToolUse-v0")
    parser.add_argument(
        "--prompt-format",
        default="python",
        choices=list(FORMATS),
        help="the prompt format whose system prompt lists the tools (BFCL and JSONL sources)",
    )
    args = parser.parse_args(argv)
    sources = [("rotbench", p) for p in args.rotbench] + [("bfcl", p) for p in args.bfcl]
    sources += [("jsonl", p) for p in args.jsonl] + ([("builtin", None)] if args.builtin_tasks else [])
    if not sources:
        parser.error("give at least one of --rotbench, --bfcl, --jsonl, --builtin-tasks")
    rows = []
    for source, path in sources:
        kept, report = prompt_rows(source, path, args.prompt_format)
        rows += kept
        print(f"{path or 'builtin tasks'}: {report}")
    print(f"wrote {write_jsonl(args.out, rows)} rows to {args.out}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
