"""Throughput of the IRM reward: judged responses per second through `reward_func`, on one core.

The batch: RoTBench labels (tl-prompts' rows from ../shared/data/rotbench) and several thousand responses, a mix
of right answers and each kind of error, written in every call format (ReAct, Python, JSON, <tool_call>) plus
plain text and broken output. Floors, timed in the same run, parse what the reward parses: per sample, the response
cut from its query and read as RoTBench's scorer reads it (`rotbench.read`: the labels' official reading), its
action and input compared with the gold answers; with distinct labels, plus decoding the label (with orjson, the
fastest decoder here, which the reward uses too). The old
baseline, `json.loads` of the labels alone, is printed too. OpenRLHF calls `reward_func` with one sample at a time:
targets >= 20k responses/s with cached labels and >= 10k/s with every label distinct (each label's text is new, so
the cache by content never hits).

    python -m benchmarks.reward [--n 6000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import orjson

from tl_plugin.adapters.reward import label_gold, reward_func
from tl_plugin.core import rotbench
from tl_plugin.core.parsing import ToolCall, format_call
from tl_plugin.data.prompts import prompt_rows

DATA = Path(os.environ.get("TL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
FORMATS = ("react", "python", "json", "tool_call")


def _response(rng: random.Random, label: dict) -> str:
    """One response: the gold call, or one of the errors the reward tells apart, in a random format."""
    gold = rng.choice(label["gold"])
    tools = label["tools"]
    name, args = gold["name"], dict(gold["arguments"])
    kind = rng.choice(["right"] * 4 + ["wrong_tool", "made_up_tool", "missing", "extra", "value", "text", "broken"])
    if kind == "wrong_tool":
        name = rng.choice([t["name"] for t in tools])
    elif kind == "made_up_tool":
        name += "_v2"
    elif kind == "missing" and args:
        args.pop(rng.choice(list(args)))
    elif kind == "extra":
        args[rng.choice(["verbose", "limit", "lang"])] = "yes"
    elif kind == "value" and args:
        args[rng.choice(list(args))] = "something else"
    elif kind == "text":
        return "I am sorry, I cannot help with that request right now."
    text = format_call(ToolCall(name, args), rng.choice(FORMATS))
    return text[: len(text) // 2] if kind == "broken" else text


def build(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rows = []
    for path in sorted((DATA / "rotbench").glob("*.json")):
        rows += prompt_rows("rotbench", path)[0]
    rng = random.Random(seed)
    queries, prompts, labels = [], [], []
    for _ in range(n):
        row = rng.choice(rows)
        prompt = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in row["input"])
        prompt += "<|im_start|>assistant\n"
        queries.append(prompt + _response(rng, json.loads(row["label"])) + "<|im_end|>")
        prompts.append(prompt)
        labels.append(row["label"])
    return queries, prompts, labels


def _loads_all(labels: list[str]) -> None:
    for label in labels:  # results dropped: a list of 6000 decoded labels would time the garbage collector
        json.loads(label)


def _floor(queries: list[str], prompts: list[str], answers: list[list[tuple]]) -> None:
    """The least a reward of these samples does: cut the response, read it, compare it with the gold answers."""
    for query, prompt, gold in zip(queries, prompts, answers):
        action, value = rotbench.read(query[len(prompt) :])
        any(action == name and value == arguments for name, arguments in gold)


def _floor_distinct(queries: list[str], prompts: list[str], labels: list[str]) -> None:
    """The floor when every label is new: decode it first."""
    for query, prompt, label in zip(queries, prompts, labels):
        gold = [(call["name"], call["arguments"]) for call in orjson.loads(label)["gold"]]
        action, value = rotbench.read(query[len(prompt) :])
        any(action == name and value == arguments for name, arguments in gold)


def _one_a_call(queries: list[str], prompts: list[str], labels: list[str], fresh: bool = False) -> None:
    """reward_func as OpenRLHF's by-path executor calls it: one sample at a time. fresh: the label cache emptied
    first, so every label is read (they are all distinct)."""
    if fresh:
        label_gold.cache_clear()
    for q, p, lb in zip(queries, prompts, labels):
        reward_func([q], [p], [lb])


def best_of(repeat: int, fn, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    queries, prompts, labels = build(args.n)
    distinct = [json.dumps({**json.loads(label), "row": i}, ensure_ascii=False) for i, label in enumerate(labels)]
    answers = [[(call["name"], call["arguments"]) for call in json.loads(label)["gold"]] for label in labels]
    n = len(queries)
    print(f"{n} responses over {len(set(labels))} RoTBench labels (mean label {sum(map(len, labels)) // n} chars)")

    loads = best_of(args.repeat, _loads_all, labels)
    floor = best_of(args.repeat, _floor, queries, prompts, answers)
    floor_distinct = best_of(args.repeat, _floor_distinct, queries, prompts, distinct)
    label_gold.cache_clear()
    cold = best_of(1, reward_func, queries, prompts, labels)  # first sight of each label: parse + prepare
    batched = best_of(args.repeat, reward_func, queries, prompts, labels)
    single = best_of(args.repeat, _one_a_call, queries, prompts, labels)
    single_distinct = best_of(args.repeat, _one_a_call, queries, prompts, distinct, True)
    rewards = reward_func(queries, prompts, labels)["rewards"]
    assert reward_func(queries[:500], prompts[:500], distinct[:500])["rewards"].tolist() == rewards[:500].tolist()

    def row(what: str, seconds: float, base: float | None = None, target: float | None = None) -> None:
        ratio = f"{seconds / base:5.1f}x the floor" if base else ""
        goal = f"   target >= {target:,.0f}/s: {'met' if n / seconds >= target else 'NOT met'}" if target else ""
        print(f"{what:<44}{n / seconds:12,.0f} /s   {ratio}{goal}")

    row("json.loads of the labels (old baseline)", loads)
    row("floor: read + compare, cached labels", floor)
    row("floor: orjson.loads + read + compare", floor_distinct)
    row("reward_func, one batch (cold labels)", cold)
    row("reward_func, one batch", batched, floor)
    row("reward_func, one sample a call", single, floor, 20_000)
    row("reward_func, one sample a call, distinct labels", single_distinct, floor_distinct, 10_000)
    counts = {value: int((rewards == value).sum()) for value in sorted(set(rewards.tolist()))}
    print(f"rewards seen: {counts}")


if __name__ == "__main__":
    main()
