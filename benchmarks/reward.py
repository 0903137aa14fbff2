"""Throughput of the IRM reward: judged responses per second through `reward_func`, on one core.

The batch: RoTBench labels (tl-prompts' rows from ../shared/data/rotbench) and several thousand responses, a mix
of right answers and each kind of error, written in every call format (ReAct, Python, JSON, <tool_call>) plus
plain text and broken output. Baseline, timed in the same run: `json.loads` of the same label strings, the least
any reward that reads its labels must do. Targets: >= 10k responses/s and <= 20x the baseline.

    python benchmarks/reward.py [--n 6000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from tl_plugin.adapters.reward import label_gold, reward_func
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


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    queries, prompts, labels = build(args.n)
    n = len(queries)
    print(f"{n} responses over {len(set(labels))} RoTBench labels (mean label {sum(map(len, labels)) // n} chars)")

    baseline = best_of(args.repeat, lambda: _loads_all(labels))
    label_gold.cache_clear()
    cold = best_of(1, lambda: reward_func(queries, prompts, labels))  # first sight of each label: parse + prepare
    batched = best_of(args.repeat, lambda: reward_func(queries, prompts, labels))
    # OpenRLHF's by-path executor calls reward_func with one sample at a time
    single = best_of(args.repeat, lambda: [reward_func([q], [p], [lb]) for q, p, lb in zip(queries, prompts, labels)])
    rewards = reward_func(queries, prompts, labels)["rewards"]
    print(f"json.loads of the labels:        {n / baseline:12,.0f} /s")
    print(f"reward_func, one batch (cold):   {n / cold:12,.0f} /s   (labels parsed on first sight)")
    print(f"reward_func, one batch:          {n / batched:12,.0f} /s   ratio to json.loads {batched / baseline:5.1f}x")
    print(f"reward_func, one sample a call:  {n / single:12,.0f} /s   ratio to json.loads {single / baseline:5.1f}x")
    counts = {value: int((rewards == value).sum()) for value in sorted(set(rewards.tolist()))}
    print(f"rewards seen: {counts}")


if __name__ == "__main__":
    main()
