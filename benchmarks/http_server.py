"""Throughput and latency of the tool server's POST /call against a bare-ASGI floor doing the same call work.

The floor is the least an ASGI app can do for a call: read the body, json.loads it, `await ToolServer.acall`
(the call in a worker thread under its timeout, as the hardened server must run it) and orjson.dumps the
feedback, under plain uvicorn; ours adds the HTTP edge (Host, Content-Type, size, routes, read deadlines).
`--apps` adds the same call work on Starlette routes or FastAPI, to see what a framework costs; `--http` and
`--loop` pick uvicorn's parser (httptools or h11) and event loop (uvloop or asyncio) for every app alike.
Each app runs in its own `uvicorn` process on a loopback port, driven from this process with aiohttp (one
shared connector, N concurrent clients each sending requests back to back), the apps alternating in half-second
slices. Prints requests/s, p50 and p99 latency per app and concurrency, min/median/max over rounds of the ratio
to the floor, and the error count. Target: ours >= 0.85x the floor at every concurrency, zero errors. Exit
status 1 when an error was counted.

    python -m benchmarks.http_server [--duration 2] [--rounds 3] [--concurrency 1 16 64] [--apps ours starlette]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request  # at the top: FastAPI reads the annotations by name
from starlette.responses import Response

from tool_server.process import start_server_process
from tool_server.server import ToolServer

BODY = json.dumps({"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 3, "units": "metric"}})
APPS = ("floor", "ours", "starlette", "fastapi")


def floor_app(server: ToolServer) -> Any:
    """The bare ASGI app: body, json.loads, acall, orjson.dumps; no checks, no routes (a GET is /health)."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        answer = b"{}"
        if scope["method"] == "POST":
            get = json.loads(body).get
            call = get("name"), get("arguments", {}), get("session"), get("toolset"), get("faults")
            answer = orjson.dumps(await server.acall(*call))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def framework_app(server: ToolServer, framework: str) -> Any:
    """The same call work as the floor on a Starlette route or a FastAPI endpoint."""

    async def call(request: Request) -> Response:
        get = json.loads(await request.body()).get
        feedback = await server.acall(get("name"), get("arguments", {}), get("session"), get("toolset"), get("faults"))
        return Response(orjson.dumps(feedback), media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    if framework == "fastapi":
        from fastapi import FastAPI

        app = FastAPI()
        app.post("/call")(call)
        app.get("/health")(health)
        return app
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/call", call, methods=["POST"]), Route("/health", health)])


def run_app(name: str, port: int, http: str, loop: str) -> None:
    """Run one app under uvicorn (the child process of the benchmark), every one in a process set up alike."""
    import uvicorn

    from tool_server.app import create_app
    from tool_server.http import serve, uvicorn_config

    server = ToolServer()
    if name == "ours":
        config = uvicorn_config(create_app(server), "127.0.0.1", port, http=http, loop=loop)
    else:
        app = floor_app(server) if name == "floor" else framework_app(server, name)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, loop=loop, log_level="warning")
    serve(config)


async def _measure(urls: dict[str, str], clients: int, duration_s: float, slice_s: float = 0.5) -> dict[str, tuple]:
    """app -> (requests/s, latencies in s, errors) for `clients` loops posting BODY back to back; the apps take
    turns in short slices, so load from elsewhere on the machine weighs on all alike."""
    results = {app: [0.0, [], 0] for app in urls}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as http:

        async def client(app: str, stop: float, record: bool) -> None:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    async with http.post(f"{urls[app]}/call", data=BODY) as response:
                        payload = await response.read()
                    bad = response.status != 200 or not json.loads(payload)["ok"]
                except (aiohttp.ClientError, ValueError, KeyError):
                    bad = True
                if record:
                    results[app][1].append(time.perf_counter() - start)
                    results[app][2] += bad

        for app in results:  # warm-up: connections open, code paths hot
            await asyncio.gather(*(client(app, time.perf_counter() + 0.3, False) for _ in range(clients)))
        for _ in range(max(1, round(duration_s / slice_s))):
            for app in results:
                begin = time.perf_counter()
                await asyncio.gather(*(client(app, begin + slice_s, True) for _ in range(clients)))
                results[app][0] += time.perf_counter() - begin
    return {app: (len(lat) / elapsed, lat, errors) for app, (elapsed, lat, errors) in results.items()}


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds measured per app, concurrency, round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--apps", nargs="+", choices=APPS[1:], default=["ours"], help="measured against the floor")
    parser.add_argument("--http", choices=["httptools", "h11"], default="httptools")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_app(args.serve, args.port, args.http, args.loop)
        return 0

    apps = ["floor", *args.apps]
    command = [sys.executable, "-m", "benchmarks.http_server", "--http", args.http, "--loop", args.loop, "--serve"]
    servers = {app: start_server_process(command=[*command, app]) for app in apps}
    try:
        urls = {app: url for app, (url, _) in servers.items()}
        print(f"uvicorn, 1 worker each, {args.http} + {args.loop}; {args.rounds} rounds of {args.duration} s")
        print(f"body: {BODY}")
        print(f"{'app':<10}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        ratios: dict[tuple[str, int], list[float]] = {}
        total_errors = 0
        for clients in args.concurrency:
            for _ in range(args.rounds):
                result = asyncio.run(_measure(urls, clients, args.duration))
                for app, (rate, latencies, errors) in result.items():
                    total_errors += errors
                    p50, p99 = _percentile(latencies, 50) * 1e3, _percentile(latencies, 99) * 1e3
                    print(f"{app:<10}{clients:>8}{rate:>10.0f}{p50:>9.2f}{p99:>9.2f}{errors:>8}", flush=True)
                    ratios.setdefault((app, clients), []).append(rate / result["floor"][0])
        for app in args.apps:
            line = ", ".join(
                f"{c} clients {min(r):.2f}/{statistics.median(r):.2f}/{max(r):.2f}x"
                for c in args.concurrency
                for r in [ratios[(app, c)]]
            )
            print(f"{app} / floor (min/median/max; target >= 0.85 for ours): {line}")
        print(f"errors: {total_errors}")
        return 1 if total_errors else 0
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
