"""`tl-tour`: start `tl-tool-server` in a subprocess, then play a scripted episode against it over HTTP.

The episode shows a success and one feedback of every error category of the taxonomy, each as the server sends
it. Exit status 0 only when every category was seen.
"""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from tl_plugin.core.cli import add_log_level, setup_logging
from tl_plugin.core.taxonomy import CATEGORIES
from tool_server.process import start_server_process

# (what the step shows, request body as JSON text): the same calls a model makes, right and wrong.
EPISODE = [
    ("a correct call", {"name": "get_weather_current", "arguments": {"city": "Paris"}}),
    ("a stateful tool, in a session", {"name": "add_todo", "arguments": {"title": "pack"}, "session": "demo"}),
    ("the state is kept", {"name": "list_todos", "arguments": {}, "session": "demo"}),
    ("arguments that are not an object", {"name": "get_weather_current", "arguments": "city=Paris"}),
    ("a tool that does not exist", {"name": "get_weather", "arguments": {"city": "Paris"}}),
    ("an argument the tool does not have", {"name": "get_weather_current", "arguments": {"city": "Paris", "day": 1}}),
    ("a required argument left out", {"name": "get_weather_forecast", "arguments": {"days": 3}}),
    ("a value out of range", {"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 10}}),
    ("a value of the wrong type", {"name": "get_factorial", "arguments": {"n": "five"}}),
    ("a well-formed call the tool cannot satisfy", {"name": "get_weather_current", "arguments": {"city": "Atlantis"}}),
    (
        "an unstable service (injected)",
        {"name": "get_stock_price", "arguments": {"symbol": "ACME"}, "faults": {"instability_rate": 1.0}},
    ),
    ("a tool that crashes", {"name": "add_days_to_date", "arguments": {"date": "2024-06-03", "days": 10**9}}),
]


def main(argv: list[str] | None = None) -> int:
    """Run the episode; returns (and exits with) 0 when every category was seen, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="tl-tour", description=__doc__.split("\n\n")[0])
    add_log_level(parser)
    setup_logging(parser.parse_args(argv).log_level)
    base, server = start_server_process()
    seen = set()
    try:
        with httpx.Client(base_url=base, timeout=10.0) as http:
            tools = http.get("/tools").json()
            names = ", ".join(t["function"]["name"] for t in tools[:4])
            print(f"tl-tool-server on {base}: {len(tools)} tools, e.g. {names} ...")
            steps = [(what, json.dumps(body)) for what, body in EPISODE]
            steps.append(("a body that is not JSON", '{"name": "get_weather_current", "arguments": {"city": '))
            for what, body in steps:
                response = http.post("/call", content=body, headers={"Content-Type": "application/json"})
                feedback = response.json()
                category = "ok" if feedback.get("ok") else feedback["category"]
                seen.add(category)
                shown = json.dumps(feedback["output"]) if feedback.get("ok") else feedback["message"]
                print(f"\n{what}: POST /call {body}\n  -> HTTP {response.status_code} [{category}] {shown}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    missing = [c for c in CATEGORIES if c not in seen]
    print(f"\ncategories seen: {len(seen)}/{len(CATEGORIES)}" + (f"; missing: {missing}" if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
