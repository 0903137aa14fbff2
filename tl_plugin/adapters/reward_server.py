"""`tl-reward-server --port P`: the IRM reward over HTTP, speaking OpenRLHF's remote reward-model protocol.

POST / (or /get_reward) {"query": [...], "prompts": [...], "labels": [...]} -> {"rewards": [...], "scores": [...],
"extra_logs": {...}}, one batch per request; point OpenRLHF at it with `--reward.remote_url http://127.0.0.1:P/`.
A malformed payload gets a 400 whose message names the bad field; GET /health answers {"ok": true}.
Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from tl_plugin.adapters.reward import TABLE, label_gold, load_table, reward_func


def _validated(payload: object) -> tuple[list[str], list[str], list[str]]:
    """The three equally long string lists of a request, each label checked; HTTPException(400) otherwise."""
    if not isinstance(payload, dict):
        raise HTTPException(400, 'the body must be a JSON object {"query": [...], "prompts": [...], "labels": [...]}')
    fields = []
    for key in ("query", "prompts", "labels"):
        value = payload.get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise HTTPException(400, f'"{key}" must be a list of strings')
        fields.append(value)
    if len({len(field) for field in fields}) != 1:
        raise HTTPException(400, f'"query", "prompts" and "labels" differ in length: {[len(f) for f in fields]}')
    for i, label in enumerate(fields[2]):
        try:
            label_gold(label)
        except ValueError as e:
            raise HTTPException(400, f"labels[{i}] is not a valid label: {e}") from None
    return fields[0], fields[1], fields[2]


def create_app(table: dict[str, float] | None = None) -> FastAPI:
    """The ASGI app; table: the IRM reward table (default: the module's, which TL_IRM_TABLE may set)."""
    table = TABLE if table is None else table
    app = FastAPI(title="tl-training IRM reward")

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True}

    @app.post("/")
    @app.post("/get_reward")
    async def get_reward(request: Request) -> dict:
        try:
            payload = json.loads(await request.body())
        except ValueError as e:
            raise HTTPException(400, f"the body is not valid JSON ({e})") from None
        queries, prompts, labels = _validated(payload)
        result = await run_in_threadpool(reward_func, queries, prompts, labels, table)
        return {
            "rewards": result["rewards"].tolist(),
            "scores": result["scores"].tolist(),
            "extra_logs": result["extra_logs"],
        }

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tl-reward-server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    parser.add_argument("--table", default=None, help="JSON file overriding entries of the IRM reward table")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(load_table(args.table) if args.table else None), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
