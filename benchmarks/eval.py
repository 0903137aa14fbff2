"""Speed of `tl-eval`: scoring (items per second, target >= 5,000) and batched generation (the HF backend).

Scoring: every single-turn file of ../shared/data (RoTBench, ToolAlpaca, BFCL AST, exec and irrelevance) with a
prediction per item, a mix of the gold answer and perturbed ones (wrong tool, missing key, changed value, broken
text), scored under the official reading, the default of `tl-eval score`. Baseline in the same run: json.loads of the
same prediction strings dumped as JSON, the least any scorer that reads its input does.
Generation: a tiny random LLaMA (from a config, tokenizer trained in code) answering 32 prompts at batch 1 and
batch 16, short ones (a one-line system prompt) and long ones (RoTBench's, ~2k tokens); the ratio is what batching
buys on this machine. On a CPU, long left-padded batches lose: attention with a padding mask takes PyTorch's
unfused path, while a lone row takes the fused causal one.

    python -m benchmarks.eval [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from tl_plugin.eval.scoring import score_items
from tl_plugin.eval.suites import DEFAULT_FILES, load

DATA = Path(os.environ.get("TL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _prediction(rng: random.Random, item) -> str:
    """The gold answer in the item's own syntax, or a perturbed one."""
    if item.kind == "irrelevance":
        return rng.choice(["I cannot help with that.", "[f(a=1)]"])
    if item.gold is None:
        return "no gold"
    if item.kind == "bfcl":
        calls = [
            (name, {k: next((v for v in a if v != ""), None) for k, a in args.items()})
            for call in item.gold
            for name, args in call.items()
        ]
    else:
        answer = item.gold[0] if item.kind == "bfcl_exec" else [item.gold[0]]
        calls = [(call["name"], dict(call["arguments"])) for call in answer]
    kind = rng.choice(["right", "right", "tool", "missing", "value", "broken"])
    name, args = calls[0]
    if kind == "tool":
        calls[0] = (name + "_x", args)
    elif kind == "missing" and args:
        args.pop(next(iter(args)))
    elif kind == "value" and args:
        args[next(iter(args))] = "something else"
    if item.kind == "rotbench" or item.kind == "exact":
        text = f"Thought: t\nAction: {calls[0][0]}\nAction Input: {json.dumps(calls[0][1])}"
    else:
        text = (
            "["
            + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items() if v is not None)})" for n, a in calls)
            + "]"
        )
    return text[: len(text) // 2] if kind == "broken" else text


def scoring(repeat: int) -> None:
    rng = random.Random(0)
    items = []
    for benchmark in ("rotbench", "toolalpaca", "bfcl"):
        for path in DEFAULT_FILES[benchmark]:
            items += load(benchmark, DATA / path)[0]
    predictions = [_prediction(rng, item) for item in items]
    dumped = [json.dumps(p) for p in predictions]
    for _ in range(repeat):
        started = time.perf_counter()
        score_items(items, predictions)
        ours = len(items) / (time.perf_counter() - started)
        started = time.perf_counter()
        for text in dumped:
            json.loads(text)
        floor = len(items) / (time.perf_counter() - started)
        print(
            f"score: {len(items)} items, {ours:,.0f} items/s (target >= 5,000); json.loads floor {floor:,.0f}/s "
            f"({floor / ours:.1f}x ours)"
        )


def generation(repeat: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import tiny_checkpoint

    from tl_plugin.eval.backends import load_backend

    with tempfile.TemporaryDirectory() as directory:
        tiny_checkpoint(directory)
        items = load("rotbench", DATA / DEFAULT_FILES["rotbench"][0])[0][:32]
        long = [item.messages for item in items]
        short = [[{"role": "system", "content": "Use tools."}, item.messages[-1]] for item in items]
        for _ in range(repeat):
            for name, conversations in (("short", short), ("long", long)):
                times = {}
                for batch in (1, 16):
                    backend = load_backend(
                        directory, "react", max_new_tokens=32, batch_size=batch, engine="hf", quiet=True
                    )
                    started = time.perf_counter()
                    backend.generate(conversations)
                    times[batch] = time.perf_counter() - started
                print(
                    f"generate, {name} prompts: 32 x 32 tokens: batch 1 {times[1]:.2f} s, batch 16 "
                    f"{times[16]:.2f} s ({times[1] / times[16]:.2f}x batch 1's speed)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scoring(args.repeat)
    generation(args.repeat)


if __name__ == "__main__":
    main()
