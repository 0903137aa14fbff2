"""Training trajectories from scripted agents against the tool server, with a chosen share of erroneous calls.

Each trajectory solves one built-in task (envs.tasks.builtin_tasks): the system prompt of the chosen prompt format
(envs.prompts, as the env shows it), the query, one assistant turn per gold call followed by the tool server's real
answer, then `finish` with the task's answer. A share of all calls (default 17%, the paper's measurement of
RoTLLaMA's data) are mistakes: before a gold call, an extra turn makes one error (a hallucinated tool sharing the
gold name's prefix, a hallucinated or a missing parameter, an invalid value), gets the server's real error feedback,
and the agent retries correctly: the data MAE exists for. Deterministic for a seed.

Samples are internal trajectories (tl_plugin.trajectories) plus "id" and "injected": the message index and
category of each mistake, so a test can check that MAE finds exactly these.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

from envs.builtin_tasks import builtin_tasks
from envs.prompts import ASK_TOOL, FINISH_TOOL, system_prompt
from envs.tasks import Task
from tl_plugin.parsing import format_call
from tl_plugin.taxonomy import Category, undefined_tool_message
from tool_server import ToolServer

MISTAKES = ("tool_hallucination", "parameter_hallucination", "parameter_missing", "parameter_invalid")
CALL_FORMATS = {"python": "python", "react": "react", "qwen": "tool_call", "chat_template": "tool_call"}
_NAME_ENDINGS = ("info", "data", "details", "now", "lookup", "v2")
_EXTRA_KEYS = ("location", "query", "lang", "format", "limit", "verbose")


def synth(
    n: int = 1217,
    error_rate: float = 0.17,
    seed: int = 0,
    prompt_format: str = "python",
    tasks: Sequence[Task] | None = None,
) -> list[dict]:
    """`n` trajectories over `tasks` (default: the built-in suite, each used in turn in a seeded order), with
    round(error_rate * calls / (1 - error_rate)) mistakes, so that mistakes are `error_rate` of all calls
    (the finish actions included). At most one mistake per gold call: error_rate must be below 0.5."""
    if not 0.0 <= error_rate < 0.5:
        raise ValueError(f"error_rate must be in [0, 0.5): one mistake at most per gold call; got {error_rate}")
    if prompt_format not in CALL_FORMATS:
        raise ValueError(f"unknown prompt format {prompt_format!r}; choose one of {sorted(CALL_FORMATS)}")
    rng = random.Random(seed)
    tasks = list(tasks) if tasks is not None else builtin_tasks()
    picked = []
    while len(picked) < n:
        picked += rng.sample(tasks, len(tasks))
    picked = picked[:n]
    calls = sum(len(task.gold_calls) + 1 for task in picked)
    slots = [(i, k) for i, task in enumerate(picked) for k in range(len(task.gold_calls))]
    wrong = set(rng.sample(slots, min(len(slots), round(error_rate * calls / (1 - error_rate)))))
    server = ToolServer(seed=seed)
    try:
        return [
            _trajectory(f"synth-{seed}-{i}", task, i, wrong, server, rng, prompt_format)
            for i, task in enumerate(picked)
        ]
    finally:
        server.close()


def _trajectory(
    sample_id: str, task: Task, i: int, wrong: set, server: ToolServer, rng: random.Random, prompt_format: str
) -> dict:
    fmt = CALL_FORMATS[prompt_format]
    tools = task.tools + [ASK_TOOL, FINISH_TOOL]
    messages = [
        {"role": "system", "content": system_prompt(task.tools, prompt_format)},
        {"role": "user", "content": task.query},
    ]
    injected = []

    def turn(call: dict, feedback: str | None) -> None:
        messages.append({"role": "assistant", "content": format_call(call, fmt), "tool_calls": [call]})
        if feedback is not None:
            messages.append({"role": "tool", "content": feedback})

    for k, gold in enumerate(task.gold_calls):
        if (i, k) in wrong:
            mistake = _mistake(gold, task.tools, server, sample_id, rng)
            if mistake is not None:
                call, category, feedback = mistake
                injected.append({"message": len(messages), "category": category})
                turn(call, feedback)
        turn(gold, _answer(gold, task.tools, server, sample_id)[1])
    turn({"name": "finish", "arguments": {"answer": task.answer or "Done."}}, None)
    return {"id": sample_id, "tools": tools, "messages": messages, "injected": injected}


def _answer(call: dict, tools: list[dict], server: ToolServer, session: str) -> tuple[str, str]:
    """(category, the text the model sees) for a call, as ToolUse-v0 answers it: a tool outside the task's list
    is hallucinated even when the server knows it."""
    if call["name"] not in {t["name"] for t in tools}:
        return Category.TOOL_HALLUCINATION.value, undefined_tool_message(call["name"])
    result = server.call(call["name"], call["arguments"], session=session)
    if result["ok"]:
        return Category.OK.value, json.dumps(result["output"], ensure_ascii=False)
    return result["category"], result["message"]


def _mistake(gold: dict, tools: list[dict], server: ToolServer, session: str, rng: random.Random) -> Any:
    """(call, category, feedback) of one mistake on the way to `gold`, its kind drawn at random among those the
    call allows and confirmed by the server's answer; None if no kind applies."""
    schema = next(t for t in tools if t["name"] == gold["name"])
    for kind in rng.sample(MISTAKES, len(MISTAKES)):
        call = _make(kind, gold, schema, {t["name"] for t in tools}, rng)
        if call is not None:
            category, feedback = _answer(call, tools, server, session)
            if category == kind:
                return call, kind, feedback
    return None


def _make(kind: str, gold: dict, schema: dict, names: set[str], rng: random.Random) -> dict | None:
    """A call making one mistake of `kind` on the way to `gold`, or None when the call offers no way to."""
    name, args = gold["name"], dict(gold["arguments"])
    properties = schema["parameters"].get("properties", {})
    if kind == "tool_hallucination":  # a plausible name sharing the gold name's prefix
        stem = name.rsplit("_", 1)[0]
        return {
            "name": rng.choice([f"{stem}_{e}" for e in _NAME_ENDINGS if f"{stem}_{e}" not in names]),
            "arguments": args,
        }
    if kind == "parameter_hallucination":
        args[rng.choice([k for k in _EXTRA_KEYS if k not in properties])] = rng.choice(["auto", "en", 10, True])
    elif kind == "parameter_missing":
        present = [k for k in schema["parameters"].get("required", []) if k in args]
        if not present:
            return None
        del args[rng.choice(present)]
    else:
        if not args:
            return None
        key = rng.choice(sorted(args))
        args[key] = _invalid(properties.get(key, {}), args[key])
    return {"name": name, "arguments": args}


def _invalid(schema: dict, value: Any) -> Any:
    """A value models plausibly write that the schema rejects: a quoted number, a wrong case, a loose date."""
    if "enum" in schema:
        return next(v for v in (str(value).lower(), str(value).title(), "default") if v not in schema["enum"])
    if schema.get("format") == "date":
        return "next Monday"
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return str(value)
    if kind == "boolean":
        return "yes"
    if kind == "array":
        return ", ".join(map(str, value))
    return [value]
