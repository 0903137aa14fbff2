"""In-process tool calls against the floor, the compiled validators against jsonschema, and a 10,000-tool catalog.

1. `ToolServer.call` on a mix of valid calls (built-in tools and a ToolEyes mock), between json.loads of the
   request and json.dumps of the feedback, against the floor: json.loads + catalog lookup + the tool function
   (or its mock output) + json.dumps. Target: at most 1.5x the floor.
2. `is_valid` of one schema with jsonschema, jsonschema-rs and fastjsonschema, and the time to compile each.
3. Loading a catalog of 10,000 ToolEyes-like tools (100 files), with jsonschema's check_schema per tool (the old
   way, timed on 300 tools and scaled) for comparison. Target: under 2 s.
Each figure is min/median/max over rounds, the floor measured in the same rounds.

    python -m benchmarks.tool_server [--rounds 15] [--number 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import timeit
from pathlib import Path

import fastjsonschema
import jsonschema_rs
from jsonschema.validators import validator_for

from tool_server import ToolServer, builtin_catalog, load_catalog
from tool_server.catalog import mock_output

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CALLS = [
    ("get_weather_forecast", {"city": "Paris", "days": 3, "units": "metric"}),
    ("convert_currency", {"amount": 12.5, "from_currency": "EUR", "to_currency": "USD"}),
    ("add_numbers", {"a": 2, "b": 40}),
    ("search_web", {"query": "Eiffel Tower", "max_results": 3}),
]


def _spread(values: list[float], unit: str = "") -> str:
    return f"{min(values):.2f}/{statistics.median(values):.2f}/{max(values):.2f}{unit}"


def calls(rounds: int, number: int, data_dir: Path) -> None:
    catalog = load_catalog(data_dir / "tooleyes/catalog")
    mock = next(tool for tool in catalog.by_name.values() if tool.schema["parameters"]["properties"])
    mock_args = {key: "x" for key in mock.schema["parameters"].get("required", [])}
    servers = {"builtin": ToolServer(), "tooleyes": ToolServer(catalog)}
    bodies = [("builtin", json.dumps({"name": n, "arguments": a})) for n, a in CALLS]
    bodies.append(("tooleyes", json.dumps({"name": mock.name, "arguments": mock_args})))
    tools = {**{n: builtin_catalog().by_name[n] for n, _ in CALLS}, mock.name: mock}

    def floor() -> None:
        for _, body in bodies:
            request = json.loads(body)
            tool = tools[request["name"]]
            arguments = request["arguments"]
            output = tool.fn(**arguments) if tool.fn else mock_output(tool, arguments)
            json.dumps({"ok": True, "output": output})

    def ours() -> None:
        for which, body in bodies:
            request = json.loads(body)
            json.dumps(servers[which].call(request["name"], request["arguments"]))

    assert all(servers[w].call(**json.loads(b))["ok"] for w, b in bodies)
    per_call = {"floor": [], "ours": []}
    for _ in range(rounds):
        for name, job in (("floor", floor), ("ours", ours)):
            per_call[name].append(
                timeit.timeit(job, number=number // len(bodies)) / (number // len(bodies)) / len(bodies) * 1e6
            )
    ratios = [o / f for o, f in zip(per_call["ours"], per_call["floor"])]
    print(f"1. in-process call, {len(bodies)} kinds of valid call (us a call, min/median/max of {rounds} rounds)")
    print(f"   floor (json.loads + lookup + tool + json.dumps) {_spread(per_call['floor'])} us")
    print(f"   ToolServer.call between the same loads and dumps {_spread(per_call['ours'])} us")
    print(f"   ratio {_spread(ratios, 'x')} (target <= 1.5x)")


def validators(rounds: int, number: int) -> None:
    tool = builtin_catalog().by_name["get_weather_forecast"]
    params, arguments = tool.schema["parameters"], dict(CALLS[0][1])
    timings: dict[str, list[float]] = {}
    for _ in range(rounds):
        compiled = {
            "jsonschema": (lambda: validator_for(params)(params), lambda v: v.is_valid(arguments)),
            "jsonschema-rs": (
                lambda: jsonschema_rs.validator_for(params, validate_formats=True),
                lambda v: v.is_valid(arguments),
            ),
            "fastjsonschema": (lambda: fastjsonschema.compile(params), lambda v: v(arguments)),
        }
        for name, (build, run) in compiled.items():
            start = time.perf_counter()
            validator = build()
            built = (time.perf_counter() - start) * 1e3
            check = timeit.timeit(lambda v=validator, r=run: r(v), number=number) / number * 1e6
            timings.setdefault(f"{name} compile ms", []).append(built)
            timings.setdefault(f"{name} is_valid us", []).append(check)
    print("2. one valid call's validation (get_weather_forecast), min/median/max")
    for key, values in timings.items():
        print(f"   {key:<30} {_spread(values)}")


def big_catalog(rounds: int, data_dir: Path) -> None:
    tooleyes = load_catalog(data_dir / "tooleyes/catalog")
    every = [tool.schema for tools in tooleyes.toolsets.values() for tool in tools.values()]
    schemas = [{**every[i % len(every)], "name": f"tool_{i}"} for i in range(10_000)]
    with tempfile.TemporaryDirectory() as folder:
        for i in range(0, len(schemas), 100):
            (Path(folder) / f"part{i // 100:03d}.json").write_text(json.dumps(schemas[i : i + 100]))
        loads, firsts = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            server = ToolServer(load_catalog(folder))
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert server.call("tool_9999", {key: "x" for key in schemas[-1]["parameters"].get("required", [])})["ok"]
            firsts.append((time.perf_counter() - start) * 1e6)
    start = time.perf_counter()
    for schema in schemas[:300]:
        validator_for(schema["parameters"]).check_schema(schema["parameters"])
    old = (time.perf_counter() - start) / 300 * len(schemas)
    print("3. a 10,000-tool catalog, 100 files (min/median/max)")
    print(f"   load + ToolServer {_spread(loads, ' s')} (target < 2 s); first call {_spread(firsts, ' us')}")
    print(f"   jsonschema check_schema of every tool, as before: ~{old:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="short rounds, floor and ours in turn: noise hits both")
    parser.add_argument("--number", type=int, default=5_000, help="calls timed per round")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (ToolEyes catalog)")
    args = parser.parse_args()
    calls(args.rounds, args.number, args.data)
    validators(min(args.rounds, 3), args.number)
    big_catalog(min(args.rounds, 3), args.data)


if __name__ == "__main__":
    main()
