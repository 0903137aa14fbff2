"""`tl-reward-server --port P`: the IRM reward over HTTP, speaking OpenRLHF's remote reward-model protocol.

POST / (or /get_reward) {"query": [...], "prompts": [...], "labels": [...]} -> {"rewards": [...], "scores": [...],
"extra_logs": {...}}, one batch per request; point OpenRLHF at it with `--reward.remote_url http://127.0.0.1:P/`.
A malformed payload or label gets a 4xx whose {"detail": ...} names the bad field, never a 5xx: OpenRLHF logs a
failed request at INFO only, so the answer must say what is wrong. GET /health answers {"ok": true}. Binds
127.0.0.1 unless told otherwise; the HTTP edge (size, Host, token, Content-Type, read deadlines) is
tool_server.http's. OpenRLHF's client sends no token: set one only where the requests come from elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from tl_plugin.adapters.reward import TABLE, label_gold, load_table, reward_func
from tl_plugin.core.cli import add_log_level, port, setup_logging
from tool_server.http import LOOPBACK_HOSTS, Edge, JsonApp, Route, add_edge_flags, allowed_hosts, serve, uvicorn_config

MAX_BODY_BYTES = 64 << 20  # a batch of long responses; OpenRLHF sends one sample per request in rollouts
TOKEN_VARIABLE = "TL_REWARD_SERVER_TOKEN"
log = logging.getLogger(__name__)
_STRINGS = {"type": "array", "items": {"type": "string"}}
_JSON = "application/json"
_DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
_REWARD = {
    "post": {
        "summary": "IRM rewards of a batch of responses.",
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["query", "prompts", "labels"],
                        "properties": {"query": _STRINGS, "prompts": _STRINGS, "labels": _STRINGS},
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "One reward and score per sample.",
                "content": {_JSON: {"schema": {"type": "object", "required": ["rewards", "scores", "extra_logs"]}}},
            },
            "4XX": {"description": "A malformed payload or label, named.", "content": {_JSON: {"schema": _DETAIL}}},
        },
    }
}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "tl-training IRM reward", "version": "0.1.0"},
    "paths": {
        "/health": {"get": {"responses": {"200": {"description": "Alive."}, "4XX": {"description": "Refused."}}}},
        "/": _REWARD,
        "/get_reward": _REWARD,
    },
}


def _validated(payload: object) -> tuple[list[str], list[str], list[str]] | str:
    """The three equally long string lists of a request, each label checked, or what is wrong with them."""
    if not isinstance(payload, dict):
        return 'the body must be a JSON object {"query": [...], "prompts": [...], "labels": [...]}'
    fields = []
    for key in ("query", "prompts", "labels"):
        value = payload.get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f'"{key}" must be a list of strings'
        fields.append(value)
    if len({len(field) for field in fields}) != 1:
        return f'"query", "prompts" and "labels" differ in length: {[len(f) for f in fields]}'
    for i, label in enumerate(fields[2]):
        try:
            label_gold(label)
        except (ValueError, RecursionError) as e:  # RecursionError: a label nested too deep to read
            return f"labels[{i}] is not a valid label: {str(e)[:300]}"
    return fields[0], fields[1], fields[2]


def create_app(
    table: dict[str, float] | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    token: str | None = None,
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS,
) -> JsonApp:
    """The ASGI app; table: the IRM reward table (default: the module's, which TL_IRM_TABLE may set)."""
    table = TABLE if table is None else table

    async def health(_: Any) -> tuple[int, Any]:
        return 200, {"ok": True}

    async def get_reward(payload: Any) -> tuple[int, Any]:
        fields = _validated(payload)
        if isinstance(fields, str):
            return 400, {"detail": fields}
        try:  # scored in a thread: the event loop keeps answering /health and other requests
            result = await asyncio.get_running_loop().run_in_executor(None, reward_func, *fields, table)
        except (ValueError, RecursionError) as e:  # reward_func names the sample and the field
            return 400, {"detail": str(e)[:1000]}
        except Exception as e:  # something in the request that nothing above foresaw: still the client's data
            log.warning("reward_func failed on a request: %s: %s", type(e).__name__, e)
            return 422, {"detail": f"the batch could not be scored ({type(e).__name__}: {str(e)[:500]})"}
        return 200, {
            "rewards": result["rewards"].tolist(),
            "scores": result["scores"].tolist(),
            "extra_logs": result["extra_logs"],
        }

    routes = {"/health": Route("GET", health), "/": Route("POST", get_reward), "/get_reward": Route("POST", get_reward)}
    return JsonApp(routes, Edge(max_body_bytes, token, tuple(allowed_hosts)), lambda _, m: {"detail": m}, OPENAPI)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tl-reward-server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=port, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    parser.add_argument("--table", default=None, help="JSON file overriding entries of the IRM reward table")
    add_edge_flags(parser, MAX_BODY_BYTES, TOKEN_VARIABLE)
    add_log_level(parser)  # INFO: uvicorn's own lines say where it listens
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        table = load_table(args.table) if args.table else None
    except (OSError, ValueError) as exc:  # a table that cannot be read: the usage and one line, no traceback
        parser.error(f"--table: {exc}")
    app = create_app(table, max_body_bytes=args.max_body_bytes, token=args.token, allowed_hosts=allowed_hosts(args))
    config = uvicorn_config(
        app,
        args.host,
        args.port,
        token=args.token,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        log_level=args.log_level.lower(),
    )
    serve(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
