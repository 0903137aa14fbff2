"""Soak: a long mixed load on a real `tl-tool-server` over loopback, counting what a hardened server must never do.

64 concurrent clients (aiohttp) send `--requests` requests: 94% valid calls (built-in tools, some stateful in
sessions), 1% CPU-heavy valid calls (`is_prime` of a 12-digit prime: trial division in a worker thread), 5%
malformed (lone surrogates in the name or an argument, JSON nested 100,000 deep, arguments nested past the
limit, bodies over the size limit, wrong field types, NaN, broken JSON, a wrong Content-Type). Meanwhile a
monitor process polls GET /health every 20 ms; the clients run at a lower priority (nice 10) than the server
and the monitor, as clients on other machines would. Every valid call's answer must carry the category the embedded
`ToolServer` gives the same call. Targets: 0 answers 5xx, 0 failed valid requests, /health p99 under 100 ms,
the server's RSS growing under 50 MB (from the end of a warm-up tenth to the end). Prints the figures; exit
status 1 when a target is missed.

    python -m benchmarks.soak [--requests 100000] [--clients 64] [--seed 0]    # quick: --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tool_server.app import MAX_BODY_BYTES
from tool_server.process import start_server_process
from tool_server.server import ToolServer

VALID = [
    ("get_weather_current", {"city": "Paris"}),
    ("get_weather_forecast", {"city": "Tokyo", "days": 3}),
    ("convert_currency", {"amount": 12.5, "from_currency": "EUR", "to_currency": "USD"}),
    ("get_stock_price", {"symbol": "ACME"}),
    ("add_numbers", {"a": 2, "b": 40}),
    ("get_statistics", {"numbers": [1, 2, 3, 4.5]}),
    ("translate_text", {"text": "hello", "target_lang": "fr"}),
    ("get_country_info", {"country": "Japan"}),
    ("search_web", {"query": "Eiffel Tower", "max_results": 3}),
    ("get_day_of_week", {"date": "2024-06-03"}),
    ("get_weather_current", {"city": "Atlantis"}),  # tool_call_failure
    ("get_weather_forecast", {"city": "Paris", "days": 9}),  # parameter_invalid
    ("get_weather", {"city": "Paris"}),  # tool_hallucination
    ("get_factorial", {}),  # parameter_missing
]
HEAVY = ("is_prime", {"n": 999_999_999_989})
_HEADERS = {"Content-Type": "application/json"}


def malformed(rng: random.Random) -> tuple[bytes, dict]:
    """One malformed request: (body, headers)."""
    kind = rng.randrange(8)
    if kind == 0:
        return b'{"name": "\\ud800", "arguments": {}}', _HEADERS
    if kind == 1:
        return b'{"name": "get_weather_current", "arguments": {"city": "\\udfff"}}', _HEADERS
    if kind == 2:
        return b"[" * 100_000, _HEADERS
    if kind == 3:
        deep = "[" * 100 + "1" + "]" * 100
        return f'{{"name": "get_statistics", "arguments": {{"numbers": {deep}}}}}'.encode(), _HEADERS
    if kind == 4:
        return b'{"name": "x", "arguments": {"t": "' + b"x" * MAX_BODY_BYTES + b'"}}', _HEADERS
    if kind == 5:
        return json.dumps(
            rng.choice([{"name": 7}, {"name": "add_numbers", "arguments": [1, 2]}, [1]])
        ).encode(), _HEADERS
    if kind == 6:
        return rng.choice(
            [b'{"name": "add_numbers", "arguments": {"a": NaN, "b": 1}}', b'{"name": "add_', b""]
        ), _HEADERS
    return b'{"name": "get_weather_current", "arguments": {"city": "Paris"}}', {"Content-Type": "text/plain"}


def _monitor(url: str, stop: Any, results: Any) -> None:
    """GET /health every 20 ms on one keep-alive connection until `stop`; sends back the latencies in s."""
    host, port = url.removeprefix("http://").split(":")
    connection, latencies = http.client.HTTPConnection(host, int(port), timeout=30), []
    while not stop.is_set():
        start = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        latencies.append(time.perf_counter() - start)
        time.sleep(0.02)
    results.send(latencies)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def soak(url: str, pid: int, requests: int, clients: int, seed: int) -> dict:
    rng = random.Random(seed)
    embedded = ToolServer()
    # What every valid request must be answered: the embedded server's category for the same call.
    expected = [embedded.call(name, args).get("category", "ok") for name, args in [*VALID, HEAVY]]
    plan = []
    for i in range(requests):
        roll = rng.random()
        if roll < 0.05:
            plan.append(("malformed", *malformed(rng), None))
        else:
            which = len(VALID) if roll < 0.06 else rng.randrange(len(VALID))
            name, args = [*VALID, HEAVY][which]
            body, want = {"name": name, "arguments": args}, expected[which]
            if rng.random() < 0.1:  # stateful calls in sessions: what keeps per-session state growing
                body = {"name": rng.choice(["add_todo", "list_todos"]), "session": f"s{i % 256}"}
                body["arguments"] = {"title": f"task {i}"} if body["name"] == "add_todo" else {}
                want = "ok"
            plan.append(("heavy" if name == HEAVY[0] else "valid", json.dumps(body).encode(), _HEADERS, want))
    counts = {"5xx": 0, "failed valid": 0, "refused (4xx)": 0, "closed by the server": 0}
    rss = {}
    done = 0
    queue = iter(plan)

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal done
        for kind, body, headers, want in queue:
            try:
                async with http.post(f"{url}/call", data=body, headers=headers) as response:
                    status, answer = response.status, await response.read()
            except aiohttp.ClientError:
                status, answer = None, b""
            done += 1
            if done == requests // 10:
                rss["warm"] = _rss_mb(pid)
            if status is not None and status >= 500:
                counts["5xx"] += 1
            if kind == "malformed":
                counts["refused (4xx)" if status and 400 <= status < 500 else "closed by the server"] += (
                    status is None or status >= 400
                )
                continue
            got = json.loads(answer).get("category", "ok") if status == 200 else None
            counts["failed valid"] += got != want

    # The monitor runs in a process of its own: the clients' busy event loop must not delay its requests.
    context = multiprocessing.get_context("spawn")
    stop, (receiver, sender) = context.Event(), context.Pipe(duplex=False)
    watch = context.Process(target=_monitor, args=(url, stop, sender), daemon=True)
    watch.start()
    # The load comes from this process: at a lower priority than the server and the monitor it measures, as
    # clients on other machines would be; on 2 cores it would otherwise starve the server of its CPU.
    os.nice(10)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients), timeout=timeout) as http:
        begin = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - begin
    stop.set()
    health = receiver.recv()
    watch.join(timeout=10)
    rss["end"] = _rss_mb(pid)
    kinds = {kind: sum(1 for entry in plan if entry[0] == kind) for kind in ("valid", "heavy", "malformed")}
    return {"kinds": kinds, "counts": counts, "health": health, "rss": rss, "elapsed": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    url, process = start_server_process()
    try:
        r = asyncio.run(soak(url, process.pid, args.requests, args.clients, args.seed))
    finally:
        process.terminate()
        process.wait(timeout=10)
    health = sorted(r["health"])
    p50, p99 = (statistics.quantiles(health, n=100, method="inclusive")[q - 1] * 1e3 for q in (50, 99))
    growth = r["rss"]["end"] - r["rss"].get("warm", r["rss"]["end"])
    print(
        f"requests: {args.requests} from {args.clients} clients in {r['elapsed']:.1f} s "
        f"({args.requests / r['elapsed']:.0f}/s): " + ", ".join(f"{k} {v}" for k, v in r["kinds"].items())
    )
    print("answers: " + ", ".join(f"{k} {v}" for k, v in r["counts"].items()))
    print(f"/health: {len(health)} polls, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {health[-1] * 1e3:.1f} ms")
    print(f"server RSS: {r['rss'].get('warm', float('nan')):.1f} MB after warm-up, {r['rss']['end']:.1f} MB at the end "
          f"(+{growth:.1f} MB)")  # fmt: skip
    missed = [
        name
        for name, bad in (
            ("0 answers 5xx", r["counts"]["5xx"]),
            ("0 failed valid requests", r["counts"]["failed valid"]),
            ("/health p99 < 100 ms", p99 >= 100),
            ("RSS growth < 50 MB", growth >= 50),
        )
        if bad
    ]
    print("targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
