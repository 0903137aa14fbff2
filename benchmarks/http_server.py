"""Throughput and latency of the tool server's POST /call against a bare POST /echo on the same stack.

Starts `python -m tool_server` (uvicorn, one worker) on a free loopback port, then drives it from this process
with aiohttp (one shared connector, N concurrent clients each sending requests back to back), alternating the two
endpoints in half-second slices for a fixed time each.
Both endpoints get the same body: a realistic built-in call, validated and run by /call, returned as is by /echo.
Prints requests/s, p50 and p99 latency per endpoint and concurrency, the ratio call/echo, and the error count.
Target: call/echo >= 0.6 at every concurrency, zero errors. Exit status 1 when an error was counted.

    python -m benchmarks.http_server [--duration 4] [--concurrency 1 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp

from tool_server.process import start_server_process

BODY = json.dumps({"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 3, "units": "metric"}})
ROOT = Path(__file__).resolve().parents[1]


async def _measure(base: str, clients: int, duration_s: float, slice_s: float = 0.5) -> dict[str, tuple]:
    """endpoint -> (requests/s, latencies in s, errors) for `clients` loops posting BODY back to back. The two
    endpoints alternate in short slices, so load from elsewhere on the machine weighs on both alike."""
    results = {endpoint: [0.0, [], 0] for endpoint in ("echo", "call")}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as http:

        async def client(endpoint: str, stop: float, record: bool) -> None:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    async with http.post(f"{base}/{endpoint}", data=BODY) as response:
                        payload = await response.read()
                    bad = response.status != 200 or (endpoint == "call" and not json.loads(payload)["ok"])
                except (aiohttp.ClientError, ValueError, KeyError):
                    bad = True
                if record:
                    results[endpoint][1].append(time.perf_counter() - start)
                    results[endpoint][2] += bad

        for endpoint in results:  # warm-up: connections open, code paths hot
            await asyncio.gather(*(client(endpoint, time.perf_counter() + 0.3, False) for _ in range(clients)))
        for _ in range(max(1, round(duration_s / slice_s))):
            for endpoint in results:
                begin = time.perf_counter()
                await asyncio.gather(*(client(endpoint, begin + slice_s, True) for _ in range(clients)))
                results[endpoint][0] += time.perf_counter() - begin
    return {endpoint: (len(lat) / elapsed, lat, errors) for endpoint, (elapsed, lat, errors) in results.items()}


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=4.0, help="seconds measured per endpoint and concurrency (default 4)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()

    base, server = start_server_process()
    try:
        rows, total_errors = [], 0
        print(f"server: uvicorn, 1 worker, {base}; body: {BODY}")
        print(f"{'endpoint':<9}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for clients in args.concurrency:
            result = asyncio.run(_measure(base, clients, args.duration))
            for endpoint, (rate, latencies, errors) in result.items():
                total_errors += errors
                p50, p99 = _percentile(latencies, 50) * 1e3, _percentile(latencies, 99) * 1e3
                print(f"/{endpoint:<8}{clients:>8}{rate:>10.0f}{p50:>9.2f}{p99:>9.2f}{errors:>8}", flush=True)
            rows.append((clients, result["call"][0] / result["echo"][0]))
        print("ratio call/echo (target >= 0.6): " + ", ".join(f"{c} clients {r:.2f}x" for c, r in rows))
        print(f"errors: {total_errors}")
        return 1 if total_errors else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
