"""Parsing and the reward on adversarial model text: linear time, and the cap on model-text length.

    python -m benchmarks.parsing [--repeat 3]

1. Scaling, cap off: n unclosed `<tool_call>` blocks (1k to 100k, ~47 characters each) through `parse()` and
   through `reward_func` (one sample, a label of mode exact), the garbage collector off as timeit runs (its passes
   over the 100k calls a text holds add ~2x at the top end). Floor, timed in the same run: `json.loads` of each
   block's JSON alone, the least any reader of the blocks must do. Linear time shows as a flat time per block and a
   flat ratio to the floor; the old reader scanned to the end of the text for every block (20k blocks: 6.9 s).
2. Garbage collector on, as in training: 1 MB of each adversarial class with the default cap
   (tl_plugin.core.parsing.MAX_TEXT_CHARS, 32 KiB), refused unread; and the same text cut to the cap, the most a
   reader is ever given: `parse()` and `reward_func` under each judge mode (exact: our parser; rotbench and bfcl:
   the official readers). Target: every cell under 100 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from tl_plugin.adapters import reward
from tl_plugin.core.parsing import MAX_TEXT_CHARS, parse

MB = 1 << 20
BLOCK = '<tool_call>{"name": "f", "arguments": {"i": 1}}'
TOOLS = [{"name": "f", "parameters": {"type": "object", "properties": {"i": {"type": "integer"}}}}]
LABELS = {
    mode: json.dumps(
        {"tools": [*TOOLS, "ask_to_user", "finish"], "gold": [{"name": "f", "arguments": gold}], "mode": mode}
    )
    for mode, gold in (("exact", {"i": 1}), ("rotbench", {"i": 1}), ("bfcl", {"i": [1]}))
}
ADVERSARIAL = {  # each repeated to 1 MB
    "unclosed <tool_call> objects": BLOCK,
    "unclosed <tool_call> strings": '<tool_call>{"name": "f',
    "closed <tool_call> blocks": BLOCK + "</tool_call>\n",
    "python call list": "[" + "f(i=1), " * (MB // 8),
    "python tuples": "f(i=" + "(1, (2,)), " * (MB // 11),
    "unclosed python calls": "f(i=",
    "ReAct steps": 'Action: f\nAction Input: {"i": 1}\n',
    "ReAct actions without input": "Action: f\n",
    "JSON call list": "[" + '{"name": "f", "arguments": {"i": 1}}, ' * (MB // 38),
    "unterminated JSON string": '{"name": "f", "arguments": {"i": "' + "x" * MB,
    "open brackets": "[",
    "code fences": "```\n",
}


def best_ms(repeat: int, fn, *args, **kwargs) -> float:
    """Best of `repeat` calls of fn(*args, **kwargs) in ms, the heap collected first."""
    gc.collect()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def decode_each(blocks: list[str]) -> None:
    """The floor: each block's JSON decoded alone."""
    for block in blocks:
        json.loads(block)


def reward_ms(repeat: int, text: str, mode: str) -> float:
    prompt = "<|im_start|>assistant\n"
    return best_ms(repeat, reward.reward_func, [prompt + text], [prompt], [LABELS[mode]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cap = reward.MAX_RESPONSE_CHARS

    print("1. unclosed <tool_call> blocks, cap off, garbage collector off (as timeit: the algorithm's own cost)")
    print(
        f"{'blocks':>8}{'chars':>11}{'floor ms':>10}{'parse ms':>10}{'us/block':>10}{'x floor':>9}"
        f"{'reward ms':>11}{'us/block':>10}"
    )
    reward.MAX_RESPONSE_CHARS = None
    gc.disable()
    per_block = []
    for n in (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000):
        text, blocks = BLOCK * n, [BLOCK[len("<tool_call>") :]] * n
        floor = best_ms(args.repeat, decode_each, blocks)
        parsed = best_ms(args.repeat, parse, text, max_chars=None)
        judged = reward_ms(args.repeat, text, "exact")
        assert parse(text, max_chars=None).error.startswith(f"{n} calls in one output")  # every block read
        per_block.append(1000 * parsed / n)
        print(
            f"{n:>8,}{len(text):>11,}{floor:>10.1f}{parsed:>10.1f}{1000 * parsed / n:>10.2f}{parsed / floor:>9.2f}"
            f"{judged:>11.1f}{1000 * judged / n:>10.2f}"
        )
    print(f"parse time per block, 100k / 1k blocks: {per_block[-1] / per_block[0]:.2f}x (linear: ~1x; quadratic: 100x)")
    reward.MAX_RESPONSE_CHARS = cap
    gc.enable()

    print(f"\n2. 1 MB of adversarial text: refused at the cap ({MAX_TEXT_CHARS:,} chars), and cut to the cap (ms)")
    print(
        f"{'text':<30}{'1MB parse':>10}{'1MB reward':>11}{'parse':>8}"
        + "".join(f"{'reward ' + mode:>16}" for mode in LABELS)
    )
    worst = 0.0
    for name, unit in ADVERSARIAL.items():
        text = (unit * (MB // len(unit) + 1))[:MB]
        at_cap = text[:MAX_TEXT_CHARS]
        row = [best_ms(args.repeat, parse, text), reward_ms(args.repeat, text, "exact")]
        row += [best_ms(args.repeat, parse, at_cap)] + [reward_ms(args.repeat, at_cap, mode) for mode in LABELS]
        worst = max(worst, *row)
        print(f"{name:<30}{row[0]:>10.2f}{row[1]:>11.2f}{row[2]:>8.1f}" + "".join(f"{v:>16.1f}" for v in row[3:]))
    print(f"slowest cell: {worst:.1f} ms (target < 100 ms): {'met' if worst < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
