"""CPU per turn of an OpenRLHF multi-turn episode through our agent (tl_plugin.adapters.agent), turns 1 to 9.

    python -m benchmarks.agent [--episodes 20] [--output-kb 20]

OpenRLHF's own MultiTurnAgentExecutor runs each episode with a scripted engine (no model: generate returns the
next action's tokens at once), and every tool answers --output-kb of text, so the conversation grows by that much
each turn; the tokenizer renders with Qwen-2.5's chat template. A turn's CPU is the time from one generate
returning to the next being called: our agent's step (the env step: parse, the tool call, rendering the feedback
with the chat template) and OpenRLHF's own bookkeeping (tokenizing the feedback, growing the token list); the env
step is also timed alone, outside OpenRLHF (whose growing token lists make the garbage collector's passes
longer). Floor, timed in the same run: tokenizing that turn's feedback, the least OpenRLHF must do with it.
Target: flat in the turn count, a least-squares growth under 5% of the mean a turn (rendering the whole episode
each turn made the env step grow with the conversation).

(Run it as a module from the repository root, as benchmarks/sft_data.py explains.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import ScriptedEngine, train_tokenizer, weather_task  # noqa: E402

from envs.tool_use import ToolUseEnv  # noqa: E402
from tl_plugin.adapters import agent  # noqa: E402
from tool_server import ToolServer  # noqa: E402

TURNS = 9
ACTION = 'get_weather_current(city="Paris")'
# Qwen-2.5's chat template in its tool-use parts (written here, not downloaded): the system message, turns, and
# consecutive tool messages grouped into one user turn of <tool_response> blocks, which needs the neighbours.
QWEN_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'system' or message.role == 'user' or message.role == 'assistant' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
WORDS = "the weather in Paris is mild today with light wind from the west and a chance of rain later".split()


class LargeOutputs(ToolServer):
    """Every call succeeds with `size` characters of text (as a search or a file read returns)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.text = " ".join(WORDS[i % len(WORDS)] for i in range(size // 4))[:size]

    def call(self, name, arguments, session=None, toolset=None, faults=None):
        return {"ok": True, "output": {"report": self.text}}


class TimedEngine(ScriptedEngine):
    """The scripted engine, stamping when each generate call starts and returns."""

    def __init__(self, tokenizer, actions):
        super().__init__(tokenizer, actions)
        self.calls: list[tuple[float, float]] = []

    async def generate(self, token_ids, sampling_params, multi_modal_data=None):
        start = time.perf_counter()
        output = await super().generate(token_ids, sampling_params, multi_modal_data)
        self.calls.append((start, time.perf_counter()))
        return output


STEPS: list[float] = []  # seconds in AgentInstance.step (our env step), in call order
_step = agent.AgentInstance.step


async def timed_step(self, states, **kwargs):
    start = time.perf_counter()
    result = await _step(self, states, **kwargs)
    STEPS.append(time.perf_counter() - start)
    return result


agent.AgentInstance.step = timed_step


def episode(tokenizer, label: str) -> list[float]:
    """Seconds of CPU per turn: from a generate returning to the next starting (the last: to execute returning)."""
    engine = TimedEngine(tokenizer, [ACTION])
    params = SimpleNamespace(max_tokens=None, logprobs=None)
    executor = agent.AgentExecutor()

    async def run() -> tuple[dict, float]:
        result = await executor.execute("", label, params, 1_000_000, tokenizer, engine)
        return result, time.perf_counter()

    result, end = asyncio.run(run())
    assert len(result["action_ranges"]) == TURNS, "every turn called the tool"
    returns = [stop for _, stop in engine.calls]
    starts = [start for start, _ in engine.calls[1:]] + [end]
    return [start - stop for stop, start in zip(returns, starts)]


def env_alone(tokenizer, server: ToolServer, episodes: int) -> list[float]:
    """Median ms per turn of ToolUse-v0's step alone, as the agent makes it (chat template, the large outputs)."""
    env = ToolUseEnv([weather_task()], "chat_template", tokenizer, server)
    times = [[] for _ in range(TURNS)]
    for _ in range(episodes):
        env.reset(options={"task_index": 0})
        for turn in range(TURNS):
            start = time.perf_counter()
            env.step(ACTION)
            times[turn].append(time.perf_counter() - start)
    return [1000 * statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--output-kb", type=int, default=20)
    args = parser.parse_args()
    tokenizer = train_tokenizer("bpe")
    tokenizer.chat_template = QWEN_TEMPLATE
    server = LargeOutputs(args.output_kb * 1024)
    agent.AgentInstance.server = server
    label = json.dumps(weather_task().to_dict())
    feedback = json.dumps({"report": server.text})
    episode(tokenizer, label)  # warm-up
    STEPS.clear()
    turns = [episode(tokenizer, label) for _ in range(args.episodes)]
    steps = [STEPS[i * TURNS : (i + 1) * TURNS] for i in range(args.episodes)]
    floor = []
    for _ in range(args.episodes):
        start = time.perf_counter()
        tokenizer(text=feedback, add_special_tokens=False, return_tensors="pt")
        floor.append(time.perf_counter() - start)
    floor_ms = 1000 * statistics.median(floor)
    per_turn = [1000 * statistics.median(times) for times in zip(*turns)]
    in_step = [1000 * statistics.median(times) for times in zip(*steps)]
    alone = env_alone(tokenizer, server, 3 * args.episodes)
    print(f"{args.episodes} episodes of {TURNS} turns, {args.output_kb} KB of tool output a turn (median ms)")
    print(f"{'turn':>6}{'CPU ms':>10}{'agent step':>12}{'OpenRLHF':>10}{'floor ms':>10}{'x floor':>9}{'env alone':>11}")
    for turn, (ms, env, bare) in enumerate(zip(per_turn, in_step, alone), 1):
        print(f"{turn:>6}{ms:>10.2f}{env:>12.2f}{ms - env:>10.2f}{floor_ms:>10.2f}{ms / floor_ms:>9.2f}{bare:>11.3f}")
    # Flat: the least-squares growth per turn, as a share of the mean. The last turn ends the episode (OpenRLHF
    # tokenizes no feedback for it), so the turn's CPU is fitted over turns 1-8, the env step over 1-9.
    total, env = _growth(per_turn[:-1]), _growth(alone)
    verdict = "met" if total <= 0.05 and env <= 0.05 else "NOT met"
    print(f"growth a turn: CPU {total:+.1%}, env step alone {env:+.1%} of the mean (target: flat, under 5%): {verdict}")


def _growth(values: list[float]) -> float:
    """The slope of the least-squares line through (turn, value), over the mean value."""
    turns = range(1, len(values) + 1)
    mean_turn, mean = statistics.fmean(turns), statistics.fmean(values)
    slope = sum((t - mean_turn) * (v - mean) for t, v in zip(turns, values)) / sum((t - mean_turn) ** 2 for t in turns)
    return slope / mean


if __name__ == "__main__":
    main()
