"""ToolUse-v0 steps/s, in-process and over HTTP, against raw tool-server calls of the same tool in the same run.

    python -m benchmarks.env [--seconds 3]

Each env step parses the model's text, calls the tool server, appends the feedback and renders the observation;
episodes are reset every 8 steps (the paper's turn budget is 9). Baselines in the same run: the raw
`ToolServer.call`; and the floor of a step, the least any env does: parse the model's text, make the call, write
the text a model reads of the answer (`feedback_text`). Targets: in-process env >= 0.7x raw calls/s in every
prompt format; creating an env (as the OpenRLHF agent does once per episode) under 1 ms, median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from envs.builtin_tasks import builtin_tasks
from envs.tool_use import ToolUseEnv
from tl_plugin.core.parsing import parse
from tool_server import ToolServer
from tool_server.client import feedback_text
from tool_server.process import start_server_process

ACTIONS = {  # the same call, as a model prompted in each format writes it
    "python": 'get_weather_forecast(city="Paris", days=2)',
    "react": 'Thought: I need the forecast.\nAction: get_weather_forecast\nAction Input: {"city": "Paris", "days": 2}',
    "qwen": '<tool_call>\n{"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 2}}\n</tool_call>',
}
CALL = {"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 2}}


def rates(steps: dict[str, object], seconds: float, slice_s: float = 0.2) -> dict[str, float]:
    """Calls per second of each `step()`, measured in alternating slices so that every one sees the same machine
    (this VM's speed drifts by tens of percent over seconds)."""
    counts, spent = dict.fromkeys(steps, 0), dict.fromkeys(steps, 0.0)
    for step in steps.values():  # warm-up
        for _ in range(50):
            step()
    deadline = time.perf_counter() + seconds * len(steps)
    while time.perf_counter() < deadline:
        for name, step in steps.items():
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < slice_s:
                for _ in range(20):
                    step()
                counts[name] += 20
            spent[name] += elapsed
    return {name: counts[name] / spent[name] for name in steps}


def env_stepper(env: ToolUseEnv, action: str):
    env.reset(options={"task_index": 0})
    turns = [0]

    def step():
        env.step(action)
        turns[0] += 1
        if turns[0] % 8 == 0:
            env.reset(options={"task_index": 0})

    return step


def floor_step(server: ToolServer, action: str):
    def step():
        (call,) = parse(action).calls
        feedback_text(server.call(call.name, call.arguments, session="bench"))

    return step


def creation_ms(make, n: int = 2000) -> float:
    """Median milliseconds to create an env."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        make()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    task = next(t for t in builtin_tasks() if t.gold_calls[0] == CALL)
    server = ToolServer()
    ToolUseEnv()  # the first env builds the built-in suite and catalog, once per process
    created = {
        "ToolUseEnv() (built-in suite)": creation_ms(ToolUseEnv),
        "ToolUseEnv([task], server=...)": creation_ms(lambda: ToolUseEnv([task], server=server)),
    }
    steps = {
        "raw": lambda: server.call(CALL["name"], CALL["arguments"], session="bench"),
    }
    for fmt in ("python", "react", "qwen"):
        steps["floor " + fmt] = floor_step(server, ACTIONS[fmt])
    for fmt in ("python", "react", "qwen"):
        steps[fmt] = env_stepper(ToolUseEnv([task], prompt_format=fmt, server=server), ACTIONS[fmt])
    measured = rates(steps, args.seconds)
    raw = measured.pop("raw")
    floors = {fmt: measured.pop("floor " + fmt) for fmt in ("python", "react", "qwen")}
    in_process = measured
    url, process = start_server_process()
    try:
        with httpx.Client() as client:
            env = ToolUseEnv([task], server=url)
            http = rates(
                {
                    "raw": lambda: client.post(url + "/call", json={**CALL, "session": "bench"}).json(),
                    "env": env_stepper(env, ACTIONS["python"]),
                },
                args.seconds,
            )
            raw_http, over_http = http["raw"], http["env"]
            env.close()
    finally:
        process.kill()
    print(f"{'what':<34}{'steps/s':>10}{'ratio':>8}{'vs floor':>10}")
    print(f"{'raw ToolServer.call (baseline)':<34}{raw:>10.0f}{1:>8.2f}")
    for fmt, value in in_process.items():
        print(f"{'floor (parse+call+text), ' + fmt:<34}{floors[fmt]:>10.0f}{floors[fmt] / raw:>8.2f}{1:>10.2f}")
        print(f"{'env in-process, ' + fmt:<34}{value:>10.0f}{value / raw:>8.2f}{value / floors[fmt]:>10.2f}")
    print(f"{'raw POST /call over HTTP':<34}{raw_http:>10.0f}{raw_http / raw:>8.2f}")
    print(f"{'env over HTTP, python':<34}{over_http:>10.0f}{over_http / raw_http:>8.2f}  (vs raw HTTP)")
    for what, ms in created.items():
        print(f"{'create ' + what:<44}{ms:>8.4f} ms median (target < 1 ms): {'met' if ms < 1 else 'NOT met'}")
    worst = min(in_process.values()) / raw
    print(f"in-process env / raw calls: {worst:.2f}x (target >= 0.7x): {'met' if worst >= 0.7 else 'NOT met'}")


if __name__ == "__main__":
    main()
