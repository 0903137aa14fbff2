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
Every source runs through tl_plugin.data.sources.convert: kept and dropped counts, with a reason for each drop;
a row whose label the reward could not read (tl_plugin.core.labels) is dropped here, not met during PPO.

`tl-prompts check FILE`: checks a prompt dataset (any writer's) before training: every row an object with
"input" (a non-empty list of {"role", "content"} messages) and "label" (tl_plugin.core.labels; a label that carries
a task, as the agent's do, must also be a readable `envs.tasks.Task`); each bad row is printed as
FILE:LINE: row ID: field: what is wrong. Exit codes (both commands): 0 fine; 1 bad rows (check) or no row kept;
2 a file, or a line of it, that cannot be read (FILE:LINE on stderr).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tl_plugin.core import bfcl
from tl_plugin.core.cli import add_log_level, progress, run, setup_logging
from tl_plugin.core.formats import FORMATS, get_format
from tl_plugin.core.labels import LabelError, read_label
from tl_plugin.data.sources import (
    Drop,
    FileProblem,
    InvalidLine,
    Report,
    bfcl_gold,
    convert,
    read_bfcl,
    read_records,
    rotbench_item,
    write_jsonl,
)

_INDEX = re.compile(r"\[\d+\]")


def _row(row_id: str, messages: list[dict], tools: list, gold: object, mode: str) -> dict:
    try:
        label = json.dumps({"tools": tools, "gold": gold, "mode": mode}, ensure_ascii=False, allow_nan=False)
        read_label(label)  # a label the reward cannot read must fail here, not during PPO
    except LabelError as e:  # the reason without indices, so the report counts one line per kind
        field = _INDEX.sub("[]", e.field) or "(the whole label)"
        raise Drop(f"bad label field {field}") from None
    except ValueError:
        raise Drop("a value is NaN or Infinity, which JSON cannot hold") from None
    return {"id": row_id, "input": messages, "label": label}


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


_ROLES = ("system", "user", "assistant", "tool")


def check_row(row: Any) -> tuple[str, str] | None:
    """(field, what is wrong) for a prompt row the trainer or the reward cannot use, None for a good one."""
    if not isinstance(row, dict):
        return "", f"a row must be a JSON object, got {type(row).__name__}"
    messages = row.get("input")
    if not isinstance(messages, list) or not messages:
        return "input", "expected a non-empty list of {role, content} messages"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"input[{i}].role", f"expected one of {', '.join(_ROLES)}"
        if not isinstance(message.get("content"), str):
            return f"input[{i}].content", "expected text"
    try:
        read_label(row.get("label"))
    except LabelError as e:
        return f"label.{e.field}" if e.field else "label", e.problem
    label = json.loads(row["label"])
    if "query" in label:  # a task for the agent (tl_plugin.adapters.agent resets its env from it)
        from envs.tasks import Task

        try:
            Task.from_dict(label)
        except ValueError as e:
            return "label", f"not a readable task for the agent ({e})"
    return None


def check_file(path: str) -> int:
    """`tl-prompts check FILE`: print each bad row as FILE:LINE: row ID: field: problem; returns the exit code."""
    try:
        rows = read_records(path)
    except FileProblem as e:
        print(e, file=sys.stderr)
        return 2
    bad = unreadable = 0
    for number, row in enumerate(rows, 1):  # .json lists have no line per row: the row's position stands in
        if isinstance(row, InvalidLine):
            print(f"{path}:{row.line}: {row.problem}", file=sys.stderr)
            unreadable += 1
            continue
        found = check_row(row)
        if found:
            field, problem = found
            row_id = row.get("id", "?") if isinstance(row, dict) else "?"
            print(f"{path}:{number}: row {row_id}: {field or 'row'}: {problem}")
            bad += 1
    print(f"{path}: {len(rows)} rows, {bad} bad, {unreadable} unreadable lines")
    return 2 if unreadable else 1 if bad or not rows else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        checker = argparse.ArgumentParser(prog="tl-prompts check", description="check a prompt dataset's rows")
        checker.add_argument("file", help="prompt JSONL (columns id, input, label)")
        add_log_level(checker)
        checked = checker.parse_args(argv[1:])
        setup_logging(checked.log_level)
        return run(lambda: check_file(checked.file), "tl_plugin.data.prompts")
    parser = argparse.ArgumentParser(prog="tl-prompts", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output JSONL (columns id, input, label); or `tl-prompts check FILE`")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_log_level(parser)
    args = parser.parse_args(argv)
    sources = [("rotbench", p) for p in args.rotbench] + [("bfcl", p) for p in args.bfcl]
    sources += [("jsonl", p) for p in args.jsonl] + ([("builtin", None)] if args.builtin_tasks else [])
    if not sources:
        parser.error("give at least one of --rotbench, --bfcl, --jsonl, --builtin-tasks")
    setup_logging(args.log_level)
    return run(lambda: _write(args, sources), "tl_plugin.data.prompts")  # anything else unreadable: one line


def _write(args: argparse.Namespace, sources: list[tuple[str, str | None]]) -> int:
    rows, problems = [], []
    for source, path in progress(sources, "tl-prompts", args.quiet, unit="file"):
        try:
            kept, report = prompt_rows(source, path, args.prompt_format)
        except FileProblem as e:
            kept, report = [], Report()
            problems.append(str(e))
        rows += kept
        problems += [f"{path}:{line.line}: {line.problem}" for line in report.invalid_lines]
        print(f"{path or 'builtin tasks'}: {report}")
    if rows:
        print(f"wrote {write_jsonl(args.out, rows)} rows to {args.out}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
