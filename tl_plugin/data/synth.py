"""Training trajectories from scripted agents in ToolUse-v0, with a chosen share of erroneous calls.

Each trajectory solves one built-in task (envs.builtin_tasks) inside the env: its system prompt for the chosen
prompt format, the query, one assistant turn per gold call followed by the tool server's real answer, then
`finish` with the task's answer. A share of all calls (default 17%, the paper's measurement of RoTLLaMA's data)
are mistakes: before a gold call, an extra turn makes one error (a hallucinated tool sharing the gold name's
prefix, a hallucinated or a missing parameter, an invalid value), gets the env's real error feedback, and the agent
retries correctly: the data MAE exists for. Deterministic for a seed.

Samples are trajectories (tl_plugin.core.trajectory) plus "id" and "injected": the message index and category of
each mistake, as the env reported it, so a test can check that MAE finds exactly these.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from envs.builtin_tasks import builtin_tasks
from envs.tasks import Task
from envs.tool_use import ToolUseEnv
from tl_plugin.core.cli import progress
from tl_plugin.core.formats import ASK_TOOL, FINISH_TOOL, get_format
from tool_server.server import ToolServer

MISTAKES = ("tool_hallucination", "parameter_hallucination", "parameter_missing", "parameter_invalid")
_NAME_ENDINGS = ("info", "data", "details", "now", "lookup", "v2")
_EXTRA_KEYS = ("location", "query", "lang", "format", "limit", "verbose")


def synth(
    n: int = 1217,
    error_rate: float = 0.17,
    seed: int = 0,
    prompt_format: str = "python",
    tasks: Sequence[Task] | None = None,
    quiet: bool = False,
) -> list[dict]:
    """`n` trajectories over `tasks` (default: the built-in suite, each used in turn in a seeded order), with
    round(error_rate * calls / (1 - error_rate)) mistakes, so that mistakes are `error_rate` of all calls
    (the finish actions included). At most one mistake per gold call: error_rate must be below 0.5. A progress
    bar shows on a terminal, unless `quiet`."""
    if not 0.0 <= error_rate < 0.5:
        raise ValueError(f"error_rate must be in [0, 0.5): one mistake at most per gold call; got {error_rate}")
    fmt = get_format(prompt_format)
    rng = random.Random(seed)
    tasks = list(tasks) if tasks is not None else list(builtin_tasks())
    picked = []
    while len(picked) < n:
        picked += rng.sample(tasks, len(tasks))
    picked = picked[:n]
    calls = sum(len(task.gold_calls) + 1 for task in picked)
    slots = [(i, k) for i, task in enumerate(picked) for k in range(len(task.gold_calls))]
    wrong = set(rng.sample(slots, min(len(slots), round(error_rate * calls / (1 - error_rate)))))
    # A chat template renders the same messages as "qwen" writes them (same system prompt and call syntax); the
    # samples hold messages, not text, so the env needs no tokenizer here.
    server = ToolServer(seed=seed)
    env = ToolUseEnv(tasks, "qwen" if fmt.layout is None else fmt.name, server=server)
    try:
        bar = progress(enumerate(picked), "synth", quiet, total=n, unit="trajectory")
        return [_trajectory(f"synth-{seed}-{i}", task, i, wrong, env, rng) for i, task in bar]
    finally:
        server.close()


def _trajectory(sample_id: str, task: Task, i: int, wrong: set, env: ToolUseEnv, rng: random.Random) -> dict:
    env.reset(options={"task": task})
    injected = []

    def act(call: dict) -> dict:
        return env.step(env.format.format_call(call))[4]

    names = {t["name"] for t in task.tools}
    for k, gold in enumerate(task.gold_calls):
        mistake = _mistake(gold, task.tools, names, rng) if (i, k) in wrong else None
        if mistake is not None:
            at = len(env.messages)
            info = act(mistake)
            if info["model_error"]:
                injected.append({"message": at, "category": info["categories"][0]})
        act(gold)
    # The env's messages hold each call in OpenAI's shape, as it parsed the text (format_call and parse agree).
    messages = act({"name": "finish", "arguments": {"answer": task.answer or "Done."}})["messages"]
    return {"id": sample_id, "tools": task.tools + [ASK_TOOL, FINISH_TOOL], "messages": messages, "injected": injected}


def _mistake(gold: dict, tools: list[dict], names: set[str], rng: random.Random) -> dict | None:
    """A call making one mistake on the way to `gold`, its kind drawn at random among those the call allows;
    None if no kind applies."""
    schema = next(t for t in tools if t["name"] == gold["name"])
    for kind in rng.sample(MISTAKES, len(MISTAKES)):
        call = _make(kind, gold, schema, names, rng)
        if call is not None:
            return call
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
